// pg_restart.test.mjs: PostgreSQL restarted under load (docs/postgres.md).
// Clients keep sending into one room while the cluster restarts
// (pg_ctl restart -m fast): every answer is 200 or 503 (a Matrix error body
// with retry_after_ms), Balai reconnects by itself, and every event it
// acknowledged with 200 is there afterwards, from the caches and after a
// restart of Balai (from the database).
//
// Runs only with BALAI_TEST_PG, on a private cluster of its own (restarting
// the shared one would disturb the other test files).

import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { assertOk, PG_URL, SLOW, sleep, TestServer, printLog } from './lib/server.mjs';

const T = { timeout: 180_000 * SLOW };
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;

function pgBin() {
    const root = '/usr/lib/postgresql';
    const vs = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
    return vs.length ? path.join(root, vs[vs.length - 1], 'bin') : null;
}

// A throwaway cluster on a unix socket in a temporary directory.
function privateCluster() {
    const bin = pgBin();
    const root = process.getuid() === 0;
    const dir = fs.mkdtempSync('/tmp/balai-pgr-');
    const as = (cmd, args) => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
    // No pipes: the server pg_ctl starts would inherit them and spawnSync
    // would wait for it; errors go to a file instead.
    const run = (cmd, args) => {
        const [c, a] = as(cmd, args);
        const errFile = path.join(dir, 'cmd.err');
        const fd = fs.openSync(errFile, 'w');
        fs.chmodSync(errFile, 0o666);
        const r = spawnSync(c, a, { stdio: ['ignore', fd, fd] });
        fs.closeSync(fd);
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${fs.readFileSync(errFile, 'utf8')}`);
    };
    fs.chmodSync(dir, 0o755);
    if (root) {
        const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        fs.chownSync(dir, uid, -1);
    }
    run(path.join(bin, 'initdb'), ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--locale=C']);
    const opts = `-k ${dir} -c listen_addresses='' -p 5432 -c fsync=off`;
    run(path.join(bin, 'pg_ctl'), ['-D', `${dir}/data`, '-l', `${dir}/log`, '-o', opts, '-w', 'start']);
    let stopped = false;
    const stop = () => {
        if (stopped) return;
        stopped = true;
        try {
            run(path.join(bin, 'pg_ctl'), ['-D', `${dir}/data`, '-m', 'immediate', '-w', 'stop']);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };
    process.once('exit', stop); // also when a hook fails or the run is cut short
    return {
        url: `postgresql:///postgres?host=${dir}&port=5432&user=postgres`,
        restart: () => run(path.join(bin, 'pg_ctl'), ['-D', `${dir}/data`, '-m', 'fast', '-o', opts, '-w', 'restart']),
        stop,
    };
}

describe('PostgreSQL restarted under load', { skip: !PG_URL && 'needs BALAI_TEST_PG' }, () => {
    let cluster, srv, alice, room;

    before(async () => {
        cluster = privateCluster();
        srv = new TestServer({ database: cluster.url, users: [{ name: 'alice' }] });
        await srv.init();
        await srv.start();
        alice = await srv.login('alice');
        room = assertOk(
            await srv.request('POST', `${C}/createRoom`, { token: alice.access_token, body: { name: 'load' } }),
        ).room_id;
    });

    afterEach((t) => {
        if (!t.passed && srv) printLog(srv, t.name);
    });

    after(async () => {
        try {
            await srv?.close();
        } finally {
            cluster?.stop();
        }
    });

    it('answers 200 or 503 with retry_after_ms, reconnects, and loses no acknowledged write', T, async () => {
        const acked = [];
        const statuses = {};
        let restarted = false;
        let okAfter = 0;
        const deadline = Date.now() + 60_000 * SLOW;
        const sender = async (n) => {
            for (let i = 0; Date.now() < deadline; i++) {
                if (restarted && okAfter >= 20) return;
                const r = await srv.request('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/s${n}-${i}`, {
                    token: alice.access_token,
                    body: { msgtype: 'm.text', body: `s${n}-${i}` },
                });
                statuses[r.status] = (statuses[r.status] ?? 0) + 1;
                if (r.status === 200) {
                    acked.push(r.json.event_id);
                    if (restarted) okAfter++;
                } else {
                    assert.equal(r.status, 503, `${r.status} ${r.text}`);
                    assert.equal(typeof r.json.errcode, 'string');
                    assert.equal(typeof r.json.error, 'string');
                    assert.equal(typeof r.json.retry_after_ms, 'number');
                    await sleep(50);
                }
            }
        };
        const senders = [0, 1, 2, 3].map(sender);
        await sleep(300);
        cluster.restart();
        restarted = true;
        await Promise.all(senders);
        assert.ok(okAfter >= 20, `Balai did not recover: ${JSON.stringify(statuses)}`);
        process.stderr.write(`# pg restart: answers ${JSON.stringify(statuses)}\n`);

        const seen = async () => {
            const ids = new Set();
            let from = '';
            for (;;) {
                const page = assertOk(
                    await srv.request('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=500${from}`, {
                        token: alice.access_token,
                    }),
                );
                for (const e of page.chunk) ids.add(e.event_id);
                if (!page.end || page.chunk.length === 0) return ids;
                from = `&from=${enc(page.end)}`;
            }
        };
        let ids = await seen();
        for (const id of acked) assert.ok(ids.has(id), `acknowledged ${id} is missing`);
        await srv.restart();
        alice = await srv.login('alice');
        ids = await seen();
        for (const id of acked) assert.ok(ids.has(id), `acknowledged ${id} is missing after a restart`);
    });
});
