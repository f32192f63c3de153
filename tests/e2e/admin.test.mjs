// admin.test.mjs: the admin console in a real browser: shown only to the org
// roles that may use it; People lists the directory and imports a CSV with
// a dry-run diff before applying; the audit viewer lists entries and
// verifies the chain.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, useServer, PW, SLOW } from '../api/lib/server.mjs';
import { useBrowser, newPage, login, shot } from './lib.mjs';

const T = { timeout: 60000 * SLOW };

const CSV = `username,display_name,unit,title,manager
siti,Siti Rahayu,Hospital/Nursing/ICU,Head Nurse,
bob,Bob Santoso,Hospital/Nursing/ICU,Nurse,siti
`;

describe('web app: admin console', () => {
    const srv = useServer({
        users: [
            { name: 'admin', admin: true, displayname: 'Admin' },
            { name: 'bob', displayname: 'Bob' },
        ],
    });
    const b = useBrowser();
    let page;

    before(async () => {
        page = await newPage(b.browser, { viewport: { width: 1280, height: 900 } });
    });
    after(async () => {
        await page?.context().close();
    });

    it('a member sees no admin console', T, async () => {
        const p = await newPage(b.browser);
        try {
            await login(p, srv, 'bob', PW);
            // the role probe has answered: the Settings link is there, Admin is not
            await p.getByRole('link', { name: 'Settings' }).waitFor();
            await p.waitForTimeout(300);
            assert.equal(await p.getByRole('link', { name: 'Admin' }).count(), 0);
            await p.goto(`${srv.url}/admin`);
            await p.getByText('Your role has no access to the admin console.').waitFor();
        } finally {
            await p.context().close();
        }
    });

    it('People: the directory, and a CSV import with a dry run first', T, async () => {
        await login(page, srv, 'admin', PW);
        await page.getByRole('link', { name: 'Admin' }).click();
        // the console opens on the dashboard
        await page.getByRole('region', { name: 'Dashboard' }).waitFor();
        await page.getByRole('link', { name: 'People' }).click();
        const people = page.getByRole('region', { name: 'People' });
        await people.getByRole('cell', { name: /@bob:balai\.test/ }).waitFor();

        await people.getByText('Import from CSV').click();
        await people.locator('input[type=file]').setInputFiles({ name: 'staff.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
        await people.getByRole('button', { name: /Preview changes/ }).click();
        await people.getByRole('heading', { name: 'New (1)' }).waitFor();
        await people.getByRole('heading', { name: 'Changed (1)' }).waitFor();
        await people.getByRole('heading', { name: /New units/ }).waitFor();
        await shot(page, 'admin-import-preview');
        // nothing applied yet
        assert.equal(await people.getByRole('cell', { name: /@siti:balai\.test/ }).count(), 0);
        await people.getByRole('button', { name: 'Apply changes' }).click();
        await people.getByText('The import was applied.').waitFor();
        await people.getByRole('cell', { name: /@siti:balai\.test/ }).waitFor();
        await people.getByRole('cell', { name: 'Hospital/Nursing/ICU' }).first().waitFor();
        await shot(page, 'admin-people');
    });

    it('a CSV with errors lists them by line and changes nothing', T, async () => {
        const people = page.getByRole('region', { name: 'People' });
        await people.locator('input[type=file]').setInputFiles({
            name: 'bad.csv',
            mimeType: 'text/csv',
            buffer: Buffer.from('username,status\nbudi,sacked\n'),
        });
        await people.getByRole('button', { name: /Preview changes/ }).click();
        await people.getByText('The file has errors; nothing was changed:').waitFor();
        await people.getByText(/line 2/).waitFor();
    });

    it('an imported person gets a password from People and signs in', T, async () => {
        const people = page.getByRole('region', { name: 'People' });
        await people.getByRole('button', { name: 'Set password Siti Rahayu' }).click();
        const dialog = page.getByRole('dialog', { name: 'Set a password for Siti Rahayu' });
        await dialog.getByLabel('New password (at least 10 characters)').fill(PW);
        await shot(page, 'admin-set-password');
        await dialog.getByRole('button', { name: 'Save password' }).click();
        await dialog.getByText('The password of Siti Rahayu was set.').waitFor();
        await dialog.getByRole('button', { name: 'Close' }).click();
        const siti = await newPage(b.browser);
        try {
            await login(siti, srv, 'siti', PW);
        } finally {
            await siti.context().close();
        }
    });

    it('an admin adds a person who can then sign in', T, async () => {
        const people = page.getByRole('region', { name: 'People' });
        await people.getByText('Add a person').click();
        await people.getByLabel('User name (e.g. budi)').fill('dewi');
        await people.getByLabel('Display name').fill('Dewi Lestari');
        await people.getByLabel('Password (at least 10 characters)').fill(PW);
        await people.getByRole('button', { name: 'Create account' }).click();
        await people.getByText('@dewi:balai.test was created.').waitFor();
        await people.getByRole('cell', { name: /@dewi:balai\.test/ }).waitFor();
        const dewi = await newPage(b.browser);
        try {
            await login(dewi, srv, 'dewi', PW);
        } finally {
            await dewi.context().close();
        }
    });

    it('offboarding a user, confirmed, returns their open page to login and shows the signed record', T, async () => {
        const bob = await newPage(b.browser);
        try {
            await login(bob, srv, 'bob', PW);
            const people = page.getByRole('region', { name: 'People' });
            await people.getByRole('button', { name: 'Offboard Bob Santoso' }).click();
            const dialog = page.getByRole('alertdialog', { name: 'Offboard Bob Santoso?' });
            await dialog.getByLabel('Reason (optional)').fill('left the hospital');
            await shot(page, 'admin-offboard-confirm');
            await dialog.getByRole('button', { name: 'Offboard now' }).click();
            const rec = page.getByRole('dialog', { name: 'Offboarding record' });
            await rec.getByText('Bob Santoso was offboarded.').waitFor({ timeout: 30000 * SLOW });
            await rec.getByText(/signed by balai\.test/).waitFor();
            await rec.locator('pre', { hasText: 'id.balai.offboarding.v1' }).waitFor();
            await shot(page, 'admin-offboard-record');
            // bob's open page is back at the login screen
            await bob.getByRole('heading', { name: 'Sign in to Balai' }).waitFor();
            await rec.getByRole('button', { name: 'Close' }).click();
            await people.getByRole('row', { name: /@bob:balai\.test/ }).getByText('deactivated').waitFor();
        } finally {
            await bob.context().close();
        }
    });

    it('an organisation room: label badge, banner and rules in chat; listed in the room inventory', T, async () => {
        const tok = (await srv.login('admin')).access_token;
        const r = await srv.request('POST', '/_matrix/client/v3/createRoom', {
            token: tok,
            body: {
                name: 'ICU Handover',
                initial_state: [
                    { type: 'id.balai.room.classification', state_key: '', content: { label: 'confidential' } },
                    { type: 'id.balai.room.rules', state_key: '', content: { text: 'Patient data stays in this room.\nNo screenshots.' } },
                ],
            },
        });
        assert.equal(r.status, 200, r.text);
        await page.getByRole('link', { name: 'Chats' }).click();
        const item = page.getByRole('link', { name: /ICU Handover/ });
        await item.locator('.badge', { hasText: 'confidential' }).waitFor();
        await item.click();
        await page.getByRole('note').filter({ hasText: 'Classification: confidential' }).waitFor();
        await page.getByRole('button', { name: 'Room rules' }).click();
        await page.getByRole('region', { name: 'Room rules' }).getByText('No screenshots.').waitFor();
        await shot(page, 'room-classified');

        await page.getByRole('link', { name: 'Admin' }).click();
        await page.getByRole('link', { name: 'Rooms' }).click();
        const inv = page.getByRole('region', { name: 'Rooms' });
        const row = inv.getByRole('row', { name: /ICU Handover/ });
        await row.waitFor();
        await row.getByText('confidential').waitFor();
        await shot(page, 'admin-rooms');
        const [dl] = await Promise.all([page.waitForEvent('download'), inv.getByRole('button', { name: 'Download CSV' }).click()]);
        assert.equal(dl.suggestedFilename(), 'balai-rooms.csv');
        const csv = await (await dl.createReadStream()).toArray();
        assert.match(Buffer.concat(csv).toString(), /ICU Handover/);
    });

    it('the dashboard charts messages, active users and DLP incidents from /stats', T, async () => {
        const tok = (await srv.login('admin')).access_token;
        const rooms = assertOk(await srv.request('GET', '/_matrix/client/v3/joined_rooms', { token: tok })).joined_rooms;
        for (let i = 0; i < 3; i++)
            assertOk(
                await srv.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0])}/send/m.room.message/dash${i}`, {
                    token: tok,
                    body: { msgtype: 'm.text', body: `dashboard ${i}` },
                }),
            );
        const stats = assertOk(await srv.request('GET', '/_balai/admin/v1/stats?days=30', { token: tok }));
        assert.ok(stats.totals.messages >= 3);
        await page.getByRole('link', { name: 'Dashboard' }).click();
        const dash = page.getByRole('region', { name: 'Dashboard' });
        await dash.getByRole('figure').first().waitFor();
        assert.equal(await dash.locator('canvas').count(), 3);
        const totals = dash.locator('.totals');
        await totals.locator('div', { hasText: 'Messages' }).locator('dd', { hasText: String(stats.totals.messages) }).waitFor();
        await totals.locator('div', { hasText: 'Rooms' }).locator('dd', { hasText: String(stats.totals.rooms) }).waitFor();
        await dash.getByRole('img', { name: new RegExp(`^Messages per day\\. ${stats.totals.messages} in total`) }).waitFor();
        await dash.getByLabel('Period').selectOption('7');
        await dash.getByRole('img', { name: /^DLP incidents per week\./ }).waitFor();
        await shot(page, 'admin-dashboard');
    });

    it('the audit trail viewer lists entries and verifies the chain', T, async () => {
        await page.getByRole('link', { name: 'Audit trail' }).click();
        const audit = page.getByRole('region', { name: 'Audit trail' });
        await audit.getByRole('cell', { name: 'user.login' }).first().waitFor();
        await audit.getByRole('button', { name: 'Verify the chain' }).click();
        await audit.getByText(/Chain verified: \d+ entries, intact\./).waitFor();
        await shot(page, 'admin-audit');
        assert.deepEqual(page.errors, []);
    });
});
