// sdk_scenario.test.mjs: two matrix-js-sdk 36.2.0 clients with running sync
// loops exercise what a chat client relies on: unread counts that rise with
// the other's messages and fall with a read receipt, receipts and typing
// seen by the other side, a reaction, a thread reply, an edit and a
// redaction arriving at the other client, and the redacted content gone
// from the server.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    ClientEvent,
    EventType,
    NotificationCountType,
    RelationType,
    createClient,
} from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

import { SLOW, useServer } from './lib/server.mjs';

logger.setLevel?.('error');

const T = { timeout: 120_000 * SLOW };

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
    await c.startClient({ initialSyncLimit: 30, threadSupport: true });
    await prepared;
    return { c, login };
}

describe('matrix-js-sdk: a conversation with everything a chat client shows', () => {
    const clients = [];
    after(() => {
        for (const c of clients) c.stopClient();
    });
    const srv = useServer({
        env: { BALAI_LOGIN_IP_ATTEMPTS: 100000, BALAI_LOGIN_ACCOUNT_FAILURES: 100000 },
        users: [{ name: 'alice', displayname: 'Alice' }, { name: 'bob', displayname: 'Bob' }],
    });

    it('unread counts, receipts, typing, reaction, thread, edit, redaction', T, async () => {
        const { c: alice, login: aliceLogin } = await started(srv, 'alice');
        const { c: bob } = await started(srv, 'bob');
        clients.push(alice, bob);
        const { room_id: roomId } = await alice.createRoom({ name: 'ICU handover', preset: 'private_chat' });
        await alice.invite(roomId, bob.getUserId());
        await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'invite at bob');
        await bob.joinRoom(roomId);
        await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join', 'bob joined at alice');

        // Unread counts rise with Alice's messages at Bob's side...
        const sent = [];
        for (const body of ['bed 3 needs a drip change', 'bed 5 is stable', 'handover at 7']) {
            sent.push((await alice.sendTextMessage(roomId, body)).event_id);
        }
        const bobRoom = () => bob.getRoom(roomId);
        await waitFor(() => bobRoom()?.findEventById(sent[2]), 'last message at bob');
        await waitFor(
            () => bobRoom().getUnreadNotificationCount(NotificationCountType.Total) === 3,
            `3 unread at bob (have ${bobRoom()?.getUnreadNotificationCount(NotificationCountType.Total)})`,
        );
        // ...a mention of Bob is a highlight...
        const mention = await alice.sendMessage(roomId, {
            msgtype: 'm.text',
            body: 'Bob: please check bed 3',
            'm.mentions': { user_ids: [bob.getUserId()] },
        });
        await waitFor(() => bobRoom().findEventById(mention.event_id), 'mention at bob');
        await waitFor(
            () => bobRoom().getUnreadNotificationCount(NotificationCountType.Highlight) === 1,
            'a highlight at bob',
        );
        assert.equal(bobRoom().getUnreadNotificationCount(NotificationCountType.Total), 4);

        // ...and fall to zero when Bob reads, which Alice sees as a receipt.
        await bob.sendReadReceipt(bobRoom().findEventById(mention.event_id));
        await waitFor(
            () => bobRoom().getUnreadNotificationCount(NotificationCountType.Total) === 0,
            'unread back to 0 at bob',
        );
        assert.equal(bobRoom().getUnreadNotificationCount(NotificationCountType.Highlight), 0);
        await waitFor(
            () => alice.getRoom(roomId).getEventReadUpTo(bob.getUserId()) === mention.event_id,
            'bob\'s receipt at alice',
        );

        // Typing reaches the other side.
        await bob.sendTyping(roomId, true, 10_000);
        await waitFor(() => alice.getRoom(roomId).getMember(bob.getUserId())?.typing === true, 'typing at alice');
        await bob.sendTyping(roomId, false);
        await waitFor(() => alice.getRoom(roomId).getMember(bob.getUserId())?.typing === false, 'typing stopped');

        // A reaction from Bob reaches Alice as an annotation of her message.
        const reaction = await bob.sendEvent(roomId, EventType.Reaction, {
            'm.relates_to': { rel_type: RelationType.Annotation, event_id: sent[0], key: '👍' },
        });
        await waitFor(() => alice.getRoom(roomId).findEventById(reaction.event_id), 'reaction at alice');
        const rev = alice.getRoom(roomId).findEventById(reaction.event_id);
        assert.equal(rev.getRelation()?.event_id, sent[0]);
        assert.equal(rev.getRelation()?.key, '👍');

        // A thread reply from Bob: Alice sees it in the thread of the root.
        const reply = await bob.sendMessage(roomId, sent[1], { msgtype: 'm.text', body: 'checked, BP 120/80' });
        await waitFor(() => {
            const thread = alice.getRoom(roomId).getThread(sent[1]);
            return thread && thread.events.some((e) => e.getId() === reply.event_id);
        }, 'thread reply at alice');

        // Alice edits a message: Bob sees the new content.
        const edit = await alice.sendMessage(roomId, {
            msgtype: 'm.text',
            body: '* handover at 8',
            'm.new_content': { msgtype: 'm.text', body: 'handover at 8' },
            'm.relates_to': { rel_type: RelationType.Replace, event_id: sent[2] },
        });
        await waitFor(() => {
            const ev = bobRoom().findEventById(sent[2]);
            return ev && ev.replacingEventId() === edit.event_id && ev.getContent().body === 'handover at 8';
        }, 'edit at bob');

        // Alice redacts a message: Bob sees it redacted, the server keeps no content.
        await alice.redactEvent(roomId, sent[0], undefined, { reason: 'wrong bed' });
        await waitFor(() => bobRoom().findEventById(sent[0])?.isRedacted(), 'redaction at bob');
        const raw = await srv.request('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent[0])}`, {
            token: aliceLogin.access_token,
        });
        assert.equal(raw.status, 200);
        assert.deepEqual(raw.json.content, {});
        assert.ok(raw.json.unsigned?.redacted_because, 'unsigned.redacted_because on the redacted event');
        assert.ok(!JSON.stringify(raw.json).includes('drip change'));
        for (const c of clients) c.stopClient();
    });
});
