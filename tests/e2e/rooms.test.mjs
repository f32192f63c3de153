// rooms.test.mjs: membership rules in the admin console (a rule written in
// the editor, its preview naming the right people before Save, the rule's
// room then holding them; read-only for HR) and group rooms for employees
// (a new room with a classification label and people from the directory,
// inviting more, leaving one, and a mandatory room refusing the leave in
// plain words).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, useServer, PW, SLOW } from '../api/lib/server.mjs';
import { useBrowser, newPage, login, shot, until } from './lib.mjs';

const T = { timeout: 60000 * SLOW };
const C = '/_matrix/client/v3';
const A = '/_balai/admin/v1';
const enc = encodeURIComponent;

describe('web app: membership rules and group rooms', () => {
    const srv = useServer({
        users: [
            { name: 'admin', admin: true, displayname: 'Admin' },
            { name: 'hr1', displayname: 'Hana HR' },
            { name: 'alice', displayname: 'Alice Wulandari' },
            { name: 'bob', displayname: 'Bob Santoso' },
            { name: 'carol', displayname: 'Carol Lim' },
        ],
    });
    const b = useBrowser();
    const tok = {};
    let icu;
    const pages = [];
    const open = async (opts) => {
        const p = await newPage(b.browser, opts);
        pages.push(p);
        return p;
    };
    const req = (m, p, token, body) => srv.request(m, p, { token, body });
    const joined = async (roomId) => Object.keys(assertOk(await req('GET', `${C}/rooms/${enc(roomId)}/joined_members`, tok.admin)).joined);

    before(async () => {
        for (const n of ['admin', 'hr1', 'alice', 'bob', 'carol']) tok[n] = (await srv.login(n)).access_token;
        assertOk(await req('PUT', `${A}/users/${enc(srv.userId('hr1'))}/role`, tok.admin, { role: 'hr' }));
        assertOk(await req('POST', `${A}/units`, tok.admin, { name: 'Hospital', unit_id: 'h' }));
        assertOk(await req('POST', `${A}/units`, tok.admin, { name: 'ICU', unit_id: 'h.icu', parent: 'h' }));
        assertOk(await req('POST', `${A}/units`, tok.admin, { name: 'ER', unit_id: 'h.er', parent: 'h' }));
        const person = (n, attrs) => req('PUT', `${A}/directory/users/${enc(srv.userId(n))}`, tok.admin, attrs);
        assertOk(await person('alice', { unit: 'h.icu', title: 'Nurse', display_name: 'Alice Wulandari' }));
        assertOk(await person('bob', { unit: 'h.icu', title: 'Nurse', display_name: 'Bob Santoso' }));
        assertOk(await person('carol', { unit: 'h.er', title: 'Doctor', display_name: 'Carol Lim' }));
        icu = assertOk(await req('POST', `${C}/createRoom`, tok.admin, { name: 'ICU Ward', room_alias_name: 'icu' })).room_id;
    });
    after(async () => {
        for (const p of pages) await p.context().close();
    });

    it('admin: a rule is previewed (who joins) before Save, then its room holds them', T, async () => {
        const page = await open({ viewport: { width: 1280, height: 900 } });
        await login(page, srv, 'admin', PW);
        await page.getByRole('link', { name: 'Admin' }).click();
        await page.getByRole('link', { name: 'Membership rules' }).click();
        const sec = page.getByRole('region', { name: 'Membership rules' });
        await sec.getByText('No rules yet.').waitFor();
        await sec.getByRole('button', { name: 'New rule' }).click();
        const form = sec.getByRole('form', { name: 'New rule' });
        await form.getByLabel('Name', { exact: true }).fill('ICU staff');
        await form.getByLabel('Unit', { exact: true }).fill('h.icu');
        await form.getByLabel('Rooms', { exact: true }).fill('#icu:balai.test');
        await form.getByRole('checkbox', { name: /Mandatory/ }).check();
        // Save waits for a preview
        assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);
        await form.getByRole('button', { name: 'Preview' }).click();
        const pv = form.getByRole('region', { name: 'Preview' });
        await pv.getByRole('heading', { name: 'Would join (2)' }).waitFor();
        await pv.getByText('@alice:balai.test').waitFor();
        await pv.getByText('@bob:balai.test').waitFor();
        assert.equal(await pv.getByText('@carol:balai.test').count(), 0);
        assert.equal(await pv.getByRole('heading', { name: /Would leave/ }).count(), 0);
        await shot(page, 'admin-rules-preview');
        // nothing applied by the preview
        assert.deepEqual((await joined(icu)).filter((u) => /alice|bob/.test(u)), []);

        // an unknown unit is explained by the server's sentence
        await form.getByLabel('Unit', { exact: true }).fill('nowhere');
        await form.getByRole('button', { name: 'Preview' }).click();
        await form.getByRole('alert').getByText(/unknown unit nowhere/).waitFor();
        await form.getByLabel('Unit', { exact: true }).fill('h.icu');
        await form.getByRole('button', { name: 'Preview' }).click();
        await pv.getByRole('heading', { name: 'Would join (2)' }).waitFor();
        await form.getByRole('button', { name: 'Save' }).click();
        await sec.getByText('Rule “ICU staff” saved. Rooms are being updated.').waitFor();
        const row = sec.getByRole('row', { name: /ICU staff/ });
        await row.getByRole('cell', { name: 'Unit: h.icu' }).waitFor();
        await row.getByRole('cell', { name: 'Yes' }).waitFor();
        await row.getByRole('cell', { name: 'ICU Ward' }).waitFor();
        await shot(page, 'admin-rules');

        await until(async () => {
            const j = await joined(icu);
            return j.includes(srv.userId('alice')) && j.includes(srv.userId('bob')) && !j.includes(srv.userId('carol'));
        }, 'alice and bob in the ICU room');
        // and alice sees it in her own room list
        const alice = await open();
        await login(alice, srv, 'alice', PW);
        await alice.getByRole('link', { name: /ICU Ward/ }).waitFor();

        // editing: a changed rule previews who leaves; cancel keeps it
        await row.getByRole('button', { name: 'Edit ICU staff' }).click();
        const edit = sec.getByRole('form', { name: 'Edit rule “ICU staff”' });
        await edit.getByLabel('Title', { exact: true }).fill('Doctor');
        await edit.getByRole('button', { name: 'Preview' }).click();
        const pv2 = edit.getByRole('region', { name: 'Preview' });
        await pv2.getByRole('heading', { name: 'Would leave (2)' }).waitFor();
        await pv2.getByText('@alice:balai.test').waitFor();
        await edit.getByRole('button', { name: 'Cancel' }).click();
        assert.deepEqual(page.errors, []);
    });

    it('HR reads the rules but cannot change them', T, async () => {
        const page = await open();
        await login(page, srv, 'hr1', PW);
        await page.getByRole('link', { name: 'Admin' }).click();
        await page.getByRole('link', { name: 'Membership rules' }).click();
        const sec = page.getByRole('region', { name: 'Membership rules' });
        await sec.getByRole('row', { name: /ICU staff/ }).waitFor();
        await sec.getByText('Your role may read the rules; owners and admins change them.').waitFor();
        assert.equal(await sec.getByRole('button', { name: 'New rule' }).count(), 0);
        assert.equal(await sec.getByRole('button', { name: /^Edit/ }).count(), 0);
        assert.equal(await sec.getByRole('button', { name: /^Delete/ }).count(), 0);
    });

    let lab;
    it('employee: a new group room with a label and people from the directory; inviting more', T, async () => {
        const page = await open();
        await login(page, srv, 'carol', PW);
        await page.getByRole('button', { name: 'New room' }).click();
        const dlg = page.getByRole('dialog', { name: 'New room' });
        await dlg.getByLabel('Room name').fill('Lab Team');
        await dlg.getByLabel('Topic').fill('Samples and results');
        await dlg.getByLabel('Classification').selectOption('confidential');
        await dlg.getByLabel('Search people to invite').fill('Bob');
        await dlg.getByRole('button', { name: 'Add Bob Santoso' }).click();
        await dlg.getByRole('list', { name: 'Invited' }).getByText('Bob Santoso').waitFor();
        await shot(page, 'new-room');
        await dlg.getByRole('button', { name: 'Create room' }).click();
        const room = page.getByRole('region', { name: 'Lab Team' });
        await room.getByRole('heading', { name: 'Lab Team' }).waitFor();
        await room.getByRole('note').filter({ hasText: 'Classification: confidential' }).waitFor();
        await page.getByRole('link', { name: /Lab Team/ }).locator('.badge', { hasText: 'confidential' }).waitFor();
        lab = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
        assert.match(lab, /^!/);
        const st = (type, key = '') => req('GET', `${C}/rooms/${enc(lab)}/state/${type}/${enc(key)}`, tok.carol);
        assert.equal(assertOk(await st('m.room.topic')).topic, 'Samples and results');
        assert.equal(assertOk(await st('id.balai.room.classification')).label, 'confidential');
        assert.equal(assertOk(await st('m.room.member', srv.userId('bob'))).membership, 'invite');

        await room.getByRole('button', { name: 'Invite' }).click();
        const inv = page.getByRole('dialog', { name: 'Invite to Lab Team' });
        await inv.getByLabel('Search people to invite').fill('Alice');
        await inv.getByRole('button', { name: 'Add Alice Wulandari' }).click();
        await inv.getByRole('button', { name: 'Invite', exact: true }).click();
        await inv.getByText('Invited: Alice Wulandari').waitFor();
        await inv.getByRole('button', { name: 'Close' }).click();
        assert.equal(assertOk(await st('m.room.member', srv.userId('alice'))).membership, 'invite');
        assert.deepEqual(page.errors, []);
    });

    it('employee: leaving a room; a mandatory room refuses in plain words', T, async () => {
        const page = await open();
        await login(page, srv, 'alice', PW);
        // join the invitation, then leave the room
        const invites = page.getByRole('region', { name: 'Invitations' });
        await invites.getByText('Lab Team').waitFor();
        await invites.getByRole('button', { name: 'Join' }).click();
        const room = page.getByRole('region', { name: 'Lab Team' });
        await room.getByRole('heading', { name: 'Lab Team' }).waitFor();
        await room.getByRole('button', { name: 'Leave' }).click();
        let dlg = page.getByRole('alertdialog', { name: 'Leave Lab Team?' });
        await dlg.getByRole('button', { name: 'Leave' }).click();
        await dlg.waitFor({ state: 'detached' });
        await until(async () => (await page.getByRole('link', { name: /Lab Team/ }).count()) === 0, 'Lab Team gone from the list');
        assert.equal(assertOk(await req('GET', `${C}/rooms/${enc(lab)}/state/m.room.member/${enc(srv.userId('alice'))}`, tok.carol)).membership, 'leave');

        // the ICU room is mandatory for her (the rule of the first test): the list marks it
        await page.getByRole('link', { name: /ICU Ward/ }).getByText('Mandatory').waitFor();
        await page.getByRole('link', { name: /ICU Ward/ }).click();
        const icuRoom = page.getByRole('region', { name: 'ICU Ward' });
        await icuRoom.getByRole('button', { name: 'Leave' }).click();
        dlg = page.getByRole('alertdialog', { name: 'Leave ICU Ward?' });
        await dlg.getByRole('button', { name: 'Leave' }).click();
        const alert = dlg.getByRole('alert');
        await alert.getByText('You can’t leave this room.').waitFor();
        await alert.getByText(/membership rule 'ICU staff' makes it mandatory/).waitFor();
        await shot(page, 'leave-mandatory');
        await dlg.getByRole('button', { name: 'Close' }).click();
        await icuRoom.getByRole('heading', { name: 'ICU Ward' }).waitFor();
        assert.ok((await joined(icu)).includes(srv.userId('alice')));
        assert.deepEqual(page.errors, []);
    });

    it('admin: deleting a rule shows who leaves, after a confirmation', T, async () => {
        const page = pages[0];
        const sec = page.getByRole('region', { name: 'Membership rules' });
        await sec.getByRole('button', { name: 'Delete ICU staff' }).click();
        const dlg = page.getByRole('alertdialog', { name: 'Delete rule “ICU staff”?' });
        await dlg.getByRole('heading', { name: 'Would leave (2)' }).waitFor();
        await dlg.getByText('@bob:balai.test').waitFor();
        await dlg.getByRole('button', { name: 'Delete the rule' }).click();
        await sec.getByText('Rule “ICU staff” deleted.').waitFor();
        await sec.getByText('No rules yet.').waitFor();
        await until(async () => !(await joined(icu)).includes(srv.userId('bob')), 'bob out of the ICU room');
        assert.deepEqual(page.errors, []);
    });
});
