/* stewardship.c: enforcing the stewardship invariant and passing stewardship on.
 *
 * The counting and the choice of successors are gov/stewardship.c; here the
 * views are fed from room state, accounts and the directory, and successions
 * are written through the event path as the system user. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/directory.h"
#include "api/events.h"
#include "api/org_rooms.h"
#include "api/stewardship.h"
#include "core/accounts.h"
#include "gov/stewardship.h"
#include "util/alloc.h"
#include "util/map.h"

#define LOG_MODULE "stewardship"
#include "util/log.h"

#define CHAIN_MAX 16

struct ctx {
    struct balai_app *app;
    const struct balai_state_lookup *view;
};

static const char *view_membership(void *arg, const char *user_id)
{
    struct ctx *c = arg;
    return balai_state_membership(c->view, user_id);
}

static int user_active(struct balai_app *app, const char *user_id)
{
    if (app->org_rooms && balai_map_get_str(app->org_rooms->departing, user_id))
        return 0;
    const struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    if (!u || u->deactivated || u->system)
        return 0;
    const struct balai_gov_person *p =
        app->directory ? balai_gov_directory_get(app->directory->dir, user_id) : NULL;
    return !(p && p->status == BALAI_STATUS_TERMINATED);
}

static int view_active(void *arg, const char *user_id)
{
    struct ctx *c = arg;
    return user_active(c->app, user_id);
}

static const json_t *view_pl(const struct balai_state_lookup *view)
{
    const json_t *pdu = balai_state_lookup_get(view, "m.room.power_levels", "", NULL);
    return pdu ? json_object_get(pdu, "content") : NULL;
}

static void make_view(struct ctx *c, struct balai_app *app, const struct balai_room *room,
                      const struct balai_state_lookup *view, const json_t *pl,
                      struct balai_gov_steward_view *v)
{
    c->app = app;
    c->view = view;
    v->power_levels = pl;
    v->creator = balai_room_creator(room);
    v->system_user = app->system_user_id;
    v->membership = view_membership;
    v->active = view_active;
    v->arg = c;
}

static size_t min_stewards(const struct balai_app *app)
{
    return (size_t)app->cfg->rooms_min_stewards;
}

static size_t max_stewards(const struct balai_app *app)
{
    return (size_t)app->cfg->rooms_max_stewards;
}

/* ---- before_persist ---- */

int balai_api_stewardship_check(struct balai_app *app, struct balai_room *room,
                                const struct balai_state_lookup *view, const char *sender,
                                const char *type, const char *state_key, const json_t *content,
                                char *reason, size_t reasonlen)
{
    struct ctx c;
    struct balai_gov_steward_view v;
    size_t before, after;

    if (app->system_user_id && strcmp(sender, app->system_user_id) == 0)
        return BALAI_OK; /* the organisation's agent: successions, rules */
    const json_t *pl = view_pl(view);
    if (!pl)
        return BALAI_OK; /* a room being created: its first power levels set the stewards */
    make_view(&c, app, room, view, pl, &v);
    if (strcmp(type, "m.room.power_levels") == 0) {
        before = balai_gov_stewards(&v, NULL, 0);
        v.power_levels = content;
        after = balai_gov_stewards(&v, NULL, 0);
    } else {
        const char *m = json_string_value(json_object_get(content, "membership"));
        if (!m || (strcmp(m, "leave") != 0 && strcmp(m, "ban") != 0))
            return BALAI_OK;
        if (!balai_gov_steward_is(&v, state_key))
            return BALAI_OK;
        before = balai_gov_stewards(&v, NULL, 0);
        after = before - 1;
    }
    switch (balai_gov_stewardship_judge(before, after, min_stewards(app), max_stewards(app))) {
    case BALAI_STEWARD_TOO_FEW:
        snprintf(reason, reasonlen,
                 "This room needs at least %zu stewards; name another steward first (give "
                 "another member power level 100)",
                 min_stewards(app));
        return BALAI_EFORBIDDEN;
    case BALAI_STEWARD_TOO_MANY:
        snprintf(reason, reasonlen,
                 "This room may have at most %zu stewards (members with power level 100); "
                 "take the level from a steward first",
                 max_stewards(app));
        return BALAI_EFORBIDDEN;
    case BALAI_STEWARD_OK:
        break;
    }
    return BALAI_OK;
}

/* ---- reading ---- */

json_t *balai_api_stewards_json(struct balai_app *app, struct balai_room *room, size_t *count)
{
    struct ctx c;
    struct balai_gov_steward_view v;
    struct balai_state_lookup view = balai_state_lookup_of(balai_room_state(room));
    const char *ids[64];
    json_t *arr = json_array();

    make_view(&c, app, room, &view, view_pl(&view), &v);
    size_t n = balai_gov_stewards(&v, ids, BALAI_ARRAY_LEN(ids));
    for (size_t i = 0; i < n && i < BALAI_ARRAY_LEN(ids); i++)
        json_array_append_new(arr, json_string(ids[i]));
    if (count)
        *count = n;
    return arr;
}

int balai_api_stewardship_is_steward(struct balai_app *app, struct balai_room *room,
                                     const char *user_id)
{
    struct ctx c;
    struct balai_gov_steward_view v;
    struct balai_state_lookup view = balai_state_lookup_of(balai_room_state(room));
    make_view(&c, app, room, &view, view_pl(&view), &v);
    return balai_gov_steward_is(&v, user_id);
}

/* ---- succession ---- */

size_t balai_api_manager_chain(struct balai_app *app, const char *user_id, const char **out,
                               size_t max)
{
    const struct balai_gov_directory *dir = app->directory ? app->directory->dir : NULL;
    const struct balai_gov_person *p = dir ? balai_gov_directory_get(dir, user_id) : NULL;
    size_t n = 0;
    while (p && p->manager && n < max) {
        if (strcmp(p->manager, user_id) == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(out[i], p->manager) == 0)
                return n;
        }
        out[n++] = p->manager;
        p = balai_gov_directory_get(dir, p->manager);
    }
    return n;
}

struct ids {
    const char **v;
    size_t n, cap;
};

static void ids_add(struct ids *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], id) == 0)
            return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = balai_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_org_admin(struct balai_user *u, void *arg)
{
    if (u->admin && !u->system && !u->deactivated)
        ids_add(arg, u->user_id);
    return 0;
}

struct pick {
    struct balai_app *app;
    struct balai_gov_steward_view *v;
    const char *departing;
    struct ids *picked;
};

static int eligible(void *arg, const char *user_id)
{
    struct pick *p = arg;
    if (strcmp(user_id, p->departing) == 0 || !user_active(p->app, user_id))
        return 0;
    for (size_t i = 0; i < p->picked->n; i++) {
        if (strcmp(p->picked->v[i], user_id) == 0)
            return 0;
    }
    const char *m = p->v->membership(p->v->arg, user_id);
    if (m && strcmp(m, "ban") == 0)
        return 0;
    return !balai_gov_steward_is(p->v, user_id);
}

struct succession {
    struct balai_app *app;
    char *actor;
    char *departing;
    json_t *successors;
};

static void succession_done(struct balai_api_write *w)
{
    struct succession *s = w->arg;
    const char *room_id = balai_room_id(w->room);
    if (w->op.rc != BALAI_OK) {
        LOG_ERROR("room %s: could not store the stewardship succession of %s: %s", room_id,
                  s->departing, balai_strerror(w->op.rc));
        json_decref(s->successors);
    } else {
        LOG_INFO("room %s: stewardship of %s passed on", room_id, s->departing);
        balai_api_audit_log(
            s->app, s->actor, "room.steward.succession", room_id,
            json_pack("{s:s, s:o}", "departing", s->departing, "successors", s->successors));
    }
    free(s->actor);
    free(s->departing);
    free(s);
}

static json_t *invite_content(struct balai_app *app, const char *user_id, const char *departing)
{
    const struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    json_t *o = json_pack("{s:s}", "membership", "invite");
    char *why = balai_asprintf("Appointed steward of this room, succeeding %s", departing);
    json_object_set_new(o, "reason", json_string(why));
    free(why);
    if (u && u->displayname)
        json_object_set_new(o, "displayname", json_string(u->displayname));
    return o;
}

/* Appoints successors in one room; returns 1 when too few were found. */
static int succeed_in_room(struct balai_app *app, struct balai_room *room, const char *departing,
                           const char *actor)
{
    struct balai_state_lookup view = balai_room_auth_view(room);
    const json_t *pl = view_pl(&view);
    struct ctx c;
    struct balai_gov_steward_view v;
    struct ids chain = {0}, unit = {0}, org = {0}, picked = {0};
    struct balai_api_write *w = NULL;
    json_t *newpl = NULL;
    char reason[512];
    int unfilled = 0, rc;

    make_view(&c, app, room, &view, pl, &v);
    size_t have = balai_gov_stewards(&v, NULL, 0);
    if (have >= min_stewards(app) || !pl)
        goto out;
    size_t need = min_stewards(app) - have;

    const struct balai_gov_directory *dir = app->directory ? app->directory->dir : NULL;
    if (dir) {
        const char *mc[CHAIN_MAX];
        size_t n = balai_api_manager_chain(app, departing, mc, CHAIN_MAX);
        for (size_t i = 0; i < n; i++)
            ids_add(&chain, mc[i]);
        const json_t *ou = balai_api_org_rooms_meta(room, BALAI_ROOM_OWNER_UNIT);
        const char *uid = json_string_value(json_object_get(ou, "unit_id"));
        for (size_t depth = 0; uid && depth < 32; depth++) {
            const struct balai_gov_unit *u = balai_gov_unit_get(dir, uid);
            if (!u)
                break;
            for (size_t i = 0; i < u->n_admins; i++)
                ids_add(&unit, u->admins[i]);
            uid = u->parent_id;
        }
    }
    balai_accounts_each(app->accounts, add_org_admin, &org);
    if (org.n > 1)
        qsort(org.v, org.n, sizeof(*org.v), cmp_str);

    const char *const *tiers[3] = {chain.v, unit.v, org.v};
    size_t counts[3] = {chain.n, unit.n, org.n};
    struct pick pk = {app, &v, departing, &picked};
    while (picked.n < need) {
        const char *s = balai_gov_stewardship_successor(tiers, counts, 3, eligible, &pk);
        if (!s)
            break;
        ids_add(&picked, s);
    }
    if (picked.n < need)
        unfilled = 1;
    if (picked.n == 0)
        goto out;

    newpl = json_deep_copy(pl);
    json_t *users = json_object_get(newpl, "users");
    if (!json_is_object(users)) {
        users = json_object();
        json_object_set_new(newpl, "users", users);
    }
    for (size_t i = 0; i < picked.n; i++)
        json_object_set_new(users, picked.v[i], json_integer(BALAI_GOV_STEWARD_LEVEL));
    w = balai_api_write_new(app, room);
    rc = balai_api_event_add(w, app->system_user_id, "m.room.power_levels", "", newpl, reason,
                             sizeof(reason));
    for (size_t i = 0; rc == BALAI_OK && i < picked.n; i++) {
        const char *m = balai_state_membership(&view, picked.v[i]);
        if (strcmp(m, "join") == 0 || strcmp(m, "invite") == 0)
            continue;
        json_t *inv = invite_content(app, picked.v[i], departing);
        rc = balai_api_event_add(w, app->system_user_id, "m.room.member", picked.v[i], inv, reason,
                                 sizeof(reason));
        json_decref(inv);
    }
    if (rc != BALAI_OK) {
        LOG_ERROR("room %s: the succession of %s was refused: %s", balai_room_id(room), departing,
                  reason);
        balai_api_write_free(w);
        w = NULL;
        unfilled = 1;
        goto out;
    }
    struct succession *s = balai_calloc(1, sizeof(*s));
    s->app = app;
    s->actor = balai_strdup(actor);
    s->departing = balai_strdup(departing);
    s->successors = json_array();
    for (size_t i = 0; i < picked.n; i++)
        json_array_append_new(s->successors, json_string(picked.v[i]));
    w->done = succession_done;
    w->arg = s;
    balai_api_write_submit(w);
out:
    if (unfilled) {
        LOG_WARN("room %s: no successor found for departing steward %s", balai_room_id(room),
                 departing);
        balai_api_audit_log(
            app, actor, "room.steward.none", balai_room_id(room),
            json_pack("{s:s, s:I}", "departing", departing, "appointed", (json_int_t)picked.n));
    }
    json_decref(newpl);
    free(chain.v);
    free(unit.v);
    free(org.v);
    free(picked.v);
    return unfilled;
}

struct rooms_of {
    struct balai_app *app;
    const char *user_id;
    struct balai_room **v;
    size_t n, cap;
};

static void collect_steward_room(struct balai_room *r, void *arg)
{
    struct rooms_of *l = arg;
    if (balai_room_is_direct(r))
        return;
    struct balai_state_lookup view = balai_room_auth_view(r);
    struct ctx c;
    struct balai_gov_steward_view v;
    make_view(&c, l->app, r, &view, view_pl(&view), &v);
    if (!balai_gov_steward_is(&v, l->user_id))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = balai_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = r;
}

size_t balai_api_stewardship_on_departure(struct balai_app *app, const char *user_id,
                                          const char *actor, size_t *unfilled)
{
    struct rooms_of l = {app, user_id, NULL, 0, 0};
    size_t bad = 0;

    if (unfilled)
        *unfilled = 0;
    if (!app->org_rooms)
        return 0;
    balai_rooms_of_user(app->rooms, user_id, collect_steward_room, &l);
    free(balai_map_put_str(app->org_rooms->departing, user_id, balai_strdup("1")));
    for (size_t i = 0; i < l.n; i++)
        bad += (size_t)succeed_in_room(app, l.v[i], user_id, actor ? actor : "system");
    free(l.v);
    if (unfilled)
        *unfilled = bad;
    return l.n;
}

void balai_api_stewardship_on_return(struct balai_app *app, const char *user_id)
{
    if (app->org_rooms)
        free(balai_map_del_str(app->org_rooms->departing, user_id));
}
