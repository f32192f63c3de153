// sdk_messaging.test.mjs: matrix-js-sdk 36.2.0 with a running sync loop as an
// independent client: Alice creates a room and invites Bob, Bob joins,
// messages flow both ways through /sync, Bob leaves and no longer receives.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';

import { ClientEvent, RoomEvent, createClient } from 'matrix-js-sdk';

import { SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 90_000 * SLOW };

// Quiet the SDK's logging.
import { logger } from 'matrix-js-sdk/lib/logger.js';
logger.setLevel?.('error');

function waitFor(check, what, ms = 20_000 * SLOW) {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const tick = () => {
            let v;
            try {
                v = check();
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

async function started(srv, user) {
    const login = await srv.login(user);
    const c = createClient({
        baseUrl: srv.url,
        accessToken: login.access_token,
        userId: login.user_id,
        deviceId: login.device_id,
    });
    const prepared = new Promise((resolve, reject) => {
        c.on(ClientEvent.Sync, (state, prev, data) => {
            if (state === 'PREPARED' || state === 'SYNCING') resolve();
            if (state === 'ERROR') reject(data?.error || new Error('sync error'));
        });
    });
    await c.startClient({ initialSyncLimit: 20 });
    await prepared;
    return c;
}

function bodies(client, roomId) {
    const room = client.getRoom(roomId);
    if (!room) return [];
    return room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.getType() === 'm.room.message')
        .map((e) => e.getContent().body);
}

describe('matrix-js-sdk: two clients talk through /sync', () => {
    // Registered before the server's hooks so that the clients stop before
    // the server does (a client that sees its server go away keeps retrying).
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({
        env: { BALAI_LOGIN_IP_ATTEMPTS: 100000, BALAI_LOGIN_ACCOUNT_FAILURES: 100000 },
        users: [{ name: 'alice' }, { name: 'bob' }],
    });

    it('create, invite, join, talk both ways, leave', T, async () => {
        const alice = await started(srv, 'alice');
        const bob = await started(srv, 'bob');
        clients.push(alice, bob);
        const { room_id: roomId } = await alice.createRoom({ name: 'Ward 7', preset: 'private_chat' });
        await alice.invite(roomId, bob.getUserId());
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'invite at bob');
        await bob.joinRoom(roomId);
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'join', 'bob joined');

        const seenByBob = [];
        bob.on(RoomEvent.Timeline, (ev, room) => {
            if (room?.roomId === roomId && ev.getType() === 'm.room.message') seenByBob.push(ev.getContent().body);
        });
        await alice.sendTextMessage(roomId, 'hello bob');
        await waitFor(() => bodies(bob, roomId).includes('hello bob'), 'message at bob');
        await bob.sendTextMessage(roomId, 'hello alice');
        await waitFor(() => bodies(alice, roomId).includes('hello alice'), 'message at alice');
        assert.ok(seenByBob.includes('hello bob'));
        assert.equal(bob.getRoom(roomId).name, 'Ward 7');

        await bob.leave(roomId);
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'leave', 'bob left');
        await alice.sendTextMessage(roomId, 'after bob left');
        await waitFor(() => bodies(alice, roomId).includes('after bob left'), 'alice sees her message');
        await sleep(1500);
        assert.ok(!bodies(bob, roomId).includes('after bob left'), 'bob no longer receives');
        assert.ok(!seenByBob.includes('after bob left'));
        for (const c of clients) c.stopClient();
    });
});
