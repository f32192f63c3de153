// stats.test.mjs: the admin statistics of the dashboard,
// GET /_balai/admin/v1/stats?days=N: the shape (one entry per UTC day,
// oldest first; one per week for DLP incidents), the numbers after known
// messages and a DLP incident, the roles (owner, admin, compliance; others
// 403; no token 401) and the validation of `days`.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const DAY = 86400000;
const NIK = '3171014508900001';

let n = 0;
const txn = () => `st${Date.now()}_${n++}`;

describe('admin statistics', () => {
    const srv = useServer({
        users: [{ name: 'root', admin: true }, { name: 'alice' }, { name: 'bob' }, { name: 'comp' }, { name: 'hrp' }],
    });
    const tok = {};
    const req = (method, p, token, body) => srv.request(method, p, { token, body });
    const stats = async (q = '', token = tok.root) => assertOk(await req('GET', `${A}/stats${q}`, token));
    const send = async (room, body, token) =>
        assertOk(await req('PUT', `${C}/rooms/${enc(room)}/send/m.room.message/${txn()}`, token, { msgtype: 'm.text', body }));
    let room, secret;

    before(async () => {
        for (const u of ['root', 'alice', 'bob', 'comp', 'hrp']) tok[u] = (await srv.login(u)).access_token;
        for (const [u, role] of [['comp', 'compliance'], ['hrp', 'hr']])
            assertOk(await req('PUT', `${A}/users/${enc(srv.userId(u))}/role`, tok.root, { role }));
        room = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { preset: 'public_chat', name: 'Stats' })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(room)}`, tok.bob, {}));
        secret = assertOk(
            await req('POST', `${C}/createRoom`, tok.alice, {
                preset: 'private_chat',
                initial_state: [{ type: 'id.balai.room.classification', state_key: '', content: { label: 'confidential' } }],
            }),
        ).room_id;
    });

    it('the shape: one entry per day and per week, totals', T, async () => {
        const s = await stats();
        assert.equal(s.days, 30);
        assert.equal(s.messages_per_day.length, 30);
        const today = Math.floor(Date.now() / DAY) * DAY;
        const last = s.messages_per_day.at(-1);
        assert.ok(last.ts === today || last.ts === today - DAY, 'the last entry is today (UTC)');
        assert.equal(s.since, s.messages_per_day[0].ts);
        for (let i = 1; i < 30; i++) assert.equal(s.messages_per_day[i].ts - s.messages_per_day[i - 1].ts, DAY);
        assert.match(last.day, /^\d{4}-\d{2}-\d{2}$/);
        assert.equal(new Date(last.ts).toISOString().slice(0, 10), last.day);
        for (const d of s.messages_per_day) {
            assert.equal(typeof d.messages, 'number');
            assert.equal(typeof d.active_users, 'number');
        }
        const weeks = s.dlp_incidents_per_week;
        assert.ok(weeks.length >= 5 && weeks.length <= 6, `weeks: ${weeks.length}`);
        for (const w of weeks) {
            assert.equal(new Date(w.ts).getUTCDay(), 1, 'weeks start on Monday');
            assert.equal(new Date(w.ts).toISOString().slice(0, 10), w.week);
        }
        assert.ok(weeks[0].ts <= s.since && weeks[0].ts > s.since - 7 * DAY);
        assert.equal(s.totals.messages, 0);
        assert.equal(s.totals.dlp_incidents, 0);
        assert.equal(s.totals.users, 5);
        assert.ok(s.totals.rooms >= 2);
        const one = await stats('?days=1');
        assert.equal(one.messages_per_day.length, 1);
        assert.equal((await stats('?days=90')).messages_per_day.length, 90);
    });

    it('counts the messages, the active users and the DLP incidents', T, async () => {
        for (let i = 0; i < 3; i++) await send(room, `halo ${i}`, tok.alice);
        for (let i = 0; i < 2; i++) await send(room, `hai ${i}`, tok.bob);
        // a confidential room stores a NIK and records an incident (docs/dlp.md)
        await send(secret, `NIK ${NIK} untuk rujukan`, tok.alice);
        let s;
        for (let i = 0; i < 100; i++) {
            s = await stats('?days=7');
            if (s.totals.dlp_incidents >= 1) break;
        }
        assert.equal(s.totals.messages, 6);
        assert.equal(s.totals.dlp_incidents, 1);
        const busy = s.messages_per_day.filter((d) => d.messages > 0);
        assert.equal(busy.reduce((a, d) => a + d.messages, 0), 6);
        assert.ok(busy.every((d) => d.active_users >= 1 && d.active_users <= 2));
        // all were sent just now: one day, unless the test straddles midnight UTC
        if (busy.length === 1) {
            assert.equal(busy[0].messages, 6);
            assert.equal(busy[0].active_users, 2);
            assert.equal(s.totals.active_users, 2);
        }
        assert.equal(s.dlp_incidents_per_week.reduce((a, w) => a + w.incidents, 0), 1);
        assert.equal(s.dlp_incidents_per_week.at(-1).incidents, 1);
        // the compliance officer sees the same figures
        assert.deepEqual((await stats('?days=7', tok.comp)).totals, s.totals);
    });

    it('roles: member and hr 403; no token 401; a bad token 401', T, async () => {
        assertError(await req('GET', `${A}/stats`, tok.alice), 403, 'M_FORBIDDEN');
        assertError(await req('GET', `${A}/stats`, tok.hrp), 403, 'M_FORBIDDEN');
        assertError(await req('GET', `${A}/stats`), 401, 'M_MISSING_TOKEN');
        assertError(await req('GET', `${A}/stats`, 'nope'), 401, 'M_UNKNOWN_TOKEN');
    });

    it('days must be 1 to 90', T, async () => {
        for (const d of ['0', '91', 'abc', '', '-1', '7x'])
            assertError(await req('GET', `${A}/stats?days=${d}`, tok.root), 400, 'M_INVALID_PARAM');
    });
});
