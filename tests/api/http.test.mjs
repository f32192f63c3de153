// http.test.mjs: the HTTP layer: discovery endpoints, 404/405, CORS,
// body and header limits, keep-alive, pipelining, chunked uploads, metrics.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, sleep, SLOW, useServer } from './lib/server.mjs';
import { RawConn, chunked, httpRequest, rawRoundTrip } from './lib/raw.mjs';

// Per-test limit, so that a hung server fails a test instead of the run.
const T = { timeout: 60_000 * SLOW };

const C = '/_matrix/client/v3';
const MAX_BODY = 4096;
const MAX_HEADER = 4096;

function loginBody(user = 'alice', password = PW) {
    return JSON.stringify({
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password,
    });
}

describe('HTTP layer', () => {
    const srv = useServer({
        env: {
            BALAI_LIMITS_MAX_BODY: MAX_BODY,
            BALAI_LIMITS_MAX_HEADER: MAX_HEADER,
            BALAI_LOGIN_IP_ATTEMPTS: 100000,
            BALAI_LOGIN_ACCOUNT_FAILURES: 100000,
        },
        users: [{ name: 'alice' }],
    });
    let alice;
    before(async () => {
        alice = await srv.login('alice');
    });

    describe('discovery', () => {
        it('GET /_matrix/client/versions lists v1.12', T, async () => {
            const r = await srv.request('GET', '/_matrix/client/versions');
            const j = assertOk(r);
            assert.match(r.headers.get('content-type'), /^application\/json/);
            assert.ok(Array.isArray(j.versions));
            assert.ok(j.versions.includes('v1.12'), JSON.stringify(j.versions));
            assert.deepEqual(j.unstable_features, {});
        });

        it('ignores an unknown query string', T, async () => {
            assertOk(await srv.request('GET', '/_matrix/client/versions?foo=bar&x'));
        });

        it('GET /.well-known/matrix/client gives a usable base_url and disables E2EE', T, async () => {
            const j = assertOk(await srv.request('GET', '/.well-known/matrix/client'));
            const base = j['m.homeserver']?.base_url;
            assert.equal(typeof base, 'string', JSON.stringify(j));
            const u = new URL(base);
            assert.ok(u.protocol === 'http:' || u.protocol === 'https:', base);
            assert.notEqual(u.port, '0', `base_url points at port 0: ${base}`);
            assert.deepEqual(j['io.element.e2ee'], { default: false, force_disable: true });
        });
    });

    describe('routing errors', () => {
        it('an unknown path is 404 M_UNRECOGNIZED', T, async () => {
            for (const p of ['/nope', '/_matrix/client/v3/nope', '/_matrix/client/v3/rooms/!x:y/nope', '/_balai/admin/v1/nope']) {
                assertError(await srv.request('GET', p), 404, 'M_UNRECOGNIZED');
            }
            assertError(await srv.request('POST', '/nope', { body: {} }), 404, 'M_UNRECOGNIZED');
        });

        it('a known path with the wrong method is 405 M_UNRECOGNIZED', T, async () => {
            for (const [m, p] of [
                ['DELETE', '/_matrix/client/versions'],
                ['POST', '/_matrix/client/versions'],
                ['PUT', `${C}/login`],
                ['GET', `${C}/logout`],
                ['GET', `${C}/account/password`],
                ['POST', `${C}/account/whoami`],
                ['DELETE', '/_balai/admin/v1/users'],
            ]) {
                const r = await srv.request(m, p, { token: alice.access_token, body: m === 'GET' ? undefined : {} });
                assertError(r, 405, 'M_UNRECOGNIZED');
            }
        });
    });

    describe('CORS', () => {
        it('every response carries Access-Control-Allow-Origin: *', T, async () => {
            const cases = [
                await srv.request('GET', '/_matrix/client/versions'),
                await srv.request('GET', '/nope'),
                await srv.request('DELETE', '/_matrix/client/versions'),
                await srv.request('GET', `${C}/account/whoami`),
                await srv.whoami(alice.access_token),
                await srv.loginRaw('alice', 'wrong password'),
                await srv.request('POST', `${C}/login`, { raw: '{', headers: { 'content-type': 'application/json' } }),
                await srv.request('GET', '/metrics'),
            ];
            for (const r of cases) {
                assert.equal(
                    r.headers.get('access-control-allow-origin'),
                    '*',
                    `${r.method} ${r.path} (${r.status}) lacks CORS`,
                );
            }
        });

        it('OPTIONS on any path is 200 with the CORS headers', T, async () => {
            for (const p of ['/_matrix/client/v3/login', '/_matrix/client/v3/rooms/!a:b/send/m.room.message/1', '/whatever']) {
                const r = await srv.request('OPTIONS', p, {
                    headers: {
                        origin: 'https://app.example.org',
                        'access-control-request-method': 'POST',
                        'access-control-request-headers': 'authorization, content-type',
                    },
                });
                assert.equal(r.status, 200, `${p}: ${r.status} ${r.text}`);
                assert.equal(r.headers.get('access-control-allow-origin'), '*');
                const methods = (r.headers.get('access-control-allow-methods') || '').toUpperCase();
                for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']) assert.ok(methods.includes(m), `methods: ${methods}`);
                const hdrs = (r.headers.get('access-control-allow-headers') || '').toLowerCase();
                for (const h of ['authorization', 'content-type']) assert.ok(hdrs.includes(h), `headers: ${hdrs}`);
            }
        });
    });

    describe('limits', () => {
        it('a declared body over the limit is 413 M_TOO_LARGE', T, async () => {
            const r = await rawRoundTrip(
                srv,
                httpRequest('POST', `${C}/login`, {
                    headers: { 'Content-Type': 'application/json', 'Content-Length': String(MAX_BODY * 4) },
                }),
            );
            assert.equal(r.status, 413, r.text);
            assert.equal(r.json?.errcode, 'M_TOO_LARGE', r.text);
            assert.equal(r.headers['access-control-allow-origin'], '*');
        });

        it('a chunked body growing over the limit is 413 M_TOO_LARGE', T, async () => {
            const part = 'x'.repeat(1000);
            const body = chunked(Array.from({ length: Math.ceil(MAX_BODY / 1000) + 2 }, () => part));
            const r = await rawRoundTrip(
                srv,
                httpRequest('POST', `${C}/login`, {
                    headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
                    body,
                }),
            );
            assert.equal(r.status, 413, r.text);
            assert.equal(r.json?.errcode, 'M_TOO_LARGE', r.text);
        });

        it('fetch with a real oversized body gets 413 M_TOO_LARGE (not a reset)', T, async () => {
            const big = JSON.stringify({ type: 'm.login.password', pad: 'y'.repeat(MAX_BODY * 2) });
            const r = await srv.request('POST', `${C}/login`, { raw: big, headers: { 'content-type': 'application/json' } });
            assertError(r, 413, 'M_TOO_LARGE');
        });

        it('a body just under the limit is parsed normally', T, async () => {
            const body = JSON.stringify({
                type: 'm.login.password',
                identifier: { type: 'm.id.user', user: 'alice' },
                password: PW,
                pad: 'z'.repeat(MAX_BODY - 200),
            });
            assert.ok(Buffer.byteLength(body) < MAX_BODY);
            const r = await srv.request('POST', `${C}/login`, { raw: body, headers: { 'content-type': 'application/json' } });
            assertOk(r);
        });

        it('oversized headers are 431', T, async () => {
            const r = await rawRoundTrip(
                srv,
                httpRequest('GET', '/_matrix/client/versions', { headers: { 'X-Pad': 'p'.repeat(MAX_HEADER * 2) } }),
            );
            assert.equal(r.status, 431, `${r.status} ${r.text}`);
            assert.equal(typeof r.json?.errcode, 'string', `431 body is not a Matrix error: ${r.text}`);
        });

        it('oversized headers via fetch are 431', T, async () => {
            const r = await srv.request('GET', '/_matrix/client/versions', { headers: { 'x-pad': 'q'.repeat(MAX_HEADER * 2) } });
            assert.equal(r.status, 431, r.text);
        });

        it('many small headers adding up over the limit are 431', T, async () => {
            const headers = [];
            for (let i = 0; i < 200; i++) headers.push([`X-H${i}`, 'v'.repeat(40)]);
            const r = await rawRoundTrip(srv, httpRequest('GET', '/_matrix/client/versions', { headers }));
            assert.equal(r.status, 431, `${r.status} ${r.text}`);
        });

        it('headers just under the limit are fine', T, async () => {
            const r = await rawRoundTrip(
                srv,
                httpRequest('GET', '/_matrix/client/versions', { headers: { 'X-Pad': 'p'.repeat(MAX_HEADER - 400) } }),
            );
            assert.equal(r.status, 200, r.text);
        });
    });

    describe('connections', () => {
        it('keep-alive: 100 requests on one connection', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                for (let i = 0; i < 100; i++) {
                    const req =
                        i % 3 === 0
                            ? httpRequest('GET', `${C}/account/whoami`, { headers: { Authorization: `Bearer ${alice.access_token}` } })
                            : i % 3 === 1
                              ? httpRequest('GET', '/_matrix/client/versions')
                              : httpRequest('GET', `/nope/${i}`);
                    assert.ok(await c.write(req), `write ${i} failed (closed after ${i} requests)`);
                    const r = await c.readResponse();
                    assert.equal(r.status, i % 3 === 2 ? 404 : 200, `request ${i}: ${r.status} ${r.text}`);
                    if (i % 3 === 0) assert.equal(r.json.user_id, '@alice:balai.test');
                }
                assert.equal(c.closed, false);
            } finally {
                c.destroy();
            }
        });

        it('keep-alive across requests with bodies (body boundaries respected)', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                for (let i = 0; i < 10; i++) {
                    const body = JSON.stringify({ display_name: `Device ${i}` });
                    await c.write(
                        httpRequest('PUT', `${C}/devices/${alice.device_id}`, {
                            headers: { Authorization: `Bearer ${alice.access_token}`, 'Content-Type': 'application/json' },
                            body,
                        }),
                    );
                    const r = await c.readResponse();
                    assert.equal(r.status, 200, r.text);
                    await c.write(
                        httpRequest('GET', `${C}/devices/${alice.device_id}`, {
                            headers: { Authorization: `Bearer ${alice.access_token}` },
                        }),
                    );
                    const g = await c.readResponse();
                    assert.equal(g.json.display_name, `Device ${i}`);
                }
            } finally {
                c.destroy();
            }
        });

        it('Connection: close closes after the response', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                await c.write(httpRequest('GET', '/_matrix/client/versions', { headers: { Connection: 'close' } }));
                const r = await c.readResponse();
                assert.equal(r.status, 200);
                assert.ok(await c.waitClose(3000), 'connection not closed');
            } finally {
                c.destroy();
            }
        });

        it('HTTP/1.0 without keep-alive closes after the response', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                await c.write('GET /_matrix/client/versions HTTP/1.0\r\nHost: x\r\n\r\n');
                const r = await c.readResponse();
                assert.equal(r.status, 200);
                assert.ok(await c.waitClose(3000), 'connection not closed');
            } finally {
                c.destroy();
            }
        });

        it('pipelining: requests in one write are answered in order (slow one first)', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                const body = loginBody();
                const bytes = Buffer.concat([
                    httpRequest('POST', `${C}/login`, { headers: { 'Content-Type': 'application/json' }, body }),
                    httpRequest('GET', '/_matrix/client/versions'),
                    httpRequest('GET', `${C}/account/whoami`),
                    httpRequest('GET', `${C}/account/whoami`, { headers: { Authorization: `Bearer ${alice.access_token}` } }),
                ]);
                await c.write(bytes);
                const r1 = await c.readResponse();
                const r2 = await c.readResponse();
                const r3 = await c.readResponse();
                const r4 = await c.readResponse();
                assert.equal(r1.status, 200, r1.text);
                assert.equal(r1.json.user_id, '@alice:balai.test');
                assert.equal(r2.status, 200);
                assert.ok(r2.json.versions);
                assert.equal(r3.status, 401);
                assert.equal(r3.json.errcode, 'M_MISSING_TOKEN');
                assert.equal(r4.status, 200);
                assert.equal(r4.json.user_id, '@alice:balai.test');
            } finally {
                c.destroy();
            }
        });

        it('pipelining: 50 requests in one write, 50 responses', T, async () => {
            const c = await RawConn.forServer(srv);
            try {
                const reqs = [];
                for (let i = 0; i < 50; i++) reqs.push(httpRequest('GET', i % 2 ? '/_matrix/client/versions' : `/nope${i}`));
                await c.write(Buffer.concat(reqs));
                for (let i = 0; i < 50; i++) {
                    const r = await c.readResponse();
                    assert.equal(r.status, i % 2 ? 200 : 404, `response ${i}`);
                }
            } finally {
                c.destroy();
            }
        });

        it('a chunked request body to POST /login works', T, async () => {
            const body = loginBody();
            const parts = [body.slice(0, 7), body.slice(7, 30), body.slice(30)];
            const r = await rawRoundTrip(
                srv,
                httpRequest('POST', `${C}/login`, {
                    headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
                    body: chunked(parts),
                }),
            );
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.user_id, '@alice:balai.test');
            assertOk(await srv.whoami(r.json.access_token));
        });

        it('a chunked body trickled in separate writes works', T, async () => {
            const body = loginBody();
            const c = await RawConn.forServer(srv);
            try {
                await c.write(
                    httpRequest('POST', `${C}/login`, {
                        headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
                    }),
                );
                const enc = chunked([body.slice(0, 20), body.slice(20)]);
                for (let i = 0; i < enc.length; i += 9) {
                    await c.write(enc.slice(i, i + 9));
                    await sleep(5);
                }
                const r = await c.readResponse();
                assert.equal(r.status, 200, r.text);
            } finally {
                c.destroy();
            }
        });

        it('a body split across writes (Content-Length) works', T, async () => {
            const body = loginBody();
            const c = await RawConn.forServer(srv);
            try {
                await c.write(httpRequest('POST', `${C}/login`, { headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } }));
                await sleep(50);
                await c.write(body.slice(0, 10));
                await sleep(50);
                await c.write(body.slice(10));
                const r = await c.readResponse();
                assert.equal(r.status, 200, r.text);
            } finally {
                c.destroy();
            }
        });

        it('Expect: 100-continue is honoured (curl sends it)', T, async () => {
            const body = loginBody();
            const c = await RawConn.forServer(srv);
            try {
                await c.write(
                    httpRequest('POST', `${C}/login`, {
                        headers: {
                            'Content-Type': 'application/json',
                            'Content-Length': String(Buffer.byteLength(body)),
                            Expect: '100-continue',
                        },
                    }),
                );
                // Either "100 Continue" now, or nothing until the body comes.
                await c.waitEvent(1000);
                let r;
                if (c.buf.length > 0) {
                    r = await c.readResponse();
                    assert.equal(r.status, 100, `expected 100 Continue, got ${r.status} ${r.text}`);
                }
                await c.write(body);
                r = await c.readResponse();
                assert.equal(r.status, 200, r.text);
            } finally {
                c.destroy();
            }
        });
    });

    describe('metrics', () => {
        it('GET /metrics is Prometheus text with request and writer counters', T, async () => {
            const r = await srv.request('GET', '/metrics');
            assert.equal(r.status, 200);
            assert.match(r.headers.get('content-type'), /^text\/plain/);
            const text = r.text;
            assert.match(text, /^balai_http_requests_total\{[^}]*\} \d+/m);
            assert.match(text, /^balai_writer_batches_total \d+/m);
            for (const line of text.split('\n')) {
                if (line === '' || line.startsWith('#')) continue;
                assert.match(
                    line,
                    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*(\\.[^"\\]*)*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*(\\.[^"\\]*)*")*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/,
                    `bad metrics line: ${line}`,
                );
            }
        });

        it('counters move with traffic', T, async () => {
            const sum = (text, name) =>
                text
                    .split('\n')
                    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
                    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
            const before1 = (await srv.request('GET', '/metrics')).text;
            for (let i = 0; i < 5; i++) assertOk(await srv.request('GET', '/_matrix/client/versions'));
            assertOk(
                await srv.request('PUT', `${C}/devices/${alice.device_id}`, {
                    token: alice.access_token,
                    body: { display_name: 'metrics' },
                }),
            );
            const after1 = (await srv.request('GET', '/metrics')).text;
            assert.ok(
                sum(after1, 'balai_http_requests_total') >= sum(before1, 'balai_http_requests_total') + 6,
                'balai_http_requests_total did not grow',
            );
            assert.ok(
                sum(after1, 'balai_writer_batches_total') >= sum(before1, 'balai_writer_batches_total') + 1,
                'balai_writer_batches_total did not grow after a write',
            );
        });
    });
});
