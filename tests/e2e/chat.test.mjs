// chat.test.mjs: the employee web app in a real browser against a real
// `balai serve`: two users chat live in two browser contexts (DM from the
// directory, replies, reactions, edits, deletion, threads, receipts,
// typing), the session survives a reload, messages queued offline are sent
// once on reconnect, the DLP warn dialog, a token revoked on the server
// returns the page to login, and a phone-sized run of the main screens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, PW, SLOW } from '../api/lib/server.mjs';
import { useBrowser, newPage, login, shot, until, WAIT_MS } from './lib.mjs';

const T = { timeout: 60000 * SLOW };

describe('web app: employees', () => {
    const srv = useServer({
        users: [
            { name: 'alice', admin: true, displayname: 'Alice Wijaya' },
            { name: 'bob', displayname: 'Bob Santoso' },
            { name: 'carol', displayname: 'Carol' },
        ],
    });
    const b = useBrowser();
    let alice;
    let bob;

    before(async () => {
        alice = await newPage(b.browser);
        bob = await newPage(b.browser);
    });
    after(async () => {
        for (const p of [alice, bob]) await p?.context().close();
    });

    // a message of the main timeline by its own text (not a quote of it)
    const msg = (page, text) => page.locator('.room li.msg').filter({ has: page.locator(':scope > .body', { hasText: text }) });

    it('the login page follows the browser language and can switch', T, async () => {
        const p = await newPage(b.browser, { locale: 'id-ID' });
        try {
            await p.goto(`${srv.url}/`);
            await p.getByRole('heading', { name: 'Masuk ke Balai' }).waitFor();
            assert.equal(new URL(p.url()).pathname, '/login');
            await shot(p, 'login-id');
            await p.getByRole('button', { name: 'English' }).click();
            await p.getByRole('heading', { name: 'Sign in to Balai' }).waitFor();
            await p.getByLabel('User name').fill('alice');
            await p.getByLabel('Password').fill('wrong password!');
            await p.getByRole('button', { name: 'Sign in' }).click();
            await p.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
            assert.deepEqual(p.errors, []);
        } finally {
            await p.context().close();
        }
    });

    it('two users chat in real time (DM from the directory)', T, async () => {
        await login(alice, srv, 'alice', PW);
        await login(bob, srv, 'bob', PW);
        await shot(alice, 'room-list-empty');

        await alice.getByRole('button', { name: 'New message' }).click();
        await alice.getByLabel('Search colleagues by name, unit or title').fill('bob');
        await alice.getByRole('button', { name: 'Message Bob Santoso' }).click();
        await alice.getByRole('heading', { name: 'Bob Santoso', level: 2 }).waitFor();
        await alice.getByLabel('Write a message').fill('Halo Bob, see https://example.org/doc?x=1.');
        await alice.keyboard.press('Enter');
        await msg(alice, 'Halo Bob').locator('.msg-head').waitFor();

        // bob: the invitation, then the message
        await bob.getByRole('button', { name: 'Join' }).click();
        await msg(bob, 'Halo Bob').waitFor();
        const link = msg(bob, 'Halo Bob').getByRole('link', { name: 'https://example.org/doc?x=1' });
        assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
        assert.equal(await link.getAttribute('target'), '_blank');
        assert.equal(await link.getAttribute('href'), 'https://example.org/doc?x=1');

        // typing, then a live answer
        await bob.getByLabel('Write a message').fill('Hi Alice');
        await alice.locator('.typing', { hasText: 'Bob Santoso is typing' }).waitFor();
        await bob.keyboard.press('Enter');
        await msg(alice, 'Hi Alice').waitFor();
        // bob has the room open: his receipt reaches alice
        await alice.locator('.read-by', { hasText: 'Bob Santoso' }).first().waitFor();
        await shot(alice, 'room-desktop');
        assert.deepEqual(alice.errors, []);
        assert.deepEqual(bob.errors, []);
    });

    it('replies, reactions, edits and deletion show up on both sides', T, async () => {
        // reply
        await msg(alice, 'Hi Alice').hover();
        await msg(alice, 'Hi Alice').getByRole('button', { name: 'Reply', exact: true }).click();
        await alice.getByText('Replying to Bob Santoso').waitFor();
        await alice.getByLabel('Write a message').fill('Replying here');
        await alice.keyboard.press('Enter');
        await msg(bob, 'Replying here').locator('.reply-quote', { hasText: 'Hi Alice' }).waitFor();

        // reaction
        await msg(bob, 'Replying here').hover();
        await msg(bob, 'Replying here').getByRole('button', { name: 'React' }).click();
        await msg(bob, 'Replying here').getByRole('button', { name: '👍' }).click();
        await msg(alice, 'Replying here').locator('.reaction', { hasText: '👍 1' }).waitFor();

        // edit
        await msg(alice, 'Replying here').hover();
        await msg(alice, 'Replying here').getByRole('button', { name: 'Edit' }).click();
        await alice.getByText('Editing message').waitFor();
        await alice.getByLabel('Write a message').fill('Replying here, edited');
        await alice.keyboard.press('Enter');
        await msg(bob, 'Replying here, edited').locator('.edited', { hasText: '(edited)' }).waitFor();

        // delete own message
        alice.once('dialog', (d) => d.accept());
        await msg(alice, 'Halo Bob').hover();
        await msg(alice, 'Halo Bob').getByRole('button', { name: 'Delete' }).click();
        await until(async () => (await msg(bob, 'Halo Bob').count()) === 0, 'the deleted message to go');
        await bob.locator('.body.deleted', { hasText: 'Message deleted' }).first().waitFor();
        // others' messages offer no Delete
        await msg(alice, 'Hi Alice').hover();
        assert.equal(await msg(alice, 'Hi Alice').getByRole('button', { name: 'Delete' }).count(), 0);
    });

    it('threads open in a panel and replies arrive live', T, async () => {
        await msg(alice, 'Hi Alice').hover();
        await msg(alice, 'Hi Alice').getByRole('button', { name: 'Reply in thread' }).click();
        const panel = alice.getByRole('complementary', { name: 'Thread' });
        await panel.waitFor();
        assert.match(new URL(alice.url()).pathname, /^\/rooms\/[^/]+\/thread\/[^/]+$/);
        await panel.getByLabel('Reply in thread').fill('In the thread');
        await panel.getByLabel('Reply in thread').press('Enter');
        await panel.locator('li.msg', { hasText: 'In the thread' }).waitFor();
        // bob sees the count on the root and opens the thread
        await msg(bob, 'Hi Alice').getByRole('link', { name: '1 reply' }).click();
        await bob.getByRole('complementary', { name: 'Thread' }).locator('li.msg', { hasText: 'In the thread' }).waitFor();
        // the thread reply is not in the main timeline
        assert.equal(await bob.locator('.room li.msg', { hasText: 'In the thread' }).count(), 0);
        await shot(alice, 'thread');
        await alice.getByRole('link', { name: 'Close thread' }).click();
        await bob.getByRole('link', { name: 'Close thread' }).click();
    });

    it('a reload keeps the session', T, async () => {
        await alice.reload();
        await alice.getByRole('heading', { name: 'Bob Santoso', level: 2 }).waitFor();
        await msg(alice, 'Hi Alice').waitFor();
        assert.notEqual(new URL(alice.url()).pathname, '/login');
    });

    it('messages written offline are sent once on reconnect', T, async () => {
        await alice.context().setOffline(true);
        await alice.getByText('You are offline').waitFor();
        await alice.getByLabel('Write a message').fill('written offline 1');
        await alice.keyboard.press('Enter');
        await alice.getByLabel('Write a message').fill('written offline 2');
        await alice.keyboard.press('Enter');
        await alice.locator('li.msg.pending', { hasText: 'written offline 2' }).waitFor();
        await shot(alice, 'offline');
        await alice.context().setOffline(false);
        await msg(bob, 'written offline 2').waitFor({ timeout: 30000 * SLOW });
        await until(async () => (await alice.locator('li.msg.pending').count()) === 0, 'the queue to drain');
        await alice.getByText('You are offline').waitFor({ state: 'detached' });
        // each exactly once, in order
        const texts = await bob.locator('.room li.msg .body').allTextContents();
        assert.equal(texts.filter((x) => x.includes('written offline 1')).length, 1);
        assert.equal(texts.filter((x) => x.includes('written offline 2')).length, 1);
        assert.ok(texts.findIndex((x) => x.includes('written offline 1')) < texts.findIndex((x) => x.includes('written offline 2')));
    });

    it('a DLP warning opens the dialog; Edit, then Send anyway', T, async () => {
        // the server's DLP (docs/dlp.md): a NIK in a direct message is "warn"
        const confirmed = [];
        alice.on('request', (r) => {
            if (r.method() === 'PUT' && r.url().includes('/send/m.room.message/') && (r.postData() ?? '').includes('id.balai.dlp_confirm'))
                confirmed.push(r.postData());
        });
        await alice.getByLabel('Write a message').fill('NIK pasien 3171011205890001');
        await alice.keyboard.press('Enter');
        const dialog = alice.getByRole('alertdialog', { name: 'Check before sending' });
        await dialog.getByText('this looks like a NIK (national ID number)').waitFor();
        await shot(alice, 'dlp-warn');
        // Edit puts the text back into the composer; nothing was sent
        await dialog.getByRole('button', { name: 'Edit' }).click();
        await until(async () => (await alice.getByLabel('Write a message').inputValue()).includes('3171011205890001'), 'the draft back');
        assert.equal(await msg(bob, 'NIK pasien').count(), 0);
        await alice.keyboard.press('Enter');
        await dialog.getByRole('button', { name: 'Send anyway' }).click();
        await msg(bob, 'NIK pasien').waitFor();
        assert.equal(confirmed.length, 1);
        assert.equal(await alice.getByRole('alertdialog').count(), 0);
    });

    it('DLP block and mask answers are explained in plain words', T, async () => {
        // produced here in the documented shapes (docs/dlp.md): the default
        // policy blocks only bulk identifiers and masks nothing
        await alice.route('**/send/m.room.message/*', async (route) => {
            const body = JSON.parse(route.request().postData() || '{}');
            if (String(body.body).startsWith('blocked:'))
                await route.fulfill({
                    status: 403,
                    contentType: 'application/json',
                    body: JSON.stringify({
                        errcode: 'ID.BALAI.DLP_BLOCKED',
                        error: 'blocked',
                        'id.balai.findings': [{ type: 'card', category: 'card', name: 'card', masked: '************1111' }],
                    }),
                });
            else if (String(body.body).startsWith('masked:'))
                await route.fulfill({
                    status: 200,
                    contentType: 'application/json',
                    body: JSON.stringify({ event_id: '$masked', 'id.balai.masked': true, 'id.balai.findings': [] }),
                });
            else await route.continue();
        });
        try {
            await alice.getByLabel('Write a message').fill('blocked: 4111 1111 1111 1111');
            await alice.keyboard.press('Enter');
            const dialog = alice.getByRole('alertdialog', { name: 'Message not sent' });
            await dialog.getByText('this looks like a payment card number: ************1111').waitFor();
            await dialog.getByRole('button', { name: 'Edit' }).click();
            await alice.getByLabel('Write a message').fill('masked: 0812 3456 7890');
            await alice.keyboard.press('Enter');
            await alice.getByRole('status').filter({ hasText: 'were hidden before it was sent' }).waitFor();
        } finally {
            await alice.unroute('**/send/m.room.message/*');
        }
    });

    it('a token revoked on the server sends the open page back to login', T, async () => {
        // bob's page is open (its /sync parked); log out all of bob's devices through the API
        const tok = (await srv.login('bob')).access_token;
        const r = await srv.request('POST', '/_matrix/client/v3/logout/all', { token: tok, body: {} });
        assert.equal(r.status, 200);
        await bob.getByRole('heading', { name: 'Sign in to Balai' }).waitFor({ timeout: 5000 * SLOW });
        await bob.getByText('Your session ended').waitFor();
        assert.equal(new URL(bob.url()).pathname, '/login');
        assert.equal(await bob.evaluate(() => localStorage.getItem('balai.session')), null);
    });

    it('a phone-sized screen shows one pane at a time', T, async () => {
        const p = await newPage(b.browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
        try {
            await login(p, srv, 'alice', PW);
            await shot(p, 'mobile-room-list');
            await p.getByRole('link', { name: /Bob Santoso/ }).click();
            await p.getByRole('heading', { name: 'Bob Santoso', level: 2 }).waitFor();
            assert.equal(await p.getByRole('navigation', { name: 'Chats' }).isVisible(), false);
            await msg(p, 'Hi Alice').waitFor();
            await shot(p, 'mobile-room');
            await p.getByRole('link', { name: 'Back' }).click();
            await p.getByRole('navigation', { name: 'Chats' }).waitFor();
            await p.getByRole('link', { name: 'Settings' }).click();
            await p.getByLabel('Display name').fill('Alice W.');
            await p.getByRole('button', { name: 'Save' }).click();
            await p.getByText('Saved.').waitFor();
            await shot(p, 'mobile-settings');
            const w = await p.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(w <= 390, `no horizontal scrolling (width ${w})`);
            assert.deepEqual(p.errors, []);
        } finally {
            await p.context().close();
        }
    });
});
