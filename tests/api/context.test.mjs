// context.test.mjs: GET /rooms/{roomId}/context/{eventId}: the events around
// one event, tokens that continue with /messages, the limit, bundled
// aggregations, history visibility and the errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txnCounter = 0;
const txn = () => `ctx${Date.now()}_${txnCounter++}`;

describe('GET /context', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room, other;
    const ids = [];

    async function send(token, r, content) {
        const res = await srv.request('PUT', `${C}/rooms/${enc(r)}/send/m.room.message/${txn()}`, { token, body: content });
        assertOk(res);
        return res.json.event_id;
    }
    const msg = (token, r, body) => send(token, r, { msgtype: 'm.text', body });
    const context = (token, r, id, query = '') =>
        srv.request('GET', `${C}/rooms/${enc(r)}/context/${enc(id)}${query ? '?' + query : ''}`, { token });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        let c = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat', name: 'Ctx' } });
        room = assertOk(c).room_id;
        c = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        other = assertOk(c).room_id;
        for (let i = 0; i < 10; i++) ids.push(await msg(alice, room, `m${i}`));
    });

    it('events before (newest first) and after, tokens that continue with /messages', T, async () => {
        const res = await context(alice, room, ids[5], 'limit=4');
        const j = assertOk(res);
        assert.equal(j.event.event_id, ids[5]);
        assert.equal(j.event.content.body, 'm5');
        assert.deepEqual(j.events_before.map((e) => e.content.body), ['m4', 'm3']);
        assert.deepEqual(j.events_after.map((e) => e.content.body), ['m6', 'm7']);
        assert.equal(typeof j.start, 'string');
        assert.equal(typeof j.end, 'string');
        assert.ok(j.state.some((e) => e.type === 'm.room.create'));
        assert.ok(j.state.some((e) => e.type === 'm.room.name' && e.content.name === 'Ctx'));
        let m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=1&from=${enc(j.start)}`, { token: alice });
        assert.deepEqual(assertOk(m).chunk.map((e) => e.content.body), ['m2']);
        m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=f&limit=1&from=${enc(j.end)}`, { token: alice });
        assert.deepEqual(assertOk(m).chunk.map((e) => e.content.body), ['m8']);
    });

    it('limit: default, 0, odd, and at the ends of the room', T, async () => {
        let j = assertOk(await context(alice, room, ids[5]));
        assert.equal(j.events_before.length, 5);
        assert.deepEqual(j.events_after.map((e) => e.content.body), ['m6', 'm7', 'm8', 'm9']);
        j = assertOk(await context(alice, room, ids[5], 'limit=0'));
        assert.deepEqual(j.events_before, []);
        assert.deepEqual(j.events_after, []);
        j = assertOk(await context(alice, room, ids[5], 'limit=3'));
        assert.equal(j.events_before.length, 1);
        assert.equal(j.events_after.length, 2);
        j = assertOk(await context(alice, room, ids[9], 'limit=6'));
        assert.deepEqual(j.events_after, []);
        assert.deepEqual(j.events_before.map((e) => e.content.body), ['m8', 'm7', 'm6']);
        // the end token of the newest event continues with nothing yet
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=f&from=${enc(j.end)}`, { token: alice });
        assert.deepEqual(assertOk(m).chunk, []);
    });

    it('bundled aggregations on the events', T, async () => {
        const id = await msg(alice, room, 'edit me');
        const e = await send(alice, room, {
            msgtype: 'm.text', body: '* edited',
            'm.new_content': { msgtype: 'm.text', body: 'edited' },
            'm.relates_to': { rel_type: 'm.replace', event_id: id },
        });
        const j = assertOk(await context(alice, room, id, 'limit=2'));
        assert.equal(j.event.unsigned['m.relations']['m.replace'].event_id, e);
    });

    it('history visibility: an event the requester may not see is 404', T, async () => {
        const c = await srv.request('POST', `${C}/createRoom`, {
            token: alice,
            body: {
                preset: 'public_chat',
                initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
            },
        });
        const priv = assertOk(c).room_id;
        const early = await msg(alice, priv, 'before bob');
        assertOk(await srv.request('POST', `${C}/join/${enc(priv)}`, { token: bob, body: {} }));
        const later = await msg(alice, priv, 'after bob');
        assertError(await context(bob, priv, early), 404, 'M_NOT_FOUND');
        const j = assertOk(await context(bob, priv, later, 'limit=10'));
        assert.ok(!j.events_before.some((e) => e.event_id === early), 'an invisible event is left out');
        assert.ok(j.events_before.some((e) => e.type === 'm.room.member' && e.state_key === srv.userId('bob')));
    });

    it('errors', T, async () => {
        assertError(await srv.request('GET', `${C}/rooms/${enc(room)}/context/${enc(ids[0])}`), 401, 'M_MISSING_TOKEN');
        assertError(await context(alice, room, ids[0], 'limit=-1'), 400, 'M_INVALID_PARAM');
        assertError(await context(alice, room, ids[0], 'limit=x'), 400, 'M_INVALID_PARAM');
        assertError(await context(alice, room, '$unknown'), 404, 'M_NOT_FOUND');
        assertError(await context(alice, room, 'nodollar'), 400, 'M_INVALID_PARAM');
        assertError(await context(alice, 'bad-room', ids[0]), 400, 'M_INVALID_PARAM');
        assertError(await context(carol, room, ids[0]), 403, 'M_FORBIDDEN');
        // an event of another room, asked through this one
        const o = await msg(alice, other, 'elsewhere');
        assertError(await context(alice, room, o), 404, 'M_NOT_FOUND');
    });
});
