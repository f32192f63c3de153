/* rooms.c: POST /createRoom: a new room and its first events, written at once.
 *
 * SPEC: Matrix v1.12, Client-Server API "Creation" (POST /createRoom). The
 * events follow the spec's order: m.room.create, the creator's join, the
 * power levels, the canonical alias, the preset's join rules, history
 * visibility and guest access, initial_state, name, topic; then, in
 * organisation rooms (every room that is not a direct message), the system
 * user's invite and join (DESIGN.md §3); then the invites. They all go in one
 * write, so the room appears whole or not at all.
 *
 * Nothing is registered before everything was checked: the request is
 * validated, then its events are REHEARSED on a scratch room that nobody
 * else sees (the auth rules, the e2ee policy and the size limits run there),
 * and only a rehearsal that passed is replayed on the room added to
 * app->rooms. The replay builds the same events on the same (empty) state,
 * so it can only fail through a server bug; then the answer is 500 and the
 * room stays registered, empty (core/room.h has no way to remove a room). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "api/org_rooms.h"
#include "core/accounts.h"
#include "core/powerlevels.h"
#include "core/room.h"
#include "core/room_version.h"
#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/json.h"

#define LOG_MODULE "rooms"
#include "util/log.h"

/* createRoom bodies carry initial_state: room for a few large events. */
#define CREATE_MAX_BODY (1024 * 1024)
#define ALIAS_MAX 255

/* One event of the plan. Strings are borrowed from the request body, the
 * session's user or the app, all alive for the whole handler. */
struct plan_ev {
    const char *sender;
    const char *type;
    const char *state_key;
    json_t *content; /* owned reference */
};

struct plan {
    struct plan_ev evs[BALAI_WRITE_MAX_EVENTS];
    size_t n;
    int overflow;
};

/* Adds an event to the plan; takes the reference to content. */
static void plan_add(struct plan *p, const char *sender, const char *type, const char *state_key,
                     json_t *content)
{
    if (p->n == BALAI_WRITE_MAX_EVENTS) {
        p->overflow = 1;
        json_decref(content);
        return;
    }
    struct plan_ev *e = &p->evs[p->n++];
    e->sender = sender;
    e->type = type;
    e->state_key = state_key;
    e->content = content;
}

static void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        json_decref(p->evs[i].content);
    p->n = 0;
}

/* Adds every planned event to a new write for `room`. On failure the write
 * is withdrawn and freed, and rc and reason say why. */
static int plan_run(struct balai_app *app, struct balai_room *room, const struct plan *p,
                    struct balai_api_write **out, char *reason, size_t reasonlen)
{
    struct balai_api_write *w = balai_api_write_new(app, room);
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_ev *e = &p->evs[i];
        int rc =
            balai_api_event_add(w, e->sender, e->type, e->state_key, e->content, reason, reasonlen);
        if (rc != BALAI_OK) {
            balai_api_write_free(w);
            *out = NULL;
            return rc;
        }
    }
    *out = w;
    return BALAI_OK;
}

/* ---- request fields ---- */

static int get_array(struct balai_http_req *req, json_t *body, const char *key, json_t **out)
{
    char err[BALAI_JSON_ERR_LEN];
    int rc = balai_json_get_array(body, key, out, err, sizeof(err));
    if (rc == BALAI_ENOTFOUND) {
        *out = NULL;
        return BALAI_OK;
    }
    if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
    return rc;
}

static int get_object(struct balai_http_req *req, json_t *body, const char *key, json_t **out)
{
    char err[BALAI_JSON_ERR_LEN];
    int rc = balai_json_get_obj(body, key, out, err, sizeof(err));
    if (rc == BALAI_ENOTFOUND) {
        *out = NULL;
        return BALAI_OK;
    }
    if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
    return rc;
}

/* The localpart of an alias: 1.. printable characters (UTF-8 allowed), no
 * ':', no whitespace, no control characters. */
static int alias_localpart_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c <= 0x20 || *c == 0x7f || *c == ':')
            return 0;
    }
    return 1;
}

static const char *const presets[] = {"private_chat", "public_chat", "trusted_private_chat"};

struct create {
    const char *creator;
    const char *preset;
    const char *name, *topic;
    const char *alias_name;
    char *alias; /* "#name:server", owned */
    const struct balai_room_version *rv;
    int is_direct;
    int publish;           /* visibility "public": listed in the room directory */
    json_t *invite;        /* borrowed from the body: strings, deduplicated in invitees */
    const char **invitees; /* borrowed strings */
    size_t ninvitees;
    json_t *initial_state; /* borrowed, validated */
    json_t *pl_override;   /* borrowed */
    json_t *creation_content;
    struct balai_api_org_create org; /* org metadata and stewards (api/org_rooms.h) */
};

/* Parses and validates the body; answers and fails on the first problem. */
static int parse(struct balai_http_req *req, json_t *body, struct create *c)
{
    struct balai_app *app = balai_api_app(req);
    const char *visibility, *version;

    if (balai_api_str(req, body, "visibility", 0, &visibility) < 0 ||
        balai_api_str(req, body, "preset", 0, &c->preset) < 0 ||
        balai_api_str(req, body, "name", 0, &c->name) < 0 ||
        balai_api_str(req, body, "topic", 0, &c->topic) < 0 ||
        balai_api_str(req, body, "room_alias_name", 0, &c->alias_name) < 0 ||
        balai_api_str(req, body, "room_version", 0, &version) < 0 ||
        balai_api_bool(req, body, "is_direct", &c->is_direct) < 0 ||
        get_array(req, body, "invite", &c->invite) < 0 ||
        get_array(req, body, "initial_state", &c->initial_state) < 0 ||
        get_object(req, body, "power_level_content_override", &c->pl_override) < 0 ||
        get_object(req, body, "creation_content", &c->creation_content) < 0)
        return BALAI_EINVAL;

    if (visibility && strcmp(visibility, "public") != 0 && strcmp(visibility, "private") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'visibility' must be \"public\" or \"private\"");
        return BALAI_EINVAL;
    }
    c->publish = visibility && strcmp(visibility, "public") == 0;
    if (!c->preset) {
        c->preset =
            visibility && strcmp(visibility, "public") == 0 ? "public_chat" : "private_chat";
    } else {
        size_t i;
        for (i = 0; i < BALAI_ARRAY_LEN(presets); i++) {
            if (strcmp(c->preset, presets[i]) == 0)
                break;
        }
        if (i == BALAI_ARRAY_LEN(presets)) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'preset' must be private_chat, public_chat or trusted_private_chat");
            return BALAI_EINVAL;
        }
    }
    c->rv = version ? balai_room_version_get(version) : balai_room_version_default();
    if (!c->rv) {
        balai_api_error(req, 400, "M_UNSUPPORTED_ROOM_VERSION",
                        "Room version '%.40s' is not supported: use 10 or 11", version);
        return BALAI_EINVAL;
    }

    if (c->alias_name) {
        if (!alias_localpart_ok(c->alias_name)) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'room_alias_name' must be a non-empty name without ':', spaces or "
                            "control characters");
            return BALAI_EINVAL;
        }
        c->alias = balai_asprintf("#%s:%s", c->alias_name, app->server_name);
        if (strlen(c->alias) > ALIAS_MAX) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "The room alias is too long");
            return BALAI_EINVAL;
        }
        if (balai_rooms_alias_get(app->rooms, c->alias, NULL)) {
            balai_api_error(req, 400, "M_ROOM_IN_USE", "Room alias already taken");
            return BALAI_EINVAL;
        }
    }

    /* invitees: local, active, not the creator, not the system user; duplicates dropped */
    size_t n = c->invite ? json_array_size(c->invite) : 0;
    if (n > BALAI_WRITE_MAX_EVENTS) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Too many users to invite (at most %d)",
                        BALAI_WRITE_MAX_EVENTS);
        return BALAI_EINVAL;
    }
    c->invitees = balai_calloc(n ? n : 1, sizeof(*c->invitees));
    for (size_t i = 0; i < n; i++) {
        const char *uid = json_string_value(json_array_get(c->invite, i));
        if (!uid) {
            balai_api_error(req, 400, "M_BAD_JSON", "'invite' must be an array of user ids");
            return BALAI_EINVAL;
        }
        if (!balai_pl_user_id_ok(uid)) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'%.300s' is not a valid user id", uid);
            return BALAI_EINVAL;
        }
        if (strcmp(uid, c->creator) == 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "You cannot invite yourself");
            return BALAI_EINVAL;
        }
        if (strcmp(uid, app->system_user_id) == 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "The system user cannot be invited: it joins every organisation "
                            "room by itself");
            return BALAI_EINVAL;
        }
        struct balai_user *u = balai_accounts_user(app->accounts, uid);
        if (!u) {
            balai_api_error(req, 404, "M_NOT_FOUND", "%s is not a user of this server", uid);
            return BALAI_EINVAL;
        }
        if (u->deactivated) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "%s has been deactivated", uid);
            return BALAI_EINVAL;
        }
        size_t j;
        for (j = 0; j < c->ninvitees; j++) {
            if (strcmp(c->invitees[j], uid) == 0)
                break;
        }
        if (j == c->ninvitees)
            c->invitees[c->ninvitees++] = u->user_id;
    }

    n = c->initial_state ? json_array_size(c->initial_state) : 0;
    if (n > BALAI_WRITE_MAX_EVENTS) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Too many initial_state events (at most %d)",
                        BALAI_WRITE_MAX_EVENTS);
        return BALAI_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(c->initial_state, i), *sk, *content;
        if (!json_is_object(e)) {
            balai_api_error(req, 400, "M_BAD_JSON", "initial_state[%zu] must be an object", i);
            return BALAI_EINVAL;
        }
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!type || !*type) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "initial_state[%zu] needs a non-empty string 'type'", i);
            return BALAI_EINVAL;
        }
        sk = json_object_get(e, "state_key");
        if (sk && !json_is_string(sk)) {
            balai_api_error(req, 400, "M_BAD_JSON", "initial_state[%zu].state_key must be a string",
                            i);
            return BALAI_EINVAL;
        }
        content = json_object_get(e, "content");
        if (!json_is_object(content)) {
            balai_api_error(req, 400, "M_BAD_JSON", "initial_state[%zu] needs a 'content' object",
                            i);
            return BALAI_EINVAL;
        }
        if (strcmp(type, "m.room.create") == 0 || strcmp(type, "m.room.member") == 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "initial_state cannot contain %s events: use creation_content and "
                            "invite instead",
                            type);
            return BALAI_EINVAL;
        }
    }
    return BALAI_OK;
}

/* ---- the events ---- */

static int in_initial_state(const struct create *c, const char *type, const char *state_key)
{
    size_t n = c->initial_state ? json_array_size(c->initial_state) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(c->initial_state, i);
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
            strcmp(sk ? sk : "", state_key) == 0)
            return 1;
    }
    return 0;
}

static json_t *member_content(const char *membership, const struct balai_user *u, int is_direct)
{
    json_t *o = json_pack("{s:s}", "membership", membership);
    if (u && u->displayname)
        json_object_set_new(o, "displayname", json_string(u->displayname));
    if (u && u->avatar_url)
        json_object_set_new(o, "avatar_url", json_string(u->avatar_url));
    if (is_direct)
        json_object_set_new(o, "is_direct", json_true());
    return o;
}

/* The system user keeps 100 in organisation rooms: it is the organisation's agent. */
static void keep_system_level(struct balai_app *app, const struct create *c, json_t *pl)
{
    json_t *users = json_object_get(pl, "users");
    if (c->is_direct)
        return;
    if (!users) {
        users = json_object();
        json_object_set_new(pl, "users", users);
    }
    if (json_is_object(users))
        json_object_set_new(users, app->system_user_id, json_integer(100));
}

static json_t *power_levels(struct balai_app *app, const struct create *c)
{
    json_t *pl = balai_pl_default_content(c->creator);
    json_t *users = json_object_get(pl, "users");
    if (!c->is_direct)
        json_object_set_new(users, app->system_user_id, json_integer(100));
    if (strcmp(c->preset, "trusted_private_chat") == 0) {
        for (size_t i = 0; i < c->ninvitees; i++)
            json_object_set_new(users, c->invitees[i], json_integer(100));
    }
    if (c->pl_override) {
        /* top-level merge, on a copy so the request's objects stay untouched */
        json_t *ov = json_deep_copy(c->pl_override);
        json_object_update(pl, ov);
        json_decref(ov);
        keep_system_level(app, c, pl);
    }
    balai_api_org_create_levels(app, &c->org, pl);
    return pl;
}

static void plan_add_cb(void *arg, const char *sender, const char *type, const char *state_key,
                        json_t *content)
{
    plan_add(arg, sender, type, state_key, content);
}

static void make_plan(struct balai_app *app, const struct create *c, const struct balai_user *u,
                      struct plan *p)
{
    const char *creator = c->creator, *sys = app->system_user_id;
    int public = strcmp(c->preset, "public_chat") == 0;
    json_t *o;

    o = c->creation_content ? json_deep_copy(c->creation_content) : json_object();
    json_object_set_new(o, "room_version", json_string(c->rv->id));
    if (c->rv->implicit_creator)
        json_object_del(o, "creator");
    else
        json_object_set_new(o, "creator", json_string(creator));
    plan_add(p, creator, "m.room.create", "", o);
    plan_add(p, creator, "m.room.member", creator, member_content("join", u, 0));
    plan_add(p, creator, "m.room.power_levels", "", power_levels(app, c));
    if (c->alias)
        plan_add(p, creator, "m.room.canonical_alias", "", json_pack("{s:s}", "alias", c->alias));
    if (!in_initial_state(c, "m.room.join_rules", ""))
        plan_add(p, creator, "m.room.join_rules", "",
                 json_pack("{s:s}", "join_rule", public ? "public" : "invite"));
    if (!in_initial_state(c, "m.room.history_visibility", ""))
        plan_add(p, creator, "m.room.history_visibility", "",
                 json_pack("{s:s}", "history_visibility", "shared"));
    if (!in_initial_state(c, "m.room.guest_access", ""))
        plan_add(p, creator, "m.room.guest_access", "",
                 json_pack("{s:s}", "guest_access", "forbidden"));

    size_t n = c->initial_state ? json_array_size(c->initial_state) : 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(c->initial_state, i);
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        json_t *content = json_deep_copy(json_object_get(e, "content"));
        if (strcmp(type, "m.room.power_levels") == 0 && (!sk || !*sk))
            keep_system_level(app, c, content);
        plan_add(p, creator, type, sk ? sk : "", content);
    }
    if (c->name)
        plan_add(p, creator, "m.room.name", "", json_pack("{s:s}", "name", c->name));
    if (c->topic)
        plan_add(p, creator, "m.room.topic", "", json_pack("{s:s}", "topic", c->topic));
    if (!c->is_direct) {
        const struct balai_user *su = balai_accounts_user(app->accounts, sys);
        plan_add(p, creator, "m.room.member", sys, member_content("invite", su, 0));
        plan_add(p, sys, "m.room.member", sys, member_content("join", su, 0));
        balai_api_org_create_plan(app, &c->org, c->invitees, c->ninvitees, plan_add_cb, p);
    }
    for (size_t k = 0; k < c->ninvitees; k++) {
        const struct balai_user *iu = balai_accounts_user(app->accounts, c->invitees[k]);
        plan_add(p, creator, "m.room.member", c->invitees[k],
                 member_content("invite", iu, c->is_direct));
    }
}

/* ---- the handler ---- */

/* Before persist (api/dlp.h): the new room's name and topic, also those of
 * initial_state, under the label initial_state gives it. Returns 1 when DLP
 * answered (a hold acts as a block: the room does not exist yet). */
static int dlp_plan(struct balai_http_req *req, const struct create *c, struct plan *p)
{
    struct balai_app *app = balai_api_app(req);
    const char *label = c->is_direct ? NULL : app->cfg->rooms_default_label;
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_ev *e = &p->evs[i];
        const char *l = json_string_value(json_object_get(e->content, "label"));
        if (!c->is_direct && strcmp(e->type, BALAI_DLP_CLASSIFICATION_TYPE) == 0 && e->state_key &&
            !e->state_key[0] && l && *l)
            label = l;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_ev *e = &p->evs[i];
        if (strcmp(e->type, "m.room.name") != 0 && strcmp(e->type, "m.room.topic") != 0)
            continue;
        struct balai_api_dlp_event de = {c->creator, NULL, label, e->type, e->state_key, 0};
        json_t *masked = NULL;
        if (balai_api_dlp_check(req, &de, e->content, &masked, NULL))
            return 1;
        json_decref(masked);
    }
    return 0;
}

static void created(struct balai_api_write *w)
{
    struct balai_http_req *req = w->arg;
    if (w->op.rc != BALAI_OK) {
        /* nothing of the room was stored: forget it (its events were withdrawn) */
        struct balai_app *app = w->app;
        if (balai_rooms_remove_unborn(app->rooms, w->room) == BALAI_OK)
            w->room = NULL;
    }
    if (w->op.rc == BALAI_EEXIST && w->alias) {
        /* another request took the alias while this one was being written */
        balai_api_error(req, 400, "M_ROOM_IN_USE", "Room alias already taken");
        return;
    }
    if (w->op.rc != BALAI_OK) {
        balai_api_error(req, 500, "M_UNKNOWN", "Could not store the new room; try again");
        return;
    }
    json_t *o = json_pack("{s:s}", "room_id", balai_room_id(w->room));
    if (w->alias)
        json_object_set_new(o, "room_alias", json_string(w->alias));
    LOG_INFO("room %s created by %s (%zu events)", balai_room_id(w->room),
             balai_room_creator(w->room), w->nevs);
    balai_api_json(req, 200, o);
}

static void create_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_api_write *w = NULL;
    struct plan *p = balai_calloc(1, sizeof(*p));
    struct create c;
    json_t *body = NULL;
    char *room_id = NULL;
    char reason[512];
    int rc;

    memset(&c, 0, sizeof(c));
    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 1, &body) < 0)
        goto out;
    struct balai_user *u = s->device->user;
    c.creator = u->user_id;
    if (balai_api_refuse_suspended(req, u->user_id) || parse(req, body, &c) < 0 ||
        balai_api_org_create_prepare(req, body, c.creator, c.is_direct, &c.org) < 0)
        goto out;
    make_plan(app, &c, u, p);
    if (p->overflow) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Too many events for one new room (at most %d): invite fewer users or "
                        "send less initial_state",
                        BALAI_WRITE_MAX_EVENTS);
        goto out;
    }
    if (dlp_plan(req, &c, p))
        goto out;

    char *rnd = balai_random_alnum(18);
    room_id = balai_asprintf("!%s:%s", rnd, app->server_name);
    free(rnd);

    /* rehearsal on a scratch room: every refusal happens here */
    struct balai_room *scratch = balai_room_new(room_id, c.rv, c.creator, c.is_direct, 1);
    rc = plan_run(app, scratch, p, &w, reason, sizeof(reason));
    balai_api_write_free(w);
    w = NULL;
    balai_room_free(scratch);
    if (rc != BALAI_OK) {
        balai_api_event_error(req, rc, reason);
        goto out;
    }

    struct balai_room *room = balai_rooms_add(app->rooms, room_id, c.rv, c.creator, c.is_direct);
    if (!room) {
        LOG_ERROR("new room id %s collides with an existing room", room_id);
        balai_api_error(req, 500, "M_UNKNOWN", "Could not create the room; try again");
        goto out;
    }
    rc = plan_run(app, room, p, &w, reason, sizeof(reason));
    if (rc != BALAI_OK) {
        LOG_ERROR("room %s: an event that passed rehearsal was refused (%s): %s", room_id,
                  balai_strerror(rc), reason);
        balai_api_write_free(w);
        w = NULL;
        balai_rooms_remove_unborn(app->rooms, room);
        balai_api_error(req, 500, "M_UNKNOWN", "Could not create the room; try again");
        goto out;
    }
    w->new_room = 1;
    w->alias = c.alias;
    c.alias = NULL;
    w->publish = c.publish;
    w->done = created;
    w->arg = req;
    balai_api_write_submit(w);
out:
    plan_release(p);
    free(p);
    free(room_id);
    free(c.alias);
    free(c.invitees);
    balai_api_org_create_release(&c.org);
    json_decref(body);
}

int balai_api_client_rooms_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/createRoom", create_room,
                           CREATE_MAX_BODY)
               ? BALAI_EINVAL
               : BALAI_OK;
}
