// client_compat.test.mjs: what real Matrix clients found missing when tried
// against Balai (weechat-matrix over matrix-nio): the r0 path prefix, both
// keys in joined_members, display names carried into member events, and the
// settings-page endpoints with their empty answers.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const R0 = '/_matrix/client/r0';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

describe('client compatibility', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice, bob, room, room2;

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        let r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        room = r.json.room_id;
        r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        room2 = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
    });

    it('the r0 prefix reaches the same endpoints as v3', T, async () => {
        const flows = await srv.request('GET', `${R0}/login`);
        assertOk(flows);
        assert.ok(flows.json.flows.some((f) => f.type === 'm.login.password'));
        const who = await srv.request('GET', `${R0}/account/whoami`, { token: alice });
        assertOk(who);
        assert.equal(who.json.user_id, srv.userId('alice'));
        assertError(await srv.request('GET', `${R0}/account/whoami`), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('GET', `${R0}/no/such/thing`, { token: alice }), 404, 'M_UNRECOGNIZED');
    });

    it('a user created without a display name is shown by their localpart', T, async () => {
        const p = await srv.request('GET', `${C}/profile/${enc(srv.userId('bob'))}`, { token: alice });
        assertOk(p);
        assert.equal(p.json.displayname, 'bob');
        // also for a user added while the server runs (through the admin API)
        await srv.addUser('carol');
        const c = await srv.request('GET', `${C}/profile/${enc(srv.userId('carol'))}`, { token: alice });
        assertOk(c);
        assert.equal(c.json.displayname, 'carol');
    });

    it('an invite carries the invitee\'s display name', T, async () => {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'private_chat', invite: [srv.userId('bob')] } });
        assertOk(r);
        const m = await srv.request('GET', `${C}/rooms/${enc(r.json.room_id)}/state/m.room.member/${enc(srv.userId('bob'))}`, { token: alice });
        assertOk(m);
        assert.equal(m.json.membership, 'invite');
        assert.equal(m.json.displayname, 'bob');
    });

    it('joined_members lists display_name and avatar_url, null when unset', T, async () => {
        const r = await srv.request('GET', `${C}/rooms/${enc(room)}/joined_members`, { token: bob });
        assertOk(r);
        const me = r.json.joined[srv.userId('bob')];
        assert.ok(me, 'bob is listed');
        assert.ok('display_name' in me && 'avatar_url' in me, JSON.stringify(me));
        assert.equal(me.avatar_url, null);
    });

    it('a new display name is carried into the member event of every joined room', T, async () => {
        assertOk(await srv.request('PUT', `${C}/profile/${enc(srv.userId('alice'))}/displayname`, {
            token: alice,
            body: { displayname: 'Alice Nurse' },
        }));
        for (const r of [room, room2]) {
            const m = await srv.request('GET', `${C}/rooms/${enc(r)}/state/m.room.member/${enc(srv.userId('alice'))}`, {
                token: alice,
            });
            assertOk(m);
            assert.equal(m.json.displayname, 'Alice Nurse');
            assert.equal(m.json.membership, 'join');
        }
        const j = await srv.request('GET', `${C}/rooms/${enc(room)}/joined_members`, { token: bob });
        assert.equal(j.json.joined[srv.userId('alice')].display_name, 'Alice Nurse');
        // removing it removes it from the member events too
        assertOk(await srv.request('PUT', `${C}/profile/${enc(srv.userId('alice'))}/displayname`, {
            token: alice,
            body: { displayname: null },
        }));
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(srv.userId('alice'))}`, {
            token: alice,
        });
        assert.equal(m.json.displayname, undefined);
        // a room bob left is not touched
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/leave`, { token: bob, body: {} }));
        assertOk(await srv.request('PUT', `${C}/profile/${enc(srv.userId('bob'))}/displayname`, {
            token: bob,
            body: { displayname: 'Bob' },
        }));
        const left = await srv.request('GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(srv.userId('bob'))}`, {
            token: alice,
        });
        assert.equal(left.json.membership, 'leave');
        assert.equal(left.json.displayname, undefined);
    });

    it('settings-page endpoints answer empty lists, and need a token', T, async () => {
        const cases = [
            ['/account/3pid', { threepids: [] }],
            ['/thirdparty/protocols', {}],
            ['/pushers', { pushers: [] }],
            ['/voip/turnServer', {}],
        ];
        for (const [p, want] of cases) {
            const r = await srv.request('GET', `${C}${p}`, { token: alice });
            assertOk(r);
            assert.deepEqual(r.json, want, p);
            assertError(await srv.request('GET', `${C}${p}`), 401, 'M_MISSING_TOKEN');
        }
    });
});
