/* test_push.c: push rules (core/push.h) and the unread counts (api/unread.h). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/app.h"
#include "api/push_rules.h"
#include "api/unread.h"
#include "core/event.h"
#include "core/push.h"
#include "core/room.h"
#include "crypto/crypto.h"

#define ME "@alice:x"

/* ---- matching ---- */

static void globs(void **state)
{
    (void)state;
    assert_true(balai_push_glob("lunc?*", "Lunch plans", 11));
    assert_true(balai_push_glob("lunc?*", "LUNCH", 5));
    assert_false(balai_push_glob("lunc?*", " lunch", 6));
    assert_false(balai_push_glob("lunc?*", "lunc", 4));
    assert_true(balai_push_glob("", "", 0));
    assert_false(balai_push_glob("", "a", 1));
    assert_true(balai_push_glob("*", "", 0));
    assert_true(balai_push_glob("a*b*c", "aXXbYYc", 7));
    assert_false(balai_push_glob("a*b*c", "aXXbYYcd", 8));
    assert_true(balai_push_glob("m.notice", "m.notice", 8));
    assert_false(balai_push_glob("m.notice", "m.noticeX", 9));
    /* content.body: word-bounded substrings */
    const char *b = "An example event.";
    assert_true(balai_push_glob_words("ex*ple", b, strlen(b)));
    assert_true(balai_push_glob_words("ex*ple", "exple", 5));
    b = "An exciting triple-whammy";
    assert_true(balai_push_glob_words("ex*ple", b, strlen(b)));
    assert_false(balai_push_glob_words("cake", "cupcakes", 8));
    assert_true(balai_push_glob_words("cake", "a CAKE!", 7));
    assert_true(balai_push_glob_words("@room", "hi @room", 8));
    assert_false(balai_push_glob_words("@room", "hi@room", 7));
    assert_false(balai_push_glob_words("alice", "malice", 6));
    assert_true(balai_push_glob_words("cake*lie", "the cake is a lie", 17));
}

static void paths(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:{s:{s:[s]}, s:{s:s}, s:s}}", "content", "m.mentions", "user_ids",
                          ME, "m.relates_to", "rel_type", "m.replace", "a.b", "dotted");
    assert_true(json_is_array(balai_push_path_get(o, "content.m\\.mentions.user_ids")));
    assert_null(balai_push_path_get(o, "content.m.mentions.user_ids"));
    assert_string_equal(json_string_value(balai_push_path_get(o, "content.a\\.b")), "dotted");
    assert_null(balai_push_path_get(o, "content.nope"));
    json_decref(o);
}

/* ---- the default rule set ---- */

static const char *const override_ids[] = {
    ".m.rule.master",          ".m.rule.suppress_notices",      ".m.rule.invite_for_me",
    ".m.rule.member_event",    ".m.rule.is_user_mention",       ".m.rule.contains_display_name",
    ".m.rule.is_room_mention", ".m.rule.roomnotif",             ".m.rule.tombstone",
    ".m.rule.reaction",        ".m.rule.room.server_acl",       ".m.rule.suppress_edits",
};
static const char *const underride_ids[] = {
    ".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one",
    ".m.rule.message", ".m.rule.encrypted"};

static void defaults(void **state)
{
    (void)state;
    json_t *d = balai_push_defaults(ME);
    json_t *g = json_object_get(d, "global");
    json_t *ov = json_object_get(g, "override");
    assert_int_equal(json_array_size(ov), BALAI_ARRAY_LEN(override_ids));
    for (size_t i = 0; i < BALAI_ARRAY_LEN(override_ids); i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(ov, i), "rule_id")), override_ids[i]);
    json_t *un = json_object_get(g, "underride");
    assert_int_equal(json_array_size(un), BALAI_ARRAY_LEN(underride_ids));
    for (size_t i = 0; i < BALAI_ARRAY_LEN(underride_ids); i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(un, i), "rule_id")),
            underride_ids[i]);
    json_t *c = json_array_get(json_object_get(g, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "pattern")), "alice");
    json_t *inv = balai_push_find(d, BALAI_PUSH_OVERRIDE, ".m.rule.invite_for_me");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(inv, "conditions"), 2), "pattern")),
                        ME);
    assert_false(json_is_true(json_object_get(json_array_get(ov, 0), "enabled")));
    assert_int_equal(json_array_size(json_object_get(g, "room")), 0);
    assert_int_equal(json_array_size(json_object_get(g, "sender")), 0);
    json_decref(d);
}

/* ---- evaluation ---- */

static json_t *msg(const char *sender, const char *body)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type", "m.room.message", "sender", sender,
                     "room_id", "!r:x", "content", "msgtype", "m.text", "body", body);
}

static void eval_one(const struct balai_push_rules *r, json_t *pdu, const char *name,
                     size_t members, const struct balai_powerlevels *pl,
                     struct balai_push_result *out)
{
    struct balai_push_event e;
    struct balai_push_ctx c = {name, members};
    balai_push_event_init(&e, pdu, pl);
    balai_push_eval(r, &e, &c, out);
    balai_push_event_release(&e);
}

static void evaluation(void **state)
{
    (void)state;
    json_t *d = balai_push_defaults(ME);
    struct balai_push_rules *r = balai_push_compile(d);
    struct balai_push_result res;
    struct balai_powerlevels pl;
    json_t *plc = json_pack("{s:{s:i, s:i}}", "users", "@boss:x", 100, "@bob:x", 0);
    balai_pl_init(&pl, plc, "@boss:x");
    assert_int_equal(balai_push_rules_count(r), 17); /* master is disabled */

    json_t *e = msg("@bob:x", "hello");
    eval_one(r, e, "Alice", 5, &pl, &res);
    assert_true(res.notify);
    assert_false(res.highlight);
    assert_string_equal(res.rule_id, ".m.rule.message");
    eval_one(r, e, "Alice", 2, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.room_one_to_one");
    assert_string_equal(res.sound, "default");
    json_decref(e);

    e = msg("@bob:x", "hey alice, lunch?");
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_true(res.highlight);
    assert_string_equal(res.rule_id, ".m.rule.contains_user_name");
    json_decref(e);

    e = msg("@bob:x", "ask Queen Alice");
    eval_one(r, e, "queen alice", 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.contains_display_name");
    assert_true(res.highlight);
    json_decref(e);

    e = msg("@bob:x", "ping");
    json_object_set_new(json_object_get(e, "content"), "m.mentions",
                        json_pack("{s:[s]}", "user_ids", ME));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.is_user_mention");
    assert_true(res.highlight);
    json_decref(e);

    /* with m.mentions, the legacy name and @room rules no longer apply */
    e = msg("@boss:x", "hey alice @room");
    json_object_set_new(json_object_get(e, "content"), "m.mentions", json_object());
    eval_one(r, e, "alice", 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.message");
    assert_false(res.highlight);
    json_decref(e);

    /* @room needs the sender's power */
    e = msg("@bob:x", "@room lunch");
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.message");
    assert_false(res.highlight);
    json_object_set_new(e, "sender", json_string("@boss:x"));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.roomnotif");
    assert_true(res.highlight);
    json_object_set_new(json_object_get(e, "content"), "m.mentions",
                        json_pack("{s:b}", "room", 1));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.is_room_mention");
    json_decref(e);

    e = msg("@bob:x", "fyi");
    json_object_set_new(json_object_get(e, "content"), "msgtype", json_string("m.notice"));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_false(res.notify);
    assert_string_equal(res.rule_id, ".m.rule.suppress_notices");
    json_decref(e);

    e = msg("@bob:x", "* fixed");
    json_object_set_new(json_object_get(e, "content"), "m.relates_to",
                        json_pack("{s:s, s:s}", "rel_type", "m.replace", "event_id", "$x"));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_false(res.notify);
    assert_string_equal(res.rule_id, ".m.rule.suppress_edits");
    json_decref(e);

    e = json_pack("{s:s, s:s, s:s, s:{s:s}}", "type", "m.room.member", "sender", "@bob:x",
                  "state_key", ME, "content", "membership", "invite");
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_true(res.notify);
    assert_string_equal(res.rule_id, ".m.rule.invite_for_me");
    json_object_set_new(e, "state_key", json_string("@carol:x"));
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_false(res.notify);
    assert_string_equal(res.rule_id, ".m.rule.member_event");
    json_decref(e);

    e = json_pack("{s:s, s:s, s:s, s:{}}", "type", "m.room.tombstone", "sender", "@boss:x",
                  "state_key", "", "content");
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_true(res.highlight);
    json_decref(e);

    e = json_pack("{s:s, s:s, s:{}}", "type", "m.room.encrypted", "sender", "@bob:x", "content");
    eval_one(r, e, NULL, 2, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.encrypted_room_one_to_one");
    eval_one(r, e, NULL, 3, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.encrypted");
    json_decref(e);

    e = json_pack("{s:s, s:s, s:{}}", "type", "m.reaction", "sender", "@bob:x", "content");
    eval_one(r, e, NULL, 5, &pl, &res);
    assert_false(res.notify);
    json_decref(e);

    /* the fast path for users without their own rules gives the same answers */
    struct balai_push_rules *fast = balai_push_compile_defaults(ME);
    assert_int_equal(balai_push_rules_count(fast), balai_push_rules_count(r));
    const char *bodies[] = {"hello", "hey alice", "ALICE!", "@room now", "malice"};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bodies); i++) {
        struct balai_push_result a, b2;
        e = msg("@boss:x", bodies[i]);
        json_object_set_new(json_object_get(e, "content"), "m.mentions",
                            json_pack("{s:[s]}", "user_ids", i == 4 ? ME : "@other:x"));
        eval_one(r, e, "Al", 5, &pl, &a);
        eval_one(fast, e, "Al", 5, &pl, &b2);
        assert_string_equal(a.rule_id, b2.rule_id);
        assert_int_equal(a.highlight, b2.highlight);
        json_decref(e);
    }
    e = json_pack("{s:s, s:s, s:s, s:{s:s}}", "type", "m.room.member", "sender", "@bob:x",
                  "state_key", ME, "content", "membership", "invite");
    eval_one(fast, e, NULL, 5, &pl, &res);
    assert_string_equal(res.rule_id, ".m.rule.invite_for_me");
    json_decref(e);
    balai_push_rules_free(fast);

    balai_push_rules_free(r);
    json_decref(plc);
    json_decref(d);
}

static void conditions(void **state)
{
    (void)state;
    json_t *set = balai_push_defaults(ME);
    char reason[256];
    struct balai_push_result res;
    /* room_member_count operators */
    const char *ops[] = {"<3", ">=10", "==4", "<=2", ">4"};
    const int hit[][5] = {{1, 0, 0, 1, 0}, {0, 1, 0, 0, 1}, {0, 0, 1, 0, 0}};
    const size_t counts[] = {2, 10, 4};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(ops); i++) {
        json_t *b = json_pack("{s:[{s:s, s:s}], s:[s]}", "conditions", "kind",
                              "room_member_count", "is", ops[i], "actions", "notify");
        json_t *s2 = json_deep_copy(set);
        assert_int_equal(balai_push_put(s2, BALAI_PUSH_OVERRIDE, "mc", b, NULL, NULL, reason,
                                        sizeof(reason)),
                         BALAI_OK);
        struct balai_push_rules *r = balai_push_compile(s2);
        json_t *e = json_pack("{s:s, s:s, s:{}}", "type", "x.custom", "sender", "@b:x",
                              "content");
        for (size_t k = 0; k < 3; k++) {
            eval_one(r, e, NULL, counts[k], NULL, &res);
            assert_int_equal(res.notify, hit[k][i]);
        }
        json_decref(e);
        balai_push_rules_free(r);
        json_decref(s2);
        json_decref(b);
    }
    /* event_property_is with null and integers; contains ignores compound values */
    json_t *b = json_pack("{s:[{s:s, s:s, s:n}, {s:s, s:s, s:i}], s:[s, {s:s}]}", "conditions",
                          "kind", "event_property_is", "key", "content.a", "value", "kind",
                          "event_property_contains", "key", "content.list", "value", 7, "actions",
                          "notify", "set_tweak", "highlight");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_OVERRIDE, "props", b, NULL, NULL, reason,
                                    sizeof(reason)),
                     BALAI_OK);
    json_decref(b);
    struct balai_push_rules *r = balai_push_compile(set);
    json_t *e = json_pack("{s:s, s:s, s:{s:n, s:[{}, i]}}", "type", "x", "sender", "@b:x",
                          "content", "a", "list", 7);
    eval_one(r, e, NULL, 5, NULL, &res);
    assert_string_equal(res.rule_id, "props");
    assert_true(res.highlight);
    json_object_set_new(json_object_get(e, "content"), "a", json_false());
    eval_one(r, e, NULL, 5, NULL, &res);
    assert_null(res.rule_id);
    json_decref(e);
    balai_push_rules_free(r);
    /* an unknown condition kind is stored but never matches */
    b = json_pack("{s:[{s:s}], s:[s]}", "conditions", "kind", "org.example.future", "actions",
                  "notify");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_OVERRIDE, "future", b, NULL, NULL, reason,
                                    sizeof(reason)),
                     BALAI_OK);
    json_decref(b);
    r = balai_push_compile(set);
    e = json_pack("{s:s, s:s, s:{}}", "type", "x", "sender", "@b:x", "content");
    eval_one(r, e, NULL, 5, NULL, &res);
    assert_null(res.rule_id);
    json_decref(e);
    balai_push_rules_free(r);
    json_decref(set);
}

static const char *id_at(const json_t *set, const char *kind, size_t i)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(set, "global"), kind), i), "rule_id"));
}

static void editing(void **state)
{
    (void)state;
    json_t *set = balai_push_merge(NULL, ME);
    char reason[256];
    json_t *b = json_pack("{s:s, s:[s]}", "pattern", "cake", "actions", "notify");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "a", b, NULL, NULL, reason, 256), 0);
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "b", b, NULL, NULL, reason, 256), 0);
    /* new rules go first; after/before place them */
    assert_string_equal(id_at(set, "content", 0), "b");
    assert_string_equal(id_at(set, "content", 1), "a");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "c", b, NULL, "a", reason, 256), 0);
    assert_string_equal(id_at(set, "content", 2), "c");
    assert_string_equal(id_at(set, "content", 3), ".m.rule.contains_user_name");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "c", b, "b", NULL, reason, 256), 0);
    assert_string_equal(id_at(set, "content", 0), "c");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "d", b, "nope", NULL, reason, 256),
                     BALAI_ENOTFOUND);
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "d", b,
                                    ".m.rule.contains_user_name", NULL, reason, 256),
                     BALAI_EINVAL);
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, ".mine", b, NULL, NULL, reason, 256),
                     BALAI_EINVAL);
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "a/b", b, NULL, NULL, reason, 256),
                     BALAI_EINVAL);
    json_decref(b);
    /* an override goes after .m.rule.master */
    b = json_pack("{s:[], s:[]}", "conditions", "actions");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_OVERRIDE, "o", b, NULL, NULL, reason, 256), 0);
    assert_string_equal(id_at(set, "override", 0), ".m.rule.master");
    assert_string_equal(id_at(set, "override", 1), "o");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_ROOM, "notaroom", b, NULL, NULL, reason, 256),
                     BALAI_EINVAL);
    assert_int_equal(balai_push_put(set, BALAI_PUSH_ROOM, "!r:x", b, NULL, NULL, reason, 256), 0);
    json_decref(b);
    /* bad bodies */
    const char *bad[] = {
        "{}",
        "{\"actions\": \"notify\"}",
        "{\"actions\": [\"explode\"]}",
        "{\"actions\": [{\"set_tweak\": \"highlight\", \"value\": 1}]}",
        "{\"actions\": [], \"conditions\": {}}",
        "{\"actions\": [], \"conditions\": [{\"kind\": \"event_match\", \"key\": \"type\"}]}",
        "{\"actions\": [], \"conditions\": [{\"kind\": \"event_match\", \"key\": \"a..b\", "
        "\"pattern\": \"x\"}]}",
        "{\"actions\": [], \"conditions\": [{\"kind\": \"room_member_count\", \"is\": \"~2\"}]}",
        "{\"actions\": [], \"conditions\": [{\"kind\": \"event_property_is\", \"key\": \"a\", "
        "\"value\": {}}]}",
        "{\"actions\": [], \"conditions\": [7]}",
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        assert_int_equal(
            balai_push_put(set, BALAI_PUSH_OVERRIDE, "bad", j, NULL, NULL, reason, 256),
            BALAI_EINVAL);
        json_decref(j);
    }
    b = json_pack("{s:[s]}", "actions", "notify");
    assert_int_equal(balai_push_put(set, BALAI_PUSH_CONTENT, "nopattern", b, NULL, NULL, reason,
                                    256),
                     BALAI_EINVAL);
    json_decref(b);
    assert_int_equal(balai_push_delete(set, BALAI_PUSH_CONTENT, "a"), BALAI_OK);
    assert_int_equal(balai_push_delete(set, BALAI_PUSH_CONTENT, "a"), BALAI_ENOTFOUND);
    assert_int_equal(balai_push_delete(set, BALAI_PUSH_CONTENT, ".m.rule.contains_user_name"),
                     BALAI_EINVAL);

    /* merging keeps user rules and changes to the defaults, drops bad entries */
    json_object_set_new(balai_push_find(set, BALAI_PUSH_UNDERRIDE, ".m.rule.message"), "enabled",
                        json_false());
    json_array_append_new(json_object_get(json_object_get(set, "global"), "content"),
                          json_pack("{s:s}", "rule_id", "broken"));
    json_array_append_new(json_object_get(json_object_get(set, "global"), "content"),
                          json_pack("{s:s, s:s, s:[]}", "rule_id", ".m.rule.fake", "pattern", "x",
                                    "actions"));
    json_t *m = balai_push_merge(set, ME);
    assert_false(json_is_true(json_object_get(
        balai_push_find(m, BALAI_PUSH_UNDERRIDE, ".m.rule.message"), "enabled")));
    assert_non_null(balai_push_find(m, BALAI_PUSH_CONTENT, "c"));
    assert_null(balai_push_find(m, BALAI_PUSH_CONTENT, "broken"));
    assert_null(balai_push_find(m, BALAI_PUSH_CONTENT, ".m.rule.fake"));
    assert_string_equal(id_at(m, "override", 0), ".m.rule.master");
    assert_string_equal(id_at(m, "override", 1), "o");
    json_t *c0 = json_object_get(json_object_get(m, "global"), "content");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(c0, json_array_size(c0) - 1), "rule_id")),
        ".m.rule.contains_user_name");
    json_decref(m);
    json_decref(set);
}

/* ---- unread counts over a room built by hand ---- */

static uint8_t sk[64];
static int64_t next_pos;
static struct balai_app app;

static struct balai_ev *mk(struct balai_room *r, const char *sender, const char *type,
                           const char *state_key, json_t *content)
{
    struct balai_event_key key = {"x", "ed25519:t", sk};
    int64_t depth;
    const char *head = balai_room_head(r, &depth);
    json_t *prev = json_array(), *pdu = NULL;
    char *id = NULL;
    if (head)
        json_array_append_new(prev, json_string(head));
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
    if (ev->membership)
        balai_rooms_note_member(app.rooms, r, ev->state_key);
    balai_api_unread_event(&app, r, ev);
    balai_ev_unref(ev);
    return ev;
}

static struct balai_ev *say_in(struct balai_room *r, const char *sender, const char *body,
                               const char *thread_root)
{
    json_t *c = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", body);
    if (thread_root)
        json_object_set_new(c, "m.relates_to",
                            json_pack("{s:s, s:s}", "rel_type", "m.thread", "event_id",
                                      thread_root));
    return mk(r, sender, "m.room.message", NULL, c);
}

static void counts_of(const char *user, const char *thread, uint32_t n, uint32_t h)
{
    uint32_t gn, gh;
    balai_api_unread_get(&app, "!u:x", user, thread, &gn, &gh);
    assert_int_equal(gn, n);
    assert_int_equal(gh, h);
}

static void unread(void **state)
{
    (void)state;
    uint8_t pk[32];
    balai_sign_keypair(pk, sk);
    next_pos = 0;
    memset(&app, 0, sizeof(app));
    app.rooms = balai_rooms_new(BALAI_ROOM_CACHE);
    balai_api_push_rules_init(&app);
    balai_api_unread_init(&app);
    struct balai_room *r = balai_rooms_add(app.rooms, "!u:x", balai_room_version_get("10"),
                                           "@bob:x", 0);
    mk(r, "@bob:x", "m.room.create", "", json_pack("{s:s}", "room_version", "10"));
    mk(r, "@bob:x", "m.room.member", "@bob:x", json_pack("{s:s}", "membership", "join"));
    mk(r, "@alice:x", "m.room.member", "@alice:x",
       json_pack("{s:s, s:s}", "membership", "join", "displayname", "Al"));
    mk(r, "@carol:x", "m.room.member", "@carol:x", json_pack("{s:s}", "membership", "join"));
    counts_of(ME, NULL, 0, 0);

    struct balai_ev *e1 = say_in(r, "@bob:x", "hello", NULL);
    say_in(r, "@bob:x", "hi Al!", NULL);
    counts_of(ME, NULL, 2, 1);
    counts_of("@carol:x", NULL, 2, 0);
    counts_of("@bob:x", NULL, 0, 0); /* own messages never count */

    /* a receipt on the first resets up to it */
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read", NULL, e1->event_id);
    counts_of(ME, NULL, 1, 1);
    /* an older private receipt changes nothing */
    struct balai_ev *e3 = say_in(r, "@bob:x", "three", NULL);
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read.private", NULL, e1->event_id);
    counts_of(ME, NULL, 2, 1);
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read.private", NULL, e3->event_id);
    counts_of(ME, NULL, 0, 0);

    /* threads: counted apart; a threaded receipt clears its thread only */
    struct balai_ev *root = say_in(r, "@bob:x", "root", NULL);
    say_in(r, "@bob:x", "in thread", root->event_id);
    struct balai_ev *t2 = say_in(r, "@bob:x", "in thread again, alice", root->event_id);
    counts_of(ME, "main", 1, 0);
    counts_of(ME, root->event_id, 2, 1);
    counts_of(ME, NULL, 3, 1);
    struct balai_buf b;
    balai_buf_init(&b, 0);
    balai_api_unread_write(&app, ME, "!u:x", 1, &b);
    char want[400];
    snprintf(want, sizeof(want),
             ",\"unread_notifications\":{\"notification_count\":1,\"highlight_count\":0},"
             "\"unread_thread_notifications\":{\"%s\":{\"notification_count\":2,"
             "\"highlight_count\":1}}",
             root->event_id);
    assert_string_equal(b.data, want);
    balai_buf_release(&b);
    balai_buf_init(&b, 0);
    balai_api_unread_write(&app, ME, "!u:x", 0, &b);
    assert_string_equal(
        b.data, ",\"unread_notifications\":{\"notification_count\":3,\"highlight_count\":1}");
    balai_buf_release(&b);
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read", root->event_id, t2->event_id);
    counts_of(ME, root->event_id, 0, 0);
    counts_of(ME, "main", 1, 0);
    /* an unthreaded receipt clears every thread up to it */
    say_in(r, "@bob:x", "more thread", root->event_id);
    counts_of(ME, NULL, 2, 0);
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read", NULL, t2->event_id);
    counts_of(ME, NULL, 1, 0);
    counts_of(ME, root->event_id, 1, 0);

    /* the member's own message marks its thread read */
    say_in(r, "@bob:x", "main again", NULL);
    counts_of(ME, "main", 1, 0);
    say_in(r, ME, "my answer", NULL);
    counts_of(ME, "main", 0, 0);
    counts_of(ME, root->event_id, 1, 0);

    /* unknown receipt targets change nothing */
    balai_api_unread_receipt(&app, "!u:x", ME, "m.read", NULL, "$nope");
    counts_of(ME, NULL, 1, 0);
    /* notices don't count */
    mk(r, "@bob:x", "m.room.message", NULL,
       json_pack("{s:s, s:s}", "msgtype", "m.notice", "body", "bot"));
    counts_of(ME, NULL, 1, 0);

    balai_api_unread_free(app.unread);
    balai_api_push_rules_free(app.push_rules);
    balai_rooms_free(app.rooms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(globs),      cmocka_unit_test(paths),   cmocka_unit_test(defaults),
        cmocka_unit_test(evaluation), cmocka_unit_test(conditions), cmocka_unit_test(editing),
        cmocka_unit_test(unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
