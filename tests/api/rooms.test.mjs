// rooms.test.mjs: createRoom, membership (join, invite, leave, forget, kick,
// ban, unban, joined_rooms), room state reads (state, members,
// joined_members) and the room directory (aliases), Matrix CS API v1.12,
// with every error case and the auth rules reachable through them.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };

const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const enc = encodeURIComponent;
const SERVER = 'balai.test';
const SYS = `@balai:${SERVER}`;
const uid = (name) => `@${name}:${SERVER}`;

const USERS = [
    { name: 'root', admin: true },
    { name: 'alice', displayname: 'Alice' },
    { name: 'bob', displayname: 'Bob' },
    { name: 'carol' },
    { name: 'dave' },
    { name: 'erin' },
];

// Logs every user in; returns {name: token}.
async function loginAll(srv, names) {
    const tokens = {};
    for (const n of names) tokens[n] = (await srv.login(n, PW)).access_token;
    return tokens;
}

async function createRoom(srv, token, body = {}) {
    const j = assertOk(await srv.request('POST', `${C}/createRoom`, { token, body }));
    assert.match(j.room_id, new RegExp(`^![A-Za-z0-9]{18}:${SERVER.replace('.', '\\.')}$`));
    return j.room_id;
}

function roomPath(roomId, rest = '') {
    return `${C}/rooms/${enc(roomId)}${rest}`;
}

async function stateOf(srv, token, roomId) {
    const j = assertOk(await srv.request('GET', roomPath(roomId, '/state'), { token }));
    assert.ok(Array.isArray(j), 'state is an array');
    const byKey = {};
    for (const ev of j) byKey[`${ev.type}|${ev.state_key}`] = ev;
    return { list: j, byKey };
}

async function stateContent(srv, token, roomId, type, stateKey = '') {
    return assertOk(
        await srv.request('GET', roomPath(roomId, `/state/${enc(type)}/${enc(stateKey)}`), { token }),
    );
}

async function joinedRooms(srv, token) {
    const j = assertOk(await srv.request('GET', `${C}/joined_rooms`, { token }));
    assert.ok(Array.isArray(j.joined_rooms));
    return j.joined_rooms;
}

async function post(srv, token, roomId, action, body = {}) {
    return srv.request('POST', roomPath(roomId, `/${action}`), { token, body });
}

async function join(srv, token, roomId) {
    const j = assertOk(await post(srv, token, roomId, 'join'));
    assert.equal(j.room_id, roomId);
}

async function membershipOf(srv, token, roomId, user) {
    const r = await srv.request('GET', roomPath(roomId, `/state/m.room.member/${enc(user)}`), { token });
    if (r.status === 404) return null;
    return assertOk(r).membership;
}

// ----------------------------------------------------------------------------

describe('createRoom', () => {
    const srv = useServer({ users: USERS });
    let tk;

    before(async () => {
        tk = await loginAll(srv, ['root', 'alice', 'bob', 'carol', 'dave', 'erin']);
    });

    it('needs an access token', T, async () => {
        assertError(await srv.request('POST', `${C}/createRoom`, { body: {} }), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('POST', `${C}/createRoom`, { body: {}, token: 'nope' }), 401, 'M_UNKNOWN_TOKEN');
    });

    it('refuses a body that is not JSON (M_NOT_JSON) and fields of the wrong type (M_BAD_JSON)', T, async () => {
        assertError(
            await srv.request('POST', `${C}/createRoom`, {
                token: tk.alice,
                raw: '{"name": ',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
        const bad = [
            { name: 5 },
            { topic: ['x'] },
            { preset: true },
            { is_direct: 'yes' },
            { invite: uid('bob') },
            { invite: [5] },
            { initial_state: {} },
            { initial_state: [5] },
            { initial_state: [{ content: {} }] },
            { initial_state: [{ type: 'm.room.name' }] },
            { initial_state: [{ type: 'x', state_key: 1, content: {} }] },
            { power_level_content_override: [] },
            { creation_content: 'x' },
            { room_version: 10 },
            { room_alias_name: {} },
        ];
        for (const body of bad)
            assertError(await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body }), 400, 'M_BAD_JSON');
    });

    it('an empty body makes a private organisation room with the spec defaults', T, async () => {
        const roomId = assertOk(
            await srv.request('POST', `${C}/createRoom`, { token: tk.alice, raw: '' }),
        ).room_id;
        const { byKey, list } = await stateOf(srv, tk.alice, roomId);
        const create = byKey['m.room.create|'];
        assert.equal(create.content.room_version, '10');
        assert.equal(create.content.creator, uid('alice'));
        assert.equal(create.sender, uid('alice'));
        assert.equal(create.room_id, roomId);
        assert.match(create.event_id, /^\$/);
        assert.equal(byKey['m.room.join_rules|'].content.join_rule, 'invite');
        assert.equal(byKey['m.room.history_visibility|'].content.history_visibility, 'shared');
        assert.equal(byKey['m.room.guest_access|'].content.guest_access, 'forbidden');
        const me = byKey[`m.room.member|${uid('alice')}`];
        assert.equal(me.content.membership, 'join');
        assert.equal(me.content.displayname, 'Alice');
        // the system user was invited by the creator and joined
        const sys = byKey[`m.room.member|${SYS}`];
        assert.equal(sys.content.membership, 'join');
        assert.equal(sys.sender, SYS);
        const pl = byKey['m.room.power_levels|'].content;
        assert.equal(pl.users[uid('alice')], 100);
        assert.equal(pl.users[SYS], 100);
        assert.equal(pl.state_default, 50);
        assert.equal(pl.events_default, 0);
        for (const ev of list) {
            assert.equal(typeof ev.origin_server_ts, 'number');
            assert.equal(ev.hashes, undefined, 'client format has no hashes');
            assert.equal(ev.signatures, undefined, 'client format has no signatures');
            assert.equal(ev.auth_events, undefined);
        }
        assert.ok((await joinedRooms(srv, tk.alice)).includes(roomId));
    });

    it('public_chat: join rule public; visibility public picks it by default', T, async () => {
        for (const body of [{ preset: 'public_chat' }, { visibility: 'public' }]) {
            const roomId = await createRoom(srv, tk.alice, body);
            assert.equal((await stateContent(srv, tk.alice, roomId, 'm.room.join_rules')).join_rule, 'public');
        }
        const priv = await createRoom(srv, tk.alice, { visibility: 'private' });
        assert.equal((await stateContent(srv, tk.alice, priv, 'm.room.join_rules')).join_rule, 'invite');
    });

    it('name, topic and invites; the invite carries the invitee profile', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            name: 'Ops',
            topic: 'Operations',
            invite: [uid('bob'), uid('carol'), uid('bob')],
        });
        assert.deepEqual(await stateContent(srv, tk.alice, roomId, 'm.room.name'), { name: 'Ops' });
        assert.deepEqual(await stateContent(srv, tk.alice, roomId, 'm.room.topic'), { topic: 'Operations' });
        const bobInv = await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('bob'));
        assert.equal(bobInv.membership, 'invite');
        assert.equal(bobInv.displayname, 'Bob');
        assert.equal(bobInv.is_direct, undefined);
        assert.equal((await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('carol'))).membership, 'invite');
        // bob accepts
        await join(srv, tk.bob, roomId);
        assert.ok((await joinedRooms(srv, tk.bob)).includes(roomId));
        const j = assertOk(await srv.request('GET', roomPath(roomId, '/joined_members'), { token: tk.bob }));
        assert.deepEqual(Object.keys(j.joined).sort(), [SYS, uid('alice'), uid('bob')].sort());
    });

    it('is_direct: no system user, invites flagged is_direct', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            preset: 'trusted_private_chat',
            is_direct: true,
            invite: [uid('dave')],
        });
        const { byKey } = await stateOf(srv, tk.alice, roomId);
        assert.equal(byKey[`m.room.member|${SYS}`], undefined, 'no system user in a direct message');
        const pl = byKey['m.room.power_levels|'].content;
        assert.equal(pl.users[SYS], undefined);
        assert.equal(pl.users[uid('alice')], 100);
        assert.equal(pl.users[uid('dave')], 100, 'trusted_private_chat: invitees get the creator level');
        const inv = byKey[`m.room.member|${uid('dave')}`].content;
        assert.equal(inv.membership, 'invite');
        assert.equal(inv.is_direct, true);
    });

    it('trusted_private_chat in an organisation room: invitees and the system user at 100', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { preset: 'trusted_private_chat', invite: [uid('erin')] });
        const pl = await stateContent(srv, tk.alice, roomId, 'm.room.power_levels');
        assert.equal(pl.users[uid('erin')], 100);
        assert.equal(pl.users[SYS], 100);
    });

    it('power_level_content_override is merged at top level; the system user keeps 100', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            power_level_content_override: {
                events_default: 10,
                invite: 50,
                users: { [uid('alice')]: 100, [uid('bob')]: 60 },
            },
        });
        const pl = await stateContent(srv, tk.alice, roomId, 'm.room.power_levels');
        assert.equal(pl.events_default, 10);
        assert.equal(pl.invite, 50);
        assert.equal(pl.state_default, 50, 'other defaults stay');
        assert.deepEqual(pl.users, { [uid('alice')]: 100, [uid('bob')]: 60, [SYS]: 100 });
    });

    it('an override that lowers the creator below what the preset needs is refused (403) and creates nothing', T, async () => {
        const before_ = await joinedRooms(srv, tk.alice);
        const r = await srv.request('POST', `${C}/createRoom`, {
            token: tk.alice,
            body: { power_level_content_override: { users: { [uid('alice')]: 50 } } },
        });
        const e = assertError(r, 403, 'M_FORBIDDEN');
        assert.match(e.error, /power level \(50\) is below the 100/);
        assert.deepEqual(await joinedRooms(srv, tk.alice), before_);
    });

    it('an invalid power levels override is refused', T, async () => {
        assertError(
            await srv.request('POST', `${C}/createRoom`, {
                token: tk.alice,
                body: { power_level_content_override: { ban: 'fifty' } },
            }),
            403,
            'M_FORBIDDEN',
        );
    });

    it('initial_state is sent and takes precedence over the preset', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            preset: 'private_chat',
            name: 'From name',
            initial_state: [
                { type: 'm.room.join_rules', content: { join_rule: 'public' } },
                { type: 'org.example.custom', state_key: 'k', content: { a: 1 } },
                { type: 'm.room.name', content: { name: 'From initial_state' } },
            ],
        });
        const { list } = await stateOf(srv, tk.alice, roomId);
        assert.equal(list.filter((e) => e.type === 'm.room.join_rules').length, 1);
        assert.equal((await stateContent(srv, tk.alice, roomId, 'm.room.join_rules')).join_rule, 'public');
        assert.deepEqual(await stateContent(srv, tk.alice, roomId, 'org.example.custom', 'k'), { a: 1 });
        // the name field wins over initial_state (spec)
        assert.deepEqual(await stateContent(srv, tk.alice, roomId, 'm.room.name'), { name: 'From name' });
        // a public room: bob can join without an invite
        await join(srv, tk.bob, roomId);
    });

    it('initial_state cannot hold m.room.create or m.room.member', T, async () => {
        for (const type of ['m.room.create', 'm.room.member']) {
            assertError(
                await srv.request('POST', `${C}/createRoom`, {
                    token: tk.alice,
                    body: { initial_state: [{ type, state_key: type === 'm.room.member' ? uid('bob') : '', content: { membership: 'join' } }] },
                }),
                400,
                'M_INVALID_PARAM',
            );
        }
    });

    it('e2ee is denied: m.room.encryption in initial_state is 403 with the policy message, nothing created', T, async () => {
        const before_ = await joinedRooms(srv, tk.alice);
        const e = assertError(
            await srv.request('POST', `${C}/createRoom`, {
                token: tk.alice,
                body: {
                    name: 'secret',
                    initial_state: [
                        { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
                    ],
                },
            }),
            403,
            'M_FORBIDDEN',
        );
        assert.match(e.error, /end-to-end encrypted/);
        assert.deepEqual(await joinedRooms(srv, tk.alice), before_);
    });

    it('room_version 11 works (no creator in the create content); unknown versions are refused', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { room_version: '11', creation_content: { creator: uid('bob') } });
        const create = await stateContent(srv, tk.alice, roomId, 'm.room.create');
        assert.equal(create.room_version, '11');
        assert.equal(create.creator, undefined);
        // the room works: bob can be invited and join
        assertOk(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('bob') }));
        await join(srv, tk.bob, roomId);
        for (const v of ['1', '9', '12', 'x', ''])
            assertError(
                await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { room_version: v } }),
                400,
                'M_UNSUPPORTED_ROOM_VERSION',
            );
    });

    it('creation_content is merged into m.room.create; the server sets room_version and creator', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            creation_content: { type: 'm.space', room_version: '99', creator: uid('bob'), 'org.example': true },
        });
        const create = await stateContent(srv, tk.alice, roomId, 'm.room.create');
        assert.equal(create.type, 'm.space');
        assert.equal(create.room_version, '10');
        assert.equal(create.creator, uid('alice'));
        assert.equal(create['org.example'], true);
    });

    it('refuses bad presets and visibilities', T, async () => {
        for (const body of [{ preset: 'open' }, { visibility: 'secret' }])
            assertError(await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body }), 400, 'M_INVALID_PARAM');
    });

    it('validates invitees before creating anything', T, async () => {
        const before_ = await joinedRooms(srv, tk.alice);
        const cases = [
            [[uid('nobody')], 404, 'M_NOT_FOUND'],
            [['@nobody:elsewhere.example'], 404, 'M_NOT_FOUND'],
            [['bob'], 400, 'M_INVALID_PARAM'],
            [[uid('alice')], 400, 'M_INVALID_PARAM'],
            [[SYS], 400, 'M_INVALID_PARAM'],
        ];
        for (const [invite, status, code] of cases)
            assertError(
                await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { invite } }),
                status,
                code,
            );
        assert.deepEqual(await joinedRooms(srv, tk.alice), before_);
    });

    it('an oversized event (a 70,000-character topic) is 413 M_TOO_LARGE and creates nothing', T, async () => {
        const before_ = await joinedRooms(srv, tk.alice);
        assertError(
            await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { topic: 'x'.repeat(70_000) } }),
            413,
            'M_TOO_LARGE',
        );
        assert.deepEqual(await joinedRooms(srv, tk.alice), before_);
    });

    it('room_alias_name: alias answered, canonical alias set, directory resolves; taken → M_ROOM_IN_USE', T, async () => {
        const r = assertOk(
            await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { room_alias_name: 'general' } }),
        );
        assert.equal(r.room_alias, `#general:${SERVER}`);
        assert.deepEqual(await stateContent(srv, tk.alice, r.room_id, 'm.room.canonical_alias'), {
            alias: `#general:${SERVER}`,
        });
        const d = assertOk(await srv.request('GET', `${C}/directory/room/${enc(`#general:${SERVER}`)}`, { token: tk.bob }));
        assert.deepEqual(d, { room_id: r.room_id, servers: [SERVER] });
        const before_ = await joinedRooms(srv, tk.bob);
        assertError(
            await srv.request('POST', `${C}/createRoom`, { token: tk.bob, body: { room_alias_name: 'general' } }),
            400,
            'M_ROOM_IN_USE',
        );
        assert.deepEqual(await joinedRooms(srv, tk.bob), before_);
        for (const bad of ['a:b', 'has space', '', 'tab\there'])
            assertError(
                await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { room_alias_name: bad } }),
                400,
                'M_INVALID_PARAM',
            );
    });

    it('refuses invites of deactivated users', T, async () => {
        const u = await srv.addUser('gone');
        assertOk(await srv.request('POST', `${A}/users/${enc(u)}/deactivate`, { token: tk.root, body: {} }));
        assertError(
            await srv.request('POST', `${C}/createRoom`, { token: tk.alice, body: { invite: [u] } }),
            400,
            'M_INVALID_PARAM',
        );
        const roomId = await createRoom(srv, tk.alice);
        assertError(await post(srv, tk.alice, roomId, 'invite', { user_id: u }), 400, 'M_INVALID_PARAM');
    });
});

// ----------------------------------------------------------------------------

describe('membership', () => {
    const srv = useServer({ users: USERS });
    let tk;

    before(async () => {
        tk = await loginAll(srv, ['root', 'alice', 'bob', 'carol', 'dave', 'erin']);
    });

    it('every endpoint needs a token', T, async () => {
        const roomId = await createRoom(srv, tk.alice);
        for (const a of ['join', 'invite', 'leave', 'forget', 'kick', 'ban', 'unban'])
            assertError(await post(srv, undefined, roomId, a, {}), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('POST', `${C}/join/${enc(roomId)}`, { body: {} }), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('GET', `${C}/joined_rooms`), 401, 'M_MISSING_TOKEN');
    });

    it('malformed room ids are 400, unknown rooms 404', T, async () => {
        for (const a of ['join', 'leave', 'forget'])
            assertError(await post(srv, tk.alice, 'not-a-room', a), 400, 'M_INVALID_PARAM');
        for (const a of ['invite', 'kick', 'ban', 'unban'])
            assertError(await post(srv, tk.alice, 'xyz', a, { user_id: uid('bob') }), 400, 'M_INVALID_PARAM');
        const unknown = `!nosuchroomatall0000:${SERVER}`;
        for (const a of ['join', 'leave', 'forget'])
            assertError(await post(srv, tk.alice, unknown, a), 404, 'M_NOT_FOUND');
        for (const a of ['invite', 'kick', 'ban', 'unban'])
            assertError(await post(srv, tk.alice, unknown, a, { user_id: uid('bob') }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('POST', `${C}/join/${enc(unknown)}`, { token: tk.alice, body: {} }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('POST', `${C}/join/${enc(`#nope:${SERVER}`)}`, { token: tk.alice, body: {} }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('POST', `${C}/join/plainname`, { token: tk.alice, body: {} }), 400, 'M_INVALID_PARAM');
    });

    it('bad bodies: M_NOT_JSON, M_BAD_JSON, M_MISSING_PARAM', T, async () => {
        const roomId = await createRoom(srv, tk.alice);
        assertError(
            await srv.request('POST', roomPath(roomId, '/invite'), {
                token: tk.alice,
                raw: 'nope',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
        for (const a of ['invite', 'kick', 'ban', 'unban']) {
            assertError(await post(srv, tk.alice, roomId, a, {}), 400, 'M_MISSING_PARAM');
            assertError(await post(srv, tk.alice, roomId, a, { user_id: 7 }), 400, 'M_BAD_JSON');
            assertError(await post(srv, tk.alice, roomId, a, { user_id: uid('bob'), reason: 7 }), 400, 'M_BAD_JSON');
            assertError(await post(srv, tk.alice, roomId, a, { user_id: 'bob' }), 400, 'M_INVALID_PARAM');
            assertError(await post(srv, tk.alice, roomId, a, { user_id: uid('nobody') }), 404, 'M_NOT_FOUND');
        }
        assertError(await post(srv, tk.alice, roomId, 'leave', { reason: [] }), 400, 'M_BAD_JSON');
        assertError(await post(srv, tk.alice, roomId, 'join', { reason: {} }), 400, 'M_BAD_JSON');
    });

    it('anyone joins a public room; an invite-only room refuses the uninvited', T, async () => {
        const pub = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, pub);
        const m = await stateContent(srv, tk.bob, pub, 'm.room.member', uid('bob'));
        assert.equal(m.membership, 'join');
        assert.equal(m.displayname, 'Bob');
        assert.ok((await joinedRooms(srv, tk.bob)).includes(pub));

        const priv = await createRoom(srv, tk.alice, { preset: 'private_chat' });
        const e = assertError(await post(srv, tk.carol, priv, 'join'), 403, 'M_FORBIDDEN');
        assert.match(e.error, /invited/);
        assert.ok(!(await joinedRooms(srv, tk.carol)).includes(priv));
        assertError(await srv.request('GET', roomPath(priv, '/state'), { token: tk.carol }), 403, 'M_FORBIDDEN');
    });

    it('invite then join (also through /join/{roomIdOrAlias}); the reason is kept', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { room_alias_name: 'invite-test' });
        assertOk(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('bob'), reason: 'welcome' }));
        const inv = await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('bob'));
        assert.deepEqual(inv, { membership: 'invite', reason: 'welcome', displayname: 'Bob' });
        const j = assertOk(
            await srv.request('POST', `${C}/join/${enc(`#invite-test:${SERVER}`)}`, { token: tk.bob, body: {} }),
        );
        assert.equal(j.room_id, roomId);
        assert.equal(await membershipOf(srv, tk.alice, roomId, uid('bob')), 'join');
        // join by room id through /join/
        assertOk(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('carol') }));
        const j2 = assertOk(await srv.request('POST', `${C}/join/${enc(roomId)}`, { token: tk.carol, body: { reason: 'hi' } }));
        assert.equal(j2.room_id, roomId);
        assert.equal((await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('carol'))).reason, 'hi');
        // inviting someone already in the room is refused by the auth rules
        const e = assertError(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('bob') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /already in the room/);
        // the system user cannot be invited
        assertError(await post(srv, tk.alice, roomId, 'invite', { user_id: SYS }), 403, 'M_FORBIDDEN');
        // a non-member cannot invite
        assertError(await post(srv, tk.dave, roomId, 'invite', { user_id: uid('erin') }), 403, 'M_FORBIDDEN');
    });

    it('an invitee can reject the invite by leaving', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { invite: [uid('dave')] });
        assertOk(await post(srv, tk.dave, roomId, 'leave'));
        assert.equal(await membershipOf(srv, tk.alice, roomId, uid('dave')), 'leave');
    });

    it('invite without the invite level is refused', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            preset: 'public_chat',
            power_level_content_override: { invite: 50 },
        });
        await join(srv, tk.bob, roomId);
        const e = assertError(await post(srv, tk.bob, roomId, 'invite', { user_id: uid('carol') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /below the 50 needed to invite/);
        assert.equal(await membershipOf(srv, tk.alice, roomId, uid('carol')), null);
    });

    it('leave: the room leaves joined_rooms; leaving again is refused', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, roomId);
        assertOk(await post(srv, tk.bob, roomId, 'leave', { reason: 'bye' }));
        assert.ok(!(await joinedRooms(srv, tk.bob)).includes(roomId));
        const m = await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('bob'));
        assert.equal(m.membership, 'leave');
        assert.equal(m.reason, 'bye');
        assertError(await post(srv, tk.bob, roomId, 'leave'), 403, 'M_FORBIDDEN');
        // a user who left cannot read the room
        assertError(await srv.request('GET', roomPath(roomId, '/state'), { token: tk.bob }), 403, 'M_FORBIDDEN');
    });

    it('kick: needs the kick level, a lower target, and a target in the room', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, roomId);
        await join(srv, tk.carol, roomId);
        let e = assertError(await post(srv, tk.bob, roomId, 'kick', { user_id: uid('carol') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /below the 50 needed to kick/);
        e = assertError(await post(srv, tk.bob, roomId, 'kick', { user_id: uid('alice') }), 403, 'M_FORBIDDEN');
        assertError(await post(srv, tk.alice, roomId, 'kick', { user_id: uid('dave') }), 403, 'M_FORBIDDEN');
        assert.equal(await membershipOf(srv, tk.alice, roomId, uid('carol')), 'join');
        assertOk(await post(srv, tk.alice, roomId, 'kick', { user_id: uid('carol'), reason: 'spam' }));
        const m = await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('carol'));
        assert.equal(m.membership, 'leave');
        assert.equal(m.reason, 'spam');
        assert.ok(!(await joinedRooms(srv, tk.carol)).includes(roomId));
        // a kicked user may come back to a public room
        await join(srv, tk.carol, roomId);
    });

    it('kicking an invitee revokes the invite', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { invite: [uid('erin')] });
        assertOk(await post(srv, tk.alice, roomId, 'kick', { user_id: uid('erin') }));
        assertError(await post(srv, tk.erin, roomId, 'join'), 403, 'M_FORBIDDEN');
    });

    it('ban: needs the ban level and a target below one\'s own level; banned users cannot join', T, async () => {
        const roomId = await createRoom(srv, tk.alice, {
            preset: 'public_chat',
            power_level_content_override: {
                users: { [uid('alice')]: 100, [uid('bob')]: 50, [uid('carol')]: 50 },
            },
        });
        for (const n of ['bob', 'carol', 'dave']) await join(srv, tk[n], roomId);
        // dave (0) cannot ban
        let e = assertError(await post(srv, tk.dave, roomId, 'ban', { user_id: uid('erin') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /below the 50 needed to ban/);
        // bob (50) cannot ban carol (50): equal level
        e = assertError(await post(srv, tk.bob, roomId, 'ban', { user_id: uid('carol') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /equal to or above/);
        // nor alice (100)
        assertError(await post(srv, tk.bob, roomId, 'ban', { user_id: uid('alice') }), 403, 'M_FORBIDDEN');
        // bob bans dave (0) and erin, who never was in the room
        assertOk(await post(srv, tk.bob, roomId, 'ban', { user_id: uid('dave'), reason: 'rude' }));
        assertOk(await post(srv, tk.bob, roomId, 'ban', { user_id: uid('erin') }));
        assert.equal(await membershipOf(srv, tk.alice, roomId, uid('dave')), 'ban');
        assert.ok(!(await joinedRooms(srv, tk.dave)).includes(roomId));
        e = assertError(await post(srv, tk.dave, roomId, 'join'), 403, 'M_FORBIDDEN');
        assert.match(e.error, /banned/);
        assertError(await post(srv, tk.erin, roomId, 'join'), 403, 'M_FORBIDDEN');
        // a banned user cannot be invited
        assertError(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('dave') }), 403, 'M_FORBIDDEN');
        // a banned user cannot be kicked (that would be an unban) by someone below the ban level
    });

    it('unban: needs the ban level; the target must be banned; then the user may join again', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, roomId);
        await join(srv, tk.carol, roomId);
        assertOk(await post(srv, tk.alice, roomId, 'ban', { user_id: uid('carol') }));
        let e = assertError(await post(srv, tk.bob, roomId, 'unban', { user_id: uid('carol') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /needed to unban/);
        e = assertError(await post(srv, tk.alice, roomId, 'unban', { user_id: uid('bob') }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /not banned/);
        assertOk(await post(srv, tk.alice, roomId, 'unban', { user_id: uid('carol'), reason: 'forgiven' }));
        const m = await stateContent(srv, tk.alice, roomId, 'm.room.member', uid('carol'));
        assert.equal(m.membership, 'leave');
        assert.equal(m.reason, 'forgiven');
        await join(srv, tk.carol, roomId);
    });

    it('the system user cannot be kicked or banned from an organisation room', T, async () => {
        const roomId = await createRoom(srv, tk.alice);
        for (const a of ['kick', 'ban']) {
            const e = assertError(await post(srv, tk.alice, roomId, a, { user_id: SYS }), 403, 'M_FORBIDDEN');
            assert.match(e.error, /organisation/);
        }
        assert.equal(await membershipOf(srv, tk.alice, roomId, SYS), 'join');
    });

    it('forget: only after leaving; unknown rooms 404; re-joining works afterwards', T, async () => {
        const roomId = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, roomId);
        const e = assertError(await post(srv, tk.bob, roomId, 'forget'), 400, 'M_UNKNOWN');
        assert.match(e.error, /leave the room before forgetting/);
        assertOk(await post(srv, tk.bob, roomId, 'leave'));
        assertOk(await post(srv, tk.bob, roomId, 'forget'));
        assertOk(await post(srv, tk.bob, roomId, 'forget')); // idempotent
        assertOk(await post(srv, tk.carol, roomId, 'forget')); // never a member: nothing to do
        // an invitee must reject first
        const r2 = await createRoom(srv, tk.alice, { invite: [uid('dave')] });
        assertError(await post(srv, tk.dave, r2, 'forget'), 400, 'M_UNKNOWN');
        // a banned user may forget
        assertOk(await post(srv, tk.alice, roomId, 'ban', { user_id: uid('erin') }));
        assertOk(await post(srv, tk.erin, roomId, 'forget'));
        // bob comes back
        await join(srv, tk.bob, roomId);
        assert.ok((await joinedRooms(srv, tk.bob)).includes(roomId));
    });

    it('joined_rooms lists only rooms with membership join', T, async () => {
        const a = await createRoom(srv, tk.alice, { invite: [uid('erin')] });
        const b = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.erin, b);
        const rooms = await joinedRooms(srv, tk.erin);
        assert.ok(rooms.includes(b));
        assert.ok(!rooms.includes(a), 'an invite is not a joined room');
    });
});

// ----------------------------------------------------------------------------

describe('room state reads', () => {
    const srv = useServer({ users: USERS });
    let tk;
    let roomId;

    before(async () => {
        tk = await loginAll(srv, ['alice', 'bob', 'carol', 'dave']);
        roomId = await createRoom(srv, tk.alice, { name: 'Reads', invite: [uid('bob'), uid('carol')] });
        await join(srv, tk.bob, roomId);
    });

    it('needs a token; malformed ids are 400; unknown rooms and non-members 403', T, async () => {
        for (const p of ['/state', '/state/m.room.name', '/state/m.room.name/', '/members', '/joined_members']) {
            assertError(await srv.request('GET', roomPath(roomId, p)), 401, 'M_MISSING_TOKEN');
            assertError(await srv.request('GET', `${C}/rooms/nope${p}`, { token: tk.alice }), 400, 'M_INVALID_PARAM');
            const e = assertError(
                await srv.request('GET', roomPath(`!unknownroom000000:${SERVER}`, p), { token: tk.alice }),
                403,
                'M_FORBIDDEN',
            );
            assert.match(e.error, /not a member/);
            // dave was never in the room; carol is only invited
            assertError(await srv.request('GET', roomPath(roomId, p), { token: tk.dave }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('GET', roomPath(roomId, p), { token: tk.carol }), 403, 'M_FORBIDDEN');
        }
    });

    it('GET /state lists the current state in client format', T, async () => {
        const { list, byKey } = await stateOf(srv, tk.bob, roomId);
        for (const k of [
            'm.room.create|',
            'm.room.power_levels|',
            'm.room.join_rules|',
            'm.room.history_visibility|',
            'm.room.guest_access|',
            'm.room.name|',
            `m.room.member|${uid('alice')}`,
            `m.room.member|${uid('bob')}`,
            `m.room.member|${uid('carol')}`,
            `m.room.member|${SYS}`,
            'id.balai.room.classification|',
        ])
            assert.ok(byKey[k], `missing ${k}`);
        assert.equal(list.length, 11);
        assert.equal(byKey['id.balai.room.classification|'].content.label, 'internal');
        for (const ev of list) {
            assert.equal(ev.room_id, roomId);
            assert.equal(typeof ev.event_id, 'string');
            assert.equal(typeof ev.sender, 'string');
            assert.equal(typeof ev.state_key, 'string');
            assert.equal(ev.depth, undefined);
            assert.equal(ev.prev_events, undefined);
        }
    });

    it('GET /state/{type}[/{key}] answers the content, 404 when absent', T, async () => {
        const p = `/state/m.room.name`;
        assert.deepEqual(assertOk(await srv.request('GET', roomPath(roomId, p), { token: tk.bob })), { name: 'Reads' });
        assert.deepEqual(assertOk(await srv.request('GET', roomPath(roomId, `${p}/`), { token: tk.bob })), { name: 'Reads' });
        assert.equal((await stateContent(srv, tk.bob, roomId, 'm.room.member', uid('alice'))).membership, 'join');
        assertError(await srv.request('GET', roomPath(roomId, '/state/m.room.topic'), { token: tk.bob }), 404, 'M_NOT_FOUND');
        assertError(
            await srv.request('GET', roomPath(roomId, `/state/m.room.member/${enc(uid('dave'))}`), { token: tk.bob }),
            404,
            'M_NOT_FOUND',
        );
    });

    it('GET /members with membership and not_membership filters', T, async () => {
        const all = assertOk(await srv.request('GET', roomPath(roomId, '/members'), { token: tk.alice })).chunk;
        assert.deepEqual(all.map((e) => e.state_key).sort(), [SYS, uid('alice'), uid('bob'), uid('carol')].sort());
        for (const ev of all) assert.equal(ev.type, 'm.room.member');
        const joined = assertOk(await srv.request('GET', roomPath(roomId, '/members?membership=join'), { token: tk.alice })).chunk;
        assert.deepEqual(joined.map((e) => e.state_key).sort(), [SYS, uid('alice'), uid('bob')].sort());
        const notJoined = assertOk(
            await srv.request('GET', roomPath(roomId, '/members?not_membership=join'), { token: tk.alice }),
        ).chunk;
        assert.deepEqual(notJoined.map((e) => e.state_key), [uid('carol')]);
        const none = assertOk(await srv.request('GET', roomPath(roomId, '/members?membership=ban'), { token: tk.alice })).chunk;
        assert.deepEqual(none, []);
        assertError(await srv.request('GET', roomPath(roomId, '/members?membership=joined'), { token: tk.alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', roomPath(roomId, '/members?not_membership=x'), { token: tk.alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', roomPath(roomId, '/members?at=garbage'), { token: tk.alice }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', roomPath(roomId, '/members?at=tWRONGEPOCH_5'), { token: tk.alice }), 400, 'M_INVALID_PARAM');
    });

    it('GET /joined_members gives display names and avatars', T, async () => {
        const j = assertOk(await srv.request('GET', roomPath(roomId, '/joined_members'), { token: tk.bob }));
        assert.deepEqual(j.joined, {
            [uid('alice')]: { display_name: 'Alice', avatar_url: null },
            [uid('bob')]: { display_name: 'Bob', avatar_url: null },
            [SYS]: { display_name: 'Balai', avatar_url: null },
        });
    });

    it('a world_readable room can be read by non-members', T, async () => {
        const wr = await createRoom(srv, tk.alice, {
            initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }],
        });
        assertOk(await srv.request('GET', roomPath(wr, '/state'), { token: tk.dave }));
        assertOk(await srv.request('GET', roomPath(wr, '/members'), { token: tk.dave }));
        assertOk(await srv.request('GET', roomPath(wr, '/joined_members'), { token: tk.dave }));
    });

    it('/members?at= with a token from /sync', T, async () => {
        const s = await srv.request('GET', `${C}/sync?timeout=0`, { token: tk.alice });
        assertOk(s);
        const before_ = s.json.next_batch;
        assertOk(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('dave') }));
        const now = assertOk(await srv.request('GET', roomPath(roomId, '/members'), { token: tk.alice })).chunk;
        assert.ok(now.some((e) => e.state_key === uid('dave')));
        const then = assertOk(
            await srv.request('GET', roomPath(roomId, `/members?at=${enc(before_)}`), { token: tk.alice }),
        ).chunk;
        assert.ok(!then.some((e) => e.state_key === uid('dave')), 'dave was invited after the token');
        assert.ok(then.some((e) => e.state_key === uid('alice')));
        // the room shows up in alice's sync
        assert.ok(s.json.rooms?.join?.[roomId], 'the room is in rooms.join of /sync');
    });

    it('/members?at= gives each member as they were then, also after a change', T, async () => {
        const s = assertOk(await srv.request('GET', `${C}/sync?timeout=0`, { token: tk.alice }));
        const then_ = s.next_batch;
        const cur = assertOk(await srv.request('GET', roomPath(roomId, '/members'), { token: tk.alice })).chunk;
        const someone = cur.find((e) => e.state_key !== uid('alice') && e.content.membership === 'invite');
        assert.ok(someone, 'an invited member to change');
        assertOk(await post(srv, tk.alice, roomId, 'kick', { user_id: someone.state_key }));
        const old = assertOk(
            await srv.request('GET', roomPath(roomId, `/members?at=${enc(then_)}`), { token: tk.alice }),
        ).chunk;
        const e = old.find((x) => x.state_key === someone.state_key);
        assert.ok(e, 'the member as they were');
        assert.equal(e.content.membership, 'invite');
        const inv = assertOk(
            await srv.request('GET', roomPath(roomId, `/members?at=${enc(then_)}&membership=invite`), { token: tk.alice }),
        ).chunk;
        assert.ok(inv.every((x) => x.content.membership === 'invite'));
        const now = assertOk(await srv.request('GET', roomPath(roomId, '/members'), { token: tk.alice })).chunk;
        assert.equal(now.find((x) => x.state_key === someone.state_key).content.membership, 'leave');
    });
});

// ----------------------------------------------------------------------------

describe('room directory', () => {
    const srv = useServer({ users: USERS });
    let tk;
    let roomId;
    const alias = `#team:${SERVER}`;
    const dir = (a) => `${C}/directory/room/${enc(a)}`;

    before(async () => {
        tk = await loginAll(srv, ['root', 'alice', 'bob', 'carol', 'dave']);
        roomId = await createRoom(srv, tk.alice, {
            preset: 'public_chat',
            power_level_content_override: { users: { [uid('alice')]: 100, [uid('carol')]: 50 } },
        });
        await join(srv, tk.bob, roomId);
        await join(srv, tk.carol, roomId);
    });

    it('needs a token', T, async () => {
        assertError(await srv.request('PUT', dir(alias), { body: { room_id: roomId } }), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('GET', dir(alias)), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('DELETE', dir(alias)), 401, 'M_MISSING_TOKEN');
    });

    it('PUT validates the body and the alias', T, async () => {
        assertError(
            await srv.request('PUT', dir(alias), { token: tk.bob, raw: '[', headers: { 'content-type': 'application/json' } }),
            400,
            'M_NOT_JSON',
        );
        assertError(await srv.request('PUT', dir(alias), { token: tk.bob, body: {} }), 400, 'M_MISSING_PARAM');
        assertError(await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: 3 } }), 400, 'M_BAD_JSON');
        assertError(await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: 'nope' } }), 400, 'M_INVALID_PARAM');
        for (const bad of ['team', `#team:other.example`, `#:${SERVER}`, `#a b:${SERVER}`, `!x:${SERVER}`])
            assertError(await srv.request('PUT', dir(bad), { token: tk.bob, body: { room_id: roomId } }), 400, 'M_INVALID_PARAM');
    });

    it('PUT needs membership of an existing room', T, async () => {
        assertError(await srv.request('PUT', dir(alias), { token: tk.dave, body: { room_id: roomId } }), 403, 'M_FORBIDDEN');
        assertError(
            await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: `!nosuchroom00000000:${SERVER}` } }),
            403,
            'M_FORBIDDEN',
        );
        assertError(await srv.request('GET', dir(alias), { token: tk.bob }), 404, 'M_NOT_FOUND');
    });

    it('PUT, GET, duplicate PUT 409, join through the alias', T, async () => {
        assert.deepEqual(assertOk(await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: roomId } })), {});
        assert.deepEqual(assertOk(await srv.request('GET', dir(alias), { token: tk.dave })), {
            room_id: roomId,
            servers: [SERVER],
        });
        const e = assertError(await srv.request('PUT', dir(alias), { token: tk.alice, body: { room_id: roomId } }), 409, 'M_UNKNOWN');
        assert.match(e.error, /already taken/);
        const j = assertOk(await srv.request('POST', `${C}/join/${enc(alias)}`, { token: tk.dave, body: {} }));
        assert.equal(j.room_id, roomId);
    });

    it('DELETE: refused to others; allowed to the creator, a privileged member and an admin', T, async () => {
        assertError(await srv.request('DELETE', dir(`#missing:${SERVER}`), { token: tk.alice }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('DELETE', dir('bad')), 401, 'M_MISSING_TOKEN');
        // dave joined above but has level 0 < state_default 50
        const e = assertError(await srv.request('DELETE', dir(alias), { token: tk.dave }), 403, 'M_FORBIDDEN');
        assert.match(e.error, /creator/);
        assertOk(await srv.request('GET', dir(alias), { token: tk.dave }));
        // the creator (bob, level 0) may
        assertOk(await srv.request('DELETE', dir(alias), { token: tk.bob }));
        assertError(await srv.request('GET', dir(alias), { token: tk.bob }), 404, 'M_NOT_FOUND');
        // a member at state_default (carol, 50) may delete bob's alias
        assertOk(await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: roomId } }));
        assertOk(await srv.request('DELETE', dir(alias), { token: tk.carol }));
        // a server admin who is not in the room may too
        assertOk(await srv.request('PUT', dir(alias), { token: tk.bob, body: { room_id: roomId } }));
        assertOk(await srv.request('DELETE', dir(alias), { token: tk.root }));
        assertError(await srv.request('DELETE', dir(alias), { token: tk.root }), 404, 'M_NOT_FOUND');
        // the freed alias can be taken again
        assertOk(await srv.request('PUT', dir(alias), { token: tk.alice, body: { room_id: roomId } }));
    });
});

// ----------------------------------------------------------------------------

describe('auth rules through PUT /state (when that endpoint exists)', () => {
    const srv = useServer({ users: USERS });
    let tk;
    let roomId;

    before(async () => {
        tk = await loginAll(srv, ['alice', 'bob']);
        roomId = await createRoom(srv, tk.alice, {
            preset: 'public_chat',
            power_level_content_override: { users: { [uid('alice')]: 100, [uid('bob')]: 50 } },
        });
        await join(srv, tk.bob, roomId);
    });

    async function putState(token, type, key, content) {
        const p = key === '' ? `/state/${enc(type)}` : `/state/${enc(type)}/${enc(key)}`;
        return srv.request('PUT', roomPath(roomId, p), { token, body: content });
    }

    async function available() {
        assertOk(await putState(tk.alice, 'org.example.probe', '', { x: 1 }));
        return true;
    }

    it('a state event below state_default is refused', T, async (t) => {
        if (!(await available(t))) return;
        const r2 = await createRoom(srv, tk.alice, { preset: 'public_chat' });
        await join(srv, tk.bob, r2);
        const e = assertError(
            await srv.request('PUT', roomPath(r2, '/state/org.example.x'), { token: tk.bob, body: { a: 1 } }),
            403,
            'M_FORBIDDEN',
        );
        assert.match(e.error, /below the 50 needed/);
    });

    it('raising a power level above one\'s own is refused', T, async (t) => {
        if (!(await available(t))) return;
        const pl = await stateContent(srv, tk.alice, roomId, 'm.room.power_levels');
        // bob (50) may not send power levels at all (level 100 needed) ...
        assertError(await putState(tk.bob, 'm.room.power_levels', '', pl), 403, 'M_FORBIDDEN');
        // ... and once allowed to, may not grant more than his own level
        const pl2 = { ...pl, events: { ...pl.events, 'm.room.power_levels': 50 } };
        assertOk(await putState(tk.alice, 'm.room.power_levels', '', pl2));
        const raise = { ...pl2, users: { ...pl2.users, [uid('bob')]: 75 } };
        const e = assertError(await putState(tk.bob, 'm.room.power_levels', '', raise), 403, 'M_FORBIDDEN');
        assert.ok(e.error.length > 0);
        assert.equal((await stateContent(srv, tk.alice, roomId, 'm.room.power_levels')).users[uid('bob')], 50);
    });
});

// ----------------------------------------------------------------------------

describe('durability across a restart', () => {
    const srv = useServer({ users: USERS });
    let tk;

    async function snapshot(roomId, alias) {
        const st = (await stateOf(srv, tk.alice, roomId)).list;
        st.sort((a, b) => `${a.type}|${a.state_key}`.localeCompare(`${b.type}|${b.state_key}`));
        return {
            state: st,
            members: assertOk(await srv.request('GET', roomPath(roomId, '/members'), { token: tk.alice })).chunk.sort(
                (a, b) => a.state_key.localeCompare(b.state_key),
            ),
            joined: assertOk(await srv.request('GET', roomPath(roomId, '/joined_members'), { token: tk.alice })),
            aliceRooms: (await joinedRooms(srv, tk.alice)).sort(),
            bobRooms: (await joinedRooms(srv, tk.bob)).sort(),
            carolRooms: (await joinedRooms(srv, tk.carol)).sort(),
            alias: assertOk(await srv.request('GET', `${C}/directory/room/${enc(alias)}`, { token: tk.bob })),
        };
    }

    it('state, members, joined_rooms and aliases answer the same after a restart', T, async () => {
        tk = await loginAll(srv, ['alice', 'bob', 'carol', 'dave']);
        const roomId = await createRoom(srv, tk.alice, {
            name: 'Durable',
            topic: 'kept',
            room_alias_name: 'durable',
            invite: [uid('bob'), uid('carol')],
        });
        await join(srv, tk.bob, roomId);
        const dm = await createRoom(srv, tk.alice, { is_direct: true, preset: 'trusted_private_chat', invite: [uid('dave')] });
        assertOk(await srv.request('PUT', `${C}/directory/room/${enc(`#second:${SERVER}`)}`, {
            token: tk.bob,
            body: { room_id: roomId },
        }));
        assertOk(await post(srv, tk.alice, roomId, 'kick', { user_id: uid('carol') }));
        const before_ = await snapshot(roomId, `#durable:${SERVER}`);
        const dmBefore = (await stateOf(srv, tk.alice, dm)).list.length;

        await srv.restart();

        const after_ = await snapshot(roomId, `#durable:${SERVER}`);
        assert.deepEqual(after_, before_);
        assert.equal((await stateOf(srv, tk.alice, dm)).list.length, dmBefore);
        assertOk(await srv.request('GET', `${C}/directory/room/${enc(`#second:${SERVER}`)}`, { token: tk.bob }));
        // the alias is still taken, and the room still works
        assertError(
            await srv.request('POST', `${C}/createRoom`, { token: tk.bob, body: { room_alias_name: 'durable' } }),
            400,
            'M_ROOM_IN_USE',
        );
        assertOk(await post(srv, tk.alice, roomId, 'invite', { user_id: uid('carol') }));
        await join(srv, tk.carol, roomId);
        await join(srv, tk.dave, dm);
    });
});
