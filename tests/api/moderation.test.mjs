// moderation.test.mjs: moderation tools (docs/dlp.md): a moderator redacts a
// message in an organisation room they are not in (the system user carries it
// out, with the reason; audited), the Matrix report endpoint and the report
// queue (resolve, dismiss), and suspension (a suspended user logs in and
// reads but every write answers 403 M_USER_SUSPENDED; durable; audited),
// with the roles of every endpoint.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { assertError, assertOk, SLOW, sleep, useServer } from './lib/server.mjs';

const T = { timeout: 60_000 * SLOW };
const A = '/_balai/admin/v1';
const C = '/_matrix/client/v3';
const enc = encodeURIComponent;
const RELAXED = { BALAI_LOGIN_ACCOUNT_FAILURES: 100000, BALAI_LOGIN_IP_ATTEMPTS: 100000 };

let n = 0;
const txn = () => `mod${Date.now()}_${n++}`;

describe('moderation', () => {
    const srv = useServer({
        env: RELAXED,
        users: [{ name: 'root', admin: true }, { name: 'alice' }, { name: 'bob' }, { name: 'carol' }, { name: 'mod' }],
    });
    const tok = {};
    let room, msg, msg2;

    const req = (method, p, token, body) => srv.request(method, p, { token, body });
    const send = (r, body, token = tok.alice) =>
        req('PUT', `${C}/rooms/${enc(r)}/send/m.room.message/${txn()}`, token, { msgtype: 'm.text', body });
    const auditUntil = async (q, pred) => {
        let j;
        for (let i = 0; i < 100; i++) {
            j = assertOk(await req('GET', `${A}/audit${q}`, tok.root));
            if (pred(j.entries)) return j;
            await sleep(20);
        }
        return j;
    };

    before(async () => {
        for (const u of ['root', 'alice', 'bob', 'carol', 'mod']) tok[u] = (await srv.login(u)).access_token;
        assertOk(await req('PUT', `${A}/users/${enc(srv.userId('mod'))}/role`, tok.root, { role: 'moderator' }));
        room = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { preset: 'public_chat', name: 'Umum' })).room_id;
        assertOk(await req('POST', `${C}/join/${enc(room)}`, tok.bob, {}));
        msg = assertOk(await send(room, 'pesan yang kasar sekali')).event_id;
        msg2 = assertOk(await send(room, 'pesan biasa')).event_id;
    });

    describe('moderator redaction', () => {
        it('a moderator redacts in a room they are not in; the system user carries it out', T, async () => {
            const r = assertOk(await req('POST', `${A}/rooms/${enc(room)}/redact/${enc(msg)}`, tok.mod, { reason: 'melanggar aturan' }));
            const red = assertOk(await req('GET', `${C}/rooms/${enc(room)}/event/${enc(r.event_id)}`, tok.alice));
            assert.equal(red.type, 'm.room.redaction');
            assert.equal(red.sender, '@balai:balai.test');
            assert.equal(red.content.reason, 'melanggar aturan');
            const ev = assertOk(await req('GET', `${C}/rooms/${enc(room)}/event/${enc(msg)}`, tok.alice));
            assert.deepEqual(ev.content, {});
            const a = await auditUntil(`?action=moderation.redact&target=${enc(msg)}`, (e) => e.length >= 1);
            assert.equal(a.entries[0].actor, srv.userId('mod'));
            assert.equal(a.entries[0].detail.reason, 'melanggar aturan');
            assert.equal(a.entries[0].detail.sender, srv.userId('alice'));
        });

        it('errors: members 403, no token 401, unknown event/room 404, direct rooms 403', T, async () => {
            assertError(await req('POST', `${A}/rooms/${enc(room)}/redact/${enc(msg2)}`, tok.bob, {}), 403, 'M_FORBIDDEN');
            assertError(await req('POST', `${A}/rooms/${enc(room)}/redact/${enc(msg2)}`, undefined, {}), 401, 'M_MISSING_TOKEN');
            assertError(await req('POST', `${A}/rooms/${enc(room)}/redact/${enc('$nope')}`, tok.mod, {}), 404, 'M_NOT_FOUND');
            assertError(await req('POST', `${A}/rooms/${enc('!nope:balai.test')}/redact/${enc(msg2)}`, tok.mod, {}), 404, 'M_NOT_FOUND');
            assertError(await req('POST', `${A}/rooms/${enc(room)}/redact/${enc(msg2)}`, tok.mod, { reason: 5 }), 400, 'M_BAD_JSON');
            const dm = assertOk(await req('POST', `${C}/createRoom`, tok.alice, { is_direct: true, preset: 'trusted_private_chat', invite: [srv.userId('bob')] })).room_id;
            const dmMsg = assertOk(await send(dm, 'rahasia berdua')).event_id;
            assertError(await req('POST', `${A}/rooms/${enc(dm)}/redact/${enc(dmMsg)}`, tok.mod, {}), 403, 'M_FORBIDDEN');
        });
    });

    describe('reports', () => {
        let id1, id2;
        it('a member who sees the event reports it; others get 404', T, async () => {
            assert.deepEqual(assertOk(await req('POST', `${C}/rooms/${enc(room)}/report/${enc(msg2)}`, tok.bob, { reason: 'spam', score: -100 })), {});
            assertOk(await req('POST', `${C}/rooms/${enc(room)}/report/${enc(msg2)}`, tok.bob, {}));
            // carol is not in the room (and history is shared with members only)
            assertError(await req('POST', `${C}/rooms/${enc(room)}/report/${enc(msg2)}`, tok.carol, { reason: 'x' }), 404, 'M_NOT_FOUND');
            assertError(await req('POST', `${C}/rooms/${enc(room)}/report/${enc('$nope')}`, tok.bob, {}), 404, 'M_NOT_FOUND');
            assertError(await req('POST', `${C}/rooms/${enc(room)}/report/${enc(msg2)}`, tok.bob, { score: 5 }), 400, 'M_BAD_JSON');
            assertError(await req('POST', `${C}/rooms/${enc(room)}/report/${enc(msg2)}`, undefined, {}), 401, 'M_MISSING_TOKEN');
        });

        it('the queue: list, resolve, dismiss', T, async () => {
            const q = assertOk(await req('GET', `${A}/reports?status=open`, tok.mod));
            assert.equal(q.reports.length, 2);
            const r0 = q.reports.find((r) => r.reason === 'spam');
            assert.equal(r0.reporter, srv.userId('bob'));
            assert.equal(r0.event_id, msg2);
            assert.equal(r0.room_id, room);
            assert.equal(r0.score, -100);
            id1 = r0.id;
            id2 = q.reports.find((r) => r.id !== id1).id;
            let r = assertOk(await req('POST', `${A}/reports/${id1}/resolve`, tok.mod, { note: 'pengirim ditegur' }));
            assert.equal(r.status, 'resolved');
            assertError(await req('POST', `${A}/reports/${id1}/resolve`, tok.mod, {}), 404, 'M_NOT_FOUND');
            r = assertOk(await req('POST', `${A}/reports/${id2}/dismiss`, tok.mod, {}));
            assert.equal(r.status, 'dismissed');
            const resolved = assertOk(await req('GET', `${A}/reports?status=resolved`, tok.mod));
            assert.equal(resolved.reports.length, 1);
            assert.equal(resolved.reports[0].resolved_by, srv.userId('mod'));
            assert.equal(resolved.reports[0].note, 'pengirim ditegur');
            assert.equal(assertOk(await req('GET', `${A}/reports?status=open`, tok.mod)).reports.length, 0);
            assertError(await req('GET', `${A}/reports?status=weird`, tok.mod), 400, 'M_INVALID_PARAM');
            assertError(await req('POST', `${A}/reports/abc/resolve`, tok.mod, {}), 404, 'M_NOT_FOUND');
            await auditUntil('?action=moderation.report.*', (e) => e.length >= 2);
        });

        it('members cannot read the queue', T, async () => {
            assertError(await req('GET', `${A}/reports`, tok.bob), 403, 'M_FORBIDDEN');
            assertError(await req('POST', `${A}/reports/${id2}/resolve`, tok.bob, {}), 403, 'M_FORBIDDEN');
            assertError(await req('GET', `${A}/reports`), 401, 'M_MISSING_TOKEN');
        });
    });

    describe('suspension', () => {
        const susp = (user, suspended, token = tok.mod) =>
            req('PUT', `${A}/users/${enc(srv.userId(user))}/suspended`, token, { suspended });

        it('a suspended user can read but not write', T, async () => {
            const r = assertOk(await susp('bob', true));
            assert.equal(r.suspended, true);
            assert.equal(assertOk(await req('GET', `${A}/users/${enc(srv.userId('bob'))}/suspended`, tok.mod)).suspended, true);
            const e = await send(room, 'halo', tok.bob);
            assertError(e, 403, 'M_USER_SUSPENDED');
            assert.match(e.json.error, /suspended/);
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/state/m.room.topic`, tok.bob, { topic: 'x' }), 403, 'M_USER_SUSPENDED');
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/redact/${enc(msg2)}/${txn()}`, tok.bob, {}), 403, 'M_USER_SUSPENDED');
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/typing/${enc(srv.userId('bob'))}`, tok.bob, { typing: true, timeout: 1000 }), 403, 'M_USER_SUSPENDED');
            assertError(await req('POST', `${C}/createRoom`, tok.bob, {}), 403, 'M_USER_SUSPENDED');
            // reading still works, and logging in
            assertOk(await req('GET', `${C}/rooms/${enc(room)}/messages?dir=b&limit=5`, tok.bob));
            assertOk(await req('GET', `${C}/sync?timeout=0`, tok.bob));
            tok.bob = (await srv.login('bob')).access_token;
            await auditUntil(`?action=moderation.suspend&target=${enc(srv.userId('bob'))}`, (x) => x.length >= 1);
        });

        it('suspended: profile, every room-changing path and status text refused; receipts allowed', T, async () => {
            const bob = srv.userId('bob');
            const S = 'M_USER_SUSPENDED';
            const before = assertOk(await req('GET', `${C}/profile/${enc(bob)}/displayname`, tok.bob)).displayname;
            assertError(await req('PUT', `${C}/profile/${enc(bob)}/displayname`, tok.bob, { displayname: 'Bob Baru' }), 403, S);
            assertError(await req('PUT', `${C}/profile/${enc(bob)}/avatar_url`, tok.bob, { avatar_url: 'mxc://balai.test/abc' }), 403, S);
            assert.equal(assertOk(await req('GET', `${C}/profile/${enc(bob)}/displayname`, tok.bob)).displayname, before);
            // state: with a state key, and the trailing-slash form
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/state/m.room.name/`, tok.bob, { name: 'x' }), 403, S);
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/state/org.example.x/kunci`, tok.bob, { a: 1 }), 403, S);
            // membership of others, joining, aliases, the room directory, org metadata and archiving
            assertError(await req('POST', `${C}/rooms/${enc(room)}/invite`, tok.bob, { user_id: srv.userId('carol') }), 403, S);
            assertError(await req('POST', `${C}/rooms/${enc(room)}/kick`, tok.bob, { user_id: srv.userId('alice') }), 403, S);
            const other = assertOk(await req('POST', `${C}/createRoom`, tok.carol, { preset: 'public_chat' })).room_id;
            assertError(await req('POST', `${C}/join/${enc(other)}`, tok.bob, {}), 403, S);
            assertError(await req('PUT', `${C}/directory/room/${enc('#bob:balai.test')}`, tok.bob, { room_id: room }), 403, S);
            assertOk(await req('PUT', `${C}/directory/room/${enc('#umum:balai.test')}`, tok.alice, { room_id: room }));
            assertError(await req('DELETE', `${C}/directory/room/${enc('#umum:balai.test')}`, tok.bob), 403, S);
            assertError(await req('PUT', `${C}/directory/list/room/${enc(room)}`, tok.bob, { visibility: 'public' }), 403, S);
            assertError(await req('PUT', `/_balai/client/v1/rooms/${enc(room)}`, tok.bob, { purpose: 'x' }), 403, S);
            assertError(await req('POST', `/_balai/client/v1/rooms/${enc(room)}/archive`, tok.bob, {}), 403, S);
            // typing is refused; presence without text is not, a status text is
            assertError(await req('PUT', `${C}/rooms/${enc(room)}/typing/${enc(bob)}`, tok.bob, { typing: false }), 403, S);
            assertOk(await req('PUT', `${C}/presence/${enc(bob)}/status`, tok.bob, { presence: 'online' }));
            assertError(await req('PUT', `${C}/presence/${enc(bob)}/status`, tok.bob, { presence: 'online', status_msg: 'hubungi saya' }), 403, S);
            // reading: receipts and read markers
            assertOk(await req('POST', `${C}/rooms/${enc(room)}/receipt/m.read/${enc(msg2)}`, tok.bob, {}));
            assertOk(await req('POST', `${C}/rooms/${enc(room)}/read_markers`, tok.bob, { 'm.fully_read': msg2, 'm.read': msg2 }));
            // still a member of the room
            const m = assertOk(await req('GET', `${C}/rooms/${enc(room)}/state/m.room.member/${enc(bob)}`, tok.alice));
            assert.equal(m.membership, 'join');
        });

        it('durable across a restart; lifting it lets the user write again', T, async () => {
            await srv.restart();
            for (const u of ['root', 'alice', 'bob', 'mod']) tok[u] = (await srv.login(u)).access_token;
            assertError(await send(room, 'halo', tok.bob), 403, 'M_USER_SUSPENDED');
            assertOk(await susp('bob', false));
            assertOk(await send(room, 'halo lagi', tok.bob));
            await auditUntil(`?action=moderation.unsuspend`, (x) => x.length >= 1);
        });

        it('errors: roles, bad body, unknown user, self', T, async () => {
            assertError(await susp('carol', true, tok.alice), 403, 'M_FORBIDDEN');
            assertError(await req('PUT', `${A}/users/${enc(srv.userId('carol'))}/suspended`, undefined, { suspended: true }), 401, 'M_MISSING_TOKEN');
            assertError(await req('PUT', `${A}/users/${enc(srv.userId('carol'))}/suspended`, tok.mod, { suspended: 'yes' }), 400, 'M_BAD_JSON');
            assertError(await req('PUT', `${A}/users/${enc('@ghost:balai.test')}/suspended`, tok.mod, { suspended: true }), 404, 'M_NOT_FOUND');
            assertError(await susp('mod', true), 403, 'M_FORBIDDEN');
        });
    });
});
