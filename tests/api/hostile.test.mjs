// hostile.test.mjs: hostile and broken clients on raw sockets. After each
// case the server must still answer /versions to a fresh, well-behaved client.

import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { PW, SLOW, assertOk, printLog, sleep, useServer } from './lib/server.mjs';
import { RawConn, httpRequest } from './lib/raw.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

const C = '/_matrix/client/v3';
const HEADER_TIMEOUT = 1500;
const IDLE_TIMEOUT = 3000;

describe('hostile clients', () => {
    const srv = useServer({
        env: {
            BALAI_LIMITS_HEADER_TIMEOUT_MS: HEADER_TIMEOUT,
            BALAI_LIMITS_BODY_TIMEOUT_MS: HEADER_TIMEOUT,
            BALAI_LIMITS_IDLE_TIMEOUT_MS: IDLE_TIMEOUT,
            BALAI_LIMITS_MAX_HEADER: 8192,
            BALAI_LOGIN_IP_ATTEMPTS: 100000,
            BALAI_LOGIN_ACCOUNT_FAILURES: 100000,
        },
        users: [{ name: 'alice' }],
    });

    // The server answers a fresh client after every case.
    afterEach(async (t) => {
        if (!srv.running) return;
        try {
            const r = await srv.request('GET', '/_matrix/client/versions', { timeoutMs: 5000 * SLOW });
            assertOk(r);
        } catch (e) {
            if (t.passed) printLog(srv, `${t.name} (health check afterwards)`);
            throw new Error(`server unhealthy after "${t.name}": ${e.message}`);
        }
    });

    // Sends bytes on a fresh connection; expects a 4xx answer (or one of
    // `statuses`) and the connection closed afterwards.
    async function expectRejected(bytes, { statuses, closeWithin = 3000 } = {}) {
        const c = await RawConn.forServer(srv);
        try {
            await c.write(bytes);
            const r = await c.readResponse({ timeoutMs: 5000 * SLOW });
            if (statuses) assert.ok(statuses.includes(r.status), `status ${r.status}: ${r.text}`);
            else assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.text}`);
            assert.ok(await c.waitClose(closeWithin * SLOW), 'connection left open after a protocol error');
            return r;
        } finally {
            c.destroy();
        }
    }

    it('garbage bytes get 400 and the connection is closed', T, async () => {
        const r = await expectRejected(Buffer.from('\x00\x01\x02garbage\xff\xfe\r\n\r\n', 'latin1'), { statuses: [400] });
        assert.equal(typeof r.json?.errcode, 'string', `400 body is not a Matrix error: ${r.text}`);
        assert.equal(r.headers['access-control-allow-origin'], '*', 'no CORS header on the 400');
    });

    it('random binary noise gets 400 and close', T, async () => {
        const noise = Buffer.alloc(3000);
        for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + 13) & 0xff;
        await expectRejected(noise, { statuses: [400, 431] });
    });

    it('a TLS ClientHello on the plain port gets 400 or a close', T, async () => {
        const hello = Buffer.from('160301020001' + '0001fc0303' + 'ab'.repeat(32) + '00', 'hex');
        const c = await RawConn.forServer(srv);
        try {
            await c.write(hello);
            assert.ok(await c.waitClose(3000 * SLOW), 'connection left open');
            if (c.buf.length) assert.match(c.buf.toString('latin1'), /^HTTP\/1\.[01] 4\d\d/);
        } finally {
            c.destroy();
        }
    });

    it('malformed request lines and headers get 4xx and close', T, async () => {
        const cases = [
            'GET\r\n\r\n',
            'GET /_matrix/client/versions HTTP/1.1\r\nNo colon here\r\n\r\n',
            'GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nBad\x00Header: y\r\n\r\n',
            'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
            'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
            'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
            'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
        ];
        for (const raw of cases) {
            await expectRejected(Buffer.from(raw, 'latin1'));
        }
    });

    it('Content-Length together with Transfer-Encoding (smuggling) is refused', T, async () => {
        const smuggled = httpRequest('GET', `${C}/account/whoami`);
        const raw = Buffer.concat([
            Buffer.from(
                'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                    `Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
                'latin1',
            ),
            smuggled,
        ]);
        const c = await RawConn.forServer(srv);
        try {
            await c.write(raw);
            const r = await c.readResponse({ timeoutMs: 5000 * SLOW });
            assert.equal(r.status, 400, `expected 400 for CL+TE, got ${r.status}: ${r.text}`);
            assert.ok(await c.waitClose(3000 * SLOW), 'connection left open after CL+TE');
        } finally {
            c.destroy();
        }
    });

    it('a huge chunk size is refused', T, async () => {
        await expectRejected(
            Buffer.from(
                'POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
                    'ffffffffffffffffff\r\nabc',
                'latin1',
            ),
            { statuses: [400, 413] },
        );
    });

    it('oversized headers get 431 and close', T, async () => {
        const r = await expectRejected(
            httpRequest('GET', '/_matrix/client/versions', { headers: { 'X-Big': 'b'.repeat(20000) } }),
            { statuses: [431] },
        );
        assert.equal(typeof r.json?.errcode, 'string', `431 body is not a Matrix error: ${r.text}`);
        assert.equal(r.headers['access-control-allow-origin'], '*', 'no CORS header on the 431');
    });

    it('an endless header stream is cut off', T, async () => {
        const c = await RawConn.forServer(srv);
        try {
            await c.write('GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n');
            let sent = 0;
            while (!c.closed && sent < 200000) {
                if (!(await c.write(`X-Junk-${sent}: ${'j'.repeat(100)}\r\n`))) break;
                sent += 110;
                if (sent % 11000 === 0) await sleep(1);
            }
            assert.ok(await c.waitClose(3000 * SLOW), 'not closed after 200 kB of headers');
            assert.ok(sent < 200000, 'server accepted 200 kB of headers');
            if (c.buf.length) assert.match(c.buf.toString('latin1'), /^HTTP\/1\.[01] 431/);
        } finally {
            c.destroy();
        }
    });

    it('an over-long request line is refused', T, async () => {
        await expectRejected(Buffer.from(`GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'), {
            statuses: [400, 414, 431],
        });
    });

    it('a header sent one byte per second is cut off by the header timeout', T, async () => {
        const c = await RawConn.forServer(srv);
        const t0 = Date.now();
        const text = 'GET /_matrix/client/versions HTTP/1.1\r\nHost: slow.example\r\n\r\n';
        let sent = 0;
        try {
            while (!c.closed && sent < text.length) {
                if (!(await c.write(text[sent]))) break;
                sent++;
                await c.waitEvent(1000); // wakes early if the server closes
                if (Date.now() - t0 > 10000 * SLOW) break;
            }
            const elapsed = Date.now() - t0;
            assert.ok(c.closed, `server still listening after ${elapsed} ms and ${sent} bytes`);
            assert.ok(elapsed < HEADER_TIMEOUT + 2500 * SLOW, `closed only after ${elapsed} ms`);
            assert.ok(sent < 6, `server accepted ${sent} slow bytes`);
            if (c.buf.length) assert.match(c.buf.toString('latin1'), /^HTTP\/1\.[01] 408/);
        } finally {
            c.destroy();
        }
    });

    it('a connection that sends nothing is closed (header or idle timeout)', T, async () => {
        const c = await RawConn.forServer(srv);
        try {
            assert.ok(await c.waitClose(IDLE_TIMEOUT + 2500 * SLOW), 'silent connection left open');
        } finally {
            c.destroy();
        }
    });

    it('a body that never finishes is cut off', T, async () => {
        const c = await RawConn.forServer(srv);
        try {
            await c.write(
                httpRequest('POST', `${C}/login`, {
                    headers: { 'Content-Type': 'application/json', 'Content-Length': '1000' },
                }),
            );
            await c.write('{"type":');
            assert.ok(await c.waitClose(HEADER_TIMEOUT + 3000 * SLOW), 'stalled body left open');
        } finally {
            c.destroy();
        }
    });

    it('a slow client does not block others', T, async () => {
        const slow = await RawConn.forServer(srv);
        try {
            await slow.write('GET /_matrix/client/versions HTTP/1.1\r\nHo');
            const t0 = Date.now();
            for (let i = 0; i < 20; i++) assertOk(await srv.request('GET', '/_matrix/client/versions'));
            assert.ok(Date.now() - t0 < 2000 * SLOW, 'fresh clients slowed down by a stalled one');
        } finally {
            slow.destroy();
        }
    });

    it('200 connections opened and dropped at once', T, async () => {
        const socks = await Promise.all(
            Array.from(
                { length: 200 },
                () =>
                    new Promise((resolve) => {
                        const s = net.connect({ host: srv.host, port: srv.port });
                        s.on('error', () => {});
                        s.once('connect', () => resolve(s));
                        s.once('error', () => resolve(s));
                    }),
            ),
        );
        socks.forEach((s, i) => {
            if (i % 4 === 1) s.write('GET /_matrix/client/versions HTTP/1.1\r\n');
            if (i % 4 === 2) s.write(httpRequest('GET', '/_matrix/client/versions'));
        });
        await sleep(20);
        socks.forEach((s, i) => {
            if (i % 2 && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
            else s.destroy();
        });
        await sleep(100);
        // and again, dropped before anything is said
        const more = await Promise.all(
            Array.from(
                { length: 200 },
                () =>
                    new Promise((resolve) => {
                        const s = net.connect({ host: srv.host, port: srv.port });
                        s.on('error', () => {});
                        s.once('connect', () => resolve(s));
                        s.once('error', () => resolve(s));
                    }),
            ),
        );
        for (const s of more) s.destroy();
        await sleep(100);
    });

    it('clients that vanish while their login is being hashed', T, async () => {
        const body = JSON.stringify({
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: 'alice' },
            password: PW,
        });
        const conns = await Promise.all(Array.from({ length: 40 }, () => RawConn.forServer(srv)));
        await Promise.all(
            conns.map((c) =>
                c.write(httpRequest('POST', `${C}/login`, { headers: { 'Content-Type': 'application/json' }, body })),
            ),
        );
        conns.forEach((c, i) => (i % 2 ? c.reset() : c.destroy()));
        await sleep(500);
        // a proper login still works afterwards
        const j = await srv.login('alice');
        assertOk(await srv.whoami(j.access_token));
    });

    it('clients that vanish while their write is being committed', T, async () => {
        const a = await srv.login('alice');
        const conns = await Promise.all(Array.from({ length: 40 }, () => RawConn.forServer(srv)));
        await Promise.all(
            conns.map((c, i) =>
                c.write(
                    httpRequest('PUT', `${C}/profile/${encodeURIComponent(a.user_id)}/displayname`, {
                        headers: { Authorization: `Bearer ${a.access_token}`, 'Content-Type': 'application/json' },
                        body: JSON.stringify({ displayname: `Alice ${i}` }),
                    }),
                ),
            ),
        );
        for (const c of conns) c.reset();
        await sleep(300);
        assertOk(await srv.whoami(a.access_token));
    });

    it('a client that never reads its responses does not hurt others', T, async () => {
        const c = await RawConn.forServer(srv);
        try {
            c.sock.pause(); // stop reading: the server's writes back up
            const req = httpRequest('GET', '/metrics');
            const many = Buffer.concat(Array.from({ length: 2000 }, () => req));
            c.sock.write(many);
            await sleep(300);
            const t0 = Date.now();
            for (let i = 0; i < 10; i++) assertOk(await srv.request('GET', '/_matrix/client/versions'));
            assert.ok(Date.now() - t0 < 3000 * SLOW, 'others slowed down');
        } finally {
            c.destroy();
        }
    });

    it('the server is still healthy and answers JSON at the end', T, async () => {
        const r = await srv.request('GET', '/_matrix/client/versions');
        assert.ok(assertOk(r).versions.includes('v1.12'));
        const m = await srv.request('GET', '/metrics');
        assert.equal(m.status, 200);
    });
});

describe('connection limit', () => {
    const MAX = 20;
    const srv = useServer({ env: { BALAI_LIMITS_MAX_CONNECTIONS: MAX } });

    it('beyond max_connections an extra client is not served; it recovers when they go', T, async () => {
        const held = [];
        try {
            for (let i = 0; i < MAX; i++) {
                const c = await RawConn.forServer(srv);
                held.push(c);
                await c.write(httpRequest('GET', '/_matrix/client/versions'));
                assert.equal((await c.readResponse()).status, 200, `connection ${i}`);
            }
            let extra;
            try {
                extra = await srv.request('GET', '/_matrix/client/versions', { timeoutMs: 1500 });
            } catch {
                extra = null; // refused, reset or not accepted: all fine
            }
            if (extra) assert.notEqual(extra.status, 200, `connection ${MAX + 1} was served`);
        } finally {
            for (const c of held) c.destroy();
        }
        let ok = false;
        for (let i = 0; i < 50 && !ok; i++) {
            await sleep(100);
            try {
                ok = (await srv.request('GET', '/_matrix/client/versions', { timeoutMs: 2000 })).status === 200;
            } catch {
                ok = false;
            }
        }
        assert.ok(ok, 'server did not recover after the connections closed');
    });
});
