// audit.test.mjs: the audit trail (docs/audit.md): entries for logins
// (success and failure, with the address), logouts, device deletion, password
// changes and admin actions (API and CLI); the admin API with its filters,
// pagination and access control; reading the trail is itself audited; the
// verify endpoint and `balai audit verify` online and offline; the chain
// continuing across restarts; and tampering with the database while the
// server is stopped (an edited row, a removed middle row, a cut tail), which
// both the endpoint after a restart and the offline CLI report (exit 1).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, psql, PW, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

// db: the SQLite file, or the PostgreSQL URL of the server's database (where
// a trigger is dropped ON its table).
function sqlite(db, sql) {
    if (db.startsWith('postgres')) return psql(db, sql.replace(/DROP TRIGGER (\w+);/g, 'DROP TRIGGER $1 ON audit_log;'));
    return new Promise((resolve, reject) => {
        execFile('sqlite3', [db, sql], (err, stdout, stderr) => {
            if (err) reject(new Error(`sqlite3 ${sql}: ${stderr || err.message}`));
            else resolve(stdout);
        });
    });
}

describe('audit trail', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [
            { name: 'root', admin: true },
            { name: 'alice' },
            { name: 'bob' },
            { name: 'erin' },
            { name: 'frank' },
        ],
    });
    let root;
    let db;

    const audit = async (query = '', token = root.access_token) =>
        assertOk(await srv.request('GET', `${A}/audit${query}`, { token }));
    // Entries recorded on their own (not inside the action's transaction)
    // commit just after the answer: poll until `pred` holds.
    const auditUntil = async (query, pred) => {
        let j;
        for (let i = 0; i < 100; i++) {
            j = await audit(query);
            if (pred(j.entries)) return j;
            await sleep(20);
        }
        return j;
    };
    const verify = async () => assertOk(await srv.request('GET', `${A}/audit/verify`, { token: root.access_token }));
    const lastSeq = async () => (await audit('?limit=1')).entries[0].seq;

    before(async () => {
        root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
        db = srv.pgUrl ?? path.join(srv.dir, 'balai.db');
        if (!srv.pgUrl) await fs.access(db);
    });

    describe('what is recorded', () => {
        it('a login and a failed login, with the address', T, async () => {
            await srv.login('alice', PW, { device_id: 'ALICEDEV' });
            assertError(await srv.loginRaw('alice', 'not the password at all'), 403, 'M_FORBIDDEN');
            const alice = srv.userId('alice');
            const ok = await auditUntil(`?action=user.login&actor=${enc(alice)}`, (e) => e.length >= 1);
            assert.equal(ok.entries.length, 1, JSON.stringify(ok));
            const e = ok.entries[0];
            assert.equal(e.actor, alice);
            assert.equal(e.target, alice);
            assert.equal(e.detail.address, '127.0.0.1');
            assert.equal(e.detail.device_id, 'ALICEDEV');
            assert.equal(typeof e.seq, 'number');
            assert.equal(typeof e.ts, 'number');
            assert.match(e.mac, /^[0-9a-f]{64}$/);
            assert.match(e.prev, /^[0-9a-f]{64}$/);
            const bad = await auditUntil(`?action=user.login_failed&target=${enc(alice)}`, (e) => e.length >= 1);
            assert.equal(bad.entries.length, 1);
            assert.equal(bad.entries[0].detail.address, '127.0.0.1');
            assert.ok(bad.entries[0].seq > e.seq, 'chain order follows the order of events');
        });

        it('admin create and deactivate, through the API and the CLI', T, async () => {
            assertOk(
                await srv.request('POST', `${A}/users`, {
                    token: root.access_token,
                    body: { username: 'carol', password: 'carol password 1' },
                }),
            );
            await srv.addUser('dave'); // the CLI, through the socket
            assertOk(
                await srv.request('POST', `${A}/users/${enc(srv.userId('bob'))}/deactivate`, {
                    token: root.access_token,
                    body: {},
                }),
            );
            const created = await audit('?action=admin.user.create&dir=f');
            assert.deepEqual(
                created.entries.map((e) => [e.actor, e.target]),
                [
                    [srv.userId('root'), srv.userId('carol')],
                    ['cli', srv.userId('dave')],
                ],
            );
            assert.equal(created.entries[0].detail.admin, false);
            const deact = await audit(`?action=admin.user.deactivate&target=${enc(srv.userId('bob'))}`);
            assert.equal(deact.entries.length, 1);
            assert.equal(deact.entries[0].actor, srv.userId('root'));
            // a refused create records nothing
            assertError(
                await srv.request('POST', `${A}/users`, { token: root.access_token, body: { username: 'carol' } }),
                400,
                'M_USER_IN_USE',
            );
            assert.equal((await audit('?action=admin.user.create')).entries.length, 2);
        });

        it('logout, logout/all, device deletion and a password change', T, async () => {
            const carol = srv.userId('carol');
            const s1 = await srv.login('carol', 'carol password 1', { device_id: 'C1' });
            const s2 = await srv.login('carol', 'carol password 1', { device_id: 'C2' });
            await srv.login('carol', 'carol password 1', { device_id: 'C3' });
            await srv.login('carol', 'carol password 1', { device_id: 'C4' });
            assertOk(await srv.request('POST', `${C}/logout`, { token: s1.access_token, body: {} }));
            assertOk(
                await srv.request('POST', `${C}/delete_devices`, {
                    token: s2.access_token,
                    body: {
                        devices: ['C3'],
                        auth: {
                            type: 'm.login.password',
                            identifier: { type: 'm.id.user', user: 'carol' },
                            password: 'carol password 1',
                        },
                    },
                }),
            );
            assertOk(
                await srv.request('POST', `${C}/account/password`, {
                    token: s2.access_token,
                    body: {
                        new_password: 'carol password 2',
                        auth: {
                            type: 'm.login.password',
                            identifier: { type: 'm.id.user', user: 'carol' },
                            password: 'carol password 1',
                        },
                    },
                }),
            );
            assertOk(await srv.request('POST', `${C}/logout/all`, { token: s2.access_token, body: {} }));
            const j = await auditUntil(`?actor=${enc(carol)}&dir=f`, (e) => e.length >= 8);
            const actions = j.entries.map((e) => e.action);
            assert.deepEqual(actions, [
                'user.login',
                'user.login',
                'user.login',
                'user.login',
                'user.logout',
                'user.device.delete',
                'user.password.change',
                'user.logout_all',
            ]);
            assert.deepEqual(j.entries[4].detail.devices, ['C1']);
            assert.deepEqual(j.entries[5].detail.devices, ['C3']);
            assert.equal(j.entries[6].detail.devices_logged_out, 1); // C4
            assert.deepEqual(j.entries[7].detail.devices, ['C2']);
        });
    });

    describe('the admin API', () => {
        it('without a token is 401, for a plain member 403', T, async () => {
            const alice = await srv.login('alice');
            for (const p of [`${A}/audit`, `${A}/audit/verify`]) {
                assertError(await srv.request('GET', p), 401, 'M_MISSING_TOKEN');
                assertError(await srv.request('GET', p, { token: 'bogus' }), 401, 'M_UNKNOWN_TOKEN');
                assertError(await srv.request('GET', p, { token: alice.access_token }), 403, 'M_FORBIDDEN');
            }
        });

        it('the roles compliance and owner may read it; admin and member may not', T, async () => {
            const setRole = async (name, role) =>
                assertOk(
                    await srv.request('PUT', `${A}/users/${enc(srv.userId(name))}/role`, {
                        token: root.access_token,
                        body: { role },
                    }),
                );
            await setRole('erin', 'compliance');
            await setRole('frank', 'admin');
            const erin = await srv.login('erin');
            const frank = await srv.login('frank');
            const j = await audit('?limit=1', erin.access_token);
            assert.equal(j.entries.length, 1);
            assert.equal(assertOk(await srv.request('GET', `${A}/audit/verify`, { token: erin.access_token })).ok, true);
            for (const p of [`${A}/audit`, `${A}/audit/verify`])
                assertError(await srv.request('GET', p, { token: frank.access_token }), 403, 'M_FORBIDDEN');
            const reads = await auditUntil(`?action=audit.read&actor=${enc(srv.userId('erin'))}`, (e) => e.length >= 1);
            assert.equal(reads.entries.length, 1);
        });

        it('bad parameters are 400 M_INVALID_PARAM', T, async () => {
            for (const q of ['limit=0', 'limit=1001', 'limit=x', 'since=abc', 'until=-1', 'from=1.5', 'dir=x', 'actor=']) {
                assertError(
                    await srv.request('GET', `${A}/audit?${q}`, { token: root.access_token }),
                    400,
                    'M_INVALID_PARAM',
                );
            }
        });

        it('newest first by default, oldest first with dir=f, paginated with next', T, async () => {
            const newest = await audit('?limit=5');
            const seqs = newest.entries.map((e) => e.seq);
            assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
            assert.equal(typeof newest.next, 'string');
            const oldest = await audit('?limit=3&dir=f');
            assert.deepEqual(oldest.entries.map((e) => e.seq), [1, 2, 3]);
            // walk everything oldest first, two at a time
            const all = [];
            let from = '';
            for (let i = 0; i < 200; i++) {
                const page = await audit(`?limit=2&dir=f${from ? `&from=${from}` : ''}`);
                all.push(...page.entries.map((e) => e.seq));
                if (!page.next) break;
                from = page.next;
            }
            for (let i = 1; i < all.length; i++) assert.equal(all[i], all[i - 1] + 1, `no gap: ${all}`);
            assert.equal(all[0], 1);
            // and newest first
            const back = [];
            from = '';
            for (let i = 0; i < 200; i++) {
                const page = await audit(`?limit=3&action=user.*${from ? `&from=${from}` : ''}`);
                back.push(...page.entries.map((e) => e.seq));
                assert.ok(page.entries.every((e) => e.action.startsWith('user.')));
                if (!page.next) break;
                from = page.next;
            }
            assert.deepEqual(back, [...back].sort((a, b) => b - a));
            assert.ok(back.length >= 10, `${back.length}`);
        });

        it('filters by actor, action prefix, target and time', T, async () => {
            const j = await audit('?action=admin.*&dir=f');
            assert.ok(j.entries.length >= 3);
            assert.ok(j.entries.every((e) => e.action.startsWith('admin.')));
            const first = j.entries[0];
            const since = await audit(`?since=${first.ts}&action=admin.*&dir=f`);
            assert.ok(since.entries.every((e) => e.ts >= first.ts));
            const until = await audit(`?until=${first.ts - 1}&action=admin.*`);
            assert.ok(until.entries.every((e) => e.ts < first.ts));
            assert.equal((await audit(`?until=1`)).entries.length, 0);
            assert.equal((await audit(`?actor=${enc('@nobody:balai.test')}`)).entries.length, 0);
            assert.deepEqual((await audit('?actor=cli&action=admin.user.create')).entries.map((e) => e.target), [
                srv.userId('dave'),
            ]);
        });

        it('reading and verifying the trail are themselves audited', T, async () => {
            await audit('?actor=someone');
            await verify();
            const reads = await auditUntil(`?action=audit.read&actor=${enc(srv.userId('root'))}&limit=1000`, (e) =>
                e.some((x) => x.detail.actor === 'someone'),
            );
            assert.ok(reads.entries.some((e) => e.detail.actor === 'someone'), JSON.stringify(reads.entries[0]));
            const v = await audit('?action=audit.verify');
            assert.ok(v.entries.length >= 1);
            assert.equal(v.entries[0].actor, srv.userId('root'));
        });

        it('verify: the intact trail', T, async () => {
            const v = await verify();
            assert.equal(v.ok, true, JSON.stringify(v));
            assert.equal(v.first_bad, null);
            assert.ok(v.entries >= 20, JSON.stringify(v));
            assert.equal(typeof v.head_seq, 'number');
            assert.ok(v.head_seq >= 1 && v.head_seq <= v.last_seq, JSON.stringify(v));
        });

        it('the CLI: audit verify and audit list through the socket (actor cli)', T, async () => {
            const r = await srv.cli(['audit', 'verify']);
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /intact/);
            const l = await srv.cli(['audit', 'list', '--action', 'admin.*', '--limit', '10']);
            assert.equal(l.code, 0, l.stderr);
            assert.match(l.stdout, /admin\.user\.create/);
            assert.equal((await auditUntil('?actor=cli&action=audit.verify', (e) => e.length >= 1)).entries.length, 1);
        });
    });

    describe('durability and tampering', () => {
        it('a restart continues the chain (seq and MAC link)', T, async () => {
            const before = await lastSeq();
            await srv.restart();
            root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
            const j = await auditUntil('?action=user.login&limit=1', (e) => e[0].seq > before);
            assert.ok(j.entries[0].seq > before);
            // the first entry after the restart links to the last before it
            const pair = await audit(`?dir=f&from=${before - 1}&limit=2`);
            assert.equal(pair.entries[0].seq, before);
            assert.equal(pair.entries[1].seq, before + 1);
            assert.equal(pair.entries[1].prev, pair.entries[0].mac);
            assert.equal((await verify()).ok, true);
            assert.equal((await srv.cli(['audit', 'verify'])).code, 0);
            // the head file is outside the database, signed
            const head = JSON.parse(await fs.readFile(path.join(srv.dir, 'audit.head'), 'utf8'));
            assert.equal(head.v, 1);
            assert.match(head.sig, /^[0-9a-f]{128}$/);
        });

        it('the stopped server: offline verify is intact, and the trail refuses UPDATE and DELETE', T, async () => {
            await srv.stop();
            const r = await srv.cli(['audit', 'verify']);
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /intact/);
            await assert.rejects(sqlite(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 1"), /append-only/);
            await assert.rejects(sqlite(db, 'DELETE FROM audit_log WHERE seq = 1'), /append-only/);
        });

        let edited;
        it('an edited entry is found offline (exit 1) and by the endpoint after a restart', T, async () => {
            // the server is stopped; the attacker drops the triggers first
            const row = (await sqlite(db, "SELECT seq, target FROM audit_log WHERE action = 'user.login_failed' LIMIT 1")).trim();
            const [seq, target] = row.split('|');
            edited = { seq: Number(seq), target };
            await sqlite(
                db,
                `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
                 UPDATE audit_log SET target = '@someone-else:balai.test' WHERE seq = ${seq};`,
            );
            const r = await srv.cli(['audit', 'verify']);
            assert.equal(r.code, 1, r.stdout + r.stderr);
            assert.match(r.stdout, new RegExp(`first bad entry ${seq}: entry ${seq} was altered`));
            await srv.start();
            root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
            const v = await verify();
            assert.equal(v.ok, false);
            assert.equal(v.first_bad.seq, edited.seq);
            assert.match(v.first_bad.reason, /altered/);
            const online = await srv.cli(['audit', 'verify']);
            assert.equal(online.code, 1, online.stdout);
            assert.match(online.stdout, /TAMPERED/);
        });

        it('a removed middle entry is found', T, async () => {
            await srv.stop();
            await sqlite(db, `UPDATE audit_log SET target = '${edited.target}' WHERE seq = ${edited.seq}`);
            assert.equal((await srv.cli(['audit', 'verify'])).code, 0, 'restored exactly: intact again');
            await sqlite(db, `DELETE FROM audit_log WHERE seq = ${edited.seq + 1}`);
            const r = await srv.cli(['audit', 'verify']);
            assert.equal(r.code, 1);
            assert.match(r.stdout, new RegExp(`first bad entry ${edited.seq + 1}: entry ${edited.seq + 1} is missing`));
        });

        it('a cut tail is found offline and online, and a restart does not paper over it', T, async () => {
            // on top of the removed middle entry (which cannot be put back
            // without the key), cut the last three entries
            const total = Number((await sqlite(db, 'SELECT max(seq) FROM audit_log')).trim());
            const head = JSON.parse(await fs.readFile(path.join(srv.dir, 'audit.head'), 'utf8'));
            assert.equal(head.seq, total, 'the head covers every entry after a clean stop');
            await sqlite(db, `DELETE FROM audit_log WHERE seq > ${total - 3}`);
            const r = await srv.cli(['audit', 'verify']);
            assert.equal(r.code, 1);
            await srv.start();
            root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
            const v = await verify();
            assert.equal(v.ok, false);
            assert.equal(v.first_bad.seq, edited.seq + 1); // still the earliest fault
            // the chain went on from the signed head: the cut entries stay missing
            const after = await audit(`?dir=f&from=${total - 3}&limit=3`);
            assert.equal(after.entries[0].seq, total + 1, JSON.stringify(after.entries[0]));
            assert.equal(after.entries[0].action, 'audit.tail_cut');
            assert.equal(after.entries[0].detail.head_seq, total);
            await srv.restart();
            root = await srv.login('root', PW, { device_id: 'ROOTDEV' });
            assert.equal((await verify()).ok, false);
        });
    });
});

describe('audit trail: a cut tail alone', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [{ name: 'root', admin: true }],
    });

    it('entries removed from the end are reported at the first removed seq', T, async () => {
        const db = srv.pgUrl ?? path.join(srv.dir, 'balai.db');
        for (let i = 0; i < 5; i++) await srv.login('root');
        const root = await srv.login('root');
        const last = assertOk(await srv.request('GET', `${A}/audit?limit=1`, { token: root.access_token })).entries[0].seq;
        await srv.stop();
        const total = Number((await sqlite(db, 'SELECT max(seq) FROM audit_log')).trim());
        assert.ok(total >= last);
        await sqlite(db, `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > ${total - 2};`);
        const r = await srv.cli(['audit', 'verify']);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`first bad entry ${total - 1}: .*removed from the end`));
        await srv.start();
        const root2 = await srv.login('root');
        const v = assertOk(await srv.request('GET', `${A}/audit/verify`, { token: root2.access_token }));
        assert.equal(v.ok, false);
        assert.equal(v.first_bad.seq, total - 1);
        assert.match(v.first_bad.reason, /missing|removed/);
        // deleting the head file as well does not make it pass
        await srv.stop();
        await fs.rm(path.join(srv.dir, 'audit.head'));
        const r2 = await srv.cli(['audit', 'verify']);
        assert.equal(r2.code, 1, r2.stdout);
        await srv.start();
    });
});
