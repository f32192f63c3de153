// public_rooms.test.mjs: the public room directory: createRoom's visibility,
// GET/PUT /directory/list/room/{roomId} (and who may change it), GET and POST
// /publicRooms (the chunk's fields, ordering, search, pagination), durability
// across a restart, and the validation errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

describe('public room directory', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }, { name: 'root', admin: true }],
    });
    let alice, bob, carol, root, pub, priv, big;
    const create = async (token, body) => {
        const r = await srv.request('POST', `${C}/createRoom`, { token, body });
        assertOk(r);
        return r.json.room_id;
    };
    const visibility = (room, token) => srv.request('GET', `${C}/directory/list/room/${enc(room)}`, { token });
    const setVisibility = (token, room, v) =>
        srv.request('PUT', `${C}/directory/list/room/${enc(room)}`, { token, body: { visibility: v } });
    const list = async (token, q = '') => {
        const r = await srv.request('GET', `${C}/publicRooms${q}`, { token });
        assertOk(r);
        return r.json;
    };
    const search = async (token, body) => {
        const r = await srv.request('POST', `${C}/publicRooms`, { token, body });
        assertOk(r);
        return r.json;
    };
    const ids = (res) => res.chunk.map((c) => c.room_id);

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        root = (await srv.login('root')).access_token;
        pub = await create(alice, {
            visibility: 'public',
            name: 'Engineering Lounge',
            topic: 'Builds and Coffee',
            room_alias_name: 'eng',
        });
        priv = await create(alice, { visibility: 'private', preset: 'public_chat', name: 'Secret plans' });
        big = await create(bob, { visibility: 'public', name: 'All hands' });
        assertOk(await srv.request('POST', `${C}/join/${enc(big)}`, { token: carol, body: {} }));
    });

    it('createRoom visibility public lists the room, private does not', T, async () => {
        const res = await list(alice);
        assert.deepEqual(ids(res), [big, pub], 'sorted by joined members, then room id');
        assert.equal(res.total_room_count_estimate, 2);
        assert.equal(res.next_batch, undefined);
        assert.equal(res.prev_batch, undefined);
        const e = res.chunk[1];
        assert.equal(e.name, 'Engineering Lounge');
        assert.equal(e.topic, 'Builds and Coffee');
        assert.equal(e.canonical_alias, `#eng:${srv.serverName}`);
        // the creator and the organisation's agent, who joins every room
        assert.equal(e.num_joined_members, 2);
        assert.equal(e.world_readable, false);
        assert.equal(e.guest_can_join, false);
        assert.equal(e.join_rule, 'public');
        assert.equal(res.chunk[0].num_joined_members, 3);
        assert.equal((await visibility(pub)).json.visibility, 'public', 'no auth needed');
        assert.equal((await visibility(priv, bob)).json.visibility, 'private');
    });

    it('PUT directory/list/room publishes and unpublishes; a member below state_default may not', T, async () => {
        assertOk(await srv.request('POST', `${C}/join/${enc(priv)}`, { token: bob, body: {} }));
        assertError(await setVisibility(bob, priv, 'public'), 403, 'M_FORBIDDEN');
        assertError(await setVisibility(carol, priv, 'public'), 403, 'M_FORBIDDEN'); // not a member
        assertOk(await setVisibility(alice, priv, 'public'));
        assert.equal((await visibility(priv)).json.visibility, 'public');
        assert.ok(ids(await list(bob)).includes(priv));
        assertOk(await setVisibility(alice, priv, 'public')); // idempotent
        assertOk(await setVisibility(root, priv, 'private')); // a server admin, not a member
        assert.equal((await visibility(priv)).json.visibility, 'private');
        assert.ok(!ids(await list(bob)).includes(priv));
    });

    it('generic_search_term matches name, topic or alias, ignoring case', T, async () => {
        assert.deepEqual(ids(await search(bob, { filter: { generic_search_term: 'lounge' } })), [pub]);
        assert.deepEqual(ids(await search(bob, { filter: { generic_search_term: 'COFFEE' } })), [pub]);
        assert.deepEqual(ids(await search(bob, { filter: { generic_search_term: '#eng' } })), [pub]);
        assert.deepEqual(ids(await search(bob, { filter: { generic_search_term: 'hands' } })), [big]);
        const none = await search(bob, { filter: { generic_search_term: 'nothing like it' } });
        assert.deepEqual(none.chunk, []);
        assert.equal(none.total_room_count_estimate, 0);
        assert.deepEqual(ids(await search(bob, {})), [big, pub]);
    });

    it('paginates with limit 1 and opaque tokens', T, async () => {
        const p1 = await list(alice, '?limit=1');
        assert.deepEqual(ids(p1), [big]);
        assert.equal(p1.total_room_count_estimate, 2);
        assert.equal(typeof p1.next_batch, 'string');
        assert.equal(p1.prev_batch, undefined);
        const p2 = await list(alice, `?limit=1&since=${enc(p1.next_batch)}`);
        assert.deepEqual(ids(p2), [pub]);
        assert.equal(p2.next_batch, undefined);
        assert.equal(typeof p2.prev_batch, 'string');
        const back = await search(alice, { limit: 1, since: p2.prev_batch });
        assert.deepEqual(ids(back), [big]);
        const p2b = await search(alice, { limit: 1, since: p1.next_batch });
        assert.deepEqual(ids(p2b), [pub]);
    });

    it('the directory survives a restart', T, async () => {
        await srv.restart();
        assert.deepEqual(ids(await list(alice)), [big, pub]);
        assert.equal((await visibility(priv)).json.visibility, 'private');
    });

    it('bad inputs are refused', T, async () => {
        assertError(await srv.request('GET', `${C}/publicRooms`), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('POST', `${C}/publicRooms`, { body: {} }), 401, 'M_MISSING_TOKEN');
        assertError(await setVisibility(undefined, pub, 'public'), 401, 'M_MISSING_TOKEN');
        assertError(await setVisibility(alice, pub, 'hidden'), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('PUT', `${C}/directory/list/room/${enc(pub)}`, { token: alice, body: {} }), 400);
        assertError(await setVisibility(alice, `!nope:${srv.serverName}`, 'public'), 404, 'M_NOT_FOUND');
        assertError(await visibility('!unknown:example.org'), 404, 'M_NOT_FOUND');
        assertError(await visibility('not-a-room'), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${C}/publicRooms?server=elsewhere.org`, { token: alice }), 400);
        assertError(await srv.request('GET', `${C}/publicRooms?limit=-1`, { token: alice }), 400);
        assertError(await srv.request('GET', `${C}/publicRooms?limit=x`, { token: alice }), 400);
        assertError(await srv.request('GET', `${C}/publicRooms?since=garbage`, { token: alice }), 400);
        assertError(await srv.request('POST', `${C}/publicRooms`, { token: alice, body: { limit: 'x' } }), 400);
        assertError(await srv.request('POST', `${C}/publicRooms`, { token: alice, body: { filter: 3 } }), 400);
        assertError(
            await srv.request('POST', `${C}/publicRooms`, { token: alice, body: { filter: { generic_search_term: 5 } } }),
            400,
        );
        assertError(await srv.request('POST', `${C}/publicRooms`, { token: alice, body: { since: 'o-1' } }), 400);
        // the own server name is accepted
        assertOk(await srv.request('GET', `${C}/publicRooms?server=${enc(srv.serverName)}`, { token: alice }));
    });
});
