// unread.test.mjs: unread notification counts in /sync (unread_notifications,
// unread_thread_notifications), driven by push rules: messages from others
// count, own messages do not and mark the room read, receipts (POST /receipt,
// /read_markers, threaded receipts) reset them, keyword rules and mentions
// highlight, a silent room stops counting, and the counts survive a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txn = 0;

describe('unread counts', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room, threadFilter;

    async function send(token, content, r = room) {
        const res = await srv.request('PUT', `${C}/rooms/${enc(r)}/send/m.room.message/u${Date.now()}_${txn++}`, {
            token,
            body: typeof content === 'string' ? { msgtype: 'm.text', body: content } : content,
        });
        assertOk(res);
        return res.json.event_id;
    }
    async function sync(token, params = {}) {
        const q = new URLSearchParams(params).toString();
        const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
        assertOk(r);
        return r.json;
    }
    // The counts of the room in a full (initial) sync.
    async function counts(token, r = room, params = {}) {
        const s = await sync(token, params);
        return s.rooms.join[r];
    }
    const unread = async (token, r = room) => (await counts(token, r)).unread_notifications;
    const receipt = (token, eventId, body = {}, type = 'm.read') =>
        srv.request('POST', `${C}/rooms/${enc(room)}/receipt/${type}/${enc(eventId)}`, { token, body });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        const r = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(r);
        room = r.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: carol, body: {} }));
        const f = await srv.request('POST', `${C}/user/${enc(srv.userId('alice'))}/filter`, {
            token: alice, body: { room: { timeline: { unread_thread_notifications: true } } },
        });
        assertOk(f);
        threadFilter = f.json.filter_id;
    });

    it('messages from others count; own messages do not', T, async () => {
        assert.deepEqual(await unread(alice), { notification_count: 0, highlight_count: 0 });
        await send(bob, 'one');
        await send(bob, 'two');
        const last = await send(bob, 'three');
        assert.deepEqual(await unread(alice), { notification_count: 3, highlight_count: 0 });
        assert.deepEqual(await unread(bob), { notification_count: 0, highlight_count: 0 });
        // an m.read receipt on the last event clears them, and the room shows in
        // the next incremental sync with the new counts
        const base = await sync(alice);
        assertOk(await receipt(alice, last));
        const inc = await sync(alice, { since: base.next_batch, timeout: 5000 });
        assert.deepEqual(inc.rooms.join[room].unread_notifications, { notification_count: 0, highlight_count: 0 });
        assert.deepEqual(await unread(alice), { notification_count: 0, highlight_count: 0 });
        // the counts arrive with the event in a waiting sync
        const base2 = await sync(alice);
        const waiting = sync(alice, { since: base2.next_batch, timeout: 10000 });
        await send(bob, 'four');
        const woke = await waiting;
        assert.deepEqual(woke.rooms.join[room].unread_notifications, { notification_count: 1, highlight_count: 0 });
    });

    it('read_markers with m.read, and a private receipt, clear the counts', T, async () => {
        const e = await send(bob, 'five');
        assert.equal((await unread(carol)).notification_count, 5);
        assertOk(await srv.request('POST', `${C}/rooms/${enc(room)}/read_markers`, {
            token: carol, body: { 'm.fully_read': e, 'm.read': e },
        }));
        assert.equal((await unread(carol)).notification_count, 0);
        const e2 = await send(bob, 'six');
        assert.equal((await unread(alice)).notification_count, 3); // four, five, six
        assertOk(await receipt(alice, e2, {}, 'm.read.private'));
        assert.equal((await unread(alice)).notification_count, 0);
    });

    it('sending a message marks the room read for its sender', T, async () => {
        await send(bob, 'seven');
        assert.equal((await unread(alice)).notification_count, 1);
        await send(alice, 'my reply');
        assert.equal((await unread(alice)).notification_count, 0);
    });

    it('a keyword content rule and a mention highlight', T, async () => {
        const start = await send(bob, 'start');
        assertOk(await receipt(alice, start));
        assertOk(await receipt(carol, start));
        const base = await sync(alice);
        assertOk(await srv.request('PUT', `${C}/pushrules/global/content/deploys`, {
            token: alice, body: { pattern: 'deploy*', actions: ['notify', { set_tweak: 'highlight' }] },
        }));
        await send(bob, 'time to deploy now');
        assert.deepEqual(await unread(alice), { notification_count: 1, highlight_count: 1 });
        await send(bob, { msgtype: 'm.text', body: 'hey you', 'm.mentions': { user_ids: [srv.userId('alice')] } });
        assert.deepEqual(await unread(alice), { notification_count: 2, highlight_count: 2 });
        // carol's rules are hers: no keyword, no mention
        assert.deepEqual(await unread(carol), { notification_count: 2, highlight_count: 0 });
        // the user name highlights by default
        await send(bob, 'ask carol');
        assert.deepEqual(await unread(carol), { notification_count: 3, highlight_count: 1 });
        const inc = await sync(alice, { since: base.next_batch, timeout: 0 });
        assert.ok(inc.account_data.events.some((e) => e.type === 'm.push_rules'));
    });

    it('a room rule with no actions makes the room silent', T, async () => {
        const last = await send(bob, 'reset point');
        assertOk(await receipt(carol, last));
        assertOk(await srv.request('PUT', `${C}/pushrules/global/room/${enc(room)}`, { token: carol, body: { actions: [] } }));
        await send(bob, 'quiet please');
        await send(bob, 'still quiet');
        assert.deepEqual(await unread(carol), { notification_count: 0, highlight_count: 0 });
        assert.ok((await unread(alice)).notification_count >= 3);
        assertOk(await srv.request('DELETE', `${C}/pushrules/global/room/${enc(room)}`, { token: carol }));
        await send(bob, 'loud again');
        assert.deepEqual(await unread(carol), { notification_count: 1, highlight_count: 0 });
        // an override that matches everything, as dont_notify, also silences
        assertOk(await srv.request('PUT', `${C}/pushrules/global/override/.m.rule.master/enabled`, { token: carol, body: { enabled: true } }));
        await send(bob, 'muted');
        assert.deepEqual(await unread(carol), { notification_count: 1, highlight_count: 0 });
        assertOk(await srv.request('PUT', `${C}/pushrules/global/override/.m.rule.master/enabled`, { token: carol, body: { enabled: false } }));
    });

    it('threaded counts, and a threaded receipt clears only its thread', T, async () => {
        const main = await send(bob, 'main point');
        assertOk(await receipt(alice, main));
        const root = await send(bob, 'thread root');
        const inThread = (text) => ({ msgtype: 'm.text', body: text, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
        await send(bob, inThread('reply one'));
        const t2 = await send(bob, inThread('reply two'));
        const j = await counts(alice, room, { filter: threadFilter });
        assert.deepEqual(j.unread_notifications, { notification_count: 1, highlight_count: 0 });
        assert.deepEqual(j.unread_thread_notifications, { [root]: { notification_count: 2, highlight_count: 0 } });
        // without the filter flag: one total
        assert.deepEqual(await unread(alice), { notification_count: 3, highlight_count: 0 });
        assertOk(await receipt(alice, t2, { thread_id: root }));
        const j2 = await counts(alice, room, { filter: threadFilter });
        assert.deepEqual(j2.unread_notifications, { notification_count: 1, highlight_count: 0 });
        assert.deepEqual(j2.unread_thread_notifications, {});
        // a threaded receipt on main clears main only
        await send(bob, inThread('reply three'));
        assertOk(await receipt(alice, root, { thread_id: 'main' }));
        const j3 = await counts(alice, room, { filter: threadFilter });
        assert.deepEqual(j3.unread_notifications, { notification_count: 0, highlight_count: 0 });
        assert.deepEqual(j3.unread_thread_notifications, { [root]: { notification_count: 1, highlight_count: 0 } });
    });

    it('counts survive a restart', T, async () => {
        const last = await send(bob, 'before restart');
        assertOk(await receipt(carol, last));
        await send(bob, 'one more');
        await send(bob, 'and another');
        const before = {
            alice: await counts(alice, room, { filter: threadFilter }),
            bob: await unread(bob),
            carol: await unread(carol),
        };
        assert.deepEqual(before.carol, { notification_count: 2, highlight_count: 0 });
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        const after = await counts(alice, room, { filter: threadFilter });
        assert.deepEqual(after.unread_notifications, before.alice.unread_notifications);
        assert.deepEqual(after.unread_thread_notifications, before.alice.unread_thread_notifications);
        assert.deepEqual(await unread(bob), before.bob);
        assert.deepEqual(await unread(carol), before.carol);
        // and keep working
        await send(bob, 'after restart');
        assert.equal((await unread(carol)).notification_count, 3);
    });
});
