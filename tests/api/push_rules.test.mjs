// push_rules.test.mjs: the push rules endpoints (GET /pushrules/, /pushrules/global/,
// GET/PUT/DELETE /pushrules/global/{kind}/{ruleId}, .../enabled, .../actions):
// the server-default rule set, user rules with before/after ordering, the
// m.push_rules account data in /sync, the errors, and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const P = `${C}/pushrules`;
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

const OVERRIDE = [
    '.m.rule.master', '.m.rule.suppress_notices', '.m.rule.invite_for_me', '.m.rule.member_event',
    '.m.rule.is_user_mention', '.m.rule.contains_display_name', '.m.rule.is_room_mention',
    '.m.rule.roomnotif', '.m.rule.tombstone', '.m.rule.reaction', '.m.rule.room.server_acl',
    '.m.rule.suppress_edits',
];
const UNDERRIDE = [
    '.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message',
    '.m.rule.encrypted',
];

const ids = (rules) => rules.map((r) => r.rule_id);

describe('push rules', () => {
    const srv = useServer({ env: RELAXED, users: [{ name: 'alice' }, { name: 'bob' }] });
    let alice, bob;
    const get = (path, token = alice) => srv.request('GET', `${P}${path}`, { token });
    const put = (path, body, token = alice) => srv.request('PUT', `${P}${path}`, { token, body });
    const del = (path, token = alice) => srv.request('DELETE', `${P}${path}`, { token });

    before(async () => {
        alice = (await srv.login('alice')).access_token;
        bob = (await srv.login('bob')).access_token;
    });

    it('GET /pushrules/ answers the server-default rule set', T, async () => {
        const r = await get('/');
        assertOk(r);
        const g = r.json.global;
        assert.deepEqual(Object.keys(g).sort(), ['content', 'override', 'room', 'sender', 'underride']);
        assert.deepEqual(ids(g.override), OVERRIDE);
        assert.deepEqual(ids(g.underride), UNDERRIDE);
        assert.deepEqual(g.room, []);
        assert.deepEqual(g.sender, []);
        assert.equal(g.content.length, 1);
        assert.deepEqual(g.content[0], {
            rule_id: '.m.rule.contains_user_name', default: true, enabled: true, pattern: 'alice',
            actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
        });
        assert.deepEqual(g.override[0], { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
        const mention = g.override.find((x) => x.rule_id === '.m.rule.is_user_mention');
        assert.deepEqual(mention.conditions, [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: srv.userId('alice') }]);
        const invite = g.override.find((x) => x.rule_id === '.m.rule.invite_for_me');
        assert.equal(invite.conditions[2].pattern, srv.userId('alice'));
        for (const list of Object.values(g)) for (const rule of list) assert.equal(rule.default, true);
        const scoped = await get('/global/');
        assertOk(scoped);
        assert.deepEqual(scoped.json, g);
        const one = await get('/global/underride/.m.rule.message');
        assertOk(one);
        assert.deepEqual(one.json, {
            rule_id: '.m.rule.message', default: true, enabled: true,
            conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }], actions: ['notify'],
        });
    });

    it('creates, orders (before/after), reads, replaces and deletes user rules', T, async () => {
        const body = (pattern) => ({ pattern, actions: ['notify', { set_tweak: 'highlight' }] });
        assertOk(await put('/global/content/a', body('apple')));
        assertOk(await put('/global/content/b', body('banana')));
        let g = (await get('/global/')).json;
        // a new rule without before/after is the most important user rule
        assert.deepEqual(ids(g.content), ['b', 'a', '.m.rule.contains_user_name']);
        assertOk(await srv.request('PUT', `${P}/global/content/c?after=a`, { token: alice, body: body('cherry') }));
        g = (await get('/global/')).json;
        assert.deepEqual(ids(g.content), ['b', 'a', 'c', '.m.rule.contains_user_name']);
        assertOk(await srv.request('PUT', `${P}/global/content/c?before=b`, { token: alice, body: body('cherry2') }));
        g = (await get('/global/')).json;
        assert.deepEqual(ids(g.content), ['c', 'b', 'a', '.m.rule.contains_user_name']);
        const c = await get('/global/content/c');
        assertOk(c);
        assert.deepEqual(c.json, { rule_id: 'c', default: false, enabled: true, pattern: 'cherry2', actions: body('x').actions });
        // an override rule comes right after .m.rule.master
        assertOk(await put('/global/override/mine', {
            conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'beer' }, { kind: 'room_member_count', is: '<=10' }],
            actions: ['notify', { set_tweak: 'sound', value: 'beeroclock.wav' }],
        }));
        g = (await get('/global/')).json;
        assert.deepEqual(ids(g.override).slice(0, 2), ['.m.rule.master', 'mine']);
        // room and sender rules
        assertOk(await put(`/global/room/${enc('!quiet:balai.test')}`, { actions: [] }));
        assertOk(await put(`/global/sender/${enc('@spam:balai.test')}`, { actions: ['dont_notify'] }));
        g = (await get('/global/')).json;
        assert.deepEqual(ids(g.room), ['!quiet:balai.test']);
        assert.deepEqual(ids(g.sender), ['@spam:balai.test']);
        // delete
        assertOk(await del('/global/content/b'));
        assertError(await get('/global/content/b'), 404, 'M_NOT_FOUND');
        assertError(await del('/global/content/b'), 404, 'M_NOT_FOUND');
        g = (await get('/global/')).json;
        assert.deepEqual(ids(g.content), ['c', 'a', '.m.rule.contains_user_name']);
        // other users are not affected
        const bobs = (await get('/global/', bob)).json;
        assert.deepEqual(ids(bobs.content), ['.m.rule.contains_user_name']);
    });

    it('enabled and actions, for user and server-default rules', T, async () => {
        let r = await get('/global/override/.m.rule.master/enabled');
        assertOk(r);
        assert.deepEqual(r.json, { enabled: false });
        assertOk(await put('/global/override/.m.rule.master/enabled', { enabled: true }));
        r = await get('/global/override/.m.rule.master/enabled');
        assert.deepEqual(r.json, { enabled: true });
        assertOk(await put('/global/override/.m.rule.master/enabled', { enabled: false }));
        assertOk(await put('/global/underride/.m.rule.message/actions', { actions: ['notify', { set_tweak: 'sound', value: 'bing' }] }));
        r = await get('/global/underride/.m.rule.message/actions');
        assertOk(r);
        assert.deepEqual(r.json, { actions: ['notify', { set_tweak: 'sound', value: 'bing' }] });
        assertOk(await put('/global/content/a/enabled', { enabled: false }));
        r = await get('/global/content/a');
        assert.equal(r.json.enabled, false);
        // replacing a rule keeps its enabled state
        assertOk(await put('/global/content/a', { pattern: 'apricot', actions: [] }));
        assert.equal((await get('/global/content/a')).json.enabled, false);
        // the changes reach /sync as m.push_rules account data
        const s = await srv.request('GET', `${C}/sync`, { token: alice });
        assertOk(s);
        const ad = s.json.account_data.events.find((e) => e.type === 'm.push_rules');
        assert.ok(ad, 'm.push_rules in account_data');
        assert.deepEqual(ad.content, (await get('/')).json);
        assertError(await get('/global/content/zzz/enabled'), 404, 'M_NOT_FOUND');
        assertError(await put('/global/content/zzz/actions', { actions: [] }), 404, 'M_NOT_FOUND');
    });

    it('errors', T, async () => {
        assertError(await srv.request('GET', `${P}/`), 401, 'M_MISSING_TOKEN');
        assertError(await srv.request('PUT', `${P}/global/content/x`, { body: { pattern: 'x', actions: [] } }), 401, 'M_MISSING_TOKEN');
        assertError(await get('/global/bogus/x'), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/bogus/x', { actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await get('/device/override/.m.rule.master'), 400, 'M_INVALID_PARAM');
        assertError(await get('/device/'), 400, 'M_INVALID_PARAM');
        // server-default ids cannot be created or deleted
        assertError(await put('/global/override/.m.rule.mine', { actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await del('/global/underride/.m.rule.message'), 400, 'M_INVALID_PARAM');
        // bad rules
        assertError(await put('/global/content/nopat', { actions: ['notify'] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/content/badpat', { pattern: 7, actions: ['notify'] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/content/noact', { pattern: 'x' }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/override/badact', { actions: ['explode'] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/override/badcond', { conditions: [{ kind: 'event_match', key: 'type' }], actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/override/badcount', { conditions: [{ kind: 'room_member_count', is: 'lots' }], actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/override/notarray', { conditions: {}, actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await put('/global/room/notaroom', { actions: [] }), 400, 'M_INVALID_PARAM');
        assertError(await put(`/global/override/${enc('a/b')}`, { actions: [] }), 400, 'M_INVALID_PARAM');
        // before/after must name a user rule of the kind
        assertError(await srv.request('PUT', `${P}/global/content/x?before=nope`, { token: alice, body: { pattern: 'x', actions: [] } }), 400);
        assertError(await srv.request('PUT', `${P}/global/content/x?after=.m.rule.contains_user_name`, { token: alice, body: { pattern: 'x', actions: [] } }), 400, 'M_INVALID_PARAM');
        // malformed bodies
        assertError(await srv.request('PUT', `${P}/global/content/x`, { token: alice, raw: '{"pattern":', headers: { 'content-type': 'application/json' } }), 400, 'M_NOT_JSON');
        assertError(await srv.request('PUT', `${P}/global/content/a/enabled`, { token: alice, raw: 'nope' }), 400, 'M_NOT_JSON');
        assertError(await put('/global/content/a/enabled', { enabled: 'yes' }), 400, 'M_BAD_JSON');
        assertError(await put('/global/content/a/enabled', {}), 400, 'M_MISSING_PARAM');
        assertError(await put('/global/content/a/actions', { actions: 'notify' }), 400, 'M_BAD_JSON');
        assertError(await put('/global/content/a/actions', { actions: [{ set_tweak: 'highlight', value: 'yes' }] }), 400, 'M_INVALID_PARAM');
        assertError(await get('/global/override/nope'), 404, 'M_NOT_FOUND');
        // nothing of that changed the rules
        assert.equal((await get('/global/content/x')).status, 404);
    });

    it('survives a restart; new server defaults still appear', T, async () => {
        const before = (await get('/')).json;
        await srv.restart();
        alice = (await srv.login('alice')).access_token;
        const after = await get('/');
        assertOk(after);
        assert.deepEqual(after.json, before);
        assert.deepEqual(ids(after.json.global.content), ['c', 'a', '.m.rule.contains_user_name']);
        assert.deepEqual((await get('/global/underride/.m.rule.message/actions')).json,
            { actions: ['notify', { set_tweak: 'sound', value: 'bing' }] });
    });
});
