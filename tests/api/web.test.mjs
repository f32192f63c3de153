// web.test.mjs: serving the web app at "/" (src/api/web.c): files from a
// web root read at start, SPA fallback for the app's routes, gzip, cache and
// security headers, no path traversal, the API namespaces left alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { useServer, makeTempDir, assertError, TestServer, SLOW } from './lib/server.mjs';

const T = { timeout: 30000 * SLOW };

const INDEX = `<!doctype html><html><head><title>Balai</title></head><body>${'<p>app</p>'.repeat(40)}</body></html>\n`;
const JS = 'console.log("hello from the bundle");\n'.repeat(50);
const HASHED = '/assets/app-3QZ5XK2B.js';

async function makeRoot() {
    const dir = await makeTempDir('balai-web-');
    await fs.mkdir(path.join(dir, 'assets'));
    await fs.writeFile(path.join(dir, 'index.html'), INDEX);
    await fs.writeFile(path.join(dir, 'index.html.gz'), zlib.gzipSync(INDEX));
    await fs.writeFile(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await fs.writeFile(path.join(dir, 'assets', 'app-3QZ5XK2B.js'), JS);
    await fs.writeFile(path.join(dir, 'assets', 'app-3QZ5XK2B.js.gz'), zlib.gzipSync(JS));
    await fs.writeFile(path.join(dir, 'assets', 'app-3QZ5XK2B.css'), 'body{margin:0}');
    await fs.writeFile(path.join(dir, 'assets', '.hidden'), 'secret');
    // a file next to the root that traversal would reach
    await fs.writeFile(path.join(dir, '..', path.basename(dir) + '-secret.txt'), 'secret');
    return dir;
}

// A raw HTTP GET that sends the path exactly as given (fetch normalises "..").
function rawGet(srv, p, headers = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request(
            { host: srv.host, port: srv.port, path: p, method: 'GET', headers },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                    resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
                );
            },
        );
        req.setTimeout(10000 * SLOW, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
    });
}

function assertSecurityHeaders(h, what) {
    const csp = h['content-security-policy'] ?? '';
    for (const d of [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]) {
        assert.ok(csp.includes(d), `${what}: CSP lacks ${d}: ${csp}`);
    }
    assert.ok(!csp.includes('unsafe'), `${what}: CSP allows unsafe: ${csp}`);
    assert.equal(h['x-content-type-options'], 'nosniff', what);
    assert.equal(h['referrer-policy'], 'no-referrer', what);
    assert.equal(h['x-frame-options'], 'DENY', what);
    assert.ok(h['permissions-policy'], `${what}: Permissions-Policy`);
}

describe('web app serving', () => {
    let root;
    const srv = useServer({ start: false });
    before(async () => {
        root = await makeRoot();
        await srv.start({ env: { BALAI_WEB_ROOT: root } });
    });
    after(async () => {
        await fs.rm(path.join(root, '..', path.basename(root) + '-secret.txt'), { force: true });
        await fs.rm(root, { recursive: true, force: true });
    });

    it('GET / answers index.html with the security headers and no-cache', T, async () => {
        const r = await rawGet(srv, '/');
        assert.equal(r.status, 200);
        assert.match(r.headers['content-type'], /^text\/html; charset=utf-8/);
        assert.equal(r.body.toString(), INDEX);
        assert.equal(r.headers['cache-control'], 'no-cache');
        assert.ok(r.headers.etag);
        assertSecurityHeaders(r.headers, 'GET /');
    });

    it('client-side routes answer index.html (SPA fallback)', T, async () => {
        for (const p of ['/login', '/settings', '/rooms', '/rooms/!abc:balai.test', '/rooms/%21abc%3Ab/thread/%24ev', '/admin', '/admin/people']) {
            const r = await rawGet(srv, p);
            assert.equal(r.status, 200, p);
            assert.equal(r.body.toString(), INDEX, p);
            assertSecurityHeaders(r.headers, p);
        }
    });

    it('hashed assets are immutable with the right content type', T, async () => {
        const r = await rawGet(srv, HASHED);
        assert.equal(r.status, 200);
        assert.match(r.headers['content-type'], /^text\/javascript/);
        assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal(r.body.toString(), JS);
        assert.equal(r.headers['content-encoding'], undefined);
        assert.equal(r.headers.vary, 'Accept-Encoding');
        const css = await rawGet(srv, '/assets/app-3QZ5XK2B.css');
        assert.equal(css.status, 200);
        assert.match(css.headers['content-type'], /^text\/css/);
        const svg = await rawGet(srv, '/favicon.svg');
        assert.equal(svg.status, 200);
        assert.equal(svg.headers['content-type'], 'image/svg+xml');
        assert.equal(svg.headers['cache-control'], 'no-cache');
    });

    it('the precompressed .gz is served when the client accepts gzip', T, async () => {
        const r = await rawGet(srv, HASHED, { 'accept-encoding': 'br, gzip;q=0.8' });
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-encoding'], 'gzip');
        assert.ok(r.body.length < JS.length);
        assert.equal(zlib.gunzipSync(r.body).toString(), JS);
        const no = await rawGet(srv, HASHED, { 'accept-encoding': 'gzip;q=0, deflate' });
        assert.equal(no.headers['content-encoding'], undefined);
        assert.equal(no.body.toString(), JS);
        const idx = await rawGet(srv, '/', { 'accept-encoding': 'gzip' });
        assert.equal(idx.headers['content-encoding'], 'gzip');
        assert.equal(zlib.gunzipSync(idx.body).toString(), INDEX);
        assert.notEqual(idx.headers.etag, (await rawGet(srv, '/')).headers.etag);
        // the .gz itself is not a separate file
        assert.equal((await rawGet(srv, HASHED + '.gz')).status, 404);
    });

    it('If-None-Match with the ETag answers 304', T, async () => {
        const first = await rawGet(srv, '/');
        const r = await rawGet(srv, '/', { 'if-none-match': first.headers.etag });
        assert.equal(r.status, 304);
        assert.equal(r.body.length, 0);
        const other = await rawGet(srv, '/', { 'if-none-match': '"nope"' });
        assert.equal(other.status, 200);
    });

    it('unknown files are 404; dotfiles are not served', T, async () => {
        for (const p of ['/assets/nope.js', '/assets/.hidden', '/nope.txt', '/assets/']) {
            const r = await rawGet(srv, p);
            assert.equal(r.status, 404, p);
        }
    });

    it('no path traversal: .., encoded dots and slashes, NUL, backslash', T, async () => {
        const name = path.basename(root) + '-secret.txt';
        for (const p of [
            `/../${name}`,
            `/assets/../../${name}`,
            `/assets/%2e%2e/%2e%2e/${name}`,
            `/assets/%2E%2E%2F%2E%2E%2F${name}`,
            `/assets/..%2f..%2f${name}`,
            `/rooms/%2e%2e/%2e%2e/${name}`,
            `/assets/app-3QZ5XK2B.js%00.png`,
            `/assets/%00`,
            `/assets/..%5c..%5c${name}`,
            `/assets/./app-3QZ5XK2B.js`,
            `/assets//app-3QZ5XK2B.js`,
            `/assets/%zz`,
        ]) {
            const r = await rawGet(srv, p);
            assert.ok([400, 404].includes(r.status), `${p} -> ${r.status}`);
            assert.ok(!r.body.toString().includes('secret'), `${p} leaked the file`);
        }
        // an app route with a traversal is not index.html either
        assert.equal((await rawGet(srv, '/rooms/..')).status, 404);
    });

    it('the API namespaces are left alone', T, async () => {
        for (const p of ['/_matrix/client/v3/nope', '/_balai/admin/v1/nope', '/nope', '/.well-known/nope']) {
            assertError(await srv.request('GET', p), 404, 'M_UNRECOGNIZED');
        }
        // whatever /scim answers (its own errors), it is not the web app
        const scim = await srv.request('GET', '/scim/v2/Users');
        assert.notEqual(scim.status, 200);
        assert.equal(scim.headers.get('content-security-policy'), null);
        const v = await srv.request('GET', '/_matrix/client/versions');
        assert.equal(v.status, 200);
        assert.equal(v.headers.get('content-security-policy'), null);
        assert.equal((await srv.request('GET', '/metrics')).status, 200);
        assertError(await srv.request('POST', '/nope', { body: {} }), 404, 'M_UNRECOGNIZED');
        // the web app is GET-only
        assertError(await srv.request('POST', '/login', { body: {} }), 405, 'M_UNRECOGNIZED');
    });

    it('HEAD answers the headers only', T, async () => {
        const r = await srv.request('HEAD', HASHED, { headers: { 'accept-encoding': 'identity' } });
        assert.equal(r.status, 200);
        assert.equal(r.text, '');
        assert.equal(Number(r.headers.get('content-length')), JS.length);
    });
});

describe('web app configuration', () => {
    it('web.root = none serves no web app', T, async () => {
        const srv = new TestServer();
        try {
            await srv.init();
            await srv.start({ env: { BALAI_WEB_ROOT: 'none' } });
            assertError(await srv.request('GET', '/'), 404, 'M_UNRECOGNIZED');
            assertError(await srv.request('GET', '/login'), 404, 'M_UNRECOGNIZED');
        } finally {
            await srv.close();
        }
    });

    it('an explicit web.root without index.html stops the server', T, async () => {
        const srv = new TestServer();
        const empty = await makeTempDir('balai-web-empty-');
        try {
            await srv.init();
            await assert.rejects(srv.start({ env: { BALAI_WEB_ROOT: empty } }), /exited during start/);
            assert.match(srv.log, /index\.html/);
        } finally {
            await srv.close();
            await fs.rm(empty, { recursive: true, force: true });
        }
    });
});
