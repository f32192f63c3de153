// e2ee.test.mjs: the security.e2ee policy seen by real clients. Under
// `allow`, two matrix-js-sdk 36.2.0 clients with Rust crypto (in-memory
// store) talk in an encrypted room: keys are uploaded, queried and claimed,
// the room key travels to-device, each side decrypts the other, and the
// server holds only ciphertext. Under `deny` (the default), encrypted rooms
// and events are refused and .well-known tells Element to hide encryption.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';

import { ClientEvent, createClient } from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

logger.setLevel?.('error');
// The SDK's per-room loggers and the Rust crypto tracing ignore that level and
// log at debug to the console; keep them quiet unless asked for.
if (!process.env.BALAI_TEST_SDK_LOG) {
    for (const m of ['debug', 'info', 'log']) console[m] = () => {};
}

const T = { timeout: 120_000 * SLOW };
const C = '/_matrix/client/v3';
const RELAXED = { BALAI_LOGIN_IP_ATTEMPTS: 100000, BALAI_LOGIN_ACCOUNT_FAILURES: 100000 };
const MEGOLM = 'm.megolm.v1.aes-sha2';

// Polls check() until it returns a truthy value; rejects after ms.
function waitFor(check, what, ms = 30_000 * SLOW) {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const tick = async () => {
            let v;
            try {
                v = await check();
            } catch (e) {
                reject(e);
                return;
            }
            if (v) resolve(v);
            else if (Date.now() - start > ms) reject(new Error(`timed out waiting for ${what}`));
            else setTimeout(tick, 50);
        };
        tick();
    });
}

// Resolves p, or rejects when it takes longer than ms.
function bounded(p, what, ms = 30_000 * SLOW) {
    let timer;
    return Promise.race([
        p,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
        }),
    ]).finally(() => clearTimeout(timer));
}

// Logs in, initialises Rust crypto with an in-memory store and starts syncing.
async function cryptoClient(srv, user, clients) {
    const login = await srv.login(user);
    const c = createClient({
        baseUrl: srv.url,
        accessToken: login.access_token,
        userId: login.user_id,
        deviceId: login.device_id,
    });
    clients.push(c);
    await bounded(c.initRustCrypto({ useIndexedDB: false }), `${user}: initRustCrypto`);
    const prepared = new Promise((resolve, reject) => {
        c.on(ClientEvent.Sync, (state, prev, data) => {
            if (state === 'PREPARED' || state === 'SYNCING') resolve();
            if (state === 'ERROR') reject(data?.error || new Error('sync error'));
        });
    });
    await c.startClient({ initialSyncLimit: 20 });
    await bounded(prepared, `${user}: first sync`);
    c.token = login.access_token;
    return c;
}

// The decrypted m.room.message bodies in a client's live timeline (events
// that fail to decrypt show up as m.room.message with msgtype m.bad.encrypted
// and are left out).
function clearBodies(client, roomId) {
    const room = client.getRoom(roomId);
    if (!room) return [];
    return room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.isEncrypted() && !e.isDecryptionFailure() && e.getType() === 'm.room.message')
        .map((e) => e.getContent().body);
}

function decryptionFailures(client, roomId) {
    const room = client.getRoom(roomId);
    if (!room) return [];
    return room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.isDecryptionFailure())
        .map((e) => `${e.getId()}: ${e.decryptionFailureReason}`);
}

describe('e2ee = allow: encrypted room between two crypto clients', () => {
    // Registered before the server's hooks so that the clients stop first.
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({
        env: { ...RELAXED, BALAI_SECURITY_E2EE: 'allow' },
        users: [{ name: 'alice' }, { name: 'bob' }],
    });

    it('.well-known does not disable encryption', T, async () => {
        const r = await srv.request('GET', '/.well-known/matrix/client');
        assertOk(r);
        assert.equal(r.json['io.element.e2ee'], undefined, r.text);
    });

    it('alice and bob exchange encrypted messages and decrypt them', T, async () => {
        const alice = await cryptoClient(srv, 'alice', clients);
        const bob = await cryptoClient(srv, 'bob', clients);

        // bob's device published its identity keys (the upload is asynchronous)
        await waitFor(async () => {
            const q = await srv.request('POST', `${C}/keys/query`, {
                token: alice.token,
                body: { device_keys: { [bob.getUserId()]: [] } },
            });
            assertOk(q);
            return q.json.device_keys[bob.getUserId()]?.[bob.getDeviceId()];
        }, "bob's device keys on the server");

        const { room_id: roomId } = await alice.createRoom({
            name: 'Secret ward',
            preset: 'private_chat',
            initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: MEGOLM } }],
        });
        await waitFor(
            async () => alice.getRoom(roomId) && (await alice.getCrypto().isEncryptionEnabledInRoom(roomId)),
            'alice sees the room as encrypted',
        );
        await alice.invite(roomId, bob.getUserId());
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'invite at bob');
        await bob.joinRoom(roomId);
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'join', 'bob joined');
        await waitFor(
            () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join',
            "bob's join at alice",
        );

        const sent = await bounded(alice.sendTextMessage(roomId, 'the patient in bed 4'), 'alice sends');
        try {
            await waitFor(
                () => clearBodies(bob, roomId).includes('the patient in bed 4'),
                "alice's message decrypted at bob",
            );
        } catch (e) {
            e.message += `; failures at bob: ${JSON.stringify(decryptionFailures(bob, roomId))}`;
            throw e;
        }

        // the server stored ciphertext only
        const eventPath = `/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent.event_id)}`;
        const raw = await srv.request('GET', C + eventPath, { token: bob.token });
        assertOk(raw);
        assert.equal(raw.json.type, 'm.room.encrypted', raw.text);
        assert.equal(raw.json.content.algorithm, MEGOLM, raw.text);
        assert.equal(typeof raw.json.content.ciphertext, 'string', raw.text);
        assert.ok(!raw.text.includes('bed 4'), `clear text on the server: ${raw.text}`);

        await bounded(bob.sendTextMessage(roomId, 'on my way'), 'bob sends');
        try {
            await waitFor(
                () => clearBodies(alice, roomId).includes('on my way'),
                "bob's reply decrypted at alice",
            );
        } catch (e) {
            e.message += `; failures at alice: ${JSON.stringify(decryptionFailures(alice, roomId))}`;
            throw e;
        }
        const ev = alice
            .getRoom(roomId)
            .getLiveTimeline()
            .getEvents()
            .find((e) => e.getContent().body === 'on my way');
        assert.equal(ev.getWireType(), 'm.room.encrypted');
        assert.equal(ev.getSender(), bob.getUserId());
    });
});

describe('e2ee = deny (the default): encryption is refused', () => {
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({ env: RELAXED, users: [{ name: 'carol' }] });

    it('a client with crypto still starts, uploads its keys and sends in the clear', T, async () => {
        const carol = await cryptoClient(srv, 'carol', clients);
        await waitFor(async () => {
            const q = await srv.request('POST', `${C}/keys/query`, {
                token: carol.token,
                body: { device_keys: { [carol.getUserId()]: [] } },
            });
            assertOk(q);
            return q.json.device_keys[carol.getUserId()]?.[carol.getDeviceId()];
        }, "carol's device keys on the server");
        const { room_id: roomId } = await carol.createRoom({ name: 'plain', preset: 'private_chat' });
        assert.equal(await carol.getCrypto().isEncryptionEnabledInRoom(roomId), false);
        const sent = await bounded(carol.sendTextMessage(roomId, 'visible to audit'), 'carol sends');
        const r = await srv.request(
            'GET',
            `${C}/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent.event_id)}`,
            { token: carol.token },
        );
        assertOk(r);
        assert.equal(r.json.type, 'm.room.message', r.text);
        assert.equal(r.json.content.body, 'visible to audit');
    });

    it('.well-known forces encryption off for Element', T, async () => {
        const r = await srv.request('GET', '/.well-known/matrix/client');
        assertOk(r);
        assert.deepEqual(r.json['io.element.e2ee'], { default: false, force_disable: true });
    });

    it('createRoom with m.room.encryption in initial_state is refused', T, async () => {
        const { access_token: token } = await srv.login('carol');
        const r = await srv.request('POST', `${C}/createRoom`, {
            token,
            body: {
                initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: MEGOLM } }],
            },
        });
        assertError(r, 403, 'M_FORBIDDEN');
        assert.match(r.json.error, /end-to-end encrypted/);
    });

    it('m.room.encryption state and m.room.encrypted events are refused', T, async () => {
        const { access_token: token } = await srv.login('carol');
        const created = await srv.request('POST', `${C}/createRoom`, { token, body: { name: 'plain' } });
        assertOk(created);
        const room = encodeURIComponent(created.json.room_id);
        const st = await srv.request('PUT', `${C}/rooms/${room}/state/m.room.encryption/`, {
            token,
            body: { algorithm: MEGOLM },
        });
        assertError(st, 403, 'M_FORBIDDEN');
        const ev = await srv.request('PUT', `${C}/rooms/${room}/send/m.room.encrypted/txn1`, {
            token,
            body: { algorithm: MEGOLM, ciphertext: 'AAAA', sender_key: 'x', session_id: 'y', device_id: 'D' },
        });
        assertError(ev, 403, 'M_FORBIDDEN');
        const state = await srv.request('GET', `${C}/rooms/${room}/state`, { token });
        assertOk(state);
        assert.ok(!state.json.some((e) => e.type === 'm.room.encryption'), state.text);
        // the room still works in the clear
        assertOk(await srv.request('PUT', `${C}/rooms/${room}/send/m.room.message/txn2`, {
            token,
            body: { msgtype: 'm.text', body: 'plain text is fine' },
        }));
    });
});
