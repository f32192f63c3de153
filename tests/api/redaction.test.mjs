// redaction.test.mjs: PUT /rooms/{roomId}/redact/{eventId}/{txnId}: who may
// redact what, idempotency, and that the original is destroyed in storage
// (the redacted form is what every reader sees, also after a restart).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txnCounter = 0;
const txn = () => `r${Date.now()}_${txnCounter++}`;

async function createRoom(srv, token, body = {}) {
    const r = await srv.request('POST', `${C}/createRoom`, { token, body });
    assertOk(r);
    return r.json.room_id;
}

async function send(srv, token, room, body) {
    const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, {
        token,
        body: { msgtype: 'm.text', ...body },
    });
    assertOk(r);
    return r.json.event_id;
}

function redact(srv, token, room, eventId, body = {}, t = txn()) {
    return srv.request('PUT', `${C}/rooms/${enc(room)}/redact/${enc(eventId)}/${t}`, { token, body });
}

async function getEvent(srv, token, room, eventId) {
    const r = await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc(eventId)}`, { token });
    assertOk(r);
    return r.json;
}

async function fromMessages(srv, token, room, eventId) {
    const r = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=200`, { token });
    assertOk(r);
    return r.json.chunk.find((e) => e.event_id === eventId);
}

describe('redaction', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room;
    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
        room = await createRoom(srv, alice, { preset: 'public_chat', name: 'Redactions' });
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
    });

    it('redacting one\'s own message empties it for /event, /messages and after a restart', T, async () => {
        const id = await send(srv, bob, room, { body: 'oops, wrong room' });
        const r = await redact(srv, bob, room, id, { reason: 'mistake' });
        assertOk(r);
        assert.match(r.json.event_id, /^\$/);
        const e = await getEvent(srv, alice, room, id);
        assert.deepEqual(e.content, {});
        assert.equal(e.sender, srv.userId('bob'));
        assert.equal(e.type, 'm.room.message');
        assert.deepEqual((await fromMessages(srv, alice, room, id)).content, {});
        const red = await getEvent(srv, alice, room, r.json.event_id);
        assert.equal(red.type, 'm.room.redaction');
        assert.equal(red.redacts, id);
        assert.equal(red.content.reason, 'mistake');
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        assert.deepEqual((await getEvent(srv, alice, room, id)).content, {});
        assert.deepEqual((await fromMessages(srv, bob, room, id)).content, {});
    });

    it('another member\'s sync sees the redaction event with redacts', T, async () => {
        const s0 = await srv.request('GET', `${C}/sync?timeout=0`, { token: alice });
        assertOk(s0);
        const id = await send(srv, bob, room, { body: 'to be removed' });
        const r = await redact(srv, bob, room, id);
        assertOk(r);
        const s = await srv.request('GET', `${C}/sync?timeout=0&since=${enc(s0.json.next_batch)}`, { token: alice });
        assertOk(s);
        const evs = s.json.rooms.join[room].timeline.events;
        const red = evs.find((e) => e.event_id === r.json.event_id);
        assert.ok(red, 'the redaction is in the timeline');
        assert.equal(red.type, 'm.room.redaction');
        assert.equal(red.redacts, id);
        // a fresh sync sees the message redacted
        const full = await srv.request('GET', `${C}/sync?timeout=0`, { token: alice });
        assertOk(full);
        const orig = full.json.rooms.join[room].timeline.events.find((e) => e.event_id === id);
        if (orig) assert.deepEqual(orig.content, {});
    });

    it('power: a plain member cannot redact others, the creator can; unknown events are 404', T, async () => {
        const mine = await send(srv, alice, room, { body: 'from the creator' });
        assertError(await redact(srv, bob, room, mine), 403, 'M_FORBIDDEN');
        assert.equal((await getEvent(srv, bob, room, mine)).content.body, 'from the creator');
        const bobs = await send(srv, bob, room, { body: 'bob says' });
        assertOk(await redact(srv, alice, room, bobs, { reason: 'moderation' }));
        assert.deepEqual((await getEvent(srv, bob, room, bobs)).content, {});
        const fake = '$' + 'A'.repeat(43);
        assertError(await redact(srv, alice, room, fake), 404, 'M_NOT_FOUND');
        // a non-member is refused before anything else
        assertError(await redact(srv, carol, room, bobs), 403, 'M_FORBIDDEN');
        assertError(await redact(srv, alice, 'not-a-room', bobs), 400);
        // redacting an already redacted event is allowed
        assertOk(await redact(srv, alice, room, bobs));
    });

    it('the same transaction id returns the same redaction', T, async () => {
        const id = await send(srv, bob, room, { body: 'twice' });
        const t = txn();
        const a = await redact(srv, bob, room, id, {}, t);
        const b = await redact(srv, bob, room, id, {}, t);
        assertOk(a);
        assertOk(b);
        assert.equal(a.json.event_id, b.json.event_id);
        const m = await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=50`, { token: bob });
        assert.equal(m.json.chunk.filter((e) => e.type === 'm.room.redaction' && e.redacts === id).length, 1);
    });

    it('an old event (out of the cache) and a state event are redacted too', T, async () => {
        const old = await send(srv, bob, room, { body: 'ancient history' });
        for (let i = 0; i < 70; i++) await send(srv, alice, room, { body: `filler ${i}` });
        assertOk(await redact(srv, bob, room, old));
        assert.deepEqual((await getEvent(srv, alice, room, old)).content, {});
        const st = await srv.request('PUT', `${C}/rooms/${enc(room)}/state/m.room.topic`, {
            token: alice,
            body: { topic: 'secret topic' },
        });
        assertOk(st);
        assertOk(await redact(srv, alice, room, st.json.event_id));
        const cur = await srv.request('GET', `${C}/rooms/${enc(room)}/state`, { token: bob });
        assertOk(cur);
        const topic = cur.json.find((e) => e.type === 'm.room.topic');
        assert.equal(topic.event_id, st.json.event_id);
        assert.deepEqual(topic.content, {});
    });

    it('the original is destroyed in storage, not only hidden', T, async () => {
        const marker = 'REDACTMARKER5551234987';
        const id = await send(srv, bob, room, { body: marker });
        assertOk(await redact(srv, bob, room, id));
        await srv.stop();
        for (const f of ['balai.db', 'balai.db-wal']) {
            let buf;
            try {
                buf = await fs.readFile(path.join(srv.dir, f));
            } catch {
                continue;
            }
            assert.equal(buf.includes(marker), false, `${f} holds the message text`);
        }
        await srv.start();
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        // the stored blob itself was replaced: a cold read gives the redacted form
        const e = await getEvent(srv, alice, room, id);
        assert.deepEqual(e.content, {});
        assert.equal(JSON.stringify(e).includes(marker), false);
    });
});
