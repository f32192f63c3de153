/* test_sync.c: sync tokens, the notifier, room visibility and /sync assembly. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/event.h"
#include "core/room.h"
#include "crypto/crypto.h"
#include "sync/notifier.h"
#include "sync/sync.h"
#include "sync/token.h"

static void tokens(void **state)
{
    struct balai_sync_token t = {{42, 1, 2, 3, 4, 5, 6}}, u;
    char buf[200];
    int64_t pos;
    balai_sync_token_format("ab12", &t, buf, sizeof(buf));
    assert_string_equal(buf, "sab12_42_1_2_3_4_5_6");
    assert_int_equal(balai_sync_token_parse(buf, "ab12", &u), BALAI_OK);
    assert_memory_equal(&t, &u, sizeof(t));
    assert_int_equal(balai_sync_token_parse(buf, "other", &u), BALAI_ESTATE);
    assert_int_equal(balai_page_token_parse(buf, "ab12", &pos), BALAI_OK);
    assert_int_equal(pos, 42);
    balai_page_token_format("ab12", 7, buf, sizeof(buf));
    assert_string_equal(buf, "tab12_7");
    assert_int_equal(balai_page_token_parse(buf, "ab12", &pos), BALAI_OK);
    assert_int_equal(pos, 7);
    static const char *const bad[] = {"",
                                      "x",
                                      "sab12",
                                      "sab12_",
                                      "sab12_1_2",
                                      "tab12_-1",
                                      "tab12_1x",
                                      "tab12_1_2",
                                      "s_1",
                                      "tab12__1",
                                      "sab12_1_2_3_4_5_6_7_8"};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++)
        assert_int_not_equal(balai_sync_token_parse(bad[i], "ab12", &u), BALAI_OK);
    /* a token from before the presence stream */
    assert_int_equal(balai_sync_token_parse("sab12_42_1_2_3_4_5", "ab12", &u), BALAI_OK);
    assert_int_equal(u.pos[BALAI_STREAM_PRESENCE], 0);
}

struct w {
    struct balai_waiter base;
    struct balai_notifier *n;
    int woken;
    int unpark;
};

static void wake(struct balai_waiter *bw)
{
    struct w *x = (struct w *)bw;
    x->woken++;
    if (x->unpark)
        balai_notifier_unpark(x->n, bw);
}

static void notifier(void **state)
{
    struct balai_notifier *n = balai_notifier_new();
    struct w a = {{NULL, NULL, NULL, wake}, n, 0, 1}, b = {{NULL, NULL, NULL, wake}, n, 0, 0},
             c = {{NULL, NULL, NULL, wake}, n, 0, 1};
    balai_notifier_park(n, "@a:x", &a.base);
    balai_notifier_park(n, "@a:x", &b.base);
    balai_notifier_park(n, "@c:x", &c.base);
    assert_int_equal(balai_notifier_parked(n), 3);
    balai_notifier_wake_user(n, "@a:x");
    assert_int_equal(a.woken, 1);
    assert_int_equal(b.woken, 1);
    assert_int_equal(c.woken, 0);
    assert_int_equal(balai_notifier_parked(n), 2);
    balai_notifier_wake_user(n, "@a:x");
    assert_int_equal(a.woken, 1);
    assert_int_equal(b.woken, 2);
    balai_notifier_wake_user(n, "@nobody:x");
    balai_notifier_unpark(n, &b.base);
    balai_notifier_unpark(n, &b.base); /* twice is fine */
    balai_notifier_wake_user(n, "@c:x");
    assert_int_equal(c.woken, 1);
    assert_int_equal(balai_notifier_parked(n), 0);
    balai_notifier_free(n);
}

/* ---- a room built by hand ---- */

static uint8_t sk[64];
static int64_t next_pos;

static struct balai_ev *mk(struct balai_room *r, const char *sender, const char *type,
                           const char *state_key, json_t *content)
{
    struct balai_event_key key = {"x", "ed25519:t", sk};
    struct balai_state_lookup view = balai_room_auth_view(r);
    int64_t depth;
    const char *head = balai_room_head(r, &depth);
    json_t *prev = json_array(), *pdu = NULL;
    char *id = NULL;
    if (head)
        json_array_append_new(prev, json_string(head));
    (void)view;
    struct balai_event_params p = {.room_version = "10",
                                   .room_id = balai_room_id(r),
                                   .sender = sender,
                                   .type = type,
                                   .state_key = state_key,
                                   .content = content,
                                   .origin_server_ts = 1000 + next_pos,
                                   .depth = depth + 1,
                                   .prev_events = prev,
                                   .key = &key};
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK);
    struct balai_ev *ev = balai_ev_new(pdu, id);
    free(id);
    json_decref(prev);
    json_decref(content);
    balai_room_add_pending(r, ev);
    ev->pos = ++next_pos;
    balai_room_commit(r, ev);
    balai_ev_unref(ev);
    return ev;
}

static json_t *member(const char *m)
{
    return json_pack("{s:s}", "membership", m);
}

static void visibility_and_sync(void **state)
{
    struct balai_rooms *rs = balai_rooms_new(8);
    const struct balai_room_version *rv = balai_room_version_get("10");
    struct balai_room *r = balai_rooms_add(rs, "!r:x", rv, "@a:x", 0);
    uint8_t pk[32];
    balai_sign_keypair(pk, sk);
    next_pos = 0;

    mk(r, "@a:x", "m.room.create", "",
       json_pack("{s:s, s:s}", "creator", "@a:x", "room_version", "10"));
    mk(r, "@a:x", "m.room.member", "@a:x", member("join"));
    balai_rooms_note_member(rs, r, "@a:x");
    struct balai_ev *early = mk(r, "@a:x", "m.room.message", NULL,
                                json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "before"));
    mk(r, "@a:x", "m.room.member", "@b:x", member("invite"));
    balai_rooms_note_member(rs, r, "@b:x");
    int64_t invited_at = next_pos;
    mk(r, "@b:x", "m.room.member", "@b:x", member("join"));
    struct balai_ev *later = mk(r, "@a:x", "m.room.message", NULL,
                                json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "after"));

    /* shared visibility: b joined later, so sees the earlier message too */
    assert_true(balai_room_visible(r, "@b:x", early));
    assert_true(balai_room_visible(r, "@b:x", later));
    assert_false(balai_room_visible(r, "@stranger:x", later));
    assert_string_equal(balai_room_membership(r, "@b:x"), "join");
    assert_string_equal(balai_room_membership_at(r, "@b:x", invited_at), "invite");
    assert_int_equal(balai_room_joined_count(r), 2);

    /* joined-only visibility from now on: c invited and joined after the change */
    mk(r, "@a:x", "m.room.history_visibility", "",
       json_pack("{s:s}", "history_visibility", "joined"));
    struct balai_ev *hidden = mk(r, "@a:x", "m.room.message", NULL,
                                 json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "secret"));
    mk(r, "@a:x", "m.room.member", "@c:x", member("invite"));
    mk(r, "@c:x", "m.room.member", "@c:x", member("join"));
    balai_rooms_note_member(rs, r, "@c:x");
    assert_false(balai_room_visible(r, "@c:x", hidden));
    assert_true(balai_room_visible(r, "@b:x", hidden));

    /* initial sync for c: the room is there; the hidden message is not */
    struct balai_sync_params p = {
        .user_id = "@c:x", .device_id = "D", .epoch = "e", .initial = 1, .timeline_limit = 50};
    struct balai_buf b;
    int has = 0;
    balai_buf_init(&b, 0);
    assert_int_equal(balai_sync_build(rs, &p, next_pos, &b, &has), BALAI_OK);
    assert_true(has);
    json_t *resp = json_loads(b.data, 0, NULL);
    assert_non_null(resp);
    json_t *room = json_object_get(json_object_get(json_object_get(resp, "rooms"), "join"), "!r:x");
    assert_non_null(room);
    assert_null(strstr(b.data, "secret"));
    assert_non_null(strstr(b.data, "\"m.joined_member_count\":3"));
    const char *next = json_string_value(json_object_get(resp, "next_batch"));
    assert_non_null(next);

    /* incremental sync with nothing new: no updates */
    struct balai_sync_params q = p;
    q.initial = 0;
    assert_int_equal(balai_sync_token_parse(next, "e", &q.since), BALAI_OK);
    balai_buf_reset(&b);
    has = 1;
    balai_sync_build(rs, &q, next_pos, &b, &has);
    assert_false(has);
    json_decref(resp);

    /* a new message arrives: incremental sync has exactly it */
    mk(r, "@a:x", "m.room.message", NULL,
       json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "new"));
    balai_buf_reset(&b);
    balai_sync_build(rs, &q, next_pos, &b, &has);
    assert_true(has);
    assert_non_null(strstr(b.data, "\"body\":\"new\""));
    assert_null(strstr(b.data, "\"body\":\"after\""));

    /* limited timeline when more events than the limit */
    q.timeline_limit = 1;
    q.since.pos[BALAI_STREAM_EVENTS] = 0;
    balai_buf_reset(&b);
    balai_sync_build(rs, &q, next_pos, &b, &has);
    assert_non_null(strstr(b.data, "\"limited\":true"));
    balai_buf_release(&b);
    balai_rooms_free(rs);
}

static void cache_floor(void **state)
{
    struct balai_rooms *rs = balai_rooms_new(4);
    struct balai_room *r = balai_rooms_add(rs, "!f:x", balai_room_version_get("10"), "@a:x", 0);
    next_pos = 100;
    mk(r, "@a:x", "m.room.create", "",
       json_pack("{s:s, s:s}", "creator", "@a:x", "room_version", "10"));
    mk(r, "@a:x", "m.room.member", "@a:x", member("join"));
    for (int i = 0; i < 10; i++)
        mk(r, "@a:x", "m.room.message", NULL,
           json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "m"));
    assert_int_equal(balai_room_first_pos(r), 101);
    assert_int_equal(balai_room_cache_floor(r), next_pos - 3);
    struct balai_ev *out[10];
    assert_int_equal(balai_room_cached_latest(r, next_pos, 10, out), 4);
    assert_int_equal(out[0]->pos, next_pos);
    balai_rooms_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens),
        cmocka_unit_test(notifier),
        cmocka_unit_test(visibility_and_sync),
        cmocka_unit_test(cache_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
