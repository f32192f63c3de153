// account_data.test.mjs: global and per-room account data, room tags, their
// delivery through /sync (initial, incremental, long-poll), durability and
// sealed storage.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

async function createRoom(srv, token, body = {}) {
    const r = await srv.request('POST', `${C}/createRoom`, { token, body });
    assertOk(r);
    return r.json.room_id;
}

async function sync(srv, token, params = {}) {
    const q = new URLSearchParams(params).toString();
    const r = await srv.request('GET', `${C}/sync${q ? '?' + q : ''}`, { token, timeoutMs: 60_000 * SLOW });
    assertOk(r);
    return r.json;
}

const globalPath = (srv, user, type) => `${C}/user/${enc(srv.userId(user))}/account_data/${enc(type)}`;
const roomPath = (srv, user, room, type) =>
    `${C}/user/${enc(srv.userId(user))}/rooms/${enc(room)}/account_data/${enc(type)}`;
const tagsPath = (srv, user, room, tag) =>
    `${C}/user/${enc(srv.userId(user))}/rooms/${enc(room)}/tags${tag === undefined ? '' : '/' + enc(tag)}`;

const findType = (events, type) => (events || []).find((e) => e.type === type);

describe('account data', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice, bob, room;
    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
        room = await createRoom(srv, alice, { preset: 'private_chat', name: 'Data' });
    });

    it('PUT and GET global account data; a new PUT replaces it', T, async () => {
        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.one'), { token: alice, body: { a: 1 } }));
        let g = await srv.request('GET', globalPath(srv, 'alice', 'org.example.one'), { token: alice });
        assertOk(g);
        assert.deepEqual(g.json, { a: 1 });
        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.one'), { token: alice, body: { b: [true, 'x'] } }));
        g = await srv.request('GET', globalPath(srv, 'alice', 'org.example.one'), { token: alice });
        assert.deepEqual(g.json, { b: [true, 'x'] });
    });

    it('PUT and GET per-room account data, separate from global data', T, async () => {
        assertOk(await srv.request('PUT', roomPath(srv, 'alice', room, 'org.example.one'), { token: alice, body: { room: true } }));
        const r = await srv.request('GET', roomPath(srv, 'alice', room, 'org.example.one'), { token: alice });
        assertOk(r);
        assert.deepEqual(r.json, { room: true });
        const g = await srv.request('GET', globalPath(srv, 'alice', 'org.example.one'), { token: alice });
        assert.deepEqual(g.json, { b: [true, 'x'] });
    });

    it('absent data is 404 M_NOT_FOUND', T, async () => {
        assertError(await srv.request('GET', globalPath(srv, 'alice', 'org.example.none'), { token: alice }), 404, 'M_NOT_FOUND');
        assertError(await srv.request('GET', roomPath(srv, 'alice', room, 'org.example.none'), { token: alice }), 404, 'M_NOT_FOUND');
    });

    it("another user's data is 403 M_FORBIDDEN", T, async () => {
        assertError(await srv.request('GET', globalPath(srv, 'alice', 'org.example.one'), { token: bob }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.one'), { token: bob, body: {} }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('PUT', roomPath(srv, 'alice', room, 'x.y'), { token: bob, body: {} }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('GET', tagsPath(srv, 'alice', room), { token: bob }), 403, 'M_FORBIDDEN');
        // no token
        assertError(await srv.request('GET', globalPath(srv, 'alice', 'org.example.one'), {}), 401, 'M_MISSING_TOKEN');
    });

    it('per-room data needs a membership in an existing room', T, async () => {
        // bob is not in alice's private room
        assertError(await srv.request('PUT', roomPath(srv, 'bob', room, 'x.y'), { token: bob, body: {} }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('GET', roomPath(srv, 'bob', room, 'x.y'), { token: bob }), 403, 'M_FORBIDDEN');
        assertError(await srv.request('PUT', roomPath(srv, 'bob', '!nope:' + srv.serverName, 'x.y'), { token: bob, body: {} }), 403, 'M_FORBIDDEN');
        const bad = await srv.request('PUT', roomPath(srv, 'bob', 'not-a-room', 'x.y'), { token: bob, body: {} });
        assert.equal(bad.status, 400);
    });

    it('m.fully_read and m.push_rules are refused with 405 M_BAD_JSON', T, async () => {
        assertError(await srv.request('PUT', globalPath(srv, 'alice', 'm.push_rules'), { token: alice, body: {} }), 405, 'M_BAD_JSON');
        assertError(await srv.request('PUT', globalPath(srv, 'alice', 'm.fully_read'), { token: alice, body: {} }), 405, 'M_BAD_JSON');
        assertError(await srv.request('PUT', roomPath(srv, 'alice', room, 'm.fully_read'), { token: alice, body: { event_id: '$x' } }), 405, 'M_BAD_JSON');
        assertError(await srv.request('PUT', roomPath(srv, 'alice', room, 'm.push_rules'), { token: alice, body: {} }), 405, 'M_BAD_JSON');
    });

    it('the body must be a JSON object', T, async () => {
        for (const raw of ['not json', '[1,2]', '"s"', '{"a":']) {
            const r = await srv.request('PUT', globalPath(srv, 'alice', 'org.example.bad'), {
                token: alice,
                raw,
                headers: { 'content-type': 'application/json' },
            });
            assert.equal(r.status, 400, raw);
            assert.ok(['M_NOT_JSON', 'M_BAD_JSON'].includes(r.json.errcode), `${raw}: ${r.json.errcode}`);
        }
        assertError(await srv.request('GET', globalPath(srv, 'alice', 'org.example.bad'), { token: alice }), 404, 'M_NOT_FOUND');
        // too large
        const big = await srv.request('PUT', globalPath(srv, 'alice', 'org.example.big'), { token: alice, body: { x: 'a'.repeat(70_000) } });
        assert.equal(big.status, 413);
    });

    it('room tags: put, get, delete, with order checks', T, async () => {
        let t = await srv.request('GET', tagsPath(srv, 'alice', room), { token: alice });
        assertOk(t);
        assert.deepEqual(t.json, { tags: {} });
        assertOk(await srv.request('PUT', tagsPath(srv, 'alice', room, 'm.favourite'), { token: alice, body: { order: 0.25 } }));
        assertOk(await srv.request('PUT', tagsPath(srv, 'alice', room, 'u.work'), { token: alice, body: {} }));
        t = await srv.request('GET', tagsPath(srv, 'alice', room), { token: alice });
        assert.deepEqual(t.json, { tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
        // the tags are the room's m.tag account data
        const m = await srv.request('GET', roomPath(srv, 'alice', room, 'm.tag'), { token: alice });
        assert.deepEqual(m.json, { tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
        for (const order of [1.5, -0.1, 'high']) {
            assertError(await srv.request('PUT', tagsPath(srv, 'alice', room, 'm.lowpriority'), { token: alice, body: { order } }), 400, 'M_BAD_JSON');
        }
        assertOk(await srv.request('DELETE', tagsPath(srv, 'alice', room, 'u.work'), { token: alice }));
        assertOk(await srv.request('DELETE', tagsPath(srv, 'alice', room, 'u.absent'), { token: alice }));
        t = await srv.request('GET', tagsPath(srv, 'alice', room), { token: alice });
        assert.deepEqual(t.json, { tags: { 'm.favourite': { order: 0.25 } } });
        assertError(await srv.request('PUT', tagsPath(srv, 'bob', room, 'u.x'), { token: bob, body: {} }), 403, 'M_FORBIDDEN');
    });

    it('concurrent tag edits build on each other', T, async () => {
        const r2 = await createRoom(srv, alice, { preset: 'private_chat' });
        const tags = Array.from({ length: 12 }, (_, i) => `u.t${i}`);
        const rs = await Promise.all(tags.map((tag) => srv.request('PUT', tagsPath(srv, 'alice', r2, tag), { token: alice, body: {} })));
        rs.forEach((r) => assertOk(r));
        const t = await srv.request('GET', tagsPath(srv, 'alice', r2), { token: alice });
        assert.deepEqual(Object.keys(t.json.tags).sort(), [...tags].sort());
    });

    it('sync delivers global and room account data, initial and incremental', T, async () => {
        const s0 = await sync(srv, alice);
        assert.deepEqual(findType(s0.account_data.events, 'org.example.one')?.content, { b: [true, 'x'] });
        const jr = s0.rooms.join[room];
        assert.deepEqual(findType(jr.account_data.events, 'org.example.one')?.content, { room: true });
        assert.deepEqual(findType(jr.account_data.events, 'm.tag')?.content, { tags: { 'm.favourite': { order: 0.25 } } });

        // nothing new: an incremental sync carries no account data
        const s1 = await sync(srv, alice, { since: s0.next_batch, timeout: 0 });
        assert.deepEqual(s1.account_data.events, []);
        assert.equal(s1.rooms.join[room], undefined);

        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.two'), { token: alice, body: { n: 2 } }));
        assertOk(await srv.request('PUT', roomPath(srv, 'alice', room, 'org.example.r'), { token: alice, body: { n: 3 } }));
        const s2 = await sync(srv, alice, { since: s1.next_batch, timeout: 0 });
        assert.deepEqual(s2.account_data.events, [{ type: 'org.example.two', content: { n: 2 } }]);
        assert.deepEqual(s2.rooms.join[room].account_data.events, [{ type: 'org.example.r', content: { n: 3 } }]);
        assert.deepEqual(s2.rooms.join[room].timeline.events, []);

        const s3 = await sync(srv, alice, { since: s2.next_batch, timeout: 0 });
        assert.deepEqual(s3.account_data.events, []);
        assert.equal(s3.rooms.join[room], undefined);

        // bob never sees alice's data
        const b = await sync(srv, bob);
        assert.equal(findType(b.account_data.events, 'org.example.one'), undefined);
    });

    it('a parked /sync wakes on a PUT of account data', T, async () => {
        const s0 = await sync(srv, alice);
        const t0 = Date.now();
        const parked = sync(srv, alice, { since: s0.next_batch, timeout: 20000 });
        await new Promise((r) => setTimeout(r, 300));
        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.wake'), { token: alice, body: { w: 1 } }));
        const s = await parked;
        assert.ok(Date.now() - t0 < 10000, 'woke before the timeout');
        assert.deepEqual(s.account_data.events, [{ type: 'org.example.wake', content: { w: 1 } }]);

        // and on a tag change
        const parked2 = sync(srv, alice, { since: s.next_batch, timeout: 20000 });
        await new Promise((r) => setTimeout(r, 300));
        assertOk(await srv.request('PUT', tagsPath(srv, 'alice', room, 'u.late'), { token: alice, body: {} }));
        const s2 = await parked2;
        assert.ok(findType(s2.rooms.join[room]?.account_data.events, 'm.tag')?.content.tags['u.late']);
    });

    it('account data survives a restart; the database holds no content text', T, async () => {
        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.secret'), { token: alice, body: { v: 'ACCOUNTDATAMARKER42' } }));
        assertOk(await srv.request('PUT', roomPath(srv, 'alice', room, 'org.example.secret'), { token: alice, body: { v: 'ROOMDATAMARKER43' } }));
        assertOk(await srv.request('PUT', tagsPath(srv, 'alice', room, 'u.TAGMARKER44'), { token: alice, body: {} }));
        const before = await sync(srv, alice);
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        const g = await srv.request('GET', globalPath(srv, 'alice', 'org.example.secret'), { token: alice });
        assert.deepEqual(g.json, { v: 'ACCOUNTDATAMARKER42' });
        const r = await srv.request('GET', roomPath(srv, 'alice', room, 'org.example.secret'), { token: alice });
        assert.deepEqual(r.json, { v: 'ROOMDATAMARKER43' });
        const after = await sync(srv, alice);
        const sortT = (a) => [...a].sort((x, y) => (x.type < y.type ? -1 : 1));
        assert.deepEqual(sortT(after.account_data.events), sortT(before.account_data.events));
        assert.deepEqual(sortT(after.rooms.join[room].account_data.events), sortT(before.rooms.join[room].account_data.events));
        // a token from before the restart: nothing new
        const inc = await sync(srv, alice, { since: before.next_batch, timeout: 0 });
        assert.deepEqual(inc.account_data.events, []);
        // positions keep increasing after a restart
        assertOk(await srv.request('PUT', globalPath(srv, 'alice', 'org.example.post'), { token: alice, body: { p: 1 } }));
        const inc2 = await sync(srv, alice, { since: inc.next_batch, timeout: 0 });
        assert.deepEqual(inc2.account_data.events, [{ type: 'org.example.post', content: { p: 1 } }]);

        await srv.stop();
        for (const f of ['balai.db', 'balai.db-wal']) {
            let buf;
            try {
                buf = await fs.readFile(path.join(srv.dir, f));
            } catch {
                continue;
            }
            for (const marker of ['ACCOUNTDATAMARKER42', 'ROOMDATAMARKER43', 'TAGMARKER44'])
                assert.equal(buf.includes(marker), false, `${f} holds ${marker}`);
        }
        await srv.start();
    });
});
