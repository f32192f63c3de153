// accounts.test.mjs: login, logout, whoami, password change, registration,
// devices and profiles (Matrix CS API v1.12), with every error case.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, sleep, SLOW, useServer } from './lib/server.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Generous limits so that the many logins below are not throttled; the
// throttling blocks further down run their own servers with low limits.
const RELAXED = {
    BALAI_LOGIN_ACCOUNT_FAILURES: 100000,
    BALAI_LOGIN_IP_ATTEMPTS: 100000,
};

function uiaAuth(user, password = PW, session) {
    return {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password,
        ...(session ? { session } : {}),
    };
}

function assertUia401(res) {
    assert.equal(res.status, 401, `${res.method} ${res.path}: ${res.status} ${res.text}`);
    const j = res.json;
    assert.ok(Array.isArray(j.flows), `no flows: ${res.text}`);
    assert.ok(
        j.flows.some((f) => Array.isArray(f.stages) && f.stages.includes('m.login.password')),
        `no m.login.password flow: ${res.text}`,
    );
    assert.equal(typeof j.params, 'object');
    assert.equal(typeof j.session, 'string');
    assert.ok(j.session.length > 0);
    return j;
}

describe('login', () => {
    const srv = useServer({
        env: RELAXED,
        users: [
            { name: 'alice', displayname: 'Alice' },
            { name: 'bob' },
        ],
    });

    it('GET /login offers m.login.password', T, async () => {
        const j = assertOk(await srv.request('GET', `${C}/login`));
        assert.ok(Array.isArray(j.flows));
        assert.ok(j.flows.some((f) => f.type === 'm.login.password'), JSON.stringify(j));
    });

    it('logs in with the localpart', T, async () => {
        const j = await srv.login('alice');
        assert.equal(j.user_id, '@alice:balai.test');
        assert.equal(j.home_server, 'balai.test');
        assert.equal(typeof j.access_token, 'string');
        assert.ok(j.access_token.length >= 16);
        assert.equal(typeof j.device_id, 'string');
        assert.ok(j.device_id.length > 0);
    });

    it('logs in with the full user id', T, async () => {
        const j = await srv.login('@alice:balai.test');
        assert.equal(j.user_id, '@alice:balai.test');
    });

    it('logs in with an upper-case localpart (ids are case-insensitive at login)', T, async () => {
        const j = await srv.login('ALICE');
        assert.equal(j.user_id, '@alice:balai.test');
    });

    it('logs in with the deprecated top-level "user" field', T, async () => {
        const j = assertOk(
            await srv.request('POST', `${C}/login`, {
                body: { type: 'm.login.password', user: 'alice', password: PW },
            }),
        );
        assert.equal(j.user_id, '@alice:balai.test');
    });

    it('each login gets a distinct token and device', T, async () => {
        const a = await srv.login('alice');
        const b = await srv.login('alice');
        assert.notEqual(a.access_token, b.access_token);
        assert.notEqual(a.device_id, b.device_id);
        assertOk(await srv.whoami(a.access_token));
        assertOk(await srv.whoami(b.access_token));
    });

    it('keeps a requested device_id and initial display name', T, async () => {
        const j = await srv.login('alice', PW, {
            device_id: 'ALICEPHONE',
            initial_device_display_name: "Alice's phone",
        });
        assert.equal(j.device_id, 'ALICEPHONE');
        const d = assertOk(await srv.request('GET', `${C}/devices/ALICEPHONE`, { token: j.access_token }));
        assert.equal(d.device_id, 'ALICEPHONE');
        assert.equal(d.display_name, "Alice's phone");
    });

    it('reusing a device_id logs out that device\'s old token', T, async () => {
        const first = await srv.login('bob', PW, { device_id: 'BOBLAPTOP' });
        const second = await srv.login('bob', PW, { device_id: 'BOBLAPTOP' });
        assert.equal(second.device_id, 'BOBLAPTOP');
        assertError(await srv.whoami(first.access_token), 401, 'M_UNKNOWN_TOKEN');
        const who = assertOk(await srv.whoami(second.access_token));
        assert.equal(who.device_id, 'BOBLAPTOP');
        const devs = assertOk(await srv.request('GET', `${C}/devices`, { token: second.access_token }));
        assert.equal(devs.devices.filter((d) => d.device_id === 'BOBLAPTOP').length, 1);
    });

    it('a device_id of another user\'s device does not touch that device', T, async () => {
        const a = await srv.login('alice', PW, { device_id: 'SHAREDNAME' });
        const b = await srv.login('bob', PW, { device_id: 'SHAREDNAME' });
        assert.equal(b.user_id, '@bob:balai.test');
        assertOk(await srv.whoami(a.access_token));
        assertOk(await srv.whoami(b.access_token));
        assertOk(await srv.request('POST', `${C}/logout`, { token: b.access_token, body: {} }));
        const who = assertOk(await srv.whoami(a.access_token));
        assert.equal(who.device_id, 'SHAREDNAME');
    });

    it('30 concurrent logins all succeed with distinct tokens', T, async () => {
        const rs = await Promise.all(Array.from({ length: 30 }, () => srv.loginRaw('bob', PW)));
        for (const r of rs) assertOk(r);
        const tokens = new Set(rs.map((r) => r.json.access_token));
        const devices = new Set(rs.map((r) => r.json.device_id));
        assert.equal(tokens.size, 30);
        assert.equal(devices.size, 30);
        const who = await Promise.all(rs.map((r) => srv.whoami(r.json.access_token)));
        for (const w of who) assert.equal(assertOk(w).user_id, '@bob:balai.test');
    });

    it('a wrong password is 403 M_FORBIDDEN', T, async () => {
        assertError(await srv.loginRaw('alice', 'not the password'), 403, 'M_FORBIDDEN');
    });

    it('an unknown user is 403 M_FORBIDDEN (same answer as a wrong password)', T, async () => {
        assertError(await srv.loginRaw('nosuchuser', PW), 403, 'M_FORBIDDEN');
        assertError(await srv.loginRaw('@alice:other.server', PW), 403, 'M_FORBIDDEN');
        assertError(await srv.loginRaw('not a valid name!', PW), 403, 'M_FORBIDDEN');
    });

    it('the system user cannot log in', T, async () => {
        const r = await srv.loginRaw('balai', PW);
        assert.equal(r.status, 403, r.text);
    });

    it('an unsupported login type is 400', T, async () => {
        for (const type of ['m.login.token', 'm.login.sso', 'org.example.custom']) {
            const r = await srv.request('POST', `${C}/login`, {
                body: { type, identifier: { type: 'm.id.user', user: 'alice' }, password: PW, token: 'x' },
            });
            assertError(r, 400);
        }
    });

    it('an unsupported identifier type is 400', T, async () => {
        const r = await srv.request('POST', `${C}/login`, {
            body: {
                type: 'm.login.password',
                identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b.c' },
                password: PW,
            },
        });
        assertError(r, 400);
    });

    it('missing fields are 400 M_MISSING_PARAM', T, async () => {
        const cases = [
            { identifier: { type: 'm.id.user', user: 'alice' }, password: PW }, // no type
            { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' } }, // no password
            { type: 'm.login.password', identifier: { type: 'm.id.user' }, password: PW }, // no user
            { type: 'm.login.password', password: PW }, // no identifier, no user
        ];
        for (const body of cases) {
            const r = await srv.request('POST', `${C}/login`, { body });
            assertError(r, 400, 'M_MISSING_PARAM');
        }
    });

    it('wrong types are 400 M_BAD_JSON', T, async () => {
        const ok = { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' }, password: PW };
        const cases = [
            { ...ok, type: 5 },
            { ...ok, password: 123456789012 },
            { ...ok, identifier: 'alice' },
            { ...ok, identifier: { type: 'm.id.user', user: ['alice'] } },
            { ...ok, device_id: 7 },
            { ...ok, initial_device_display_name: { x: 1 } },
        ];
        for (const body of cases) {
            const r = await srv.request('POST', `${C}/login`, { body });
            assertError(r, 400, 'M_BAD_JSON');
        }
        const r = await srv.request('POST', `${C}/login`, { body: { ...ok, password: null } });
        assertError(r, 400, ['M_BAD_JSON', 'M_MISSING_PARAM']);
    });

    it('malformed JSON is 400 M_NOT_JSON', T, async () => {
        for (const raw of ['{', '{"type": "m.login.password",}', 'not json', "{'a': 1}", '{"a":1}garbage']) {
            const r = await srv.request('POST', `${C}/login`, {
                raw,
                headers: { 'content-type': 'application/json' },
            });
            assertError(r, 400, 'M_NOT_JSON');
        }
    });

    it('a JSON body that is not an object is 400', T, async () => {
        for (const raw of ['[]', '"string"', '42', 'null']) {
            const r = await srv.request('POST', `${C}/login`, {
                raw,
                headers: { 'content-type': 'application/json' },
            });
            assertError(r, 400, ['M_NOT_JSON', 'M_BAD_JSON']);
        }
    });

    it('invalid UTF-8 in the body is 400 M_NOT_JSON', T, async () => {
        const raw = Buffer.concat([
            Buffer.from('{"type":"m.login.password","password":"'),
            Buffer.from([0xff, 0xfe, 0xc0]),
            Buffer.from('","identifier":{"type":"m.id.user","user":"alice"}}'),
        ]);
        const r = await srv.request('POST', `${C}/login`, {
            raw,
            headers: { 'content-type': 'application/json' },
        });
        assertError(r, 400, 'M_NOT_JSON');
    });

    it('an empty body is 400', T, async () => {
        const r = await srv.request('POST', `${C}/login`, {
            raw: '',
            headers: { 'content-type': 'application/json' },
        });
        assertError(r, 400, ['M_NOT_JSON', 'M_MISSING_PARAM', 'M_BAD_JSON']);
    });

    it('an invalid device_id is 400', T, async () => {
        const r = await srv.loginRaw('alice', PW, { device_id: 'has space' });
        assertError(r, 400);
        const r2 = await srv.loginRaw('alice', PW, { device_id: '' });
        assertError(r2, 400);
    });
});

describe('whoami and tokens', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }] });
    let a;
    before(async () => {
        a = await srv.login('alice');
    });

    it('whoami returns user_id, device_id and is_guest false', T, async () => {
        const j = assertOk(await srv.whoami(a.access_token));
        assert.deepEqual(j, { user_id: '@alice:balai.test', device_id: a.device_id, is_guest: false });
    });

    it('accepts the token as ?access_token=', T, async () => {
        const j = assertOk(
            await srv.request('GET', `${C}/account/whoami?access_token=${enc(a.access_token)}`),
        );
        assert.equal(j.user_id, '@alice:balai.test');
    });

    it('a missing token is 401 M_MISSING_TOKEN', T, async () => {
        assertError(await srv.request('GET', `${C}/account/whoami`), 401, 'M_MISSING_TOKEN');
    });

    it('an unknown token is 401 M_UNKNOWN_TOKEN', T, async () => {
        assertError(await srv.whoami('syt_not_a_real_token'), 401, 'M_UNKNOWN_TOKEN');
        assertError(
            await srv.request('GET', `${C}/account/whoami?access_token=nope`),
            401,
            'M_UNKNOWN_TOKEN',
        );
        // a prefix or extension of a real token is not the token
        assertError(await srv.whoami(a.access_token.slice(0, -1)), 401, 'M_UNKNOWN_TOKEN');
        assertError(await srv.whoami(a.access_token + 'x'), 401, 'M_UNKNOWN_TOKEN');
    });

    it('a non-Bearer Authorization header is 401', T, async () => {
        const r = await srv.request('GET', `${C}/account/whoami`, {
            headers: { authorization: `Basic ${Buffer.from('alice:x').toString('base64')}` },
        });
        assertError(r, 401, ['M_UNKNOWN_TOKEN', 'M_MISSING_TOKEN']);
    });

    it('the Bearer scheme is case-insensitive', T, async () => {
        const r = await srv.request('GET', `${C}/account/whoami`, {
            headers: { authorization: `bearer ${a.access_token}` },
        });
        assertOk(r);
    });
});

describe('logout', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });

    it('kills the token at once and deletes the device', T, async () => {
        const keep = await srv.login('alice', PW, { device_id: 'KEEP' });
        const gone = await srv.login('alice', PW, { device_id: 'GONE' });
        assertOk(await srv.request('POST', `${C}/logout`, { token: gone.access_token, body: {} }));
        assertError(await srv.whoami(gone.access_token), 401, 'M_UNKNOWN_TOKEN');
        const devs = assertOk(await srv.request('GET', `${C}/devices`, { token: keep.access_token }));
        const ids = devs.devices.map((d) => d.device_id);
        assert.ok(!ids.includes('GONE'), `device still listed: ${ids}`);
        assert.ok(ids.includes('KEEP'));
        assertOk(await srv.whoami(keep.access_token));
    });

    it('works without a body', T, async () => {
        const s = await srv.login('alice');
        assertOk(await srv.request('POST', `${C}/logout`, { token: s.access_token }));
        assertError(await srv.whoami(s.access_token), 401, 'M_UNKNOWN_TOKEN');
    });

    it('a second logout with the dead token is 401', T, async () => {
        const s = await srv.login('alice');
        assertOk(await srv.request('POST', `${C}/logout`, { token: s.access_token, body: {} }));
        assertError(
            await srv.request('POST', `${C}/logout`, { token: s.access_token, body: {} }),
            401,
            'M_UNKNOWN_TOKEN',
        );
    });

    it('without a token is 401 M_MISSING_TOKEN', T, async () => {
        assertError(await srv.request('POST', `${C}/logout`, { body: {} }), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('POST', `${C}/logout/all`, { body: {} }), 401, 'M_MISSING_TOKEN');
    });

    it('logout/all kills every token of the user and no one else\'s', T, async () => {
        const a1 = await srv.login('alice');
        const a2 = await srv.login('alice');
        const a3 = await srv.login('alice');
        const b = await srv.login('bob');
        assertOk(await srv.request('POST', `${C}/logout/all`, { token: a2.access_token, body: {} }));
        for (const s of [a1, a2, a3]) assertError(await srv.whoami(s.access_token), 401, 'M_UNKNOWN_TOKEN');
        assertOk(await srv.whoami(b.access_token));
        const fresh = await srv.login('alice');
        const devs = assertOk(await srv.request('GET', `${C}/devices`, { token: fresh.access_token }));
        assert.deepEqual(
            devs.devices.map((d) => d.device_id),
            [fresh.device_id],
        );
    });
});

describe('password change', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }, { name: 'longusername' }],
    });
    const URL = `${C}/account/password`;

    it('without a token is 401 M_MISSING_TOKEN', T, async () => {
        assertError(
            await srv.request('POST', URL, { body: { new_password: 'another good password' } }),
            401,
            'M_MISSING_TOKEN',
        );
    });

    it('without auth answers 401 with flows, params and session', T, async () => {
        const a = await srv.login('alice');
        assertUia401(
            await srv.request('POST', URL, {
                token: a.access_token,
                body: { new_password: 'another good password' },
            }),
        );
    });

    it('a wrong old password is 401 with errcode M_FORBIDDEN and nothing changes', T, async () => {
        const a = await srv.login('alice');
        const first = assertUia401(
            await srv.request('POST', URL, {
                token: a.access_token,
                body: { new_password: 'another good password' },
            }),
        );
        const r = await srv.request('POST', URL, {
            token: a.access_token,
            body: {
                new_password: 'another good password',
                auth: uiaAuth('alice', 'wrong old password', first.session),
            },
        });
        const j = assertUia401(r);
        assert.equal(j.errcode, 'M_FORBIDDEN');
        assert.equal(typeof j.error, 'string');
        await srv.login('alice', PW); // old password still valid
        assertError(await srv.loginRaw('alice', 'another good password'), 403, 'M_FORBIDDEN');
    });

    it('authenticating as another user does not change anything', T, async () => {
        const a = await srv.login('alice');
        const r = await srv.request('POST', URL, {
            token: a.access_token,
            body: { new_password: 'hijacked password!', auth: uiaAuth('bob') },
        });
        assert.notEqual(r.status, 200, `changed alice's password with bob's credentials: ${r.text}`);
        assert.ok(r.status === 401 || r.status === 403, r.text);
        await srv.login('alice', PW);
        await srv.login('bob', PW);
        assertError(await srv.loginRaw('alice', 'hijacked password!'), 403, 'M_FORBIDDEN');
    });

    it('weak new passwords are 400 M_WEAK_PASSWORD', T, async () => {
        const a = await srv.login('alice');
        for (const pw of ['short', 'zzzzzzzzzzzzzzz', 'alice', 'ALICE', 'ninechars']) {
            const r = await srv.request('POST', URL, {
                token: a.access_token,
                body: { new_password: pw, auth: uiaAuth('alice') },
            });
            assertError(r, 400, 'M_WEAK_PASSWORD');
        }
        await srv.login('alice', PW);
    });

    it('the user name as new password is 400 M_WEAK_PASSWORD', T, async () => {
        const l = await srv.login('longusername');
        for (const pw of ['longusername', 'LongUserName']) {
            const r = await srv.request('POST', URL, {
                token: l.access_token,
                body: { new_password: pw, auth: uiaAuth('longusername') },
            });
            assertError(r, 400, 'M_WEAK_PASSWORD');
        }
        await srv.login('longusername', PW);
    });

    it('missing or mistyped fields are 400', T, async () => {
        const a = await srv.login('alice');
        assertError(
            await srv.request('POST', URL, { token: a.access_token, body: { auth: uiaAuth('alice') } }),
            400,
            'M_MISSING_PARAM',
        );
        assertError(
            await srv.request('POST', URL, {
                token: a.access_token,
                body: { new_password: 12345678901, auth: uiaAuth('alice') },
            }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('POST', URL, {
                token: a.access_token,
                body: { new_password: 'another good password', logout_devices: 'yes', auth: uiaAuth('alice') },
            }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('POST', URL, {
                token: a.access_token,
                raw: '{"new_password": ',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
        await srv.login('alice', PW);
    });

    it('succeeds with the session from the 401 and logs out the other devices', T, async () => {
        const here = await srv.login('bob', PW, { device_id: 'BOBHERE' });
        const other1 = await srv.login('bob', PW, { device_id: 'BOBOTHER1' });
        const other2 = await srv.login('bob', PW, { device_id: 'BOBOTHER2' });
        const first = assertUia401(
            await srv.request('POST', URL, {
                token: here.access_token,
                body: { new_password: 'bob new password 1' },
            }),
        );
        const r = await srv.request('POST', URL, {
            token: here.access_token,
            body: { new_password: 'bob new password 1', auth: uiaAuth('bob', PW, first.session) },
        });
        assert.deepEqual(assertOk(r), {});
        assertOk(await srv.whoami(here.access_token));
        assertError(await srv.whoami(other1.access_token), 401, 'M_UNKNOWN_TOKEN');
        assertError(await srv.whoami(other2.access_token), 401, 'M_UNKNOWN_TOKEN');
        const devs = assertOk(await srv.request('GET', `${C}/devices`, { token: here.access_token }));
        assert.deepEqual(
            devs.devices.map((d) => d.device_id),
            ['BOBHERE'],
        );
        assertError(await srv.loginRaw('bob', PW), 403, 'M_FORBIDDEN');
        await srv.login('bob', 'bob new password 1');
    });

    it('logout_devices:false keeps the other devices', T, async () => {
        const here = await srv.login('carol');
        const other = await srv.login('carol');
        const r = await srv.request('POST', URL, {
            token: here.access_token,
            body: {
                new_password: 'carol new password',
                logout_devices: false,
                auth: uiaAuth('@carol:balai.test'),
            },
        });
        assertOk(r);
        assertOk(await srv.whoami(here.access_token));
        assertOk(await srv.whoami(other.access_token));
        assertError(await srv.loginRaw('carol', PW), 403, 'M_FORBIDDEN');
        await srv.login('carol', 'carol new password');
    });

    it('an unknown UIA session is refused', T, async () => {
        const a = await srv.login('alice');
        const r = await srv.request('POST', URL, {
            token: a.access_token,
            body: { new_password: 'another good password', auth: uiaAuth('alice', PW, 'nosuchsession') },
        });
        assert.equal(r.status, 401, r.text);
        await srv.login('alice', PW);
    });
});

describe('registration is closed', () => {
    const srv = useServer({ env: RELAXED });

    it('POST /register is 403 M_FORBIDDEN', T, async () => {
        assertError(
            await srv.request('POST', `${C}/register`, {
                body: { username: 'mallory', password: 'mallory password', auth: { type: 'm.login.dummy' } },
            }),
            403,
            'M_FORBIDDEN',
        );
        assertError(await srv.request('POST', `${C}/register?kind=guest`, { body: {} }), 403, 'M_FORBIDDEN');
        assertError(await srv.loginRaw('mallory', 'mallory password'), 403, 'M_FORBIDDEN');
    });
});

describe('devices', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let a;
    let bob;
    before(async () => {
        a = await srv.login('alice', PW, { device_id: 'A1', initial_device_display_name: 'Desk' });
        bob = await srv.login('bob', PW, { device_id: 'BOBDEV' });
    });

    it('GET /devices lists the user\'s devices', T, async () => {
        const j = assertOk(await srv.request('GET', `${C}/devices`, { token: a.access_token }));
        assert.ok(Array.isArray(j.devices));
        const d = j.devices.find((x) => x.device_id === 'A1');
        assert.ok(d, JSON.stringify(j));
        assert.equal(d.display_name, 'Desk');
        assert.ok(!j.devices.some((x) => x.device_id === 'BOBDEV'), 'lists another user\'s device');
    });

    it('GET /devices needs a token', T, async () => {
        assertError(await srv.request('GET', `${C}/devices`), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('GET', `${C}/devices`, { token: 'bogus' }), 401, 'M_UNKNOWN_TOKEN');
    });

    it('GET /devices/{id}: own device, unknown and another user\'s are 404', T, async () => {
        const d = assertOk(await srv.request('GET', `${C}/devices/A1`, { token: a.access_token }));
        assert.equal(d.device_id, 'A1');
        assertError(await srv.request('GET', `${C}/devices/NOPE`, { token: a.access_token }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('GET', `${C}/devices/BOBDEV`, { token: a.access_token }), 404, 'M_NOT_FOUND');
    });

    it('PUT /devices/{id} renames', T, async () => {
        assertOk(
            await srv.request('PUT', `${C}/devices/A1`, { token: a.access_token, body: { display_name: 'Laptop 🖥' } }),
        );
        const d = assertOk(await srv.request('GET', `${C}/devices/A1`, { token: a.access_token }));
        assert.equal(d.display_name, 'Laptop 🖥');
    });

    it('PUT /devices/{id} errors: unknown, other user\'s, wrong type, bad JSON', T, async () => {
        assertError(
            await srv.request('PUT', `${C}/devices/NOPE`, { token: a.access_token, body: { display_name: 'x' } }),
            404,
            'M_NOT_FOUND',
        );
        assertError(
            await srv.request('PUT', `${C}/devices/BOBDEV`, { token: a.access_token, body: { display_name: 'pwned' } }),
            404,
            'M_NOT_FOUND',
        );
        const bd = assertOk(await srv.request('GET', `${C}/devices/BOBDEV`, { token: bob.access_token }));
        assert.notEqual(bd.display_name, 'pwned');
        assertError(
            await srv.request('PUT', `${C}/devices/A1`, { token: a.access_token, body: { display_name: 42 } }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('PUT', `${C}/devices/A1`, {
                token: a.access_token,
                raw: '{"display_name":',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
    });

    it('DELETE /devices/{id} requires UIA; a wrong password is 401 M_FORBIDDEN', T, async () => {
        const victim = await srv.login('alice', PW, { device_id: 'A2' });
        const first = assertUia401(await srv.request('DELETE', `${C}/devices/A2`, { token: a.access_token }));
        const wrong = assertUia401(
            await srv.request('DELETE', `${C}/devices/A2`, {
                token: a.access_token,
                body: { auth: uiaAuth('alice', 'wrong password', first.session) },
            }),
        );
        assert.equal(wrong.errcode, 'M_FORBIDDEN');
        assertOk(await srv.whoami(victim.access_token));
        const again = assertUia401(
            await srv.request('DELETE', `${C}/devices/A2`, { token: a.access_token, body: {} }),
        );
        assertOk(
            await srv.request('DELETE', `${C}/devices/A2`, {
                token: a.access_token,
                body: { auth: uiaAuth('alice', PW, again.session) },
            }),
        );
        assertError(await srv.whoami(victim.access_token), 401, 'M_UNKNOWN_TOKEN');
        assertError(await srv.request('GET', `${C}/devices/A2`, { token: a.access_token }), 404, 'M_NOT_FOUND');
        assertOk(await srv.whoami(a.access_token));
    });

    it('DELETE /devices/{id} of an unknown or another user\'s device deletes nothing', T, async () => {
        const r = await srv.request('DELETE', `${C}/devices/BOBDEV`, {
            token: a.access_token,
            body: { auth: uiaAuth('alice') },
        });
        assert.notEqual(r.status, 200, `deleted another user's device: ${r.text}`);
        assertOk(await srv.whoami(bob.access_token));
        const u = await srv.request('DELETE', `${C}/devices/NOPE`, {
            token: a.access_token,
            body: { auth: uiaAuth('alice') },
        });
        assert.ok(u.status === 404 || u.status === 200, u.text);
    });

    it('POST /delete_devices deletes several with UIA and leaves others\' devices alone', T, async () => {
        const d1 = await srv.login('alice', PW, { device_id: 'DEL1' });
        const d2 = await srv.login('alice', PW, { device_id: 'DEL2' });
        const keep = await srv.login('alice', PW, { device_id: 'KEEP' });
        const body = { devices: ['DEL1', 'DEL2', 'BOBDEV'] };
        const first = assertUia401(await srv.request('POST', `${C}/delete_devices`, { token: a.access_token, body }));
        assertOk(
            await srv.request('POST', `${C}/delete_devices`, {
                token: a.access_token,
                body: { ...body, auth: uiaAuth('alice', PW, first.session) },
            }),
        );
        assertError(await srv.whoami(d1.access_token), 401, 'M_UNKNOWN_TOKEN');
        assertError(await srv.whoami(d2.access_token), 401, 'M_UNKNOWN_TOKEN');
        assertOk(await srv.whoami(keep.access_token));
        assertOk(await srv.whoami(bob.access_token)); // bob's device of the same id list survives
        const devs = assertOk(await srv.request('GET', `${C}/devices`, { token: a.access_token }));
        const ids = devs.devices.map((d) => d.device_id);
        assert.ok(!ids.includes('DEL1') && !ids.includes('DEL2'), ids.join());
    });

    it('POST /delete_devices errors: missing devices, wrong type, bad JSON, wrong password', T, async () => {
        assertError(
            await srv.request('POST', `${C}/delete_devices`, { token: a.access_token, body: { auth: uiaAuth('alice') } }),
            400,
            'M_MISSING_PARAM',
        );
        assertError(
            await srv.request('POST', `${C}/delete_devices`, {
                token: a.access_token,
                body: { devices: 'A1', auth: uiaAuth('alice') },
            }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('POST', `${C}/delete_devices`, {
                token: a.access_token,
                body: { devices: [1, 2], auth: uiaAuth('alice') },
            }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('POST', `${C}/delete_devices`, {
                token: a.access_token,
                raw: 'devices=A1',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
        const wrong = assertUia401(
            await srv.request('POST', `${C}/delete_devices`, {
                token: a.access_token,
                body: { devices: ['A1'], auth: uiaAuth('alice', 'bad password') },
            }),
        );
        assert.equal(wrong.errcode, 'M_FORBIDDEN');
        assertOk(await srv.whoami(a.access_token));
    });
});

describe('profile', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'alice', displayname: 'Alice A.' }, { name: 'bob' }],
    });
    let a;
    let b;
    const ALICE = '@alice:balai.test';
    const BOB = '@bob:balai.test';
    before(async () => {
        a = await srv.login('alice');
        b = await srv.login('bob');
    });

    it('GET /profile/{userId} returns the display name', T, async () => {
        const j = assertOk(await srv.request('GET', `${C}/profile/${enc(ALICE)}`, { token: b.access_token }));
        assert.equal(j.displayname, 'Alice A.');
    });

    it('accepts an unencoded user id in the path', T, async () => {
        const j = assertOk(await srv.request('GET', `${C}/profile/${ALICE}`, { token: b.access_token }));
        assert.equal(j.displayname, 'Alice A.');
    });

    it('GET /profile of an unknown user is 404 M_NOT_FOUND', T, async () => {
        assertError(
            await srv.request('GET', `${C}/profile/${enc('@ghost:balai.test')}`, { token: a.access_token }),
            404,
            'M_NOT_FOUND',
        );
        assertError(
            await srv.request('GET', `${C}/profile/${enc('@ghost:balai.test')}/displayname`, { token: a.access_token }),
            404,
            'M_NOT_FOUND',
        );
    });

    it('PUT displayname on your own profile', T, async () => {
        assertOk(
            await srv.request('PUT', `${C}/profile/${enc(BOB)}/displayname`, {
                token: b.access_token,
                body: { displayname: 'Bob Ünïcødé 😀' },
            }),
        );
        const j = assertOk(await srv.request('GET', `${C}/profile/${enc(BOB)}/displayname`, { token: a.access_token }));
        assert.deepEqual(j, { displayname: 'Bob Ünïcødé 😀' });
        const p = assertOk(await srv.request('GET', `${C}/profile/${enc(BOB)}`, { token: a.access_token }));
        assert.equal(p.displayname, 'Bob Ünïcødé 😀');
    });

    it('40 concurrent PUTs all succeed and the last answered value sticks', T, async () => {
        const u = `${C}/profile/${enc(BOB)}/displayname`;
        const rs = await Promise.all(
            Array.from({ length: 40 }, (_, i) =>
                srv.request('PUT', u, { token: b.access_token, body: { displayname: `Bob ${i}` } }),
            ),
        );
        for (const r of rs) assertOk(r);
        const j = assertOk(await srv.request('GET', u, { token: a.access_token }));
        assert.match(j.displayname, /^Bob \d+$/);
        assertOk(await srv.request('PUT', u, { token: b.access_token, body: { displayname: 'Bob Final' } }));
        assert.equal(assertOk(await srv.request('GET', u, { token: a.access_token })).displayname, 'Bob Final');
    });

    it('PUT on someone else\'s profile is 403 M_FORBIDDEN and changes nothing', T, async () => {
        assertError(
            await srv.request('PUT', `${C}/profile/${enc(ALICE)}/displayname`, {
                token: b.access_token,
                body: { displayname: 'Hacked' },
            }),
            403,
            'M_FORBIDDEN',
        );
        assertError(
            await srv.request('PUT', `${C}/profile/${enc(ALICE)}/avatar_url`, {
                token: b.access_token,
                body: { avatar_url: 'mxc://balai.test/evil' },
            }),
            403,
            'M_FORBIDDEN',
        );
        const j = assertOk(await srv.request('GET', `${C}/profile/${enc(ALICE)}`, { token: a.access_token }));
        assert.equal(j.displayname, 'Alice A.');
        assert.equal(j.avatar_url, undefined);
    });

    it('PUT avatar_url: mxc:// accepted, anything else 400', T, async () => {
        for (const bad of ['https://evil.example/a.png', 'javascript:alert(1)', 'mxc:/nope']) {
            assertError(
                await srv.request('PUT', `${C}/profile/${enc(ALICE)}/avatar_url`, {
                    token: a.access_token,
                    body: { avatar_url: bad },
                }),
                400,
            );
        }
        assertOk(
            await srv.request('PUT', `${C}/profile/${enc(ALICE)}/avatar_url`, {
                token: a.access_token,
                body: { avatar_url: 'mxc://balai.test/abcDEF123' },
            }),
        );
        const j = assertOk(await srv.request('GET', `${C}/profile/${enc(ALICE)}/avatar_url`, { token: b.access_token }));
        assert.deepEqual(j, { avatar_url: 'mxc://balai.test/abcDEF123' });
        const p = assertOk(await srv.request('GET', `${C}/profile/${enc(ALICE)}`, { token: b.access_token }));
        assert.equal(p.avatar_url, 'mxc://balai.test/abcDEF123');
        assert.equal(p.displayname, 'Alice A.');
    });

    it('PUT errors: missing field, wrong type, bad JSON, no token', T, async () => {
        const u = `${C}/profile/${enc(ALICE)}/displayname`;
        assertError(await srv.request('PUT', u, { token: a.access_token, body: {} }), 400, 'M_MISSING_PARAM');
        assertError(
            await srv.request('PUT', u, { token: a.access_token, body: { displayname: ['x'] } }),
            400,
            'M_BAD_JSON',
        );
        assertError(
            await srv.request('PUT', u, {
                token: a.access_token,
                raw: '{displayname: "x"}',
                headers: { 'content-type': 'application/json' },
            }),
            400,
            'M_NOT_JSON',
        );
        assertError(await srv.request('PUT', u, { body: { displayname: 'x' } }), 401, 'M_MISSING_TOKEN');
        const j = assertOk(await srv.request('GET', u, { token: a.access_token }));
        assert.equal(j.displayname, 'Alice A.');
    });
});

describe('login throttling per account', () => {
    const WINDOW = 2000;
    const srv = useServer({
        env: {
            BALAI_LOGIN_ACCOUNT_FAILURES: 3,
            BALAI_LOGIN_IP_ATTEMPTS: 100000,
            BALAI_LOGIN_WINDOW_MS: WINDOW,
        },
        users: [{ name: 'victim' }, { name: 'bystander' }],
    });

    it('after N failures the account gets 429 M_LIMIT_EXCEEDED, even with the right password', T, async () => {
        for (let i = 0; i < 3; i++) assertError(await srv.loginRaw('victim', `wrong password ${i}`), 403, 'M_FORBIDDEN');
        const r = await srv.loginRaw('victim', PW);
        const j = assertError(r, 429, 'M_LIMIT_EXCEEDED');
        assert.equal(typeof j.retry_after_ms, 'number');
        assert.ok(j.retry_after_ms > 0 && j.retry_after_ms <= WINDOW, `retry_after_ms ${j.retry_after_ms}`);
        // the full id is the same account
        assertError(await srv.loginRaw('@victim:balai.test', PW), 429, 'M_LIMIT_EXCEEDED');
    });

    it('other accounts from the same address are not affected', T, async () => {
        await srv.login('bystander');
    });

    it('the account can log in again once the window has passed', T, async () => {
        const r = await srv.loginRaw('victim', PW);
        const wait = r.status === 429 ? r.json.retry_after_ms : 0;
        await sleep(wait + 250);
        await srv.login('victim');
    });
});

describe('login throttling per client address', () => {
    const srv = useServer({
        env: {
            BALAI_LOGIN_ACCOUNT_FAILURES: 100000,
            BALAI_LOGIN_IP_ATTEMPTS: 6,
            BALAI_LOGIN_WINDOW_MS: 60000,
        },
        users: [{ name: 'u1' }, { name: 'u2' }],
    });

    let early;

    it('after N attempts from one address further logins get 429 with retry_after_ms', T, async () => {
        // a mix of good and bad attempts: all of them count
        early = await srv.login('u1');
        assertError(await srv.loginRaw('u1', 'wrong password'), 403, 'M_FORBIDDEN');
        assertError(await srv.loginRaw('nobody', 'wrong password'), 403, 'M_FORBIDDEN');
        await srv.login('u2');
        assertError(await srv.loginRaw('u2', 'wrong password'), 403, 'M_FORBIDDEN');
        await srv.login('u1');
        const r = await srv.loginRaw('u2', PW);
        const j = assertError(r, 429, 'M_LIMIT_EXCEEDED');
        assert.equal(typeof j.retry_after_ms, 'number');
        assert.ok(j.retry_after_ms > 0 && j.retry_after_ms <= 60000, `retry_after_ms ${j.retry_after_ms}`);
        assertError(await srv.loginRaw('u1', PW), 429, 'M_LIMIT_EXCEEDED');
    });

    it('existing sessions keep working while logins are throttled', T, async () => {
        // the tokens from before are still good: throttling is about logins only
        assertOk(await srv.whoami(early.access_token));
        assertOk(await srv.request('GET', '/_matrix/client/versions'));
    });
});
