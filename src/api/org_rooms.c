/* org_rooms.c: organisation rooms: metadata rules on the event path,
 * createRoom's org part, the room endpoints and archiving (api/org_rooms.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/dlp.h"
#include "api/events.h"
#include "api/org_rooms.h"
#include "api/rules.h"
#include "api/stewardship.h"
#include "core/accounts.h"
#include "core/auth.h"
#include "core/ids.h"
#include "gov/stewardship.h"
#include "util/alloc.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "org_rooms"
#include "util/log.h"

/* ---- labels ---- */

int balai_api_org_rooms_label_ok(struct balai_app *app, const char *label)
{
    const struct balai_api_org_rooms *o = app->org_rooms;
    for (size_t i = 0; o && label && i < o->nlabels; i++) {
        if (strcmp(o->labels[i], label) == 0)
            return 1;
    }
    return 0;
}

void balai_api_org_rooms_labels_text(struct balai_app *app, char *out, size_t outlen)
{
    const struct balai_api_org_rooms *o = app->org_rooms;
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; o && i < o->nlabels && used < outlen; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", o->labels[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void parse_labels(struct balai_api_org_rooms *o, const char *list)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n) {
            o->labels = balai_realloc(o->labels, (o->nlabels + 1) * sizeof(*o->labels));
            o->labels[o->nlabels] = balai_malloc(n + 1);
            memcpy(o->labels[o->nlabels], p, n);
            o->labels[o->nlabels++][n] = '\0';
        }
        if (!e)
            break;
        p = e + 1;
    }
}

/* ---- reading ---- */

const json_t *balai_api_org_rooms_meta(const struct balai_room *room, const char *type)
{
    struct balai_ev *ev = balai_room_state_ev(room, type, "");
    return ev ? json_object_get(ev->pdu, "content") : NULL;
}

const char *balai_api_org_rooms_label(struct balai_app *app, const struct balai_room *room)
{
    const char *l = json_string_value(
        json_object_get(balai_api_org_rooms_meta(room, BALAI_ROOM_CLASSIFICATION), "label"));
    return l && *l ? l : app->cfg->rooms_default_label;
}

static int archived_content(const json_t *content)
{
    return json_is_true(json_object_get(content, "archived"));
}

int balai_api_org_rooms_archived(const struct balai_room *room)
{
    return archived_content(balai_api_org_rooms_meta(room, BALAI_ROOM_ARCHIVED));
}

static json_t *meta_text(const struct balai_room *room, const char *type, const char *key)
{
    const char *v = json_string_value(json_object_get(balai_api_org_rooms_meta(room, type), key));
    return v ? json_string(v) : json_null();
}

json_t *balai_api_org_rooms_json(struct balai_app *app, struct balai_room *room, int64_t now,
                                 int64_t stale_ms)
{
    size_t nstewards;
    json_t *stewards = balai_api_stewards_json(app, room, &nstewards);
    const char *unit_id = json_string_value(
        json_object_get(balai_api_org_rooms_meta(room, BALAI_ROOM_OWNER_UNIT), "unit_id"));
    const struct balai_gov_unit *unit =
        unit_id && app->directory ? balai_gov_unit_get(app->directory->dir, unit_id) : NULL;
    struct balai_ev *create = balai_room_state_ev(room, "m.room.create", "");
    struct balai_ev *last = NULL;
    int64_t last_ts = 0;
    if (balai_room_cached_latest(room, INT64_MAX, 1, &last) == 1)
        last_ts = last->ts;
    if (!last_ts && create)
        last_ts = create->ts;
    const json_t *arch = balai_api_org_rooms_meta(room, BALAI_ROOM_ARCHIVED);

    json_t *o = json_pack("{s:s}", "room_id", balai_room_id(room));
    json_object_set_new(o, "name", meta_text(room, "m.room.name", "name"));
    json_object_set_new(o, "topic", meta_text(room, "m.room.topic", "topic"));
    json_object_set_new(o, "owner_unit", unit_id ? json_string(unit_id) : json_null());
    json_object_set_new(o, "owner_unit_name", unit ? json_string(unit->name) : json_null());
    json_object_set_new(o, "purpose", meta_text(room, BALAI_ROOM_PURPOSE, "text"));
    json_object_set_new(o, "classification", json_string(balai_api_org_rooms_label(app, room)));
    json_object_set_new(o, "rules", meta_text(room, BALAI_ROOM_RULES, "text"));
    json_object_set_new(o, "archived", json_boolean(archived_content(arch)));
    if (archived_content(arch)) {
        json_object_set(o, "archived_ts", json_object_get(arch, "ts"));
        json_object_set(o, "archived_by", json_object_get(arch, "by"));
    }
    json_object_set_new(o, "stewards", stewards);
    json_object_set_new(o, "steward_count", json_integer((json_int_t)nstewards));
    json_object_set_new(o, "min_stewards", json_integer(app->cfg->rooms_min_stewards));
    json_object_set_new(o, "max_stewards", json_integer(app->cfg->rooms_max_stewards));
    json_object_set_new(o, "members", json_integer((json_int_t)balai_room_joined_count(room)));
    json_object_set_new(o, "invited", json_integer((json_int_t)balai_room_invited_count(room)));
    json_object_set_new(o, "creator", json_string(balai_room_creator(room)));
    json_object_set_new(o, "created_ts", json_integer(create ? create->ts : 0));
    json_object_set_new(o, "last_activity_ts", json_integer(last_ts));
    json_object_set_new(o, "orphan", json_boolean(nstewards == 0));
    json_object_set_new(o, "understaffed",
                        json_boolean(nstewards < (size_t)app->cfg->rooms_min_stewards));
    if (stale_ms != 0)
        json_object_set_new(o, "stale",
                            json_boolean(now - last_ts > (stale_ms < 0 ? -1 : stale_ms)));
    return o;
}

/* ---- before_persist ---- */

static const char *archived_msg =
    "This room is archived: it is read-only and its history is kept. An organisation admin "
    "can unarchive it.";

static int sender_level(const struct balai_state_lookup *view, const char *sender, int64_t *out)
{
    const json_t *create = balai_state_lookup_get(view, "m.room.create", "", NULL);
    const char *version =
        json_string_value(json_object_get(json_object_get(create, "content"), "room_version"));
    struct balai_powerlevels pl;
    if (!version || balai_auth_power_levels(version, view, &pl) != BALAI_OK)
        return BALAI_EINVAL;
    *out = balai_pl_user_level(&pl, sender);
    return BALAI_OK;
}

static int text_field(const json_t *content, const char *key, size_t max, const char *what,
                      char *reason, size_t reasonlen)
{
    const json_t *v = json_object_get(content, key);
    if (!json_is_string(v)) {
        snprintf(reason, reasonlen, "The room's %s needs a string '%s'", what, key);
        return BALAI_EINVAL;
    }
    if (json_string_length(v) > max) {
        snprintf(reason, reasonlen, "The room's %s is longer than %zu bytes", what, max);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static int check_unit(struct balai_app *app, const char *unit_id, char *reason, size_t reasonlen)
{
    if (!unit_id || !*unit_id) {
        snprintf(reason, reasonlen, "The owning unit needs a string 'unit_id'");
        return BALAI_EINVAL;
    }
    if (!app->directory || !balai_gov_unit_get(app->directory->dir, unit_id)) {
        snprintf(reason, reasonlen,
                 "Unknown unit '%.100s': the owning unit must be a unit of the organisation "
                 "directory",
                 unit_id);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static int check_label(struct balai_app *app, const char *label, char *reason, size_t reasonlen)
{
    if (label && balai_api_org_rooms_label_ok(app, label))
        return BALAI_OK;
    char list[300];
    balai_api_org_rooms_labels_text(app, list, sizeof(list));
    snprintf(reason, reasonlen, "Unknown classification label '%.60s': use one of %.300s",
             label ? label : "", list);
    return BALAI_EINVAL;
}

static int check_meta(struct balai_app *app, const struct balai_state_lookup *view,
                      const char *sender, const char *type, const char *state_key,
                      const json_t *content, char *reason, size_t reasonlen)
{
    int system = app->system_user_id && strcmp(sender, app->system_user_id) == 0;
    if (!state_key || *state_key) {
        snprintf(reason, reasonlen, "%s is room state with an empty state key", type);
        return BALAI_EINVAL;
    }
    if (strcmp(type, BALAI_ROOM_ARCHIVED) == 0) {
        if (!system) {
            snprintf(reason, reasonlen,
                     "Rooms are archived through POST /_balai/client/v1/rooms/{roomId}/archive "
                     "(stewards) or the admin API");
            return BALAI_EFORBIDDEN;
        }
        if (!json_is_boolean(json_object_get(content, "archived"))) {
            snprintf(reason, reasonlen, "'archived' must be true or false");
            return BALAI_EINVAL;
        }
        return BALAI_OK;
    }
    if (!system) {
        int64_t lvl = 0;
        if (sender_level(view, sender, &lvl) != BALAI_OK || lvl < BALAI_GOV_STEWARD_LEVEL) {
            snprintf(reason, reasonlen,
                     "Only the room's stewards and the organisation's admins may change its "
                     "owning unit, purpose, classification and rules");
            return BALAI_EFORBIDDEN;
        }
    }
    if (strcmp(type, BALAI_ROOM_OWNER_UNIT) == 0)
        return check_unit(app, json_string_value(json_object_get(content, "unit_id")), reason,
                          reasonlen);
    if (strcmp(type, BALAI_ROOM_CLASSIFICATION) == 0)
        return check_label(app, json_string_value(json_object_get(content, "label")), reason,
                           reasonlen);
    if (strcmp(type, BALAI_ROOM_PURPOSE) == 0)
        return text_field(content, "text", BALAI_ROOM_PURPOSE_MAX, "purpose", reason, reasonlen);
    if (strcmp(type, BALAI_ROOM_RULES) == 0)
        return text_field(content, "text", BALAI_ROOM_RULES_MAX, "rules", reason, reasonlen);
    return BALAI_OK;
}

int balai_api_org_rooms_check(struct balai_app *app, const struct balai_state_lookup *view,
                              const char *sender, const char *type, const char *state_key,
                              const json_t *content, char *reason, size_t reasonlen)
{
    int system = app->system_user_id && strcmp(sender, app->system_user_id) == 0;
    if (!system) {
        const json_t *arch = balai_state_lookup_get(view, BALAI_ROOM_ARCHIVED, "", NULL);
        if (arch && archived_content(json_object_get(arch, "content"))) {
            const char *m = strcmp(type, "m.room.member") == 0
                                ? json_string_value(json_object_get(content, "membership"))
                                : NULL;
            if (!m || strcmp(m, "leave") != 0) {
                snprintf(reason, reasonlen, "%s", archived_msg);
                return BALAI_EFORBIDDEN;
            }
        }
    }
    if (strncmp(type, BALAI_ROOM_META_PREFIX, sizeof(BALAI_ROOM_META_PREFIX) - 1) != 0)
        return BALAI_OK;
    return check_meta(app, view, sender, type, state_key, content, reason, reasonlen);
}

/* ---- after_persist ---- */

void balai_api_org_rooms_committed(struct balai_app *app, struct balai_room *room,
                                   const struct balai_ev *ev)
{
    if (strncmp(ev->type, BALAI_ROOM_META_PREFIX, sizeof(BALAI_ROOM_META_PREFIX) - 1) != 0)
        return;
    /* the system user's own writes are audited by the endpoint that made them */
    if (app->system_user_id && strcmp(ev->sender, app->system_user_id) == 0)
        return;
    json_t *content = json_object_get(ev->pdu, "content");
    balai_api_audit_log(app, ev->sender, "room.metadata.set", balai_room_id(room),
                        json_pack("{s:s, s:O}", "type", ev->type, "content", content));
}

/* ---- createRoom ---- */

void balai_api_org_create_release(struct balai_api_org_create *oc)
{
    BALAI_FREE(oc->owner_unit);
    BALAI_FREE(oc->purpose);
    BALAI_FREE(oc->classification);
    BALAI_FREE(oc->rules);
    BALAI_FREE(oc->steward);
}

static int policy_allows(struct balai_app *app, const char *creator, const char *unit_id)
{
    const char *pol = app->cfg->rooms_create_policy;
    enum balai_gov_role role = balai_api_role(app, creator);
    if (strcmp(pol, "everyone") == 0)
        return role != BALAI_ROLE_GUEST;
    if (role == BALAI_ROLE_ADMIN || role == BALAI_ROLE_OWNER)
        return 1;
    if (strcmp(pol, "unit_admins") == 0 && unit_id && app->directory)
        return balai_gov_unit_is_admin(app->directory->dir, unit_id, creator);
    return 0;
}

static int steward_candidate(struct balai_app *app, const char *uid, const char *creator)
{
    const struct balai_user *u = uid ? balai_accounts_user(app->accounts, uid) : NULL;
    if (!u || u->deactivated || u->system || strcmp(uid, creator) == 0)
        return 0;
    const struct balai_gov_person *p = balai_gov_directory_get(app->directory->dir, uid);
    return !(p && (p->status == BALAI_STATUS_TERMINATED || p->guest));
}

/* The creator's manager, or else the first admin of the owning unit (or of
 * a unit above it); NULL when none. Borrowed from the directory. */
static const char *second_steward(struct balai_app *app, const char *creator, const char *unit_id)
{
    const struct balai_gov_directory *dir = app->directory ? app->directory->dir : NULL;
    if (!dir)
        return NULL;
    const char *mgr[1];
    if (balai_api_manager_chain(app, creator, mgr, 1) == 1 &&
        steward_candidate(app, mgr[0], creator))
        return mgr[0];
    for (size_t depth = 0; unit_id && depth < 32; depth++) {
        const struct balai_gov_unit *u = balai_gov_unit_get(dir, unit_id);
        if (!u)
            break;
        for (size_t i = 0; i < u->n_admins; i++) {
            if (steward_candidate(app, u->admins[i], creator))
                return u->admins[i];
        }
        unit_id = u->parent_id;
    }
    return NULL;
}

static int opt_str(struct balai_http_req *req, json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return BALAI_OK;
    if (!json_is_string(v)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'id.balai.room.%s' must be a string", key);
        return BALAI_EINVAL;
    }
    *out = balai_strdup(json_string_value(v));
    return BALAI_OK;
}

/* True when createRoom's initial_state sets the state event (type, ""). */
static int initial_state_has(json_t *body, const char *type)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(body, "initial_state"), i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        const char *k = json_string_value(json_object_get(ev, "state_key"));
        if (t && strcmp(t, type) == 0 && (!k || !*k))
            return 1;
    }
    return 0;
}

int balai_api_org_create_prepare(struct balai_http_req *req, json_t *body, const char *creator,
                                 int is_direct, struct balai_api_org_create *oc)
{
    struct balai_app *app = balai_api_app(req);
    json_t *meta = json_object_get(body, "id.balai.room");
    char reason[600];

    memset(oc, 0, sizeof(*oc));
    if (!app->org_rooms)
        return BALAI_OK;
    if (is_direct) {
        if (meta) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "A direct message is not an organisation room: it takes no "
                            "'id.balai.room' metadata");
            return BALAI_EINVAL;
        }
        return BALAI_OK;
    }
    oc->org = 1;
    if (meta && !json_is_object(meta)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'id.balai.room' must be an object");
        return BALAI_EINVAL;
    }
    if (meta) {
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v)
        {
            if (strcmp(k, "owner_unit") != 0 && strcmp(k, "purpose") != 0 &&
                strcmp(k, "classification") != 0 && strcmp(k, "rules") != 0) {
                balai_api_error(req, 400, "M_INVALID_PARAM",
                                "Unknown field 'id.balai.room.%.60s': use owner_unit, purpose, "
                                "classification and rules",
                                k);
                return BALAI_EINVAL;
            }
        }
        if (opt_str(req, meta, "owner_unit", &oc->owner_unit) < 0 ||
            opt_str(req, meta, "purpose", &oc->purpose) < 0 ||
            opt_str(req, meta, "classification", &oc->classification) < 0 ||
            opt_str(req, meta, "rules", &oc->rules) < 0)
            return BALAI_EINVAL;
    }
    if (oc->owner_unit && check_unit(app, oc->owner_unit, reason, sizeof(reason)) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", reason);
        return BALAI_EINVAL;
    }
    if (oc->classification &&
        check_label(app, oc->classification, reason, sizeof(reason)) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", reason);
        return BALAI_EINVAL;
    }
    json_t *probe = NULL;
    if (oc->purpose)
        probe = json_pack("{s:s}", "text", oc->purpose);
    if (probe && text_field(probe, "text", BALAI_ROOM_PURPOSE_MAX, "purpose", reason,
                            sizeof(reason)) != BALAI_OK) {
        json_decref(probe);
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", reason);
        return BALAI_EINVAL;
    }
    json_decref(probe);
    if (oc->rules && strlen(oc->rules) > BALAI_ROOM_RULES_MAX) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "The room's rules are longer than %d bytes",
                        BALAI_ROOM_RULES_MAX);
        return BALAI_EINVAL;
    }
    /* the owning unit: given, else the creator's own */
    if (!oc->owner_unit && app->directory) {
        const struct balai_gov_person *p = balai_gov_directory_get(app->directory->dir, creator);
        if (p && p->unit_id && balai_gov_unit_get(app->directory->dir, p->unit_id))
            oc->owner_unit = balai_strdup(p->unit_id);
    }
    if (!policy_allows(app, creator, oc->owner_unit)) {
        const char *pol = app->cfg->rooms_create_policy;
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Your organisation lets %s create rooms; ask an administrator to create "
                        "it for you (direct messages are always allowed)",
                        strcmp(pol, "admins") == 0        ? "only its administrators"
                        : strcmp(pol, "unit_admins") == 0 ? "only administrators and the "
                                                            "admins of the owning unit"
                                                          : "members but not guests");
        return BALAI_EFORBIDDEN;
    }
    /* every organisation room carries its label as state: the default when
     * neither id.balai.room nor initial_state gives one */
    if (!oc->classification && !initial_state_has(body, BALAI_ROOM_CLASSIFICATION))
        oc->classification = balai_strdup(app->cfg->rooms_default_label);
    oc->steward = balai_strdup(second_steward(app, creator, oc->owner_unit));
    return BALAI_OK;
}

static const char *const meta_types[] = {BALAI_ROOM_OWNER_UNIT, BALAI_ROOM_PURPOSE,
                                         BALAI_ROOM_CLASSIFICATION, BALAI_ROOM_RULES};

void balai_api_org_create_levels(struct balai_app *app, const struct balai_api_org_create *oc,
                                 json_t *pl)
{
    (void)app;
    if (!oc->org || !json_is_object(pl))
        return;
    json_t *events = json_object_get(pl, "events");
    if (!events) {
        events = json_object();
        json_object_set_new(pl, "events", events);
    }
    for (size_t i = 0; json_is_object(events) && i < BALAI_ARRAY_LEN(meta_types); i++) {
        if (!json_object_get(events, meta_types[i]))
            json_object_set_new(events, meta_types[i], json_integer(BALAI_GOV_STEWARD_LEVEL));
    }
    if (json_is_object(events))
        json_object_set_new(events, BALAI_ROOM_ARCHIVED, json_integer(BALAI_GOV_STEWARD_LEVEL));
    json_t *users = json_object_get(pl, "users");
    if (oc->steward && json_is_object(users))
        json_object_set_new(users, oc->steward, json_integer(BALAI_GOV_STEWARD_LEVEL));
}

void balai_api_org_create_plan(struct balai_app *app, const struct balai_api_org_create *oc,
                               const char *const *invitees, size_t ninvitees,
                               balai_api_org_plan_fn add, void *arg)
{
    const char *sys = app->system_user_id;
    if (!oc->org)
        return;
    if (oc->owner_unit)
        add(arg, sys, BALAI_ROOM_OWNER_UNIT, "", json_pack("{s:s}", "unit_id", oc->owner_unit));
    if (oc->purpose)
        add(arg, sys, BALAI_ROOM_PURPOSE, "", json_pack("{s:s}", "text", oc->purpose));
    if (oc->classification)
        add(arg, sys, BALAI_ROOM_CLASSIFICATION, "",
            json_pack("{s:s}", "label", oc->classification));
    if (oc->rules)
        add(arg, sys, BALAI_ROOM_RULES, "", json_pack("{s:s}", "text", oc->rules));
    if (!oc->steward)
        return;
    for (size_t i = 0; i < ninvitees; i++) {
        if (strcmp(invitees[i], oc->steward) == 0)
            return; /* the creator invites them */
    }
    const struct balai_user *u = balai_accounts_user(app->accounts, oc->steward);
    json_t *inv = json_pack("{s:s, s:s}", "membership", "invite", "reason",
                            "Appointed steward of this new room");
    if (u && u->displayname)
        json_object_set_new(inv, "displayname", json_string(u->displayname));
    add(arg, sys, "m.room.member", oc->steward, inv);
}

/* ---- endpoints ---- */

/* The organisation room of req->params[0], or answers 400/404 and NULL. */
static struct balai_room *org_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const char *room_id = req->params[0];
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return NULL;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Unknown room");
        return NULL;
    }
    if (balai_room_is_direct(room)) {
        balai_api_error(req, 404, "M_NOT_FOUND",
                        "This room is a direct message, not an organisation room");
        return NULL;
    }
    return room;
}

static int org_admin(struct balai_app *app, const struct balai_session *s)
{
    enum balai_gov_role r = balai_api_caller_role(app, s);
    return r == BALAI_ROLE_ADMIN || r == BALAI_ROLE_OWNER;
}

static void get_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    const char *me = s->device->user->user_id;
    const char *m = NULL;
    struct balai_room *room = NULL;
    if (balai_id_room_ok(req->params[0]))
        room = balai_rooms_get(app->rooms, req->params[0]);
    if (room)
        m = balai_room_membership(room, me);
    enum balai_gov_role role = balai_api_caller_role(app, s);
    int staff =
        role == BALAI_ROLE_ADMIN || role == BALAI_ROLE_OWNER || role == BALAI_ROLE_COMPLIANCE;
    if (room && !staff && !(m && (strcmp(m, "join") == 0 || strcmp(m, "invite") == 0))) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        return;
    }
    room = org_room(req);
    if (!room)
        return;
    json_t *o = balai_api_org_rooms_json(app, room, balai_now_ms(), 0);
    /* whether a membership rule keeps the caller in this room */
    const char *rule = balai_api_rules_mandatory(app, me, balai_room_id(room));
    json_object_set_new(o, "mandatory", json_boolean(rule != NULL));
    if (rule)
        json_object_set_new(o, "mandatory_rule", json_string(rule));
    balai_api_json(req, 200, o);
}

static void admin_get_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth_role(req, &s,
                            BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) | BALAI_ROLE_BIT(BALAI_ROLE_OWNER) |
                                BALAI_ROLE_BIT(BALAI_ROLE_COMPLIANCE)) < 0)
        return;
    struct balai_room *room = org_room(req);
    if (room)
        balai_api_json(req, 200, balai_api_org_rooms_json(app, room, balai_now_ms(), 0));
}

/* A write of org state by the system user, answered with the room's JSON. */
struct meta_write {
    struct balai_http_req *req;
    char *actor;
    const char *action; /* static */
    json_t *detail;
};

static void meta_done(struct balai_api_write *w)
{
    struct meta_write *m = w->arg;
    struct balai_app *app = w->app;
    if (w->op.rc != BALAI_OK) {
        balai_api_error(m->req, 500, "M_UNKNOWN", "Could not store the change; try again");
        json_decref(m->detail);
    } else {
        balai_api_audit_log(app, m->actor, m->action, balai_room_id(w->room), m->detail);
        balai_api_json(m->req, 200, balai_api_org_rooms_json(app, w->room, balai_now_ms(), 0));
    }
    free(m->actor);
    free(m);
}

/* Adds the events (type -> content, owned by `evs`) as the system user and
 * submits; answers itself. */
static void write_meta(struct balai_http_req *req, struct balai_room *room, json_t *evs,
                       const char *actor, const char *action, json_t *detail)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_write *w = balai_api_write_new(app, room);
    char reason[600];
    const char *type;
    json_t *content;
    int rc = BALAI_OK;

    json_object_foreach(evs, type, content)
    {
        rc = balai_api_event_add(w, app->system_user_id, type, "", content, reason, sizeof(reason));
        if (rc != BALAI_OK)
            break;
    }
    if (rc != BALAI_OK) {
        balai_api_write_free(w);
        json_decref(detail);
        if (rc == BALAI_EINVAL)
            balai_api_error(req, 400, "M_INVALID_PARAM", "%s", reason);
        else
            balai_api_event_error(req, rc, reason);
        return;
    }
    struct meta_write *m = balai_calloc(1, sizeof(*m));
    m->req = req;
    m->actor = balai_strdup(actor);
    m->action = action;
    m->detail = detail;
    w->done = meta_done;
    w->arg = m;
    balai_api_write_submit(w);
}

static void put_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *evs = NULL;
    static const struct {
        const char *field, *type, *key;
    } fields[] = {
        {"owner_unit", BALAI_ROOM_OWNER_UNIT, "unit_id"},
        {"purpose", BALAI_ROOM_PURPOSE, "text"},
        {"classification", BALAI_ROOM_CLASSIFICATION, "label"},
        {"rules", BALAI_ROOM_RULES, "text"},
    };

    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    struct balai_room *room = org_room(req);
    if (!room)
        goto out;
    const char *me = s->device->user->user_id;
    if (!org_admin(app, s) && !balai_api_stewardship_is_steward(app, room, me)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Only the room's stewards and the organisation's admins may change its "
                        "metadata");
        goto out;
    }
    if (balai_api_org_rooms_archived(room)) {
        balai_api_error(req, 403, "M_FORBIDDEN", "%s", archived_msg);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        size_t i;
        for (i = 0; i < BALAI_ARRAY_LEN(fields); i++) {
            if (strcmp(k, fields[i].field) == 0)
                break;
        }
        if (i == BALAI_ARRAY_LEN(fields)) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "Unknown field '%.60s': use owner_unit, purpose, classification and "
                            "rules",
                            k);
            goto out;
        }
        if (!json_is_string(v)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'%s' must be a string", k);
            goto out;
        }
    }
    evs = json_object();
    for (size_t i = 0; i < BALAI_ARRAY_LEN(fields); i++) {
        json_t *val = json_object_get(body, fields[i].field);
        if (val)
            json_object_set_new(evs, fields[i].type, json_pack("{s:O}", fields[i].key, val));
    }
    if (json_object_size(evs) == 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Nothing to change: give owner_unit, purpose, classification or rules");
        goto out;
    }
    write_meta(req, room, evs, me, "room.metadata.set", json_deep_copy(body));
out:
    json_decref(evs);
    json_decref(body);
}

static void set_archived(struct balai_http_req *req, struct balai_room *room, const char *actor,
                         int archived)
{
    json_t *evs;
    if (balai_api_org_rooms_archived(room) == archived) {
        balai_api_json(req, 200,
                       balai_api_org_rooms_json(balai_api_app(req), room, balai_now_ms(), 0));
        return;
    }
    evs = json_pack("{s:{s:b, s:I, s:s}}", BALAI_ROOM_ARCHIVED, "archived", archived, "ts",
                    (json_int_t)balai_now_ms(), "by", actor);
    write_meta(req, room, evs, actor, archived ? "room.archive" : "room.unarchive", NULL);
    json_decref(evs);
}

static void client_archive(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        balai_api_body(req, 1, &body) < 0)
        goto out;
    struct balai_room *room = org_room(req);
    if (!room)
        goto out;
    const char *me = s->device->user->user_id;
    if (!org_admin(app, s) && !balai_api_stewardship_is_steward(app, room, me)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Only the room's stewards and the organisation's admins may archive it");
        goto out;
    }
    set_archived(req, room, me, 1);
out:
    json_decref(body);
}

static void admin_archive(struct balai_http_req *req, int archived)
{
    struct balai_session *s;
    json_t *body = NULL;
    if (balai_api_auth_role(
            req, &s, BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) | BALAI_ROLE_BIT(BALAI_ROLE_OWNER)) < 0 ||
        balai_api_body(req, 1, &body) < 0)
        goto out;
    struct balai_room *room = org_room(req);
    if (room)
        set_archived(req, room, balai_api_audit_actor(s), archived);
out:
    json_decref(body);
}

static void admin_archive_post(struct balai_http_req *req)
{
    admin_archive(req, 1);
}

static void admin_unarchive_post(struct balai_http_req *req)
{
    admin_archive(req, 0);
}

/* ---- life cycle ---- */

void balai_api_org_rooms_free(struct balai_app *app)
{
    struct balai_api_org_rooms *o = app->org_rooms;
    if (!o)
        return;
    for (size_t i = 0; i < o->nlabels; i++)
        free(o->labels[i]);
    free(o->labels);
    size_t it = 0;
    const void *k;
    size_t kl;
    void *v;
    while (balai_map_next(o->departing, &it, &k, &kl, &v))
        free(v);
    balai_map_free(o->departing);
    free(o);
    app->org_rooms = NULL;
}

/* GET /_balai/client/v1/room_labels: the classification labels rooms may
 * carry, in the configured order, and the default for new rooms. */
static void get_labels(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    const struct balai_api_org_rooms *o = app->org_rooms;
    json_t *labels = json_array();
    for (size_t i = 0; o && i < o->nlabels; i++)
        json_array_append_new(labels, json_string(o->labels[i]));
    balai_api_json(
        req, 200,
        json_pack("{s:o, s:s}", "labels", labels, "default", app->cfg->rooms_default_label));
}

int balai_api_org_rooms_routes(struct balai_app *app)
{
    int rc = 0;
    if (!app->org_rooms) {
        app->org_rooms = balai_calloc(1, sizeof(*app->org_rooms));
        parse_labels(app->org_rooms, app->cfg->rooms_labels);
        app->org_rooms->departing = balai_map_new();
    }
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/client/v1/room_labels", get_labels, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/client/v1/rooms/{roomId}", get_room, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_balai/client/v1/rooms/{roomId}", put_room, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/client/v1/rooms/{roomId}/archive",
                          client_archive, 0);
    rc |=
        balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/rooms/{roomId}", admin_get_room, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/rooms/{roomId}/archive",
                          admin_archive_post, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/rooms/{roomId}/unarchive",
                          admin_unarchive_post, 0);
    if (rc)
        return BALAI_EINVAL;
    return balai_api_admin_rooms_report_routes(app);
}
