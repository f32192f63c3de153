// history.test.mjs: scrolling back through a long room with /messages, unread
// counts in the room list, and keyboard use (dialogs, composer).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, PW, SLOW } from '../api/lib/server.mjs';
import { useBrowser, newPage, login, shot, until } from './lib.mjs';

const T = { timeout: 60000 * SLOW };
const C = '/_matrix/client/v3';

describe('web app: history, unread counts, keyboard', () => {
    const srv = useServer({ users: [{ name: 'alice' }, { name: 'bob', displayname: 'Bob' }] });
    const b = useBrowser();
    let page;
    let roomId;
    let bobTok;

    before(async () => {
        const alice = (await srv.login('alice')).access_token;
        bobTok = (await srv.login('bob')).access_token;
        const r = await srv.request('POST', `${C}/createRoom`, {
            token: alice,
            body: { name: 'Long room', invite: ['@bob:balai.test'] },
        });
        assert.equal(r.status, 200, r.text);
        roomId = r.json.room_id;
        assert.equal((await srv.request('POST', `${C}/join/${encodeURIComponent(roomId)}`, { token: bobTok, body: {} })).status, 200);
        for (let i = 1; i <= 80; i++) {
            const s = await srv.request('PUT', `${C}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/h${i}`, {
                token: bobTok,
                body: { msgtype: 'm.text', body: `history message ${i}` },
            });
            assert.equal(s.status, 200, s.text);
        }
        page = await newPage(b.browser);
    });
    after(async () => {
        await page?.context().close();
    });

    const msg = (text) => page.locator('.room li.msg').filter({ has: page.locator(':scope > .body', { hasText: new RegExp(`^${text}$`) }) });

    it('the room list shows the unread count', T, async () => {
        await login(page, srv, 'alice', PW);
        const item = page.getByRole('link', { name: /Long room/ });
        await item.locator('.count').waitFor();
        assert.match(await item.locator('.count').textContent(), /^(80|\d\d\+?)$/);
    });

    it('opening the room marks it read and shows the latest messages; older ones load on demand', T, async () => {
        await page.getByRole('link', { name: /Long room/ }).click();
        await msg('history message 80').waitFor();
        assert.equal(await msg('history message 1').count(), 0);
        await until(async () => (await page.getByRole('link', { name: /Long room/ }).locator('.count').count()) === 0, 'the count to clear');
        // scrolling to the top loads the page before, until the start
        await until(async () => {
            await page.locator('.timeline').evaluate((el) => {
                el.scrollTop = 0;
                el.dispatchEvent(new Event('scroll'));
            });
            return (await msg('history message 1').count()) > 0;
        }, 'the first message');
        await page.getByText('This is the start of the conversation.').waitFor();
        // every message once, in order
        const bodies = (await page.locator('.room li.msg .body').allTextContents()).filter((x) => x.startsWith('history message'));
        assert.equal(bodies.length, 80);
        assert.deepEqual(bodies, Array.from({ length: 80 }, (_, i) => `history message ${i + 1}`));
        await shot(page, 'history');
        // the read receipt reached the server: bob sees alice's receipt in /sync
        const s = await srv.request('GET', `${C}/sync?timeout=0`, { token: bobTok });
        const receipts = s.json.rooms.join[roomId].ephemeral.events.filter((e) => e.type === 'm.receipt');
        assert.ok(JSON.stringify(receipts).includes('@alice:balai.test'));
    });

    it('the keyboard is enough: dialogs close with Escape and give focus back; Enter sends', T, async () => {
        const newMsg = page.getByRole('button', { name: 'New message' });
        await newMsg.focus();
        await page.keyboard.press('Enter');
        const dialog = page.getByRole('dialog', { name: 'New message' });
        await dialog.waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Search colleagues by name, unit or title');
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'New message');
        await page.getByLabel('Write a message').focus();
        await page.keyboard.type('sent with the keyboard');
        await page.keyboard.press('Shift+Enter');
        await page.keyboard.type('second line');
        await page.keyboard.press('Enter');
        await page.locator('.room li.msg .body', { hasText: 'second line' }).waitFor();
        assert.equal(await page.locator('.room li.msg .body', { hasText: 'second line' }).textContent(), 'sent with the keyboard\nsecond line');
        assert.deepEqual(page.errors, []);
    });
});
