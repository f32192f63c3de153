// offboard.test.mjs: offboarding in one step (docs/offboarding.md):
// POST /_balai/admin/v1/users/{userId}/offboard and `balai user offboard`
// revoke every token at once (a parked /sync answers M_UNKNOWN_TOKEN),
// deactivate the account, pass stewardships on, take the person out of every
// room with a membership event whose reason says offboarded, keep the
// history, and write a signed record that the admin API returns and
// `balai offboarding verify` checks (tampering detected). Idempotent; roles;
// unknown users; reactivation; persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, PW, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 90_000 * SLOW };
const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const SERVER = 'balai.test';
const SYS = `@balai:${SERVER}`;
const uid = (n) => `@${n}:${SERVER}`;
const enc = encodeURIComponent;

const NAMES = ['root', 'hr1', 'comp', 'adm', 'mgr', 'alice', 'bob', 'carol', 'dave'];

describe('offboarding', () => {
    const srv = useServer({
        users: NAMES.map((name) => ({ name, admin: name === 'root' })),
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
    });
    const tok = {};
    const room = {};
    const req = (m, p, token, body, extra = {}) => srv.request(m, p, { token, body, ...extra });
    const offboard = (n, token, body = {}) => req('POST', `${A}/users/${enc(uid(n))}/offboard`, token, body);
    let record;

    before(async () => {
        for (const n of NAMES) tok[n] = (await srv.login(n)).access_token;
        for (const [n, role] of [['hr1', 'hr'], ['comp', 'compliance'], ['adm', 'admin']])
            assertOk(await req('PUT', `${A}/users/${enc(uid(n))}/role`, tok.root, { role }));
        assertOk(await req('PUT', `${A}/directory/users/${enc(uid('alice'))}`, tok.root, { manager: uid('mgr') }));
        // alice's own room (she and her manager are its stewards), bob's room, a DM
        room.team = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { name: 'team', preset: 'public_chat' })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(room.team)}`, tok.mgr, {}));
        assertOk(await req('POST', `${C}/join/${enc(room.team)}`, tok.bob, {}));
        room.bobs = assertOk(await req('POST', `${C}/createRoom`, tok.bob, { name: 'bobs', preset: 'public_chat' })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(room.bobs)}`, tok.alice, {}));
        room.dm = assertOk(await req('POST', `${C}/createRoom`, tok.bob, { is_direct: true, invite: [uid('alice')] })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(room.dm)}`, tok.alice, {}));
        assertOk(await req('PUT', `${C}/rooms/${enc(room.team)}/send/m.room.message/t1`, tok.alice, { msgtype: 'm.text', body: 'handover notes' }));
    });

    it('refuses the wrong roles, unknown users, the system user, bad bodies', T, async () => {
        assertError(await srv.request('POST', `${A}/users/${enc(uid('alice'))}/offboard`, { body: {} }), 401, 'M_MISSING_TOKEN');
        for (const n of ['comp', 'bob']) assertError(await offboard('alice', tok[n]), 403, 'M_FORBIDDEN');
        assertError(await req('POST', `${A}/users/${enc(uid('nobody'))}/offboard`, tok.root, {}), 404, 'M_NOT_FOUND');
        assertError(await req('GET', `${A}/users/${enc(uid('nobody'))}/offboarding`, tok.root), 404, 'M_NOT_FOUND');
        assertError(await req('GET', `${A}/users/${enc(uid('alice'))}/offboarding`, tok.root), 404, 'M_NOT_FOUND');
        assertError(await req('POST', `${A}/users/${enc(SYS)}/offboard`, tok.root, {}), 403, 'M_FORBIDDEN');
        assertError(await offboard('root', tok.root), 403, 'M_FORBIDDEN'); // not oneself
        assertError(await srv.request('POST', `${A}/users/${enc(uid('alice'))}/offboard`, { token: tok.root, raw: '{x' }), 400, 'M_NOT_JSON');
        assertError(await offboard('alice', tok.root, { reason: 5 }), 400, 'M_BAD_JSON');
        assertError(await req('GET', `${A}/users/${enc(uid('alice'))}/offboarding`, tok.bob), 403, 'M_FORBIDDEN');
        // alice is untouched
        assertOk(await srv.whoami(tok.alice));
    });

    it('a parked /sync ends at once with M_UNKNOWN_TOKEN; the record says what was done', T, async () => {
        const first = assertOk(await req('GET', `${C}/sync?timeout=0`, tok.alice));
        const t0 = Date.now();
        const parked = req('GET', `${C}/sync?since=${enc(first.next_batch)}&timeout=30000`, tok.alice, undefined, { timeoutMs: 40000 });
        await new Promise((r) => setTimeout(r, 300));
        const res = offboard('alice', tok.hr1, { reason: 'resigned' });
        const s = await parked;
        assertError(s, 401, 'M_UNKNOWN_TOKEN');
        assert.ok(Date.now() - t0 < 10000 * SLOW, 'the parked /sync returned at once');
        record = assertOk(await res);
        assert.equal(record.type, 'id.balai.offboarding.v1');
        assert.equal(record.user_id, uid('alice'));
        assert.equal(record.actor, uid('hr1'));
        assert.equal(record.reason, 'resigned');
        assert.ok(record.tokens_revoked >= 1);
        assert.ok(record.devices_removed >= 1);
        assert.equal(record.legal_hold, false);
        assert.equal(record.history_kept, true);
        assert.equal(record.employment_status, 'terminated');
        assert.ok(record.stewardships_passed >= 1, 'alice was a steward of her team room');
        assert.ok(record.completed_ts >= record.started_ts);
        assert.deepEqual(record.rooms_left.map((r) => r.room_id).sort(), [room.team, room.bobs, room.dm].sort());
        assert.deepEqual(record.rooms_failed, []);
        const sig = record.signatures[SERVER];
        assert.equal(Object.keys(sig).length, 1);
        assert.match(Object.keys(sig)[0], /^ed25519:/);
        // access is gone: tokens, login, directory status
        assertError(await srv.whoami(tok.alice), 401, 'M_UNKNOWN_TOKEN');
        assert.notEqual((await srv.loginRaw('alice', PW)).status, 200);
        const p = assertOk(await req('GET', `${A}/directory/users/${enc(uid('alice'))}`, tok.root));
        assert.equal(p.status, 'terminated');
        assert.equal(p.deactivated, true);
    });

    it('every membership became leave with an offboarded reason; the history is kept', T, async () => {
        for (const [name, r] of Object.entries(room)) {
            const ev = assertOk(await req('GET', `${C}/rooms/${enc(r)}/state/m.room.member/${enc(uid('alice'))}`, tok.bob));
            assert.equal(ev.membership, 'leave', name);
            assert.equal(ev.reason, 'offboarded: resigned', name);
        }
        // in bob's room the system user kicked her; in the DM (no system user) she left on her own behalf
        const byRoom = Object.fromEntries(record.rooms_left.map((r) => [r.room_id, r]));
        assert.equal(byRoom[room.bobs].method, 'kick');
        assert.equal(byRoom[room.dm].method, 'leave');
        const st = assertOk(await req('GET', `${C}/rooms/${enc(room.bobs)}/state`, tok.bob));
        assert.equal(st.find((e) => e.type === 'm.room.member' && e.state_key === uid('alice')).sender, SYS);
        const msgs = assertOk(await req('GET', `${C}/rooms/${enc(room.team)}/messages?dir=b&limit=50`, tok.bob));
        assert.ok(msgs.chunk.find((e) => e.type === 'm.room.message' && e.content.body === 'handover notes'));
        // the team room still has stewards
        const pl = assertOk(await req('GET', `${C}/rooms/${enc(room.team)}/state/m.room.power_levels/`, tok.bob));
        assert.ok(Object.entries(pl.users).filter(([u, l]) => l >= 100 && u !== SYS && u !== uid('alice')).length >= 1);
        // audited
        const a = assertOk(await req('GET', `${A}/audit?action=user.offboard`, tok.root));
        assert.equal(a.entries.length, 1);
        assert.equal(a.entries[0].target, uid('alice'));
    });

    it('the record is returned by the admin API and verifies; tampering is detected', T, async () => {
        for (const n of ['root', 'hr1', 'comp', 'adm'])
            assert.deepEqual(assertOk(await req('GET', `${A}/users/${enc(uid('alice'))}/offboarding`, tok[n])), record);
        const keys = assertOk(await srv.request('GET', `${A}/server/keys`));
        assert.equal(keys.server_name, SERVER);
        assert.ok(keys.verify_keys[Object.keys(record.signatures[SERVER])[0]].key);
        let r = await srv.cli(['offboarding', 'verify', 'alice']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^OK: the offboarding record of @alice:balai\.test is signed by balai\.test/);
        const file = path.join(srv.tmp, 'alice-offboarding.json');
        await fs.writeFile(file, JSON.stringify(record, null, 2));
        r = await srv.cli(['offboarding', 'verify', file]);
        assert.equal(r.code, 0, r.stderr);
        // with the public key given, no server is needed
        r = await srv.cli(['offboarding', 'verify', file, '--public-key', keys.verify_keys[Object.keys(record.signatures[SERVER])[0]].key]);
        assert.equal(r.code, 0, r.stderr);
        for (const change of [
            (x) => { x.rooms_left.pop(); },
            (x) => { x.reason = 'fired'; },
            (x) => { x.tokens_revoked += 1; },
            (x) => { x.legal_hold = true; },
        ]) {
            const bad = structuredClone(record);
            change(bad);
            await fs.writeFile(file, JSON.stringify(bad));
            r = await srv.cli(['offboarding', 'verify', file]);
            assert.equal(r.code, 1, 'tampered record accepted');
            assert.match(r.stderr, /does NOT verify/);
        }
        const unsigned = structuredClone(record);
        delete unsigned.signatures;
        await fs.writeFile(file, JSON.stringify(unsigned));
        assert.equal((await srv.cli(['offboarding', 'verify', file])).code, 1);
    });

    it('offboarding again answers the same record and does nothing', T, async () => {
        const again = assertOk(await offboard('alice', tok.root, { reason: 'again' }));
        assert.deepEqual(again, record);
        assert.equal(assertOk(await req('GET', `${A}/audit?action=user.offboard`, tok.root)).entries.length, 1);
    });

    it('`balai user offboard` through the socket', T, async () => {
        const r = await srv.cli(['user', 'offboard', 'carol', '--reason', 'contract ended']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /offboarded @carol:balai\.test/);
        assertError(await srv.whoami(tok.carol), 401, 'M_UNKNOWN_TOKEN');
        const rec = assertOk(await req('GET', `${A}/users/${enc(uid('carol'))}/offboarding`, tok.root));
        assert.equal(rec.actor, 'cli');
        assert.equal(rec.reason, 'contract ended');
        const bad = await srv.cli(['user', 'offboard', 'nobody']);
        assert.equal(bad.code, 1);
    });

    it('reactivation restores login (with a new password) and keeps the old record', T, async () => {
        assertError(await req('POST', `${A}/users/${enc(uid('alice'))}/reactivate`, tok.comp, {}), 403, 'M_FORBIDDEN');
        assertError(await req('POST', `${A}/users/${enc(uid('bob'))}/reactivate`, tok.root, {}), 400, 'M_INVALID_PARAM');
        assertError(await req('POST', `${A}/users/${enc(uid('nobody'))}/reactivate`, tok.root, {}), 404, 'M_NOT_FOUND');
        const r = assertOk(await req('POST', `${A}/users/${enc(uid('alice'))}/reactivate`, tok.hr1, { password: 'rehired password 2' }));
        assert.equal(r.password_set, true);
        tok.alice = (await srv.login('alice', 'rehired password 2')).access_token;
        const p = assertOk(await req('GET', `${A}/directory/users/${enc(uid('alice'))}`, tok.root));
        assert.equal(p.status, 'active');
        assert.deepEqual(assertOk(await req('GET', `${A}/users/${enc(uid('alice'))}/offboarding`, tok.root)), record);
        // a new offboarding writes a new record
        const second = assertOk(await offboard('alice', tok.root, { reason: 'left again' }));
        assert.equal(second.reason, 'left again');
        assert.notDeepEqual(second, record);
        record = second;
    });

    it('records survive a restart', T, async () => {
        await srv.restart();
        tok.root = (await srv.login('root')).access_token;
        assert.deepEqual(assertOk(await req('GET', `${A}/users/${enc(uid('alice'))}/offboarding`, tok.root)), record);
        assert.equal((await srv.cli(['offboarding', 'verify', 'alice'])).code, 0);
        assert.deepEqual(assertOk(await offboard('alice', tok.root)), record);
    });
});
