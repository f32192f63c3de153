/* test_filter.c: Matrix event filters (sync/filter.h): parsing, validation,
 * wildcards, precedence of not_* lists, limits, rooms, contains_url. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sync/filter.h"

/* Parses JSON text into a filter; returns the parse result. */
static int parse(const char *js, struct balai_filter **out, char *err, size_t errlen)
{
    json_t *j = json_loads(js, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    int rc = balai_filter_parse(j, out, err, errlen);
    json_decref(j);
    return rc;
}

static struct balai_filter *ok(const char *js)
{
    struct balai_filter *f = NULL;
    char err[200] = "";
    int rc = parse(js, &f, err, sizeof(err));
    if (rc != BALAI_OK)
        fail_msg("%s: %s", js, err);
    assert_non_null(f);
    return f;
}

static void bad(const char *js, const char *needle)
{
    struct balai_filter *f = (struct balai_filter *)1;
    char err[200] = "";
    assert_int_equal(parse(js, &f, err, sizeof(err)), BALAI_EINVAL);
    assert_null(f);
    if (needle && !strstr(err, needle))
        fail_msg("%s: message '%s' lacks '%s'", js, err, needle);
}

static void wildcards(void **state)
{
    (void)state;
    assert_true(balai_filter_type_match("m.room.message", "m.room.message"));
    assert_false(balai_filter_type_match("m.room.message", "m.room.messages"));
    assert_false(balai_filter_type_match("m.room.messages", "m.room.message"));
    assert_true(balai_filter_type_match("m.room.*", "m.room.message"));
    assert_true(balai_filter_type_match("m.room.*", "m.room."));
    assert_false(balai_filter_type_match("m.room.*", "m.roo"));
    assert_true(balai_filter_type_match("*", ""));
    assert_true(balai_filter_type_match("*", "anything"));
    assert_true(balai_filter_type_match("*.member", "m.room.member"));
    assert_false(balai_filter_type_match("*.member", "m.room.members"));
    assert_true(balai_filter_type_match("m.*.m*r", "m.room.member"));
    assert_true(balai_filter_type_match("a*b*c", "aXbYbZc"));
    assert_false(balai_filter_type_match("a*b*c", "aXbYbZ"));
    assert_true(balai_filter_type_match("**", "x"));
    assert_false(balai_filter_type_match("", "x"));
    assert_true(balai_filter_type_match("", ""));
}

static void defaults(void **state)
{
    (void)state;
    struct balai_filter *f = ok("{}");
    assert_true(f->is_default);
    assert_true(f->timeline.trivial);
    assert_int_equal(f->timeline.limit, 0);
    assert_int_equal(f->timeline.contains_url, -1);
    assert_true(balai_filter_room_ok(f, "!a:x"));
    assert_true(balai_event_filter_match(&f->timeline, "!a:x", "@u:x", "m.room.message", NULL));
    balai_filter_unref(f);
    /* a limit and thread counts keep it "default" for /sync */
    f = ok("{\"room\":{\"timeline\":{\"limit\":20,\"unread_thread_notifications\":true}},"
           "\"event_fields\":[\"content.body\"],\"event_format\":\"client\"}");
    assert_true(f->is_default);
    assert_int_equal(f->timeline.limit, 20);
    assert_true(f->timeline.unread_thread_notifications);
    balai_filter_unref(f);
    f = ok("{\"room\":{\"state\":{\"lazy_load_members\":true}}}");
    assert_false(f->is_default);
    assert_true(f->state.lazy_load_members);
    assert_false(f->state.include_redundant_members);
    balai_filter_unref(f);
    f = ok("{\"room\":{\"include_leave\":true}}");
    assert_false(f->is_default);
    assert_true(f->include_leave);
    balai_filter_unref(f);
    f = ok("{\"presence\":{\"limit\":3}}");
    assert_false(f->is_default);
    balai_filter_unref(f);
    f = ok("{\"presence\":{\"not_types\":[\"*\"]}}");
    assert_false(f->is_default);
    balai_filter_unref(f);
    f = ok("{\"room\":{\"not_rooms\":[]}}");
    assert_false(f->is_default);
    balai_filter_unref(f);
    /* unknown members are ignored */
    f = ok("{\"foo\":1,\"room\":{\"bar\":[],\"timeline\":{\"baz\":\"x\"}}}");
    assert_true(f->is_default);
    balai_filter_unref(f);
}

static void validation(void **state)
{
    (void)state;
    bad("[]", "object");
    bad("\"x\"", "object");
    bad("{\"room\":[]}", "'room'");
    bad("{\"room\":{\"timeline\":[]}}", "room.timeline");
    bad("{\"room\":{\"timeline\":{\"limit\":0}}}", "room.timeline.limit");
    bad("{\"room\":{\"timeline\":{\"limit\":-5}}}", "positive");
    bad("{\"room\":{\"timeline\":{\"limit\":1.5}}}", "positive");
    bad("{\"room\":{\"timeline\":{\"limit\":\"10\"}}}", "positive");
    bad("{\"presence\":{\"limit\":0}}", "presence.limit");
    bad("{\"room\":{\"state\":{\"types\":\"m.room.name\"}}}", "room.state.types");
    bad("{\"room\":{\"state\":{\"types\":[1]}}}", "room.state.types");
    bad("{\"room\":{\"timeline\":{\"senders\":[\"alice\"]}}}", "user ids");
    bad("{\"room\":{\"rooms\":[\"#alias:x\"]}}", "room ids");
    bad("{\"room\":{\"ephemeral\":{\"not_rooms\":[null]}}}", "not_rooms");
    bad("{\"room\":{\"timeline\":{\"contains_url\":\"yes\"}}}", "contains_url");
    bad("{\"room\":{\"state\":{\"lazy_load_members\":1}}}", "lazy_load_members");
    bad("{\"room\":{\"include_leave\":\"true\"}}", "include_leave");
    bad("{\"account_data\":5}", "account_data");
    bad("{\"event_fields\":\"content\"}", "event_fields");
    bad("{\"event_fields\":[5]}", "event_fields");
    bad("{\"event_format\":\"federation\"}", "not supported");
    bad("{\"event_format\":\"xml\"}", "event_format");
    bad("{\"event_format\":1}", "event_format");
    /* a huge limit is accepted and capped */
    struct balai_filter *f = ok("{\"room\":{\"timeline\":{\"limit\":99999999999}}}");
    assert_int_equal(f->timeline.limit, 1000000);
    balai_filter_unref(f);
}

static void matching(void **state)
{
    (void)state;
    struct balai_filter *f =
        ok("{\"room\":{\"timeline\":{\"types\":[\"m.room.*\",\"org.x\"],"
           "\"not_types\":[\"m.room.member\"],\"senders\":[\"@a:x\",\"@b:x\"],"
           "\"not_senders\":[\"@b:x\"],\"rooms\":[\"!r1:x\",\"!r2:x\"],\"not_rooms\":[\"!r2:x\"]}}}");
    const struct balai_event_filter *t = &f->timeline;
    assert_false(t->trivial);
    assert_true(balai_event_filter_match(t, "!r1:x", "@a:x", "m.room.message", NULL));
    assert_true(balai_event_filter_match(t, "!r1:x", "@a:x", "org.x", NULL));
    assert_false(balai_event_filter_match(t, "!r1:x", "@a:x", "org.xy", NULL));
    /* not_types wins over types */
    assert_false(balai_event_filter_match(t, "!r1:x", "@a:x", "m.room.member", NULL));
    /* not_senders wins over senders */
    assert_false(balai_event_filter_match(t, "!r1:x", "@b:x", "m.room.message", NULL));
    assert_false(balai_event_filter_match(t, "!r1:x", "@c:x", "m.room.message", NULL));
    /* not_rooms wins over rooms */
    assert_false(balai_event_filter_match(t, "!r2:x", "@a:x", "m.room.message", NULL));
    assert_false(balai_event_filter_match(t, "!r3:x", "@a:x", "m.room.message", NULL));
    assert_true(balai_event_filter_room_ok(t, "!r1:x"));
    assert_false(balai_event_filter_room_ok(t, "!r2:x"));
    /* no sender (ephemeral, account data): the sender lists do not apply */
    assert_true(balai_event_filter_match(t, "!r1:x", NULL, "m.room.topic", NULL));
    balai_filter_unref(f);

    /* an empty positive list allows nothing; an empty negative one excludes nothing */
    f = ok("{\"room\":{\"timeline\":{\"types\":[]},\"state\":{\"not_types\":[]},"
           "\"rooms\":[]},\"presence\":{\"senders\":[]}}");
    assert_false(balai_event_filter_match(&f->timeline, "!r:x", "@a:x", "m.room.message", NULL));
    assert_true(balai_event_filter_match(&f->state, "!r:x", "@a:x", "m.room.name", NULL));
    assert_false(balai_filter_room_ok(f, "!r:x"));
    assert_false(balai_event_filter_match(&f->presence, NULL, "@a:x", "m.presence", NULL));
    balai_filter_unref(f);

    /* the room-level lists */
    f = ok("{\"room\":{\"not_rooms\":[\"!no:x\"]}}");
    assert_true(balai_filter_room_ok(f, "!yes:x"));
    assert_false(balai_filter_room_ok(f, "!no:x"));
    assert_true(balai_filter_room_ok(NULL, "!no:x"));
    balai_filter_unref(f);

    /* '*' in not_types excludes everything */
    f = ok("{\"account_data\":{\"not_types\":[\"*\"]}}");
    assert_false(balai_event_filter_match(&f->account_data, NULL, NULL, "m.direct", NULL));
    balai_filter_unref(f);
}

static void contains_url(void **state)
{
    (void)state;
    json_t *with = json_pack("{s:s, s:s}", "msgtype", "m.image", "url", "mxc://x/y");
    json_t *bad_url = json_pack("{s:s, s:i}", "msgtype", "m.image", "url", 5);
    json_t *without = json_pack("{s:s}", "msgtype", "m.text");
    struct balai_filter *f =
        ok("{\"room\":{\"timeline\":{\"contains_url\":true},\"state\":{\"contains_url\":false}}}");
    assert_true(balai_event_filter_match(&f->timeline, "!r:x", "@a:x", "m.room.message", with));
    assert_false(balai_event_filter_match(&f->timeline, "!r:x", "@a:x", "m.room.message", without));
    assert_false(balai_event_filter_match(&f->timeline, "!r:x", "@a:x", "m.room.message", bad_url));
    assert_false(balai_event_filter_match(&f->timeline, "!r:x", "@a:x", "m.room.message", NULL));
    assert_false(balai_event_filter_match(&f->state, "!r:x", "@a:x", "m.room.message", with));
    assert_true(balai_event_filter_match(&f->state, "!r:x", "@a:x", "m.room.message", without));
    balai_filter_unref(f);

    /* a room event, through balai_event_filter_match_ev */
    json_t *pdu = json_pack("{s:s, s:s, s:s, s:O}", "type", "m.room.message", "sender", "@a:x",
                            "room_id", "!r:x", "content", with);
    struct balai_ev *ev = balai_ev_new(pdu, "$e");
    struct balai_event_filter rf;
    char err[200];
    json_t *j = json_loads("{\"contains_url\":true,\"not_senders\":[\"@b:x\"],"
                           "\"lazy_load_members\":true,\"limit\":5}",
                           0, NULL);
    assert_int_equal(balai_filter_parse_room_event(j, &rf, err, sizeof(err)), BALAI_OK);
    assert_int_equal(rf.limit, 5);
    assert_true(rf.lazy_load_members);
    assert_true(balai_event_filter_match_ev(&rf, "!r:x", ev));
    balai_event_filter_clear(&rf);
    json_decref(j);
    j = json_loads("[1]", 0, NULL);
    assert_int_equal(balai_filter_parse_room_event(j, &rf, err, sizeof(err)), BALAI_EINVAL);
    balai_event_filter_clear(&rf);
    json_decref(j);
    j = json_loads("{\"types\":{}}", 0, NULL);
    assert_int_equal(balai_filter_parse_room_event(j, &rf, err, sizeof(err)), BALAI_EINVAL);
    balai_event_filter_clear(&rf);
    json_decref(j);
    balai_ev_unref(ev);
    json_decref(with);
    json_decref(bad_url);
    json_decref(without);
}

static void refs(void **state)
{
    (void)state;
    struct balai_filter *f = ok("{\"room\":{\"timeline\":{\"types\":[\"a\"]}}}");
    assert_ptr_equal(balai_filter_ref(f), f);
    balai_filter_unref(f);
    balai_filter_unref(f);
    balai_filter_unref(NULL);
    assert_null(balai_filter_ref(NULL));
    balai_event_filter_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wildcards),  cmocka_unit_test(defaults),     cmocka_unit_test(validation),
        cmocka_unit_test(matching),   cmocka_unit_test(contains_url), cmocka_unit_test(refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
