// typing.test.mjs: typing notifications (PUT /rooms/{roomId}/typing/{userId})
// and their delivery through /sync: initial, incremental, parked long-polls
// woken by start, stop and expiry; the permission and validation errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, sleep, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

async function sync(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
    assertOk(r);
    return r.json;
}

// The user_ids of the room's m.typing event in a sync answer, or undefined.
function typingOf(s, room) {
    const evs = s.rooms?.join?.[room]?.ephemeral?.events || [];
    const t = evs.filter((e) => e.type === 'm.typing');
    assert.ok(t.length <= 1, 'at most one m.typing event per room');
    return t.length ? [...t[0].content.user_ids].sort() : undefined;
}

const typingPath = (srv, room, user) => `${C}/rooms/${enc(room)}/typing/${enc(srv.userId(user))}`;

describe('typing notifications', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room;
    const setTyping = (token, user, body) => srv.request('PUT', typingPath(srv, room, user), { token, body });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        room = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
    });

    it("starting to type shows in the other member's incremental sync", T, async () => {
        const base = await sync(srv, bob);
        assert.equal(typingOf(base, room), undefined, 'nobody types yet');
        assertOk(await setTyping(alice, 'alice', { typing: true, timeout: 20000 }));
        const s = await sync(srv, bob, { since: base.next_batch, timeout: 5000 });
        assert.deepEqual(typingOf(s, room), [srv.userId('alice')]);
        // and the typist itself sees it too
        const own = await sync(srv, alice, { since: base.next_batch });
        assert.deepEqual(typingOf(own, room), [srv.userId('alice')]);
        // an initial sync shows the current set
        assert.deepEqual(typingOf(await sync(srv, bob), room), [srv.userId('alice')]);
        // nothing new after that: the room is not repeated
        const again = await sync(srv, bob, { since: s.next_batch, timeout: 0 });
        assert.equal(typingOf(again, room), undefined);
    });

    it('a parked sync wakes when someone starts typing; stopping shows an empty list', T, async () => {
        const base = await sync(srv, alice);
        const t0 = Date.now();
        const parked = sync(srv, alice, { since: base.next_batch, timeout: 20000 });
        await sleep(200);
        assertOk(await setTyping(bob, 'bob', { typing: true, timeout: 20000 }));
        const got = await parked;
        assert.ok(Date.now() - t0 < 10000 * SLOW, 'woke promptly');
        assert.deepEqual(typingOf(got, room), [srv.userId('alice'), srv.userId('bob')].sort());

        const parked2 = sync(srv, alice, { since: got.next_batch, timeout: 20000 });
        await sleep(200);
        assertOk(await setTyping(bob, 'bob', { typing: false }));
        assertOk(await setTyping(alice, 'alice', { typing: false }));
        let s = await parked2;
        // the stops may arrive in one answer or two
        if (typingOf(s, room).length) s = await sync(srv, alice, { since: s.next_batch, timeout: 5000 });
        assert.deepEqual(typingOf(s, room), []);
        // an initial sync does not show an empty set
        assert.equal(typingOf(await sync(srv, alice), room), undefined);
        // stopping again changes nothing: a long-poll is not woken
        const t1 = Date.now();
        const quiet = sync(srv, alice, { since: s.next_batch, timeout: 1200 });
        await sleep(200);
        assertOk(await setTyping(bob, 'bob', { typing: false }));
        const q = await quiet;
        assert.ok(Date.now() - t1 >= 1000, 'returned at its timeout');
        assert.equal(typingOf(q, room), undefined);
    });

    it('a notice expires after its timeout and wakes a parked sync with an empty list', T, async () => {
        const base = await sync(srv, bob);
        assertOk(await setTyping(alice, 'alice', { typing: true, timeout: 500 }));
        const s1 = await sync(srv, bob, { since: base.next_batch, timeout: 5000 });
        assert.deepEqual(typingOf(s1, room), [srv.userId('alice')]);
        const t0 = Date.now();
        const s2 = await sync(srv, bob, { since: s1.next_batch, timeout: 20000 });
        const took = Date.now() - t0;
        assert.deepEqual(typingOf(s2, room), []);
        assert.ok(took < 5000 * SLOW, `woke at the expiry (took ${took} ms)`);
    });

    it('a timeout above 30 s is capped and typing without timeout is accepted', T, async () => {
        assertOk(await setTyping(alice, 'alice', { typing: true, timeout: 10_000_000 }));
        assertOk(await setTyping(alice, 'alice', { typing: true }));
        assertOk(await setTyping(alice, 'alice', { typing: false }));
    });

    it('only for yourself, only in a joined room: 403', T, async () => {
        assertError(await setTyping(bob, 'alice', { typing: true, timeout: 1000 }), 403, 'M_FORBIDDEN');
        assertError(await setTyping(carol, 'carol', { typing: true, timeout: 1000 }), 403, 'M_FORBIDDEN');
        const nowhere = `${C}/rooms/${enc('!nope:balai.test')}/typing/${enc(srv.userId('carol'))}`;
        assertError(await srv.request('PUT', nowhere, { token: carol, body: { typing: true } }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('PUT', typingPath(srv, room, 'alice'), { body: { typing: true } }), 401, 'M_MISSING_TOKEN');
    });

    it('malformed room id, bad JSON and a bad typing field: 400', T, async () => {
        const bad = `${C}/rooms/${enc('not-a-room')}/typing/${enc(srv.userId('alice'))}`;
        assertError(await srv.request('PUT', bad, { token: alice, body: { typing: true } }), 400);
        assertError(await srv.request('PUT', typingPath(srv, room, 'alice'), {
            token: alice, raw: '{"typing":', headers: { 'content-type': 'application/json' },
        }), 400);
        assertError(await setTyping(alice, 'alice', {}), 400, 'M_BAD_JSON');
        assertError(await setTyping(alice, 'alice', { typing: 'yes' }), 400, 'M_BAD_JSON');
        assertError(await setTyping(alice, 'alice', { typing: true, timeout: -5 }), 400, 'M_BAD_JSON');
        assertError(await setTyping(alice, 'alice', { typing: true, timeout: 'x' }), 400, 'M_BAD_JSON');
    });

    it('a member who left is no longer listed', T, async () => {
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: carol, body: {} }));
        assertOk(await setTyping(carol, 'carol', { typing: true, timeout: 20000 }));
        assert.deepEqual(typingOf(await sync(srv, alice), room), [srv.userId('carol')]);
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/leave`, { token: carol, body: {} }));
        assert.equal(typingOf(await sync(srv, alice), room), undefined);
    });
});
