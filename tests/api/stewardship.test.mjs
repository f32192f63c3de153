// stewardship.test.mjs: the stewardship invariant (docs/rooms.md): every
// organisation room keeps at least rooms.min_stewards (2) and at most
// rooms.max_stewards (3) active human stewards. The first stewards of a new
// room; every path that could orphan a room (demotion, the last steward
// leaving or declining, kick, ban, deactivation, offboarding); succession
// along the manager chain, then the owning unit's admins, then the
// organisation's admins; the maximum.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const O = '/_balai/client/v1';
const enc = encodeURIComponent;
const SERVER = 'balai.test';
const SYS = `@balai:${SERVER}`;
const uid = (n) => `@${n}:${SERVER}`;
const NEEDS = /This room needs at least 2 stewards; name another steward first/;

const NAMES = ['root', 'adm', 'boss', 'mgr', 'alice', 'bob', 'carol', 'dave', 'ua', 'ua2', 'erin', 'frank', 'gina', 'hank', 'ivan', 'judy', 'kim'];

describe('stewardship invariant', () => {
    const srv = useServer({
        users: NAMES.map((name) => ({ name, admin: name === 'root' })),
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
    });
    const tok = {};
    const req = (m, p, token, body) => srv.request(m, p, { token, body });

    // directory: boss > mgr > alice, hank, ivan, judy (icu); units icu (admins ua, ua2), lab (no admins)
    before(async () => {
        for (const n of NAMES) tok[n] = (await srv.login(n)).access_token;
        const put = async (n, attrs) => assertOk(await req('PUT', `${A}/directory/users/${enc(uid(n))}`, tok.root, attrs));
        assertOk(await req('PUT', `${A}/users/${enc(uid('adm'))}/role`, tok.root, { role: 'admin' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'ICU', unit_id: 'icu', admins: [uid('ua'), uid('ua2')] }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Lab', unit_id: 'lab' }));
        await put('boss', { unit: 'icu' });
        await put('mgr', { unit: 'icu', manager: uid('boss') });
        for (const n of ['alice', 'hank', 'ivan', 'judy']) await put(n, { unit: 'icu', manager: uid('mgr') });
        await put('erin', { unit: 'icu' });
        await put('gina', { unit: 'lab' });
    });

    const create = async (token, body = {}) => assertOk(await req('POST', `${C}/createRoom`, token, body)).room_id;
    const info = async (roomId, token = tok.root) => assertOk(await req('GET', `${A}/rooms/${enc(roomId)}`, token));
    const stewards = async (roomId) => [...(await info(roomId)).stewards].sort();
    const state = async (roomId, type, key = '', token = tok.root) => {
        // the admin reads state through an org-staff view: join as needed is not possible, so read as a steward
        const r = await req('GET', `${C}/rooms/${enc(roomId)}/state/${enc(type)}/${enc(key)}`, token);
        return r.status === 200 ? r.json : null;
    };
    const pl = (roomId, token) => state(roomId, 'm.room.power_levels', '', token);
    const putPl = (roomId, token, content) => req('PUT', `${C}/rooms/${enc(roomId)}/state/m.room.power_levels/`, token, content);
    const join = async (roomId, n) => assertOk(await req('POST', `${C}/join/${enc(roomId)}`, tok[n], {}));
    const leave = (roomId, n) => req('POST', `${C}/rooms/${enc(roomId)}/leave`, tok[n], {});
    const promote = async (roomId, by, who, level = 100) => {
        const c = await pl(roomId, tok[by]);
        c.users[uid(who)] = level;
        return putPl(roomId, tok[by], c);
    };
    async function until(fn, what) {
        for (let i = 0; i < 100; i++) {
            const v = await fn();
            if (v) return v;
            await sleep(50);
        }
        assert.fail(`timed out waiting for ${what}`);
    }

    describe('a new room', () => {
        it('starts with its creator and the creator\'s manager, invited by the system user at 100', T, async () => {
            const r = await create(tok.alice, { name: 'ward' });
            assert.deepEqual(await stewards(r), [uid('alice'), uid('mgr')].sort());
            const p = await pl(r, tok.alice);
            assert.equal(p.users[uid('mgr')], 100);
            const m = await req('GET', `${C}/rooms/${enc(r)}/state/m.room.member/${enc(uid('mgr'))}`, tok.alice);
            assert.equal(assertOk(m).membership, 'invite');
            // the inviter is the system user
            const all = assertOk(await req('GET', `${C}/rooms/${enc(r)}/state`, tok.alice));
            assert.equal(all.find((e) => e.type === 'm.room.member' && e.state_key === uid('mgr')).sender, SYS);
            // the manager accepts
            await join(r, 'mgr');
            assert.deepEqual(await stewards(r), [uid('alice'), uid('mgr')].sort());
        });

        it('without a manager: an admin of the owning unit', T, async () => {
            const r = await create(tok.erin, {});
            assert.deepEqual(await stewards(r), [uid('erin'), uid('ua')].sort());
        });

        it('a manager already invited by the creator is not invited twice', T, async () => {
            const r = await create(tok.hank, { invite: [uid('mgr')] });
            assert.deepEqual(await stewards(r), [uid('hank'), uid('mgr')].sort());
        });

        it('direct messages have no stewards and no invariant', T, async () => {
            const r = await create(tok.alice, { is_direct: true, invite: [uid('bob')] });
            assertOk(await leave(r, 'alice'));
        });
    });

    describe('paths that could orphan a room are refused', () => {
        let r;
        before(async () => {
            r = await create(tok.alice, { name: 'guarded', preset: 'public_chat' });
            await join(r, 'mgr');
            await join(r, 'bob');
        });

        it('demoting a steward below the minimum', T, async () => {
            const e = assertError(await promote(r, 'alice', 'alice', 50), 403, 'M_FORBIDDEN');
            assert.match(e.error, NEEDS);
            assert.equal((await pl(r, tok.alice)).users[uid('alice')], 100);
        });

        it('the last stewards leaving', T, async () => {
            assert.match(assertError(await leave(r, 'alice'), 403, 'M_FORBIDDEN').error, NEEDS);
            assert.match(assertError(await leave(r, 'mgr'), 403, 'M_FORBIDDEN').error, NEEDS);
            // a member who is not a steward leaves freely
            assertOk(await leave(r, 'bob'));
        });

        it('declining the steward invitation', T, async () => {
            const r2 = await create(tok.ivan, {});
            assert.match(assertError(await leave(r2, 'mgr'), 403, 'M_FORBIDDEN').error, NEEDS);
        });

        it('kicked and banned (by someone above the steward level)', T, async () => {
            const r3 = await create(tok.judy, { preset: 'public_chat', power_level_content_override: { users: { [uid('judy')]: 150 } } });
            await join(r3, 'mgr');
            const p = await pl(r3, tok.judy);
            assert.equal(p.users[uid('mgr')], 100);
            assert.equal(p.users[uid('judy')], 150);
            for (const action of ['kick', 'ban']) {
                const e = assertError(await req('POST', `${C}/rooms/${enc(r3)}/${action}`, tok.judy, { user_id: uid('mgr') }), 403, 'M_FORBIDDEN');
                assert.match(e.error, NEEDS);
            }
            // with a third steward, the kick goes through
            await join(r3, 'carol');
            assertOk(await promote(r3, 'judy', 'carol'));
            assertOk(await req('POST', `${C}/rooms/${enc(r3)}/kick`, tok.judy, { user_id: uid('mgr') }));
            assert.deepEqual(await stewards(r3), [uid('carol'), uid('judy')].sort());
        });

        it('naming another steward first lets one go', T, async () => {
            await join(r, 'bob');
            assertOk(await promote(r, 'alice', 'bob'));
            assert.equal((await stewards(r)).length, 3);
            assertOk(await promote(r, 'alice', 'alice', 0)); // 3 -> 2
            assert.deepEqual(await stewards(r), [uid('bob'), uid('mgr')].sort());
            assertOk(await leave(r, 'alice'));
        });

        it('at most max_stewards', T, async () => {
            const r4 = await create(tok.alice, { preset: 'public_chat' });
            for (const n of ['mgr', 'bob', 'carol']) await join(r4, n);
            assertOk(await promote(r4, 'alice', 'bob'));
            const e = assertError(await promote(r4, 'alice', 'carol'), 403, 'M_FORBIDDEN');
            assert.match(e.error, /at most 3 stewards/);
            assert.equal((await stewards(r4)).length, 3);
        });
    });

    describe('succession', () => {
        it('deactivation: along the manager chain (the manager\'s manager)', T, async () => {
            const r = await create(tok.alice, { name: 'succession 1' });
            await join(r, 'mgr');
            assertOk(await req('POST', `${A}/users/${enc(uid('mgr'))}/deactivate`, tok.root, {}));
            // mgr's manager is boss: raised to 100 and invited by the system user
            await until(async () => (await stewards(r)).includes(uid('boss')), 'boss appointed');
            assert.deepEqual(await stewards(r), [uid('alice'), uid('boss')].sort());
            const all = assertOk(await req('GET', `${C}/rooms/${enc(r)}/state`, tok.alice));
            const plEv = all.find((e) => e.type === 'm.room.power_levels');
            assert.equal(plEv.sender, SYS);
            assert.equal(plEv.content.users[uid('boss')], 100);
            const inv = all.find((e) => e.type === 'm.room.member' && e.state_key === uid('boss'));
            assert.equal(inv.content.membership, 'invite');
            assert.equal(inv.sender, SYS);
            const entries = await until(async () => {
                const e = assertOk(await req('GET', `${A}/audit?action=room.steward.succession&target=${enc(r)}`, tok.root)).entries;
                return e.length ? e : null;
            }, 'the succession audited');
            assert.equal(entries.length, 1);
            assert.equal(entries[0].detail.departing, uid('mgr'));
            assert.deepEqual(entries[0].detail.successors, [uid('boss')]);
        });

        it('then the owning unit\'s admins', T, async () => {
            const r = await create(tok.erin, { name: 'succession 2' }); // erin (no manager) + ua
            assert.deepEqual(await stewards(r), [uid('erin'), uid('ua')].sort());
            assertOk(await req('POST', `${A}/users/${enc(uid('erin'))}/deactivate`, tok.root, {}));
            await until(async () => (await stewards(r)).includes(uid('ua2')), 'ua2 appointed');
            assert.deepEqual(await stewards(r), [uid('ua'), uid('ua2')].sort());
        });

        it('then the organisation\'s admins and owners', T, async () => {
            const r = await create(tok.gina, { name: 'succession 3', preset: 'public_chat' }); // lab has no admins, gina no manager
            await join(r, 'kim');
            assertOk(await promote(r, 'gina', 'kim'));
            assertOk(await req('POST', `${A}/users/${enc(uid('gina'))}/deactivate`, tok.root, {}));
            await until(async () => (await stewards(r)).includes(uid('adm')), 'adm appointed');
            assert.deepEqual(await stewards(r), [uid('adm'), uid('kim')].sort());
        });

        it('offboarding passes stewardship on before the person is removed', T, async (t) => {
            // hank's manager mgr is deactivated (above): the room starts with hank and a unit admin
            const r = await create(tok.hank, { name: 'succession 4' });
            assert.deepEqual(await stewards(r), [uid('hank'), uid('ua')].sort());
            const res = await req('POST', `${A}/users/${enc(uid('hank'))}/offboard`, tok.root, { reason: 'left' });
            if (res.status === 404 && res.json?.errcode === 'M_UNRECOGNIZED') {
                t.skip('the offboarding endpoint is not built yet');
                return;
            }
            assertOk(res);
            // hank's chain: mgr (deactivated), then boss
            await until(async () => (await stewards(r)).includes(uid('boss')), 'boss appointed');
            assert.deepEqual(await stewards(r), [uid('boss'), uid('ua')].sort());
            await join(r, 'ua');
            const m = assertOk(await req('GET', `${C}/rooms/${enc(r)}/state/m.room.member/${enc(uid('hank'))}`, tok.ua));
            assert.equal(m.membership, 'leave');
        });

        it('no room is ever orphaned', T, async () => {
            const j = assertOk(await req('GET', `${A}/rooms`, tok.root));
            assert.deepEqual(j.orphaned, [], JSON.stringify(j.rooms.filter((x) => x.orphan)));
        });
    });
});
