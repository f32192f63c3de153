// keys.test.mjs: end-to-end encryption key endpoints: upload, query, claim
// (one-time then fallback keys), one-time key counts in /sync, cross-signing
// upload, the answer when no key backup exists, bad inputs, and durability over a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

function deviceKeys(userId, deviceId) {
    return {
        user_id: userId,
        device_id: deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: { [`curve25519:${deviceId}`]: 'CURVEKEY', [`ed25519:${deviceId}`]: 'EDKEY' },
        signatures: { [userId]: { [`ed25519:${deviceId}`]: 'SIG' } },
    };
}

const otk = (n) => ({ key: `OTK${n}`, signatures: { x: { y: 'z' } } });

async function sync(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
    assertOk(r);
    return r.json;
}

describe('e2e keys', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice, bob;
    before(async () => {
        alice = await srv.login('alice');
        bob = await srv.login('bob');
    });

    it('initial sync has zero counts and no fallback key', T, async () => {
        const s = await sync(srv, alice.access_token);
        assert.deepEqual(s.device_one_time_keys_count, { signed_curve25519: 0 });
        assert.deepEqual(s.device_unused_fallback_key_types, []);
    });

    it('upload device, one-time and fallback keys returns the counts', T, async () => {
        const r = await srv.request('POST', `${C}/keys/upload`, {
            token: alice.access_token,
            body: {
                device_keys: deviceKeys(alice.user_id, alice.device_id),
                one_time_keys: { 'signed_curve25519:AAA': otk(1), 'signed_curve25519:AAB': otk(2), 'curve25519:C': 'plainkey' },
                fallback_keys: { 'signed_curve25519:FB1': { key: 'FALLBACK', fallback: true } },
            },
        });
        assertOk(r);
        assert.deepEqual(r.json, { one_time_key_counts: { signed_curve25519: 2, curve25519: 1 } });
        // uploading the same keys again is harmless
        const again = await srv.request('POST', `${C}/keys/upload`, {
            token: alice.access_token,
            body: { one_time_keys: { 'signed_curve25519:AAA': otk(1) } },
        });
        assertOk(again);
        assert.deepEqual(again.json.one_time_key_counts, { signed_curve25519: 2, curve25519: 1 });
        const empty = await srv.request('POST', `${C}/keys/upload`, { token: alice.access_token, body: {} });
        assertOk(empty);
        assert.equal(empty.json.one_time_key_counts.signed_curve25519, 2);
    });

    it('sync carries the counts and unused fallback key types', T, async () => {
        const s = await sync(srv, alice.access_token);
        assert.deepEqual(s.device_one_time_keys_count, { signed_curve25519: 2, curve25519: 1 });
        assert.deepEqual(s.device_unused_fallback_key_types, ['signed_curve25519']);
        const b = await sync(srv, bob.access_token);
        assert.deepEqual(b.device_one_time_keys_count, { signed_curve25519: 0 });
    });

    it("query returns another user's device keys", T, async () => {
        const r = await srv.request('POST', `${C}/keys/query`, {
            token: bob.access_token,
            body: { device_keys: { [alice.user_id]: [] } },
        });
        assertOk(r);
        const k = r.json.device_keys[alice.user_id][alice.device_id];
        assert.equal(k.keys[`curve25519:${alice.device_id}`], 'CURVEKEY');
        assert.equal(k.user_id, alice.user_id);
        assert.deepEqual(r.json.failures, {});
        const one = await srv.request('POST', `${C}/keys/query`, {
            token: bob.access_token,
            body: { device_keys: { [alice.user_id]: ['NOSUCHDEVICE'], '@nobody:balai.test': [] } },
        });
        assertOk(one);
        assert.deepEqual(one.json.device_keys[alice.user_id], {});
    });

    it('claim takes one-time keys, then the fallback key', T, async () => {
        const claim = () =>
            srv.request('POST', `${C}/keys/claim`, {
                token: bob.access_token,
                body: { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } } },
            });
        const seen = [];
        for (let i = 0; i < 2; i++) {
            const r = await claim();
            assertOk(r);
            const keys = r.json.one_time_keys[alice.user_id][alice.device_id];
            const ids = Object.keys(keys);
            assert.equal(ids.length, 1);
            assert.match(ids[0], /^signed_curve25519:AA[AB]$/);
            seen.push(ids[0]);
        }
        assert.notEqual(seen[0], seen[1]);
        const fb = await claim();
        assertOk(fb);
        assert.deepEqual(fb.json.one_time_keys[alice.user_id][alice.device_id], {
            'signed_curve25519:FB1': { key: 'FALLBACK', fallback: true },
        });
        const s = await sync(srv, alice.access_token);
        assert.deepEqual(s.device_one_time_keys_count, { signed_curve25519: 0, curve25519: 1 });
        assert.deepEqual(s.device_unused_fallback_key_types, []);
        // an unknown algorithm or device claims nothing
        const none = await srv.request('POST', `${C}/keys/claim`, {
            token: bob.access_token,
            body: { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'x.unknown', NODEV: 'signed_curve25519' } } },
        });
        assertOk(none);
        assert.deepEqual(none.json.one_time_keys, {});
    });

    it('a new fallback key replaces the old one', T, async () => {
        assertOk(await srv.request('POST', `${C}/keys/upload`, {
            token: alice.access_token,
            body: { fallback_keys: { 'signed_curve25519:FB2': { key: 'FALLBACK2', fallback: true } } },
        }));
        const s = await sync(srv, alice.access_token);
        assert.deepEqual(s.device_unused_fallback_key_types, ['signed_curve25519']);
        const r = await srv.request('POST', `${C}/keys/claim`, {
            token: bob.access_token,
            body: { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } } },
        });
        assert.deepEqual(Object.keys(r.json.one_time_keys[alice.user_id][alice.device_id]), ['signed_curve25519:FB2']);
    });

    it('cross-signing keys upload and appear in query; signatures upload accepted', T, async () => {
        const master = { user_id: alice.user_id, usage: ['master'], keys: { 'ed25519:MASTER': 'MASTER' } };
        const self = { user_id: alice.user_id, usage: ['self_signing'], keys: { 'ed25519:SELF': 'SELF' } };
        const usr = { user_id: alice.user_id, usage: ['user_signing'], keys: { 'ed25519:USR': 'USR' } };
        assertOk(await srv.request('POST', `${C}/keys/device_signing/upload`, {
            token: alice.access_token,
            body: { master_key: master, self_signing_key: self, user_signing_key: usr },
        }));
        const q = await srv.request('POST', `${C}/keys/query`, {
            token: bob.access_token,
            body: { device_keys: { [alice.user_id]: [] } },
        });
        assertOk(q);
        assert.deepEqual(q.json.master_keys[alice.user_id], master);
        assert.deepEqual(q.json.self_signing_keys[alice.user_id], self);
        assert.equal(q.json.user_signing_keys[alice.user_id], undefined);
        // replacing the master key needs user-interactive auth
        const other = { ...master, keys: { 'ed25519:OTHER': 'OTHER' } };
        const r = await srv.request('POST', `${C}/keys/device_signing/upload`, {
            token: alice.access_token,
            body: { master_key: other },
        });
        assert.equal(r.status, 401);
        const sig = await srv.request('POST', `${C}/keys/signatures/upload`, { token: alice.access_token, body: {} });
        assertOk(sig);
        assert.deepEqual(sig.json, { failures: {} });
    });

    it('changes needs sync tokens (see device_lists.test.mjs); there is no key backup', T, async () => {
        const c = await srv.request('GET', `${C}/keys/changes?from=s0&to=s1`, { token: alice.access_token });
        assertError(c, 400, 'M_INVALID_PARAM');
        const b = await srv.request('GET', `${C}/room_keys/version`, { token: alice.access_token });
        assertError(b, 404, 'M_NOT_FOUND');
        assertError(await srv.request('GET', `${C}/room_keys/version`, {}), 401, 'M_MISSING_TOKEN');
    });

    it('bad inputs are rejected', T, async () => {
        const t = alice.access_token;
        const post = (p, body, raw) => srv.request('POST', `${C}/keys/${p}`, raw ? { token: t, raw } : { token: t, body });
        assertError(await post('upload', null, '{nope'), 400, 'M_NOT_JSON');
        assertError(await post('upload', { one_time_keys: [] }), 400, 'M_BAD_JSON');
        assertError(await post('upload', { one_time_keys: { nocolon: 'k' } }), 400, 'M_BAD_JSON');
        assertError(await post('upload', { one_time_keys: { 'a:b': 5 } }), 400, 'M_BAD_JSON');
        assertError(await post('upload', { device_keys: deviceKeys(alice.user_id, 'OTHERDEVICE') }), 400);
        assertError(await post('upload', { device_keys: deviceKeys(bob.user_id, alice.device_id) }), 400);
        assertError(await post('upload', { device_keys: 'x' }), 400, 'M_BAD_JSON');
        // a one-time key ID still stored cannot get other content
        assertError(await post('upload', { one_time_keys: { 'curve25519:C': 'different' } }), 400);
        assertError(await post('query', {}), 400, 'M_BAD_JSON');
        assertError(await post('query', { device_keys: { [bob.user_id]: 'x' } }), 400, 'M_BAD_JSON');
        assertError(await post('claim', { one_time_keys: 3 }), 400, 'M_BAD_JSON');
        assertError(await post('claim', { one_time_keys: { [bob.user_id]: { D: 1 } } }), 400, 'M_BAD_JSON');
        assertError(await post('device_signing/upload', { master_key: { user_id: bob.user_id, usage: ['master'], keys: {} } }), 400);
        assertError(await srv.request('POST', `${C}/keys/upload`, { body: {} }), 401, 'M_MISSING_TOKEN');
    });

    it('keys survive a restart', T, async () => {
        assertOk(await srv.request('POST', `${C}/keys/upload`, {
            token: alice.access_token,
            body: { one_time_keys: { 'signed_curve25519:R1': otk(7) } },
        }));
        await srv.restart();
        bob = await srv.login('bob');
        const q = await srv.request('POST', `${C}/keys/query`, {
            token: bob.access_token,
            body: { device_keys: { [alice.user_id]: [alice.device_id] } },
        });
        assertOk(q);
        assert.equal(q.json.device_keys[alice.user_id][alice.device_id].keys[`ed25519:${alice.device_id}`], 'EDKEY');
        assert.equal(q.json.master_keys[alice.user_id].keys['ed25519:MASTER'], 'MASTER');
        const r = await srv.request('POST', `${C}/keys/claim`, {
            token: bob.access_token,
            body: { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } } },
        });
        assertOk(r);
        assert.deepEqual(r.json.one_time_keys[alice.user_id][alice.device_id], { 'signed_curve25519:R1': otk(7) });
        const again = await srv.request('POST', `${C}/keys/claim`, {
            token: bob.access_token,
            body: { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } } },
        });
        // the used fallback key FB2 is handed out again
        assert.deepEqual(Object.keys(again.json.one_time_keys[alice.user_id][alice.device_id]), ['signed_curve25519:FB2']);
    });
});

describe('to-device messages', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'carol' }, { name: 'dave' }] });
    let carol, dave, dave2;
    before(async () => {
        carol = await srv.login('carol');
        dave = await srv.login('dave');
        dave2 = await srv.login('dave');
    });
    const send = (token, type, txn, messages) =>
        srv.request('PUT', `${C}/sendToDevice/${encodeURIComponent(type)}/${txn}`, { token, body: { messages } });
    const events = (s) => s.to_device.events;

    it('a message reaches its device once; "*" reaches every device', T, async () => {
        const d1 = await sync(srv, dave.access_token);
        const d2 = await sync(srv, dave2.access_token);
        assert.deepEqual(events(d1), []);
        assertOk(await send(carol.access_token, 'm.test', 't1', { [dave.user_id]: { [dave.device_id]: { n: 1 } } }));
        let s1 = await sync(srv, dave.access_token, { since: d1.next_batch });
        assert.deepEqual(events(s1), [{ type: 'm.test', sender: carol.user_id, content: { n: 1 } }]);
        const s2 = await sync(srv, dave2.access_token, { since: d2.next_batch });
        assert.deepEqual(events(s2), []);
        // the same transaction ID again sends nothing
        assertOk(await send(carol.access_token, 'm.test', 't1', { [dave.user_id]: { [dave.device_id]: { n: 1 } } }));
        // a second send to all devices
        assertOk(await send(carol.access_token, 'm.test', 't2', { [dave.user_id]: { '*': { n: 2 } } }));
        const s1b = await sync(srv, dave.access_token, { since: s1.next_batch });
        assert.deepEqual(events(s1b).map((e) => e.content.n), [2]);
        const s2b = await sync(srv, dave2.access_token, { since: s2.next_batch });
        assert.deepEqual(events(s2b).map((e) => e.content.n), [2]);
        // syncing again from the older token still shows the undeleted message only after ack:
        // the device synced past n=1, so it is gone
        const again = await sync(srv, dave.access_token, { since: s1b.next_batch });
        assert.deepEqual(events(again), []);
        s1 = again;
    });

    it('a message wakes the parked /sync of the target', T, async () => {
        const d = await sync(srv, dave.access_token);
        const parked = sync(srv, dave.access_token, { since: d.next_batch, timeout: String(30000 * SLOW) });
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        assertOk(await send(carol.access_token, 'm.wake', 'w1', { [dave.user_id]: { [dave.device_id]: { w: true } } }));
        const s = await parked;
        assert.ok(Date.now() - t0 < 10000 * SLOW);
        assert.deepEqual(events(s), [{ type: 'm.wake', sender: carol.user_id, content: { w: true } }]);
    });

    it('undelivered messages survive a restart; bad inputs are rejected', T, async () => {
        const d = await sync(srv, dave2.access_token);
        assertOk(await send(carol.access_token, 'm.keep', 'k1', { [dave.user_id]: { [dave2.device_id]: { k: 1 } } }));
        await srv.restart();
        const s = await sync(srv, dave2.access_token, { since: d.next_batch });
        assert.deepEqual(events(s), [{ type: 'm.keep', sender: carol.user_id, content: { k: 1 } }]);
        const t = carol.access_token;
        assertError(await srv.request('PUT', `${C}/sendToDevice/m.x/b1`, { token: t, raw: '{nope' }), 400, 'M_NOT_JSON');
        assertError(await srv.request('PUT', `${C}/sendToDevice/m.x/b2`, { token: t, body: {} }), 400, 'M_BAD_JSON');
        assertError(await send(t, 'm.x', 'b3', { [dave.user_id]: { D: 'str' } }), 400, 'M_BAD_JSON');
        // unknown users are skipped
        assertOk(await send(t, 'm.x', 'b4', { '@nobody:balai.test': { D: {} } }));
    });

    it('message content is sealed at rest', T, async () => {
        assertOk(await send(carol.access_token, 'm.secret', 's1', { [dave.user_id]: { [dave.device_id]: { text: 'VERIFYMARKER4242' } } }));
        await srv.stop();
        for (const f of ['balai.db', 'balai.db-wal']) {
            let buf;
            try {
                buf = await fs.readFile(path.join(srv.dir, f));
            } catch {
                continue;
            }
            assert.equal(buf.includes('VERIFYMARKER4242'), false, `${f} holds the to-device content`);
        }
        await srv.start();
        const s = await sync(srv, dave.access_token);
        assert.ok(events(s).some((e) => e.content.text === 'VERIFYMARKER4242'), 'delivered after the restart');
    });
});
