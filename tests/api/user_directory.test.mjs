// user_directory.test.mjs: POST /user_directory/search — colleagues by name.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';

describe('user directory search', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [
            { name: 'alice', displayname: 'Alice Wijaya' },
            { name: 'siti', displayname: 'Siti Rahayu' },
            { name: 'budi', displayname: 'Budi Santoso' },
            { name: 'sitinur', displayname: 'Nurul Siti' },
            { name: 'leaver', displayname: 'Siti Leaver' },
            { name: 'root', admin: true },
        ],
    });
    let alice, root;
    before(async () => {
        alice = (await srv.login('alice')).access_token;
        root = (await srv.login('root')).access_token;
        assertOk(await srv.request('POST', `/_balai/admin/v1/users/${encodeURIComponent(srv.userId('leaver'))}/deactivate`, { token: root, body: {} }));
    });

    const search = (body, token = alice) => srv.request('POST', `${C}/user_directory/search`, { token, body });

    it('finds by display name and by user id, case-insensitively, sorted by name', T, async () => {
        const r = await search({ search_term: 'SITI' });
        assertOk(r);
        assert.deepEqual(
            r.json.results.map((x) => x.user_id),
            [srv.userId('sitinur'), srv.userId('siti')],
        );
        assert.equal(r.json.results[1].display_name, 'Siti Rahayu');
        assert.equal(r.json.limited, false);
        const byId = await search({ search_term: 'budi' });
        assert.deepEqual(byId.json.results.map((x) => x.user_id), [srv.userId('budi')]);
    });

    it('leaves out deactivated accounts and the system user', T, async () => {
        const r = await search({ search_term: 'leaver' });
        assert.deepEqual(r.json.results, []);
        const b = await search({ search_term: 'balai' });
        assert.ok(!b.json.results.some((x) => x.user_id === `@balai:${srv.serverName}`));
    });

    it('honours limit and reports limited', T, async () => {
        const r = await search({ search_term: 'i', limit: 2 });
        assertOk(r);
        assert.equal(r.json.results.length, 2);
        assert.equal(r.json.limited, true);
    });

    it('refuses bad requests', T, async () => {
        assertError(await search({}), 400, 'M_MISSING_PARAM');
        assertError(await search({ search_term: 5 }), 400, 'M_BAD_JSON');
        assertError(await search({ search_term: 'a', limit: 'x' }), 400, 'M_BAD_JSON');
        assertError(await search({ search_term: 'a', limit: 0 }), 400, 'M_BAD_JSON');
        assertError(await search({ search_term: 'x'.repeat(300) }), 400, 'M_INVALID_PARAM');
        assertError(await srv.request('POST', `${C}/user_directory/search`, { body: { search_term: 'a' } }), 401, 'M_MISSING_TOKEN');
        const bad = await srv.request('POST', `${C}/user_directory/search`, { token: alice, raw: '{nope' });
        assertError(bad, 400, 'M_NOT_JSON');
    });
});
