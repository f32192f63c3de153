// sdk.test.mjs: matrix-js-sdk 36.2.0 as an independent client. No
// startClient(): /sync is not implemented yet.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { AutoDiscovery, AutoDiscoveryAction, MatrixError, createClient } from 'matrix-js-sdk';

import { PW, SLOW, useServer } from './lib/server.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

// Rejects unless the promise fails with a MatrixError of this status/errcode.
async function rejectsMatrix(promise, httpStatus, errcode) {
    await assert.rejects(promise, (e) => {
        assert.ok(e instanceof MatrixError, `not a MatrixError: ${e}`);
        assert.equal(e.httpStatus, httpStatus, `${e.message}`);
        if (errcode) assert.equal(e.errcode, errcode, e.message);
        return true;
    });
}

describe('matrix-js-sdk client', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_IP_ATTEMPTS: 100000, BALAI_LOGIN_ACCOUNT_FAILURES: 100000 },
        users: [{ name: 'alice', displayname: 'Alice' }, { name: 'bob' }],
    });
    const clients = [];
    function client(opts = {}) {
        const c = createClient({ baseUrl: srv.url, ...opts });
        clients.push(c);
        return c;
    }
    it('getVersions and loginFlows', T, async () => {
        const c = client();
        const v = await c.getVersions();
        assert.ok(v.versions.includes('v1.12'));
        const flows = await c.loginFlows();
        assert.ok(flows.flows.some((f) => f.type === 'm.login.password'));
    });

    it('AutoDiscovery accepts the server\'s .well-known', T, async () => {
        const wk = await (await fetch(`${srv.url}/.well-known/matrix/client`)).json();
        const conf = await AutoDiscovery.fromDiscoveryConfig(wk);
        assert.equal(
            conf['m.homeserver'].state,
            AutoDiscoveryAction.SUCCESS,
            `discovery failed: ${JSON.stringify(conf['m.homeserver'])} for ${JSON.stringify(wk)}`,
        );
    });

    it('loginWithPassword, whoami, logout', T, async () => {
        const c = client();
        const res = await c.loginWithPassword('alice', PW);
        assert.equal(res.user_id, '@alice:balai.test');
        assert.equal(typeof res.access_token, 'string');
        const who = await c.whoami();
        assert.equal(who.user_id, '@alice:balai.test');
        assert.equal(who.device_id, res.device_id);
        await c.logout();
        const dead = client({ accessToken: res.access_token, userId: res.user_id });
        await rejectsMatrix(dead.whoami(), 401, 'M_UNKNOWN_TOKEN');
    });

    it('login("m.login.password") with an m.id.user identifier', T, async () => {
        const c = client();
        const res = await c.login('m.login.password', {
            identifier: { type: 'm.id.user', user: '@bob:balai.test' },
            password: PW,
            initial_device_display_name: 'SDK test',
        });
        assert.equal(res.user_id, '@bob:balai.test');
        assert.equal((await c.whoami()).user_id, '@bob:balai.test');
        await c.logout();
    });

    it('a wrong password rejects with M_FORBIDDEN', T, async () => {
        const c = client();
        await rejectsMatrix(c.loginWithPassword('alice', 'wrong password'), 403, 'M_FORBIDDEN');
    });

    it('a client built from loginRequest credentials: profile and devices', T, async () => {
        const res = await client().loginRequest({
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: 'alice' },
            password: PW,
            device_id: 'SDKDEV',
            initial_device_display_name: 'SDK device',
        });
        const c = client({ accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
        assert.equal(c.getUserId(), '@alice:balai.test');
        const prof = await c.getProfileInfo('@alice:balai.test');
        assert.equal(prof.displayname, 'Alice');
        await c.setDisplayName('Alice via SDK');
        assert.equal((await c.getProfileInfo('@alice:balai.test', 'displayname')).displayname, 'Alice via SDK');
        await c.setAvatarUrl('mxc://balai.test/sdkavatar');
        assert.equal((await c.getProfileInfo('@alice:balai.test')).avatar_url, 'mxc://balai.test/sdkavatar');
        const devs = await c.getDevices();
        const me = devs.devices.find((d) => d.device_id === 'SDKDEV');
        assert.ok(me, JSON.stringify(devs));
        assert.equal(me.display_name, 'SDK device');
        await c.setDeviceDetails('SDKDEV', { display_name: 'Renamed by SDK' });
        assert.equal((await c.getDevice('SDKDEV')).display_name, 'Renamed by SDK');
        // alice's token claiming to be bob may not edit bob's profile
        const forged = client({ accessToken: res.access_token, userId: '@bob:balai.test' });
        await rejectsMatrix(forged.setDisplayName('Not Bob'), 403, 'M_FORBIDDEN');
    });

    it('deleteDevice goes through user-interactive auth', T, async () => {
        const main = await client().loginRequest({
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: 'alice' },
            password: PW,
        });
        const other = await client().loginRequest({
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: 'alice' },
            password: PW,
        });
        const c = client({ accessToken: main.access_token, userId: main.user_id, deviceId: main.device_id });
        let session;
        await assert.rejects(c.deleteDevice(other.device_id), (e) => {
            assert.ok(e instanceof MatrixError);
            assert.equal(e.httpStatus, 401);
            assert.ok(e.data.flows.some((f) => f.stages.includes('m.login.password')));
            session = e.data.session;
            return true;
        });
        assert.equal(typeof session, 'string');
        await c.deleteDevice(other.device_id, {
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: 'alice' },
            password: PW,
            session,
        });
        const o = client({ accessToken: other.access_token, userId: other.user_id });
        await rejectsMatrix(o.whoami(), 401, 'M_UNKNOWN_TOKEN');
        assert.equal((await c.whoami()).user_id, '@alice:balai.test');
    });

    it('registration is refused with M_FORBIDDEN', T, async () => {
        const c = client();
        await rejectsMatrix(c.registerRequest({ username: 'mallory', password: 'mallory password' }), 403, 'M_FORBIDDEN');
    });

    it('stops every client', T, () => {
        for (const c of clients) c.stopClient();
    });
});
