// admin.test.mjs: the admin API /_balai/admin/v1/users: access control,
// listing with paging, creation and its errors, deactivation.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, SLOW, useServer } from './lib/server.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

const A = '/_balai/admin/v1';
const enc = encodeURIComponent;

describe('admin API', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [
            { name: 'root', admin: true, displayname: 'The Admin' },
            { name: 'alice', displayname: 'Alice' },
            { name: 'bob' },
        ],
    });
    let root;
    let alice;

    before(async () => {
        root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
        alice = await srv.login('alice');
    });

    describe('access control', () => {
        const routes = [
            ['GET', `${A}/users`],
            ['GET', `${A}/users/${enc('@alice:balai.test')}`],
            ['POST', `${A}/users`, { username: 'sneaky', password: 'sneaky password' }],
            ['POST', `${A}/users/${enc('@bob:balai.test')}/deactivate`, {}],
        ];

        it('no token is 401 M_MISSING_TOKEN', T, async () => {
            for (const [m, p, body] of routes) assertError(await srv.request(m, p, { body }), 401, 'M_MISSING_TOKEN');
        });

        it('a bad token is 401 M_UNKNOWN_TOKEN', T, async () => {
            for (const [m, p, body] of routes)
                assertError(await srv.request(m, p, { body, token: 'bogus' }), 401, 'M_UNKNOWN_TOKEN');
        });

        it('a non-admin is 403 M_FORBIDDEN and changes nothing', T, async () => {
            for (const [m, p, body] of routes)
                assertError(await srv.request(m, p, { body, token: alice.access_token }), 403, 'M_FORBIDDEN');
            assertError(await srv.loginRaw('sneaky', 'sneaky password'), 403, 'M_FORBIDDEN');
            await srv.login('bob'); // not deactivated
        });
    });

    describe('listing', () => {
        it('lists users with their fields, including the system user', T, async () => {
            const j = assertOk(await srv.request('GET', `${A}/users`, { token: root.access_token }));
            assert.ok(Array.isArray(j.users));
            assert.equal(typeof j.total, 'number');
            assert.ok(j.total >= 4);
            const byId = Object.fromEntries(j.users.map((u) => [u.user_id, u]));
            for (const u of j.users) {
                assert.equal(typeof u.user_id, 'string');
                assert.equal(typeof u.admin, 'boolean');
                assert.equal(typeof u.deactivated, 'boolean');
                assert.equal(typeof u.system, 'boolean');
                assert.equal(typeof u.created_ts, 'number');
                assert.ok(u.displayname === null || typeof u.displayname === 'string');
            }
            const sys = byId['@balai:balai.test'];
            assert.ok(sys, 'system user missing');
            assert.equal(sys.system, true);
            assert.equal(byId['@root:balai.test'].admin, true);
            assert.equal(byId['@root:balai.test'].displayname, 'The Admin');
            assert.equal(byId['@alice:balai.test'].admin, false);
            assert.equal(byId['@alice:balai.test'].system, false);
            assert.equal(byId['@alice:balai.test'].deactivated, false);
            assert.equal(byId['@alice:balai.test'].displayname, 'Alice');
            const ts = byId['@alice:balai.test'].created_ts;
            assert.ok(ts > Date.now() - 3600_000 && ts <= Date.now() + 60_000, `created_ts ${ts}`);
            assert.equal(j.next_from, undefined);
        });

        it('GET /users/{userId} includes devices', T, async () => {
            const j = assertOk(
                await srv.request('GET', `${A}/users/${enc('@root:balai.test')}`, { token: root.access_token }),
            );
            assert.equal(j.user_id, '@root:balai.test');
            assert.equal(j.admin, true);
            assert.ok(Array.isArray(j.devices));
            assert.ok(j.devices.some((d) => d.device_id === 'ROOTDEV'), JSON.stringify(j.devices));
        });

        it('GET /users/{userId} of an unknown user is 404', T, async () => {
            assertError(
                await srv.request('GET', `${A}/users/${enc('@ghost:balai.test')}`, { token: root.access_token }),
                404,
                'M_NOT_FOUND',
            );
        });

        it('pages through ~25 users with limit=10 and next_from', T, async () => {
            const created = [];
            for (let i = 0; i < 25; i++) created.push(`pager${String(i).padStart(2, '0')}`);
            const rs = await Promise.all(
                created.map((username) =>
                    srv.request('POST', `${A}/users`, { token: root.access_token, body: { username } }),
                ),
            );
            for (const r of rs) assertOk(r);

            const all = assertOk(await srv.request('GET', `${A}/users?limit=1000`, { token: root.access_token }));
            const seen = [];
            let from;
            let pages = 0;
            for (;;) {
                const q = `limit=10${from ? `&from=${enc(from)}` : ''}`;
                const j = assertOk(await srv.request('GET', `${A}/users?${q}`, { token: root.access_token }));
                pages++;
                assert.ok(j.users.length <= 10, `page of ${j.users.length}`);
                assert.equal(j.total, all.total);
                seen.push(...j.users.map((u) => u.user_id));
                if (j.next_from === undefined || j.next_from === null) {
                    assert.ok(j.users.length >= 0);
                    break;
                }
                assert.equal(typeof j.next_from, 'string');
                assert.equal(j.users.length, 10, 'a page before the last is not full');
                from = j.next_from;
                assert.ok(pages < 20, 'paging does not end');
            }
            assert.equal(new Set(seen).size, seen.length, `duplicates across pages: ${seen}`);
            assert.equal(seen.length, all.total, `paged ${seen.length} of ${all.total}`);
            assert.deepEqual([...seen].sort(), all.users.map((u) => u.user_id).sort());
            for (const lp of created) assert.ok(seen.includes(`@${lp}:balai.test`), `${lp} missing`);
            assert.equal(pages, Math.ceil(all.total / 10));
        });

        it('an invalid limit is 400', T, async () => {
            for (const l of ['0', '-5', 'abc', '1e3x']) {
                assertError(await srv.request('GET', `${A}/users?limit=${l}`, { token: root.access_token }), 400);
            }
        });
    });

    describe('creating users', () => {
        it('creates a user with password and display name; the user can log in', T, async () => {
            const j = assertOk(
                await srv.request('POST', `${A}/users`, {
                    token: root.access_token,
                    body: { username: 'carol', password: 'carol password', displayname: 'Carol C.' },
                }),
            );
            assert.equal(j.user_id, '@carol:balai.test');
            assert.equal(j.admin, false);
            const c = await srv.login('carol', 'carol password');
            assert.equal(c.user_id, '@carol:balai.test');
            const u = assertOk(
                await srv.request('GET', `${A}/users/${enc('@carol:balai.test')}`, { token: root.access_token }),
            );
            assert.equal(u.displayname, 'Carol C.');
            assert.equal(u.admin, false);
            assert.equal(u.deactivated, false);
            const p = assertOk(
                await srv.request('GET', `/_matrix/client/v3/profile/${enc('@carol:balai.test')}`, {
                    token: c.access_token,
                }),
            );
            assert.equal(p.displayname, 'Carol C.');
            // not an admin
            assertError(await srv.request('GET', `${A}/users`, { token: c.access_token }), 403, 'M_FORBIDDEN');
        });

        it('creates an admin who can use the admin API', T, async () => {
            const j = assertOk(
                await srv.request('POST', `${A}/users`, {
                    token: root.access_token,
                    body: { username: 'dave', password: 'dave password', admin: true },
                }),
            );
            assert.deepEqual(j, { user_id: '@dave:balai.test', admin: true });
            const d = await srv.login('dave', 'dave password');
            assertOk(await srv.request('GET', `${A}/users`, { token: d.access_token }));
        });

        it('a user created without a password cannot log in', T, async () => {
            assertOk(
                await srv.request('POST', `${A}/users`, { token: root.access_token, body: { username: 'nopass' } }),
            );
            assertError(await srv.loginRaw('nopass', 'any password at all'), 403, 'M_FORBIDDEN');
            const empty = await srv.loginRaw('nopass', '');
            assert.ok(empty.status === 400 || empty.status === 403, empty.text);
        });

        it('a duplicate is 400 M_USER_IN_USE', T, async () => {
            for (const username of ['alice', 'root', 'balai']) {
                assertError(
                    await srv.request('POST', `${A}/users`, {
                        token: root.access_token,
                        body: { username, password: 'some password' },
                    }),
                    400,
                    'M_USER_IN_USE',
                );
            }
            await srv.login('alice'); // password unchanged
        });

        it('an invalid user name is 400 M_INVALID_USERNAME', T, async () => {
            for (const username of ['', 'with space', 'a:b', '@x:y', 'ünïcode', 'x'.repeat(300), 'semi;colon']) {
                assertError(
                    await srv.request('POST', `${A}/users`, {
                        token: root.access_token,
                        body: { username, password: 'some password' },
                    }),
                    400,
                    'M_INVALID_USERNAME',
                );
            }
        });

        it('a weak password is 400 M_WEAK_PASSWORD', T, async () => {
            for (const password of ['short', 'aaaaaaaaaaaa', 'weakling01']) {
                assertError(
                    await srv.request('POST', `${A}/users`, {
                        token: root.access_token,
                        body: { username: 'weakling01', password },
                    }),
                    400,
                    'M_WEAK_PASSWORD',
                );
            }
            assertError(
                await srv.request('GET', `${A}/users/${enc('@weakling01:balai.test')}`, { token: root.access_token }),
                404,
                'M_NOT_FOUND',
            );
        });

        it('missing and mistyped fields, malformed JSON are 400', T, async () => {
            const t = root.access_token;
            assertError(await srv.request('POST', `${A}/users`, { token: t, body: { password: 'x password' } }), 400, 'M_MISSING_PARAM');
            assertError(await srv.request('POST', `${A}/users`, { token: t, body: { username: 5 } }), 400, 'M_BAD_JSON');
            assertError(
                await srv.request('POST', `${A}/users`, { token: t, body: { username: 'eve', admin: 'yes' } }),
                400,
                'M_BAD_JSON',
            );
            assertError(
                await srv.request('POST', `${A}/users`, { token: t, body: { username: 'eve', password: 1234567890123 } }),
                400,
                'M_BAD_JSON',
            );
            assertError(
                await srv.request('POST', `${A}/users`, {
                    token: t,
                    raw: '{"username": "eve"',
                    headers: { 'content-type': 'application/json' },
                }),
                400,
                'M_NOT_JSON',
            );
            assertError(
                await srv.request('GET', `${A}/users/${enc('@eve:balai.test')}`, { token: t }),
                404,
                'M_NOT_FOUND',
            );
        });
    });

    describe('deactivation', () => {
        it('kills every session at once and refuses login afterwards', T, async () => {
            const b1 = await srv.login('bob', PW, { device_id: 'BOB1' });
            const b2 = await srv.login('bob', PW, { device_id: 'BOB2' });
            const j = assertOk(
                await srv.request('POST', `${A}/users/${enc('@bob:balai.test')}/deactivate`, {
                    token: root.access_token,
                    body: {},
                }),
            );
            assert.equal(j.user_id ?? '@bob:balai.test', '@bob:balai.test');
            assertError(await srv.whoami(b1.access_token), 401, 'M_UNKNOWN_TOKEN');
            assertError(await srv.whoami(b2.access_token), 401, 'M_UNKNOWN_TOKEN');
            assertError(
                await srv.request('GET', '/_matrix/client/v3/devices', { token: b1.access_token }),
                401,
                'M_UNKNOWN_TOKEN',
            );
            const l = await srv.loginRaw('bob', PW);
            assertError(l, 403, ['M_FORBIDDEN', 'M_USER_DEACTIVATED']);
            const u = assertOk(
                await srv.request('GET', `${A}/users/${enc('@bob:balai.test')}`, { token: root.access_token }),
            );
            assert.equal(u.deactivated, true);
            const list = assertOk(await srv.request('GET', `${A}/users?limit=1000`, { token: root.access_token }));
            assert.equal(list.users.find((x) => x.user_id === '@bob:balai.test').deactivated, true);
            // other users are untouched
            assertOk(await srv.whoami(alice.access_token));
        });

        it('deactivating twice is harmless', T, async () => {
            const r = await srv.request('POST', `${A}/users/${enc('@bob:balai.test')}/deactivate`, {
                token: root.access_token,
                body: {},
            });
            assertOk(r);
        });

        it('an unknown user is 404', T, async () => {
            assertError(
                await srv.request('POST', `${A}/users/${enc('@ghost:balai.test')}/deactivate`, {
                    token: root.access_token,
                    body: {},
                }),
                404,
                'M_NOT_FOUND',
            );
        });

        it('the system user cannot be deactivated', T, async () => {
            const r = await srv.request('POST', `${A}/users/${enc('@balai:balai.test')}/deactivate`, {
                token: root.access_token,
                body: {},
            });
            assert.notEqual(r.status, 200, r.text);
            const u = assertOk(
                await srv.request('GET', `${A}/users/${enc('@balai:balai.test')}`, { token: root.access_token }),
            );
            assert.equal(u.deactivated, false);
        });

        it('a deactivated admin loses admin access at once', T, async () => {
            const e = assertOk(
                await srv.request('POST', `${A}/users`, {
                    token: root.access_token,
                    body: { username: 'exadmin', password: 'exadmin password', admin: true },
                }),
            );
            assert.equal(e.admin, true);
            const ex = await srv.login('exadmin', 'exadmin password');
            assertOk(await srv.request('GET', `${A}/users`, { token: ex.access_token }));
            assertOk(
                await srv.request('POST', `${A}/users/${enc('@exadmin:balai.test')}/deactivate`, {
                    token: root.access_token,
                    body: {},
                }),
            );
            assertError(await srv.request('GET', `${A}/users`, { token: ex.access_token }), 401, 'M_UNKNOWN_TOKEN');
        });

        it('deactivation survives a restart', T, async () => {
            const c = await srv.login('carol', 'carol password');
            assertOk(
                await srv.request('POST', `${A}/users/${enc('@carol:balai.test')}/deactivate`, {
                    token: root.access_token,
                    body: {},
                }),
            );
            await srv.restart();
            assertError(await srv.whoami(c.access_token), 401, 'M_UNKNOWN_TOKEN');
            assertError(await srv.loginRaw('carol', 'carol password'), 403, ['M_FORBIDDEN', 'M_USER_DEACTIVATED']);
            assertError(await srv.loginRaw('bob', PW), 403, ['M_FORBIDDEN', 'M_USER_DEACTIVATED']);
            const u = assertOk(
                await srv.request('GET', `${A}/users/${enc('@carol:balai.test')}`, { token: root.access_token }),
            );
            assert.equal(u.deactivated, true);
        });
    });

    describe('POST /users/{userId}/password', () => {
        const path = (u) => `${A}/users/${enc(u)}/password`;
        it('an admin sets a password for a person without one; old sessions end', T, async () => {
            // created without a password (as a directory import does): cannot log in yet
            assertOk(await srv.request('POST', `${A}/users`, { token: root.access_token, body: { username: 'newhire' } }));
            assertError(await srv.loginRaw('newhire', 'a fine new password'), 403, 'M_FORBIDDEN');
            assertOk(await srv.request('POST', path('@newhire:balai.test'), {
                token: root.access_token, body: { password: 'a fine new password' },
            }));
            const s1 = await srv.login('newhire', 'a fine new password');
            // a reset logs every device out by default...
            assertOk(await srv.request('POST', path('@newhire:balai.test'), {
                token: root.access_token, body: { password: 'another fine password' },
            }));
            assertError(await srv.whoami(s1.access_token), 401, 'M_UNKNOWN_TOKEN');
            assertError(await srv.loginRaw('newhire', 'a fine new password'), 403, 'M_FORBIDDEN');
            const s2 = await srv.login('newhire', 'another fine password');
            // ...unless asked not to
            assertOk(await srv.request('POST', path('@newhire:balai.test'), {
                token: root.access_token, body: { password: 'a third fine password', logout_devices: false },
            }));
            assertOk(await srv.whoami(s2.access_token));
        });

        it('refuses bad input, unknown users, non-admins and missing tokens', T, async () => {
            const u = '@alice:balai.test';
            assertError(await srv.request('POST', path(u), { body: { password: 'x'.repeat(20) } }), 401, 'M_MISSING_TOKEN');
            assertError(await srv.request('POST', path(u), { token: alice.access_token, body: { password: 'x'.repeat(20) } }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', path('@nobody:balai.test'), { token: root.access_token, body: { password: 'a fine new password' } }), 404, 'M_NOT_FOUND');
            assertError(await srv.request('POST', path(u), { token: root.access_token, body: {} }), 400, 'M_MISSING_PARAM');
            assertError(await srv.request('POST', path(u), { token: root.access_token, body: { password: 12 } }), 400, 'M_BAD_JSON');
            assertError(await srv.request('POST', path(u), { token: root.access_token, body: { password: 'short' } }), 400, 'M_WEAK_PASSWORD');
            assertError(await srv.request('POST', path(u), { token: root.access_token, raw: '{nope' }), 400, 'M_NOT_JSON');
            // alice's password is unchanged
            assertOk(await srv.whoami(alice.access_token));
            await srv.login('alice');
        });
    });
});
