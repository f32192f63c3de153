// directory.test.mjs: the organisation directory and roles — admin API
// (/_balai/admin/v1/directory, /units, /users/{id}/role), the client
// directory, /user_directory/search backed by it, CSV import (API and CLI),
// guest expiry, and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { assertError, assertOk, PW, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const C = '/_matrix/client/v3';

describe('organisation directory and roles', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [
            { name: 'root', admin: true, displayname: 'Root Owner' },
            { name: 'adm' },
            { name: 'hr1', displayname: 'Hana HR' },
            { name: 'comp' },
            { name: 'mod1' },
            { name: 'alice', displayname: 'Alice Wijaya' },
            { name: 'bob', displayname: 'Bob Santoso' },
            { name: 'guesty', displayname: 'Gus Vendor' },
        ],
    });
    const tok = {};
    const id = (n) => srv.userId(n);
    const enc = (n) => encodeURIComponent(id(n));
    const req = (m, p, token, body, extra = {}) => srv.request(m, p, { token, body, ...extra });

    before(async () => {
        for (const n of ['root', 'adm', 'hr1', 'comp', 'mod1', 'alice', 'bob']) tok[n] = (await srv.login(n)).access_token;
        for (const [n, role] of [['adm', 'admin'], ['hr1', 'hr'], ['comp', 'compliance'], ['mod1', 'moderator']])
            assertOk(await req('PUT', `${A}/users/${enc(n)}/role`, tok.root, { role }));
    });

    describe('roles', () => {
        it('the first admin is an owner; others are members; roles show in the record', T, async () => {
            const r = assertOk(await req('GET', `${A}/directory/users/${enc('root')}`, tok.root));
            assert.equal(r.role, 'owner');
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('alice')}`, tok.root)).role, 'member');
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('hr1')}`, tok.root)).role, 'hr');
        });

        it('owner and admin manage users; other roles may not', T, async () => {
            assertOk(await req('GET', `${A}/users`, tok.adm));
            for (const n of ['hr1', 'comp', 'mod1', 'alice'])
                assertError(await req('GET', `${A}/users`, tok[n]), 403, 'M_FORBIDDEN');
            // only an owner may create an administrator
            assertError(await req('POST', `${A}/users`, tok.adm, { username: 'sneak', admin: true }), 403, 'M_FORBIDDEN');
        });

        it('role changes: who may grant what, the last owner, bad input', T, async () => {
            const put = (n, body, token = tok.root) => req('PUT', `${A}/users/${enc(n)}/role`, token, body);
            assertOk(await put('bob', { role: 'moderator' }, tok.adm));
            assertOk(await put('bob', { role: 'member' }, tok.adm));
            assertError(await put('bob', { role: 'admin' }, tok.adm), 403, 'M_FORBIDDEN');
            assertError(await put('root', { role: 'member' }, tok.adm), 403, 'M_FORBIDDEN');
            for (const n of ['hr1', 'comp', 'mod1', 'alice'])
                assertError(await put('bob', { role: 'hr' }, tok[n]), 403, 'M_FORBIDDEN');
            assertError(await put('root', { role: 'member' }), 403, 'M_FORBIDDEN'); // the last owner
            assertError(await put('bob', { role: 'king' }), 400, 'M_INVALID_PARAM');
            assertError(await put('bob', { role: 'guest' }), 400, 'M_INVALID_PARAM');
            assertError(await put('bob', { role: 5 }), 400, 'M_BAD_JSON');
            assertError(await put('bob', {}), 400, 'M_MISSING_PARAM');
            assertError(await put('bob', { role: 'hr', extra: 1 }), 400, 'M_BAD_JSON');
            assertError(await req('PUT', `${A}/users/${encodeURIComponent('@nobody:balai.test')}/role`, tok.root, { role: 'hr' }), 404, 'M_NOT_FOUND');
            assertError(await srv.request('PUT', `${A}/users/${enc('bob')}/role`, { token: tok.root, raw: '{no' }), 400, 'M_NOT_JSON');
            assertError(await srv.request('PUT', `${A}/users/${enc('bob')}/role`, { body: { role: 'hr' } }), 401, 'M_MISSING_TOKEN');
            // a second owner makes demoting possible; the legacy admin flag follows the role
            assertOk(await put('adm', { role: 'owner' }));
            assert.equal((await req('GET', `${A}/users/${enc('adm')}`, tok.root)).json.admin, true);
            assertOk(await put('adm', { role: 'admin' }, tok.adm)); // an owner may step down while another remains
            assertError(await put('root', { role: 'admin' }), 403, 'M_FORBIDDEN');
            assertOk(await put('bob', { role: 'compliance' }));
            assert.equal((await req('GET', `${A}/users/${enc('bob')}`, tok.root)).json.admin, false);
            assertOk(await put('bob', { role: 'member' }));
        });

        it('role changes are in the audit trail', T, async () => {
            const r = await req('GET', `${A}/audit?action=role.change`, tok.root);
            if (r.status === 404) return; // no audit API in this build
            const j = assertOk(r);
            const entries = j.entries ?? j.chunk ?? [];
            assert.ok(entries.some((e) => e.action === 'role.change' && e.target === id('hr1')), r.text.slice(0, 400));
        });
    });

    describe('units', () => {
        it('creates a tree, lists it by path, edits and refuses bad input', T, async () => {
            const h = assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Hospital' }));
            assert.equal(h.unit_id, 'hospital');
            const n = assertOk(await req('POST', `${A}/units`, tok.hr1, { name: 'Nursing', parent: 'hospital', admins: ['alice'] }));
            assert.equal(n.unit_id, 'hospital.nursing');
            assert.equal(n.path, 'Hospital/Nursing');
            assert.deepEqual(n.admins, [id('alice')]);
            const icu = assertOk(await req('POST', `${A}/units`, tok.root, { name: 'ICU', parent: 'hospital.nursing', unit_id: 'icu' }));
            assert.equal(icu.path, 'Hospital/Nursing/ICU');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'ICU 2', unit_id: 'icu' }), 409);
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'X', parent: 'nope' }), 400, 'M_INVALID_PARAM');
            assertError(await req('POST', `${A}/units`, tok.root, { parent: 'hospital' }), 400, 'M_MISSING_PARAM');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'A/B' }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'X', colour: 'red' }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'X', unit_id: 'Bad Id' }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'X', admins: ['@ghost:balai.test'] }), 400, 'M_INVALID_PARAM');
            assertError(await req('POST', `${A}/units`, tok.root, { name: 'X', admins: 'alice' }), 400, 'M_BAD_JSON');
            for (const n2 of ['comp', 'mod1', 'alice'])
                assertError(await req('POST', `${A}/units`, tok[n2], { name: 'X' }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${A}/units`, { token: tok.root, raw: 'nope' }), 400, 'M_NOT_JSON');

            const list = assertOk(await req('GET', `${A}/units`, tok.comp)).units.map((u) => u.path);
            assert.deepEqual(list, ['Hospital', 'Hospital/Nursing', 'Hospital/Nursing/ICU']);
            assertError(await req('GET', `${A}/units`, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${A}/units/nope`, tok.root), 404, 'M_NOT_FOUND');

            const upd = assertOk(await req('PUT', `${A}/units/icu`, tok.root, { name: 'Intensive Care', admins: ['bob', 'alice'] }));
            assert.equal(upd.path, 'Hospital/Nursing/Intensive Care');
            assert.deepEqual(upd.admins, [id('bob'), id('alice')]);
            assertError(await req('PUT', `${A}/units/hospital`, tok.root, { parent: 'icu' }), 400, 'M_INVALID_PARAM');
            assertError(await req('PUT', `${A}/units/hospital`, tok.root, { unit_id: 'x' }), 400, 'M_BAD_JSON');
            assertError(await req('PUT', `${A}/units/nope`, tok.root, { name: 'x' }), 404, 'M_NOT_FOUND');
        });

        it('a unit with people or sub-units cannot be deleted', T, async () => {
            assertError(await req('DELETE', `${A}/units/hospital`, tok.root), 409, 'ID.BALAI.UNIT_NOT_EMPTY');
            assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Temp', parent: 'hospital', unit_id: 'temp' }));
            assertOk(await req('PUT', `${A}/directory/users/${enc('bob')}`, tok.root, { unit: 'temp' }));
            const e = assertError(await req('DELETE', `${A}/units/temp`, tok.root), 409, 'ID.BALAI.UNIT_NOT_EMPTY');
            assert.match(e.error, /1 people/);
            assertOk(await req('PUT', `${A}/directory/users/${enc('bob')}`, tok.root, { unit: null }));
            assertError(await req('DELETE', `${A}/units/temp`, tok.mod1), 403, 'M_FORBIDDEN');
            assertOk(await req('DELETE', `${A}/units/temp`, tok.root));
            assertError(await req('GET', `${A}/units/temp`, tok.root), 404, 'M_NOT_FOUND');
            assertError(await req('DELETE', `${A}/units/temp`, tok.root), 404, 'M_NOT_FOUND');
        });
    });

    describe('attributes', () => {
        const put = (n, body, token = tok.hr1) => req('PUT', `${A}/directory/users/${enc(n)}`, token, body);

        it('hr sets attributes; the record reads back', T, async () => {
            const r = assertOk(await put('alice', {
                display_name: 'Alice W.', employee_number: 'E100', unit: 'icu', title: 'Head Nurse',
                site: 'Jakarta', status: 'active', working_hours: '08:00-16:00 Mon-Fri',
                email: 'alice@rs.example', manager: 'root',
            }));
            assert.equal(r.unit_path, 'Hospital/Nursing/Intensive Care');
            assert.equal(r.manager, id('root'));
            assert.equal(r.working_hours, '08:00-16:00 Mon-Fri');
            assertOk(await put('bob', { manager: id('alice'), unit: 'icu', title: 'Nurse', employee_number: 'E101' }));
            const g = assertOk(await req('GET', `${A}/directory/users/${enc('bob')}`, tok.comp));
            assert.equal(g.manager, id('alice'));
            // null clears
            const c = assertOk(await put('bob', { site: null, employee_number: 'E101' }));
            assert.equal(c.site, null);
        });

        it('refuses every bad input and forbidden role', T, async () => {
            let e = assertError(await put('alice', { shoe_size: 42 }), 400, 'M_BAD_JSON');
            assert.match(e.error, /shoe_size/);
            assertError(await put('alice', { role: 'owner' }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { title: 5 }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { guest: 'yes' }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { status: 'fired' }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { email: 'not-an-address' }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { guest_expires_ts: -1 }), 400, 'M_BAD_JSON');
            assertError(await put('alice', { title: 'x'.repeat(300) }), 400, 'M_BAD_JSON');
            e = assertError(await put('alice', { manager: '@ghost:balai.test' }), 400, 'M_INVALID_PARAM');
            assert.match(e.error, /manager/);
            assertError(await put('alice', { unit: 'nope' }), 400, 'M_INVALID_PARAM');
            e = assertError(await put('alice', { manager: 'bob' }), 400, 'M_INVALID_PARAM'); // bob -> alice -> bob
            assert.match(e.error, /cycle/);
            assertError(await put('alice', { manager: 'alice' }), 400, 'M_INVALID_PARAM');
            assertError(await put('bob', { employee_number: 'E100' }), 409);
            assertError(await put('bob', { guest: true }), 400, 'M_INVALID_PARAM'); // no sponsor, no expiry
            assertError(await put('bob', { sponsor: 'alice' }), 400, 'M_INVALID_PARAM'); // not a guest
            assertError(await put('bob', { guest: true, sponsor: 'ghost', guest_expires_ts: Date.now() + 1e6 }), 400, 'M_INVALID_PARAM');
            assertError(await put('root', { guest: true, sponsor: 'alice', guest_expires_ts: Date.now() + 1e6 }), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('PUT', `${A}/directory/users/${enc('alice')}`, { token: tok.hr1, raw: '[1]' }), 400, 'M_NOT_JSON');
            assertError(await put('ghost', { title: 'x' }), 404, 'M_NOT_FOUND');
            assertError(await put(`balai`, { title: 'x' }), 403, 'M_FORBIDDEN'); // the system user
            for (const n of ['comp', 'mod1', 'alice'])
                assertError(await put('bob', { title: 'x' }, tok[n]), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${A}/directory/users/${enc('bob')}`, tok.mod1), 403, 'M_FORBIDDEN');
            assertError(await srv.request('GET', `${A}/directory/users`), 401, 'M_MISSING_TOKEN');
            // nothing changed
            const a = assertOk(await req('GET', `${A}/directory/users/${enc('alice')}`, tok.root));
            assert.equal(a.manager, id('root'));
            assert.equal(a.title, 'Head Nurse');
        });

        it('the admin list searches and pages', T, async () => {
            const l = (q) => req('GET', `${A}/directory/users${q}`, tok.comp);
            let j = assertOk(await l('?q=head%20nurse'));
            assert.deepEqual(j.users.map((u) => u.user_id), [id('alice')]);
            j = assertOk(await l('?unit=hospital'));
            assert.deepEqual(j.users.map((u) => u.user_id), [id('alice'), id('bob')]);
            j = assertOk(await l('?limit=2'));
            assert.equal(j.users.length, 2);
            assert.ok(j.next_from);
            const j2 = assertOk(await l(`?limit=2&from=${encodeURIComponent(j.next_from)}`));
            assert.ok(j2.users[0].user_id > j.next_from);
            assertError(await l('?limit=0'), 400, 'M_INVALID_PARAM');
            assertError(await l('?unit=nope'), 400, 'M_INVALID_PARAM');
            assert.ok(!assertOk(await l('')).users.some((u) => u.user_id === `@balai:${srv.serverName}`));
        });
    });

    describe('client directory', () => {
        it('any member finds colleagues by name, unit and title; no private fields', T, async () => {
            const d = (q, token = tok.mod1) => req('GET', `/_balai/client/v1/directory?q=${encodeURIComponent(q)}`, token);
            let j = assertOk(await d('intensive'));
            assert.deepEqual(j.results.map((r) => r.user_id), [id('alice'), id('bob')]);
            const a = j.results[0];
            assert.equal(a.display_name, 'Alice W.');
            assert.equal(a.title, 'Head Nurse');
            assert.equal(a.unit_path, 'Hospital/Nursing/Intensive Care');
            for (const k of ['email', 'employee_number', 'manager', 'phone', 'working_hours'])
                assert.ok(!(k in a), `${k} must not be shown`);
            j = assertOk(await d('nurse'));
            assert.equal(j.results.length, 2);
            j = assertOk(await d('hana'));
            assert.deepEqual(j.results.map((r) => r.user_id), [id('hr1')]);
            j = assertOk(await d('nursing hos', tok.alice));
            assert.equal(j.results.length, 2);
            j = assertOk(await d('')); // everyone
            assert.ok(!j.results.some((r) => r.user_id === `@balai:${srv.serverName}`));
            assertError(await srv.request('GET', '/_balai/client/v1/directory?q=a'), 401, 'M_MISSING_TOKEN');
            assertError(await req('GET', '/_balai/client/v1/directory?q=a&limit=x', tok.alice), 400, 'M_INVALID_PARAM');
            assert.equal(assertOk(await req('GET', '/_balai/client/v1/directory?limit=1', tok.alice)).limited, true);
        });

        it('the Matrix user directory search is backed by it', T, async () => {
            const s = (term) => req('POST', `${C}/user_directory/search`, tok.alice, { search_term: term });
            let j = assertOk(await s('head nurse'));
            assert.deepEqual(j.results.map((r) => r.user_id), [id('alice')]);
            assert.deepEqual(Object.keys(j.results[0]).sort(), ['display_name', 'user_id']);
            j = assertOk(await s('intensive'));
            assert.deepEqual(j.results.map((r) => r.user_id).sort(), [id('alice'), id('bob')]);
            j = assertOk(await s('santoso')); // the profile name still counts
            assert.deepEqual(j.results.map((r) => r.user_id), [id('bob')]);
        });
    });

    describe('guests', () => {
        it('a guest sees only their sponsor and unit, and loses access at expiry', T, async () => {
            const g = (await srv.login('guesty')).access_token;
            assertOk(await req('POST', `${A}/units`, tok.root, { name: 'Vendors', unit_id: 'vendors' }));
            const expires = Date.now() + 2500 * SLOW;
            const r = assertOk(await req('PUT', `${A}/directory/users/${enc('guesty')}`, tok.hr1, {
                guest: true, sponsor: 'alice', guest_expires_ts: expires, unit: 'vendors',
            }));
            assert.equal(r.role, 'guest');
            assert.equal(r.sponsor, id('alice'));
            const seen = assertOk(await req('GET', '/_balai/client/v1/directory', g)).results.map((x) => x.user_id);
            assert.deepEqual(seen.sort(), [id('alice'), id('guesty')].sort());
            const us = assertOk(await req('POST', `${C}/user_directory/search`, g, { search_term: 'o' }));
            assert.ok(us.results.every((x) => [id('alice'), id('guesty')].includes(x.user_id)));
            // members see the guest, flagged
            const m = assertOk(await req('GET', '/_balai/client/v1/directory?q=gus', tok.bob));
            assert.equal(m.results[0].guest, true);
            // a /sync parked across the expiry ends with M_UNKNOWN_TOKEN
            const first = assertOk(await req('GET', `${C}/sync?timeout=0`, g));
            const parked = req('GET', `${C}/sync?timeout=${30000 * SLOW}&since=${encodeURIComponent(first.next_batch)}`, g);
            const res = await parked;
            assertError(res, 401, 'M_UNKNOWN_TOKEN');
            assert.ok(Date.now() >= expires - 50);
            assertError(await srv.whoami(g), 401, 'M_UNKNOWN_TOKEN');
            const l = assertError(await srv.loginRaw('guesty'), 403, 'M_FORBIDDEN');
            assert.match(l.error, /expired/);
            // extending the expiry lets them back in
            assertOk(await req('PUT', `${A}/directory/users/${enc('guesty')}`, tok.hr1, { guest_expires_ts: Date.now() + 3600_000 }));
            await srv.login('guesty');
            // making them a member again clears sponsor and expiry
            const back = assertOk(await req('PUT', `${A}/directory/users/${enc('guesty')}`, tok.hr1, { guest: false }));
            assert.equal(back.role, 'member');
            assert.equal(back.sponsor, null);
            // and expire them for the restart test below
            assertOk(await req('PUT', `${A}/directory/users/${enc('guesty')}`, tok.hr1, {
                guest: true, sponsor: 'alice', guest_expires_ts: Date.now() - 1000,
            }));
            assertError(await srv.loginRaw('guesty'), 403, 'M_FORBIDDEN');
        });
    });

    describe('CSV import', () => {
        const csv1 = '\uFEFFusername,display_name,email,employee_number,unit,title,manager,site,status,working_hours,guest,sponsor,expiry,role\r\n' +
            'alice,"Alice W.",alice@rs.example,E100,icu,Head Nurse,root,,active,08:00-16:00 Mon-Fri,,,,\r\n' +
            'budi,"Budi, S.Kep",budi@rs.example,E200,Hospital/Nursing/Wards,"Nurse ""senior""",alice,Bandung,,,,,,\r\n' +
            'citra,Citra,,E201,Hospital/Nursing/Wards,Nurse,budi,,leave,,,,,moderator\r\n' +
            'vendor1,Vendor One,,,,,,,,,yes,alice,2099-01-31,\r\n';
        const imp = (body, q = '', token = tok.root, extra = {}) => req('POST', `${A}/directory/import${q}`, token, body, extra);

        it('a dry run shows the diff and changes nothing; the real run applies; a re-run changes nothing', T, async () => {
            const dry = assertOk(await imp({ csv: csv1 }, '?dry_run=true'));
            assert.equal(dry.dry_run, true);
            assert.equal(dry.applied, false);
            assert.deepEqual(dry.added.map((a) => [a.line, a.user_id]), [[3, id('budi')], [4, id('citra')], [5, id('vendor1')]]);
            assert.equal(dry.added[0].attributes.title, 'Nurse "senior"');
            assert.equal(dry.added[0].attributes.display_name, 'Budi, S.Kep');
            assert.equal(dry.added[1].attributes.role, 'moderator');
            assert.equal(dry.added[2].attributes.role, 'guest');
            assert.equal(dry.added[2].attributes.expiry, Date.UTC(2099, 0, 31));
            assert.equal(dry.changed.length, 1);
            assert.equal(dry.changed[0].user_id, id('alice'));
            // only what differs: the empty site cell clears the site
            assert.deepEqual(dry.changed[0].changes, { site: { old: 'Jakarta', new: null } });
            assert.deepEqual(dry.units_created.map((u) => u.path), ['Hospital/Nursing/Wards']);
            assert.ok(dry.missing.includes(id('bob')));
            assert.deepEqual(dry.deactivated, []);
            assertError(await req('GET', `${A}/directory/users/${enc('budi')}`, tok.root), 404, 'M_NOT_FOUND');
            assertError(await req('GET', `${A}/units/hospital.nursing.wards`, tok.root), 404, 'M_NOT_FOUND');

            const real = assertOk(await imp({ csv: csv1 }));
            assert.equal(real.applied, true);
            assert.equal(real.added.length, 3);
            const budi = assertOk(await req('GET', `${A}/directory/users/${enc('budi')}`, tok.root));
            assert.equal(budi.unit_path, 'Hospital/Nursing/Wards');
            assert.equal(budi.manager, id('alice'));
            assert.equal(budi.profile_displayname, 'Budi, S.Kep');
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('citra')}`, tok.root)).status, 'leave');
            // new users have no password
            assertError(await srv.loginRaw('budi', PW), 403, 'M_FORBIDDEN');

            const again = assertOk(await imp(csv1, '', tok.root, { raw: csv1, headers: { 'content-type': 'text/csv' } }));
            assert.deepEqual([again.added.length, again.changed.length, again.units_created.length], [0, 0, 0]);
            assert.equal(again.unchanged, 4);
        });

        it('changes show old -> new per field', T, async () => {
            const csv = 'username,title,site\nbudi,Charge Nurse,Bandung\n';
            const j = assertOk(await imp({ csv }, '?dry_run=1', tok.hr1)); // hr may import
            assert.deepEqual(j.changed, [{ line: 2, user_id: id('budi'), changes: { title: { old: 'Nurse "senior"', new: 'Charge Nurse' } } }]);
        });

        it('bad rows are reported with their line numbers and nothing is applied', T, async () => {
            const csv = 'username,title,manager,unit,status,role,guest,expiry\n' +
                'budi,Changed Title,,,,,,\n' +                       // 2: fine, must not apply
                '"multi\nline",x,,,,,,\n' +                          // 3: bad username (spans 3-4)
                'dewi,Nurse,ghost,,,,,\n' +                          // 5: unknown manager
                'eka,Nurse,,,fired,,,\n' +                           // 6: bad status
                'fajar,Nurse,,,,king,,\n' +                          // 7: bad role
                'budi,dup,,,,,,\n' +                                 // 8: duplicate
                'gita,Nurse,,,,,yes,\n' +                            // 9: guest without sponsor/expiry
                'hadi,Nurse,,,,,,someday\n';                         // 10: bad expiry
            const e = assertError(await imp({ csv }), 400, 'M_INVALID_PARAM');
            assert.deepEqual(e.errors.map((x) => x.line), [3, 5, 6, 7, 8, 9, 10]);
            assert.match(e.errors.find((x) => x.line === 5).error, /manager/);
            assert.match(e.error, /nothing was applied/);
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('budi')}`, tok.root)).title, 'Nurse "senior"');
            assertError(await req('GET', `${A}/directory/users/${enc('dewi')}`, tok.root), 404);
            // a manager cycle made by two rows
            const cyc = 'username,manager\nalice,budi\n';
            assert.deepEqual(assertError(await imp({ csv: cyc }), 400, 'M_INVALID_PARAM').errors.map((x) => x.line), [2]);
            // broken CSV: an unclosed quote, reported on its line
            const broken = 'username,title\nbudi,"open\n';
            assert.deepEqual(assertError(await imp({ csv: broken }), 400).errors.map((x) => x.line), [2]);
            // header problems
            assertError(await imp({ csv: 'user,title\nx,y\n' }), 400, 'M_INVALID_PARAM');
            assertError(await imp({ csv: '' }), 400, 'M_INVALID_PARAM');
            // a role change needs the right to grant it: hr may not make a moderator
            assertError(await imp({ csv: 'username,role\nbudi,moderator\n' }, '', tok.hr1), 400, 'M_INVALID_PARAM');
            // bad requests
            assertError(await imp({}), 400, 'M_MISSING_PARAM');
            assertError(await imp({ csv: 5 }), 400, 'M_BAD_JSON');
            assertError(await imp({ csv: 'username\n' }, '?dry_run=maybe'), 400, 'M_INVALID_PARAM');
            assertError(await srv.request('POST', `${A}/directory/import`, { token: tok.hr1, raw: '{x' }), 400, 'M_NOT_JSON');
            for (const n of ['comp', 'mod1', 'alice'])
                assertError(await imp({ csv: 'username\n' }, '', tok[n]), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${A}/directory/import`, { body: { csv: '' } }), 401, 'M_MISSING_TOKEN');
        });

        it('deactivate_missing deactivates accounts absent from the file (never owners)', T, async () => {
            const users = assertOk(await req('GET', `${A}/users?limit=1000`, tok.root)).users
                .filter((u) => !u.deactivated && !u.system).map((u) => u.user_id.slice(1).split(':')[0]);
            const keep = users.filter((n) => n !== 'mod1');
            const csv = 'username\n' + keep.filter((n) => n !== 'root').join('\n') + '\n';
            const dry = assertOk(await imp({ csv, deactivate_missing: true }, '?dry_run=true'));
            assert.deepEqual(dry.deactivated, [id('mod1')]);
            assertError(await imp({ csv }, '?deactivate_missing=true', tok.hr1), 403, 'M_FORBIDDEN');
            const real = assertOk(await imp({ csv }, '?deactivate_missing=true'));
            assert.deepEqual(real.deactivated, [id('mod1')]);
            assertError(await srv.whoami(tok.mod1), 401, 'M_UNKNOWN_TOKEN');
            assert.equal(assertOk(await req('GET', `${A}/users/${enc('mod1')}`, tok.root)).deactivated, true);
            assert.equal(assertOk(await req('GET', `${A}/users/${enc('root')}`, tok.root)).deactivated, false);
        });

        it('the CLI verb: dry-run diff, apply, and bad lines', T, async () => {
            const file = path.join(srv.tmp, 'staff.csv');
            await fs.writeFile(file, 'username,display_name,unit,title\nindra,Indra,Hospital/Radiology,Radiographer\nbudi,,,Head Nurse\n');
            let r = await srv.cli(['directory', 'import', file, '--dry-run']);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /\+ @indra:balai\.test \(line 2\)/);
            assert.match(r.stdout, /~ @budi:balai\.test \(line 3\)/);
            assert.match(r.stdout, /title: "Charge Nurse" -> "Head Nurse"|title: "Nurse "senior"" -> "Head Nurse"/);
            assert.match(r.stdout, /Dry run: nothing was changed/);
            assertError(await req('GET', `${A}/directory/users/${enc('indra')}`, tok.root), 404);
            r = await srv.cli(['directory', 'import', file]);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /Applied/);
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('indra')}`, tok.root)).unit_path, 'Hospital/Radiology');
            r = await srv.cli(['directory', 'import', file]);
            assert.match(r.stdout, /0 added, 0 changed, 0 deactivated/);
            await fs.writeFile(file, 'username,status\nindra,gone\n');
            r = await srv.cli(['directory', 'import', file]);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /line 2: status/);
            r = await srv.cli(['directory', 'import', path.join(srv.tmp, 'missing.csv')]);
            assert.equal(r.code, 1);
            r = await srv.cli(['directory', 'frobnicate']);
            assert.equal(r.code, 2);
        });
    });

    describe('persistence', () => {
        it('roles, units, attributes and guest expiry survive a restart', T, async () => {
            await srv.restart();
            const root = (await srv.login('root')).access_token;
            const a = assertOk(await req('GET', `${A}/directory/users/${enc('alice')}`, root));
            assert.equal(a.employee_number, 'E100');
            assert.equal(a.unit_path, 'Hospital/Nursing/Intensive Care');
            assert.equal(a.manager, id('root'));
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('hr1')}`, root)).role, 'hr');
            assert.equal(assertOk(await req('GET', `${A}/directory/users/${enc('citra')}`, root)).role, 'moderator');
            const units = assertOk(await req('GET', `${A}/units`, root)).units;
            assert.deepEqual(units.find((u) => u.unit_id === 'icu').admins, [id('bob'), id('alice')]);
            assert.ok(units.some((u) => u.path === 'Hospital/Nursing/Wards'));
            assertError(await srv.loginRaw('guesty'), 403, 'M_FORBIDDEN');
            const hr = (await srv.login('hr1')).access_token;
            assertOk(await req('PUT', `${A}/directory/users/${enc('bob')}`, hr, { title: 'Nurse' }));
            assertError(await req('PUT', `${A}/users/${enc('bob')}/role`, hr, { role: 'hr' }), 403, 'M_FORBIDDEN');
        });
    });
});

describe('guest expiry while the server is down', () => {
    const srv = useServer({ users: [{ name: 'root', admin: true }, { name: 'spon' }, { name: 'visitor' }] });

    it('a guest whose expiry passed during a restart is cut off at start', T, async () => {
        const root = (await srv.login('root')).access_token;
        const v = (await srv.login('visitor')).access_token;
        assertOk(await srv.request('PUT', `${A}/directory/users/${encodeURIComponent(srv.userId('visitor'))}`, {
            token: root, body: { guest: true, sponsor: 'spon', guest_expires_ts: Date.now() + 1500 * SLOW },
        }));
        await srv.stop();
        await sleep(1600 * SLOW);
        await srv.start();
        assertError(await srv.whoami(v), 401, 'M_UNKNOWN_TOKEN');
        assertError(await srv.loginRaw('visitor'), 403, 'M_FORBIDDEN');
    });
});
