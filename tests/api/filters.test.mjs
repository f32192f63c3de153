// filters.test.mjs: Matrix filters (CS API "Filtering"): upload and download
// (POST/GET /user/{userId}/filter), their errors, ids that survive a restart,
// and every filter field applied to /sync (initial and incremental) and to
// /messages: types/not_types with wildcards, senders/not_senders,
// rooms/not_rooms, contains_url, limits, lazy_load_members (with and without
// redundant members), include_leave, ephemeral, account data, presence;
// and matrix-js-sdk syncing with lazy loading on.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { ClientEvent, createClient } from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

import { assertError, assertOk, sleep, SLOW, useServer } from './lib/server.mjs';

logger.setLevel?.('error');

const T = { timeout: 90_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txn = 0;

async function send(srv, token, room, content, type = 'm.room.message') {
    const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/${enc(type)}/f${Date.now()}_${txn++}`, {
        token,
        body: content,
    });
    assertOk(r);
    return r.json.event_id;
}

const text = (srv, token, room, body) => send(srv, token, room, { msgtype: 'm.text', body });

async function syncRaw(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    return srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
}

async function sync(srv, token, params = {}) {
    const p = { ...params };
    if (p.filter && typeof p.filter === 'object') p.filter = JSON.stringify(p.filter);
    const r = await syncRaw(srv, token, p);
    assertOk(r);
    return r.json;
}

const timeline = (s, room, section = 'join') => s.rooms?.[section]?.[room]?.timeline?.events || [];
const stateOf = (s, room, section = 'join') => s.rooms?.[section]?.[room]?.state?.events || [];
const bodiesOf = (evs) => evs.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
const memberKeys = (evs) =>
    evs
        .filter((e) => e.type === 'm.room.member')
        .map((e) => e.state_key)
        .sort();

describe('filters', () => {
    const srv = useServer({ env: RELAXED, users: ['alice', 'bob', 'carol', 'dave', 'eve', 'frank', 'gina', 'hank'].map((name) => ({ name })) });
    let alice, bob, carol, dave, room, room2;
    const A = () => srv.userId('alice');
    const B = () => srv.userId('bob');
    const Cu = () => srv.userId('carol');
    const D = () => srv.userId('dave');

    async function upload(token, user, filter) {
        return srv.request('POST', `${C}/user/${enc(user)}/filter`, { token, body: filter });
    }

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        dave = (await srv.login('dave')).access_token;
        let r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat', name: 'one' } });
        assertOk(r);
        room = r.json.room_id;
        r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat', name: 'two' } });
        assertOk(r);
        room2 = r.json.room_id;
        for (const t of [bob, carol, dave]) assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: t, body: {} }));
        assertOk(await srv.request('POST', `${C}/join/${enc(room2)}`, { token: bob, body: {} }));
        await text(srv, alice, room, 'a1');
        await text(srv, bob, room, 'b1');
        await send(srv, alice, room, { msgtype: 'm.image', body: 'pic', url: 'mxc://balai.test/abc' });
        await send(srv, alice, room, { foo: 1 }, 'org.example.custom');
        await text(srv, alice, room2, 'r2');
    });

    // ---- upload and download ----

    it('POST returns an id; GET returns the filter as uploaded', T, async () => {
        const f = { room: { timeline: { limit: 5, types: ['m.room.*'] }, state: { lazy_load_members: true } }, event_fields: ['content.body'] };
        const r = await upload(alice, A(), f);
        assertOk(r);
        assert.equal(typeof r.json.filter_id, 'string');
        assert.ok(!r.json.filter_id.includes('{'));
        const g = await srv.request('GET', `${C}/user/${enc(A())}/filter/${enc(r.json.filter_id)}`, { token: alice });
        assertOk(g);
        assert.deepEqual(g.json, f);
    });

    it('upload and download errors', T, async () => {
        assertError(await srv.request('POST', `${C}/user/${enc(A())}/filter`, { body: {} }), 401, 'M_MISSING_TOKEN');
        assertError(await upload(alice, B(), {}), 403, 'M_FORBIDDEN');
        assertError(
            await srv.request('POST', `${C}/user/${enc(A())}/filter`, { token: alice, raw: '{"room":', headers: { 'content-type': 'application/json' } }),
            400,
            'M_NOT_JSON',
        );
        assertError(
            await srv.request('POST', `${C}/user/${enc(A())}/filter`, { token: alice, raw: '[1]', headers: { 'content-type': 'application/json' } }),
            400,
            'M_NOT_JSON',
        );
        for (const bad of [
            { room: { timeline: { limit: 0 } } },
            { room: { timeline: { limit: -3 } } },
            { room: { timeline: { limit: 'ten' } } },
            { room: { state: { types: 'm.room.name' } } },
            { room: { timeline: { senders: ['alice'] } } },
            { room: { rooms: ['#alias:balai.test'] } },
            { room: { include_leave: 'yes' } },
            { room: 5 },
            { presence: { limit: 0 } },
            { event_fields: 'content' },
            { event_format: 'federation' },
            { event_format: 'xml' },
        ])
            assertError(await upload(alice, A(), bad), 400, 'M_BAD_JSON');
        const ok = await upload(alice, A(), {});
        assertOk(ok);
        assertError(await srv.request('GET', `${C}/user/${enc(B())}/filter/${enc(ok.json.filter_id)}`, { token: alice }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('GET', `${C}/user/${enc(A())}/filter/nope`, { token: alice }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('GET', `${C}/user/${enc(A())}/filter/fAAAA`, { token: alice }), 404, 'M_NOT_FOUND');
    });

    it('/sync rejects unknown ids and malformed inline filters', T, async () => {
        assertError(await syncRaw(srv, alice, { filter: 'nope' }), 400, 'M_INVALID_PARAM');
        assertError(await syncRaw(srv, alice, { filter: '{"room":' }), 400, 'M_NOT_JSON');
        assertError(await syncRaw(srv, alice, { filter: JSON.stringify({ room: { timeline: { limit: 'x' } } }) }), 400, 'M_BAD_JSON');
        assertError(await syncRaw(srv, alice, { filter: JSON.stringify({ room: { timeline: { types: [1] } } }) }), 400, 'M_BAD_JSON');
    });

    // ---- room.timeline ----

    it('timeline types, not_types (wildcards, not_* wins) on initial sync', T, async () => {
        let s = await sync(srv, alice, { filter: { room: { timeline: { types: ['m.room.message'] } } } });
        assert.ok(timeline(s, room).every((e) => e.type === 'm.room.message'));
        assert.deepEqual(bodiesOf(timeline(s, room)), ['a1', 'b1', 'pic']);
        s = await sync(srv, alice, { filter: { room: { timeline: { types: ['m.room.*'], not_types: ['m.room.member', 'm.room.message'] } } } });
        const types = new Set(timeline(s, room).map((e) => e.type));
        assert.ok(!types.has('m.room.member') && !types.has('m.room.message') && !types.has('org.example.custom'), [...types].join());
        s = await sync(srv, alice, { filter: { room: { timeline: { types: ['org.*'] } } } });
        assert.deepEqual(timeline(s, room).map((e) => e.type), ['org.example.custom']);
        s = await sync(srv, alice, { filter: { room: { timeline: { types: [] } } } });
        assert.equal(timeline(s, room).length, 0);
        // the room is still there, with its state
        assert.ok(stateOf(s, room).some((e) => e.type === 'm.room.create'));
    });

    it('timeline senders, not_senders, limit, contains_url', T, async () => {
        let s = await sync(srv, alice, { filter: { room: { timeline: { senders: [B()] } } } });
        assert.deepEqual(bodiesOf(timeline(s, room)), ['b1']);
        assert.ok(timeline(s, room).every((e) => e.sender === B()));
        s = await sync(srv, alice, { filter: { room: { timeline: { senders: [A(), B()], not_senders: [A()] } } } });
        assert.ok(timeline(s, room).every((e) => e.sender === B()));
        s = await sync(srv, alice, { filter: { room: { timeline: { types: ['m.room.message'], limit: 2 } } } });
        assert.deepEqual(bodiesOf(timeline(s, room)), ['b1', 'pic']);
        assert.equal(s.rooms.join[room].timeline.limited, true);
        s = await sync(srv, alice, { filter: { room: { timeline: { contains_url: true } } } });
        assert.deepEqual(bodiesOf(timeline(s, room)), ['pic']);
        s = await sync(srv, alice, { filter: { room: { timeline: { contains_url: false, types: ['m.room.message'] } } } });
        assert.deepEqual(bodiesOf(timeline(s, room)), ['a1', 'b1']);
    });

    it('timeline filters on incremental syncs; filtered-out events do not wake a long-poll', T, async () => {
        const filter = JSON.stringify({ room: { timeline: { senders: [B()] } } });
        const base = await sync(srv, alice, { filter });
        // only alice talks: a parked sync with the filter stays parked
        const pending = sync(srv, alice, { filter, since: base.next_batch, timeout: 1500 * SLOW });
        await sleep(200);
        await text(srv, alice, room, 'ignored');
        let s = await pending;
        assert.deepEqual(timeline(s, room), [], 'nothing for the filter');
        await text(srv, bob, room, 'wanted');
        s = await sync(srv, alice, { filter, since: s.next_batch, timeout: 5000 });
        assert.deepEqual(bodiesOf(timeline(s, room)), ['wanted']);
    });

    it('timeline rooms / not_rooms, and room-level rooms / not_rooms', T, async () => {
        let s = await sync(srv, alice, { filter: { room: { timeline: { not_rooms: [room] } } } });
        assert.equal(timeline(s, room).length, 0);
        assert.ok(timeline(s, room2).length > 0);
        s = await sync(srv, alice, { filter: { room: { timeline: { rooms: [room2] } } } });
        assert.equal(timeline(s, room).length, 0);
        assert.ok(timeline(s, room2).length > 0);
        s = await sync(srv, alice, { filter: { room: { rooms: [room2] } } });
        assert.equal(s.rooms.join[room], undefined);
        assert.ok(s.rooms.join[room2]);
        s = await sync(srv, alice, { filter: { room: { rooms: [room, room2], not_rooms: [room2] } } });
        assert.ok(s.rooms.join[room]);
        assert.equal(s.rooms.join[room2], undefined);
        // incremental: an excluded room's messages do not show
        const base = await sync(srv, alice, { filter: { room: { not_rooms: [room2] } } });
        await text(srv, bob, room2, 'hidden');
        await text(srv, bob, room, 'shown');
        s = await sync(srv, alice, { filter: { room: { not_rooms: [room2] } }, since: base.next_batch, timeout: 5000 });
        assert.equal(s.rooms.join[room2], undefined);
        assert.ok(bodiesOf(timeline(s, room)).includes('shown'));
    });

    it('an uploaded filter id works like the inline filter', T, async () => {
        const r = await upload(alice, A(), { room: { timeline: { types: ['org.example.custom'] } } });
        assertOk(r);
        const s = await sync(srv, alice, { filter: r.json.filter_id });
        assert.deepEqual(timeline(s, room).map((e) => e.type), ['org.example.custom']);
    });

    // ---- room.state ----

    it('state types / not_types on an initial sync', T, async () => {
        let s = await sync(srv, alice, { filter: { room: { state: { types: ['m.room.name', 'm.room.create'] }, timeline: { limit: 1 } } } });
        const types = new Set(stateOf(s, room).map((e) => e.type));
        assert.deepEqual([...types].sort(), ['m.room.create', 'm.room.name']);
        s = await sync(srv, alice, { filter: { room: { state: { not_types: ['m.room.member'] }, timeline: { limit: 1 } } } });
        assert.equal(memberKeys(stateOf(s, room)).length, 0);
        assert.ok(stateOf(s, room).some((e) => e.type === 'm.room.create'));
        s = await sync(srv, alice, { filter: { room: { state: { senders: [B()] }, timeline: { limit: 1 } } } });
        assert.ok(stateOf(s, room).every((e) => e.sender === B()));
    });

    // ---- lazy loading ----

    it('lazy_load_members: only the timeline senders and the user; no repeats unless asked', T, async () => {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        const ll = r.json.room_id;
        const tokens = { alice, bob, carol, dave };
        for (const u of ['eve', 'frank', 'gina', 'hank']) tokens[u] = (await srv.login(u)).access_token;
        for (const u of ['bob', 'carol', 'dave', 'eve', 'frank', 'gina', 'hank'])
            assertOk(await srv.request('POST', `${C}/join/${enc(ll)}`, { token: tokens[u], body: {} }));
        await text(srv, carol, ll, 'c1');
        await text(srv, bob, ll, 'b1');
        const filter = JSON.stringify({ room: { timeline: { limit: 2 }, state: { lazy_load_members: true } } });
        const dev = (await srv.login('alice')).access_token; // a fresh device
        let s = await sync(srv, dev, { filter });
        assert.deepEqual(bodiesOf(timeline(s, ll)), ['c1', 'b1']);
        // the heroes' members are due too (spec: m.heroes); make them matter little
        const heroes = (x) => x.rooms.join[ll].summary?.['m.heroes'] || [];
        const uniq = (a) => [...new Set(a)].sort();
        assert.deepEqual(memberKeys(stateOf(s, ll)), uniq([A(), B(), Cu(), ...heroes(s)]), 'senders, self, heroes');
        assert.ok(heroes(s).length <= 5);
        const joined = s.rooms.join[ll].summary['m.joined_member_count'];
        assert.ok(memberKeys(stateOf(s, ll)).length < joined, 'not every member');
        assert.ok(stateOf(s, ll).some((e) => e.type === 'm.room.create'), 'other state still sent');
        // unfiltered: everyone
        const full = await sync(srv, dev);
        assert.equal(uniq(memberKeys(stateOf(full, ll).concat(timeline(full, ll)))).length, joined);
        // incremental: bob again (already sent: not repeated), a member not
        // sent yet (neither sender nor hero) speaks: sent
        const sent = new Set(memberKeys(stateOf(s, ll)));
        const fresh = ['dave', 'eve', 'frank', 'gina', 'hank'].find((u) => !sent.has(srv.userId(u)));
        assert.ok(fresh, 'a member the initial sync left out');
        const X = srv.userId(fresh);
        await text(srv, bob, ll, 'b2');
        await text(srv, tokens[fresh], ll, 'd1');
        s = await sync(srv, dev, { filter, since: s.next_batch, timeout: 5000 });
        assert.deepEqual(bodiesOf(timeline(s, ll)), ['b2', 'd1']);
        assert.deepEqual(memberKeys(stateOf(s, ll)), [X]);
        // and once more: nothing repeated
        await text(srv, tokens[fresh], ll, 'd2');
        await text(srv, bob, ll, 'b3');
        const s2 = await sync(srv, dev, { filter, since: s.next_batch, timeout: 5000 });
        assert.deepEqual(memberKeys(stateOf(s2, ll)), []);
        // the same request again: the members it needs were received before it
        const retry = await sync(srv, dev, { filter, since: s.next_batch, timeout: 5000 });
        assert.deepEqual(memberKeys(stateOf(retry, ll)), []);
        // include_redundant_members: the senders' members every time
        const red = JSON.stringify({ room: { timeline: { limit: 2 }, state: { lazy_load_members: true, include_redundant_members: true } } });
        const s3 = await sync(srv, dev, { filter: red, since: s.next_batch, timeout: 5000 });
        assert.deepEqual(memberKeys(stateOf(s3, ll)), uniq([B(), X]));
        // a new initial sync starts over: the members are sent again
        const again = await sync(srv, dev, { filter });
        assert.deepEqual(memberKeys(stateOf(again, ll)), uniq([A(), B(), X, ...heroes(again)]));
    });

    it('lazy_load_members: a lost response is made good', T, async () => {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        const ll = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(ll)}`, { token: carol, body: {} }));
        const filter = JSON.stringify({ room: { timeline: { limit: 5 }, state: { lazy_load_members: true } } });
        const dev = (await srv.login('alice')).access_token;
        const base = await sync(srv, dev, { filter });
        await text(srv, alice, ll, 'x');
        const first = await sync(srv, dev, { filter, since: base.next_batch, timeout: 5000 });
        await text(srv, carol, ll, 'y');
        // carol's member was in `base` (she joined in the timeline or state):
        // syncing from base again (first was "lost") must still be complete
        const s = await sync(srv, dev, { filter, since: base.next_batch, timeout: 5000 });
        assert.deepEqual(bodiesOf(timeline(s, ll)), ['x', 'y']);
        assert.ok(first.rooms.join[ll]);
        // every sender's member event is in what the client did receive
        const known = new Set(memberKeys(stateOf(base, ll).concat(timeline(base, ll), stateOf(s, ll), timeline(s, ll))));
        for (const e of timeline(s, ll)) assert.ok(known.has(e.sender), `member of ${e.sender}`);
    });

    // ---- include_leave ----

    it('include_leave: left rooms in an initial sync and with full_state', T, async () => {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        const gone = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(gone)}`, { token: carol, body: {} }));
        await text(srv, alice, gone, 'before you left');
        assertOk(await srv.request('POST', `${C}/rooms/${enc(gone)}/leave`, { token: carol, body: {} }));
        await text(srv, alice, gone, 'after you left');
        let s = await sync(srv, carol);
        assert.equal(s.rooms.leave[gone], undefined, 'not without include_leave');
        s = await sync(srv, carol, { filter: { room: { include_leave: true } } });
        const left = s.rooms.leave[gone];
        assert.ok(left, 'left room present');
        assert.ok(bodiesOf(left.timeline.events).includes('before you left'));
        assert.ok(!bodiesOf(left.timeline.events).includes('after you left'));
        assert.ok(left.timeline.events.some((e) => e.type === 'm.room.member' && e.state_key === Cu() && e.content.membership === 'leave'));
        // incremental with full_state
        const inc = await sync(srv, carol, { filter: { room: { include_leave: true } }, since: s.next_batch, full_state: 'true', timeout: 0 });
        assert.ok(inc.rooms.leave[gone]);
        const plain = await sync(srv, carol, { since: s.next_batch, timeout: 0 });
        assert.equal(plain.rooms.leave[gone], undefined);
        // room.not_rooms applies to left rooms too
        s = await sync(srv, carol, { filter: { room: { include_leave: true, not_rooms: [gone] } } });
        assert.equal(s.rooms.leave[gone], undefined);
    });

    // ---- ephemeral, account data, presence ----

    it('ephemeral types', T, async () => {
        const base = await sync(srv, alice);
        assertOk(await srv.request('PUT', `${C}/rooms/${enc(room)}/typing/${enc(B())}`, { token: bob, body: { typing: true, timeout: 30000 } }));
        let s = await sync(srv, alice, { since: base.next_batch, timeout: 5000 });
        const typing = (x) => (x.rooms?.join?.[room]?.ephemeral?.events || []).filter((e) => e.type === 'm.typing');
        assert.equal(typing(s).length, 1, 'unfiltered: typing shows');
        s = await sync(srv, alice, { since: base.next_batch, timeout: 0, filter: { room: { ephemeral: { not_types: ['m.typing'] } } } });
        assert.equal(typing(s).length, 0);
        s = await sync(srv, alice, { since: base.next_batch, timeout: 0, filter: { room: { ephemeral: { not_rooms: [room] } } } });
        assert.equal(typing(s).length, 0);
        s = await sync(srv, alice, { since: base.next_batch, timeout: 0, filter: { room: { ephemeral: { types: ['m.*'] } } } });
        assert.equal(typing(s).length, 1);
        assertOk(await srv.request('PUT', `${C}/rooms/${enc(room)}/typing/${enc(B())}`, { token: bob, body: { typing: false } }));
    });

    it('account data: top level and per room, types / not_types / rooms / limit', T, async () => {
        assertOk(await srv.request('PUT', `${C}/user/${enc(A())}/account_data/org.example.one`, { token: alice, body: { n: 1 } }));
        assertOk(await srv.request('PUT', `${C}/user/${enc(A())}/account_data/org.example.two`, { token: alice, body: { n: 2 } }));
        assertOk(await srv.request('PUT', `${C}/user/${enc(A())}/rooms/${enc(room)}/account_data/org.example.r`, { token: alice, body: { n: 3 } }));
        const globals = (s) => s.account_data.events.map((e) => e.type).filter((t) => t.startsWith('org.example.')).sort();
        const roomAd = (s) => (s.rooms?.join?.[room]?.account_data?.events || []).map((e) => e.type);
        let s = await sync(srv, alice);
        assert.deepEqual(globals(s), ['org.example.one', 'org.example.two']);
        assert.ok(roomAd(s).includes('org.example.r'));
        s = await sync(srv, alice, { filter: { account_data: { types: ['org.example.t*'] } } });
        assert.deepEqual(globals(s), ['org.example.two']);
        s = await sync(srv, alice, { filter: { account_data: { not_types: ['*'] } } });
        assert.equal(s.account_data.events.length, 0);
        s = await sync(srv, alice, { filter: { account_data: { limit: 1 } } });
        assert.equal(s.account_data.events.length, 1);
        s = await sync(srv, alice, { filter: { room: { account_data: { not_types: ['org.example.r'] } } } });
        assert.ok(!roomAd(s).includes('org.example.r'));
        s = await sync(srv, alice, { filter: { room: { account_data: { rooms: [room2] } } } });
        assert.ok(!roomAd(s).includes('org.example.r'));
        // incremental: a filtered-out change does not make the room appear
        const base = await sync(srv, alice);
        assertOk(await srv.request('PUT', `${C}/user/${enc(A())}/rooms/${enc(room)}/account_data/org.example.r`, { token: alice, body: { n: 4 } }));
        s = await sync(srv, alice, { since: base.next_batch, timeout: 0, filter: { room: { account_data: { types: ['nothing'] } } } });
        assert.deepEqual(roomAd(s), []);
        s = await sync(srv, alice, { since: base.next_batch, timeout: 0 });
        assert.ok(roomAd(s).includes('org.example.r'));
    });

    it('presence filter (when presence is served)', T, async () => {
        const s = await sync(srv, alice);
        const all = s.presence?.events || [];
        const f = await sync(srv, alice, { filter: { presence: { not_types: ['*'] } } });
        assert.deepEqual(f.presence.events, []);
        if (all.length > 1) {
            const one = await sync(srv, alice, { filter: { presence: { limit: 1 } } });
            assert.equal(one.presence.events.length, 1);
        }
        if (all.length) {
            const sender = all[0].sender;
            const only = await sync(srv, alice, { filter: { presence: { senders: [sender] } } });
            assert.ok(only.presence.events.every((e) => e.sender === sender));
            const not = await sync(srv, alice, { filter: { presence: { not_senders: [sender] } } });
            assert.ok(not.presence.events.every((e) => e.sender !== sender));
        }
    });

    it('unread_thread_notifications reaches the unread counts source', T, async () => {
        const s = await sync(srv, alice, { filter: { room: { timeline: { unread_thread_notifications: true } } } });
        const j = s.rooms.join[room];
        assert.ok(j.unread_notifications, 'unread_notifications present');
        const plain = await sync(srv, alice);
        assert.equal(plain.rooms.join[room].unread_thread_notifications, undefined);
        // the source may or may not be wired yet; when it is, the key shows
        if (j.unread_thread_notifications !== undefined) assert.equal(typeof j.unread_thread_notifications, 'object');
    });

    it('event_fields is accepted (and ignored)', T, async () => {
        const s = await sync(srv, alice, { filter: { event_fields: ['type'], room: { timeline: { types: ['m.room.message'] } } } });
        assert.ok(timeline(s, room).length > 0);
        assert.ok(timeline(s, room).every((e) => e.content && e.event_id));
    });

    // ---- /messages ----

    it('/messages: types, not_types, senders, not_senders, contains_url', T, async () => {
        const msgs = async (filter, extra = {}) => {
            const q = new URLSearchParams({ dir: 'b', limit: '50', filter: JSON.stringify(filter), ...extra }).toString();
            const r = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?${q}`, { token: alice });
            assertOk(r);
            return r.json;
        };
        let m = await msgs({ types: ['m.room.message'], senders: [B()] });
        assert.ok(m.chunk.length >= 1);
        assert.ok(m.chunk.every((e) => e.type === 'm.room.message' && e.sender === B()));
        m = await msgs({ not_types: ['m.room.*'] });
        assert.ok(m.chunk.length >= 1 && m.chunk.every((e) => !e.type.startsWith('m.room.')));
        m = await msgs({ not_senders: [A()], types: ['m.room.member'] });
        assert.ok(m.chunk.every((e) => e.sender !== A()));
        assert.ok(m.chunk.length >= 3, 'bob, carol, dave joined');
        m = await msgs({ contains_url: true });
        assert.deepEqual(m.chunk.map((e) => e.content.body), ['pic']);
        m = await msgs({ rooms: [room2] });
        assert.deepEqual(m.chunk, []);
        assert.equal(m.end, undefined);
        // errors
        const bad = async (f, code) =>
            assertError(await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&filter=${enc(f)}`, { token: alice }), 400, code);
        await bad('{"types":', 'M_NOT_JSON');
        await bad('[1]', 'M_NOT_JSON');
        await bad('{"types":"x"}', 'M_BAD_JSON');
        await bad('{"limit":0}', 'M_BAD_JSON');
    });

    it('/messages: a filtered page reads past the cache to fill its limit', T, async () => {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        const big = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(big)}`, { token: bob, body: {} }));
        for (let i = 0; i < 3; i++) await text(srv, bob, big, `bob${i}`);
        for (let i = 0; i < 150; i++) await text(srv, alice, big, `noise${i}`);
        const q = new URLSearchParams({ dir: 'b', limit: '3', filter: JSON.stringify({ senders: [B()], types: ['m.room.message'] }) });
        const m = await srv.request('GET', `${C}/rooms/${enc(big)}/messages?${q}`, { token: alice });
        assertOk(m);
        assert.deepEqual(m.json.chunk.map((e) => e.content.body), ['bob2', 'bob1', 'bob0']);
        // forwards, from the start
        const f = new URLSearchParams({ dir: 'f', limit: '2', filter: JSON.stringify({ senders: [B()], types: ['m.room.message'] }) });
        const mf = await srv.request('GET', `${C}/rooms/${enc(big)}/messages?${f}`, { token: alice });
        assertOk(mf);
        assert.deepEqual(mf.json.chunk.map((e) => e.content.body), ['bob0', 'bob1']);
        // the last page ends (no `end`) when the history is exhausted
        const m2 = await srv.request(
            'GET',
            `${C}/rooms/${enc(big)}/messages?${new URLSearchParams({ dir: 'b', limit: '5', from: m.json.end, filter: JSON.stringify({ senders: [B()], types: ['m.room.message'] }) })}`,
            { token: alice },
        );
        assertOk(m2);
        assert.deepEqual(m2.json.chunk, []);
    });

    it('/messages: lazy_load_members puts the senders\' members in state', T, async () => {
        const q = new URLSearchParams({ dir: 'b', limit: '20', filter: JSON.stringify({ lazy_load_members: true, types: ['m.room.message'] }) });
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?${q}`, { token: alice });
        assertOk(m);
        const senders = [...new Set(m.json.chunk.map((e) => e.sender))].sort();
        assert.deepEqual(memberKeys(m.json.state), senders);
        const plain = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=20`, { token: alice });
        assert.deepEqual(plain.json.state, []);
    });

    it('/context: filter on events_before/after and state, lazy_load_members', T, async () => {
        const ev = await text(srv, bob, room, 'context centre');
        await text(srv, carol, room, 'after centre');
        const get = (filter, limit = 20) =>
            srv.request('GET', `${C}/rooms/${enc(room)}/context/${enc(ev)}?limit=${limit}&filter=${enc(JSON.stringify(filter))}`, { token: alice });
        let r = await get({ types: ['m.room.message'] });
        if (r.status === 404 && r.json?.errcode === 'M_UNRECOGNIZED') return; // /context not served yet
        assertOk(r);
        let around = r.json.events_before.concat(r.json.events_after);
        assert.ok(around.length > 0);
        assert.ok(around.every((e) => e.type === 'm.room.message'));
        assert.deepEqual(r.json.state, [], 'the filter applies to state too');
        r = await get({ lazy_load_members: true });
        assertOk(r);
        around = r.json.events_before.concat(r.json.events_after);
        const senders = [...new Set(around.map((e) => e.sender).concat([r.json.event.sender]))].sort();
        assert.deepEqual(memberKeys(r.json.state), senders);
        assert.ok(r.json.state.some((e) => e.type === 'm.room.create'), 'other state kept');
        r = await get({ senders: Cu() });
        assertError(r, 400, 'M_BAD_JSON');
        r = await get({ not_senders: [Cu()] });
        assertOk(r);
        assert.ok(r.json.events_after.every((e) => e.sender !== Cu()));
        assert.ok(r.json.state.every((e) => e.sender !== Cu()));
        assert.equal(r.json.event.event_id, ev, 'the event itself is never filtered');
        assertError(
            await srv.request('GET', `${C}/rooms/${enc(room)}/context/${enc(ev)}?filter=${enc('{"x":')}`, { token: alice }),
            400,
            'M_NOT_JSON',
        );
    });

    // ---- persistence ----

    it('filter ids survive a restart', T, async () => {
        const f = { room: { timeline: { types: ['org.example.custom'] } } };
        const r = await upload(alice, A(), f);
        assertOk(r);
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        const g = await srv.request('GET', `${C}/user/${enc(A())}/filter/${enc(r.json.filter_id)}`, { token: alice });
        assertOk(g);
        assert.deepEqual(g.json, f);
        const s = await sync(srv, alice, { filter: r.json.filter_id });
        assert.deepEqual(timeline(s, room).map((e) => e.type), ['org.example.custom']);
    });
});

describe('matrix-js-sdk with lazy loading', () => {
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });

    const urls = [];
    const fetchFn = (url, init) => {
        urls.push(`${init?.method || 'GET'} ${url}`);
        return fetch(url, init);
    };

    async function started(user) {
        const login = await srv.login(user);
        const c = createClient({ baseUrl: srv.url, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id, fetchFn });
        clients.push(c);
        const prepared = new Promise((resolve, reject) => {
            c.on(ClientEvent.Sync, (state, prev, data) => {
                if (state === 'PREPARED' || state === 'SYNCING') resolve();
                if (state === 'ERROR') reject(data?.error || new Error('sync error'));
            });
        });
        await c.startClient({ lazyLoadMembers: true, initialSyncLimit: 10 });
        await prepared;
        return c;
    }

    async function waitFor(check, what, ms = 20_000 * SLOW) {
        const start = Date.now();
        for (;;) {
            const v = check();
            if (v) return v;
            if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
            await sleep(50);
        }
    }

    it('syncs, sees messages and members', T, async () => {
        const alice = await started('alice');
        const bobTok = (await srv.login('bob')).access_token;
        const { room_id: roomId } = await alice.createRoom({ preset: 'public_chat', name: 'lazy' });
        assertOk(await srv.request('POST', `${C}/join/${enc(roomId)}`, { token: bobTok, body: {} }));
        await text(srv, bobTok, roomId, 'hello lazy alice');
        const room = await waitFor(() => alice.getRoom(roomId), 'room');
        await waitFor(
            () => room.getLiveTimeline().getEvents().some((e) => e.getType() === 'm.room.message' && e.getContent().body === 'hello lazy alice'),
            'message',
        );
        await waitFor(() => room.getMember(srv.userId('bob')), 'bob as member');
        await alice.sendTextMessage(roomId, 'back at you');
        const s = await sync(srv, bobTok);
        assert.ok(bodiesOf(timeline(s, roomId)).includes('back at you'));
        // the sdk uploaded its filter with lazy loading, and syncs with it
        const post = urls.find((u) => u.startsWith('POST ') && u.includes('/filter'));
        assert.ok(post, urls.join('\n'));
        const filters = urls
            .filter((u) => u.includes('/sync?'))
            .map((u) => new URL(u.split(' ')[1]).searchParams.get('filter'))
            .filter((f) => f);
        assert.ok(filters.length > 0);
        for (const id of new Set(filters)) {
            // an inline filter (first sync) or the uploaded filter's id
            const g = id.startsWith('{')
                ? JSON.parse(id)
                : await alice.http.authedRequest('GET', `/user/${enc(srv.userId('alice'))}/filter/${enc(id)}`);
            assert.equal(g.room.state.lazy_load_members, true, id);
        }
        const members = await alice.getJoinedRoomMembers(roomId);
        assert.ok(members.joined[srv.userId('bob')]);
    });
});
