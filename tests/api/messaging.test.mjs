// messaging.test.mjs: sending, state, history (/messages, /event), /sync with
// long-polls, idempotency and durability, sealed content at rest.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, PW, sleep, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txnCounter = 0;
const txn = () => `t${Date.now()}_${txnCounter++}`;

async function createRoom(srv, token, body = {}) {
    const r = await srv.request('POST', `${C}/createRoom`, { token, body });
    assertOk(r);
    return r.json.room_id;
}

async function send(srv, token, room, body, t = txn()) {
    return srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${t}`, {
        token,
        body: { msgtype: 'm.text', ...body },
    });
}

async function sync(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
    assertOk(r);
    return r.json;
}

function timelineBodies(s, room) {
    const j = s.rooms?.join?.[room];
    return (j?.timeline?.events || []).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
}

describe('sending and reading', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }],
    });
    let alice, bob, carol, room;
    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        room = await createRoom(srv, alice, { preset: 'public_chat', name: 'General' });
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
    });

    it('sends a message and reads it back by id', T, async () => {
        const r = await send(srv, alice, room, { body: 'hello' });
        assertOk(r);
        assert.match(r.json.event_id, /^\$[A-Za-z0-9_-]{43}$/);
        const e = await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc(r.json.event_id)}`, { token: bob });
        assertOk(e);
        assert.equal(e.json.content.body, 'hello');
        assert.equal(e.json.sender, srv.userId('alice'));
        assert.equal(e.json.room_id, room);
        assert.equal(e.json.hashes, undefined, 'client format has no hashes');
        assert.equal(e.json.signatures, undefined);
    });

    it('the same transaction id returns the same event id and stores one event', T, async () => {
        const t = txn();
        const a = await send(srv, alice, room, { body: 'once' }, t);
        const b = await send(srv, alice, room, { body: 'once' }, t);
        assertOk(a);
        assertOk(b);
        assert.equal(a.json.event_id, b.json.event_id);
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=20`, { token: alice });
        assertOk(m);
        assert.equal(m.json.chunk.filter((e) => e.content?.body === 'once').length, 1);
    });

    it('a transaction id is per device: another device gets a new event', T, async () => {
        const other = (await srv.login('alice')).access_token;
        const t = txn();
        const a = await send(srv, alice, room, { body: 'dev1' }, t);
        const b = await send(srv, other, room, { body: 'dev2' }, t);
        assert.notEqual(a.json.event_id, b.json.event_id);
    });

    it('refuses sends from non-members, to unknown and malformed rooms, and bad bodies', T, async () => {
        assertError(await send(srv, carol, room, { body: 'x' }), 403, 'M_FORBIDDEN');
        assertError(await send(srv, alice, '!nope:balai.test', { body: 'x' }), 403, 'M_FORBIDDEN');
        assertError(await send(srv, alice, 'not-a-room', { body: 'x' }), 400, 'M_INVALID_PARAM');
        const bad = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, {
            token: alice,
            raw: '{"msgtype":',
            headers: { 'content-type': 'application/json' },
        });
        assertError(bad, 400, 'M_NOT_JSON');
        const arr = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, {
            token: alice,
            raw: '[1,2]',
        });
        assertError(arr, 400, 'M_NOT_JSON');
        const flt = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, {
            token: alice,
            raw: '{"body":"x","n":1.5}',
        });
        assertError(flt, 400, 'M_BAD_JSON');
        assertError(
            await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, { body: { body: 'x' } }),
            401,
            'M_MISSING_TOKEN',
        );
    });

    it('refuses an event over 65,536 bytes and records nothing', T, async () => {
        const t = txn();
        const big = await send(srv, alice, room, { body: 'x'.repeat(66_000) }, t);
        assert.equal(big.status, 413, big.text);
        assert.equal(big.json.errcode, 'M_TOO_LARGE');
        // the refused transaction id was not recorded: it can be used again
        const ok = await send(srv, alice, room, { body: 'small' }, t);
        assertOk(ok);
    });

    it('refuses encrypted events under e2ee = deny with the policy message', T, async () => {
        const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.encrypted/${txn()}`, {
            token: alice,
            body: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'abc' },
        });
        assertError(r, 403, 'M_FORBIDDEN');
        assert.match(r.json.error, /organisation/);
        const s = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/m.room.encryption`, {
            token: alice,
            body: { algorithm: 'm.megolm.v1.aes-sha2' },
        });
        assertError(s, 403, 'M_FORBIDDEN');
    });

    it('sets and reads state, with and without a state key', T, async () => {
        const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/m.room.topic`, {
            token: alice,
            body: { topic: 'Ward news' },
        });
        assertOk(r);
        assert.match(r.json.event_id, /^\$/);
        const g = await srv.request('GET', `${C}/rooms/${enc(room)}/state/m.room.topic`, { token: bob });
        assertOk(g);
        assert.equal(g.json.topic, 'Ward news');
        const k = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/org.example.custom/key1`, {
            token: alice,
            body: { v: 1 },
        });
        assertOk(k);
        // bob (power 0) may not set state (state_default 50)
        const f = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/m.room.topic`, {
            token: bob,
            body: { topic: 'mine' },
        });
        assertError(f, 403, 'M_FORBIDDEN');
        // a state key that is another user's id is refused
        const u = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/org.example.x/${enc(srv.userId('carol'))}`, {
            token: alice,
            body: {},
        });
        assertError(u, 403, 'M_FORBIDDEN');
    });

    it('pages through /messages backwards and forwards with stable tokens', T, async () => {
        const r2 = await createRoom(srv, alice, { preset: 'private_chat' });
        for (let i = 0; i < 25; i++) assertOk(await send(srv, alice, r2, { body: `m${i}` }));
        const seen = [];
        let from;
        for (let round = 0; round < 10; round++) {
            const q = `dir=b&limit=7${from ? '&from=' + enc(from) : ''}`;
            const m = await srv.request('GET', `${C}/rooms/${enc(r2)}/messages?${q}`, { token: alice });
            assertOk(m);
            for (const e of m.json.chunk) if (e.type === 'm.room.message') seen.push(e.content.body);
            if (!m.json.end) break;
            from = m.json.end;
        }
        assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `m${24 - i}`));
        const f = await srv.request('GET', `${C}/rooms/${enc(r2)}/messages?dir=f&limit=100`, { token: alice });
        assertOk(f);
        const fwd = f.json.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
        assert.deepEqual(fwd, Array.from({ length: 25 }, (_, i) => `m${i}`));
        assert.equal(f.json.chunk[0].type, 'm.room.create');
        // bad parameters
        assertError(await srv.request('GET', `${C}/rooms/${enc(r2)}/messages?dir=x`, { token: alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/rooms/${enc(r2)}/messages?from=garbage`, { token: alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/rooms/${enc(r2)}/messages?limit=-1`, { token: alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/rooms/${enc(r2)}/messages`, { token: carol }), 403, 'M_FORBIDDEN');
    });

    it('two rooms created at once with the same alias: one wins, the other changes nothing', T, async () => {
        const body = { preset: 'public_chat', room_alias_name: `race${Date.now()}` };
        const [a, b] = await Promise.all([
            srv.request('POST', `${C}/createRoom`, { token: alice, body }),
            srv.request('POST', `${C}/createRoom`, { token: bob, body }),
        ]);
        const ok = [a, b].filter((r) => r.status === 200);
        const lost = [a, b].filter((r) => r.status !== 200);
        assert.equal(ok.length, 1, `${a.status} ${a.text} / ${b.status} ${b.text}`);
        assertError(lost[0], 400, 'M_ROOM_IN_USE');
        const alias = `#${body.room_alias_name}:${srv.serverName}`;
        const d = await srv.request('GET', `${C}/directory/room/${enc(alias)}`, { token: alice });
        assertOk(d);
        assert.equal(d.json.room_id, ok[0].json.room_id);
    });

    it('GET /event refuses unknown events and rooms the user cannot read', T, async () => {
        const r = await send(srv, alice, room, { body: 'x' });
        assertError(await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc('$nope')}`, { token: alice }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc(r.json.event_id)}`, { token: carol }), 403, 'M_FORBIDDEN');
    });
});

describe('/sync', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room, other;
    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        room = await createRoom(srv, alice, { preset: 'private_chat', name: 'Ward 3' });
        other = await createRoom(srv, carol, { preset: 'private_chat' });
    });

    it('initial sync lists joined rooms with state, timeline, summary and the keys clients need', T, async () => {
        const s = await sync(srv, alice);
        assert.equal(typeof s.next_batch, 'string');
        const j = s.rooms.join[room];
        assert.ok(j, 'room in join');
        const types = j.state.events.map((e) => e.type).concat(j.timeline.events.map((e) => e.type));
        assert.ok(types.includes('m.room.create'));
        assert.ok(types.includes('m.room.name'));
        assert.equal(typeof j.timeline.limited, 'boolean');
        assert.equal(typeof j.timeline.prev_batch, 'string');
        assert.equal(j.summary['m.joined_member_count'] >= 1, true);
        assert.ok(s.device_one_time_keys_count);
        assert.ok(Array.isArray(s.device_unused_fallback_key_types));
        assert.equal(s.rooms.join[other], undefined, "carol's room is not alice's");
    });

    it('invite appears in invite, join moves it to join', T, async () => {
        const before = await sync(srv, bob);
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/invite`, { token: alice, body: { user_id: srv.userId('bob') } }));
        const s1 = await sync(srv, bob, { since: before.next_batch, timeout: 5000 });
        assert.ok(s1.rooms.invite[room], 'invite listed');
        const inv = s1.rooms.invite[room].invite_state.events;
        assert.ok(inv.some((e) => e.type === 'm.room.member' && e.state_key === srv.userId('bob')));
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/join`, { token: bob, body: {} }));
        const s2 = await sync(srv, bob, { since: s1.next_batch, timeout: 5000 });
        assert.ok(s2.rooms.join[room], 'now joined');
    });

    it('a parked /sync wakes for a message in its room, and not for another room', T, async () => {
        const base = await sync(srv, bob);
        // an event in a room bob is not in: the long-poll must not return early
        const t0 = Date.now();
        const parked = sync(srv, bob, { since: base.next_batch, timeout: 1500 });
        await sleep(200);
        assertOk(await send(srv, carol, other, { body: 'elsewhere' }));
        const quiet = await parked;
        assert.ok(Date.now() - t0 >= 1300, 'returned at its timeout, not early');
        assert.deepEqual(quiet.rooms.join, {});
        // now an event in bob's room wakes it
        const t1 = Date.now();
        const p2 = sync(srv, bob, { since: quiet.next_batch, timeout: 20000 });
        await sleep(200);
        assertOk(await send(srv, alice, room, { body: 'wake up' }));
        const got = await p2;
        assert.ok(Date.now() - t1 < 10000 * SLOW, 'woke promptly');
        assert.deepEqual(timelineBodies(got, room), ['wake up']);
    });

    it('an invite wakes the parked /sync of the invitee', T, async () => {
        const base = await sync(srv, carol);
        const p = sync(srv, carol, { since: base.next_batch, timeout: 20000 });
        await sleep(200);
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/invite`, { token: alice, body: { user_id: srv.userId('carol') } }));
        const got = await p;
        assert.ok(got.rooms.invite[room]);
    });

    it("the sender's own device sees its transaction id", T, async () => {
        const base = await sync(srv, alice);
        const t = txn();
        assertOk(await send(srv, alice, room, { body: 'mine' }, t));
        const s = await sync(srv, alice, { since: base.next_batch });
        const ev = s.rooms.join[room].timeline.events.find((e) => e.content.body === 'mine');
        assert.equal(ev.unsigned?.transaction_id, t);
        const sb = await sync(srv, bob, { since: base.next_batch });
        const evb = sb.rooms.join[room].timeline.events.find((e) => e.content.body === 'mine');
        assert.equal(evb.unsigned?.transaction_id, undefined);
    });

    it('a limited timeline and a filter limit', T, async () => {
        const base = await sync(srv, bob);
        for (let i = 0; i < 6; i++) assertOk(await send(srv, alice, room, { body: `n${i}` }));
        const f = await srv.request('POST', `${C}/user/${enc(srv.userId('bob'))}/filter`, {
            token: bob,
            body: { room: { timeline: { limit: 3 } } },
        });
        assertOk(f);
        const g = await srv.request('GET', `${C}/user/${enc(srv.userId('bob'))}/filter/${enc(f.json.filter_id)}`, { token: bob });
        assertOk(g);
        assert.equal(g.json.room.timeline.limit, 3);
        const s = await sync(srv, bob, { since: base.next_batch, filter: f.json.filter_id });
        const tl = s.rooms.join[room].timeline;
        assert.deepEqual(tl.events.map((e) => e.content.body), ['n3', 'n4', 'n5']);
        assert.equal(tl.limited, true);
        // prev_batch pages back to the older ones
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=3&from=${enc(tl.prev_batch)}`, { token: bob });
        assertOk(m);
        assert.deepEqual(m.json.chunk.map((e) => e.content.body), ['n2', 'n1', 'n0']);
        // errors
        assertError(await srv.request('GET', `${C}/sync?filter=garbage`, { token: bob }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/user/${enc(srv.userId('alice'))}/filter/x`, { token: bob }), 403, 'M_FORBIDDEN');
    });

    it('bad parameters and foreign tokens are refused', T, async () => {
        assertError(await srv.request('GET', `${C}/sync?since=garbage`, { token: bob }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/sync?since=sdeadbeef_1_0_0_0_0_0`, { token: bob }), 400, 'M_UNKNOWN_POS');
        assertError(await srv.request('GET', `${C}/sync?timeout=-5`, { token: bob }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/sync?full_state=maybe`, { token: bob }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/sync`), 401, 'M_MISSING_TOKEN');
    });

    it('logging out ends a parked /sync at once with M_UNKNOWN_TOKEN', T, async () => {
        const tok = (await srv.login('bob')).access_token;
        const base = await sync(srv, tok);
        const t0 = Date.now();
        const p = srv.request('GET', `${C}/sync?since=${enc(base.next_batch)}&timeout=30000`, { token: tok, timeoutMs: 60_000 });
        await sleep(300);
        assertOk(await srv.request('POST', `${C}/logout`, { token: tok, body: {} }));
        const r = await p;
        assertError(r, 401, 'M_UNKNOWN_TOKEN');
        assert.ok(Date.now() - t0 < 10_000 * SLOW);
    });

    it('leaving: the room appears under leave and later messages do not arrive', T, async () => {
        const r = await createRoom(srv, alice, { preset: 'public_chat' });
        assertOk(await srv.request('POST', `${C}/join/${enc(r)}`, { token: bob, body: {} }));
        const base = await sync(srv, bob);
        assertOk(await srv.request('POST', `${C}/rooms/${enc(r)}/leave`, { token: bob, body: {} }));
        const s = await sync(srv, bob, { since: base.next_batch, timeout: 5000 });
        assert.ok(s.rooms.leave[r], 'listed under leave');
        assertOk(await send(srv, alice, r, { body: 'after you left' }));
        const s2 = await sync(srv, bob, { since: s.next_batch, timeout: 800 });
        assert.equal(s2.rooms.join[r], undefined);
        assert.equal(s2.rooms.leave[r], undefined);
        const m = await srv.request('GET', `${C}/rooms/${enc(r)}/messages?dir=b&limit=50`, { token: bob });
        assertOk(m);
        assert.ok(!m.json.chunk.some((e) => e.content?.body === 'after you left'), 'history after leaving is hidden');
    });
});

describe('durability, restarts and sealed storage', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });

    it('every acknowledged send from many clients survives kill -9, exactly once and in order', T, async () => {
        const alice = (await srv.login('alice')).access_token;
        const room = await createRoom(srv, alice, { preset: 'public_chat' });
        const tokens = [alice];
        for (let i = 0; i < 7; i++) tokens.push((await srv.login('alice')).access_token);
        const acked = [];
        let stop = false;
        const workers = tokens.map(async (tok, w) => {
            for (let i = 0; !stop && i < 400; i++) {
                let r;
                try {
                    r = await send(srv, tok, room, { body: `w${w}-${i}` });
                } catch {
                    return;
                }
                if (r.status === 200) acked.push({ id: r.json.event_id, body: `w${w}-${i}` });
            }
        });
        await sleep(700);
        await srv.kill();
        stop = true;
        await Promise.allSettled(workers);
        assert.ok(acked.length > 20, `only ${acked.length} acknowledged`);
        await srv.start();
        const fresh = (await srv.login('alice')).access_token;
        const seen = [];
        let from;
        for (;;) {
            const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=f&limit=500${from ? '&from=' + enc(from) : ''}`, { token: fresh });
            assertOk(m);
            seen.push(...m.json.chunk.filter((e) => e.type === 'm.room.message'));
            if (!m.json.end || m.json.chunk.length === 0) break;
            from = m.json.end;
        }
        const ids = seen.map((e) => e.event_id);
        assert.equal(new Set(ids).size, ids.length, 'no duplicates');
        for (const a of acked) assert.ok(ids.includes(a.id), `acknowledged ${a.body} lost`);
        // per sender, the order is the order of sending
        for (let w = 0; w < tokens.length; w++) {
            const nums = seen.map((e) => e.content.body).filter((b) => b.startsWith(`w${w}-`)).map((b) => Number(b.split('-')[1]));
            assert.deepEqual(nums, [...nums].sort((a, b) => a - b));
        }
    });

    it('idempotency and tokens survive a restart; cold caches answer like warm ones', T, async () => {
        const alice = (await srv.login('alice')).access_token;
        const bob = (await srv.login('bob')).access_token;
        const room = await createRoom(srv, alice, { preset: 'public_chat', topic: 'persist' });
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
        for (let i = 0; i < 80; i++) assertOk(await send(srv, alice, room, { body: `p${i}` }));
        const t = txn();
        const first = await send(srv, alice, room, { body: 'idem' }, t);
        const warm = {
            msgs: (await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=100`, { token: bob })).json,
            sync: await sync(srv, bob),
            state: (await srv.request('GET', `${C}/rooms/${enc(room)}/state`, { token: bob })).json,
        };
        await srv.restart();
        const again = await send(srv, alice, room, { body: 'idem' }, t);
        assert.equal(again.json.event_id, first.json.event_id, 'same txn after restart');
        const cold = {
            msgs: (await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=100`, { token: bob })).json,
            sync: await sync(srv, bob),
            state: (await srv.request('GET', `${C}/rooms/${enc(room)}/state`, { token: bob })).json,
        };
        assert.deepEqual(cold.msgs.chunk, warm.msgs.chunk);
        const sortById = (a) => [...a].sort((x, y) => (x.event_id < y.event_id ? -1 : 1));
        assert.deepEqual(sortById(cold.state), sortById(warm.state));
        assert.deepEqual(cold.sync.rooms.join[room].timeline.events, warm.sync.rooms.join[room].timeline.events);
        // a sync token from before the restart still works
        const s = await sync(srv, bob, { since: warm.sync.next_batch, timeout: 0 });
        assert.ok(s.next_batch);
    });

    it('the database file holds no message text', T, async () => {
        const alice = (await srv.login('alice')).access_token;
        const room = await createRoom(srv, alice, { preset: 'private_chat', topic: 'TOPICMARKER77' });
        assertOk(await send(srv, alice, room, { body: 'PATIENTNIK3171234567890123' }));
        await srv.stop();
        const dir = srv.dir;
        for (const f of ['balai.db', 'balai.db-wal']) {
            let buf;
            try {
                buf = await fs.readFile(path.join(dir, f));
            } catch {
                continue;
            }
            assert.equal(buf.includes('PATIENTNIK3171234567890123'), false, `${f} holds the message text`);
            assert.equal(buf.includes('TOPICMARKER77'), false, `${f} holds the topic`);
        }
        await srv.start();
    });
});
