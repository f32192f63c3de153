// proxy.test.mjs: behind a reverse proxy (server.trusted_proxies), the
// client's address comes from X-Forwarded-For, so that per-address login
// throttling still tells clients apart; from anyone else the header is
// ignored, so that a client cannot pick its own address.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';

function badLogin(srv, user, xff) {
    return srv.request('POST', `${C}/login`, {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password: 'wrong password' },
        headers: xff ? { 'X-Forwarded-For': xff } : {},
    });
}

describe('behind a trusted reverse proxy', () => {
    const srv = useServer({
        env: { BALAI_SERVER_TRUSTED_PROXIES: '10.9.9.9, 127.0.0.1', BALAI_LOGIN_IP_ATTEMPTS: 2, BALAI_LOGIN_ACCOUNT_FAILURES: 100 },
        users: [{ name: 'alice' }],
    });

    it('throttles per forwarded client address', T, async () => {
        assertError(await badLogin(srv, 'alice', '203.0.113.5'), 403, 'M_FORBIDDEN');
        assertError(await badLogin(srv, 'alice', '203.0.113.5'), 403, 'M_FORBIDDEN');
        assertError(await badLogin(srv, 'alice', '203.0.113.5'), 429, 'M_LIMIT_EXCEEDED');
        // another client behind the same proxy is not throttled
        assertError(await badLogin(srv, 'alice', '198.51.100.7'), 403, 'M_FORBIDDEN');
        // the right-most address that is not a trusted proxy counts; a
        // client-supplied left part does not help
        assertError(await badLogin(srv, 'alice', '1.2.3.4, 203.0.113.5, 10.9.9.9'), 429, 'M_LIMIT_EXCEEDED');
        // a malformed header leaves the proxy's own address
        assertError(await badLogin(srv, 'alice', 'not-an-address'), 403, 'M_FORBIDDEN');
    });
});

describe('without trusted proxies', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_IP_ATTEMPTS: 2, BALAI_LOGIN_ACCOUNT_FAILURES: 100 },
        users: [{ name: 'alice' }],
    });

    it('ignores X-Forwarded-For', T, async () => {
        assertError(await badLogin(srv, 'alice', '203.0.113.5'), 403, 'M_FORBIDDEN');
        assertError(await badLogin(srv, 'alice', '198.51.100.7'), 403, 'M_FORBIDDEN');
        assertError(await badLogin(srv, 'alice', '192.0.2.1'), 429, 'M_LIMIT_EXCEEDED');
    });
});
