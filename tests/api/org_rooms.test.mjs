// org_rooms.test.mjs: rooms owned by the organisation (docs/rooms.md):
// id.balai.room.* metadata at creation, validation and who may change it,
// GET/PUT /_balai/client/v1/rooms/{roomId}, the room creation policy,
// archiving (read-only, history kept, unarchive), the inventory as JSON, CSV
// and XLSX (admin API and `balai rooms list`), stale and orphaned rooms,
// audit entries and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const O = '/_balai/client/v1';
const enc = encodeURIComponent;
const SERVER = 'balai.test';
const SYS = `@balai:${SERVER}`;
const uid = (n) => `@${n}:${SERVER}`;
const LABELS = ['public', 'internal', 'confidential', 'restricted-health', 'restricted-finance'];

const USERS = [
    { name: 'root', admin: true },
    { name: 'adm' },
    { name: 'comp' },
    { name: 'alice', displayname: 'Alice' },
    { name: 'bob', displayname: 'Bob Manager' },
    { name: 'carol' },
    { name: 'dave', displayname: 'Dave Unit Admin' },
    { name: 'erin' },
];

// The directory: units hospital > icu (admin dave); alice in icu managed by bob.
async function setupDirectory(srv, tok) {
    const req = (m, p, body) => srv.request(m, p, { token: tok.root, body });
    assertOk(await req('PUT', `${A}/users/${enc(uid('adm'))}/role`, { role: 'admin' }));
    assertOk(await req('PUT', `${A}/users/${enc(uid('comp'))}/role`, { role: 'compliance' }));
    assertOk(await req('POST', `${A}/units`, { name: 'Hospital', unit_id: 'hospital' }));
    assertOk(await req('POST', `${A}/units`, { name: 'ICU', unit_id: 'hospital.icu', parent: 'hospital', admins: [uid('dave')] }));
    assertOk(await req('POST', `${A}/units`, { name: 'Lab', unit_id: 'lab' }));
    assertOk(await req('PUT', `${A}/directory/users/${enc(uid('alice'))}`, { unit: 'hospital.icu', manager: uid('bob') }));
    assertOk(await req('PUT', `${A}/directory/users/${enc(uid('erin'))}`, { unit: 'hospital.icu' }));
}

async function loginAll(srv) {
    const tok = {};
    for (const u of USERS) tok[u.name] = (await srv.login(u.name)).access_token;
    return tok;
}

function createRoom(srv, token, body = {}) {
    return srv.request('POST', `${C}/createRoom`, { token, body });
}

async function newRoom(srv, token, body = {}) {
    return assertOk(await createRoom(srv, token, body)).room_id;
}

function putState(srv, token, roomId, type, content, key = '') {
    return srv.request('PUT', `${C}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(key)}`, { token, body: content });
}

function send(srv, token, roomId, body, txn = `t${Math.random()}`) {
    return srv.request('PUT', `${C}/rooms/${enc(roomId)}/send/m.room.message/${enc(txn)}`, {
        token,
        body: { msgtype: 'm.text', body },
    });
}

async function stateMap(srv, token, roomId) {
    const list = assertOk(await srv.request('GET', `${C}/rooms/${enc(roomId)}/state`, { token }));
    const m = {};
    for (const ev of list) m[`${ev.type}|${ev.state_key}`] = ev;
    return m;
}

async function auditUntil(srv, token, query, pred = (e) => e.length > 0) {
    for (let i = 0; i < 100; i++) {
        const j = assertOk(await srv.request('GET', `${A}/audit?${query}`, { token }));
        if (pred(j.entries)) return j.entries;
        await sleep(50);
    }
    assert.fail(`no audit entries for ${query}`);
}

// A CSV reader for the test (RFC 4180, CRLF).
function parseCsv(text) {
    const rows = [];
    let row = [], field = '', q = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (q) {
            if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
            else if (c === '"') q = false;
            else field += c;
        } else if (c === '"') q = true;
        else if (c === ',') { row.push(field); field = ''; }
        else if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++; }
        else field += c;
    }
    if (field || row.length) { row.push(field); rows.push(row); }
    return rows;
}

describe('organisation rooms', () => {
    const srv = useServer({ users: USERS, env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 } });
    let tok;
    let roomId; // alice's room with every field

    before(async () => {
        tok = await loginAll(srv);
        await setupDirectory(srv, tok);
    });

    describe('metadata at creation', () => {
        it('createRoom takes id.balai.room: state events, GET /_balai/client/v1/rooms/{roomId}', T, async () => {
            roomId = await newRoom(srv, tok.alice, {
                name: 'ICU shift',
                preset: 'public_chat',
                'id.balai.room': {
                    owner_unit: 'hospital.icu',
                    purpose: 'Hand-overs between ICU shifts',
                    classification: 'restricted-health',
                    rules: 'No patient names in the room title.',
                },
            });
            const st = await stateMap(srv, tok.alice, roomId);
            assert.deepEqual(st['id.balai.room.owner_unit|'].content, { unit_id: 'hospital.icu' });
            assert.deepEqual(st['id.balai.room.purpose|'].content, { text: 'Hand-overs between ICU shifts' });
            assert.deepEqual(st['id.balai.room.classification|'].content, { label: 'restricted-health' });
            assert.deepEqual(st['id.balai.room.rules|'].content, { text: 'No patient names in the room title.' });
            for (const t of ['owner_unit', 'purpose', 'classification', 'rules'])
                assert.equal(st[`id.balai.room.${t}|`].sender, SYS);
            // metadata changes need the steward level
            const pl = st['m.room.power_levels|'].content;
            for (const t of ['owner_unit', 'purpose', 'classification', 'rules', 'archived'])
                assert.equal(pl.events[`id.balai.room.${t}`], 100);
            const j = assertOk(await srv.request('GET', `${O}/rooms/${enc(roomId)}`, { token: tok.alice }));
            assert.equal(j.room_id, roomId);
            assert.equal(j.name, 'ICU shift');
            assert.equal(j.owner_unit, 'hospital.icu');
            assert.equal(j.owner_unit_name, 'ICU');
            assert.equal(j.purpose, 'Hand-overs between ICU shifts');
            assert.equal(j.classification, 'restricted-health');
            assert.equal(j.rules, 'No patient names in the room title.');
            assert.equal(j.archived, false);
            assert.deepEqual([...j.stewards].sort(), [uid('alice'), uid('bob')]);
            assert.equal(j.steward_count, 2);
            assert.equal(j.min_stewards, 2);
            assert.equal(j.max_stewards, 3);
            assert.equal(j.orphan, false);
            assert.equal(typeof j.created_ts, 'number');
            assert.ok(j.last_activity_ts >= j.created_ts);
        });

        it('defaults: the creator\'s unit owns the room and the label is internal', T, async () => {
            const r = await newRoom(srv, tok.alice, {});
            const j = assertOk(await srv.request('GET', `${O}/rooms/${enc(r)}`, { token: tok.alice }));
            assert.equal(j.owner_unit, 'hospital.icu');
            assert.equal(j.classification, 'internal');
            assert.equal(j.purpose, null);
            const st = await stateMap(srv, tok.alice, r);
            assert.deepEqual(st['id.balai.room.classification|'].content, { label: 'internal' });
            // a creator without a directory record: no unit, label internal all the same
            const r2 = await newRoom(srv, tok.carol, {});
            const j2 = assertOk(await srv.request('GET', `${O}/rooms/${enc(r2)}`, { token: tok.carol }));
            assert.equal(j2.owner_unit, null);
            assert.equal(j2.classification, 'internal');
        });

        it('validation: unknown label (the allowed list), unknown unit, wrong types, DMs', T, async () => {
            let e = assertError(await createRoom(srv, tok.alice, { 'id.balai.room': { classification: 'top-secret' } }), 400, 'M_INVALID_PARAM');
            for (const l of LABELS) assert.ok(e.error.includes(l), e.error);
            e = assertError(await createRoom(srv, tok.alice, { 'id.balai.room': { owner_unit: 'nowhere' } }), 400, 'M_INVALID_PARAM');
            assert.match(e.error, /Unknown unit 'nowhere'/);
            assertError(await createRoom(srv, tok.alice, { 'id.balai.room': 'x' }), 400, 'M_BAD_JSON');
            assertError(await createRoom(srv, tok.alice, { 'id.balai.room': { purpose: 5 } }), 400, 'M_BAD_JSON');
            assertError(await createRoom(srv, tok.alice, { 'id.balai.room': { colour: 'red' } }), 400, 'M_INVALID_PARAM');
            assertError(await createRoom(srv, tok.alice, { 'id.balai.room': { purpose: 'x'.repeat(2001) } }), 400, 'M_INVALID_PARAM');
            assertError(
                await createRoom(srv, tok.alice, { is_direct: true, invite: [uid('carol')], 'id.balai.room': { purpose: 'x' } }),
                400,
                'M_INVALID_PARAM',
            );
            // initial_state goes through the same rules
            e = assertError(
                await createRoom(srv, tok.alice, { initial_state: [{ type: 'id.balai.room.classification', content: { label: 'nope' } }] }),
                400,
            );
            assert.match(e.error, /Unknown classification label/);
            // and a direct message has no metadata
            const dm = await newRoom(srv, tok.alice, { is_direct: true, invite: [uid('carol')] });
            assertError(await srv.request('GET', `${O}/rooms/${enc(dm)}`, { token: tok.alice }), 404, 'M_NOT_FOUND');
        });
    });

    describe('changing metadata', () => {
        it('members who are not stewards may not; stewards may, validated; audited', T, async () => {
            assertOk(await srv.request('POST', `${C}/join/${enc(roomId)}`, { token: tok.carol, body: {} }));
            let e = assertError(await putState(srv, tok.carol, roomId, 'id.balai.room.classification', { label: 'public' }), 403, 'M_FORBIDDEN');
            assert.ok(e.error.length > 0);
            e = assertError(await putState(srv, tok.alice, roomId, 'id.balai.room.classification', { label: 'secret' }), 400);
            assert.match(e.error, /use one of public, internal, confidential, restricted-health, restricted-finance/);
            assertError(await putState(srv, tok.alice, roomId, 'id.balai.room.owner_unit', { unit_id: 'mars' }), 400);
            assertError(await putState(srv, tok.alice, roomId, 'id.balai.room.purpose', { text: 7 }), 400);
            assertError(await putState(srv, tok.alice, roomId, 'id.balai.room.purpose', { text: 'x' }, 'not-empty'), 400);
            // only the archive endpoints archive
            e = assertError(await putState(srv, tok.alice, roomId, 'id.balai.room.archived', { archived: true }), 403, 'M_FORBIDDEN');
            assert.match(e.error, /archive/);
            assertOk(await putState(srv, tok.alice, roomId, 'id.balai.room.classification', { label: 'confidential' }));
            const j = assertOk(await srv.request('GET', `${O}/rooms/${enc(roomId)}`, { token: tok.carol }));
            assert.equal(j.classification, 'confidential');
            const entries = await auditUntil(srv, tok.root, `action=room.metadata.set&target=${enc(roomId)}`);
            assert.equal(entries[0].actor, uid('alice'));
            assert.equal(entries[0].detail.type, 'id.balai.room.classification');
        });

        it('PUT /_balai/client/v1/rooms/{roomId}: stewards and org admins; errors', T, async () => {
            const put = (token, body) => srv.request('PUT', `${O}/rooms/${enc(roomId)}`, { token, body });
            assertError(await put(tok.carol, { purpose: 'mine now' }), 403, 'M_FORBIDDEN');
            assertError(await put(undefined, { purpose: 'x' }), 401, 'M_MISSING_TOKEN');
            assertError(await srv.request('PUT', `${O}/rooms/${enc(roomId)}`, { token: tok.alice, raw: '{x' }), 400, 'M_NOT_JSON');
            assertError(await put(tok.alice, { purpose: 5 }), 400, 'M_BAD_JSON');
            assertError(await put(tok.alice, { colour: 'red' }), 400, 'M_INVALID_PARAM');
            assertError(await put(tok.alice, {}), 400, 'M_INVALID_PARAM');
            assertError(await put(tok.alice, { classification: 'nope' }), 400, 'M_INVALID_PARAM');
            assertError(await put(tok.alice, { owner_unit: 'nope' }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('PUT', `${O}/rooms/${enc('!nope:balai.test')}`, { token: tok.alice, body: { purpose: 'x' } }), 404, 'M_NOT_FOUND');
            assertError(await srv.request('PUT', `${O}/rooms/bad`, { token: tok.alice, body: { purpose: 'x' } }), 400, 'M_INVALID_PARAM');
            let j = assertOk(await put(tok.alice, { purpose: 'ICU hand-overs', rules: 'Be kind.' }));
            assert.equal(j.purpose, 'ICU hand-overs');
            assert.equal(j.rules, 'Be kind.');
            // an org admin who is not in the room
            j = assertOk(await put(tok.adm, { owner_unit: 'lab', classification: 'internal' }));
            assert.equal(j.owner_unit, 'lab');
            assert.equal(j.classification, 'internal');
            const st = await stateMap(srv, tok.alice, roomId);
            assert.equal(st['id.balai.room.owner_unit|'].sender, SYS);
            const entries = await auditUntil(srv, tok.root, `action=room.metadata.set&actor=${enc(uid('adm'))}`);
            assert.equal(entries[0].target, roomId);
        });

        it('GET /_balai/client/v1/rooms/{roomId}: members, org staff; others 403; 401; 404', T, async () => {
            assertError(await srv.request('GET', `${O}/rooms/${enc(roomId)}`, { token: tok.erin }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('GET', `${O}/rooms/${enc(roomId)}`, {}), 401, 'M_MISSING_TOKEN');
            assertOk(await srv.request('GET', `${O}/rooms/${enc(roomId)}`, { token: tok.comp }));
            assertOk(await srv.request('GET', `${A}/rooms/${enc(roomId)}`, { token: tok.comp }));
            assertError(await srv.request('GET', `${A}/rooms/${enc(roomId)}`, { token: tok.carol }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('GET', `${O}/rooms/${enc('!nope:balai.test')}`, { token: tok.root }), 404, 'M_NOT_FOUND');
        });
    });

    describe('archiving', () => {
        let r;
        before(async () => {
            r = await newRoom(srv, tok.alice, { name: 'Old project', preset: 'public_chat' });
            assertOk(await srv.request('POST', `${C}/join/${enc(r)}`, { token: tok.carol, body: {} }));
            assertOk(await send(srv, tok.carol, r, 'before the archive'));
        });

        it('only stewards and org admins archive; the room becomes read-only, history kept', T, async () => {
            assertError(await srv.request('POST', `${O}/rooms/${enc(r)}/archive`, { token: tok.carol, body: {} }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${A}/rooms/${enc(r)}/archive`, { token: tok.carol, body: {} }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${O}/rooms/${enc(r)}/archive`, { body: {} }), 401, 'M_MISSING_TOKEN');
            const j = assertOk(await srv.request('POST', `${O}/rooms/${enc(r)}/archive`, { token: tok.alice, body: {} }));
            assert.equal(j.archived, true);
            assert.equal(j.archived_by, uid('alice'));
            // idempotent
            assertOk(await srv.request('POST', `${O}/rooms/${enc(r)}/archive`, { token: tok.alice, body: {} }));
            const st = await stateMap(srv, tok.alice, r);
            assert.equal(st['id.balai.room.archived|'].sender, SYS);
            assert.equal(st['id.balai.room.archived|'].content.archived, true);
            let e = assertError(await send(srv, tok.carol, r, 'after'), 403, 'M_FORBIDDEN');
            assert.match(e.error, /archived: it is read-only/);
            assertError(await send(srv, tok.alice, r, 'after'), 403, 'M_FORBIDDEN');
            assertError(await putState(srv, tok.alice, r, 'm.room.topic', { topic: 'x' }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('PUT', `${O}/rooms/${enc(r)}`, { token: tok.alice, body: { purpose: 'x' } }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${C}/rooms/${enc(r)}/invite`, { token: tok.alice, body: { user_id: uid('erin') } }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${C}/join/${enc(r)}`, { token: tok.erin, body: {} }), 403, 'M_FORBIDDEN');
            // history is kept and readable
            const m = assertOk(await srv.request('GET', `${C}/rooms/${enc(r)}/messages?dir=b&limit=50`, { token: tok.carol }));
            assert.ok(m.chunk.some((ev) => ev.content?.body === 'before the archive'));
            // a member may still leave
            assertOk(await srv.request('POST', `${C}/rooms/${enc(r)}/leave`, { token: tok.carol, body: {} }));
            // there is no delete
            const del = await srv.request('DELETE', `${A}/rooms/${enc(r)}`, { token: tok.root });
            assert.ok([404, 405].includes(del.status), `DELETE answered ${del.status}`);
            e = (await auditUntil(srv, tok.root, `action=room.archive&target=${enc(r)}`))[0];
            assert.equal(e.actor, uid('alice'));
        });

        it('org admins unarchive (admin API); the CLI archives and unarchives', T, async () => {
            assertError(await srv.request('POST', `${A}/rooms/${enc(r)}/unarchive`, { token: tok.alice, body: {} }), 403, 'M_FORBIDDEN');
            const j = assertOk(await srv.request('POST', `${A}/rooms/${enc(r)}/unarchive`, { token: tok.adm, body: {} }));
            assert.equal(j.archived, false);
            assertOk(await send(srv, tok.alice, r, 'back again'));
            await auditUntil(srv, tok.root, `action=room.unarchive&target=${enc(r)}`);
            let c = await srv.cli(['rooms', 'archive', r]);
            assert.equal(c.code, 0, c.stderr);
            assertError(await send(srv, tok.alice, r, 'no'), 403, 'M_FORBIDDEN');
            c = await srv.cli(['rooms', 'unarchive', r]);
            assert.equal(c.code, 0, c.stderr);
            assertOk(await send(srv, tok.alice, r, 'yes'));
            c = await srv.cli(['rooms', 'archive', '!nope:balai.test']);
            assert.notEqual(c.code, 0);
            assert.match(c.stderr, /404/);
        });
    });

    describe('inventory', () => {
        it('JSON: every organisation room, flags, stale and orphaned lists; roles', T, async () => {
            const j = assertOk(await srv.request('GET', `${A}/rooms`, { token: tok.adm }));
            assert.ok(j.total >= 3);
            assert.equal(j.rooms.length, j.total);
            const row = j.rooms.find((x) => x.room_id === roomId);
            assert.ok(row);
            for (const k of ['name', 'members', 'stewards', 'classification', 'owner_unit', 'purpose', 'created_ts', 'last_activity_ts', 'archived', 'orphan', 'stale'])
                assert.ok(k in row, `missing ${k}`);
            assert.equal(row.members, 3); // alice, carol, the system user
            assert.deepEqual(j.orphaned, [], 'no room is ever orphaned');
            assert.ok(j.rooms.every((x) => x.orphan === false));
            // direct messages are not organisation rooms
            const ids = new Set(j.rooms.map((x) => x.room_id));
            assert.equal(j.rooms.length, ids.size);
            const sorted = [...j.rooms.map((x) => x.room_id)].sort();
            assert.deepEqual(j.rooms.map((x) => x.room_id), sorted);
            // stale: nothing is a day old; everything is 0 days old
            assert.deepEqual(assertOk(await srv.request('GET', `${A}/rooms?stale_days=1`, { token: tok.comp })).stale, []);
            const all = assertOk(await srv.request('GET', `${A}/rooms?stale_days=0&only=stale`, { token: tok.root }));
            assert.equal(all.stale.length, j.total);
            assert.equal(all.rooms.length, j.total);
            assert.equal(assertOk(await srv.request('GET', `${A}/rooms?only=orphaned`, { token: tok.root })).rooms.length, 0);
            assertError(await srv.request('GET', `${A}/rooms?stale_days=-1`, { token: tok.root }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('GET', `${A}/rooms?stale_days=x`, { token: tok.root }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('GET', `${A}/rooms?format=pdf`, { token: tok.root }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('GET', `${A}/rooms?only=all`, { token: tok.root }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('GET', `${A}/rooms`, { token: tok.alice }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('GET', `${A}/rooms`, {}), 401, 'M_MISSING_TOKEN');
            await auditUntil(srv, tok.root, 'action=room.inventory.export');
        });

        it('CSV (RFC 4180)', T, async () => {
            const tricky = await newRoom(srv, tok.alice, { name: '=SUM(1,2) "quoted"\nline' });
            const r = await srv.request('GET', `${A}/rooms?format=csv`, { token: tok.root });
            assert.equal(r.status, 200);
            assert.match(r.headers.get('content-type'), /^text\/csv/);
            assert.ok(r.text.endsWith('\r\n'));
            const rows = parseCsv(r.text);
            const head = rows[0];
            assert.deepEqual(head.slice(0, 5), ['room_id', 'name', 'members', 'invited', 'stewards']);
            for (const k of ['classification', 'owner_unit', 'purpose', 'created', 'last_activity', 'archived', 'orphan', 'stale'])
                assert.ok(head.includes(k), k);
            const row = rows.find((x) => x[0] === tricky);
            assert.ok(row, 'tricky room listed');
            assert.equal(row[1], '\'=SUM(1,2) "quoted"\nline', 'quoted, and no formula');
            const main = rows.find((x) => x[0] === roomId);
            assert.match(main[head.indexOf('created')], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
            assert.equal(main[head.indexOf('orphan')], 'false');
            assert.ok(main[head.indexOf('stewards')].includes(uid('alice')));
        });

        it('XLSX: a zip with the sheet (admin API and CLI)', T, async () => {
            const res = await fetch(`${srv.url}${A}/rooms?format=xlsx`, { headers: { authorization: `Bearer ${tok.root}` } });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
            const buf = Buffer.from(await res.arrayBuffer());
            assert.equal(buf.subarray(0, 4).toString('binary'), 'PK\x03\x04');
            const file = path.join(srv.tmp, 'rooms.xlsx');
            await fs.writeFile(file, buf);
            const list = execFileSync('unzip', ['-l', file]).toString();
            assert.match(list, /xl\/worksheets\/sheet1\.xml/);
            const strings = execFileSync('unzip', ['-p', file, 'xl/sharedStrings.xml']).toString();
            assert.ok(strings.includes(roomId), 'the room id is in the sheet');
            assert.ok(strings.includes('classification'));
            const sheet = execFileSync('unzip', ['-p', file, 'xl/worksheets/sheet1.xml']).toString();
            assert.match(sheet, /<sheetData>/);
            // the CLI
            const out = path.join(srv.tmp, 'cli.xlsx');
            let c = await srv.cli(['rooms', 'list', '--format', 'xlsx', '--out', out]);
            assert.equal(c.code, 0, c.stderr);
            const b2 = await fs.readFile(out);
            assert.equal(b2.subarray(0, 2).toString(), 'PK');
            assert.ok(execFileSync('unzip', ['-p', out, 'xl/sharedStrings.xml']).toString().includes(roomId));
            c = await srv.cli(['rooms', 'list', '--format', 'xlsx']);
            assert.equal(c.code, 2, 'xlsx needs --out');
        });

        it('CLI: json and csv, --stale-days, bad options', T, async () => {
            let c = await srv.cli(['rooms', 'list']);
            assert.equal(c.code, 0, c.stderr);
            const j = JSON.parse(c.stdout);
            assert.ok(j.rooms.some((x) => x.room_id === roomId));
            c = await srv.cli(['rooms', 'list', '--format', 'json', '--stale-days', '0']);
            assert.equal(JSON.parse(c.stdout).stale.length, JSON.parse(c.stdout).total);
            const out = path.join(srv.tmp, 'rooms.csv');
            c = await srv.cli(['rooms', 'list', '--format', 'csv', '--out', out]);
            assert.equal(c.code, 0, c.stderr);
            assert.ok(parseCsv(await fs.readFile(out, 'utf8')).some((x) => x[0] === roomId));
            for (const bad of [['rooms', 'list', '--format', 'pdf'], ['rooms', 'list', '--stale-days', 'x'], ['rooms'], ['rooms', 'delete', 'x']]) {
                c = await srv.cli(bad);
                assert.equal(c.code, 2, bad.join(' '));
            }
        });
    });

    it('metadata and the archive survive a restart', T, async () => {
        const r = await newRoom(srv, tok.alice, { 'id.balai.room': { purpose: 'durable', classification: 'public' } });
        assertOk(await srv.request('POST', `${A}/rooms/${enc(r)}/archive`, { token: tok.root, body: {} }));
        await srv.restart();
        tok.alice = (await srv.login('alice')).access_token;
        tok.root = (await srv.login('root')).access_token;
        const j = assertOk(await srv.request('GET', `${O}/rooms/${enc(r)}`, { token: tok.alice }));
        assert.equal(j.purpose, 'durable');
        assert.equal(j.classification, 'public');
        assert.equal(j.archived, true);
        assertError(await send(srv, tok.alice, r, 'still archived'), 403, 'M_FORBIDDEN');
        assert.deepEqual(assertOk(await srv.request('GET', `${A}/rooms`, { token: tok.root })).orphaned, []);
    });
});

describe('room creation policy', () => {
    describe('admins', () => {
        const srv = useServer({ users: USERS, env: { BALAI_ROOMS_CREATE_POLICY: 'admins' } });
        let tok;
        before(async () => {
            tok = await loginAll(srv);
            await setupDirectory(srv, tok);
        });

        it('members are refused with a clear reason; DMs always allowed; admins may', T, async () => {
            const e = assertError(await createRoom(srv, tok.alice, { name: 'mine' }), 403, 'M_FORBIDDEN');
            assert.match(e.error, /only its administrators/);
            assertError(await createRoom(srv, tok.dave, { 'id.balai.room': { owner_unit: 'hospital.icu' } }), 403, 'M_FORBIDDEN');
            assertOk(await createRoom(srv, tok.alice, { is_direct: true, invite: [uid('carol')] }));
            assertOk(await createRoom(srv, tok.adm, { name: 'admins may' }));
            assertOk(await createRoom(srv, tok.root, { name: 'owners may' }));
        });
    });

    describe('unit_admins', () => {
        const srv = useServer({ users: USERS, env: { BALAI_ROOMS_CREATE_POLICY: 'unit_admins' } });
        let tok;
        before(async () => {
            tok = await loginAll(srv);
            await setupDirectory(srv, tok);
        });

        it('admins of the owning unit (or above) may; others not', T, async () => {
            assertOk(await createRoom(srv, tok.dave, { 'id.balai.room': { owner_unit: 'hospital.icu' } }));
            const e = assertError(await createRoom(srv, tok.dave, { 'id.balai.room': { owner_unit: 'lab' } }), 403, 'M_FORBIDDEN');
            assert.match(e.error, /admins of the owning unit/);
            assertError(await createRoom(srv, tok.alice, {}), 403, 'M_FORBIDDEN');
            assertOk(await createRoom(srv, tok.adm, { 'id.balai.room': { owner_unit: 'lab' } }));
            assertOk(await createRoom(srv, tok.alice, { is_direct: true, invite: [uid('bob')] }));
        });
    });

    describe('configuration', () => {
        const srv = useServer({
            users: USERS,
            env: { BALAI_ROOMS_LABELS: 'green, amber,red', BALAI_ROOMS_DEFAULT_LABEL: 'amber' },
        });
        it('custom labels and default label', T, async () => {
            const t = (await srv.login('carol')).access_token;
            const e = assertError(await createRoom(srv, t, { 'id.balai.room': { classification: 'internal' } }), 400, 'M_INVALID_PARAM');
            assert.match(e.error, /use one of green, amber, red/);
            const r = await newRoom(srv, t, { 'id.balai.room': { purpose: 'p' } });
            assert.equal(assertOk(await srv.request('GET', `${O}/rooms/${enc(r)}`, { token: t })).classification, 'amber');
            // clients read the configured labels to offer them
            const l = assertOk(await srv.request('GET', `${O}/room_labels`, { token: t }));
            assert.deepEqual(l, { labels: ['green', 'amber', 'red'], default: 'amber' });
            assertError(await srv.request('GET', `${O}/room_labels`), 401, 'M_MISSING_TOKEN');
        });
        it('a default label outside the labels is refused at start', T, async () => {
            const c = await srv.cli(['rooms', 'list'], { env: { BALAI_ROOMS_DEFAULT_LABEL: 'purple' } });
            assert.notEqual(c.code, 0);
            assert.match(c.stderr, /rooms.default_label/);
        });
    });
});
