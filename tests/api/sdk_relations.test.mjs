// sdk_relations.test.mjs: matrix-js-sdk 36.2.0 (thread support on) as an
// independent client: a thread reply and an edit sent by one client reach
// the other, which sees the thread (root, reply, count) and the replaced
// content; a client started afterwards sees both from the server's bundled
// aggregations and GET /threads.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';

import { ClientEvent, createClient } from 'matrix-js-sdk';

import { SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 90_000 * SLOW };

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
    await c.startClient({ initialSyncLimit: 20, threadSupport: true });
    await prepared;
    return c;
}

describe('matrix-js-sdk: threads and edits', () => {
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({
        env: { BALAI_LOGIN_IP_ATTEMPTS: 100000, BALAI_LOGIN_ACCOUNT_FAILURES: 100000 },
        users: [{ name: 'alice' }, { name: 'bob' }],
    });

    it('a thread reply and an edit reach the other client', T, async () => {
        const alice = await started(srv, 'alice');
        const bob = await started(srv, 'bob');
        clients.push(alice, bob);
        const { room_id: roomId } = await alice.createRoom({ name: 'Threads', preset: 'public_chat' });
        await bob.joinRoom(roomId);
        await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join', 'bob joined');

        const { event_id: rootId } = await alice.sendTextMessage(roomId, 'thread root');
        await waitFor(() => bob.getRoom(roomId)?.findEventById(rootId), 'root at bob');
        const { event_id: replyId } = await bob.sendMessage(roomId, rootId, {
            msgtype: 'm.text',
            body: 'in the thread',
            'm.relates_to': { rel_type: 'm.thread', event_id: rootId, is_falling_back: true, 'm.in_reply_to': { event_id: rootId } },
        });
        const thread = await waitFor(() => {
            const t = alice.getRoom(roomId)?.getThread(rootId);
            return t && t.findEventById(replyId) ? t : null;
        }, 'thread at alice');
        assert.equal(thread.id, rootId);
        assert.ok(thread.length >= 1);

        const { event_id: origId } = await bob.sendTextMessage(roomId, 'typo');
        await waitFor(() => alice.getRoom(roomId)?.findEventById(origId), 'original at alice');
        await bob.sendMessage(roomId, {
            msgtype: 'm.text',
            body: '* fixed',
            'm.new_content': { msgtype: 'm.text', body: 'fixed' },
            'm.relates_to': { rel_type: 'm.replace', event_id: origId },
        });
        await waitFor(() => alice.getRoom(roomId)?.findEventById(origId)?.getContent().body === 'fixed', 'edit at alice');
        assert.ok(alice.getRoom(roomId).findEventById(origId).replacingEvent());

        // a client that starts now learns both from the server
        const carol = await started(srv, 'alice');
        clients.push(carol);
        await waitFor(() => carol.getRoom(roomId)?.findEventById(origId)?.getContent().body === 'fixed', 'edit bundled at start');
        const t2 = await waitFor(() => carol.getRoom(roomId)?.getThread(rootId), 'thread at start');
        await waitFor(() => t2.length >= 1 || t2.replyToEvent, 'thread reply count at start');
        // let every client finish loading its threads before the server stops
        await waitFor(
            () => clients.every((c) => (c.getRoom(roomId)?.getThreads() ?? []).every((t) => t.initialEventsFetched)),
            'threads loaded',
        );
        await sleep(300);
        for (const c of clients) c.stopClient();
    });
});
