// rules.test.mjs: dynamic membership rules (docs/rules.md): the admin API
// /_balai/admin/v1/rules (CRUD, validation, roles), the preview (which must
// equal the effect), the rules applied on rule changes, directory updates,
// account creation, deactivation and reactivation and CSV import, mandatory
// rooms, ownership (a rule removal takes away only the people a rule added)
// and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, PW, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 90_000 * SLOW };
const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const SERVER = 'balai.test';
const SYS = `@balai:${SERVER}`;
const uid = (n) => `@${n}:${SERVER}`;
const enc = encodeURIComponent;

const NAMES = ['root', 'adm', 'hr1', 'alice', 'bob', 'carol', 'dave', 'erin'];

describe('membership rules', () => {
    const srv = useServer({
        users: NAMES.map((name) => ({ name, admin: name === 'root' })),
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
    });
    const tok = {};
    const room = {};
    const req = (m, p, token, body, extra = {}) => srv.request(m, p, { token, body, ...extra });
    const putPerson = async (n, attrs) => assertOk(await req('PUT', `${A}/directory/users/${enc(uid(n))}`, tok.root, attrs));

    // Waits until every queued evaluation and every rule write is done.
    async function settle() {
        for (let i = 0; i < 400; i++) {
            const r = assertOk(await req('GET', `${A}/rules`, tok.root));
            if (r.applying.queued === 0 && r.applying.in_flight === 0) {
                await sleep(30); // bookkeeping writes follow their events
                const again = assertOk(await req('GET', `${A}/rules`, tok.root));
                if (again.applying.queued === 0 && again.applying.in_flight === 0) return again;
            }
            await sleep(25);
        }
        assert.fail('the rules never settled');
    }

    // {roomName: Set(user ids joined)} for the rooms of the test, as root sees them.
    async function snapshot() {
        const out = {};
        for (const [name, id] of Object.entries(room)) {
            const j = assertOk(await req('GET', `${C}/rooms/${enc(id)}/joined_members`, tok.root));
            out[name] = new Set(Object.keys(j.joined));
        }
        return out;
    }
    const joined = async (name, n) => (await snapshot())[name].has(uid(n));
    const memberEvent = async (name, n) =>
        assertOk(await req('GET', `${C}/rooms/${enc(room[name])}/state/m.room.member/${enc(uid(n))}`, tok.root));
    const nameOf = (id) => Object.keys(room).find((k) => room[k] === id);
    const pairs = (list) => list.map((e) => `${e.user_id} ${nameOf(e.room_id)}`).sort();

    // What changed between two snapshots, as "user room" pairs.
    function diff(before, after) {
        const join = [];
        const leave = [];
        for (const name of Object.keys(room)) {
            for (const u of after[name]) if (!before[name].has(u)) join.push(`${u} ${name}`);
            for (const u of before[name]) if (!after[name].has(u)) leave.push(`${u} ${name}`);
        }
        return { join: join.sort(), leave: leave.sort() };
    }

    // Preview, apply (fn), settle, and check the effect is exactly the preview.
    async function previewThenApply(previewBody, apply) {
        const pv = assertOk(await req('POST', `${A}/rules/preview`, tok.root, previewBody));
        const before = await snapshot();
        const res = await apply();
        await settle();
        const d = diff(before, await snapshot());
        assert.deepEqual(d.join, pairs(pv.join), 'joins differ from the preview');
        assert.deepEqual(d.leave, pairs(pv.leave), 'leaves differ from the preview');
        return { pv, res };
    }

    before(async () => {
        for (const n of NAMES) tok[n] = (await srv.login(n)).access_token;
        assertOk(await req('PUT', `${A}/users/${enc(uid('adm'))}/role`, tok.root, { role: 'admin' }));
        assertOk(await req('PUT', `${A}/users/${enc(uid('hr1'))}/role`, tok.root, { role: 'hr' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Hospital', unit_id: 'h' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'ICU', unit_id: 'h.icu', parent: 'h' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Night', unit_id: 'h.icu.night', parent: 'h.icu' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'ER', unit_id: 'h.er', parent: 'h' }));
        assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Lab', unit_id: 'h.lab', parent: 'h' }));
        for (const name of ['icu', 'announcements', 'er', 'lobby', 'drill', 'lab']) {
            room[name] = assertOk(await req('POST', `${C}/createRoom`, tok.root, { name, room_alias_name: name })).room_id;
        }
        await putPerson('alice', { unit: 'h.icu', title: 'Nurse' });
        await putPerson('bob', { unit: 'h.icu.night', title: 'Nurse' });
        await putPerson('carol', { unit: 'h.er' });
    });

    const ICU = {
        name: 'ICU staff',
        match: { unit: 'h.icu', subunits: true },
        rooms: [`#icu:${SERVER}`, `#announcements:${SERVER}`],
        mandatory: true,
    };
    let icuId;

    describe('the API', () => {
        it('validates rules: 400 with the reason', T, async () => {
            const bad = [
                [{ match: { unit: 'h.icu' }, rooms: [room.icu] }, 'M_BAD_JSON', /'name'/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: [room.icu], colour: 1 }, 'M_BAD_JSON', /unknown field 'colour'/],
                [{ name: 'x', match: { ward: 'x' }, rooms: [room.icu] }, 'M_BAD_JSON', /match\.ward/],
                [{ name: 'x', match: {}, rooms: [room.icu] }, 'M_BAD_JSON', /at least one condition/],
                [{ name: 'x', match: { status: 'fired' }, rooms: [room.icu] }, 'M_BAD_JSON', /match\.status/],
                [{ name: 'x', match: { role: 'king' }, rooms: [room.icu] }, 'M_BAD_JSON', /match\.role/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: [] }, 'M_BAD_JSON', /'rooms'/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: ['icu'] }, 'M_BAD_JSON', /rooms\[0\]/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: [room.icu], mandatory: 'yes' }, 'M_BAD_JSON', /mandatory/],
                [{ name: 'x', match: { unit: 'nowhere' }, rooms: [room.icu] }, 'M_INVALID_PARAM', /unknown unit nowhere/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: [`#nope:${SERVER}`] }, 'M_INVALID_PARAM', /unknown room/],
                [{ name: 'x', match: { unit: 'h.icu' }, rooms: [room.icu, `#icu:${SERVER}`] }, 'M_INVALID_PARAM', /twice/],
            ];
            for (const [body, code, why] of bad) {
                const e = assertError(await req('POST', `${A}/rules`, tok.root, body), 400, code);
                assert.match(e.error, why, JSON.stringify(body));
            }
            // a direct message is not an organisation room
            const dm = assertOk(await req('POST', `${C}/createRoom`, tok.root, { is_direct: true, invite: [uid('erin')] })).room_id;
            assert.match(assertError(await req('POST', `${A}/rules`, tok.root, { name: 'x', match: { unit: 'h' }, rooms: [dm] }), 400, 'M_INVALID_PARAM').error, /direct message/);
            assertError(await srv.request('POST', `${A}/rules`, { token: tok.root, raw: '{oops' }), 400, 'M_NOT_JSON');
            assertError(await srv.request('POST', `${A}/rules/preview`, { token: tok.root, raw: '[' }), 400, 'M_NOT_JSON');
            assertError(await req('POST', `${A}/rules/preview`, tok.root, { rule: ICU, delete: 'x' }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${A}/rules/preview`, tok.root, { delete: 'rule_nope' }), 404, 'M_NOT_FOUND');
            assert.deepEqual(assertOk(await req('GET', `${A}/rules`, tok.root)).rules, []);
        });

        it('roles: owner and admin write; hr reads and previews; members may not; 401 without a token', T, async () => {
            assertError(await srv.request('GET', `${A}/rules`), 401, 'M_MISSING_TOKEN');
            assertError(await srv.request('POST', `${A}/rules`, { body: ICU }), 401, 'M_MISSING_TOKEN');
            assertError(await req('GET', `${A}/rules`, 'bogus'), 401, 'M_UNKNOWN_TOKEN');
            for (const n of ['hr1', 'alice']) assertError(await req('POST', `${A}/rules`, tok[n], ICU), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${A}/rules`, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('POST', `${A}/rules/preview`, tok.alice, { rule: ICU }), 403, 'M_FORBIDDEN');
            assertOk(await req('GET', `${A}/rules`, tok.hr1));
            assertOk(await req('POST', `${A}/rules/preview`, tok.hr1, { rule: ICU }));
            for (const m of ['GET', 'PUT', 'DELETE'])
                assertError(await req(m, `${A}/rules/rule_nope`, tok.root, m === 'PUT' ? ICU : undefined), 404, 'M_NOT_FOUND');
        });
    });

    describe('applying', () => {
        it('a new rule: the preview is exactly the effect; joins are invite (system user) + own join', T, async () => {
            await settle();
            const { pv, res } = await previewThenApply({ rule: ICU }, () => req('POST', `${A}/rules`, tok.root, ICU));
            assert.deepEqual(pairs(pv.join), [`${uid('alice')} announcements`, `${uid('alice')} icu`, `${uid('bob')} announcements`, `${uid('bob')} icu`]);
            assert.deepEqual(pv.leave, []);
            const rule = assertOk(res);
            icuId = rule.rule_id;
            assert.match(icuId, /^rule_/);
            assert.deepEqual(rule.rooms, [room.icu, room.announcements]); // aliases resolved
            assert.equal(rule.mandatory, true);
            const ev = await memberEvent('icu', 'bob');
            assert.equal(ev.membership, 'join');
            assert.equal(ev.reason, 'membership rule ICU staff');
            // the invite came from the system user
            const st = assertOk(await req('GET', `${C}/rooms/${enc(room.icu)}/state`, tok.root));
            assert.ok(st.find((e) => e.type === 'm.room.member' && e.state_key === uid('bob') && e.sender === uid('bob')));
            const msgs = assertOk(await req('GET', `${C}/rooms/${enc(room.icu)}/messages?dir=b&limit=50`, tok.root));
            assert.ok(msgs.chunk.find((e) => e.type === 'm.room.member' && e.state_key === uid('bob') && e.content.membership === 'invite' && e.sender === SYS));
            // GET one and the list
            assert.equal(assertOk(await req('GET', `${A}/rules/${icuId}`, tok.root)).name, 'ICU staff');
            assert.equal(assertOk(await req('GET', `${A}/rules`, tok.root)).rules.length, 1);
            // audited
            const audit = assertOk(await req('GET', `${A}/audit?action=membership.rule.join`, tok.root));
            assert.ok(audit.entries.length >= 4);
            assert.ok(assertOk(await req('GET', `${A}/audit?action=rule.create`, tok.root)).entries.length === 1);
        });

        it('a mandatory room cannot be left; a member cannot be kicked by a non-steward; a steward can', T, async () => {
            const e = assertError(await req('POST', `${C}/rooms/${enc(room.icu)}/leave`, tok.alice, {}), 403, 'M_FORBIDDEN');
            assert.match(e.error, /membership rule 'ICU staff'/);
            assert.ok(await joined('icu', 'alice'));
            // clients can show the marker: the org room API says the room is mandatory for her
            const info = assertOk(await req('GET', `/_balai/client/v1/rooms/${enc(room.icu)}`, tok.alice));
            assert.equal(info.mandatory, true);
            assert.equal(info.mandatory_rule, 'ICU staff');
            // bob, an ordinary member made moderator (50) in the room, may not kick alice
            const pl = assertOk(await req('GET', `${C}/rooms/${enc(room.icu)}/state/m.room.power_levels/`, tok.root));
            pl.users[uid('bob')] = 50;
            assertOk(await req('PUT', `${C}/rooms/${enc(room.icu)}/state/m.room.power_levels/`, tok.root, pl));
            const k = assertError(await req('POST', `${C}/rooms/${enc(room.icu)}/kick`, tok.bob, { user_id: uid('alice') }), 403, 'M_FORBIDDEN');
            assert.match(k.error, /mandatory/);
            // not mandatory for carol (no rule): leaving a room she joined herself is fine
            assertOk(await req('POST', `${C}/rooms/${enc(room.er)}/invite`, tok.root, { user_id: uid('carol') }));
            assertOk(await req('POST', `${C}/join/${enc(room.er)}`, tok.carol, {}));
            assert.equal(assertOk(await req('GET', `/_balai/client/v1/rooms/${enc(room.er)}`, tok.carol)).mandatory, false);
            assertOk(await req('POST', `${C}/rooms/${enc(room.er)}/leave`, tok.carol, {}));
        });

        it('a directory update moves people: joined by the new unit rule, removed when no longer matching', T, async () => {
            await putPerson('carol', { unit: 'h.icu' });
            await settle();
            assert.ok(await joined('icu', 'carol'));
            assert.ok(await joined('announcements', 'carol'));
            // the preview of an unchanged rule is empty once applied
            const pv = assertOk(await req('POST', `${A}/rules/preview`, tok.root, { rule: { ...ICU, rule_id: icuId } }));
            assert.deepEqual([pv.join, pv.leave], [[], []]);
            await putPerson('carol', { unit: 'h.er' });
            await settle();
            assert.equal(await joined('icu', 'carol'), false);
            const ev = await memberEvent('icu', 'carol');
            assert.equal(ev.membership, 'leave');
            assert.equal(ev.reason, 'membership rule ICU staff');
            assert.ok(assertOk(await req('GET', `${A}/audit?action=membership.rule.leave`, tok.root)).entries.length >= 1);
        });

        it('a rule update: the preview equals the effect', T, async () => {
            const v2 = { ...ICU, rooms: [room.icu] }; // announcements no longer
            const { pv } = await previewThenApply({ rule: { ...v2, rule_id: icuId } }, () => req('PUT', `${A}/rules/${icuId}`, tok.root, v2));
            assert.deepEqual(pairs(pv.leave), [`${uid('alice')} announcements`, `${uid('bob')} announcements`]);
            assert.equal((await memberEvent('announcements', 'alice')).reason, 'membership rule ICU staff');
            // back to both rooms
            await previewThenApply({ rule: { ...ICU, rule_id: icuId } }, () => req('PUT', `${A}/rules/${icuId}`, tok.root, ICU));
            assert.ok(await joined('announcements', 'alice'));
            assert.ok(assertOk(await req('GET', `${A}/audit?action=rule.update`, tok.root)).entries.length === 2);
        });

        it('a rule removal takes away only the people the rule added', T, async () => {
            // dave joins #announcements by himself, then comes under the rule
            assertOk(await req('POST', `${C}/rooms/${enc(room.announcements)}/invite`, tok.root, { user_id: uid('dave') }));
            assertOk(await req('POST', `${C}/join/${enc(room.announcements)}`, tok.dave, {}));
            await putPerson('dave', { unit: 'h.icu' });
            await settle();
            assert.ok(await joined('icu', 'dave'));
            const { pv } = await previewThenApply({ delete: icuId }, () => req('DELETE', `${A}/rules/${icuId}`, tok.root));
            assert.deepEqual(pairs(pv.leave), [
                `${uid('alice')} announcements`, `${uid('alice')} icu`,
                `${uid('bob')} announcements`, `${uid('bob')} icu`,
                `${uid('dave')} icu`,
            ]);
            assert.ok(await joined('announcements', 'dave'), 'dave joined by himself and stays');
            assert.equal(await joined('icu', 'dave'), false);
            assertError(await req('GET', `${A}/rules/${icuId}`, tok.root), 404, 'M_NOT_FOUND');
            assert.ok(assertOk(await req('GET', `${A}/audit?action=rule.delete`, tok.root)).entries.length === 1);
        });

        it('leaving a non-mandatory rule room by oneself sticks (not re-added)', T, async () => {
            const r = assertOk(await req('POST', `${A}/rules`, tok.root, { name: 'Drill', match: { title: 'nurse' }, rooms: [room.drill] }));
            await settle();
            assert.ok(await joined('drill', 'alice'));
            assertOk(await req('POST', `${C}/rooms/${enc(room.drill)}/leave`, tok.alice, {}));
            await putPerson('alice', { site: 'Jakarta' }); // re-evaluated
            await settle();
            assert.equal(await joined('drill', 'alice'), false);
            const pv = assertOk(await req('POST', `${A}/rules/preview`, tok.root, { rule: { name: 'Drill', match: { title: 'nurse' }, rooms: [room.drill], rule_id: r.rule_id } }));
            assert.deepEqual(pv.join, []);
            assertOk(await req('DELETE', `${A}/rules/${r.rule_id}`, tok.root));
            await settle();
            assert.equal(await joined('drill', 'bob'), false);
        });

        it('a steward may remove a mandatory member; the removal sticks while the rule matches', T, async () => {
            const r = assertOk(await req('POST', `${A}/rules`, tok.root, { name: 'ER drill', match: { unit: 'h.er' }, rooms: [room.drill], mandatory: true }));
            await settle();
            assert.ok(await joined('drill', 'carol'));
            assert.match(assertError(await req('POST', `${C}/rooms/${enc(room.drill)}/leave`, tok.carol, {}), 403, 'M_FORBIDDEN').error, /'ER drill'/);
            assertOk(await req('POST', `${C}/rooms/${enc(room.drill)}/kick`, tok.root, { user_id: uid('carol'), reason: 'steward says so' }));
            await putPerson('carol', { title: 'Doctor' }); // re-evaluated
            await settle();
            assert.equal(await joined('drill', 'carol'), false);
            assertOk(await req('DELETE', `${A}/rules/${r.rule_id}`, tok.root));
            await settle();
        });

        it('account creation, deactivation, reactivation and CSV import', T, async () => {
            const all = { name: 'Everyone', match: { everyone: true }, rooms: [room.lobby] };
            const { res } = await previewThenApply({ rule: all }, () => req('POST', `${A}/rules`, tok.root, all));
            const lobbyRule = assertOk(res).rule_id;
            for (const n of NAMES) assert.ok(await joined('lobby', n), `${n} in the lobby`);
            // a new account
            assertOk(await req('POST', `${A}/users`, tok.root, { username: 'newbie', password: PW }));
            await settle();
            assert.ok(await joined('lobby', 'newbie'));
            // deactivation takes the rule rooms away
            assertOk(await req('POST', `${A}/users/${enc(uid('erin'))}/deactivate`, tok.root, {}));
            await settle();
            assert.equal(await joined('lobby', 'erin'), false);
            // reactivation (a rehire) brings them back
            const re = assertOk(await req('POST', `${A}/users/${enc(uid('erin'))}/reactivate`, tok.root, { password: 'a new password 1' }));
            assert.equal(re.deactivated, false);
            await settle();
            assert.ok(await joined('lobby', 'erin'));
            await srv.login('erin', 'a new password 1');
            // import: a new person in the ICU joins the ICU rule's rooms
            const icu = assertOk(await req('POST', `${A}/rules`, tok.root, ICU));
            await settle();
            const csv = 'username,display_name,unit\nimported,Imported Nurse,h.icu\n';
            assertOk(await req('POST', `${A}/directory/import`, tok.root, { csv }));
            await settle();
            assert.ok(await joined('icu', 'imported'));
            assert.ok(await joined('lobby', 'imported'));
            assertOk(await req('DELETE', `${A}/rules/${icu.rule_id}`, tok.root));
            assertOk(await req('DELETE', `${A}/rules/${lobbyRule}`, tok.root));
            await settle();
        });
    });

    describe('SCIM groups', () => {
        it('a group rule follows SCIM group membership', T, async () => {
            const S = '/scim/v2';
            const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
            const PATCHOP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
            const idp = assertOk(await req('POST', `${A}/scim/tokens`, tok.root, { name: 'idp' })).token;
            const scim = (m, p, body) => srv.request(m, S + p, { token: idp, headers: { 'content-type': 'application/scim+json' }, raw: JSON.stringify(body) });
            const nina = (await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'nina@rs.example' })).json.id;
            const g = (await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Lab Safety', members: [] })).json.id;
            const rule = assertOk(await req('POST', `${A}/rules`, tok.root, { name: 'Safety', match: { group: 'lab safety' }, rooms: [room.drill] }));
            await settle();
            assert.equal(await joined('drill', 'nina'), false);
            assert.equal((await scim('PATCH', `/Groups/${g}`, { schemas: [PATCHOP], Operations: [{ op: 'add', path: 'members', value: [{ value: nina }] }] })).status, 200);
            await settle();
            assert.ok(await joined('drill', 'nina'), 'added with the group');
            assert.equal((await scim('PATCH', `/Groups/${g}`, { schemas: [PATCHOP], Operations: [{ op: 'remove', path: 'members', value: [{ value: nina }] }] })).status, 200);
            await settle();
            assert.equal(await joined('drill', 'nina'), false, 'removed with the group');
            assertOk(await req('DELETE', `${A}/rules/${rule.rule_id}`, tok.root));
            await settle();
        });
    });

    describe('at scale', () => {
        it('a rule for 300 people is applied in bounded batches; the preview equals the effect', T, async () => {
            const rows = ['username,display_name,unit'];
            for (let i = 0; i < 300; i++) rows.push(`lab${i},Lab Tech ${i},h.lab`);
            assertOk(await req('POST', `${A}/directory/import`, tok.root, { csv: rows.join('\n') + '\n' }));
            await settle();
            const lab = { name: 'Lab', match: { unit: 'h.lab' }, rooms: [room.lab] };
            const t0 = Date.now();
            const { pv, res } = await previewThenApply({ rule: lab }, async () => {
                const r = await req('POST', `${A}/rules`, tok.root, lab);
                // the server keeps answering while the joins go on
                const applying = assertOk(await req('GET', `${A}/rules`, tok.root)).applying;
                assert.ok(applying.queued + applying.in_flight >= 0);
                return r;
            });
            assert.equal(pv.join_count, 300);
            assert.equal((await snapshot()).lab.size, 300 + 2); // root and the system user
            const del = await previewThenApply({ delete: assertOk(res).rule_id }, () => req('DELETE', `${A}/rules/${assertOk(res).rule_id}`, tok.root));
            assert.equal(del.pv.leave_count, 300);
            assert.ok(Date.now() - t0 < 60000 * SLOW);
        });
    });

    describe('persistence', () => {
        it('rules and ownership survive a restart', T, async () => {
            const r = assertOk(await req('POST', `${A}/rules`, tok.root, { name: 'ER', match: { unit: 'h.er' }, rooms: [room.er], mandatory: true }));
            await settle();
            assert.ok(await joined('er', 'carol'));
            await srv.restart();
            for (const n of NAMES) if (n !== 'erin') tok[n] = (await srv.login(n)).access_token;
            await settle();
            const list = assertOk(await req('GET', `${A}/rules`, tok.root)).rules;
            assert.deepEqual(list.map((x) => x.rule_id), [r.rule_id]);
            assert.equal(list[0].mandatory, true);
            assertError(await req('POST', `${C}/rooms/${enc(room.er)}/leave`, tok.carol, {}), 403, 'M_FORBIDDEN');
            const { pv } = await previewThenApply({ delete: r.rule_id }, () => req('DELETE', `${A}/rules/${r.rule_id}`, tok.root));
            assert.deepEqual(pairs(pv.leave), [`${uid('carol')} er`]);
        });
    });
});
