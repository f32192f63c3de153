// cli.test.mjs: the `balai` command: init, serve, user add/list/deactivate,
// signals, and durability of answered requests across restarts.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import {
    PW,
    SLOW,
    TestServer,
    assertError,
    assertOk,
    exists,
    makeTempDir,
    printLog,
    runBalai,
    sleep,
    useServer,
} from './lib/server.mjs';
import { RawConn, httpRequest } from './lib/raw.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

const temps = [];
async function tempDir() {
    const d = await makeTempDir('balai-cli-');
    temps.push(d);
    return d;
}
after(async () => {
    for (const d of temps) await fs.rm(d, { recursive: true, force: true });
});

function lines(s) {
    return s.split('\n').filter((l) => l.trim() !== '');
}

describe('balai --version / --help', () => {
    it('--version exits 0 and prints the version', T, async () => {
        const r = await runBalai(['--version']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /balai \S+/i);
    });

    it('--help exits 0 and prints usage on stdout', T, async () => {
        const r = await runBalai(['--help']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /usage/i);
        assert.match(r.stdout, /init/);
        assert.match(r.stdout, /serve/);
    });

    for (const verb of ['init', 'serve', 'user']) {
        it(`${verb} --help exits 0`, T, async () => {
            const r = await runBalai([verb, '--help']);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /usage/i);
        });
    }

    it('an unknown verb exits non-zero with a message', T, async () => {
        const r = await runBalai(['frobnicate']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /frobnicate|unknown/i);
    });

    it('no arguments exits non-zero', T, async () => {
        const r = await runBalai([]);
        assert.notEqual(r.code, 0);
    });
});

describe('balai init', () => {
    it('creates a data directory with config, key (0600), keystore and database', T, async () => {
        const dir = path.join(await tempDir(), 'data');
        const r = await runBalai(['init', '--data-dir', dir, '--server-name', 'example.org']);
        assert.equal(r.code, 0, r.stderr);
        for (const f of ['balai.conf', 'balai.key', 'keystore', 'balai.db'])
            assert.ok(await exists(path.join(dir, f)), `${f} missing after init`);
        const st = await fs.stat(path.join(dir, 'balai.key'));
        assert.equal(st.mode & 0o777, 0o600, `balai.key mode is ${(st.mode & 0o777).toString(8)}`);
        const conf = await fs.readFile(path.join(dir, 'balai.conf'), 'utf8');
        assert.match(conf, /example\.org/);
    });

    it('accepts an existing empty directory', T, async () => {
        const dir = await tempDir();
        const r = await runBalai(['init', '--data-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(await exists(path.join(dir, 'balai.conf')));
    });

    it('refuses a non-empty existing directory and leaves it alone', T, async () => {
        const dir = await tempDir();
        await fs.writeFile(path.join(dir, 'precious.txt'), 'do not touch');
        const r = await runBalai(['init', '--data-dir', dir]);
        assert.notEqual(r.code, 0, 'init into a non-empty directory succeeded');
        assert.ok(r.stderr.trim().length > 0, 'no error message');
        assert.deepEqual(await fs.readdir(dir), ['precious.txt']);
        assert.equal(await fs.readFile(path.join(dir, 'precious.txt'), 'utf8'), 'do not touch');
    });

    it('refuses to initialise the same directory twice', T, async () => {
        const dir = path.join(await tempDir(), 'data');
        assert.equal((await runBalai(['init', '--data-dir', dir])).code, 0);
        const key = await fs.readFile(path.join(dir, 'balai.key'));
        const r = await runBalai(['init', '--data-dir', dir]);
        assert.notEqual(r.code, 0, 'second init succeeded');
        assert.deepEqual(await fs.readFile(path.join(dir, 'balai.key')), key, 'key file changed');
    });

    it('requires --data-dir or rejects bad arguments with a non-zero exit', T, async () => {
        const r = await runBalai(['init', '--no-such-flag']);
        assert.notEqual(r.code, 0);
    });
});

describe('balai serve: refusals', () => {
    it('a missing data directory fails with one line mentioning balai init', T, async () => {
        const dir = path.join(await tempDir(), 'nope');
        const r = await runBalai(['serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], {
            timeoutMs: 10000 * SLOW,
        });
        assert.notEqual(r.code, 0);
        assert.equal(lines(r.stderr).length, 1, `expected one line, got:\n${r.stderr}`);
        assert.match(r.stderr, /balai init/);
    });

    it('an uninitialised (empty) data directory fails with one line mentioning balai init', T, async () => {
        const dir = await tempDir();
        const r = await runBalai(['serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], {
            timeoutMs: 10000 * SLOW,
        });
        assert.notEqual(r.code, 0);
        assert.equal(lines(r.stderr).length, 1, `expected one line, got:\n${r.stderr}`);
        assert.match(r.stderr, /balai init/);
        assert.ok(!(await exists(path.join(dir, 'serve.addr'))));
    });

    it('a port already taken fails promptly with a one-line error', T, async () => {
        const blocker = net.createServer();
        await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const port = blocker.address().port;
        const srv = new TestServer();
        try {
            await srv.init();
            const t0 = Date.now();
            const r = await srv.cli(['serve', '--listen', `127.0.0.1:${port}`], {
                timeoutMs: 10000 * SLOW,
            });
            assert.notEqual(r.code, 0, 'serve on a taken port succeeded');
            assert.ok(Date.now() - t0 < 10000 * SLOW, 'took too long to fail');
            const errLines = lines(r.stderr).filter((l) => l.includes(String(port)));
            assert.equal(errLines.length, 1, `expected one line naming the port:\n${r.stderr}`);
            assert.ok(lines(r.stderr).length <= 3, `error is not short:\n${r.stderr}`);
            assert.ok(!(await exists(path.join(srv.dir, 'serve.addr'))), 'serve.addr written');
        } finally {
            blocker.close();
            await srv.close();
        }
    });

    it('refuses a second server on the same data directory', T, async () => {
        const srv = new TestServer();
        try {
            await srv.init();
            await srv.start();
            const r = await srv.cli(['serve', '--listen', '127.0.0.1:0'], {
                timeoutMs: 10000 * SLOW,
            });
            assert.notEqual(r.code, 0, 'a second server started on the same data directory');
            assert.ok(lines(r.stderr).length >= 1);
            // the first one is unharmed
            assertOk(await srv.request('GET', '/_matrix/client/versions'));
        } finally {
            await srv.close();
        }
    });
});

describe('balai user add (server stopped)', () => {
    const srv = useServer({ start: false });

    it('adds a user offline and prints its id', T, async () => {
        const r = await srv.cli(['user', 'add', 'alice', '--password-stdin'], {
            input: `${PW}\n`,
            extra: ['--displayname', 'Alice Liddell'],
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), '@alice:balai.test');
    });

    it('adds an admin offline', T, async () => {
        const r = await srv.cli(['user', 'add', 'root', '--admin', '--password-stdin'], {
            input: PW,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), '@root:balai.test');
    });

    it('refuses a duplicate with a message', T, async () => {
        const r = await srv.cli(['user', 'add', 'alice', '--password-stdin'], { input: PW });
        assert.notEqual(r.code, 0, 'duplicate user add succeeded');
        assert.match(r.stderr, /exist|in use|taken/i);
    });

    it('refuses weak passwords', T, async () => {
        for (const [name, pw] of [
            ['weak1', 'short9chr'], // 9 < 10
            ['weak2', 'aaaaaaaaaaaaaaaa'], // one repeated character
            ['longusername', 'longusername'], // the user name
            ['weak4', ''],
        ]) {
            const r = await srv.cli(['user', 'add', name, '--password-stdin'], { input: pw });
            assert.notEqual(r.code, 0, `user add ${name} with password '${pw}' succeeded`);
            assert.ok(r.stderr.trim().length > 0, 'no message');
        }
    });

    it('accepts a password of exactly the minimum length', T, async () => {
        const r = await srv.cli(['user', 'add', 'tenchars', '--password-stdin'], {
            input: 'abcdefghij',
        });
        assert.equal(r.code, 0, r.stderr);
    });

    it('refuses an invalid user name', T, async () => {
        for (const name of ['bad name', 'a:b', 'ünïcode', '']) {
            const r = await srv.cli(['user', 'add', name, '--password-stdin'], { input: PW });
            assert.notEqual(r.code, 0, `user add '${name}' succeeded`);
        }
    });

    it('requires --password-stdin', T, async () => {
        const r = await srv.cli(['user', 'add', 'nopw']);
        assert.notEqual(r.code, 0);
    });

    it('list and deactivate need a running server', T, async () => {
        const r = await srv.cli(['user', 'list']);
        assert.notEqual(r.code, 0);
        assert.ok(r.stderr.trim().length > 0);
        const d = await srv.cli(['user', 'deactivate', 'alice']);
        assert.notEqual(d.code, 0);
    });

    it('offline-added users can log in once the server runs', T, async () => {
        await srv.start();
        const a = await srv.login('alice');
        assert.equal(a.user_id, '@alice:balai.test');
        const who = assertOk(await srv.whoami(a.access_token));
        assert.equal(who.user_id, '@alice:balai.test');
        const prof = assertOk(
            await srv.request('GET', `/_matrix/client/v3/profile/${encodeURIComponent(a.user_id)}`, {
                token: a.access_token,
            }),
        );
        assert.equal(prof.displayname, 'Alice Liddell');
        const r = await srv.login('root');
        assertOk(await srv.request('GET', '/_balai/admin/v1/users', { token: r.access_token }));
        assertError(
            await srv.request('GET', '/_balai/admin/v1/users', { token: a.access_token }),
            403,
            'M_FORBIDDEN',
        );
    });
});

describe('balai user add/list/deactivate (server running)', () => {
    const srv = useServer({ users: [{ name: 'alice' }] });

    it('adds a user through the running server; login works at once', T, async () => {
        const r = await srv.cli(['user', 'add', 'bob', '--password-stdin'], {
            input: `${PW}\n`,
            extra: ['--displayname', 'Bob Online'],
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), '@bob:balai.test');
        const b = await srv.login('bob');
        assert.equal(b.user_id, '@bob:balai.test');
        const p = assertOk(
            await srv.request('GET', `/_matrix/client/v3/profile/${encodeURIComponent(b.user_id)}`, {
                token: b.access_token,
            }),
        );
        assert.equal(p.displayname, 'Bob Online');
    });

    it('adds an admin through the running server', T, async () => {
        const r = await srv.cli(['user', 'add', 'boss', '--admin', '--password-stdin'], {
            input: PW,
        });
        assert.equal(r.code, 0, r.stderr);
        const b = await srv.login('boss');
        assertOk(await srv.request('GET', '/_balai/admin/v1/users', { token: b.access_token }));
    });

    it('refuses a duplicate (offline-created user) with a message', T, async () => {
        const r = await srv.cli(['user', 'add', 'alice', '--password-stdin'], { input: PW });
        assert.notEqual(r.code, 0, 'duplicate user add succeeded');
        assert.match(r.stderr, /exist|in use|taken/i);
    });

    it('refuses a weak password', T, async () => {
        const r = await srv.cli(['user', 'add', 'carol', '--password-stdin'], { input: 'carol' });
        assert.notEqual(r.code, 0);
        assertError(await srv.loginRaw('carol', 'carol'), 403, 'M_FORBIDDEN');
    });

    it('lists users', T, async () => {
        const r = await srv.cli(['user', 'list']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /@alice:balai\.test/);
        assert.match(r.stdout, /@bob:balai\.test/);
        assert.match(r.stdout, /@balai:balai\.test/);
    });

    it('deactivates a user: token dead, login refused', T, async () => {
        const b = await srv.login('bob');
        const r = await srv.cli(['user', 'deactivate', 'bob']);
        assert.equal(r.code, 0, r.stderr);
        assertError(await srv.whoami(b.access_token), 401, 'M_UNKNOWN_TOKEN');
        const l = await srv.loginRaw('bob', PW);
        assert.equal(l.status, 403, l.text);
    });

    it('deactivating an unknown user fails', T, async () => {
        const r = await srv.cli(['user', 'deactivate', 'nobody']);
        assert.notEqual(r.code, 0);
    });
});

describe('configuration from the environment', () => {
    it('serve logs to stderr only, and BALAI_LOG_LEVEL=warn silences info lines', T, async () => {
        const chatty = new TestServer({ users: [{ name: 'alice' }] });
        const quiet = new TestServer({ env: { BALAI_LOG_LEVEL: 'warn' }, users: [{ name: 'alice' }] });
        try {
            for (const srv of [chatty, quiet]) {
                await srv.init();
                srv.log = '';
                await srv.start();
                await srv.login('alice');
                await srv.loginRaw('alice', 'wrong password');
                await srv.stop();
                assert.equal(srv.stdout, '', `serve wrote to stdout: ${srv.stdout}`);
            }
            const infoLines = (log) => log.split('\n').filter((l) => /\binfo\b/i.test(l) && !l.startsWith('---'));
            assert.ok(infoLines(chatty.log).length > 0, `no info lines at the default level:\n${chatty.log}`);
            assert.deepEqual(infoLines(quiet.log), [], 'info lines at BALAI_LOG_LEVEL=warn');
        } finally {
            await chatty.close();
            await quiet.close();
        }
    });

    it('an invalid value in the environment fails with a message naming it', T, async () => {
        const srv = new TestServer();
        try {
            await srv.init();
            for (const [k, v, re] of [
                ['BALAI_SECURITY_PASSWORD_HASH_COST', 'bogus', /password_hash_cost/i],
                ['BALAI_LIMITS_MAX_BODY', 'lots', /max_body/i],
                ['BALAI_LOG_LEVEL', 'chatty', /level/i],
            ]) {
                const r = await srv.cli(['serve', '--listen', '127.0.0.1:0'], {
                    env: { [k]: v },
                    timeoutMs: 10000 * SLOW,
                });
                assert.notEqual(r.code, 0, `${k}=${v} accepted`);
                assert.match(r.stderr, re, `${k}=${v}: ${r.stderr}`);
            }
        } finally {
            await srv.close();
        }
    });
});

describe('signals', () => {
    it('SIGTERM exits 0', T, async () => {
        const srv = new TestServer();
        try {
            await srv.init();
            await srv.start();
            assertOk(await srv.request('GET', '/_matrix/client/versions'));
            const r = await srv.stop({ signal: 'SIGTERM', expectCode: 0 });
            assert.equal(r.code, 0);
        } finally {
            await srv.close();
        }
    });

    it('SIGTERM exits 0 promptly with an idle keep-alive connection open', T, async () => {
        const srv = new TestServer();
        let idle;
        try {
            await srv.init();
            await srv.start();
            idle = await RawConn.forServer(srv);
            await idle.write(httpRequest('GET', '/_matrix/client/versions'));
            assert.equal((await idle.readResponse()).status, 200);
            const t0 = Date.now();
            await srv.stop({ signal: 'SIGTERM', expectCode: 0, timeoutMs: 3000 * SLOW });
            assert.ok(Date.now() - t0 < 3000 * SLOW);
            assert.ok(await idle.waitClose(1000), 'idle connection not closed');
        } catch (e) {
            printLog(srv, 'SIGTERM with idle keep-alive');
            throw e;
        } finally {
            idle?.destroy();
            await srv.close();
        }
    });

    it('SIGTERM with a half-sent request exits 0 within the header timeout', T, async () => {
        const srv = new TestServer({ env: { BALAI_LIMITS_HEADER_TIMEOUT_MS: 2000 } });
        let half;
        try {
            await srv.init();
            await srv.start();
            half = await RawConn.forServer(srv);
            await half.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n');
            await sleep(50);
            const t0 = Date.now();
            await srv.stop({ signal: 'SIGTERM', expectCode: 0, timeoutMs: 6000 * SLOW });
            assert.ok(Date.now() - t0 < 6000 * SLOW);
        } catch (e) {
            printLog(srv, 'SIGTERM with a half-sent request');
            throw e;
        } finally {
            half?.destroy();
            await srv.close();
        }
    });
});

describe('durability across restarts', () => {
    const srv = useServer({ users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice;

    before(async () => {
        alice = await srv.login('alice', PW, { device_id: 'DURABLE1' });
    });

    it('a login token still works after a graceful restart', T, async () => {
        assertOk(
            await srv.request(
                'PUT',
                `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/displayname`,
                { token: alice.access_token, body: { displayname: 'Alice After Restart' } },
            ),
        );
        await srv.restart();
        const who = assertOk(await srv.whoami(alice.access_token));
        assert.equal(who.user_id, '@alice:balai.test');
        assert.equal(who.device_id, 'DURABLE1');
        const dn = assertOk(
            await srv.request(
                'GET',
                `/_matrix/client/v3/profile/${encodeURIComponent(alice.user_id)}/displayname`,
                { token: alice.access_token },
            ),
        );
        assert.equal(dn.displayname, 'Alice After Restart');
    });

    it('answered requests survive a crash (SIGKILL) right after the answer', T, async () => {
        const bob = await srv.login('bob', PW, { device_id: 'CRASHDEV' });
        const gone = await srv.login('bob', PW, { device_id: 'LOGGEDOUT' });
        assertOk(
            await srv.request('POST', '/_matrix/client/v3/logout', {
                token: gone.access_token,
                body: {},
            }),
        );
        assertOk(
            await srv.request('PUT', '/_matrix/client/v3/devices/CRASHDEV', {
                token: bob.access_token,
                body: { display_name: 'Crash test phone' },
            }),
        );
        const r = await srv.kill();
        assert.equal(r.signal, 'SIGKILL');
        await srv.start();
        const who = assertOk(await srv.whoami(bob.access_token));
        assert.equal(who.user_id, '@bob:balai.test');
        assertError(await srv.whoami(gone.access_token), 401, 'M_UNKNOWN_TOKEN');
        const dev = assertOk(
            await srv.request('GET', '/_matrix/client/v3/devices/CRASHDEV', {
                token: bob.access_token,
            }),
        );
        assert.equal(dev.display_name, 'Crash test phone');
        // the earlier graceful-restart state survived too
        assertOk(await srv.whoami(alice.access_token));
    });

    it('a user added online survives a crash', T, async () => {
        const r = await srv.cli(['user', 'add', 'dora', '--password-stdin'], { input: PW });
        assert.equal(r.code, 0, r.stderr);
        await srv.kill();
        await srv.start();
        const d = await srv.login('dora');
        assert.equal(d.user_id, '@dora:balai.test');
    });
});
