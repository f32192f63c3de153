/* test_auth.c: power levels and the room v10/v11 authorization rules, one test per rule. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/auth.h"
#include "core/powerlevels.h"
#include "core/state.h"

#define ROOM "!room:d"
#define CREATOR "@creator:d"
#define MOD "@mod:d"
#define MOD2 "@mod2:d"
#define ALICE "@alice:d"
#define BOB "@bob:d"

static struct balai_room_state *st;
static struct balai_state_lookup lk;
static const char *version;
static char reason[256];
static int next_id;

/* ---- fixtures ---- */

/* A PDU; takes ownership of content. state_key NULL for a message event. */
static json_t *ev(const char *type, const char *sender, const char *state_key, json_t *content)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:o, s:[s], s:[], s:i, s:i}", "type", type, "sender",
                          sender, "room_id", ROOM, "content", content, "prev_events", "$prev",
                          "auth_events", "depth", 2, "origin_server_ts", 1);
    if (state_key)
        json_object_set_new(e, "state_key", json_string(state_key));
    return e;
}

static json_t *member(const char *sender, const char *target, const char *membership)
{
    return ev("m.room.member", sender, target, json_pack("{s:s}", "membership", membership));
}

/* Puts pdu (ownership taken) into the state under a fresh id. */
static void put(json_t *pdu)
{
    char id[32];
    snprintf(id, sizeof(id), "$ev%d", next_id++);
    assert_int_equal(balai_state_set(st, id, pdu), BALAI_OK);
    json_decref(pdu);
}

static void set_member(const char *user, const char *membership)
{
    put(member(user, user, membership));
}

static json_t *create_event(void)
{
    json_t *c = json_pack("{s:s}", "room_version", version);
    json_t *e;
    if (strcmp(version, "10") == 0)
        json_object_set_new(c, "creator", json_string(CREATOR));
    e = ev("m.room.create", CREATOR, "", c);
    json_array_clear(json_object_get(e, "prev_events"));
    return e;
}

static json_t *default_pl(void)
{
    return json_pack("{s:{s:i, s:i, s:i}, s:{s:i}}", "users", CREATOR, 100, MOD, 50, MOD2, 50,
                     "events", "m.room.power_levels", 50);
}

/* A fresh room: create only. */
static void new_room(const char *v)
{
    balai_state_free(st);
    st = balai_state_new();
    lk = balai_state_lookup_of(st);
    version = v;
    next_id = 0;
    put(create_event()); /* id $ev0 */
}

/* A room with members creator, mod, mod2, alice (joined), power levels and a join rule. */
static void full_room(const char *v, const char *rule)
{
    new_room(v);
    set_member(CREATOR, "join");
    put(ev("m.room.power_levels", CREATOR, "", default_pl()));
    put(ev("m.room.join_rules", CREATOR, "", json_pack("{s:s}", "join_rule", rule)));
    set_member(MOD, "join");
    set_member(MOD2, "join");
    set_member(ALICE, "join");
}

static int check(json_t *pdu)
{
    int rc;
    reason[0] = '\0';
    rc = balai_auth_check(version, pdu, &lk, reason, sizeof(reason));
    json_decref(pdu);
    return rc;
}

#define ALLOW(pdu)                                                                                 \
    do {                                                                                           \
        int rc_ = check(pdu);                                                                      \
        if (rc_ != BALAI_OK)                                                                       \
            fail_msg("line %d: refused: %s", __LINE__, reason);                                    \
    } while (0)

#define DENY(pdu, why)                                                                             \
    do {                                                                                           \
        int rc_ = check(pdu);                                                                      \
        if (rc_ != BALAI_EFORBIDDEN)                                                               \
            fail_msg("line %d: rc %d, expected a refusal", __LINE__, rc_);                         \
        if (!strstr(reason, why))                                                                  \
            fail_msg("line %d: reason '%s' lacks '%s'", __LINE__, reason, why);                    \
    } while (0)

static int teardown(void **state)
{
    balai_state_free(st);
    st = NULL;
    return 0;
}

/* ---- power levels ---- */

static void pl_defaults(void **state)
{
    struct balai_powerlevels pl;

    balai_pl_init(&pl, NULL, CREATOR);
    assert_int_equal(balai_pl_user_level(&pl, CREATOR), 100);
    assert_int_equal(balai_pl_user_level(&pl, ALICE), 0);
    assert_int_equal(balai_pl_event_level(&pl, "m.room.message", 0), 0);
    assert_int_equal(balai_pl_event_level(&pl, "m.room.topic", 1), 50);
    assert_int_equal(pl.ban, 50);
    assert_int_equal(pl.kick, 50);
    assert_int_equal(pl.redact, 50);
    assert_int_equal(pl.invite, 0);
    assert_int_equal(balai_pl_notification_level(&pl, "room"), 50);

    json_t *c = json_pack("{s:{s:i}, s:i, s:i, s:i, s:{s:i}, s:{s:i}, s:s}", "users", ALICE, 7,
                          "users_default", 3, "state_default", 20, "events_default", 5, "events",
                          "m.room.topic", 1, "notifications", "room", 9, "ban", "string");
    balai_pl_init(&pl, c, CREATOR);
    assert_int_equal(balai_pl_user_level(&pl, ALICE), 7);
    assert_int_equal(balai_pl_user_level(&pl, CREATOR), 3); /* content wins over creator */
    assert_int_equal(balai_pl_event_level(&pl, "m.room.topic", 1), 1);
    assert_int_equal(balai_pl_event_level(&pl, "m.room.name", 1), 20);
    assert_int_equal(balai_pl_event_level(&pl, "m.room.message", 0), 5);
    assert_int_equal(balai_pl_notification_level(&pl, "room"), 9);
    assert_int_equal(pl.ban, 50); /* a string counts as absent */
    json_decref(c);

    c = balai_pl_default_content(CREATOR);
    assert_int_equal(balai_pl_validate(c, reason, sizeof(reason)), BALAI_OK);
    balai_pl_init(&pl, c, NULL);
    assert_int_equal(balai_pl_user_level(&pl, CREATOR), 100);
    assert_int_equal(balai_pl_event_level(&pl, "m.room.power_levels", 1), 100);
    json_decref(c);

    assert_true(balai_pl_user_id_ok("@a:b"));
    assert_false(balai_pl_user_id_ok("@:b"));
    assert_false(balai_pl_user_id_ok("@a:"));
    assert_false(balai_pl_user_id_ok("a:b"));
}

static void pl_validate(void **state)
{
    static const char *const bad[] = {
        "{\"ban\": \"50\"}",
        "{\"kick\": 1.5}",
        "{\"invite\": null}",
        "{\"users_default\": true}",
        "{\"events\": []}",
        "{\"events\": {\"m.room.name\": \"50\"}}",
        "{\"notifications\": 1}",
        "{\"notifications\": {\"room\": \"50\"}}",
        "{\"users\": {\"alice\": 1}}",
        "{\"users\": {\"@a:d\": \"1\"}}",
        "{\"state_default\": 9007199254740992}",
    };
    size_t i;

    for (i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        json_t *c = json_loads(bad[i], 0, NULL);
        assert_non_null(c);
        if (balai_pl_validate(c, reason, sizeof(reason)) != BALAI_EFORBIDDEN)
            fail_msg("accepted %s", bad[i]);
        json_decref(c);
    }
    json_t *c = json_loads("{\"ban\": -5, \"events\": {\"x\": 1}, \"users\": {\"@a:d\": 1}, "
                           "\"notifications\": {\"room\": 20}, \"other\": \"ignored\"}",
                           0, NULL);
    assert_int_equal(balai_pl_validate(c, reason, sizeof(reason)), BALAI_OK);
    json_decref(c);
}

/* ---- rule 1: m.room.create ---- */

static void rule_create(void **state)
{
    json_t *e;

    new_room("10");
    ALLOW(create_event());
    e = create_event();
    json_array_append_new(json_object_get(e, "prev_events"), json_string("$x"));
    DENY(e, "previous events");
    e = create_event();
    json_object_set_new(e, "sender", json_string("@creator:elsewhere"));
    DENY(e, "same server");
    e = create_event();
    json_object_set_new(json_object_get(e, "content"), "room_version", json_string("99"));
    DENY(e, "not supported");
    e = create_event();
    json_object_del(json_object_get(e, "content"), "room_version");
    DENY(e, "version 1 is not supported");
    e = create_event();
    json_object_set_new(json_object_get(e, "content"), "room_version", json_string("11"));
    DENY(e, "room version 11, not 10");
    e = create_event();
    json_object_del(json_object_get(e, "content"), "creator");
    DENY(e, "creator");

    new_room("11"); /* v11: no creator needed */
    e = create_event();
    assert_null(json_object_get(json_object_get(e, "content"), "creator"));
    ALLOW(e);
}

/* ---- rules 2.4 and 3: the room must exist; m.federate ---- */

static void rule_room_and_federation(void **state)
{
    json_t *e;

    balai_state_free(st);
    st = balai_state_new();
    lk = balai_state_lookup_of(st);
    version = "10";
    DENY(ev("m.room.message", ALICE, NULL, json_object()), "no create event");

    full_room("10", "public");
    e = ev("m.room.message", ALICE, NULL, json_object());
    json_object_set_new(e, "room_id", json_string("!other:d"));
    DENY(e, "another room");

    new_room("10");
    e = create_event();
    json_object_set_new(json_object_get(e, "content"), "m.federate", json_false());
    put(e);
    set_member(CREATOR, "join");
    put(ev("m.room.join_rules", CREATOR, "", json_pack("{s:s}", "join_rule", "public")));
    DENY(member("@eve:other", "@eve:other", "join"), "other servers");
    ALLOW(member("@dave:d", "@dave:d", "join"));
}

/* ---- rule 4.1 and 4.8: membership shape ---- */

static void rule_member_shape(void **state)
{
    full_room("10", "public");
    DENY(ev("m.room.member", ALICE, NULL, json_pack("{s:s}", "membership", "join")), "state_key");
    DENY(ev("m.room.member", ALICE, ALICE, json_object()), "membership");
    DENY(member(ALICE, ALICE, "dance"), "Unknown membership");
}

/* ---- rule 4.3: join ---- */

static void rule_join_first(void **state)
{
    json_t *e;
    const char *v[] = {"10", "11"};
    size_t i;

    for (i = 0; i < 2; i++) {
        new_room(v[i]);
        e = member(CREATOR, CREATOR, "join");
        json_array_set_new(json_object_get(e, "prev_events"), 0, json_string("$ev0"));
        ALLOW(e);
        /* Not the creator: ordinary rules (invite-only by default). */
        e = member(ALICE, ALICE, "join");
        json_array_set_new(json_object_get(e, "prev_events"), 0, json_string("$ev0"));
        DENY(e, "You must be invited to join this room");
        /* The creator, but not right after the create event. */
        DENY(member(CREATOR, CREATOR, "join"), "You must be invited");
    }
}

static void rule_join(void **state)
{
    full_room("10", "public");
    ALLOW(member(BOB, BOB, "join"));
    ALLOW(member(ALICE, ALICE, "join")); /* already joined: a profile change */
    DENY(member(ALICE, BOB, "join"), "only join a room as yourself");
    set_member(BOB, "ban");
    DENY(member(BOB, BOB, "join"), "You are banned from this room");

    full_room("10", "invite");
    DENY(member(BOB, BOB, "join"), "You must be invited to join this room");
    put(member(ALICE, BOB, "invite"));
    ALLOW(member(BOB, BOB, "join"));
    ALLOW(member(ALICE, ALICE, "join"));

    full_room("10", "knock");
    DENY(member(BOB, BOB, "join"), "You must be invited");
    put(member(ALICE, BOB, "invite"));
    ALLOW(member(BOB, BOB, "join"));

    full_room("10", "restricted");
    DENY(member(BOB, BOB, "join"), "restricted join");
    put(member(ALICE, BOB, "invite"));
    ALLOW(member(BOB, BOB, "join"));

    full_room("11", "knock_restricted");
    DENY(member(BOB, BOB, "join"), "restricted join");

    full_room("10", "private");
    DENY(member(BOB, BOB, "join"), "join rule (private)");
}

/* ---- rule 4.4: invite ---- */

static void rule_invite(void **state)
{
    json_t *e, *pl;

    full_room("10", "invite");
    ALLOW(member(ALICE, BOB, "invite"));
    DENY(member(BOB, "@carol:d", "invite"), "You must be in the room to invite");
    DENY(member(ALICE, MOD, "invite"), "already in the room");
    set_member(BOB, "ban");
    DENY(member(ALICE, BOB, "invite"), "banned");
    set_member(BOB, "invite");
    ALLOW(member(ALICE, BOB, "invite")); /* re-invite */

    e = member(ALICE, "@carol:d", "invite");
    json_object_set_new(json_object_get(e, "content"), "third_party_invite", json_object());
    DENY(e, "Third-party invites are not supported");

    pl = default_pl();
    json_object_set_new(pl, "invite", json_integer(50));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    DENY(member(ALICE, "@carol:d", "invite"),
         "Your power level (0) is below the 50 needed to invite users");
    ALLOW(member(MOD, "@carol:d", "invite"));
}

/* ---- rule 4.5: leave, kick, unban ---- */

static void rule_leave(void **state)
{
    json_t *pl;

    full_room("10", "invite");
    ALLOW(member(ALICE, ALICE, "leave"));
    set_member(BOB, "invite");
    ALLOW(member(BOB, BOB, "leave")); /* rejecting an invite */
    set_member(BOB, "knock");
    ALLOW(member(BOB, BOB, "leave")); /* withdrawing a knock */
    set_member(BOB, "leave");
    DENY(member(BOB, BOB, "leave"), "You are not in this room");
    DENY(member("@carol:d", "@carol:d", "leave"), "You are not in this room");
    set_member(BOB, "ban");
    DENY(member(BOB, BOB, "leave"), "You are banned");

    /* Kicks. */
    ALLOW(member(MOD, ALICE, "leave"));
    DENY(member(ALICE, MOD2, "leave"), "Your power level (0) is below the 50 needed to kick users");
    DENY(member(MOD, CREATOR, "leave"),
         "You cannot kick a user whose power level is equal to or above yours");
    DENY(member(MOD, MOD2, "leave"), "equal to or above yours");
    DENY(member("@carol:d", ALICE, "leave"), "You must be in the room");

    /* Unbans: ban and kick levels, and a target below the sender. */
    ALLOW(member(MOD, BOB, "leave"));
    pl = default_pl();
    json_object_set_new(pl, "ban", json_integer(75));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    DENY(member(MOD, BOB, "leave"), "Your power level (50) is below the 75 needed to unban users");
    ALLOW(member(CREATOR, BOB, "leave"));
}

/* ---- rule 4.6: ban ---- */

static void rule_ban(void **state)
{
    full_room("11", "invite");
    ALLOW(member(MOD, ALICE, "ban"));
    ALLOW(member(MOD, "@stranger:d", "ban")); /* may ban someone not in the room */
    DENY(member(ALICE, BOB, "ban"), "Your power level (0) is below the 50 needed to ban users");
    DENY(member(MOD, CREATOR, "ban"),
         "You cannot ban a user whose power level is equal to or above yours");
    DENY(member(MOD, MOD2, "ban"), "equal to or above yours");
    set_member(MOD2, "leave");
    DENY(member(MOD2, ALICE, "ban"), "You must be in the room to ban users");
}

/* ---- rule 4.7: knock ---- */

static void rule_knock(void **state)
{
    full_room("10", "knock");
    ALLOW(member(BOB, BOB, "knock"));
    DENY(member(ALICE, BOB, "knock"), "only knock as yourself");
    DENY(member(ALICE, ALICE, "knock"), "already in this room");
    set_member(BOB, "invite");
    DENY(member(BOB, BOB, "knock"), "already invited");
    set_member(BOB, "ban");
    DENY(member(BOB, BOB, "knock"), "banned");

    full_room("11", "knock_restricted");
    ALLOW(member(BOB, BOB, "knock"));
    full_room("10", "invite");
    DENY(member(BOB, BOB, "knock"), "does not accept knocking");
}

/* ---- rules 5-8: other events ---- */

static void rule_sender_joined(void **state)
{
    full_room("10", "public");
    ALLOW(ev("m.room.message", ALICE, NULL, json_object()));
    DENY(ev("m.room.message", BOB, NULL, json_object()),
         "You must be in the room to send events to it");
    set_member(BOB, "invite");
    DENY(ev("m.room.message", BOB, NULL, json_object()), "You must be in the room");
}

static void rule_third_party_invite_event(void **state)
{
    json_t *pl;

    full_room("10", "invite");
    ALLOW(ev("m.room.third_party_invite", ALICE, "token", json_object()));
    pl = default_pl();
    json_object_set_new(pl, "invite", json_integer(50));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    DENY(ev("m.room.third_party_invite", ALICE, "token", json_object()),
         "below the 50 needed to invite users");
}

static void rule_required_level(void **state)
{
    json_t *pl;

    full_room("10", "public");
    DENY(ev("m.room.topic", ALICE, "", json_object()),
         "Your power level (0) is below the 50 needed to send m.room.topic");
    ALLOW(ev("m.room.topic", MOD, "", json_object()));
    pl = default_pl();
    json_object_set_new(pl, "events_default", json_integer(10));
    json_object_set_new(json_object_get(pl, "events"), "m.room.topic", json_integer(0));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    DENY(ev("m.room.message", ALICE, NULL, json_object()),
         "Your power level (0) is below the 10 needed to send m.room.message");
    ALLOW(ev("m.room.topic", ALICE, "", json_object()));

    /* No power levels event: the creator has 100, state needs 50. */
    new_room("11");
    set_member(CREATOR, "join");
    put(ev("m.room.join_rules", CREATOR, "", json_pack("{s:s}", "join_rule", "public")));
    set_member(ALICE, "join");
    ALLOW(ev("m.room.name", CREATOR, "", json_object()));
    DENY(ev("m.room.name", ALICE, "", json_object()), "below the 50 needed");
    ALLOW(ev("m.room.message", ALICE, NULL, json_object()));
}

static void rule_user_state_key(void **state)
{
    json_t *pl;

    full_room("10", "public");
    pl = default_pl();
    json_object_set_new(pl, "state_default", json_integer(0));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    ALLOW(ev("org.example.status", ALICE, ALICE, json_object()));
    ALLOW(ev("org.example.status", ALICE, "plain", json_object()));
    DENY(ev("org.example.status", ALICE, BOB, json_object()), "Only @bob:d can set state");
    DENY(ev("org.example.status", CREATOR, BOB, json_object()), "Only @bob:d");
}

/* ---- rule 9: power levels ---- */

static json_t *pl_with(const char *path, const char *key, json_t *value)
{
    json_t *pl = default_pl();
    json_t *obj = path ? json_object_get(pl, path) : pl;
    if (!obj) {
        obj = json_object();
        json_object_set_new(pl, path, obj);
    }
    if (value)
        json_object_set_new(obj, key, value);
    else
        json_object_del(obj, key);
    return pl;
}

static void rule_power_levels(void **state)
{
    full_room("10", "public");
    /* 9.1-9.3: shape. */
    DENY(ev("m.room.power_levels", CREATOR, "", pl_with(NULL, "ban", json_string("50"))),
         "must be an integer");
    DENY(ev("m.room.power_levels", CREATOR, "", pl_with("events", "x", json_string("1"))),
         "must be an integer");
    DENY(ev("m.room.power_levels", CREATOR, "", pl_with("users", "nobody", json_integer(1))),
         "not a valid user id");
    /* Rule 7 first: alice cannot send power levels at all. */
    DENY(ev("m.room.power_levels", ALICE, "", default_pl()), "needed to send m.room.power_levels");
    /* The creator (100) may do anything below 100. */
    ALLOW(ev("m.room.power_levels", CREATOR, "", pl_with("users", ALICE, json_integer(99))));

    /* 9.5: scalar levels. */
    ALLOW(ev("m.room.power_levels", MOD, "", pl_with(NULL, "kick", json_integer(40))));
    ALLOW(ev("m.room.power_levels", MOD, "", pl_with(NULL, "kick", json_integer(50))));
    DENY(ev("m.room.power_levels", MOD, "", pl_with(NULL, "kick", json_integer(51))),
         "You cannot set 'kick' to 51, above your own level (50)");
    put(ev("m.room.power_levels", CREATOR, "", pl_with(NULL, "redact", json_integer(80))));
    DENY(ev("m.room.power_levels", MOD, "", pl_with(NULL, "redact", json_integer(10))),
         "You cannot change 'redact': its current level (80) is above your own (50)");
    DENY(ev("m.room.power_levels", MOD, "", default_pl()), "'redact'"); /* removal */

    /* 9.6-9.7: events and notifications. */
    full_room("10", "public");
    ALLOW(ev("m.room.power_levels", MOD, "", pl_with("events", "m.room.name", json_integer(50))));
    DENY(ev("m.room.power_levels", MOD, "", pl_with("events", "m.room.name", json_integer(60))),
         "the level of 'm.room.name' in 'events'");
    DENY(ev("m.room.power_levels", MOD, "", pl_with("notifications", "room", json_integer(60))),
         "in 'notifications'");
    put(ev("m.room.power_levels", CREATOR, "",
           pl_with("events", "m.room.tombstone", json_integer(100))));
    DENY(ev("m.room.power_levels", MOD, "", default_pl()), "its current level (100)");
    ALLOW(ev("m.room.power_levels", MOD, "",
             pl_with("events", "m.room.tombstone", json_integer(100)))); /* unchanged */

    /* 9.8-9.9: users. */
    full_room("11", "public");
    ALLOW(ev("m.room.power_levels", MOD, "", pl_with("users", ALICE, json_integer(50))));
    DENY(ev("m.room.power_levels", MOD, "", pl_with("users", ALICE, json_integer(51))),
         "You cannot give @alice:d a power level (51) above your own (50)");
    DENY(ev("m.room.power_levels", MOD, "", pl_with("users", MOD2, json_integer(10))),
         "You cannot change the power level of @mod2:d: it is equal to or above yours");
    DENY(ev("m.room.power_levels", MOD, "", pl_with("users", MOD2, NULL)), "@mod2:d");
    DENY(ev("m.room.power_levels", MOD, "", pl_with("users", CREATOR, json_integer(0))),
         "@creator:d");
    DENY(ev("m.room.power_levels", MOD, "", pl_with("users", MOD, json_integer(60))),
         "above your own (50)");
    ALLOW(ev("m.room.power_levels", MOD, "", pl_with("users", MOD, json_integer(10))));

    /* 9.4: no previous power levels: anything goes (for whoever may send it). */
    new_room("10");
    set_member(CREATOR, "join");
    ALLOW(ev("m.room.power_levels", CREATOR, "", pl_with("users", ALICE, json_integer(1000))));
}

/* ---- redactions ---- */

static void rule_redaction(void **state)
{
    json_t *pl;

    full_room("10", "public");
    ALLOW(ev("m.room.redaction", ALICE, NULL, json_object()));
    assert_int_equal(balai_auth_check_redaction("10", ALICE, ALICE, &lk, reason, sizeof(reason)),
                     BALAI_OK);
    assert_int_equal(balai_auth_check_redaction("10", ALICE, BOB, &lk, reason, sizeof(reason)),
                     BALAI_EFORBIDDEN);
    assert_non_null(
        strstr(reason, "Your power level (0) is below the 50 needed to redact other users"));
    assert_int_equal(balai_auth_check_redaction("10", MOD, ALICE, &lk, reason, sizeof(reason)),
                     BALAI_OK);
    assert_int_equal(balai_auth_check_redaction("3", MOD, ALICE, &lk, reason, sizeof(reason)),
                     BALAI_EINVAL);
    pl = pl_with("events", "m.room.redaction", json_integer(20));
    put(ev("m.room.power_levels", CREATOR, "", pl));
    DENY(ev("m.room.redaction", ALICE, NULL, json_object()), "needed to send m.room.redaction");
}

/* ---- malformed input, selection ---- */

static void malformed_events(void **state)
{
    json_t *e;

    full_room("10", "public");
    e = ev("m.room.message", ALICE, NULL, json_object());
    json_object_del(e, "content");
    assert_int_equal(check(e), BALAI_EINVAL);
    e = ev("m.room.message", ALICE, NULL, json_object());
    json_object_set_new(e, "state_key", json_integer(1));
    assert_int_equal(check(e), BALAI_EINVAL);
    assert_int_equal(check(json_string("x")), BALAI_EINVAL);
    version = "9";
    assert_int_equal(check(ev("m.room.message", ALICE, NULL, json_object())), BALAI_EINVAL);
    assert_non_null(strstr(reason, "not supported"));
    assert_int_equal(balai_auth_check("10", NULL, &lk, NULL, 0), BALAI_EINVAL);
}

static void select_auth_events(void **state)
{
    json_t *ids, *c;
    const char *create_id, *pl_id, *alice_id, *jr_id;

    full_room("10", "public");
    balai_state_get(st, "m.room.create", "", &create_id);
    balai_state_get(st, "m.room.power_levels", "", &pl_id);
    balai_state_get(st, "m.room.join_rules", "", &jr_id);
    balai_state_get(st, "m.room.member", ALICE, &alice_id);

    ids = balai_auth_select("m.room.create", "", CREATOR, NULL, &lk);
    assert_int_equal(json_array_size(ids), 0);
    json_decref(ids);

    ids = balai_auth_select("m.room.message", NULL, ALICE, NULL, &lk);
    assert_int_equal(json_array_size(ids), 3);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), create_id);
    assert_string_equal(json_string_value(json_array_get(ids, 1)), pl_id);
    assert_string_equal(json_string_value(json_array_get(ids, 2)), alice_id);
    json_decref(ids);

    c = json_pack("{s:s}", "membership", "join");
    ids = balai_auth_select("m.room.member", BOB, BOB, c, &lk); /* bob has no member event */
    assert_int_equal(json_array_size(ids), 3);
    assert_string_equal(json_string_value(json_array_get(ids, 2)), jr_id);
    json_decref(ids);
    ids = balai_auth_select("m.room.member", ALICE, ALICE, c, &lk); /* no duplicate */
    assert_int_equal(json_array_size(ids), 4);
    json_decref(ids);
    json_decref(c);

    c = json_pack("{s:s}", "membership", "ban");
    ids = balai_auth_select("m.room.member", ALICE, MOD, c, &lk);
    assert_int_equal(json_array_size(ids), 4); /* create, pl, mod, alice: no join rules */
    json_decref(ids);
    json_decref(c);
}

static void state_map(void **state)
{
    const char *id;
    const json_t *pdu;
    size_t it = 0, n = 0;

    full_room("10", "public");
    assert_int_equal(balai_state_count(st), 7);
    assert_string_equal(balai_state_membership(&lk, ALICE), "join");
    assert_string_equal(balai_state_membership(&lk, BOB), "leave");
    set_member(ALICE, "leave");
    assert_int_equal(balai_state_count(st), 7);
    assert_string_equal(balai_state_membership(&lk, ALICE), "leave");
    while (balai_state_next(st, &it, &id, &pdu)) {
        assert_non_null(id);
        assert_non_null(pdu);
        n++;
    }
    assert_int_equal(n, 7);
    assert_int_equal(balai_state_remove(st, "m.room.member", ALICE), BALAI_OK);
    assert_int_equal(balai_state_remove(st, "m.room.member", ALICE), BALAI_ENOTFOUND);
    assert_null(balai_state_get(st, "m.room.member", ALICE, &id));
    assert_null(id);
    json_t *msg = ev("m.room.message", ALICE, NULL, json_object());
    assert_int_equal(balai_state_set(st, "$m", msg), BALAI_EINVAL);
    json_decref(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pl_defaults),
        cmocka_unit_test(pl_validate),
        cmocka_unit_test_teardown(rule_create, teardown),
        cmocka_unit_test_teardown(rule_room_and_federation, teardown),
        cmocka_unit_test_teardown(rule_member_shape, teardown),
        cmocka_unit_test_teardown(rule_join_first, teardown),
        cmocka_unit_test_teardown(rule_join, teardown),
        cmocka_unit_test_teardown(rule_invite, teardown),
        cmocka_unit_test_teardown(rule_leave, teardown),
        cmocka_unit_test_teardown(rule_ban, teardown),
        cmocka_unit_test_teardown(rule_knock, teardown),
        cmocka_unit_test_teardown(rule_sender_joined, teardown),
        cmocka_unit_test_teardown(rule_third_party_invite_event, teardown),
        cmocka_unit_test_teardown(rule_required_level, teardown),
        cmocka_unit_test_teardown(rule_user_state_key, teardown),
        cmocka_unit_test_teardown(rule_power_levels, teardown),
        cmocka_unit_test_teardown(rule_redaction, teardown),
        cmocka_unit_test_teardown(malformed_events, teardown),
        cmocka_unit_test_teardown(select_auth_events, teardown),
        cmocka_unit_test_teardown(state_map, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
