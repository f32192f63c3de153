// relations.test.mjs: event relations (threads, annotations, edits,
// references) end to end: GET /relations with its filters and pagination,
// GET /threads, the bundled aggregations in /event, /messages and /sync,
// the rules (invalid edits not aggregated, duplicate annotations refused,
// no thread off a relation, relations across rooms ignored),
// unsigned.redacted_because, and all of it after a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const V1 = '/_matrix/client/v1';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let txnCounter = 0;
const txn = () => `rel${Date.now()}_${txnCounter++}`;

describe('event relations', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }] });
    let alice, bob, carol, room, room2;

    async function sendRaw(token, r, type, content) {
        return srv.request('PUT', `${C}/rooms/${enc(r)}/send/${enc(type)}/${txn()}`, { token, body: content });
    }
    async function send(token, r, type, content) {
        const res = await sendRaw(token, r, type, content);
        assertOk(res);
        return res.json.event_id;
    }
    const msg = (token, r, body, extra = {}) => send(token, r, 'm.room.message', { msgtype: 'm.text', body, ...extra });
    const thread = (token, r, root, body) =>
        msg(token, r, body, { 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const react = (token, r, target, key) =>
        sendRaw(token, r, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } });
    const edit = (token, r, target, body) =>
        msg(token, r, `* ${body}`, {
            'm.new_content': { msgtype: 'm.text', body },
            'm.relates_to': { rel_type: 'm.replace', event_id: target },
        });
    function relations(token, r, id, suffix = '', query = '') {
        return srv.request('GET', `${V1}/rooms/${enc(r)}/relations/${enc(id)}${suffix}${query ? '?' + query : ''}`, { token });
    }
    async function getEvent(token, r, id) {
        const res = await srv.request('GET', `${C}/rooms/${enc(r)}/event/${enc(id)}`, { token });
        assertOk(res);
        return res.json;
    }
    async function fromMessages(token, r, id) {
        const res = await srv.request('GET', `${C}/rooms/${enc(r)}/messages?dir=b&limit=500`, { token });
        assertOk(res);
        return res.json.chunk.find((e) => e.event_id === id);
    }
    async function fromSync(token, r, id) {
        const filter = enc(JSON.stringify({ room: { timeline: { limit: 100 } } }));
        const res = await srv.request('GET', `${C}/sync?filter=${filter}`, { token });
        assertOk(res);
        const tl = res.json.rooms?.join?.[r]?.timeline?.events ?? [];
        return tl.find((e) => e.event_id === id);
    }
    async function relogin() {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        carol = (await srv.login('carol')).access_token;
    }

    before(async () => {
        await relogin();
        const c = await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat' } });
        assertOk(c);
        room = c.json.room_id;
        const c2 = await srv.request('POST', `${C}/createRoom`, { token: bob, body: { preset: 'public_chat' } });
        assertOk(c2);
        room2 = c2.json.room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob, body: {} }));
    });

    let root, replies, edited, lastEdit, badEdit, thumbs, refd, ref;

    it('threads: /relations pages both ways with filters; bundles in /event, /messages, /sync', T, async () => {
        root = await msg(alice, room, 'thread root');
        replies = [];
        for (let i = 0; i < 3; i++) replies.push(await thread(i === 1 ? alice : bob, room, root, `reply ${i}`));
        // a reaction to the root is a relation of another type
        const r = await react(bob, room, root, 'ok');
        assertOk(r);

        let res = await relations(alice, room, root);
        assertOk(res);
        assert.deepEqual(res.json.chunk.map((e) => e.event_id), [r.json.event_id, ...replies.slice().reverse()]);
        assert.equal(res.json.next_batch, undefined);

        res = await relations(alice, room, root, '/m.thread');
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), replies.slice().reverse());
        res = await relations(alice, room, root, '/m.thread/m.room.message');
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), replies.slice().reverse());
        res = await relations(alice, room, root, '/m.thread/m.reaction');
        assert.deepEqual(assertOk(res).chunk, []);
        res = await relations(alice, room, root, '/m.annotation/m.reaction');
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), [r.json.event_id]);
        assert.equal(res.json.chunk[0].content['m.relates_to'].key, 'ok');

        // backwards, two at a time
        res = await relations(alice, room, root, '/m.thread', 'limit=2');
        let j = assertOk(res);
        assert.deepEqual(j.chunk.map((e) => e.event_id), [replies[2], replies[1]]);
        assert.equal(typeof j.next_batch, 'string');
        res = await relations(alice, room, root, '/m.thread', `limit=2&from=${enc(j.next_batch)}`);
        j = assertOk(res);
        assert.deepEqual(j.chunk.map((e) => e.event_id), [replies[0]]);
        assert.equal(j.next_batch, undefined);
        assert.equal(typeof j.prev_batch, 'string');
        // forwards, one at a time
        const seen = [];
        let from = null;
        for (let k = 0; k < 5; k++) {
            res = await relations(alice, room, root, '/m.thread', `dir=f&limit=1${from ? '&from=' + enc(from) : ''}`);
            j = assertOk(res);
            seen.push(...j.chunk.map((e) => e.event_id));
            if (!j.next_batch) break;
            from = j.next_batch;
        }
        assert.deepEqual(seen, replies);
        // `to` bounds the page
        res = await relations(alice, room, root, '/m.thread', 'dir=f&limit=1');
        const first = assertOk(res).next_batch;
        res = await relations(alice, room, root, '/m.thread', `dir=b&to=${enc(first)}`);
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), [replies[2], replies[1]]);

        const check = (ev, who) => {
            assert.ok(ev, 'root found');
            const th = ev.unsigned?.['m.relations']?.['m.thread'];
            assert.ok(th, `m.thread bundled: ${JSON.stringify(ev.unsigned)}`);
            assert.equal(th.count, 3);
            assert.equal(th.latest_event.event_id, replies[2]);
            assert.equal(th.latest_event.content.body, 'reply 2');
            assert.equal(th.latest_event.room_id, room);
            assert.equal(th.current_user_participated, who !== 'none');
        };
        check(await getEvent(alice, room, root), 'alice');
        check(await getEvent(bob, room, root), 'bob');
        check(await fromMessages(alice, room, root), 'alice');
        check(await fromSync(bob, room, root), 'bob');
        // a thread reply carries no bundle of its own
        assert.equal((await getEvent(alice, room, replies[0])).unsigned?.['m.relations'], undefined);
    });

    it('no thread off an event that has a relation', T, async () => {
        assertError(await sendRaw(bob, room, 'm.room.message', {
            msgtype: 'm.text', body: 'nested',
            'm.relates_to': { rel_type: 'm.thread', event_id: replies[0] },
        }), 400, 'M_UNKNOWN');
    });

    it('GET /threads lists thread roots, newest activity first, and include=participated', T, async () => {
        const root2 = await msg(bob, room, 'bob thread');
        await thread(bob, room, root2, 'bob talks alone');
        let res = await srv.request('GET', `${V1}/rooms/${enc(room)}/threads`, { token: alice });
        let j = assertOk(res);
        assert.deepEqual(j.chunk.map((e) => e.event_id), [root2, root]);
        assert.equal(j.chunk[1].unsigned['m.relations']['m.thread'].count, 3);
        res = await srv.request('GET', `${V1}/rooms/${enc(room)}/threads?include=participated`, { token: alice });
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), [root]);
        res = await srv.request('GET', `${V1}/rooms/${enc(room)}/threads?limit=1`, { token: bob });
        j = assertOk(res);
        assert.deepEqual(j.chunk.map((e) => e.event_id), [root2]);
        res = await srv.request('GET', `${V1}/rooms/${enc(room)}/threads?limit=1&from=${enc(j.next_batch)}`, { token: bob });
        j = assertOk(res);
        assert.deepEqual(j.chunk.map((e) => e.event_id), [root]);
        assertError(await srv.request('GET', `${V1}/rooms/${enc(room)}/threads?include=some`, { token: bob }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('GET', `${V1}/rooms/${enc(room)}/threads`, { token: carol }), 403, 'M_FORBIDDEN');
    });

    it('edits: the latest valid one is bundled; an edit by another sender is not', T, async () => {
        edited = await msg(alice, room, 'original');
        await edit(alice, room, edited, 'first fix');
        lastEdit = await edit(alice, room, edited, 'second fix');
        badEdit = await edit(bob, room, edited, 'bob was here');
        const check = (ev) => {
            assert.ok(ev);
            const rep = ev.unsigned?.['m.relations']?.['m.replace'];
            assert.ok(rep, `m.replace bundled: ${JSON.stringify(ev.unsigned)}`);
            assert.equal(rep.event_id, lastEdit);
            assert.equal(rep.sender, srv.userId('alice'));
            assert.equal(rep.content['m.new_content'].body, 'second fix');
            assert.equal(ev.content.body, 'original', 'the original content is kept (v1.12)');
        };
        check(await getEvent(bob, room, edited));
        check(await fromMessages(alice, room, edited));
        check(await fromSync(bob, room, edited));
        const res = await relations(alice, room, edited, '/m.replace');
        assert.equal(assertOk(res).chunk.length, 3);
        assert.equal(res.json.chunk[0].event_id, badEdit);
        // an edit of an edit is not aggregated on the edit
        await edit(alice, room, lastEdit, 'edit of an edit');
        assert.equal((await getEvent(alice, room, lastEdit)).unsigned?.['m.relations'], undefined);
        // a thread reply that was edited: latest_event carries its own bundle
        const fixed = await edit(bob, room, replies[2], 'reply 2, fixed');
        const th = (await getEvent(alice, room, root)).unsigned['m.relations']['m.thread'];
        assert.equal(th.latest_event.unsigned['m.relations']['m.replace'].event_id, fixed);
        assert.equal(th.latest_event.unsigned['m.relations']['m.replace'].unsigned?.['m.relations'], undefined);
    });

    it('annotations: a duplicate is refused, a redacted one leaves /relations', T, async () => {
        thumbs = await msg(alice, room, 'vote here');
        const first = await react(bob, room, thumbs, '👍');
        assertOk(first);
        assertError(await react(bob, room, thumbs, '👍'), 400, 'M_DUPLICATE_ANNOTATION');
        assertOk(await react(alice, room, thumbs, '👍'));
        assertOk(await react(bob, room, thumbs, '👎'));
        let res = await relations(alice, room, thumbs, '/m.annotation');
        assert.equal(assertOk(res).chunk.length, 3);
        // annotations are not bundled by the server (v1.12)
        assert.equal((await getEvent(alice, room, thumbs)).unsigned?.['m.relations'], undefined);
        const red = await srv.request('PUT', `${C}/rooms/${enc(room)}/redact/${enc(first.json.event_id)}/${txn()}`, {
            token: bob, body: {},
        });
        assertOk(red);
        res = await relations(alice, room, thumbs, '/m.annotation');
        assert.equal(assertOk(res).chunk.length, 2);
        assert.ok(!res.json.chunk.some((e) => e.event_id === first.json.event_id));
        // redacted_because on the redacted reaction
        const ev = await getEvent(alice, room, first.json.event_id);
        assert.equal(ev.unsigned?.redacted_because?.event_id, red.json.event_id);
        assert.equal(ev.unsigned.redacted_because.type, 'm.room.redaction');
        assert.equal(ev.unsigned.redacted_because.redacts, first.json.event_id);
        // and the same reaction may be sent again
        assertOk(await react(bob, room, thumbs, '👍'));
        assertError(await react(bob, room, thumbs, '👍'), 400, 'M_DUPLICATE_ANNOTATION');
    });

    it('two identical annotations sent at once: one is stored, the other refused', T, async () => {
        const target = await msg(alice, room, 'vote at once');
        const answers = await Promise.all([1, 2, 3].map(() => react(bob, room, target, '🎉')));
        const ok = answers.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, answers.map((r) => `${r.status} ${r.json?.errcode}`).join(', '));
        for (const r of answers.filter((x) => x.status !== 200)) assertError(r, 400, 'M_DUPLICATE_ANNOTATION');
        const res = await relations(alice, room, target, '/m.annotation');
        assert.equal(assertOk(res).chunk.length, 1);
    });

    it('references are bundled as a chunk of event ids; relations from another room are not', T, async () => {
        refd = await msg(alice, room, 'see below');
        ref = await send(bob, room, 'm.room.message', {
            msgtype: 'm.text', body: 'ref',
            'm.relates_to': { rel_type: 'm.reference', event_id: refd },
        });
        // bob points at the same event from another room
        await send(bob, room2, 'm.room.message', {
            msgtype: 'm.text', body: 'elsewhere',
            'm.relates_to': { rel_type: 'm.reference', event_id: refd },
        });
        const ev = await getEvent(alice, room, refd);
        assert.deepEqual(ev.unsigned['m.relations']['m.reference'], { chunk: [{ event_id: ref }] });
        const res = await relations(alice, room, refd);
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), [ref]);
    });

    it('redacted_because in /event, /messages and /sync; a redacted edit drops out', T, async () => {
        const id = await msg(bob, room, 'to be removed');
        const red = await srv.request('PUT', `${C}/rooms/${enc(room)}/redact/${enc(id)}/${txn()}`, {
            token: bob, body: { reason: 'oops' },
        });
        assertOk(red);
        for (const ev of [await getEvent(alice, room, id), await fromMessages(alice, room, id), await fromSync(alice, room, id)]) {
            assert.ok(ev);
            assert.deepEqual(ev.content, {});
            assert.equal(ev.unsigned?.redacted_because?.event_id, red.json.event_id);
            assert.equal(ev.unsigned.redacted_because.content.reason, 'oops');
        }
        // redact alice's latest edit: the previous one is bundled again
        const e1 = await msg(alice, room, 'v0');
        const e1a = await edit(alice, room, e1, 'v1');
        const e1b = await edit(alice, room, e1, 'v2');
        assert.equal((await getEvent(bob, room, e1)).unsigned['m.relations']['m.replace'].event_id, e1b);
        assertOk(await srv.request('PUT', `${C}/rooms/${enc(room)}/redact/${enc(e1b)}/${txn()}`, { token: alice, body: {} }));
        assert.equal((await getEvent(bob, room, e1)).unsigned['m.relations']['m.replace'].event_id, e1a);
    });

    it('recurse follows relations of relations', T, async () => {
        // a reaction to a thread reply relates to the root indirectly
        const r = await react(alice, room, replies[0], 'deep');
        assertOk(r);
        let res = await relations(alice, room, root, '', 'recurse=true');
        let j = assertOk(res);
        assert.equal(j.recursion_depth, 3);
        assert.ok(j.chunk.some((e) => e.event_id === r.json.event_id));
        res = await relations(alice, room, root, '/m.annotation', 'recurse=true');
        j = assertOk(res);
        assert.ok(j.chunk.some((e) => e.event_id === r.json.event_id));
        assert.ok(!j.chunk.some((e) => e.content['m.relates_to'].rel_type !== 'm.annotation'));
        res = await relations(alice, room, root, '', 'recurse=false');
        j = assertOk(res);
        assert.ok(!j.chunk.some((e) => e.event_id === r.json.event_id));
    });

    it('errors: auth, bad parameters, unknown event, not a member', T, async () => {
        const r = await srv.request('GET', `${V1}/rooms/${enc(room)}/relations/${enc(root)}`);
        assertError(r, 401, 'M_MISSING_TOKEN');
        assertError(await relations(alice, room, root, '', 'from=garbage'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, root, '', 'to=garbage'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, root, '', 'limit=-1'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, root, '', 'limit=abc'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, root, '', 'dir=x'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, root, '', 'recurse=maybe'), 400, 'M_INVALID_PARAM');
        assertError(await relations(alice, room, '$nosuchevent'), 404, 'M_NOT_FOUND');
        assertError(await relations(alice, room, 'nodollar'), 400, 'M_INVALID_PARAM');
        // an event of another room asked through this one
        const other = await msg(bob, room2, 'in room 2');
        assertError(await relations(alice, room, other), 404, 'M_NOT_FOUND');
        assertError(await relations(carol, room, root), 403, 'M_FORBIDDEN');
        assertError(await relations(alice, 'not-a-room', root), 400, 'M_INVALID_PARAM');
        // limit caps the page
        const res = await relations(alice, room, root, '', 'limit=1');
        assert.equal(assertOk(res).chunk.length, 1);
        assert.equal(typeof res.json.next_batch, 'string');
    });

    it('everything survives a restart', T, async () => {
        const before = await getEvent(alice, room, root);
        // push everything out of the in-memory timeline cache (64 events a room)
        for (let i = 0; i < 70; i++) await msg(bob, room, `filler ${i}`);
        assert.deepEqual((await getEvent(alice, room, root)).unsigned['m.relations'], before.unsigned['m.relations']);
        await srv.restart();
        await relogin();
        const after = await getEvent(alice, room, root);
        assert.deepEqual(after.unsigned['m.relations'], before.unsigned['m.relations']);
        assert.equal((await fromMessages(bob, room, root)).unsigned['m.relations']['m.thread'].count, 3);
        const ed = await getEvent(bob, room, edited);
        assert.equal(ed.unsigned['m.relations']['m.replace'].event_id, lastEdit);
        assert.deepEqual((await getEvent(alice, room, refd)).unsigned['m.relations']['m.reference'], {
            chunk: [{ event_id: ref }],
        });
        assertError(await react(bob, room, thumbs, '👍'), 400, 'M_DUPLICATE_ANNOTATION');
        assertError(await sendRaw(bob, room, 'm.room.message', {
            msgtype: 'm.text', body: 'nested',
            'm.relates_to': { rel_type: 'm.thread', event_id: replies[1] },
        }), 400, 'M_UNKNOWN');
        let res = await relations(alice, room, root, '/m.thread');
        assert.deepEqual(assertOk(res).chunk.map((e) => e.event_id), replies.slice().reverse());
        res = await relations(alice, room, thumbs, '/m.annotation');
        assert.equal(assertOk(res).chunk.length, 3);
        const reds = (await fromMessages(alice, room, badEdit)) && (await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=500`, { token: alice })).json.chunk;
        const redacted = reds.filter((e) => e.type === 'm.room.message' && Object.keys(e.content).length === 0);
        assert.ok(redacted.length >= 1);
        for (const e of redacted) assert.equal(e.unsigned?.redacted_because?.type, 'm.room.redaction');
        const fresh = await msg(alice, room, 'fresh');
        const freshEdit = await edit(alice, room, fresh, 'fresher');
        assert.equal((await fromSync(bob, room, fresh)).unsigned['m.relations']['m.replace'].event_id, freshEdit);
        // new relations still work after the restart
        const late = await thread(alice, room, root, 'after restart');
        assert.equal((await getEvent(bob, room, root)).unsigned['m.relations']['m.thread'].count, 4);
        // redacting the latest reply makes the one before it (no longer in
        // memory) the latest again: it is read back from the store
        for (let i = 0; i < 70; i++) await msg(bob, room, `filler again ${i}`);
        assertOk(await srv.request('PUT', `${C}/rooms/${enc(room)}/redact/${enc(late)}/${txn()}`, { token: alice, body: {} }));
        let th;
        for (let k = 0; k < 50; k++) {
            th = (await getEvent(bob, room, root)).unsigned?.['m.relations']?.['m.thread'];
            if (th?.latest_event) break;
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(th.count, 3);
        assert.equal(th.latest_event.event_id, replies[2]);
    });
});
