// receipts.test.mjs: read receipts (POST /rooms/{roomId}/receipt/{type}/{eventId})
// and read markers (POST /rooms/{roomId}/read_markers): their delivery through
// /sync (m.receipt ephemeral events, private receipts only to their owner,
// m.fully_read as room account data), parked syncs woken, durability across
// a restart, and the validation and permission errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, sleep, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txnCounter = 0;

async function send(srv, token, room, text) {
    const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/r${Date.now()}_${txnCounter++}`, {
        token,
        body: { msgtype: 'm.text', body: text },
    });
    assertOk(r);
    return r.json.event_id;
}

async function sync(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
    assertOk(r);
    return r.json;
}

// The merged content of the room's m.receipt events, or undefined when none.
function receiptsOf(s, room) {
    const evs = (s.rooms?.join?.[room]?.ephemeral?.events || []).filter((e) => e.type === 'm.receipt');
    if (!evs.length) return undefined;
    const out = {};
    for (const e of evs)
        for (const [ev, types] of Object.entries(e.content))
            for (const [type, users] of Object.entries(types))
                for (const [user, rec] of Object.entries(users)) ((out[ev] ??= {})[type] ??= {})[user] = rec;
    return out;
}

const fullyRead = (s, room) =>
    (s.rooms?.join?.[room]?.account_data?.events || []).find((e) => e.type === 'm.fully_read')?.content;

describe('receipts and read markers', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room, ev1, ev2;
    const receipt = (token, type, eventId, body = {}, r = room) =>
        srv.request('POST', `${C}/rooms/${enc(r)}/receipt/${enc(type)}/${enc(eventId)}`, { token, body });
    const markers = (token, body, r = room) => srv.request('POST', `${C}/rooms/${enc(r)}/read_markers`, { token, body });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        room = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
        ev1 = await send(srv, alice, room, 'one');
        ev2 = await send(srv, alice, room, 'two');
    });

    it("an m.read receipt shows in the other member's sync, with ts", T, async () => {
        const base = await sync(srv, alice);
        assertOk(await receipt(bob, 'm.read', ev1));
        const s = await sync(srv, alice, { since: base.next_batch, timeout: 5000 });
        const got = receiptsOf(s, room);
        assert.ok(got, 'm.receipt present');
        const rec = got[ev1]['m.read'][srv.userId('bob')];
        assert.equal(typeof rec.ts, 'number');
        assert.equal(rec.thread_id, undefined, 'unthreaded');
        // nothing new since: not repeated
        const again = await sync(srv, alice, { since: s.next_batch, timeout: 0 });
        assert.equal(receiptsOf(again, room), undefined);
        // an initial sync carries it
        assert.ok(receiptsOf(await sync(srv, alice), room)[ev1]['m.read'][srv.userId('bob')]);
    });

    it('a new receipt replaces the old one and wakes a parked sync', T, async () => {
        const base = await sync(srv, alice);
        const t0 = Date.now();
        const parked = sync(srv, alice, { since: base.next_batch, timeout: 20000 });
        await sleep(200);
        assertOk(await receipt(bob, 'm.read', ev2));
        const s = await parked;
        assert.ok(Date.now() - t0 < 10000 * SLOW, 'woke promptly');
        assert.deepEqual(Object.keys(receiptsOf(s, room)), [ev2]);
        const init = receiptsOf(await sync(srv, alice), room);
        assert.equal(init[ev1]?.['m.read']?.[srv.userId('bob')], undefined, 'the old receipt is gone');
        assert.ok(init[ev2]['m.read'][srv.userId('bob')]);
    });

    it('a threaded receipt is separate and carries its thread_id', T, async () => {
        const base = await sync(srv, alice);
        assertOk(await receipt(bob, 'm.read', ev1, { thread_id: 'main' }));
        const s = await sync(srv, alice, { since: base.next_batch, timeout: 5000 });
        assert.equal(receiptsOf(s, room)[ev1]['m.read'][srv.userId('bob')].thread_id, 'main');
        const init = receiptsOf(await sync(srv, alice), room);
        assert.ok(init[ev2]['m.read'][srv.userId('bob')], 'the unthreaded one stays');
    });

    it('m.read.private is seen by its owner only and wakes nobody else', T, async () => {
        const baseB = await sync(srv, bob); // first: bob coming online (presence) is no wake-up below
        const baseA = await sync(srv, alice);
        const t0 = Date.now();
        const parked = sync(srv, alice, { since: baseA.next_batch, timeout: 1200 });
        await sleep(200);
        assertOk(await receipt(bob, 'm.read.private', ev1));
        const q = await parked;
        assert.ok(Date.now() - t0 >= 1000, 'alice was not woken');
        assert.equal(receiptsOf(q, room), undefined);
        assert.equal(receiptsOf(await sync(srv, alice), room)[ev1]?.['m.read.private'], undefined);
        const own = await sync(srv, bob, { since: baseB.next_batch, timeout: 5000 });
        assert.ok(receiptsOf(own, room)[ev1]['m.read.private'][srv.userId('bob')]);
    });

    it('read_markers sets m.fully_read (room account data) and receipts in one call', T, async () => {
        const baseA = await sync(srv, alice);
        const baseB = await sync(srv, bob);
        assertOk(await markers(bob, { 'm.fully_read': ev2, 'm.read': ev2, 'm.read.private': ev2 }));
        const own = await sync(srv, bob, { since: baseB.next_batch, timeout: 5000 });
        assert.deepEqual(fullyRead(own, room), { event_id: ev2 });
        const r = receiptsOf(own, room);
        assert.ok(r[ev2]['m.read'][srv.userId('bob')]);
        assert.ok(r[ev2]['m.read.private'][srv.userId('bob')]);
        const other = await sync(srv, alice, { since: baseA.next_batch, timeout: 5000 });
        assert.equal(fullyRead(other, room), undefined, 'fully_read is private');
        assert.deepEqual(Object.keys(receiptsOf(other, room)[ev2]), ['m.read']);
        const g = await srv.request('GET', `${C}/user/${enc(srv.userId('bob'))}/rooms/${enc(room)}/account_data/m.fully_read`, { token: bob });
        assertOk(g);
        assert.deepEqual(g.json, { event_id: ev2 });
        // the receipt endpoint also takes m.fully_read
        assertOk(await receipt(bob, 'm.fully_read', ev1));
        assert.deepEqual(fullyRead(await sync(srv, bob), room), { event_id: ev1 });
        // an empty body is accepted
        assertOk(await markers(bob, {}));
    });

    it('errors: bad room, type, event id, thread, body; not joined; no token', T, async () => {
        assertError(await receipt(bob, 'm.read', ev1, {}, 'not-a-room'), 400);
        assertError(await markers(bob, { 'm.read': ev1 }, 'not-a-room'), 400);
        assertError(await receipt(bob, 'm.unknown', ev1), 400);
        assertError(await receipt(bob, 'm.read', 'not-an-event'), 400);
        assertError(await receipt(bob, 'm.read', ev1, { thread_id: 5 }), 400, 'M_BAD_JSON');
        assertError(await receipt(bob, 'm.read', ev1, { thread_id: '' }), 400);
        assertError(await receipt(bob, 'm.fully_read', ev1, { thread_id: 'main' }), 400);
        assertError(await markers(bob, { 'm.read': 42 }), 400, 'M_BAD_JSON');
        assertError(await markers(bob, { 'm.fully_read': 'nope' }), 400);
        assertError(await srv.request('POST', `${C}/rooms/${enc(room)}/read_markers`, {
            token: bob, raw: '{"m.read":', headers: { 'content-type': 'application/json' },
        }), 400);
        assertError(await receipt(carol, 'm.read', ev1), 403, 'M_FORBIDDEN');
        assertError(await markers(carol, { 'm.read': ev1 }), 403, 'M_FORBIDDEN');
        assertError(await receipt(carol, 'm.read', ev1, {}, '!nope:balai.test'), 403, 'M_FORBIDDEN');
        assertError(await srv.request('POST', `${C}/rooms/${enc(room)}/receipt/m.read/${enc(ev1)}`, { body: {} }), 401, 'M_MISSING_TOKEN');
    });

    it('receipts and the read marker survive a restart; positions keep increasing', T, async () => {
        const before = await sync(srv, alice);
        const beforeB = await sync(srv, bob);
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        const after = await sync(srv, alice);
        assert.deepEqual(receiptsOf(after, room), receiptsOf(before, room));
        const afterB = await sync(srv, bob);
        assert.deepEqual(receiptsOf(afterB, room), receiptsOf(beforeB, room));
        assert.deepEqual(fullyRead(afterB, room), { event_id: ev1 });
        // a token from before the restart: nothing new
        const inc = await sync(srv, alice, { since: before.next_batch, timeout: 0 });
        assert.equal(receiptsOf(inc, room), undefined);
        assertOk(await receipt(bob, 'm.read', ev1));
        const inc2 = await sync(srv, alice, { since: inc.next_batch, timeout: 5000 });
        assert.deepEqual(Object.keys(receiptsOf(inc2, room)), [ev1]);
    });
});

describe('receipts name an event of the room', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice, room, other, ev1, evOther;
    const receipt = (type, eventId, r = room) =>
        srv.request('POST', `${C}/rooms/${enc(r)}/receipt/${enc(type)}/${enc(eventId)}`, { token: alice, body: {} });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        const a = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'private_chat' } });
        assertOk(a);
        room = a.json.room_id;
        const b = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'private_chat' } });
        assertOk(b);
        other = b.json.room_id;
        ev1 = await send(srv, alice, room, 'first');
        evOther = await send(srv, alice, other, 'elsewhere');
    });

    it('an unknown event, or one of another room, is 400 M_INVALID_PARAM', T, async () => {
        for (const type of ['m.read', 'm.read.private', 'm.fully_read']) {
            assertError(await receipt(type, '$doesnotexist'), 400, 'M_INVALID_PARAM');
            assertError(await receipt(type, evOther), 400, 'M_INVALID_PARAM');
            assertOk(await receipt(type, ev1));
        }
    });

    it('an event past the cached timeline is looked up in the store', T, async () => {
        // push ev1 out of the room's in-memory timeline
        for (let i = 0; i < 80; i++) await send(srv, alice, room, `filler ${i}`);
        for (let i = 0; i < 80; i++) await send(srv, alice, other, `filler ${i}`);
        assertOk(await receipt('m.read', ev1));
        assertError(await receipt('m.read', evOther), 400, 'M_INVALID_PARAM');
        assertError(await receipt('m.read', '$stilldoesnotexist'), 400, 'M_INVALID_PARAM');
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        assertOk(await receipt('m.read', ev1));
        assertError(await receipt('m.read', evOther), 400, 'M_INVALID_PARAM');
    });
});
