// presence.test.mjs: GET/PUT /presence/{userId}/status, set_presence on
// /sync, m.presence events in /sync (only among users sharing a room, only
// on changes, parked syncs woken), going offline 60 s after the last /sync,
// tokens across a restart, `server.presence = off`, and the errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, sleep, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

function helpers(srv) {
    const sync = async (tok, params = {}) => {
        const q = new URLSearchParams(params).toString();
        const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token: tok, timeoutMs: 120_000 * SLOW });
        assertOk(r);
        return r.json;
    };
    const put = (tok, user, body) => srv.request('PUT', `${C}/presence/${enc(user)}/status`, { token: tok, body });
    const get = (tok, user) => srv.request('GET', `${C}/presence/${enc(user)}/status`, { token: tok });
    const presenceOf = (s, user) => (s.presence?.events || []).filter((e) => e.sender === user);
    return { sync, put, get, presenceOf };
}

async function shareRoom(srv, a, b) {
    const r = await srv.request('POST', `${C}/createRoom`, { token: a.access_token, body: { preset: 'public_chat' } });
    assertOk(r);
    assertOk(await srv.request('POST', `${C}/join/${enc(r.json.room_id)}`, { token: b.access_token, body: {} }));
    return r.json.room_id;
}

describe('presence', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'dave' }] });
    const { sync, put, get, presenceOf } = helpers(srv);
    let alice, bob, dave;

    before(async () => {
        alice = await srv.login('alice');
        bob = await srv.login('bob');
        dave = await srv.login('dave');
        await shareRoom(srv, alice, bob);
    });

    it('errors: auth, another user, bad bodies, unknown user, no shared room', T, async () => {
        const a = alice.access_token;
        assertError(await put(undefined, alice.user_id, { presence: 'online' }), 401, 'M_MISSING_TOKEN');
        assertError(await get(undefined, alice.user_id), 401, 'M_MISSING_TOKEN');
        assertError(await put(a, bob.user_id, { presence: 'online' }), 403, 'M_FORBIDDEN');
        assertError(
            await srv.request('PUT', `${C}/presence/${enc(alice.user_id)}/status`, { token: a, raw: '{nope', headers: { 'content-type': 'application/json' } }),
            400,
            'M_NOT_JSON',
        );
        assertError(await put(a, alice.user_id, {}), 400, 'M_BAD_JSON');
        assertError(await put(a, alice.user_id, { presence: 3 }), 400, 'M_BAD_JSON');
        assertError(await put(a, alice.user_id, { presence: 'busy' }), 400, 'M_INVALID_PARAM');
        assertError(await put(a, alice.user_id, { presence: 'online', status_msg: 5 }), 400, 'M_BAD_JSON');
        assertError(await put(a, alice.user_id, { presence: 'online', status_msg: 'x'.repeat(1025) }), 400, 'M_INVALID_PARAM');
        assertError(await get(a, '@nobody:balai.test'), 404, 'M_NOT_FOUND');
        assertError(await get(a, dave.user_id), 403, 'M_FORBIDDEN');
        assertError(await get(dave.access_token, alice.user_id), 403, 'M_FORBIDDEN');
        assertError(await srv.request('GET', `${C}/sync?set_presence=away`, { token: a }), 400, 'M_INVALID_PARAM');
    });

    it('PUT sets state and message; the owner and room members read it', T, async () => {
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'online', status_msg: 'at my desk' }));
        for (const tok of [alice.access_token, bob.access_token]) {
            const r = await get(tok, alice.user_id);
            assertOk(r);
            assert.equal(r.json.presence, 'online');
            assert.equal(r.json.status_msg, 'at my desk');
            assert.equal(r.json.currently_active, true);
            assert.equal(typeof r.json.last_active_ago, 'number');
            assert.ok(r.json.last_active_ago >= 0 && r.json.last_active_ago < 10000);
        }
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'unavailable' }));
        const r = await get(bob.access_token, alice.user_id);
        assert.equal(r.json.presence, 'unavailable');
        assert.equal(r.json.status_msg, undefined);
        assert.equal(r.json.currently_active, false);
        // a user never seen is offline
        assert.equal((await get(dave.access_token, dave.user_id)).json.presence, 'offline');
    });

    it('changes reach the parked sync of room members only, once', T, async () => {
        const b0 = (await sync(bob.access_token, { set_presence: 'offline' })).next_batch;
        const d0 = (await sync(dave.access_token, { set_presence: 'offline' })).next_batch;
        const parked = sync(bob.access_token, { since: b0, timeout: 20000, set_presence: 'offline' });
        await sleep(300);
        const t0 = Date.now();
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'online', status_msg: 'back' }));
        const s = await parked;
        assert.ok(Date.now() - t0 < 10000 * SLOW, 'woken');
        const evs = presenceOf(s, alice.user_id);
        assert.equal(evs.length, 1, JSON.stringify(s.presence));
        assert.equal(evs[0].type, 'm.presence');
        assert.equal(evs[0].content.presence, 'online');
        assert.equal(evs[0].content.status_msg, 'back');
        assert.equal(evs[0].content.currently_active, true);
        assert.equal(typeof evs[0].content.last_active_ago, 'number');
        const again = await sync(bob.access_token, { since: s.next_batch, timeout: 0, set_presence: 'offline' });
        assert.equal(presenceOf(again, alice.user_id).length, 0, 'not repeated');
        const ds = await sync(dave.access_token, { since: d0, timeout: 0, set_presence: 'offline' });
        assert.equal(presenceOf(ds, alice.user_id).length, 0, 'dave shares no room');
        // the same state again is no change
        const b1 = s.next_batch;
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'online', status_msg: 'back' }));
        const same = await sync(bob.access_token, { since: b1, timeout: 0, set_presence: 'offline' });
        assert.equal(presenceOf(same, alice.user_id).length, 0);
        // an initial sync carries the current state of room members
        const init = await sync(bob.access_token, { set_presence: 'offline' });
        assert.equal(presenceOf(init, alice.user_id)[0]?.content.presence, 'online');
    });

    it('set_presence on /sync: omitted is online, offline changes nothing, unavailable as sent', T, async () => {
        const carolish = await srv.login('dave', undefined, { device_id: 'D2' }); // dave's second device
        assertOk(await put(dave.access_token, dave.user_id, { presence: 'offline' }));
        await sync(carolish.access_token, { set_presence: 'offline' });
        assert.equal((await get(dave.access_token, dave.user_id)).json.presence, 'offline');
        await sync(carolish.access_token);
        let r = (await get(dave.access_token, dave.user_id)).json;
        assert.equal(r.presence, 'online');
        assert.equal(r.currently_active, true);
        await sync(carolish.access_token, { set_presence: 'unavailable' });
        assert.equal((await get(dave.access_token, dave.user_id)).json.presence, 'unavailable');
        await sync(carolish.access_token, { set_presence: 'online' });
        assert.equal((await get(dave.access_token, dave.user_id)).json.presence, 'online');
        // an unavailable set with PUT is not undone by a sync
        assertOk(await put(dave.access_token, dave.user_id, { presence: 'unavailable' }));
        await sync(carolish.access_token);
        assert.equal((await get(dave.access_token, dave.user_id)).json.presence, 'unavailable');
        // the syncing user sees their own change
        const s0 = (await sync(carolish.access_token, { set_presence: 'offline' })).next_batch;
        assertOk(await put(dave.access_token, dave.user_id, { presence: 'online' }));
        const s1 = await sync(carolish.access_token, { since: s0, timeout: 5000, set_presence: 'offline' });
        assert.equal(presenceOf(s1, dave.user_id)[0]?.content.presence, 'online');
    });

    it('sync tokens from before a restart still bring presence', T, async () => {
        const b0 = (await sync(bob.access_token, { set_presence: 'offline' })).next_batch;
        await srv.restart();
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'online', status_msg: 'after restart' }));
        const s = await sync(bob.access_token, { since: b0, timeout: 5000, set_presence: 'offline' });
        const evs = presenceOf(s, alice.user_id);
        assert.equal(evs[0]?.content.status_msg, 'after restart', JSON.stringify(s.presence));
        // a token from the future (a clock set back) is not silent forever
        const parts = s.next_batch.split('_');
        parts[parts.length - 1] = String(Number(parts[parts.length - 1]) + 10 ** 9);
        const future = parts.join('_');
        const f = await sync(bob.access_token, { since: future, timeout: 0, set_presence: 'offline' });
        assert.ok(presenceOf(f, alice.user_id).length >= 1, 'everything current once');
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'unavailable' }));
        const g = await sync(bob.access_token, { since: f.next_batch, timeout: 5000, set_presence: 'offline' });
        assert.equal(presenceOf(g, alice.user_id)[0]?.content.presence, 'unavailable');
    });
});

describe('presence goes offline 60 s after the last sync', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    const { sync, get, presenceOf } = helpers(srv);

    it('a timer turns a user offline and wakes room members', { timeout: 150_000 * SLOW }, async () => {
        const alice = await srv.login('alice');
        const bob = await srv.login('bob');
        await shareRoom(srv, alice, bob);
        await sync(alice.access_token, { timeout: 0 });
        assert.equal((await get(bob.access_token, alice.user_id)).json.presence, 'online');
        const b0 = (await sync(bob.access_token, { set_presence: 'offline' })).next_batch;
        await sleep(50_000);
        assert.equal((await get(bob.access_token, alice.user_id)).json.presence, 'online', 'within 60 s');
        const s = await sync(bob.access_token, { since: b0, timeout: 40_000, set_presence: 'offline' });
        const evs = presenceOf(s, alice.user_id);
        assert.equal(evs[evs.length - 1]?.content.presence, 'offline', JSON.stringify(s.presence));
        const r = (await get(bob.access_token, alice.user_id)).json;
        assert.equal(r.presence, 'offline');
        assert.equal(r.currently_active, false);
    });
});

describe('presence = off', () => {
    const srv = useServer({ env: { ...RELAXED, BALAI_SERVER_PRESENCE: 'off' }, users: [{ name: 'alice' }, { name: 'bob' }] });
    const { sync, put, get } = helpers(srv);

    it('endpoints answer, everyone is offline, /sync carries none', T, async () => {
        const alice = await srv.login('alice');
        const bob = await srv.login('bob');
        await shareRoom(srv, alice, bob);
        const b0 = (await sync(bob.access_token)).next_batch;
        assertOk(await put(alice.access_token, alice.user_id, { presence: 'online', status_msg: 'hi' }));
        await sync(alice.access_token);
        const r = await get(bob.access_token, alice.user_id);
        assertOk(r);
        assert.deepEqual(r.json, { presence: 'offline' });
        const s = await sync(bob.access_token, { since: b0, timeout: 0 });
        assert.deepEqual(s.presence.events, []);
        assertError(await put(alice.access_token, alice.user_id, { presence: 'nope' }), 400, 'M_INVALID_PARAM');
    });
});
