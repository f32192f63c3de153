// db_migrate.test.mjs: `balai db migrate-to postgres://...` (docs/postgres.md):
// a SQLite deployment with users, rooms, messages, account data and audit
// entries is copied into an empty PostgreSQL database and verified; the
// config then points at PostgreSQL and the server serves the same data
// (old tokens work, history and state are there, new writes go on at the
// next stream positions); the SQLite file is untouched. Refusals: a running
// server (the data directory's lock), a target that already holds data,
// an unreachable database; each leaves the config as it was.
//
// Runs only with BALAI_TEST_PG (scripts/run-tests' PostgreSQL pass).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertOk, createPgDatabase, dropPgDatabase, PG_URL, psql, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 120_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

const sha = async (p) => crypto.createHash('sha256').update(await fs.readFile(p)).digest('hex');

describe('balai db migrate-to', { skip: !PG_URL && 'needs BALAI_TEST_PG' }, () => {
    const srv = useServer({ sqlite: true, users: [{ name: 'alice', admin: true }, { name: 'bob' }] });
    let alice, bob, room, before_msgs, target;

    before(async () => {
        alice = await srv.login('alice');
        bob = await srv.login('bob');
        room = assertOk(
            await srv.request('POST', `${C}/createRoom`, {
                token: alice.access_token,
                body: { preset: 'public_chat', name: 'Migrated', room_alias_name: 'migrated' },
            }),
        ).room_id;
        assertOk(await srv.request('POST', `${C}/join/${enc(room)}`, { token: bob.access_token, body: {} }));
        for (let i = 0; i < 20; i++) {
            assertOk(
                await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/t${i}`, {
                    token: i % 2 ? bob.access_token : alice.access_token,
                    body: { msgtype: 'm.text', body: `message ${i}` },
                }),
            );
        }
        assertOk(
            await srv.request('PUT', `${C}/user/${enc(alice.user_id)}/account_data/org.example.x`, {
                token: alice.access_token,
                body: { kept: true },
            }),
        );
        before_msgs = assertOk(
            await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=50`, { token: alice.access_token }),
        );
        target = await createPgDatabase();
    });

    it('refuses while the server runs, and changes nothing', T, async () => {
        const conf = await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8');
        const r = await srv.cli(['db', 'migrate-to', target]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /stop it first/);
        assert.equal(await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8'), conf);
    });

    it('refuses an unreachable database, and changes nothing', T, async () => {
        await srv.stop();
        const conf = await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8');
        const r = await srv.cli(['db', 'migrate-to', 'postgresql:///nosuchdb?host=/nonexistent-balai']);
        assert.notEqual(r.code, 0);
        assert.equal(await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8'), conf);
    });

    it('copies, verifies, switches the config; the server serves the same data', T, async () => {
        const db = path.join(srv.dir, 'balai.db');
        const before = await sha(db);
        const r = await srv.cli(['db', 'migrate-to', target]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /events\s+\d+ rows\s+[0-9a-f]{32}/);
        assert.match(r.stdout, /Verified/);
        assert.equal(await sha(db), before, 'the SQLite file is only read');
        const conf = await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8');
        assert.match(conf, /^backend = postgres$/m);
        assert.ok(conf.includes(`url = ${target}`));
        assert.match(await fs.readFile(path.join(srv.dir, 'balai.conf.sqlite-backup'), 'utf8'), /^backend = sqlite$/m);
        // the same rows on both sides
        const n = Number((await psql(target, 'SELECT count(*) FROM events')).trim());
        assert.ok(n >= 20, `${n} events copied`);

        await srv.start();
        // the old token still works; history, aliases and account data came along
        const after = assertOk(
            await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=50`, { token: alice.access_token }),
        );
        assert.deepEqual(
            after.chunk.map((e) => e.event_id),
            before_msgs.chunk.map((e) => e.event_id),
        );
        assert.equal(after.chunk.find((e) => e.content?.body === 'message 7')?.sender, bob.user_id);
        const alias = assertOk(await srv.request('GET', `${C}/directory/room/${enc('#migrated:balai.test')}`, { token: bob.access_token }));
        assert.equal(alias.room_id, room);
        const ad = assertOk(
            await srv.request('GET', `${C}/user/${enc(alice.user_id)}/account_data/org.example.x`, {
                token: alice.access_token,
            }),
        );
        assert.deepEqual(ad, { kept: true });
        // new writes continue after the copied positions, and a sync sees them
        const s0 = assertOk(await srv.request('GET', `${C}/sync?timeout=0`, { token: bob.access_token }));
        const sent = assertOk(
            await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/after1`, {
                token: alice.access_token,
                body: { msgtype: 'm.text', body: 'after the move' },
            }),
        );
        const s1 = assertOk(
            await srv.request('GET', `${C}/sync?timeout=5000&since=${enc(s0.next_batch)}`, { token: bob.access_token }),
        );
        const tl = s1.rooms.join[room].timeline.events.map((e) => e.event_id);
        assert.ok(tl.includes(sent.event_id));
        // a transaction id used before the move still deduplicates
        const again = assertOk(
            await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/t0`, {
                token: alice.access_token,
                body: { msgtype: 'm.text', body: 'message 0' },
            }),
        );
        assert.equal(again.event_id, before_msgs.chunk.find((e) => e.content?.body === 'message 0').event_id);
        await srv.stop();
        srv.pgUrl = target; // dropped with the server
    });

    it('refuses a target that already holds data', T, async () => {
        // the deployment is on PostgreSQL now: put the SQLite config back and
        // try to copy into the same (now full) database
        await fs.copyFile(path.join(srv.dir, 'balai.conf.sqlite-backup'), path.join(srv.dir, 'balai.conf'));
        const r = await srv.cli(['db', 'migrate-to', target]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /already holds data/);
        assert.match(await fs.readFile(path.join(srv.dir, 'balai.conf'), 'utf8'), /^backend = sqlite$/m);
        await srv.start();
    });
});

// keep the linter quiet about an unused import when skipped
void dropPgDatabase;
