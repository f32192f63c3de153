// scim.test.mjs: SCIM 2.0 provisioning (/scim/v2, RFC 7643/7644): discovery,
// provisioning-token auth, Users and Groups as Okta and Microsoft Entra ID
// send them (requests written out literally), the mapping to Matrix accounts
// and the directory, offboarding on `active: false`, bad input, the audit
// trail, `balai scim token`, and persistence across a restart.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const S = '/scim/v2';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCHOP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERR = 'urn:ietf:params:scim:api:messages:2.0:Error';

// Asserts an RFC 7644 §3.12 error.
function scimError(res, status, scimType) {
    const ctx = `${res.method} ${res.path} -> ${res.status} ${res.text?.slice(0, 300)}`;
    assert.equal(res.status, status, ctx);
    assert.deepEqual(res.json?.schemas, [ERR], ctx);
    assert.equal(res.json.status, String(status), ctx);
    assert.equal(typeof res.json.detail, 'string', ctx);
    if (scimType) assert.equal(res.json.scimType, scimType, ctx);
    assert.match(res.headers.get('content-type'), /^application\/scim\+json/, ctx);
    return res.json;
}

function scimOk(res, status = 200) {
    assert.equal(res.status, status, `${res.method} ${res.path} -> ${res.status} ${res.text?.slice(0, 400)}`);
    if (status !== 204) assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
    return res.json;
}

describe('SCIM provisioning', () => {
    const srv = useServer({
        env: { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 },
        users: [{ name: 'root', admin: true, displayname: 'Root Owner' }, { name: 'alice' }],
    });
    let root, alice, okta, entra;
    const ids = {};
    // a SCIM request with the provisioning token, as the providers send it
    const scim = (method, p, token, body, headers = {}) =>
        srv.request(method, S + p, {
            token,
            headers: body !== undefined ? { 'content-type': 'application/scim+json', ...headers } : headers,
            ...(body !== undefined ? { raw: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        });
    const admin = (method, p, body) => srv.request(method, A + p, { token: root, body });
    const person = async (uid) => assertOk(await admin('GET', `/directory/users/${encodeURIComponent(uid)}`));

    before(async () => {
        root = (await srv.login('root')).access_token;
        alice = (await srv.login('alice')).access_token;
        okta = assertOk(await admin('POST', '/scim/tokens', { name: 'okta' }));
        const r = await srv.cli(['scim', 'token', 'create', '--name', 'entra']);
        assert.equal(r.code, 0, r.stderr);
        entra = r.stdout.trim();
        assert.match(entra, /^balai_scim_/);
    });

    describe('discovery and auth', () => {
        it('ServiceProviderConfig, ResourceTypes and Schemas', T, async () => {
            const spc = scimOk(await scim('GET', '/ServiceProviderConfig', okta.token));
            assert.equal(spc.patch.supported, true);
            assert.equal(spc.filter.supported, true);
            assert.equal(spc.bulk.supported, false);
            assert.equal(spc.authenticationSchemes[0].type, 'oauthbearertoken');
            const rt = scimOk(await scim('GET', '/ResourceTypes', okta.token));
            assert.deepEqual(rt.Resources.map((x) => x.id).sort(), ['Group', 'User']);
            assert.equal(rt.Resources.find((x) => x.id === 'User').schemaExtensions[0].schema, ENT);
            scimOk(await scim('GET', '/ResourceTypes/User', okta.token));
            scimError(await scim('GET', '/ResourceTypes/Printer', okta.token), 404);
            const sch = scimOk(await scim('GET', '/Schemas', okta.token));
            assert.deepEqual(sch.Resources.map((x) => x.id).sort(), [ENT, USER, GROUP].sort());
            const u = scimOk(await scim('GET', `/Schemas/${USER}`, okta.token));
            assert.ok(u.attributes.some((a) => a.name === 'userName' && a.uniqueness === 'server'));
            scimError(await scim('GET', '/Schemas/urn:x:y', okta.token), 404);
        });

        it('missing, wrong, user and revoked tokens are refused; provisioning tokens are no access tokens', T, async () => {
            const r = scimError(await scim('GET', '/Users'), 401);
            assert.match(r.detail, /token/i);
            scimError(await scim('GET', '/Users', 'balai_scim_nope'), 401);
            scimError(await scim('GET', '/Users', alice), 401); // a Matrix access token
            scimError(await scim('GET', '/Users', root), 401); // even an owner's
            assertError(await srv.whoami(okta.token), 401, 'M_UNKNOWN_TOKEN');
            // only owners and admins manage tokens
            assertError(await srv.request('GET', `${A}/scim/tokens`, { token: alice }), 403, 'M_FORBIDDEN');
            assertError(await srv.request('POST', `${A}/scim/tokens`, { token: alice, body: {} }), 403, 'M_FORBIDDEN');
            // list and revoke through the CLI
            const t = assertOk(await admin('POST', '/scim/tokens', { name: 'temp' }));
            scimOk(await scim('GET', '/Users', t.token));
            let c = await srv.cli(['scim', 'token', 'list']);
            assert.equal(c.code, 0, c.stderr);
            assert.match(c.stdout, /okta/);
            assert.match(c.stdout, new RegExp(t.token_id));
            assert.doesNotMatch(c.stdout, /balai_scim_/); // the secret is never shown again
            c = await srv.cli(['scim', 'token', 'revoke', t.token_id]);
            assert.equal(c.code, 0, c.stderr);
            scimError(await scim('GET', '/Users', t.token), 401);
            c = await srv.cli(['scim', 'token', 'revoke', t.token_id]);
            assert.equal(c.code, 1);
            c = await srv.cli(['scim', 'frob']);
            assert.equal(c.code, 2);
        });
    });

    describe('Okta', () => {
        it('looks up, creates and reads a user (Okta request shapes)', T, async () => {
            // Okta first checks whether the user exists
            let r = scimOk(await scim('GET', '/Users?filter=userName%20eq%20%22siti%40rs.example%22&startIndex=1&count=100', okta.token));
            assert.equal(r.totalResults, 0);
            assert.deepEqual(r.Resources, []);
            r = scimOk(
                await scim('POST', '/Users', okta.token, {
                    schemas: [USER, ENT],
                    userName: 'siti@rs.example',
                    name: { givenName: 'Siti', familyName: 'Rahayu' },
                    emails: [{ primary: true, value: 'siti@rs.example', type: 'work' }],
                    displayName: 'Siti Rahayu',
                    locale: 'id-ID',
                    externalId: '00u1abcdEFGH',
                    groups: [],
                    password: 'n3verStored!x',
                    active: true,
                    title: 'Head Nurse',
                    [ENT]: { employeeNumber: 'E100', department: 'ICU', division: 'Nursing', organization: 'Hospital' },
                }),
                201,
            );
            assert.ok(r.id);
            assert.equal(r.userName, 'siti@rs.example');
            assert.equal(r.active, true);
            assert.equal(r.externalId, '00u1abcdEFGH');
            assert.equal(r.password, undefined);
            assert.equal(r.meta.resourceType, 'User');
            assert.equal(r.meta.version, 'W/"1"');
            assert.ok(r.meta.location.endsWith(`/scim/v2/Users/${r.id}`));
            ids.siti = r.id;
            r = scimOk(await scim('GET', '/Users?filter=userName%20eq%20%22SITI%40rs.example%22&startIndex=1&count=100', okta.token));
            assert.equal(r.totalResults, 1);
            assert.equal(r.Resources[0].id, ids.siti);
            const g = await scim('GET', `/Users/${ids.siti}`, okta.token);
            assert.equal(scimOk(g).locale, 'id-ID');
            assert.equal(g.headers.get('etag'), 'W/"1"');
            // the Matrix account and the directory record
            const p = await person('@siti:balai.test');
            assert.equal(p.employee_number, 'E100');
            assert.equal(p.display_name, 'Siti Rahayu');
            assert.equal(p.title, 'Head Nurse');
            assert.equal(p.email, 'siti@rs.example');
            assert.equal(p.unit_path, 'Hospital/Nursing/ICU');
        });

        it('PUT replaces the user; the manager maps to the directory', T, async () => {
            let r = scimOk(
                await scim('POST', '/Users', okta.token, {
                    schemas: [USER, ENT],
                    userName: 'Budi.Santoso@RS.Example',
                    name: { givenName: 'Budi', familyName: 'Santoso' },
                    emails: [{ primary: true, value: 'budi@rs.example', type: 'work' }],
                    active: true,
                    [ENT]: { employeeNumber: 'E200', department: 'ICU', manager: { value: ids.siti } },
                }),
                201,
            );
            ids.budi = r.id;
            let p = await person('@budi.santoso:balai.test');
            assert.equal(p.display_name, 'Budi Santoso'); // from name when there is no displayName
            assert.equal(p.manager, '@siti:balai.test');
            assert.equal(p.unit_path, 'Hospital/Nursing/ICU'); // the only unit called ICU
            assert.equal(r[ENT].manager.value, ids.siti);
            assert.equal(r[ENT].manager.displayName, 'Siti Rahayu');
            // Okta's PUT: the full user; what is left out is gone
            r = scimOk(
                await scim('PUT', `/Users/${ids.budi}`, okta.token, {
                    schemas: [USER, ENT],
                    id: ids.budi,
                    userName: 'Budi.Santoso@RS.Example',
                    name: { givenName: 'Budi', familyName: 'Santoso' },
                    emails: [{ primary: true, value: 'budi.s@rs.example', type: 'work' }],
                    title: 'Nurse',
                    active: true,
                    [ENT]: { employeeNumber: 'E200', department: 'Radiology', organization: 'Hospital' },
                }),
            );
            assert.equal(r.meta.version, 'W/"2"');
            assert.equal(r.title, 'Nurse');
            assert.equal(r[ENT].manager, undefined);
            p = await person('@budi.santoso:balai.test');
            assert.equal(p.email, 'budi.s@rs.example');
            assert.equal(p.manager, null);
            assert.equal(p.title, 'Nurse');
            assert.equal(p.unit_path, 'Hospital/Radiology');
            // a stale If-Match is refused
            scimError(await scim('PUT', `/Users/${ids.budi}`, okta.token, { userName: 'x@y' }, { 'if-match': 'W/"1"' }), 412);
        });

        it('PATCH active false offboards (a parked /sync ends), active true reactivates', T, async () => {
            const eko = '@eko:balai.test';
            const enc = encodeURIComponent(eko);
            const off = (active) =>
                scim('PATCH', `/Users/${ids.eko}`, okta.token, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'replace', value: { active } }],
                });
            ids.eko = scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'eko@rs.example' }), 201).id;
            // Okta's deactivation: offboarding, with its signed record
            let r = scimOk(await off(false));
            assert.equal(r.active, false);
            assert.equal((await person(eko)).deactivated, true);
            assert.equal((await person(eko)).status, 'terminated');
            let rec = assertOk(await admin('GET', `/users/${enc}/offboarding`));
            assert.equal(rec.user_id, eko);
            assert.equal(rec.actor, 'scim:okta');
            // an administrator brings them back with a password; they log in and wait in /sync
            assertOk(await admin('POST', `/users/${enc}/reactivate`, { password: 'eko password 123' }));
            assert.equal(scimOk(await scim('GET', `/Users/${ids.eko}`, okta.token)).active, true);
            const tok = (await srv.login('eko', 'eko password 123')).access_token;
            const s0 = assertOk(await srv.request('GET', '/_matrix/client/v3/sync?timeout=0', { token: tok }));
            const parked = srv.request('GET', `/_matrix/client/v3/sync?timeout=30000&since=${s0.next_batch}`, { token: tok });
            r = scimOk(await off(false));
            assert.equal(r.active, false);
            assertError(await parked, 401, 'M_UNKNOWN_TOKEN');
            assertError(await srv.loginRaw('eko', 'eko password 123'), 403);
            // SCIM reactivation (a rehire), then off again: cut off again
            r = scimOk(await off(true));
            assert.equal(r.active, true);
            let p = await person(eko);
            assert.equal(p.deactivated, false);
            assert.equal(p.status, 'active');
            r = scimOk(await off(false));
            assert.equal(r.active, false);
            assert.equal((await person(eko)).deactivated, true);
            const a = assertOk(await admin('GET', `/audit?target=${enc}&limit=50`));
            assert.ok(a.entries.some((e) => e.action === 'scim.user.deactivate' && e.actor === 'scim:okta'));
            assert.ok(a.entries.some((e) => e.action === 'scim.user.reactivate'));
        });

        it('deactivate, reactivate, deactivate again: rooms left and a second record each time', T, async () => {
            const uid = '@yanti:balai.test';
            const enc = encodeURIComponent(uid);
            const C = '/_matrix/client/v3';
            const id = scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'yanti@rs.example' }), 201).id;
            const active = (on) =>
                scim('PATCH', `/Users/${id}`, okta.token, { schemas: [PATCHOP], Operations: [{ op: 'replace', value: { active: on } }] });
            const room = assertOk(await srv.request('POST', `${C}/createRoom`, { token: alice, body: { preset: 'public_chat', name: 'Rehire' } })).room_id;
            const member = async () => {
                const r = await srv.request('GET', `${C}/rooms/${encodeURIComponent(room)}/state/m.room.member/${enc}`, { token: alice });
                return r.status === 200 ? r.json.membership : null;
            };
            // provisioned, given a password, joins
            assertOk(await admin('POST', `/users/${enc}/password`, { password: 'yanti password 1' }));
            let tok = (await srv.login('yanti', 'yanti password 1')).access_token;
            assertOk(await srv.request('POST', `${C}/join/${encodeURIComponent(room)}`, { token: tok, body: {} }));
            assert.equal(await member(), 'join');
            // off: removed from the room, token revoked, a record
            assert.equal(scimOk(await active(false)).active, false);
            assert.equal(await member(), 'leave');
            assertError(await srv.request('GET', `${C}/account/whoami`, { token: tok }), 401, 'M_UNKNOWN_TOKEN');
            const rec1 = assertOk(await admin('GET', `/users/${enc}/offboarding`));
            assert.ok(rec1.rooms_left.some((x) => x.room_id === room));
            // on again: a password from an admin, log in, rejoin
            assert.equal(scimOk(await active(true)).active, true);
            assertOk(await admin('POST', `/users/${enc}/password`, { password: 'yanti password 2' }));
            tok = (await srv.login('yanti', 'yanti password 2')).access_token;
            assertOk(await srv.request('POST', `${C}/join/${encodeURIComponent(room)}`, { token: tok, body: {} }));
            assert.equal(await member(), 'join');
            // off again: removed again, and a second record
            assert.equal(scimOk(await active(false)).active, false);
            assert.equal(await member(), 'leave');
            assertError(await srv.request('GET', `${C}/account/whoami`, { token: tok }), 401, 'M_UNKNOWN_TOKEN');
            assertError(await srv.loginRaw('yanti', 'yanti password 2'), 403);
            const rec2 = assertOk(await admin('GET', `/users/${enc}/offboarding`));
            assert.notDeepEqual(rec2, rec1);
            assert.ok(rec2.started_ts >= rec1.completed_ts);
            assert.ok(rec2.rooms_left.some((x) => x.room_id === room));
            const a = assertOk(await admin('GET', `/audit?action=user.offboard&target=${enc}&limit=50`));
            assert.equal(a.entries.length, 2);
        });

        it('a userName whose localpart is taken gets a suffix', T, async () => {
            const c = await srv.cli(['user', 'add', 'wati', '--password-stdin'], { input: 'wati password 123\n' });
            assert.equal(c.code, 0, c.stderr);
            scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'Wati@rs.example' }), 201);
            assert.equal((await person('@wati-2:balai.test')).deactivated, false);
            // the system user's name is never given out
            scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'balai@rs.example' }), 201);
            assert.equal((await person('@balai-2:balai.test')).deactivated, false);
        });
    });

    describe('Microsoft Entra ID', () => {
        it('creates a user from a UPN and applies Entra PATCH shapes', T, async () => {
            // Entra's existence check and create
            let r = scimOk(await scim('GET', '/Users?filter=userName+eq+%22andi%40rs.example%22', entra));
            assert.equal(r.totalResults, 0);
            r = scimOk(
                await scim('POST', '/Users', entra, {
                    schemas: [USER, ENT],
                    externalId: 'andi',
                    userName: 'andi@rs.example',
                    active: true,
                    displayName: 'Andi Wijaya',
                    emails: [{ primary: true, type: 'work', value: 'andi@rs.example' }],
                    meta: { resourceType: 'User' },
                    name: { formatted: 'Andi Wijaya', familyName: 'Wijaya', givenName: 'Andi' },
                    roles: [],
                    [ENT]: { employeeNumber: 'E300', department: 'ICU' },
                }),
                201,
            );
            ids.andi = r.id;
            assert.equal((await person('@andi:balai.test')).employee_number, 'E300');
            // Entra's PATCH: capitalised ops, string booleans, filtered paths, manager as a string
            r = scimOk(
                await scim('PATCH', `/Users/${ids.andi}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [
                        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'andi.w@rs.example' },
                        { op: 'Replace', path: 'name.givenName', value: 'Andika' },
                        { op: 'Add', path: 'title', value: 'Charge Nurse' },
                        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+62 811 000' },
                        { op: 'Add', path: `${ENT}:manager`, value: ids.siti },
                        { op: 'Replace', path: `${ENT}:employeeNumber`, value: 'E301' },
                        { op: 'Replace', path: 'active', value: 'True' },
                    ],
                }),
            );
            assert.equal(r.name.givenName, 'Andika');
            assert.equal(r.emails[0].value, 'andi.w@rs.example');
            assert.deepEqual(r.phoneNumbers, [{ type: 'mobile', value: '+62 811 000' }]);
            assert.equal(r[ENT].manager.value, ids.siti);
            assert.equal(r.active, true);
            let p = await person('@andi:balai.test');
            assert.equal(p.email, 'andi.w@rs.example');
            assert.equal(p.manager, '@siti:balai.test');
            assert.equal(p.employee_number, 'E301');
            assert.equal(p.title, 'Charge Nurse');
            // remove the manager; active replaced without a path and a string boolean
            r = scimOk(
                await scim('PATCH', `/Users/${ids.andi}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [
                        { op: 'Remove', path: `${ENT}:manager` },
                        { op: 'Replace', value: { active: 'False' } },
                    ],
                }),
            );
            assert.equal(r.active, false);
            p = await person('@andi:balai.test');
            assert.equal(p.manager, null);
            assert.equal(p.deactivated, true);
            // filter on the other attributes providers use
            for (const f of [
                'externalId eq "andi"',
                'emails.value eq "ANDI.W@rs.example"',
                'emails[type eq "work" and value co "andi"]',
                `${ENT}:employeeNumber eq "E301"`,
                'name.givenName sw "And" and active eq false',
                'not (active eq true) and userName sw "andi" and userName ew "@RS.EXAMPLE"',
            ]) {
                r = scimOk(await scim('GET', `/Users?filter=${encodeURIComponent(f)}`, entra));
                assert.deepEqual(r.Resources.map((x) => x.id), [ids.andi], f);
            }
        });

        it('userName is unique case-insensitively; a rename keeps the Matrix id', T, async () => {
            scimError(
                await scim('POST', '/Users', entra, { schemas: [USER], userName: 'ANDI@RS.EXAMPLE' }),
                409,
                'uniqueness',
            );
            // the same localpart from another domain gets a suffix
            const r = scimOk(await scim('POST', '/Users', entra, { schemas: [USER], userName: 'andi@partner.example' }), 201);
            assert.equal((await person('@andi-2:balai.test')).deactivated, false);
            // rename: the Matrix id stays
            const rn = scimOk(
                await scim('PATCH', `/Users/${r.id}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'Replace', path: 'userName', value: 'andi.p@partner.example' }],
                }),
            );
            assert.equal(rn.userName, 'andi.p@partner.example');
            const l = scimOk(await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "andi.p@partner.example"')}`, entra));
            assert.equal(l.Resources[0].id, r.id);
            assert.equal((await person('@andi-2:balai.test')).deactivated, false);
            // an employee number taken by someone else
            scimError(
                await scim('PATCH', `/Users/${r.id}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'replace', path: `${ENT}:employeeNumber`, value: 'E100' }],
                }),
                409,
                'uniqueness',
            );
        });
    });

    describe('groups', () => {
        it('create, Entra add/remove members, Okta rename, list, exclude members, delete', T, async () => {
            let g = scimOk(
                await scim('POST', '/Groups', entra, {
                    schemas: [GROUP],
                    externalId: 'g-icu',
                    displayName: 'ICU Nurses',
                    members: [{ value: ids.siti }],
                }),
                201,
            );
            ids.icu = g.id;
            assert.deepEqual(g.members.map((m) => m.value), [ids.siti]);
            // Entra adds members
            g = scimOk(
                await scim('PATCH', `/Groups/${ids.icu}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'Add', path: 'members', value: [{ value: ids.budi }, { value: ids.andi }] }],
                }),
            );
            assert.equal(g.members.length, 3);
            // Entra removes one with a filtered path
            g = scimOk(
                await scim('PATCH', `/Groups/${ids.icu}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'Remove', path: `members[value eq "${ids.andi}"]` }],
                }),
            );
            assert.deepEqual(g.members.map((m) => m.value).sort(), [ids.budi, ids.siti].sort());
            // Okta removes with a value list, and renames
            g = scimOk(
                await scim('PATCH', `/Groups/${ids.icu}`, okta.token, {
                    schemas: [PATCHOP],
                    Operations: [
                        { op: 'remove', path: 'members', value: [{ value: ids.budi }] },
                        { op: 'replace', value: { id: ids.icu, displayName: 'ICU Staff' } },
                    ],
                }),
            );
            assert.equal(g.displayName, 'ICU Staff');
            assert.deepEqual(g.members.map((m) => m.value), [ids.siti]);
            // the user shows the group
            const u = scimOk(await scim('GET', `/Users/${ids.siti}`, entra));
            assert.deepEqual(u.groups.map((x) => x.value), [ids.icu]);
            // Entra's lookup: filter by displayName, members left out
            let l = scimOk(await scim('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "icu staff"')}`, entra));
            assert.equal(l.totalResults, 1);
            assert.equal(l.Resources[0].members, undefined);
            l = scimOk(await scim('GET', `/Groups?filter=${encodeURIComponent(`members[value eq "${ids.siti}"]`)}`, entra));
            assert.equal(l.totalResults, 1);
            // Okta's PUT of the whole group
            g = scimOk(
                await scim('PUT', `/Groups/${ids.icu}`, okta.token, {
                    schemas: [GROUP],
                    displayName: 'ICU Staff',
                    members: [{ value: ids.siti }, { value: ids.budi }],
                }),
            );
            assert.equal(g.members.length, 2);
            // bad members
            scimError(
                await scim('PATCH', `/Groups/${ids.icu}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'Add', path: 'members', value: [{ value: 'no-such-user' }] }],
                }),
                400,
                'invalidValue',
            );
            const other = scimOk(await scim('POST', '/Groups', entra, { schemas: [GROUP], displayName: 'Temp' }), 201);
            scimError(
                await scim('PATCH', `/Groups/${ids.icu}`, entra, {
                    schemas: [PATCHOP],
                    Operations: [{ op: 'Add', path: 'members', value: [{ value: other.id }] }],
                }),
                400,
                'invalidValue',
            );
            scimError(await scim('POST', '/Groups', entra, { schemas: [GROUP] }), 400, 'invalidValue');
            const d = await scim('DELETE', `/Groups/${other.id}`, entra);
            assert.equal(d.status, 204);
            scimError(await scim('GET', `/Groups/${other.id}`, entra), 404);
            // audit
            const a = assertOk(await admin('GET', '/audit?action=scim.group.*&limit=50'));
            assert.ok(a.entries.some((e) => e.action === 'scim.group.create' && e.actor === 'scim:entra'));
            assert.ok(a.entries.some((e) => e.action === 'scim.group.update'));
            assert.ok(a.entries.some((e) => e.action === 'scim.group.delete'));
        });
    });

    describe('lists and deletion', () => {
        it('startIndex and count page through the users', T, async () => {
            for (let i = 0; i < 5; i++)
                scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: `page${i}@rs.example` }), 201);
            const f = encodeURIComponent('userName sw "page"');
            let r = scimOk(await scim('GET', `/Users?filter=${f}&startIndex=1&count=2`, okta.token));
            assert.equal(r.totalResults, 5);
            assert.equal(r.itemsPerPage, 2);
            assert.equal(r.startIndex, 1);
            const seen = r.Resources.map((x) => x.userName);
            r = scimOk(await scim('GET', `/Users?filter=${f}&startIndex=3&count=2`, okta.token));
            seen.push(...r.Resources.map((x) => x.userName));
            r = scimOk(await scim('GET', `/Users?filter=${f}&startIndex=5&count=2`, okta.token));
            assert.equal(r.itemsPerPage, 1);
            seen.push(...r.Resources.map((x) => x.userName));
            assert.equal(new Set(seen).size, 5);
            r = scimOk(await scim('GET', `/Users?filter=${f}&count=0`, okta.token));
            assert.equal(r.totalResults, 5);
            assert.deepEqual(r.Resources, []);
            r = scimOk(await scim('GET', `/Users?attributes=userName&filter=${f}`, okta.token));
            assert.equal(r.Resources[0].emails, undefined);
            assert.ok(r.Resources[0].id && r.Resources[0].userName);
            scimError(await scim('GET', '/Users?count=abc', okta.token), 400, 'invalidValue');
        });

        it('DELETE deactivates (204, then 404); provisioning the same userName again brings the same account back', T, async () => {
            const r = scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'gita@rs.example' }), 201);
            let d = await scim('DELETE', `/Users/${r.id}`, okta.token);
            assert.equal(d.status, 204);
            scimError(await scim('GET', `/Users/${r.id}`, okta.token), 404);
            scimError(await scim('DELETE', `/Users/${r.id}`, okta.token), 404);
            assert.equal((await person('@gita:balai.test')).deactivated, true);
            const l = scimOk(await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "gita@rs.example"')}`, okta.token));
            assert.equal(l.totalResults, 0);
            const again = scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'Gita@rs.example' }), 201);
            assert.notEqual(again.id, r.id);
            assert.equal(again.active, true);
            assert.equal((await person('@gita:balai.test')).deactivated, false);
            const a = assertOk(await admin('GET', '/audit?action=scim.user.*&limit=200'));
            assert.ok(a.entries.some((e) => e.action === 'scim.user.create' && e.actor === 'scim:okta'));
            assert.ok(a.entries.some((e) => e.action === 'scim.user.deactivate' && e.target === '@gita:balai.test'));
            assert.ok(a.entries.some((e) => e.action === 'scim.user.update'));
        });
    });

    describe('concurrency and content types', () => {
        it('writes arriving together are applied one at a time: one userName, one account', T, async () => {
            const rs = await Promise.all(
                Array.from({ length: 8 }, (_, i) =>
                    scim('POST', '/Users', okta.token, { schemas: [USER], userName: i % 2 ? 'RACE@rs.example' : 'race@rs.example' }),
                ),
            );
            assert.equal(rs.filter((r) => r.status === 201).length, 1);
            for (const r of rs.filter((x) => x.status !== 201)) scimError(r, 409, 'uniqueness');
            const id = rs.find((r) => r.status === 201).json.id;
            // concurrent PATCHes of one user all land, in order, each on the result of the last
            const ps = await Promise.all(
                Array.from({ length: 6 }, (_, i) =>
                    scim('PATCH', `/Users/${id}`, okta.token, {
                        schemas: [PATCHOP],
                        Operations: [{ op: 'add', path: 'emails', value: [{ value: `r${i}@rs.example`, type: `t${i}` }] }],
                    }),
                ),
            );
            for (const r of ps) scimOk(r);
            const u = scimOk(await scim('GET', `/Users/${id}`, okta.token));
            assert.equal(u.emails.length, 6);
            assert.equal(u.meta.version, 'W/"7"');
        });

        it('application/json is accepted; answers are application/scim+json', T, async () => {
            const r = await srv.request('POST', `${S}/Users`, {
                token: okta.token,
                body: { schemas: [USER], userName: 'json@rs.example' },
            });
            scimOk(r, 201);
        });
    });

    describe('bad input', () => {
        it('malformed JSON, unknown schemas, unknown attributes, bad filters and paths', T, async () => {
            scimError(await scim('POST', '/Users', okta.token, '{"userName": '), 400, 'invalidSyntax');
            scimError(await scim('POST', '/Users', okta.token, '[1,2]'), 400, 'invalidSyntax');
            scimError(
                await scim('POST', '/Users', okta.token, { schemas: [USER, 'urn:example:params:scim:schemas:extension:acme:2.0:User'], userName: 'x@rs.example' }),
                400,
                'invalidValue',
            );
            scimError(
                await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'x@rs.example', 'urn:acme:scim:ext:1.0:User': { a: 1 } }),
                400,
                'invalidValue',
            );
            scimError(await scim('POST', '/Users', okta.token, { schemas: [USER] }), 400, 'invalidValue');
            scimError(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 42 }), 400, 'invalidValue');
            scimError(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'y@rs.example', active: 'maybe' }), 400, 'invalidValue');
            scimError(
                await scim('POST', '/Users', okta.token, { schemas: [USER, ENT], userName: 'y@rs.example', [ENT]: { manager: { value: 'nobody' } } }),
                400,
                'invalidValue',
            );
            // unknown attributes are ignored (RFC 7644 §3.3)
            const r = scimOk(await scim('POST', '/Users', okta.token, { schemas: [USER], userName: 'hadi@rs.example', favouriteColour: 'blue' }), 201);
            assert.equal(r.favouriteColour, undefined);
            for (const f of ['userName eq', 'userName xx "a"', '(userName eq "a"', 'userName eq "a" or', 'emails[type eq "w"', 'userName eq "unterminated', 'userName eq "a" and (', '((((((((((((((((((((((((((((((((((((userName pr))))))))))))))))))))))))))))))))))))']) {
                const e = scimError(await scim('GET', `/Users?filter=${encodeURIComponent(f)}`, okta.token), 400, 'invalidFilter');
                assert.match(e.detail, /at \d+/, f);
            }
            const p = (ops) => scim('PATCH', `/Users/${r.id}`, okta.token, { schemas: [PATCHOP], Operations: ops });
            scimError(await p([{ op: 'replace', path: 'emails[type eq', value: 'x' }]), 400, 'invalidPath');
            scimError(await p([{ op: 'remove' }]), 400, 'noTarget');
            scimError(await p([{ op: 'frobnicate', path: 'title', value: 'x' }]), 400, 'invalidSyntax');
            scimError(await p([]), 400, 'invalidSyntax');
            scimError(await p([{ op: 'replace', path: 'emails[value eq "none" or type sw "x"].value', value: 'a@b' }]), 400, 'noTarget');
            scimError(await scim('PATCH', `/Users/${r.id}`, okta.token, { schemas: ['urn:wrong'], Operations: [{ op: 'remove', path: 'title' }] }), 400, 'invalidValue');
            scimError(await scim('GET', '/Users/does-not-exist', okta.token), 404);
            scimError(await scim('PATCH', '/Users/does-not-exist', okta.token, { schemas: [PATCHOP], Operations: [] }), 404);
        });
    });

    describe('persistence', () => {
        it('tokens, users, groups and the id mapping survive a restart', T, async () => {
            await srv.restart();
            const u = scimOk(await scim('GET', `/Users/${ids.siti}`, okta.token));
            assert.equal(u.userName, 'siti@rs.example');
            assert.equal(u.externalId, '00u1abcdEFGH');
            assert.deepEqual(u.groups.map((x) => x.value), [ids.icu]);
            const g = scimOk(await scim('GET', `/Groups/${ids.icu}`, entra));
            assert.equal(g.displayName, 'ICU Staff');
            assert.equal(g.members.length, 2);
            const l = scimOk(await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "andi.p@partner.example"')}`, entra));
            assert.equal(l.totalResults, 1);
            assert.equal((await person('@budi.santoso:balai.test')).unit_path, 'Hospital/Radiology');
        });
    });
});
