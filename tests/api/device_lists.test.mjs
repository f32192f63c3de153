// device_lists.test.mjs: device-list changes: device_lists.changed/left in
// /sync and GET /keys/changes, for a new device, device keys, cross-signing
// keys and signatures, a device that goes, and users who come to share or
// stop sharing a room; visibility only among users sharing a room; parked
// syncs woken; what a device leaves behind (keys, to-device messages) deleted
// durably; tokens valid across a restart; and the errors.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

function deviceKeys(userId, deviceId) {
    return {
        user_id: userId,
        device_id: deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: { [`curve25519:${deviceId}`]: 'CURVE' + deviceId, [`ed25519:${deviceId}`]: 'ED' + deviceId },
        signatures: { [userId]: { [`ed25519:${deviceId}`]: 'SIG' } },
    };
}

const uiaAuth = (user, session) => ({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password: PW,
    ...(session ? { session } : {}),
});

describe('device lists', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }, { name: 'dave' }, { name: 'erin' }, { name: 'root', admin: true }],
    });
    let alice, bob, carol, dave, room;

    const sync = async (tok, params = {}) => {
        const q = new URLSearchParams(params).toString();
        const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token: tok, timeoutMs: 60_000 * SLOW });
        assertOk(r);
        return r.json;
    };
    const changes = (tok, from, to) =>
        srv.request('GET', `${C}/keys/changes?from=${enc(from)}&to=${enc(to)}`, { token: tok });
    const dl = (s) => ({ changed: s.device_lists?.changed || [], left: s.device_lists?.left || [] });
    const upload = (who, body) => srv.request('POST', `${C}/keys/upload`, { token: who.access_token, body });

    before(async () => {
        alice = await srv.login('alice');
        bob = await srv.login('bob');
        carol = await srv.login('carol');
        dave = await srv.login('dave');
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice.access_token, body: { preset: 'public_chat' } });
        assertOk(r);
        room = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob.access_token, body: {} }));
    });

    it('/keys/changes: auth, missing and malformed tokens', T, async () => {
        const s = await sync(alice.access_token);
        const t = s.next_batch;
        assertError(await srv.request('GET', `${C}/keys/changes?from=${enc(t)}&to=${enc(t)}`, {}), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('GET', `${C}/keys/changes?to=${enc(t)}`, { token: alice.access_token }), 400, 'M_MISSING_PARAM');
        assertError(await srv.request('GET', `${C}/keys/changes?from=${enc(t)}`, { token: alice.access_token }), 400, 'M_MISSING_PARAM');
        assertError(await changes(alice.access_token, 'garbage', t), 400, 'M_INVALID_PARAM');
        assertError(await changes(alice.access_token, t, 's0'), 400, 'M_INVALID_PARAM');
        // a token of another server (epoch)
        const foreign = t.replace(/^s[^_]+_/, 'sNOTOURS_');
        assertError(await changes(alice.access_token, foreign, t), 400, 'M_INVALID_PARAM');
        // a pagination token is not a sync token
        assertError(await changes(alice.access_token, 't' + t.slice(1).split('_')[0] + '_1', t), 400, 'M_INVALID_PARAM');
        const same = await changes(alice.access_token, t, t);
        assertOk(same);
        assert.deepEqual(same.json, { changed: [], left: [] });
    });

    it("a new device wakes the parked sync of users sharing a room, not the others'", T, async () => {
        const a0 = (await sync(alice.access_token)).next_batch;
        const d0 = (await sync(dave.access_token)).next_batch;
        const parked = sync(alice.access_token, { since: a0, timeout: 20000 });
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        const b2 = await srv.login('bob', PW, { device_id: 'BOB2' });
        const s = await parked;
        assert.ok(Date.now() - t0 < 10000 * SLOW, 'woken, not timed out');
        assert.ok(dl(s).changed.includes(bob.user_id), JSON.stringify(s.device_lists));
        const c = await changes(alice.access_token, a0, s.next_batch);
        assertOk(c);
        assert.ok(c.json.changed.includes(bob.user_id));
        // dave shares no room with bob
        const ds = await sync(dave.access_token, { since: d0, timeout: 0 });
        assert.ok(!dl(ds).changed.includes(bob.user_id), JSON.stringify(ds.device_lists));
        const dc = await changes(dave.access_token, d0, ds.next_batch);
        assert.ok(!dc.json.changed.includes(bob.user_id));
        // bob sees his own change too; nothing repeats after
        const again = await sync(alice.access_token, { since: s.next_batch, timeout: 0 });
        assert.ok(!dl(again).changed.includes(bob.user_id));
        assertOk(await srv.request('POST', `${C}/logout`, { token: b2.access_token }));
    });

    it('device keys, cross-signing keys and signatures are changes', T, async () => {
        let since = (await sync(alice.access_token)).next_batch;
        const step = async (what, fn) => {
            assertOk(await fn());
            const s = await sync(alice.access_token, { since, timeout: 10000 });
            assert.ok(dl(s).changed.includes(bob.user_id), `${what}: ${JSON.stringify(s.device_lists)}`);
            since = s.next_batch;
        };
        await step('device keys', () => upload(bob, { device_keys: deviceKeys(bob.user_id, bob.device_id) }));
        await step('cross-signing', () =>
            srv.request('POST', `${C}/keys/device_signing/upload`, {
                token: bob.access_token,
                body: {
                    master_key: { user_id: bob.user_id, usage: ['master'], keys: { 'ed25519:MASTER': 'MASTER' } },
                    self_signing_key: { user_id: bob.user_id, usage: ['self_signing'], keys: { 'ed25519:SSK': 'SSK' } },
                },
            }),
        );
        await step('signatures', () =>
            srv.request('POST', `${C}/keys/signatures/upload`, { token: bob.access_token, body: {} }),
        );
        // one-time keys alone change nothing
        assertOk(await upload(bob, { one_time_keys: { 'signed_curve25519:X1': { key: 'X1' } } }));
        const s = await sync(alice.access_token, { since, timeout: 0 });
        assert.ok(!dl(s).changed.includes(bob.user_id), JSON.stringify(s.device_lists));
    });

    it('joining a shared room is a change; leaving the last one is `left`', T, async () => {
        const a0 = (await sync(alice.access_token)).next_batch;
        const c0 = (await sync(carol.access_token)).next_batch;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: carol.access_token, body: {} }));
        const as = await sync(alice.access_token, { since: a0, timeout: 10000 });
        assert.ok(dl(as).changed.includes(carol.user_id), JSON.stringify(as.device_lists));
        const cs = await sync(carol.access_token, { since: c0, timeout: 10000 });
        assert.ok(dl(cs).changed.includes(alice.user_id), JSON.stringify(cs.device_lists));
        assert.ok(dl(cs).changed.includes(bob.user_id), JSON.stringify(cs.device_lists));
        assert.ok(!dl(cs).changed.includes(dave.user_id));
        const jc = await changes(carol.access_token, c0, cs.next_batch);
        assert.ok(jc.json.changed.includes(alice.user_id));

        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/leave`, { token: carol.access_token, body: {} }));
        const as2 = await sync(alice.access_token, { since: as.next_batch, timeout: 10000 });
        assert.ok(dl(as2).left.includes(carol.user_id), JSON.stringify(as2.device_lists));
        assert.ok(!dl(as2).changed.includes(carol.user_id));
        const cs2 = await sync(carol.access_token, { since: cs.next_batch, timeout: 10000 });
        assert.ok(dl(cs2).left.includes(alice.user_id), JSON.stringify(cs2.device_lists));
        assert.ok(dl(cs2).left.includes(bob.user_id), JSON.stringify(cs2.device_lists));
        const lc = await changes(alice.access_token, as.next_batch, as2.next_batch);
        assert.ok(lc.json.left.includes(carol.user_id));
        // carol's own changes are no longer shown to alice
        const a1 = as2.next_batch;
        assertOk(await upload(carol, { device_keys: deviceKeys(carol.user_id, carol.device_id) }));
        const c3 = await sync(carol.access_token, { since: cs2.next_batch, timeout: 10000 });
        assert.ok(dl(c3).changed.includes(carol.user_id), 'own change');
        const as3 = await sync(alice.access_token, { since: a1, timeout: 0 });
        assert.ok(!dl(as3).changed.includes(carol.user_id), JSON.stringify(as3.device_lists));
    });

    it('an invite or a profile change is neither `changed` nor `left`', T, async () => {
        const a0 = (await sync(alice.access_token)).next_batch;
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/invite`, { token: alice.access_token, body: { user_id: dave.user_id } }));
        assertOk(await srv.request('PUT', `${C}/profile/${enc(bob.user_id)}/displayname`, { token: bob.access_token, body: { displayname: 'Bobby' } }));
        const s = await sync(alice.access_token, { since: a0, timeout: 0 });
        assert.ok(!dl(s).left.includes(dave.user_id), JSON.stringify(s.device_lists));
        assert.ok(!dl(s).changed.includes(dave.user_id), JSON.stringify(s.device_lists));
        assert.ok(!dl(s).changed.includes(bob.user_id), JSON.stringify(s.device_lists));
        const c = await changes(alice.access_token, a0, s.next_batch);
        assert.deepEqual(c.json, { changed: [], left: [] });
    });

    it('a deleted device takes its keys and waiting to-device messages with it, durably', T, async () => {
        const gone = await srv.login('bob', PW, { device_id: 'GONE' });
        const out = await srv.login('bob', PW, { device_id: 'OUT' });
        for (const d of [gone, out]) {
            assertOk(
                await upload(d, {
                    device_keys: deviceKeys(bob.user_id, d.device_id),
                    one_time_keys: { [`signed_curve25519:${d.device_id}1`]: { key: 'K' } },
                    fallback_keys: { [`signed_curve25519:${d.device_id}F`]: { key: 'F', fallback: true } },
                }),
            );
            const td = await srv.request('PUT', `${C}/sendToDevice/m.test/t${d.device_id}${Date.now()}`, {
                token: alice.access_token,
                body: { messages: { [bob.user_id]: { [d.device_id]: { hello: d.device_id } } } },
            });
            assertOk(td);
        }
        const q0 = await srv.request('POST', `${C}/keys/query`, { token: alice.access_token, body: { device_keys: { [bob.user_id]: [] } } });
        assert.ok(q0.json.device_keys[bob.user_id].GONE && q0.json.device_keys[bob.user_id].OUT);
        const a0 = (await sync(alice.access_token)).next_batch;

        // DELETE /devices/GONE (with UIA) and a logout of OUT
        const first = await srv.request('DELETE', `${C}/devices/GONE`, { token: bob.access_token, body: {} });
        assert.equal(first.status, 401);
        assertOk(
            await srv.request('DELETE', `${C}/devices/GONE`, {
                token: bob.access_token,
                body: { auth: uiaAuth('bob', first.json.session) },
            }),
        );
        assertOk(await srv.request('POST', `${C}/logout`, { token: out.access_token }));

        const check = async () => {
            const q = await srv.request('POST', `${C}/keys/query`, { token: alice.access_token, body: { device_keys: { [bob.user_id]: [] } } });
            assertOk(q);
            assert.equal(q.json.device_keys[bob.user_id].GONE, undefined);
            assert.equal(q.json.device_keys[bob.user_id].OUT, undefined);
            assert.ok(q.json.device_keys[bob.user_id][bob.device_id], 'the other device stays');
            const cl = await srv.request('POST', `${C}/keys/claim`, {
                token: alice.access_token,
                body: { one_time_keys: { [bob.user_id]: { GONE: 'signed_curve25519', OUT: 'signed_curve25519' } } },
            });
            assertOk(cl);
            assert.deepEqual(cl.json.one_time_keys, {});
        };
        await check();
        const s = await sync(alice.access_token, { since: a0, timeout: 10000 });
        assert.ok(dl(s).changed.includes(bob.user_id), JSON.stringify(s.device_lists));

        await srv.restart();
        await check();
        // the same device ids again: new devices, with no old messages or keys
        for (const id of ['GONE', 'OUT']) {
            const again = await srv.login('bob', PW, { device_id: id });
            const s1 = await sync(again.access_token);
            assert.deepEqual(s1.to_device?.events || [], [], `${id}: ${JSON.stringify(s1.to_device)}`);
            assert.deepEqual(s1.device_one_time_keys_count, { signed_curve25519: 0 });
            assert.deepEqual(s1.device_unused_fallback_key_types, []);
            assertOk(await srv.request('POST', `${C}/logout`, { token: again.access_token }));
        }
        // tokens from before the restart stay valid: the deletion is still reported
        const c = await changes(alice.access_token, a0, s.next_batch);
        assertOk(c);
        assert.ok(c.json.changed.includes(bob.user_id));
        bob = await srv.login('bob');
        alice = await srv.login('alice');
        carol = await srv.login('carol');
        dave = await srv.login('dave');
    });

    it('a password change logging out other devices deletes their keys', T, async () => {
        const other = await srv.login('bob', PW, { device_id: 'PWOTHER' });
        assertOk(await upload(other, { device_keys: deviceKeys(bob.user_id, 'PWOTHER') }));
        const first = await srv.request('POST', `${C}/account/password`, { token: bob.access_token, body: { new_password: PW } });
        assert.equal(first.status, 401);
        assertOk(
            await srv.request('POST', `${C}/account/password`, {
                token: bob.access_token,
                body: { new_password: PW, auth: uiaAuth('bob', first.json.session) },
            }),
        );
        const q = await srv.request('POST', `${C}/keys/query`, { token: alice.access_token, body: { device_keys: { [bob.user_id]: [] } } });
        assert.equal(q.json.device_keys[bob.user_id].PWOTHER, undefined);
    });

    it('an admin deactivation deletes the keys and waiting messages of every device', T, async () => {
        const erin = await srv.login('erin');
        const e2 = await srv.login('erin', PW, { device_id: 'E2' });
        for (const d of [erin, e2]) {
            assertOk(await upload(d, { device_keys: deviceKeys(erin.user_id, d.device_id), one_time_keys: { [`signed_curve25519:${d.device_id}`]: { key: 'K' } } }));
            assertOk(await srv.request('PUT', `${C}/sendToDevice/m.test/e${d.device_id}`, {
                token: alice.access_token,
                body: { messages: { [erin.user_id]: { [d.device_id]: { hi: 1 } } } },
            }));
        }
        await shareWithAlice(erin);
        const a0 = (await sync(alice.access_token)).next_batch;
        const root = await srv.login('root');
        assertOk(await srv.request('POST', `/_balai/admin/v1/users/${enc(erin.user_id)}/deactivate`, { token: root.access_token, body: {} }));
        const s = await sync(alice.access_token, { since: a0, timeout: 10000 });
        assert.ok(dl(s).changed.includes(erin.user_id) || dl(s).left.includes(erin.user_id), JSON.stringify(s.device_lists));
        const check = async () => {
            const q = await srv.request('POST', `${C}/keys/query`, { token: alice.access_token, body: { device_keys: { [erin.user_id]: [] } } });
            assertOk(q);
            assert.deepEqual(q.json.device_keys[erin.user_id] || {}, {});
            const cl = await srv.request('POST', `${C}/keys/claim`, {
                token: alice.access_token,
                body: { one_time_keys: { [erin.user_id]: { [erin.device_id]: 'signed_curve25519', E2: 'signed_curve25519' } } },
            });
            assert.deepEqual(cl.json.one_time_keys, {});
        };
        await check();
        await srv.restart();
        alice = await srv.login('alice');
        await check();
    });

    async function shareWithAlice(who) {
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice.access_token, body: { preset: 'public_chat' } });
        assertOk(r);
        assertOk(await srv.request('POST', `${C}/join/${enc(r.json.room_id)}`, { token: who.access_token, body: {} }));
    }
});
