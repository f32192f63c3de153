// server.mjs: runs `balai` for the API tests.
//
// A TestServer owns one fresh data directory (under os.tmpdir()) and at most
// one running `balai serve` on it. Typical use, inside a describe() block:
//
//     const srv = useServer({ users: [{ name: 'alice', password: PW }] });
//     it('...', async () => { const r = await srv.request('GET', '/_matrix/client/versions'); });
//
// useServer() registers the before/after hooks: init + start before the
// block, and SIGTERM (exit code 0 asserted) + removal of the data directory
// after it. When a test fails, the server's stderr is printed.
//
// BALAI_BIN names the binary (default: <repo>/build/balai).
//
// BALAI_TEST_PG=postgres://... (a database of a throwaway cluster, see
// scripts/run-tests): every TestServer then runs on PostgreSQL, in a fresh
// database of that cluster created by init() (psql CREATE DATABASE) and
// dropped by close(). srv.pgUrl is its URL (null on SQLite); srv.sql(SQL)
// runs SQL against the server's database on either backend.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
export const BALAI_BIN = process.env.BALAI_BIN || path.join(REPO, 'build/balai');

// Sanitizer builds are several times slower; every wait below scales with
// this. BALAI_TEST_SLOWNESS overrides; otherwise a build configured with
// b_sanitize (per its meson-info) counts as 3.
function slowness() {
    if (process.env.BALAI_TEST_SLOWNESS) return Number(process.env.BALAI_TEST_SLOWNESS);
    try {
        const opts = JSON.parse(
            readFileSync(path.join(path.dirname(BALAI_BIN), 'meson-info/intro-buildoptions.json'), 'utf8'),
        );
        const san = opts.find((o) => o.name === 'b_sanitize');
        if (san && san.value && san.value !== 'none') return 3;
    } catch {
        // not a meson build directory: assume a normal build
    }
    return 1;
}
export const SLOW = slowness();

// The PostgreSQL cluster of the tests, or '' for SQLite.
export const PG_URL = process.env.BALAI_TEST_PG || '';
let pgSeq = 0;

// `url` with its database name replaced by `db`.
export function pgUrlFor(url, db) {
    const q = url.indexOf('?');
    const base = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q) : '';
    const slash = base.lastIndexOf('/');
    return base.slice(0, slash + 1) + db + query;
}

// Runs SQL with psql against `url` (unaligned, '|'-separated, like the
// sqlite3 CLI). Resolves stdout; rejects with stderr on an error.
export function psql(url, sql) {
    return new Promise((resolve, reject) => {
        const child = spawn('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`psql ${sql}: ${err}`))));
    });
}

// A fresh database of the test cluster: resolves its URL.
export async function createPgDatabase() {
    const name = `balai_${process.pid}_${++pgSeq}_${Math.random().toString(36).slice(2, 8)}`;
    await psql(pgUrlFor(PG_URL, 'postgres'), `CREATE DATABASE ${name}`);
    return pgUrlFor(PG_URL, name);
}

export async function dropPgDatabase(url) {
    const name = url.slice(0, url.indexOf('?') >= 0 ? url.indexOf('?') : url.length).split('/').pop();
    await psql(pgUrlFor(PG_URL, 'postgres'), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

// A password that satisfies the policy (>= 10 characters, not one repeated
// character, not the user name).
export const PW = 'correct horse battery';

const live = new Set(); // running child processes, killed if the test process exits

process.on('exit', () => {
    for (const child of live) {
        try {
            child.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
});

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// The environment for a balai child: ours minus any BALAI_* the developer
// has set (so they cannot change the tests' behaviour), plus cheap password
// hashing and the given overrides.
export function balaiEnv(overrides = {}) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('BALAI_')) env[k] = v;
    }
    env.BALAI_SECURITY_PASSWORD_HASH_COST = 'test';
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined || v === null) delete env[k];
        else env[k] = String(v);
    }
    return env;
}

// Runs `balai ARGS...` to completion. Resolves {code, signal, stdout, stderr}.
export function runBalai(args, { input, env = {}, timeoutMs = 30000 * SLOW } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(BALAI_BIN, args, {
            env: balaiEnv(env),
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        live.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8');
        child.stderr.setEncoding('utf8');
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`balai ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`));
        }, timeoutMs);
        child.on('error', (e) => {
            clearTimeout(timer);
            live.delete(child);
            reject(e);
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            live.delete(child);
            resolve({ code, signal, stdout, stderr });
        });
        child.stdin.on('error', () => {}); // the child may exit before reading stdin
        if (input !== undefined) child.stdin.end(input);
        else child.stdin.end();
    });
}

export async function makeTempDir(prefix = 'balai-test-') {
    return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function exists(p) {
    try {
        await fs.access(p);
        return true;
    } catch {
        return false;
    }
}

// Asserts that `res` is the Matrix error {errcode, error} with this status.
// errcode may be a string, an array of acceptable codes, or undefined (any).
export function assertError(res, status, errcode) {
    const ctx = `${res.method ?? ''} ${res.path ?? ''} -> ${res.status} ${res.text?.slice(0, 300)}`;
    assert.equal(res.status, status, `status: ${ctx}`);
    assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${ctx}`);
    assert.equal(typeof res.json.errcode, 'string', `errcode missing: ${ctx}`);
    assert.equal(typeof res.json.error, 'string', `error message missing: ${ctx}`);
    if (res.headers && typeof res.headers.get === 'function')
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `content-type: ${ctx}`);
    if (Array.isArray(errcode)) assert.ok(errcode.includes(res.json.errcode), `errcode: ${ctx}`);
    else if (errcode !== undefined) assert.equal(res.json.errcode, errcode, `errcode: ${ctx}`);
    return res.json;
}

export function assertOk(res, status = 200) {
    assert.equal(
        res.status,
        status,
        `${res.method} ${res.path} -> ${res.status} ${res.text?.slice(0, 300)}`,
    );
    return res.json;
}

export class TestServer {
    // serverName: the Matrix server name given to `balai init`.
    // env: BALAI_* overrides for every balai process (CLI and server).
    // users: [{name, password, admin, displayname}] created offline before start.
    // sqlite: stay on SQLite even when BALAI_TEST_PG is set.
    // database: a PostgreSQL URL to use as is (not created, not dropped).
    constructor({ serverName = 'balai.test', env = {}, users = [], sqlite = false, database = null } = {}) {
        this.sqliteOnly = sqlite;
        this.database = database;
        this.serverName = serverName;
        this.env = { ...env };
        this.users = users;
        this.tmp = null; // the temporary directory (removed by close())
        this.dir = null; // the data directory inside it
        this.proc = null;
        this.exited = null; // promise of {code, signal} of the running server
        this.addr = null; // "127.0.0.1:PORT"
        this.url = null; // "http://127.0.0.1:PORT"
        this.host = null;
        this.port = null;
        this.log = ''; // stderr of every run, kept for failure reports
        this.stdout = ''; // what `balai serve` wrote to stdout (should be nothing)
        this.starts = 0;
        this.pgUrl = null; // the PostgreSQL database (BALAI_TEST_PG), else null
    }

    userId(localpart) {
        return `@${localpart}:${this.serverName}`;
    }

    // Creates the temporary directory and runs `balai init` in DIR/data.
    async init() {
        this.tmp = await makeTempDir();
        this.dir = path.join(this.tmp, 'data');
        if (this.database) this.pgUrl = this.database;
        else if (PG_URL && !this.sqliteOnly) this.pgUrl = await createPgDatabase();
        const r = await runBalai(
            [
                'init', '--data-dir', this.dir, '--server-name', this.serverName,
                ...(this.pgUrl ? ['--database', this.pgUrl] : []),
            ],
            { env: this.env },
        );
        this.log += `--- balai init (exit ${r.code})\n${r.stderr}`;
        assert.equal(r.code, 0, `balai init failed: ${r.stderr}`);
        for (const u of this.users) await this.addUser(u.name, u.password ?? PW, u);
        return this;
    }

    // `balai user add` (offline when the server is stopped, through its socket
    // otherwise). Asserts success and returns the printed user id.
    async addUser(name, password = PW, { admin = false, displayname } = {}) {
        const r = await this.cli(['user', 'add', name, '--password-stdin'], {
            input: password + '\n',
            extra: [...(admin ? ['--admin'] : []), ...(displayname ? ['--displayname', displayname] : [])],
        });
        assert.equal(r.code, 0, `balai user add ${name} failed: ${r.stderr}`);
        return r.stdout.trim();
    }

    // Runs a CLI verb against this data directory: `balai ARGS... EXTRA... --data-dir DIR`.
    async cli(args, { input, extra = [], env = {}, timeoutMs } = {}) {
        const r = await runBalai([...args, ...extra, '--data-dir', this.dir], {
            input,
            env: { ...this.env, ...env },
            ...(timeoutMs ? { timeoutMs } : {}),
        });
        this.log += `--- balai ${args.join(' ')} (exit ${r.code})\n${r.stderr}`;
        return r;
    }

    // Starts `balai serve` and waits for DIR/serve.addr.
    async start({ env = {}, listen = '127.0.0.1:0' } = {}) {
        assert.equal(this.proc, null, 'server already running');
        const addrFile = path.join(this.dir, 'serve.addr');
        await fs.rm(addrFile, { force: true }); // stale after a SIGKILL
        this.starts++;
        this.log += `--- balai serve (start #${this.starts})\n`;
        const child = spawn(BALAI_BIN, ['serve', '--data-dir', this.dir, '--listen', listen], {
            env: balaiEnv({ ...this.env, ...env }),
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        live.add(child);
        this.proc = child;
        child.stdout.setEncoding('utf8');
        child.stderr.setEncoding('utf8');
        child.stdout.on('data', (d) => {
            this.stdout += d;
            this.log += d;
        });
        child.stderr.on('data', (d) => {
            this.log += d;
            if (this.log.length > 4_000_000) this.log = this.log.slice(-2_000_000);
        });
        this.exited = new Promise((resolve) => {
            child.on('close', (code, signal) => {
                live.delete(child);
                this.log += `--- balai serve exited: code ${code} signal ${signal}\n`;
                resolve({ code, signal });
            });
            child.on('error', (e) => {
                live.delete(child);
                this.log += `--- balai serve: spawn error ${e.message}\n`;
                resolve({ code: null, signal: null, error: e });
            });
        });
        let gone = null;
        this.exited.then((r) => (gone = r));
        const deadline = Date.now() + 20000 * SLOW;
        for (;;) {
            if (gone) {
                this.proc = null;
                throw new Error(
                    `balai serve exited during start (code ${gone.code}, signal ${gone.signal}):\n${this.log}`,
                );
            }
            let text = null;
            try {
                text = (await fs.readFile(addrFile, 'utf8')).trim();
            } catch {
                // not yet written
            }
            if (text && /^[\d.]+:\d+$/.test(text)) {
                this.addr = text;
                const i = text.lastIndexOf(':');
                this.host = text.slice(0, i);
                this.port = Number(text.slice(i + 1));
                this.url = `http://${text}`;
                break;
            }
            if (Date.now() > deadline) {
                await this.kill();
                throw new Error(`balai serve did not write ${addrFile} in time:\n${this.log}`);
            }
            await sleep(20);
        }
        return this;
    }

    get running() {
        return this.proc !== null;
    }

    // Sends `signal` and waits for the exit; asserts exit code 0 when expectCode is set.
    async stop({ signal = 'SIGTERM', expectCode = 0, timeoutMs = 15000 * SLOW } = {}) {
        if (!this.proc) return null;
        const child = this.proc;
        child.kill(signal);
        let timer;
        const r = await Promise.race([
            this.exited,
            new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout'))),
        ]);
        clearTimeout(timer);
        if (r === 'timeout') {
            child.kill('SIGKILL');
            await this.exited;
            this.proc = null;
            throw new Error(`balai serve did not exit within ${timeoutMs} ms of ${signal}`);
        }
        this.proc = null;
        if (expectCode !== null) {
            assert.equal(
                r.code,
                expectCode,
                `balai serve exit after ${signal}: code ${r.code} signal ${r.signal}\n${this.tail()}`,
            );
        }
        return r;
    }

    // SIGKILL, no questions asked (a crash, for durability tests).
    async kill() {
        if (!this.proc) return null;
        this.proc.kill('SIGKILL');
        const r = await this.exited;
        this.proc = null;
        return r;
    }

    async restart(opts = {}) {
        await this.stop();
        return this.start(opts);
    }

    // Stops the server (asserting exit 0 when it was still running) and
    // removes the data directory.
    async close() {
        let err = null;
        try {
            if (this.proc) await this.stop();
        } catch (e) {
            err = e;
        }
        if (this.proc) await this.kill();
        if (this.tmp) await fs.rm(this.tmp, { recursive: true, force: true });
        this.tmp = null;
        if (this.pgUrl && !this.database) await dropPgDatabase(this.pgUrl).catch(() => {});
        this.pgUrl = null;
        if (err) throw err;
    }

    // Runs SQL against this server's database (sqlite3 CLI or psql; output
    // '|'-separated either way).
    async sql(sql) {
        if (this.pgUrl) return psql(this.pgUrl, sql);
        return new Promise((resolve, reject) => {
            const child = spawn('sqlite3', [path.join(this.dir, 'balai.db'), sql], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            let err = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (err += d));
            child.on('error', reject);
            child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`sqlite3 ${sql}: ${err}`))));
        });
    }

    tail(n = 60) {
        return this.log.split('\n').slice(-n).join('\n');
    }

    // One HTTP request with fetch. body: JSON-encoded; raw: a string/Buffer
    // body sent as is. Resolves {status, headers, text, json, method, path}.
    async request(method, p, { token, body, headers = {}, raw, timeoutMs = 15000 * SLOW } = {}) {
        const h = { ...headers };
        if (token) h.authorization = `Bearer ${token}`;
        let payload;
        if (raw !== undefined) payload = raw;
        else if (body !== undefined) {
            payload = JSON.stringify(body);
            if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type'))
                h['content-type'] = 'application/json';
        }
        const res = await fetch(this.url + p, {
            method,
            headers: h,
            body: payload,
            signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        let json;
        try {
            json = JSON.parse(text);
        } catch {
            json = undefined;
        }
        return { status: res.status, headers: res.headers, text, json, method, path: p };
    }

    // POST /login with m.login.password; asserts 200 and returns the answer.
    async login(user, password = PW, extra = {}) {
        const res = await this.loginRaw(user, password, extra);
        assertOk(res);
        return res.json;
    }

    loginRaw(user, password = PW, extra = {}) {
        return this.request('POST', '/_matrix/client/v3/login', {
            body: {
                type: 'm.login.password',
                identifier: { type: 'm.id.user', user },
                password,
                ...extra,
            },
        });
    }

    whoami(token) {
        return this.request('GET', '/_matrix/client/v3/account/whoami', { token });
    }
}

// Registers hooks in the current describe() block: a server initialised
// (with opts.users) and started before the block's tests, stopped and
// removed after them, and its log printed when a test fails.
export function useServer(opts = {}) {
    const srv = new TestServer(opts);
    before(async () => {
        await srv.init();
        if (opts.start !== false) await srv.start();
    });
    afterEach((t) => {
        if (!t.passed) printLog(srv, t.name);
    });
    after(async () => {
        try {
            await srv.close();
        } catch (e) {
            printLog(srv, 'shutdown');
            throw e;
        }
    });
    return srv;
}

export function printLog(srv, name) {
    process.stderr.write(
        `\n===== balai log (test "${name}" failed; data dir ${srv.dir}) =====\n${srv.tail(120)}\n=====\n`,
    );
}
