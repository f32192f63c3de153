// dlp.test.mjs: data-loss prevention on the send path (docs/dlp.md): each
// action (allow, audit, warn, mask, block, hold) per room label, each checked
// field (body, formatted_body, an edit's m.new_content, room name and topic,
// createRoom), the confirmation flow (content field and text marker, both
// stripped before storing), the held-for-review queue (release creates the
// event with its original sender; delete removes it), incidents with their
// filters and counts and no matched value in the clear anywhere (answers,
// server log), the policy, custom detectors and word lists with validation,
// the roles of every admin endpoint, and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const D = `${A}/dlp`;
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

const NIK = '3171014508900001';
const NIK2 = '3273012302850003';
const CARD = '4111111111111111';
const BPJS = '0001437852216';
const BULK = `daftar: ${NIK}, ${NIK2}, 3578106105920002, 1271035506880007, 7371121011990005`;

let n = 0;
const txn = () => `dlp${Date.now()}_${n++}`;

describe('data-loss prevention', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'root', admin: true }, { name: 'alice' }, { name: 'bob' }, { name: 'comp' }, { name: 'mod' }],
    });
    const tok = {};
    const rooms = {};

    const req = (method, p, token, body) => srv.request(method, p, { token, body });
    const send = (room, content, token = tok.alice, type = 'm.room.message') =>
        req('PUT', `${C}/rooms/${enc(room)}/send/${type}/${txn()}`, token, content);
    const text = (body, extra = {}) => ({ msgtype: 'm.text', body, ...extra });
    const getEvent = async (room, id, token = tok.alice) =>
        assertOk(await req('GET', `${C}/rooms/${enc(room)}/event/${enc(id)}`, token));
    const mkRoom = async (label, extra = {}) => {
        const initial_state = label
            ? [{ type: 'id.balai.room.classification', state_key: '', content: { label } }]
            : [];
        const r = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { preset: 'private_chat', initial_state, ...extra }));
        return r.room_id;
    };
    const setPolicy = async (rules) => assertOk(await req('PUT', `${D}/policy`, tok.root, { rules }));
    const incidents = async (q = '') => assertOk(await req('GET', `${D}/incidents${q}`, tok.comp));
    const incidentsUntil = async (q, pred) => {
        let j;
        for (let i = 0; i < 100; i++) {
            j = await incidents(q);
            if (pred(j)) return j;
            await sleep(20);
        }
        return j;
    };

    before(async () => {
        for (const u of ['root', 'alice', 'bob', 'comp', 'mod']) tok[u] = (await srv.login(u)).access_token;
        for (const [u, role] of [['comp', 'compliance'], ['mod', 'moderator']])
            assertOk(await req("PUT", `${A}/users/${enc(srv.userId(u))}/role`, tok.root, { role }));
        rooms.internal = await mkRoom(null);
        rooms.public = await mkRoom('public');
        rooms.confidential = await mkRoom('confidential');
        rooms.health = await mkRoom('restricted-health');
    });

    describe('actions per label (default policy)', () => {
        it('a message without findings goes through', T, async () => {
            assertOk(await send(rooms.internal, text('selamat pagi, rapat jam 10.00 ya')));
        });

        it('internal: a NIK is refused with DLP_WARN, findings and how to confirm', T, async () => {
            const r = await send(rooms.internal, text(`tolong cek NIK pasien ${NIK} ya`));
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.match(r.json.error, /NIK/);
            assert.match(r.json.error, /!confirm/);
            assert.equal(typeof r.json['id.balai.error_id'], 'string');
            const f = r.json['id.balai.findings'];
            assert.equal(f.length, 1);
            assert.equal(f[0].type, 'nik');
            assert.equal(f[0].field, 'body');
            assert.equal(f[0].offset, 'tolong cek NIK pasien '.length);
            assert.equal(f[0].length, 16);
            assert.equal(f[0].masked, '3171********0001');
            assert.ok(!r.text.includes(NIK), 'the answer must not echo the value');
        });

        it('internal: a phone number is only audited', T, async () => {
            assertOk(await send(rooms.internal, text('hubungi saya di 0812-3456-7890')));
        });

        it('public: a NIK warns too', T, async () => {
            assertError(await send(rooms.public, text(`NIK ${NIK}`)), 403, 'ID.BALAI.DLP_WARN');
        });

        it('confidential: a NIK is stored and audited (incident)', T, async () => {
            const r = assertOk(await send(rooms.confidential, text(`NIK ${NIK2} untuk rujukan`)));
            const ev = await getEvent(rooms.confidential, r.event_id);
            assert.equal(ev.content.body, `NIK ${NIK2} untuk rujukan`);
            const j = await incidentsUntil(`?room=${enc(rooms.confidential)}`, (x) => x.incidents.length >= 1);
            assert.equal(j.incidents[0].action, 'audit');
            assert.equal(j.incidents[0].outcome, 'stored');
            assert.equal(j.incidents[0].label, 'confidential');
            assert.equal(j.incidents[0].event_id, r.event_id);
        });

        it('restricted-health: a NIK is allowed without an incident; bulk is blocked', T, async () => {
            assertOk(await send(rooms.health, text(`NIK ${NIK}`)));
            const r = await send(rooms.health, text(BULK));
            assertError(r, 403, 'ID.BALAI.DLP_BLOCKED');
            assert.match(r.json.error, /not sent/);
            assert.ok(r.json['id.balai.findings'].some((f) => f.type === 'bulk'));
            const j = await incidentsUntil(`?room=${enc(rooms.health)}`, (x) => x.incidents.length >= 1);
            assert.equal(j.incidents.length, 1, JSON.stringify(j));
            assert.equal(j.incidents[0].action, 'block');
        });

        it('block by policy (public.identity=block)', T, async () => {
            await setPolicy('public.identity=block');
            try {
                const r = await send(rooms.public, text(`NIK ${NIK}`));
                assertError(r, 403, 'ID.BALAI.DLP_BLOCKED');
                assert.match(r.json.error, /Remove it/);
            } finally {
                await setPolicy('');
            }
        });

        it('mask by policy: the stored body and formatted_body are masked, the sender told', T, async () => {
            await setPolicy('internal.card=mask');
            try {
                const r = assertOk(await send(rooms.internal, text(`pakai kartu kredit ${CARD} aja`, {
                    format: 'org.matrix.custom.html', formatted_body: `<b>kartu kredit</b> ${CARD}`,
                })));
                assert.equal(r['id.balai.masked'], true);
                assert.equal(r['id.balai.findings'][0].type, 'card');
                const ev = await getEvent(rooms.internal, r.event_id);
                assert.equal(ev.content.body, 'pakai kartu kredit ************1111 aja');
                assert.equal(ev.content.formatted_body, '<b>kartu kredit</b> ************1111');
                const j = await incidentsUntil('?action=mask', (x) => x.incidents.length >= 1);
                assert.equal(j.incidents[0].outcome, 'masked');
                assert.equal(j.incidents[0].event_id, r.event_id);
            } finally {
                await setPolicy('');
            }
        });

        it('a direct message uses the default (internal) row', T, async () => {
            const dm = assertOk(await req('POST', `${C}/createRoom`, tok.alice, {
                preset: 'trusted_private_chat', is_direct: true, invite: [srv.userId('bob')],
            })).room_id;
            assertError(await send(dm, text(`NIK ${NIK}`)), 403, 'ID.BALAI.DLP_WARN');
            const j = await incidentsUntil(`?room=${enc(dm)}`, (x) => x.incidents.length >= 1);
            assert.equal(j.incidents[0].label, 'direct');
        });
    });

    describe('checked fields', () => {
        it('formatted_body', T, async () => {
            const r = await send(rooms.internal, text('lihat lampiran', { format: 'org.matrix.custom.html', formatted_body: `<p>NIK ${NIK}</p>` }));
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.equal(r.json['id.balai.findings'][0].field, 'formatted_body');
        });

        it("an edit's m.new_content", T, async () => {
            const orig = assertOk(await send(rooms.internal, text('data menyusul'))).event_id;
            const r = await send(rooms.internal, text('* data terlampir', {
                'm.new_content': text(`NIK ${NIK}`),
                'm.relates_to': { rel_type: 'm.replace', event_id: orig },
            }));
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.equal(r.json['id.balai.findings'][0].field, 'm.new_content.body');
        });

        it('room name and topic (state)', T, async () => {
            let r = await req('PUT', `${C}/rooms/${enc(rooms.internal)}/state/m.room.name`, tok.alice, { name: `Pasien ${NIK}` });
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.equal(r.json['id.balai.findings'][0].field, 'name');
            r = await req('PUT', `${C}/rooms/${enc(rooms.internal)}/state/m.room.topic`, tok.alice, { topic: `kartu ${CARD}` });
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.equal(r.json['id.balai.findings'][0].field, 'topic');
            assertOk(await req('PUT', `${C}/rooms/${enc(rooms.internal)}/state/m.room.topic`, tok.alice, { topic: 'Koordinasi harian' }));
        });

        it('createRoom name, topic and initial_state name', T, async () => {
            assertError(await req('POST', `${C}/createRoom`, tok.alice, { name: `NIK ${NIK}` }), 403, 'ID.BALAI.DLP_WARN');
            assertError(await req('POST', `${C}/createRoom`, tok.alice, { topic: `NIK ${NIK}` }), 403, 'ID.BALAI.DLP_WARN');
            assertError(await req('POST', `${C}/createRoom`, tok.alice, {
                initial_state: [{ type: 'm.room.name', state_key: '', content: { name: `NIK ${NIK}` } }],
            }), 403, 'ID.BALAI.DLP_WARN');
            // under a label that allows identity numbers, the same name is fine
            assertOk(await req('POST', `${C}/createRoom`, tok.alice, {
                name: `NIK ${NIK}`,
                initial_state: [{ type: 'id.balai.room.classification', state_key: '', content: { label: 'restricted-health' } }],
            }));
        });
    });

    describe('confirmation', () => {
        it('the content field: stored without it, audited, recorded', T, async () => {
            const r = assertOk(await send(rooms.internal, text(`NIK ${NIK} sudah benar`, { 'id.balai.dlp_confirm': true })));
            const ev = await getEvent(rooms.internal, r.event_id);
            assert.equal(ev.content.body, `NIK ${NIK} sudah benar`);
            assert.ok(!('id.balai.dlp_confirm' in ev.content));
            const j = await incidentsUntil('?action=warn', (x) => x.incidents.some((i) => i.outcome === 'confirmed'));
            assert.ok(j.incidents.some((i) => i.outcome === 'confirmed'));
            const audit = assertOk(await req('GET', `${A}/audit?action=dlp.warn.confirm`, tok.root));
            assert.ok(audit.entries.length >= 1);
            assert.ok(!JSON.stringify(audit).includes(NIK));
        });

        it('the text marker "!confirm " (third-party clients): stripped', T, async () => {
            const r = assertOk(await send(rooms.internal, text(`!confirm NIK ${NIK2} pasien baru`)));
            const ev = await getEvent(rooms.internal, r.event_id);
            assert.equal(ev.content.body, `NIK ${NIK2} pasien baru`);
        });

        it('the marker on a room name', T, async () => {
            assertOk(await req('PUT', `${C}/rooms/${enc(rooms.internal)}/state/m.room.name`, tok.alice, { name: `!confirm Pasien ${NIK}` }));
            const st = assertOk(await req('GET', `${C}/rooms/${enc(rooms.internal)}/state/m.room.name`, tok.alice));
            assert.equal(st.name, `Pasien ${NIK}`);
        });

        it('"id.balai.dlp_confirm": false does not confirm (and is stripped)', T, async () => {
            assertError(await send(rooms.internal, text(`NIK ${NIK}`, { 'id.balai.dlp_confirm': false })), 403, 'ID.BALAI.DLP_WARN');
        });
    });

    describe('hold for review', () => {
        let heldId, heldId2;
        before(async () => {
            await setPolicy('confidential.health=hold');
        });

        it('the sender gets DLP_HELD; the message is not in the room', T, async () => {
            let r = await send(rooms.confidential, text(`kartu BPJS pasien ${BPJS} aktif`));
            assertError(r, 403, 'ID.BALAI.DLP_HELD');
            assert.match(r.json.error, /held for review/);
            heldId = r.json['id.balai.held_id'];
            assert.ok(heldId);
            r = await send(rooms.confidential, text(`no bpjs 0002345678901 tolong dicek`));
            assertError(r, 403, 'ID.BALAI.DLP_HELD');
            heldId2 = r.json['id.balai.held_id'];
            const msgs = assertOk(await req('GET', `${C}/rooms/${enc(rooms.confidential)}/messages?dir=b&limit=50`, tok.alice));
            assert.ok(!msgs.chunk.some((e) => (e.content?.body || '').includes(BPJS)));
        });

        it('the queue lists it with masked findings; one item shows its content', T, async () => {
            const q = assertOk(await req('GET', `${D}/held`, tok.comp));
            const h = q.held.find((x) => x.held_id === heldId);
            assert.ok(h, JSON.stringify(q));
            assert.equal(h.user_id, srv.userId('alice'));
            assert.equal(h.room_id, rooms.confidential);
            assert.equal(h.findings[0].type, 'bpjs');
            assert.ok(!JSON.stringify(q).includes(BPJS));
            const one = assertOk(await req('GET', `${D}/held/${heldId}`, tok.mod));
            assert.equal(one.content.body, `kartu BPJS pasien ${BPJS} aktif`);
        });

        it('release creates the event with the original sender', T, async () => {
            const r = assertOk(await req('POST', `${D}/held/${heldId}/release`, tok.mod, {}));
            const ev = await getEvent(rooms.confidential, r.event_id);
            assert.equal(ev.sender, srv.userId('alice'));
            assert.equal(ev.content.body, `kartu BPJS pasien ${BPJS} aktif`);
            assertError(await req('POST', `${D}/held/${heldId}/release`, tok.mod, {}), 404, 'M_NOT_FOUND');
        });

        it('delete removes it', T, async () => {
            assertOk(await req('DELETE', `${D}/held/${heldId2}`, tok.comp));
            const q = assertOk(await req('GET', `${D}/held`, tok.comp));
            assert.ok(!q.held.some((x) => x.held_id === heldId2));
            assertError(await req('DELETE', `${D}/held/${heldId2}`, tok.comp), 404, 'M_NOT_FOUND');
            await setPolicy('');
        });

        it('members cannot see the queue', T, async () => {
            assertError(await req('GET', `${D}/held`, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('POST', `${D}/held/x/release`, tok.alice, {}), 403, 'M_FORBIDDEN');
        });

        it('the same transaction sent again: the same DLP_HELD, one queue entry, also after a restart', T, async () => {
            await setPolicy('confidential.health=hold');
            const login = async () => (await srv.login('alice', undefined, { device_id: 'HOLDTXN' })).access_token;
            let t = await login();
            const id = txn();
            const put = (token, tid = id) =>
                req('PUT', `${C}/rooms/${enc(rooms.confidential)}/send/m.room.message/${tid}`, token, text(`ulang BPJS ${BPJS} lagi`));
            const mine = async () =>
                assertOk(await req('GET', `${D}/held`, tok.comp)).held.filter((x) => x.room_id === rooms.confidential);
            const r1 = await put(t);
            assertError(r1, 403, 'ID.BALAI.DLP_HELD');
            const held = r1.json['id.balai.held_id'];
            assert.ok(held);
            const r2 = await put(t);
            assertError(r2, 403, 'ID.BALAI.DLP_HELD');
            assert.deepEqual(r2.json, r1.json);
            assert.deepEqual((await mine()).map((x) => x.held_id), [held]);
            // the transaction id belongs to the device: another device's is another message
            const other = await put(tok.alice);
            assertError(other, 403, 'ID.BALAI.DLP_HELD');
            assert.notEqual(other.json['id.balai.held_id'], held);
            assert.equal((await mine()).length, 2);
            await srv.restart();
            for (const u of ['root', 'alice', 'comp', 'mod']) tok[u] = (await srv.login(u)).access_token;
            t = await login();
            const r3 = await put(t);
            assertError(r3, 403, 'ID.BALAI.DLP_HELD');
            assert.deepEqual(r3.json, r1.json);
            assert.equal((await mine()).length, 2);
            // the held transaction id reused for a redaction is not taken for an event id
            const red = await req('PUT', `${C}/rooms/${enc(rooms.confidential)}/redact/${enc('$whatever')}/${id}`, t, {});
            assertError(red, 403, 'ID.BALAI.DLP_HELD');
            // released, the retry still answers the hold (and sends nothing twice)
            const rel = assertOk(await req('POST', `${D}/held/${held}/release`, tok.mod, {}));
            const r4 = await put(t);
            assertError(r4, 403, 'ID.BALAI.DLP_HELD');
            assert.equal(r4.json['id.balai.held_id'], held);
            const msgs = assertOk(await req('GET', `${C}/rooms/${enc(rooms.confidential)}/messages?dir=b&limit=50`, tok.alice));
            assert.equal(msgs.chunk.filter((e) => e.event_id === rel.event_id || (e.content?.body || '').includes('ulang BPJS')).length, 1);
            assertOk(await req('DELETE', `${D}/held/${other.json['id.balai.held_id']}`, tok.comp));
            await setPolicy('');
        });
    });

    describe('incidents', () => {
        it('filters and counts; never a value in the clear', T, async () => {
            const all = await incidents();
            assert.ok(all.total >= 5, JSON.stringify(all));
            assert.ok(all.counts.label.internal >= 1);
            assert.ok(all.counts.detector.nik >= 1);
            assert.ok(all.counts.action.warn >= 1);
            const inc = all.incidents.find((i) => i.findings.some((f) => f.type === 'nik'));
            const f = inc.findings.find((x) => x.type === 'nik');
            assert.match(f.hash, /^[0-9a-f]{32}$/);
            assert.ok(f.masked.includes('*'));
            for (const v of [NIK, NIK2, CARD, BPJS]) {
                assert.ok(!all.incidents.some((i) => JSON.stringify(i).includes(v)), `${v} in incidents`);
            }
            // the same NIK gives the same keyed hash (incidents can be correlated)
            const hashes = all.incidents.flatMap((i) => i.findings).filter((x) => x.masked === '3171********0001').map((x) => x.hash);
            assert.ok(hashes.length >= 2 && hashes.every((h) => h === hashes[0]));

            const byLabel = await incidents('?label=confidential');
            assert.ok(byLabel.incidents.length >= 1 && byLabel.incidents.every((i) => i.label === 'confidential'));
            const byType = await incidents('?type=card');
            assert.ok(byType.incidents.length >= 1 && byType.incidents.every((i) => i.findings.some((x) => x.type === 'card')));
            const byUser = await incidents(`?user=${enc(srv.userId('bob'))}`);
            assert.equal(byUser.incidents.length, 0);
            const byAction = await incidents('?action=block');
            assert.ok(byAction.incidents.every((i) => i.action === 'block'));
            const future = await incidents(`?since=${Date.now() + 3600_000}`);
            assert.equal(future.incidents.length, 0);
            const page = await incidents('?limit=1');
            assert.equal(page.incidents.length, 1);
            assert.ok(page.next);
            const page2 = await incidents(`?limit=1&from=${page.next}`);
            assert.ok(page2.incidents[0].id < page.incidents[0].id);
            assertError(await req('GET', `${D}/incidents?limit=0`, tok.comp), 400, 'M_INVALID_PARAM');
        });

        it('the server log holds no matched value', T, async () => {
            for (const v of [NIK, NIK2, CARD, BPJS]) assert.ok(!srv.log.includes(v), `${v} in the server log`);
        });

        it('only compliance and owners read incidents; reading is audited', T, async () => {
            assertError(await req('GET', `${D}/incidents`, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${D}/incidents`, tok.mod), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${D}/incidents`), 401, 'M_MISSING_TOKEN');
            assertOk(await req('GET', `${D}/incidents`, tok.root));
            const audit = assertOk(await req('GET', `${A}/audit?action=dlp.incidents.read`, tok.root));
            assert.ok(audit.entries.length >= 1);
        });
    });

    describe('policy, detectors, word lists', () => {
        it('policy: read, set (rules or JSON), bad rule → 400 with the engine message', T, async () => {
            const p = assertOk(await req('GET', `${D}/policy`, tok.comp));
            assert.equal(p.effective.internal.identity, 'warn');
            assert.equal(p.effective.confidential.identity, 'audit');
            let r = await req('PUT', `${D}/policy`, tok.root, { rules: 'internal.card=explode' });
            assertError(r, 400, 'M_INVALID_PARAM');
            assert.match(r.json.error, /explode|action/);
            assertError(await req('PUT', `${D}/policy`, tok.root, { rules: 5 }), 400, 'M_BAD_JSON');
            assertError(await req('PUT', `${D}/policy`, tok.root, 'nope'), 400, 'M_NOT_JSON');
            r = assertOk(await req('PUT', `${D}/policy`, tok.root, { policy: { internal: { card: 'block' } }, min_confidence: 60 }));
            assert.equal(r.effective.internal.card, 'block');
            assertError(await send(rooms.internal, text(`visa ${CARD}`)), 403, 'ID.BALAI.DLP_BLOCKED');
            await setPolicy('');
            const audit = assertOk(await req('GET', `${A}/audit?action=dlp.policy.set`, tok.root));
            assert.ok(audit.entries.length >= 2);
        });

        it('custom detectors: bad pattern → 400 with PCRE2 message and offset; CRUD; applies', T, async () => {
            let r = await req('POST', `${D}/detectors`, tok.root, { name: 'proyek', pattern: 'PRJ-(\\d{4}', category: 'other' });
            assertError(r, 400, 'M_INVALID_PARAM');
            assert.match(r.json.error, /offset \d+/);
            assertError(await req('POST', `${D}/detectors`, tok.root, { name: 'Bad Name', pattern: 'x' }), 400, 'M_INVALID_PARAM');
            assertError(await req('POST', `${D}/detectors`, tok.root, { name: 'x1' }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${D}/detectors`, tok.root, { name: 'x1', pattern: 'a', category: 'nonsense' }), 400, 'M_INVALID_PARAM');
            r = assertOk(await req('POST', `${D}/detectors`, tok.root, { name: 'proyek', pattern: 'PRJ-\\d{4}', category: 'other' }));
            assert.equal(r.detector.name, 'proyek');
            const list = assertOk(await req('GET', `${D}/detectors`, tok.root));
            assert.ok(list.detectors.some((d) => d.name === 'proyek'));
            r = await send(rooms.internal, text('kode PRJ-1234 rahasia'));
            assertError(r, 403, 'ID.BALAI.DLP_WARN');
            assert.equal(r.json['id.balai.findings'][0].name, 'proyek');
            const j = await incidentsUntil('?type=proyek', (x) => x.incidents.length >= 1);
            assert.ok(j.incidents.length >= 1);
            assertOk(await req('DELETE', `${D}/detectors/proyek`, tok.root));
            assertError(await req('DELETE', `${D}/detectors/proyek`, tok.root), 404, 'M_NOT_FOUND');
            assertOk(await send(rooms.internal, text('kode PRJ-1234 rahasia')));
        });

        it('word lists: block and mask', T, async () => {
            assertError(await req('PUT', `${D}/wordlists/kasar`, tok.root, { action: 'explode', words: ['x'] }), 400, 'M_INVALID_PARAM');
            assertError(await req('PUT', `${D}/wordlists/kasar`, tok.root, { action: 'block', words: [] }), 400, 'M_BAD_JSON');
            assertOk(await req('PUT', `${D}/wordlists/kasar`, tok.root, { action: 'block', words: ['bodoh', 'goblok'] }));
            let r = await send(rooms.internal, text('dasar Bodoh kamu'));
            assertError(r, 403, 'ID.BALAI.DLP_BLOCKED');
            assertOk(await req('PUT', `${D}/wordlists/sensor`, tok.root, { action: 'mask', words: ['sialan'] }));
            r = assertOk(await send(rooms.internal, text('aduh sialan macet')));
            assert.equal(r['id.balai.masked'], true);
            const ev = await getEvent(rooms.internal, r.event_id);
            assert.equal(ev.content.body, 'aduh ****** macet');
            const wl = assertOk(await req('GET', `${D}/wordlists/kasar`, tok.comp));
            assert.deepEqual(wl.words, ['bodoh', 'goblok']);
            assertOk(await req('DELETE', `${D}/wordlists/kasar`, tok.root));
            assertError(await req('GET', `${D}/wordlists/kasar`, tok.root), 404, 'M_NOT_FOUND');
            assertOk(await send(rooms.internal, text('dasar bodoh kamu')));
        });

        it('roles: members and compliance cannot change settings; no token → 401', T, async () => {
            assertError(await req('PUT', `${D}/policy`, tok.comp, { rules: '' }), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${D}/policy`, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('POST', `${D}/detectors`, tok.mod, { name: 'a', pattern: 'a' }), 403, 'M_FORBIDDEN');
            assertError(await req('PUT', `${D}/wordlists/a`, tok.alice, { action: 'block', words: ['a'] }), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${D}/policy`), 401, 'M_MISSING_TOKEN');
            assertError(await req('GET', `${D}/held`), 401, 'M_MISSING_TOKEN');
        });

        it('the CLI: policy show|set, detector list|add|remove, incidents', T, async () => {
            let r = await srv.cli(['dlp', 'policy', 'set', 'internal.card=block']);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /internal\s+block|card/);
            r = await srv.cli(['dlp', 'policy', 'show']);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /internal\.card=block/);
            r = await srv.cli(['dlp', 'policy', 'set', 'internal.card=nonsense']);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /refused \(HTTP 400\)/);
            r = await srv.cli(['dlp', 'policy', 'set', '']);
            assert.equal(r.code, 0, r.stderr);
            r = await srv.cli(['dlp', 'detector', 'add', 'tiket', '--pattern', 'TKT-(\\d+']);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /offset/);
            r = await srv.cli(['dlp', 'detector', 'add', 'tiket', '--pattern', 'TKT-\\d{5}']);
            assert.equal(r.code, 0, r.stderr);
            r = await srv.cli(['dlp', 'detector', 'add', 'obat', '--keywords', 'morfin,fentanil', '--category', 'health']);
            assert.equal(r.code, 0, r.stderr);
            r = await srv.cli(['dlp', 'detector', 'list']);
            assert.match(r.stdout, /tiket/);
            assert.match(r.stdout, /morfin/);
            assertError(await send(rooms.internal, text('resep morfin 10mg')), 403, 'ID.BALAI.DLP_WARN');
            for (const d of ['tiket', 'obat']) assert.equal((await srv.cli(['dlp', 'detector', 'remove', d])).code, 0);
            assert.equal((await srv.cli(['dlp', 'detector', 'remove', 'tiket'])).code, 1);
            r = await srv.cli(['dlp', 'incidents', '--type', 'nik', '--limit', '5']);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /3171\*{8}0001/);
            assert.ok(!r.stdout.includes(NIK));
            assert.equal((await srv.cli(['dlp', 'bogus'])).code, 2);
            const audit = assertOk(await req('GET', `${A}/audit?actor=cli&action=dlp.*`, tok.root));
            assert.ok(audit.entries.length >= 4);
        });

        it('settings survive a restart', T, async () => {
            await setPolicy('internal.contact=block');
            assertOk(await req('POST', `${D}/detectors`, tok.root, { name: 'kode', keywords: ['kode rahasia'], category: 'other' }));
            await srv.restart();
            for (const u of ['root', 'alice', 'comp']) tok[u] = (await srv.login(u)).access_token;
            const p = assertOk(await req('GET', `${D}/policy`, tok.root));
            assert.equal(p.rules, 'internal.contact=block');
            assertError(await send(rooms.internal, text('telepon 081234567890')), 403, 'ID.BALAI.DLP_BLOCKED');
            assertError(await send(rooms.internal, text('ini kode rahasia kita')), 403, 'ID.BALAI.DLP_WARN');
            await setPolicy('');
            assertOk(await req('DELETE', `${D}/detectors/kode`, tok.root));
            const inc = await incidents();
            assert.ok(inc.total >= 5);
        });
    });
});
