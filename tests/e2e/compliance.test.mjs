// compliance.test.mjs: the compliance screens of the admin console in a real
// browser: DLP incidents with a filter, the held-for-review queue (release
// one message into its room, delete another) and the reports queue
// (resolve), for an owner; a member sees none of it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertOk, useServer, PW, SLOW } from '../api/lib/server.mjs';
import { useBrowser, newPage, login, shot, until } from './lib.mjs';

const T = { timeout: 60000 * SLOW };
const A = '/_balai/admin/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const NIK = '3171014508900001';
const BPJS = '0001437852216';

let n = 0;
const txn = () => `cp${Date.now()}_${n++}`;

describe('web app: compliance screens', () => {
    const srv = useServer({
        users: [
            { name: 'root', admin: true, displayname: 'Root' },
            { name: 'alice', displayname: 'Alice' },
            { name: 'bob', displayname: 'Bob' },
        ],
    });
    const b = useBrowser();
    const tok = {};
    const req = (method, p, token, body) => srv.request(method, p, { token, body });
    const send = (room, body, token = tok.alice) => req('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, token, { msgtype: 'm.text', body });
    let page, secret, lobby, reported;

    before(async () => {
        for (const u of ['root', 'alice', 'bob']) tok[u] = (await srv.login(u)).access_token;
        assertOk(await req('PUT', `${A}/dlp/policy`, tok.root, { rules: 'confidential.health=hold' }));
        secret = assertOk(
            await req('POST', `${C}/createRoom`, tok.alice, {
                preset: 'private_chat',
                name: 'Ward Notes',
                initial_state: [{ type: 'id.balai.room.classification', state_key: '', content: { label: 'confidential' } }],
            }),
        ).room_id;
        assertOk(await send(secret, `NIK ${NIK} untuk rujukan`));
        assertError(await send(secret, `kartu BPJS pasien ${BPJS} aktif`), 403, 'ID.BALAI.DLP_HELD');
        assertError(await send(secret, `no bpjs 0002345678901 tolong dicek`), 403, 'ID.BALAI.DLP_HELD');
        lobby = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { preset: 'public_chat', name: 'Lobby' })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(lobby)}`, tok.bob, {}));
        reported = assertOk(await send(lobby, 'a rude message')).event_id;
        assertOk(await req('POST', `${C}/rooms/${enc(lobby)}/report/${enc(reported)}`, tok.bob, { reason: 'rude' }));
        page = await newPage(b.browser, { viewport: { width: 1280, height: 900 } });
    });
    after(async () => {
        await page?.context().close();
    });

    it('a member sees no compliance screens', T, async () => {
        const p = await newPage(b.browser);
        try {
            await login(p, srv, 'bob', PW);
            await p.goto(`${srv.url}/admin/compliance`);
            await p.getByText('Your role has no access to the admin console.').waitFor();
        } finally {
            await p.context().close();
        }
    });

    it('DLP incidents, filtered by action', T, async () => {
        await login(page, srv, 'root', PW);
        await page.getByRole('link', { name: 'Admin' }).click();
        await page.getByRole('link', { name: 'Compliance' }).click();
        const inc = page.getByRole('region', { name: 'DLP incidents' });
        await inc.getByText('3 incidents').waitFor();
        await inc.getByRole('row', { name: /audit/ }).getByText(/3171\*+0001/).waitFor();
        await inc.getByLabel('Action').selectOption('hold');
        await inc.getByText('2 incidents').waitFor();
        assert.equal(await inc.getByRole('row', { name: /@alice:balai\.test/ }).count(), 2);
        await shot(page, 'admin-incidents');
    });

    it('held messages: release one into its room, delete the other', T, async () => {
        const held = page.getByRole('region', { name: 'Held for review' });
        await until(async () => (await held.getByRole('button', { name: /^Release/ }).count()) === 2, 'two held messages');
        await shot(page, 'admin-held');
        await held.getByRole('button', { name: /^Release/ }).first().click();
        await held.getByText('The message of alice was released to its room.').waitFor();
        await until(async () => (await held.getByRole('button', { name: /^Release/ }).count()) === 1, 'one held message left');
        await held.getByRole('button', { name: /^Delete/ }).click();
        await held.getByText('The message of alice was deleted.').waitFor();
        await held.getByText('No message waits for review.').waitFor();
        const msgs = assertOk(await req('GET', `${C}/rooms/${enc(secret)}/messages?dir=b&limit=20`, tok.alice));
        const bodies = msgs.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
        assert.equal(bodies.filter((x) => /bpjs/i.test(x)).length, 1, JSON.stringify(bodies));
    });

    it('reports: resolve an open report', T, async () => {
        const reports = page.getByRole('region', { name: 'Reports' });
        const row = reports.getByRole('row', { name: /@bob:balai\.test/ });
        await row.getByText('rude', { exact: true }).waitFor();
        await row.getByText(reported).waitFor();
        await shot(page, 'admin-reports');
        await row.getByRole('button', { name: /^Resolve/ }).click();
        await reports.getByText(/Report #\d+ was resolved\./).waitFor();
        await reports.getByText('No reports.').waitFor();
        await reports.getByLabel('Show reports').selectOption('resolved');
        await reports.getByRole('row', { name: /@bob:balai\.test/ }).getByText('resolved').waitFor();
        assert.deepEqual(page.errors, []);
    });
});
