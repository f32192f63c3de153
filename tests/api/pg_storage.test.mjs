// pg_storage.test.mjs: content is sealed at rest on PostgreSQL too
// (DESIGN.md §3, docs/postgres.md). The SQLite tests look for markers in
// balai.db; here the whole database is dumped (pg_dump --data-only) after
// a message, a topic, a redacted message, account data and a to-device
// message carrying markers, and none of the markers may appear; the
// routing metadata (room, sender, type) does. The server then restarts and
// serves the same content from the database.
//
// Runs only with BALAI_TEST_PG.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { assertOk, PG_URL, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('sealed at rest on PostgreSQL', { skip: !PG_URL && 'needs BALAI_TEST_PG' }, () => {
    const srv = useServer({ users: [{ name: 'alice' }, { name: 'bob' }] });

    it('a dump of the database holds no content, only routing metadata', T, async () => {
        const alice = await srv.login('alice');
        const bob = await srv.login('bob');
        const room = assertOk(
            await srv.request('POST', `${C}/createRoom`, {
                token: alice.access_token,
                body: { preset: 'private_chat', topic: 'PGTOPICMARKER71', invite: [bob.user_id] },
            }),
        ).room_id;
        const put = (p, body, tok = alice.access_token) => srv.request('PUT', p, { token: tok, body });
        const msg = assertOk(
            await put(`${C}/rooms/${enc(room)}/send/m.room.message/m1`, { msgtype: 'm.text', body: 'PGBODYMARKER3171' }),
        ).event_id;
        const gone = assertOk(
            await put(`${C}/rooms/${enc(room)}/send/m.room.message/m2`, { msgtype: 'm.text', body: 'PGREDACTMARKER55' }),
        ).event_id;
        assertOk(await put(`${C}/rooms/${enc(room)}/redact/${enc(gone)}/r1`, { reason: 'PGREASONMARKER9' }));
        assertOk(await put(`${C}/user/${enc(alice.user_id)}/account_data/org.example.m`, { v: 'PGACCOUNTMARKER4' }));
        assertOk(
            await put(`${C}/sendToDevice/org.example.secret/d1`, {
                messages: { [bob.user_id]: { [bob.device_id]: { v: 'PGTODEVICEMARKER8' } } },
            }),
        );
        await srv.stop();
        const dump = spawnSync('pg_dump', ['--data-only', '-d', srv.pgUrl], { encoding: 'utf8', maxBuffer: 256 << 20 });
        assert.equal(dump.status, 0, dump.stderr);
        for (const m of ['PGTOPICMARKER71', 'PGBODYMARKER3171', 'PGREDACTMARKER55', 'PGACCOUNTMARKER4', 'PGTODEVICEMARKER8', 'PGREASONMARKER9'])
            assert.equal(dump.stdout.includes(m), false, `the database holds ${m}`);
        assert.ok(dump.stdout.includes(room), 'room ids are clear metadata');
        assert.ok(dump.stdout.includes(msg), 'event ids are clear metadata');

        await srv.start();
        const a2 = await srv.login('alice');
        const ev = assertOk(await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc(msg)}`, { token: a2.access_token }));
        assert.equal(ev.content.body, 'PGBODYMARKER3171');
        const red = assertOk(await srv.request('GET', `${C}/rooms/${enc(room)}/event/${enc(gone)}`, { token: a2.access_token }));
        assert.deepEqual(red.content, {});
    });
});
