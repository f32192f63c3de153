/* powerlevels.c: power level defaults, lookups and change rules (see powerlevels.h). */
#include "balai.h"

#include <stdio.h>
#include <string.h>

#include "core/canonjson.h"
#include "core/powerlevels.h"

/* The scalar levels, in the order of auth rule 9.5. */
static const char *const scalar_keys[] = {"users_default", "events_default", "state_default", "ban",
                                          "redact",        "kick",           "invite"};

/* 1 and the value in *out when obj[key] is an integer; 0 otherwise. */
static int get_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static int64_t int_or(const json_t *obj, const char *key, int64_t dflt)
{
    int64_t v;
    return get_int(obj, key, &v) ? v : dflt;
}

void balai_pl_init(struct balai_powerlevels *pl, const json_t *content, const char *creator)
{
    pl->content = json_is_object(content) ? content : NULL;
    pl->creator = creator;
    pl->users_default = int_or(pl->content, "users_default", 0);
    pl->events_default = int_or(pl->content, "events_default", 0);
    pl->state_default = int_or(pl->content, "state_default", 50);
    pl->ban = int_or(pl->content, "ban", 50);
    pl->kick = int_or(pl->content, "kick", 50);
    pl->redact = int_or(pl->content, "redact", 50);
    pl->invite = int_or(pl->content, "invite", 0);
}

int64_t balai_pl_user_level(const struct balai_powerlevels *pl, const char *user_id)
{
    if (!pl->content)
        return pl->creator && user_id && strcmp(pl->creator, user_id) == 0
                   ? BALAI_PL_CREATOR_DEFAULT
                   : 0;
    return int_or(json_object_get(pl->content, "users"), user_id, pl->users_default);
}

int64_t balai_pl_event_level(const struct balai_powerlevels *pl, const char *type, int is_state)
{
    int64_t dflt = is_state ? pl->state_default : pl->events_default;
    return int_or(json_object_get(pl->content, "events"), type, dflt);
}

int64_t balai_pl_notification_level(const struct balai_powerlevels *pl, const char *key)
{
    return int_or(json_object_get(pl->content, "notifications"), key, 50);
}

/* ---- validation (rules 9.1-9.3) ---- */

int balai_pl_user_id_ok(const char *s)
{
    const char *colon;
    if (!s || s[0] != '@' || strlen(s) > 255)
        return 0;
    colon = strchr(s, ':');
    return colon && colon > s + 1 && colon[1] != '\0';
}

static int level_ok(const json_t *v)
{
    json_int_t i;
    if (!json_is_integer(v))
        return 0;
    i = json_integer_value(v);
    return i <= BALAI_CANONJSON_INT_MAX && i >= -BALAI_CANONJSON_INT_MAX;
}

/* Checks obj[name] is absent or an object of levels (keys user ids if
 * users). */
static int map_ok(const json_t *content, const char *name, int users, char *reason,
                  size_t reasonlen)
{
    json_t *m = json_object_get(content, name), *v;
    const char *k;

    if (!m)
        return BALAI_OK;
    if (!json_is_object(m)) {
        snprintf(reason, reasonlen, "'%s' in power levels must be an object", name);
        return BALAI_EFORBIDDEN;
    }
    json_object_foreach(m, k, v)
    {
        if (users && !balai_pl_user_id_ok(k)) {
            snprintf(reason, reasonlen, "'%s' in power levels is not a valid user id", k);
            return BALAI_EFORBIDDEN;
        }
        if (!level_ok(v)) {
            snprintf(reason, reasonlen, "The power level for '%s' in '%s' must be an integer", k,
                     name);
            return BALAI_EFORBIDDEN;
        }
    }
    return BALAI_OK;
}

int balai_pl_validate(const json_t *content, char *reason, size_t reasonlen)
{
    size_t i;
    json_t *v;
    int rc;

    if (!json_is_object(content)) {
        snprintf(reason, reasonlen, "Power levels content must be an object");
        return BALAI_EFORBIDDEN;
    }
    for (i = 0; i < BALAI_ARRAY_LEN(scalar_keys); i++) {
        v = json_object_get(content, scalar_keys[i]);
        if (v && !level_ok(v)) {
            snprintf(reason, reasonlen, "'%s' in power levels must be an integer", scalar_keys[i]);
            return BALAI_EFORBIDDEN;
        }
    }
    if ((rc = map_ok(content, "events", 0, reason, reasonlen)) != BALAI_OK ||
        (rc = map_ok(content, "notifications", 0, reason, reasonlen)) != BALAI_OK)
        return rc;
    return map_ok(content, "users", 1, reason, reasonlen);
}

/* ---- changes (rules 9.4-9.9) ---- */

/* One entry's old and new values (has_* say whether present). */
struct change {
    const char *what; /* for messages: "ban", "events m.room.name", ... */
    int has_old, has_new;
    int64_t old, new_;
};

static int changed(const struct change *c)
{
    return c->has_old != c->has_new || (c->has_old && c->old != c->new_);
}

/* Rules 9.5-9.7: an altered level may neither have been nor become higher
 * than the sender's own. */
static int check_level_change(const struct change *c, int64_t mine, char *reason, size_t reasonlen)
{
    if (c->has_old && c->old > mine) {
        snprintf(reason, reasonlen,
                 "You cannot change %s: its current level (%lld) is above your own (%lld)", c->what,
                 (long long)c->old, (long long)mine);
        return BALAI_EFORBIDDEN;
    }
    if (c->has_new && c->new_ > mine) {
        snprintf(reason, reasonlen, "You cannot set %s to %lld, above your own level (%lld)",
                 c->what, (long long)c->new_, (long long)mine);
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

/* Rules 9.8-9.9 for the users map. */
static int check_user_change(const struct change *c, const char *sender, int64_t mine, char *reason,
                             size_t reasonlen)
{
    if (strcmp(c->what, sender) != 0 && c->has_old && c->old >= mine) {
        snprintf(reason, reasonlen,
                 "You cannot change the power level of %s: it is equal to or above yours", c->what);
        return BALAI_EFORBIDDEN;
    }
    if (c->has_new && c->new_ > mine) {
        snprintf(reason, reasonlen, "You cannot give %s a power level (%lld) above your own (%lld)",
                 c->what, (long long)c->new_, (long long)mine);
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

static int check_one(const json_t *oldm, const json_t *newm, const char *key, const char *label,
                     const char *sender, int64_t mine, char *reason, size_t reasonlen)
{
    char what[300];
    struct change c = {what, 0, 0, 0, 0};

    c.has_old = get_int(oldm, key, &c.old);
    c.has_new = get_int(newm, key, &c.new_);
    if (!changed(&c))
        return BALAI_OK;
    if (!label) {
        c.what = key;
        return check_user_change(&c, sender, mine, reason, reasonlen);
    }
    if (label[0])
        snprintf(what, sizeof(what), "the level of '%s' in '%s'", key, label);
    else
        snprintf(what, sizeof(what), "'%s'", key);
    return check_level_change(&c, mine, reason, reasonlen);
}

/* Checks every key of the map `name` present in the old or the new content.
 * label NULL: the users map. */
static int check_map(const json_t *oldc, const json_t *newc, const char *name, const char *label,
                     const char *sender, int64_t mine, char *reason, size_t reasonlen)
{
    const json_t *oldm = json_object_get(oldc, name), *newm = json_object_get(newc, name);
    const json_t *maps[2] = {oldm, newm};
    const char *k;
    json_t *v;
    size_t i;
    int rc;

    for (i = 0; i < 2; i++) {
        if (!json_is_object(maps[i]))
            continue;
        json_object_foreach((json_t *)maps[i], k, v)
        {
            rc = check_one(oldm, newm, k, label, sender, mine, reason, reasonlen);
            if (rc != BALAI_OK)
                return rc;
        }
    }
    return BALAI_OK;
}

int balai_pl_check_change(const struct balai_powerlevels *cur, const json_t *new_content,
                          const char *sender, char *reason, size_t reasonlen)
{
    int64_t mine;
    size_t i;
    int rc;

    if (!cur->content)
        return BALAI_OK; /* 9.4: the first power levels event */
    mine = balai_pl_user_level(cur, sender);
    for (i = 0; i < BALAI_ARRAY_LEN(scalar_keys); i++) {
        rc = check_one(cur->content, new_content, scalar_keys[i], "", sender, mine, reason,
                       reasonlen);
        if (rc != BALAI_OK)
            return rc;
    }
    if ((rc = check_map(cur->content, new_content, "events", "events", sender, mine, reason,
                        reasonlen)) != BALAI_OK ||
        (rc = check_map(cur->content, new_content, "notifications", "notifications", sender, mine,
                        reason, reasonlen)) != BALAI_OK)
        return rc;
    return check_map(cur->content, new_content, "users", NULL, sender, mine, reason, reasonlen);
}

int balai_pl_check_redact(const struct balai_powerlevels *pl, const char *sender,
                          const char *original_sender, char *reason, size_t reasonlen)
{
    int64_t mine;

    if (sender && original_sender && strcmp(sender, original_sender) == 0)
        return BALAI_OK;
    mine = balai_pl_user_level(pl, sender);
    if (mine >= pl->redact)
        return BALAI_OK;
    snprintf(reason, reasonlen,
             "Your power level (%lld) is below the %lld needed to redact other users' events",
             (long long)mine, (long long)pl->redact);
    return BALAI_EFORBIDDEN;
}

json_t *balai_pl_default_content(const char *creator)
{
    json_t *users = json_object();
    json_object_set_new(users, creator, json_integer(BALAI_PL_CREATOR_DEFAULT));
    return json_pack("{s:o, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i, s:i, "
                     "s:i, s:i, s:i, s:i}",
                     "users", users, "users_default", 0, "events", "m.room.name", 50,
                     "m.room.avatar", 50, "m.room.topic", 50, "m.room.canonical_alias", 50,
                     "m.room.power_levels", 100, "m.room.history_visibility", 100,
                     "m.room.encryption", 100, "m.room.server_acl", 100, "m.room.tombstone", 100,
                     "events_default", 0, "state_default", 50, "ban", 50, "kick", 50, "redact", 50,
                     "invite", 0);
}
