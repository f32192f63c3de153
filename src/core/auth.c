/* auth.c: the room v10/v11 authorization rules over current state (see auth.h).
 *
 * Rule numbers in comments are those of the spec's list for room version 11
 * (identical to 10 apart from rules 1.4 and 4.3.1). */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/auth.h"
#include "core/event.h"

/* What the rules look at while checking one event. */
struct ctx {
    const struct balai_room_version *rv;
    const json_t *ev;
    const char *type, *sender, *state_key, *room_id;
    const json_t *content;
    const struct balai_state_lookup *st;
    const json_t *create;
    const char *create_id;
    struct balai_powerlevels pl;
    char *reason;
    size_t rlen;
};

static int say(char *reason, size_t rlen, int rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int say(char *reason, size_t rlen, int rc, const char *fmt, va_list ap)
{
    if (reason && rlen)
        vsnprintf(reason, rlen, fmt, ap);
    return rc;
}

static int deny(struct ctx *c, const char *fmt, ...) BALAI_PRINTF(2, 3);
static int deny(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = say(c->reason, c->rlen, BALAI_EFORBIDDEN, fmt, ap);
    va_end(ap);
    return rc;
}

static int malformed(char *reason, size_t rlen, const char *fmt, ...) BALAI_PRINTF(3, 4);
static int malformed(char *reason, size_t rlen, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = say(reason, rlen, BALAI_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

static int eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static const char *membership_of(const struct ctx *c, const char *user_id)
{
    return balai_state_membership(c->st, user_id);
}

static long long level_of(const struct ctx *c, const char *user_id)
{
    return (long long)balai_pl_user_level(&c->pl, user_id);
}

static const char *join_rule(const struct ctx *c)
{
    const json_t *jr = balai_state_lookup_get(c->st, "m.room.join_rules", "", NULL);
    const char *r = json_string_value(json_object_get(balai_event_content(jr), "join_rule"));
    return r ? r : "invite";
}

const char *balai_auth_creator(const struct balai_room_version *rv, const json_t *create)
{
    if (rv->implicit_creator)
        return balai_event_sender(create);
    return json_string_value(json_object_get(balai_event_content(create), "creator"));
}

/* ---- rule 1: m.room.create ---- */

static int check_create(struct ctx *c)
{
    json_t *prev = json_object_get(c->ev, "prev_events");
    json_t *ver = json_object_get(c->content, "room_version");
    const char *version = ver ? json_string_value(ver) : "1";

    if (prev && (!json_is_array(prev) || json_array_size(prev) > 0))
        return deny(c, "The create event cannot have previous events");
    if (!eq(balai_event_id_domain(c->room_id), balai_event_id_domain(c->sender)))
        return deny(c, "The room id and its creator must belong to the same server");
    if (!version || !balai_room_version_get(version))
        return deny(c, "Room version %s is not supported", version ? version : "(not a string)");
    if (strcmp(version, c->rv->id) != 0)
        return deny(c, "The create event is for room version %s, not %s", version, c->rv->id);
    if (!c->rv->implicit_creator && !json_object_get(c->content, "creator"))
        return deny(c, "The create event must name the room's creator");
    return BALAI_OK;
}

/* ---- rule 4: m.room.member ---- */

static int is_first_join(const struct ctx *c)
{
    json_t *prev = json_object_get(c->ev, "prev_events");
    return json_array_size(prev) == 1 && c->create_id &&
           eq(json_string_value(json_array_get(prev, 0)), c->create_id) &&
           eq(c->state_key, balai_auth_creator(c->rv, c->create));
}

static int check_join(struct ctx *c)
{
    const char *rule = join_rule(c), *m = membership_of(c, c->sender);

    if (is_first_join(c))
        return BALAI_OK; /* 4.3.1 */
    if (!eq(c->sender, c->state_key))
        return deny(c, "You can only join a room as yourself");
    if (eq(m, "ban"))
        return deny(c, "You are banned from this room");
    if (eq(rule, "invite") || eq(rule, "knock")) {
        if (eq(m, "invite") || eq(m, "join"))
            return BALAI_OK;
        return deny(c, "You must be invited to join this room");
    }
    if (eq(rule, "restricted") || eq(rule, "knock_restricted")) {
        if (eq(m, "invite") || eq(m, "join"))
            return BALAI_OK;
        return deny(c, "This room admits members of other rooms only (restricted join), "
                       "which this server does not support: ask for an invite");
    }
    if (eq(rule, "public"))
        return BALAI_OK;
    return deny(c, "This room's join rule (%s) does not let you join", rule);
}

static int check_invite(struct ctx *c)
{
    const char *target = membership_of(c, c->state_key);
    long long mine = level_of(c, c->sender);

    if (json_object_get(c->content, "third_party_invite"))
        return deny(c, "Third-party invites are not supported");
    if (!eq(membership_of(c, c->sender), "join"))
        return deny(c, "You must be in the room to invite others");
    if (eq(target, "join"))
        return deny(c, "%s is already in the room", c->state_key);
    if (eq(target, "ban"))
        return deny(c, "%s is banned from this room", c->state_key);
    if (mine >= c->pl.invite)
        return BALAI_OK;
    return deny(c, "Your power level (%lld) is below the %lld needed to invite users", mine,
                (long long)c->pl.invite);
}

static int check_leave(struct ctx *c)
{
    const char *target = membership_of(c, c->state_key);
    long long mine = level_of(c, c->sender), theirs = level_of(c, c->state_key);

    if (eq(c->sender, c->state_key)) {
        if (eq(target, "invite") || eq(target, "join") || eq(target, "knock"))
            return BALAI_OK;
        if (eq(target, "ban"))
            return deny(c, "You are banned from this room");
        return deny(c, "You are not in this room");
    }
    if (!eq(membership_of(c, c->sender), "join"))
        return deny(c, "You must be in the room to remove someone from it");
    if (eq(target, "ban") && mine < c->pl.ban)
        return deny(c, "Your power level (%lld) is below the %lld needed to unban users", mine,
                    (long long)c->pl.ban);
    if (mine < c->pl.kick)
        return deny(c, "Your power level (%lld) is below the %lld needed to kick users", mine,
                    (long long)c->pl.kick);
    if (theirs >= mine)
        return deny(c, "You cannot %s a user whose power level is equal to or above yours",
                    eq(target, "ban") ? "unban" : "kick");
    return BALAI_OK;
}

static int check_ban(struct ctx *c)
{
    long long mine = level_of(c, c->sender), theirs = level_of(c, c->state_key);

    if (!eq(membership_of(c, c->sender), "join"))
        return deny(c, "You must be in the room to ban users");
    if (mine < c->pl.ban)
        return deny(c, "Your power level (%lld) is below the %lld needed to ban users", mine,
                    (long long)c->pl.ban);
    if (theirs >= mine)
        return deny(c, "You cannot ban a user whose power level is equal to or above yours");
    return BALAI_OK;
}

static int check_knock(struct ctx *c)
{
    const char *rule = join_rule(c), *m = membership_of(c, c->sender);

    if (!eq(rule, "knock") && !eq(rule, "knock_restricted"))
        return deny(c, "This room does not accept knocking");
    if (!eq(c->sender, c->state_key))
        return deny(c, "You can only knock as yourself");
    if (eq(m, "ban"))
        return deny(c, "You are banned from this room");
    if (eq(m, "invite"))
        return deny(c, "You are already invited to this room");
    if (eq(m, "join"))
        return deny(c, "You are already in this room");
    return BALAI_OK;
}

static int check_member(struct ctx *c)
{
    const char *m = json_string_value(json_object_get(c->content, "membership"));

    if (!c->state_key || !m)
        return deny(c, "A membership event needs a state_key and a membership");
    if (strcmp(m, "join") == 0)
        return check_join(c);
    if (strcmp(m, "invite") == 0)
        return check_invite(c);
    if (strcmp(m, "leave") == 0)
        return check_leave(c);
    if (strcmp(m, "ban") == 0)
        return check_ban(c);
    if (strcmp(m, "knock") == 0)
        return check_knock(c);
    return deny(c, "Unknown membership '%s'", m);
}

/* ---- rules 5-10: everything else ---- */

static int check_other(struct ctx *c)
{
    long long mine = level_of(c, c->sender), need;
    int rc;

    if (!eq(membership_of(c, c->sender), "join"))
        return deny(c, "You must be in the room to send events to it"); /* 5 */
    if (strcmp(c->type, "m.room.third_party_invite") == 0) {            /* 6 */
        if (mine >= c->pl.invite)
            return BALAI_OK;
        return deny(c, "Your power level (%lld) is below the %lld needed to invite users", mine,
                    (long long)c->pl.invite);
    }
    need = (long long)balai_pl_event_level(&c->pl, c->type, c->state_key != NULL);
    if (need > mine) /* 7 */
        return deny(c, "Your power level (%lld) is below the %lld needed to send %s", mine, need,
                    c->type);
    if (c->state_key && c->state_key[0] == '@' && strcmp(c->state_key, c->sender) != 0)
        return deny(c, "Only %s can set state with that state key", c->state_key); /* 8 */
    if (strcmp(c->type, "m.room.power_levels") == 0) {                             /* 9 */
        if ((rc = balai_pl_validate(c->content, c->reason, c->rlen)) != BALAI_OK)
            return rc;
        return balai_pl_check_change(&c->pl, c->content, c->sender, c->reason, c->rlen);
    }
    return BALAI_OK; /* 10 */
}

/* ---- entry points ---- */

static int shape_ok(struct ctx *c, const json_t *pdu)
{
    json_t *sk = json_object_get(pdu, "state_key");

    c->type = balai_event_type(pdu);
    c->sender = balai_event_sender(pdu);
    c->room_id = balai_event_room_id(pdu);
    c->state_key = balai_event_state_key(pdu);
    c->content = balai_event_content(pdu);
    if (!c->type || !c->sender || !c->room_id || !c->content || (sk && !c->state_key))
        return malformed(c->reason, c->rlen,
                         "The event needs a type, sender, room_id and content object");
    return BALAI_OK;
}

static int check_in_room(struct ctx *c)
{
    const char *fed_domain;
    json_t *federate;

    c->create = balai_state_lookup_get(c->st, "m.room.create", "", &c->create_id);
    if (!c->create) /* 2.4 */
        return deny(c, "The room has no create event");
    if (!eq(balai_event_room_id(c->create), c->room_id))
        return deny(c, "The event belongs to another room");
    federate = json_object_get(balai_event_content(c->create), "m.federate");
    fed_domain = balai_event_id_domain(balai_event_sender(c->create));
    if (json_is_false(federate) && !eq(fed_domain, balai_event_id_domain(c->sender)))
        return deny(c, "This room is not open to users of other servers"); /* 3 */
    balai_pl_init(
        &c->pl, balai_event_content(balai_state_lookup_get(c->st, "m.room.power_levels", "", NULL)),
        balai_auth_creator(c->rv, c->create));
    return BALAI_OK;
}

int balai_auth_check(const char *room_version, const json_t *pdu,
                     const struct balai_state_lookup *state, char *reason, size_t reasonlen)
{
    struct ctx c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.rv = balai_room_version_get(room_version);
    c.ev = pdu;
    c.st = state;
    c.reason = reason;
    c.rlen = reasonlen;
    if (!c.rv)
        return malformed(reason, reasonlen, "Room version %s is not supported",
                         room_version ? room_version : "(none)");
    if ((rc = shape_ok(&c, pdu)) != BALAI_OK)
        return rc;
    if (strcmp(c.type, "m.room.create") == 0)
        return check_create(&c); /* 1 */
    if ((rc = check_in_room(&c)) != BALAI_OK)
        return rc;
    if (strcmp(c.type, "m.room.member") == 0)
        return check_member(&c); /* 4 */
    return check_other(&c);
}

int balai_auth_power_levels(const char *room_version, const struct balai_state_lookup *state,
                            struct balai_powerlevels *pl)
{
    const struct balai_room_version *rv = balai_room_version_get(room_version);
    const json_t *create, *pls;

    if (!rv)
        return BALAI_EINVAL;
    create = balai_state_lookup_get(state, "m.room.create", "", NULL);
    pls = balai_state_lookup_get(state, "m.room.power_levels", "", NULL);
    balai_pl_init(pl, balai_event_content(pls), create ? balai_auth_creator(rv, create) : NULL);
    return BALAI_OK;
}

int balai_auth_check_redaction(const char *room_version, const char *sender,
                               const char *original_sender, const struct balai_state_lookup *state,
                               char *reason, size_t reasonlen)
{
    struct balai_powerlevels pl;

    if (balai_auth_power_levels(room_version, state, &pl) != BALAI_OK)
        return malformed(reason, reasonlen, "Room version %s is not supported",
                         room_version ? room_version : "(none)");
    return balai_pl_check_redact(&pl, sender, original_sender, reason, reasonlen);
}

/* ---- auth events selection ---- */

static void cite(json_t *ids, const struct balai_state_lookup *st, const char *type,
                 const char *state_key)
{
    const char *id = NULL;
    size_t i;
    json_t *v;

    if (!state_key || !balai_state_lookup_get(st, type, state_key, &id) || !id)
        return;
    json_array_foreach(ids, i, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            return;
    }
    json_array_append_new(ids, json_string(id));
}

json_t *balai_auth_select(const char *type, const char *state_key, const char *sender,
                          const json_t *content, const struct balai_state_lookup *state)
{
    json_t *ids = json_array(), *tpi;
    const char *m, *via;

    if (!type || strcmp(type, "m.room.create") == 0)
        return ids;
    cite(ids, state, "m.room.create", "");
    cite(ids, state, "m.room.power_levels", "");
    cite(ids, state, "m.room.member", sender);
    if (strcmp(type, "m.room.member") != 0)
        return ids;
    m = json_string_value(json_object_get(content, "membership"));
    cite(ids, state, "m.room.member", state_key);
    if (eq(m, "join") || eq(m, "invite") || eq(m, "knock"))
        cite(ids, state, "m.room.join_rules", "");
    tpi = json_object_get(json_object_get(content, "third_party_invite"), "signed");
    if (eq(m, "invite") && tpi)
        cite(ids, state, "m.room.third_party_invite",
             json_string_value(json_object_get(tpi, "token")));
    via = json_string_value(json_object_get(content, "join_authorised_via_users_server"));
    if (eq(m, "join") && via)
        cite(ids, state, "m.room.member", via);
    return ids;
}
