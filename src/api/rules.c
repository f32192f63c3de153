/* rules.c: dynamic membership rules in the running server: storage, the
 * admin API /_balai/admin/v1/rules, preview, and the engine that carries the
 * decisions out as membership events (rules.h, docs/rules.md).
 *
 * In order: ownership rows (which memberships a rule made), the subject of
 * an evaluation (a person's attributes and groups), planning (who joins and
 * leaves what), carrying a plan out (membership events by the system user),
 * the queue and the engine (bounded batches per loop tick), hooks on the
 * event path (mandatory rooms), loading, the admin API, and preview (which
 * runs the same planning without carrying it out). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/events.h"
#include "api/offboard.h"
#include "api/rules.h"
#include "api/scim/scim.h"
#include "core/accounts.h"
#include "core/powerlevels.h"
#include "crypto/crypto.h"
#include "gov/rules.h"
#include "net/timer.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "rules"
#include "util/log.h"

enum row_state { ROW_OWNED = 1, ROW_OPTOUT = 2 };

/* One (user, room) ownership row in memory. */
struct row {
    enum row_state state;
    char *rule_id; /* the rule that made it, NULL for an opt-out */
};

/* The rows of one user: room id -> struct row *. */
struct user_rows {
    struct balai_map *rooms;
};

struct balai_api_rules {
    struct balai_gov_ruleset *rs;
    struct balai_map *rows;     /* user id -> struct user_rows * */
    struct balai_map *names;    /* rule id -> name (char *), kept for deleted rules too */
    struct balai_map *inflight; /* "user\nroom" -> (void *)1 */
    size_t n_inflight;
    /* the queue of users to re-evaluate */
    char **queue;
    size_t qhead, qlen, qcap;
    struct balai_map *queued; /* user id -> (void *)1 */
    struct balai_timer *timer;
    int scheduled;
};

static const char *rule_name(struct balai_api_rules *ar, const char *rule_id)
{
    const char *n = rule_id ? balai_map_get_str(ar->names, rule_id) : NULL;
    return n ? n : (rule_id ? rule_id : "(removed)");
}

static void note_name(struct balai_api_rules *ar, const char *rule_id, const char *name)
{
    free(balai_map_put_str(ar->names, rule_id, balai_strdup(name)));
}

/* ---- ownership rows ---- */

static struct row *row_get(struct balai_api_rules *ar, const char *user_id, const char *room_id)
{
    struct user_rows *ur = balai_map_get_str(ar->rows, user_id);
    return ur ? balai_map_get_str(ur->rooms, room_id) : NULL;
}

static void row_free(struct row *r)
{
    if (!r)
        return;
    free(r->rule_id);
    free(r);
}

/* Sets (state != 0) or removes (state 0) a row in memory. */
static void row_set_mem(struct balai_api_rules *ar, const char *user_id, const char *room_id,
                        enum row_state state, const char *rule_id)
{
    struct user_rows *ur = balai_map_get_str(ar->rows, user_id);
    struct row *r;

    if (!state) {
        if (ur)
            row_free(balai_map_del_str(ur->rooms, room_id));
        return;
    }
    if (!ur) {
        ur = balai_calloc(1, sizeof(*ur));
        ur->rooms = balai_map_new();
        balai_map_put_str(ar->rows, user_id, ur);
    }
    r = balai_calloc(1, sizeof(*r));
    r->state = state;
    r->rule_id = rule_id ? balai_strdup(rule_id) : NULL;
    row_free(balai_map_put_str(ur->rooms, room_id, r));
}

struct row_op {
    struct balai_store_op op;
    char *user_id, *room_id, *rule_id;
    const char *state; /* static, NULL = delete */
    int64_t ts;
};

static int row_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct row_op *r = (struct row_op *)op;
    return balai_store_txn_rule_member_set(t, r->user_id, r->room_id, r->state, r->rule_id, r->ts);
}

static void row_done(struct balai_store_op *op)
{
    struct row_op *r = (struct row_op *)op;
    if (op->rc != BALAI_OK)
        LOG_ERROR("storing the rule membership of %s in %s failed: %s", r->user_id, r->room_id,
                  balai_strerror(op->rc));
    free(r->user_id);
    free(r->room_id);
    free(r->rule_id);
    free(r);
}

/* Sets a row in memory at once and in the store through the writer. */
static void row_set(struct balai_app *app, const char *user_id, const char *room_id,
                    enum row_state state, const char *rule_id)
{
    struct row_op *r = balai_calloc(1, sizeof(*r));

    row_set_mem(app->rules, user_id, room_id, state, rule_id);
    r->user_id = balai_strdup(user_id);
    r->room_id = balai_strdup(room_id);
    r->rule_id = rule_id ? balai_strdup(rule_id) : NULL;
    r->state = state == ROW_OWNED ? "owned" : state == ROW_OPTOUT ? "optout" : NULL;
    r->ts = balai_now_ms();
    r->op.apply = row_apply;
    r->op.done = row_done;
    balai_store_submit(app->store, &r->op);
}

static char *pair_key(const char *user_id, const char *room_id)
{
    return balai_asprintf("%s\n%s", user_id, room_id);
}

static int inflight_has(struct balai_api_rules *ar, const char *user_id, const char *room_id)
{
    char *k = pair_key(user_id, room_id);
    int has = balai_map_get_str(ar->inflight, k) != NULL;
    free(k);
    return has;
}

/* ---- the subject of an evaluation ---- */

/* The SCIM groups of a person: their ids and display names (borrowed from
 * the SCIM module, valid until its next write: within one evaluation). */
struct groups {
    const char **v;
    size_t n, cap;
};

static void groups_add(struct groups *g, const char *s)
{
    if (!s)
        return;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->v = balai_realloc(g->v, g->cap * sizeof(*g->v));
    }
    g->v[g->n++] = s;
}

static int add_group(const char *group_id, const char *display_name, void *arg)
{
    groups_add(arg, group_id);
    groups_add(arg, display_name);
    return 0;
}

/* Non-zero when a rule of rs matches on SCIM groups. */
static int has_group_rules(const struct balai_gov_ruleset *rs)
{
    for (size_t i = 0; i < balai_gov_ruleset_count(rs); i++) {
        if (balai_gov_ruleset_at(rs, i)->nvalues[BALAI_RULE_GROUP])
            return 1;
    }
    return 0;
}

/* Fills s for u, for evaluating rs; g receives the group list (release
 * with free(g->v)). */
static void subject_of(struct balai_app *app, const struct balai_gov_ruleset *rs,
                       const struct balai_user *u, struct balai_gov_rule_subject *s,
                       struct groups *g)
{
    memset(s, 0, sizeof(*s));
    memset(g, 0, sizeof(*g));
    s->user_id = u->user_id;
    s->person = balai_gov_directory_get(app->directory->dir, u->user_id);
    s->role = balai_api_role(app, u->user_id);
    s->inactive = u->deactivated || u->system;
    if (has_group_rules(rs))
        balai_api_scim_user_groups(app, u->user_id, add_group, g);
    s->groups = g->v;
    s->ngroups = g->n;
}

/* ---- planning ---- */

enum act_kind { ACT_JOIN, ACT_LEAVE, ACT_OPTOUT, ACT_DROP };

struct action {
    enum act_kind kind;
    char *user_id, *room_id, *rule_id;
};

struct plan {
    struct action *v;
    size_t n, cap;
};

static void plan_add(struct plan *p, enum act_kind kind, const char *user_id, const char *room_id,
                     const char *rule_id)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = balai_realloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n].kind = kind;
    p->v[p->n].user_id = balai_strdup(user_id);
    p->v[p->n].room_id = balai_strdup(room_id);
    p->v[p->n].rule_id = rule_id ? balai_strdup(rule_id) : NULL;
    p->n++;
}

static void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].user_id);
        free(p->v[i].room_id);
        free(p->v[i].rule_id);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* A room a rule may act in: it exists and is not a direct message. */
static struct balai_room *rule_room(struct balai_app *app, const char *room_id)
{
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    return room && !balai_room_is_direct(room) ? room : NULL;
}

static int is_member(const char *m)
{
    return m && (strcmp(m, "join") == 0 || strcmp(m, "invite") == 0);
}

/* Appends what evaluating `u` under `rs` would do to p: JOIN and LEAVE
 * change memberships, OPTOUT and DROP only the ownership rows. Pairs with a
 * write in flight are left alone (they are looked at again afterwards). */
static void plan_user(struct balai_app *app, const struct balai_gov_ruleset *rs,
                      const struct balai_user *u, struct plan *p)
{
    struct balai_api_rules *ar = app->rules;
    struct balai_gov_rule_subject s;
    struct balai_gov_rule_want *want = NULL;
    struct user_rows *ur;
    struct groups g;
    size_t n, it = 0, kl;
    const void *k;
    void *v;
    int gone;

    subject_of(app, rs, u, &s, &g);
    /* an offboarding takes them out of every room itself: no rule acts */
    gone = balai_api_offboard_in_effect(app, u->user_id);
    n = gone ? 0 : balai_gov_rules_eval(rs, app->directory->dir, &s, &want);
    for (size_t i = 0; i < n; i++) {
        const char *room_id = want[i].room;
        struct balai_room *room = rule_room(app, room_id);
        const struct row *r;
        const char *m;

        if (!room || inflight_has(ar, u->user_id, room_id))
            continue;
        m = balai_room_membership(room, u->user_id);
        if (m && strcmp(m, "join") == 0)
            continue; /* in already (owned or joined by themselves) */
        if (m && strcmp(m, "ban") == 0)
            continue;
        r = row_get(ar, u->user_id, room_id);
        if (r && r->state == ROW_OPTOUT)
            continue;
        if (r && r->state == ROW_OWNED && !(m && strcmp(m, "invite") == 0)) {
            /* a rule put them in and they are gone: they left (or were removed) */
            plan_add(p, ACT_OPTOUT, u->user_id, room_id, NULL);
            continue;
        }
        plan_add(p, ACT_JOIN, u->user_id, room_id, want[i].rule->rule_id);
    }
    ur = balai_map_get_str(ar->rows, u->user_id);
    while (ur && balai_map_next(ur->rooms, &it, &k, &kl, &v)) {
        char *room_id = balai_strndup(k, kl);
        const struct row *r = v;
        size_t i;

        for (i = 0; i < n; i++) {
            if (strcmp(want[i].room, room_id) == 0)
                break;
        }
        if (i == n && !inflight_has(ar, u->user_id, room_id)) {
            struct balai_room *room = balai_rooms_get(app->rooms, room_id);
            if (r->state == ROW_OWNED && room && !gone &&
                is_member(balai_room_membership(room, u->user_id)))
                plan_add(p, ACT_LEAVE, u->user_id, room_id, r->rule_id);
            else
                plan_add(p, ACT_DROP, u->user_id, room_id, NULL);
        }
        free(room_id);
    }
    free(want);
    free(g.v);
}

static void schedule(struct balai_api_rules *ar);

/* ---- carrying a plan out ---- */

struct act_write {
    struct balai_app *app;
    struct action a;
    char *key;
    const char *how; /* "kick" or "leave" for a LEAVE */
};

static void act_finish(struct act_write *aw, int ok)
{
    struct balai_api_rules *ar = aw->app->rules;

    if (ar) {
        balai_map_del_str(ar->inflight, aw->key);
        ar->n_inflight--;
        if (ok)
            balai_api_rules_on_person_changed(aw->app, aw->a.user_id); /* look again */
        schedule(ar); /* the in-flight bound may have held the queue */
    }
    free(aw->key);
    free(aw->a.user_id);
    free(aw->a.room_id);
    free(aw->a.rule_id);
    free(aw);
}

static void join_done(struct balai_api_write *w)
{
    struct act_write *aw = w->arg;
    struct balai_app *app = aw->app;
    int ok = w->op.rc == BALAI_OK;

    if (ok && app->rules) {
        row_set(app, aw->a.user_id, aw->a.room_id, ROW_OWNED, aw->a.rule_id);
        balai_api_audit_log(app, "system", "membership.rule.join", aw->a.room_id,
                            json_pack("{s:s, s:s, s:s}", "user_id", aw->a.user_id, "rule_id",
                                      aw->a.rule_id, "rule", rule_name(app->rules, aw->a.rule_id)));
    } else if (!ok) {
        LOG_WARN("rule join of %s to %s failed: %s", aw->a.user_id, aw->a.room_id,
                 balai_strerror(w->op.rc));
    }
    act_finish(aw, ok);
}

static void leave_done(struct balai_api_write *w)
{
    struct act_write *aw = w->arg;
    struct balai_app *app = aw->app;
    int ok = w->op.rc == BALAI_OK;

    if (ok && app->rules) {
        row_set(app, aw->a.user_id, aw->a.room_id, 0, NULL);
        balai_api_audit_log(app, "system", "membership.rule.leave", aw->a.room_id,
                            json_pack("{s:s, s:s?, s:s, s:s}", "user_id", aw->a.user_id, "rule_id",
                                      aw->a.rule_id, "rule", rule_name(app->rules, aw->a.rule_id),
                                      "method", aw->how));
    } else if (!ok) {
        LOG_WARN("rule removal of %s from %s failed: %s", aw->a.user_id, aw->a.room_id,
                 balai_strerror(w->op.rc));
    }
    act_finish(aw, ok);
}

static json_t *member_content(const char *membership, const char *reason,
                              const struct balai_user *profile)
{
    json_t *o = json_pack("{s:s, s:s}", "membership", membership, "reason", reason);
    if (profile && profile->displayname)
        json_object_set_new(o, "displayname", json_string(profile->displayname));
    if (profile && profile->avatar_url)
        json_object_set_new(o, "avatar_url", json_string(profile->avatar_url));
    return o;
}

/* Submits the write of one JOIN or LEAVE; 1 when submitted. */
static int act_submit(struct balai_app *app, const struct action *a)
{
    struct balai_api_rules *ar = app->rules;
    struct balai_room *room = rule_room(app, a->room_id);
    struct balai_user *u = balai_accounts_user(app->accounts, a->user_id);
    struct balai_api_write *w = NULL;
    struct act_write *aw = NULL;
    char reason[512], why[300];
    json_t *c = NULL;
    int rc;

    if (!room || !u || (a->kind == ACT_JOIN && u->deactivated))
        return 0;
    snprintf(why, sizeof(why), "membership rule %s", rule_name(ar, a->rule_id));
    aw = balai_calloc(1, sizeof(*aw));
    w = balai_api_write_new(app, room);
    if (a->kind == ACT_JOIN) {
        const char *m = balai_room_membership(room, u->user_id);
        rc = BALAI_OK;
        if (!(m && strcmp(m, "invite") == 0)) {
            c = member_content("invite", why, u);
            rc = balai_api_event_add(w, app->system_user_id, "m.room.member", u->user_id, c, reason,
                                     sizeof(reason));
            json_decref(c);
        }
        if (rc == BALAI_OK) {
            c = member_content("join", why, u);
            rc = balai_api_event_add(w, u->user_id, "m.room.member", u->user_id, c, reason,
                                     sizeof(reason));
            json_decref(c);
        }
        w->done = join_done;
    } else {
        c = member_content("leave", why, NULL);
        aw->how = "kick";
        rc = balai_api_event_add(w, app->system_user_id, "m.room.member", u->user_id, c, reason,
                                 sizeof(reason));
        if (rc == BALAI_EFORBIDDEN) {
            /* the system user may not kick them (power level): their leave, on their behalf */
            aw->how = "leave";
            rc = balai_api_event_add(w, u->user_id, "m.room.member", u->user_id, c, reason,
                                     sizeof(reason));
        }
        json_decref(c);
        w->done = leave_done;
    }
    if (rc != BALAI_OK) {
        LOG_INFO("membership rule %s: cannot %s %s %s %s: %s", rule_name(ar, a->rule_id),
                 a->kind == ACT_JOIN ? "add" : "remove", a->user_id,
                 a->kind == ACT_JOIN ? "to" : "from", a->room_id, reason);
        balai_api_write_free(w);
        free(aw);
        return 0;
    }
    aw->app = app;
    aw->a.kind = a->kind;
    aw->a.user_id = balai_strdup(a->user_id);
    aw->a.room_id = balai_strdup(a->room_id);
    aw->a.rule_id = a->rule_id ? balai_strdup(a->rule_id) : NULL;
    aw->key = pair_key(a->user_id, a->room_id);
    balai_map_put_str(ar->inflight, aw->key, (void *)1);
    ar->n_inflight++;
    w->arg = aw;
    balai_api_write_submit(w);
    return 1;
}

/* Carries a plan out; returns the number of writes submitted. */
static size_t plan_apply(struct balai_app *app, const struct plan *p)
{
    size_t writes = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct action *a = &p->v[i];
        switch (a->kind) {
        case ACT_JOIN:
        case ACT_LEAVE:
            writes += (size_t)act_submit(app, a);
            break;
        case ACT_OPTOUT:
            row_set(app, a->user_id, a->room_id, ROW_OPTOUT, NULL);
            break;
        case ACT_DROP:
            row_set(app, a->user_id, a->room_id, 0, NULL);
            break;
        }
    }
    return writes;
}

/* ---- the queue and the engine ---- */

static void schedule(struct balai_api_rules *ar)
{
    if (ar->timer && !ar->scheduled && ar->qlen) {
        ar->scheduled = 1;
        balai_timer_start(ar->timer, 0, 0);
    }
}

void balai_api_rules_on_person_changed(struct balai_app *app, const char *user_id)
{
    struct balai_api_rules *ar = app->rules;

    if (!ar || !user_id || balai_map_get_str(ar->queued, user_id))
        return;
    if (app->system_user_id && strcmp(user_id, app->system_user_id) == 0)
        return;
    if (ar->qhead + ar->qlen == ar->qcap) {
        if (ar->qhead) {
            memmove(ar->queue, ar->queue + ar->qhead, ar->qlen * sizeof(*ar->queue));
            ar->qhead = 0;
        } else {
            ar->qcap = ar->qcap ? ar->qcap * 2 : 64;
            ar->queue = balai_realloc(ar->queue, ar->qcap * sizeof(*ar->queue));
        }
    }
    ar->queue[ar->qhead + ar->qlen++] = balai_strdup(user_id);
    balai_map_put_str(ar->queued, user_id, (void *)1);
    schedule(ar);
}

static int queue_user(struct balai_user *u, void *arg)
{
    balai_api_rules_on_person_changed(arg, u->user_id);
    return 0;
}

static void queue_everyone(struct balai_app *app)
{
    balai_accounts_each(app->accounts, queue_user, app);
}

static void tick(void *arg)
{
    struct balai_app *app = arg;
    struct balai_api_rules *ar = app->rules;
    size_t writes = 0, evals = 0;

    ar->scheduled = 0;
    while (ar->qlen && writes < BALAI_RULES_BATCH && evals++ < BALAI_RULES_EVALS &&
           ar->n_inflight < BALAI_RULES_IN_FLIGHT) {
        char *uid = ar->queue[ar->qhead++];
        struct balai_user *u = balai_accounts_user(app->accounts, uid);
        struct plan p = {NULL, 0, 0};

        ar->qlen--;
        if (!ar->qlen)
            ar->qhead = 0;
        balai_map_del_str(ar->queued, uid);
        if (u && !u->system) {
            plan_user(app, ar->rs, u, &p);
            writes += plan_apply(app, &p);
            plan_release(&p);
        }
        free(uid);
    }
    /* more to do: go on after the loop served what else waits; when the
     * in-flight bound stopped us, a completion re-queues and reschedules */
    if (ar->n_inflight < BALAI_RULES_IN_FLIGHT)
        schedule(ar);
}

size_t balai_api_rules_pending(struct balai_app *app)
{
    return app->rules ? app->rules->qlen + app->rules->n_inflight : 0;
}

void balai_api_rules_forget_user(struct balai_app *app, const char *user_id)
{
    struct balai_api_rules *ar = app->rules;
    struct user_rows *ur = ar ? balai_map_get_str(ar->rows, user_id) : NULL;
    char **rooms;
    size_t n = 0, it = 0, kl;
    const void *k;
    void *v;

    if (!ur)
        return;
    rooms = balai_calloc(balai_map_count(ur->rooms) + 1, sizeof(*rooms));
    while (balai_map_next(ur->rooms, &it, &k, &kl, &v))
        rooms[n++] = balai_strndup(k, kl);
    for (size_t i = 0; i < n; i++) {
        row_set(app, user_id, rooms[i], 0, NULL);
        free(rooms[i]);
    }
    free(rooms);
}

/* ---- hooks on the event path ---- */

const char *balai_api_rules_mandatory(struct balai_app *app, const char *user_id,
                                      const char *room_id)
{
    struct balai_api_rules *ar = app->rules;
    struct balai_gov_rule_subject s;
    struct groups g;
    struct balai_user *u = ar ? balai_accounts_user(app->accounts, user_id) : NULL;
    if (!u)
        return NULL;
    subject_of(app, ar->rs, u, &s, &g);
    const struct balai_gov_rule *r =
        balai_gov_rules_mandating(ar->rs, app->directory->dir, &s, room_id);
    free(g.v);
    return r ? r->name : NULL;
}

int balai_api_rules_check_member(struct balai_app *app, struct balai_room *room,
                                 const struct balai_state_lookup *view, const char *sender,
                                 const char *state_key, const json_t *content, char *reason,
                                 size_t reasonlen)
{
    struct balai_api_rules *ar = app->rules;
    const char *m = json_string_value(json_object_get(content, "membership"));
    const struct balai_gov_rule *r;
    struct balai_gov_rule_subject s;
    struct balai_user *u;
    struct groups g;

    if (!ar || !m || (strcmp(m, "leave") != 0 && strcmp(m, "ban") != 0))
        return BALAI_OK;
    if (strcmp(sender, app->system_user_id) == 0)
        return BALAI_OK;
    if (!is_member(balai_state_membership(view, state_key)))
        return BALAI_OK;
    u = balai_accounts_user(app->accounts, state_key);
    if (!u)
        return BALAI_OK;
    subject_of(app, ar->rs, u, &s, &g);
    r = balai_gov_rules_mandating(ar->rs, app->directory->dir, &s, balai_room_id(room));
    free(g.v);
    if (!r)
        return BALAI_OK;
    if (strcmp(sender, state_key) == 0) {
        snprintf(reason, reasonlen,
                 "You cannot leave this room: the organisation's membership rule '%s' makes it "
                 "mandatory for you. Ask an administrator if this is wrong.",
                 r->name);
        return BALAI_EFORBIDDEN;
    }
    enum balai_gov_role role = balai_api_role(app, sender);
    if (role == BALAI_ROLE_OWNER || role == BALAI_ROLE_ADMIN)
        return BALAI_OK;
    const json_t *pl_ev = balai_state_lookup_get(view, "m.room.power_levels", "", NULL);
    const json_t *cr_ev = balai_state_lookup_get(view, "m.room.create", "", NULL);
    const char *creator = cr_ev ? json_string_value(json_object_get(cr_ev, "sender")) : NULL;
    struct balai_powerlevels pl;
    balai_pl_init(&pl, pl_ev ? json_object_get(pl_ev, "content") : NULL, creator);
    if (balai_pl_user_level(&pl, sender) >= 100)
        return BALAI_OK; /* a steward */
    snprintf(reason, reasonlen,
             "%s must stay in this room: the organisation's membership rule '%s' makes it "
             "mandatory. Only the room's stewards or the organisation's administrators can "
             "remove them.",
             state_key, r->name);
    return BALAI_EFORBIDDEN;
}

void balai_api_rules_member_committed(struct balai_app *app, struct balai_room *room,
                                      const struct balai_ev *ev)
{
    struct balai_api_rules *ar = app->rules;
    const struct row *r;

    if (!ar || !ev->membership || !ev->state_key ||
        (strcmp(ev->membership, "leave") != 0 && strcmp(ev->membership, "ban") != 0))
        return;
    r = row_get(ar, ev->state_key, balai_room_id(room));
    if (!r || r->state != ROW_OWNED || inflight_has(ar, ev->state_key, balai_room_id(room)))
        return;
    /* left by themselves or removed by someone: not put back while the rule matches */
    row_set(app, ev->state_key, balai_room_id(room), ROW_OPTOUT, NULL);
}

/* ---- loading ---- */

struct load_ctx {
    struct balai_app *app;
    int bad;
};

static int load_rule(const char *rule_id, const char *text, int64_t created_ts, int64_t updated_ts,
                     void *arg)
{
    struct load_ctx *c = arg;
    struct balai_gov_rule *r = NULL;
    char err[300];
    json_t *j = json_loads(text, 0, NULL);

    if (!j || balai_gov_rule_parse(j, &r, err, sizeof(err)) != BALAI_OK) {
        LOG_ERROR("membership rule %s is unreadable and ignored", rule_id);
        c->bad++;
        json_decref(j);
        return 0;
    }
    json_decref(j);
    r->rule_id = balai_strdup(rule_id);
    r->created_ts = created_ts;
    r->updated_ts = updated_ts;
    note_name(c->app->rules, rule_id, r->name);
    if (balai_gov_ruleset_put(c->app->rules->rs, r) != BALAI_OK)
        balai_gov_rule_free(r);
    return 0;
}

static int load_row(const char *user_id, const char *room_id, const char *state,
                    const char *rule_id, int64_t ts, void *arg)
{
    struct load_ctx *c = arg;
    (void)ts;
    row_set_mem(c->app->rules, user_id, room_id,
                strcmp(state, "optout") == 0 ? ROW_OPTOUT : ROW_OWNED, rule_id);
    return 0;
}

int balai_api_rules_load(struct balai_app *app)
{
    struct load_ctx c = {app, 0};
    struct balai_api_rules *ar = balai_calloc(1, sizeof(*ar));
    int rc;

    ar->rs = balai_gov_ruleset_new();
    ar->rows = balai_map_new();
    ar->names = balai_map_new();
    ar->inflight = balai_map_new();
    ar->queued = balai_map_new();
    app->rules = ar;
    rc = balai_store_rules_each(app->store, load_rule, &c);
    if (rc == BALAI_OK)
        rc = balai_store_rule_members_each(app->store, load_row, &c);
    if (rc == BALAI_OK)
        LOG_DEBUG("%zu membership rules", balai_gov_ruleset_count(ar->rs));
    return rc;
}

void balai_api_rules_stop(struct balai_app *app)
{
    if (!app->rules)
        return;
    balai_timer_free(app->rules->timer);
    app->rules->timer = NULL;
}

static void free_map_values(struct balai_map *m, void (*fn)(void *))
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    while (m && balai_map_next(m, &it, &k, &kl, &v))
        fn(v);
    balai_map_free(m);
}

static void user_rows_free(void *v)
{
    struct user_rows *ur = v;
    size_t it = 0, kl;
    const void *k;
    void *r;

    while (balai_map_next(ur->rooms, &it, &k, &kl, &r))
        row_free(r);
    balai_map_free(ur->rooms);
    free(ur);
}

void balai_api_rules_free(struct balai_app *app)
{
    struct balai_api_rules *ar = app->rules;

    if (!ar)
        return;
    balai_timer_free(ar->timer);
    balai_gov_ruleset_free(ar->rs);
    free_map_values(ar->rows, user_rows_free);
    free_map_values(ar->names, free);
    balai_map_free(ar->inflight);
    balai_map_free(ar->queued);
    for (size_t i = 0; i < ar->qlen; i++)
        free(ar->queue[ar->qhead + i]);
    free(ar->queue);
    free(ar);
    app->rules = NULL;
}

/* ---- the admin API ---- */

static const unsigned READ_ROLES =
    BALAI_ROLE_BIT(BALAI_ROLE_OWNER) | BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) |
    BALAI_ROLE_BIT(BALAI_ROLE_HR) | BALAI_ROLE_BIT(BALAI_ROLE_COMPLIANCE);

/* Parses a rule from a request body and checks its references: rooms are
 * resolved to room ids (aliases included) and must be organisation rooms
 * the system user is in; units must exist. Answers 400 and returns NULL on
 * error. Caller frees. */
static struct balai_gov_rule *rule_from_body(struct balai_http_req *req, const json_t *body)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_gov_rule *r = NULL;
    char err[400];

    if (balai_gov_rule_parse(body, &r, err, sizeof(err)) != BALAI_OK) {
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
        return NULL;
    }
    for (size_t i = 0; i < r->nrooms; i++) {
        const char *given = r->rooms[i];
        const char *room_id =
            given[0] == '#' ? balai_rooms_alias_get(app->rooms, given, NULL) : given;
        struct balai_room *room = room_id ? balai_rooms_get(app->rooms, room_id) : NULL;
        if (!room) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'rooms': unknown room %.200s", given);
            goto bad;
        }
        if (balai_room_is_direct(room)) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'rooms': %.200s is a direct message, not an organisation room", given);
            goto bad;
        }
        const char *sm = balai_room_membership(room, app->system_user_id);
        if (!sm || strcmp(sm, "join") != 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'rooms': the system user %s is not in %.200s, so it cannot add "
                            "people to it",
                            app->system_user_id, given);
            goto bad;
        }
        if (room_id != given)
            balai_gov_rule_set_room(r, i, room_id);
    }
    for (size_t i = 0; i < r->nrooms; i++) {
        for (size_t k = i + 1; k < r->nrooms; k++) {
            if (strcmp(r->rooms[i], r->rooms[k]) == 0) {
                balai_api_error(req, 400, "M_INVALID_PARAM", "'rooms' names %.200s twice",
                                r->rooms[i]);
                goto bad;
            }
        }
    }
    for (size_t i = 0; i < r->nvalues[BALAI_RULE_UNIT]; i++) {
        if (!balai_gov_unit_get(app->directory->dir, r->values[BALAI_RULE_UNIT][i])) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'match.unit': unknown unit %.200s",
                            r->values[BALAI_RULE_UNIT][i]);
            goto bad;
        }
    }
    return r;
bad:
    balai_gov_rule_free(r);
    return NULL;
}

static json_t *status_json(struct balai_app *app)
{
    return json_pack("{s:I, s:I}", "queued", (json_int_t)app->rules->qlen, "in_flight",
                     (json_int_t)app->rules->n_inflight);
}

static void list_rules(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *arr;

    if (balai_api_auth_role(req, &s, READ_ROLES) < 0)
        return;
    arr = json_array();
    for (size_t i = 0; i < balai_gov_ruleset_count(app->rules->rs); i++)
        json_array_append_new(arr, balai_gov_rule_json(balai_gov_ruleset_at(app->rules->rs, i)));
    balai_api_json(req, 200, json_pack("{s:o, s:o}", "rules", arr, "applying", status_json(app)));
}

static void get_rule(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const struct balai_gov_rule *r;

    if (balai_api_auth_role(req, &s, READ_ROLES) < 0)
        return;
    r = balai_gov_ruleset_get(app->rules->rs, req->params[0]);
    if (!r) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such membership rule: %.100s", req->params[0]);
        return;
    }
    balai_api_json(req, 200, balai_gov_rule_json(r));
}

/* A write of a rule (create, update: rule set; delete: rule NULL). */
struct rule_write {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_gov_rule *rule; /* the new rule (create, update) */
    char *rule_id;               /* the rule deleted */
    char *text;
    struct balai_api_audit_entry *audit;
};

static int rule_write_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct rule_write *x = (struct rule_write *)op;
    int rc = x->rule ? balai_store_txn_rule_set(t, x->rule->rule_id, x->text, x->rule->created_ts,
                                                x->rule->updated_ts)
                     : balai_store_txn_rule_delete(t, x->rule_id);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void rule_write_done(struct balai_store_op *op)
{
    struct rule_write *x = (struct rule_write *)op;
    struct balai_app *app = x->app;

    if (op->rc == BALAI_ENOTFOUND) {
        balai_api_error(x->req, 404, "M_NOT_FOUND", "No such membership rule: %.100s", x->rule_id);
    } else if (op->rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the rule; try again");
    } else if (x->rule) {
        json_t *j = balai_gov_rule_json(x->rule);
        note_name(app->rules, x->rule->rule_id, x->rule->name);
        if (balai_gov_ruleset_put(app->rules->rs, x->rule) == BALAI_OK)
            x->rule = NULL;
        LOG_INFO("membership rule %s stored", json_string_value(json_object_get(j, "rule_id")));
        queue_everyone(app);
        balai_api_json(x->req, 200, j);
    } else {
        balai_gov_ruleset_remove(app->rules->rs, x->rule_id);
        LOG_INFO("membership rule %s deleted", x->rule_id);
        queue_everyone(app);
        balai_api_json(x->req, 200, json_pack("{s:s, s:b}", "rule_id", x->rule_id, "deleted", 1));
    }
    balai_api_audit_entry_done(app, x->audit, op->rc);
    balai_gov_rule_free(x->rule);
    free(x->rule_id);
    free(x->text);
    free(x);
}

static void submit_rule_write(struct balai_http_req *req, struct balai_session *s,
                              struct balai_gov_rule *r, const char *delete_id, const char *action)
{
    struct balai_app *app = balai_api_app(req);
    struct rule_write *x = balai_calloc(1, sizeof(*x));
    json_t *detail;

    x->app = app;
    x->req = req;
    x->rule = r;
    if (r) {
        json_t *j = balai_gov_rule_json(r);
        json_object_del(j, "rule_id");
        json_object_del(j, "created_ts");
        json_object_del(j, "updated_ts");
        x->text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        detail = json_pack("{s:s, s:b, s:I}", "name", r->name, "mandatory", r->mandatory, "rooms",
                           (json_int_t)r->nrooms);
    } else {
        x->rule_id = balai_strdup(delete_id);
        const struct balai_gov_rule *old = balai_gov_ruleset_get(app->rules->rs, delete_id);
        detail = json_pack("{s:s}", "name", old ? old->name : "");
    }
    x->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), action,
                                         r ? r->rule_id : delete_id, detail);
    x->op.apply = rule_write_apply;
    x->op.done = rule_write_done;
    balai_store_submit(app->store, &x->op);
}

static void create_rule(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_gov_rule *r;
    json_t *body = NULL;

    if (balai_api_auth_may(req, &s, BALAI_GOV_POLICY_MANAGE) < 0 ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    r = rule_from_body(req, body);
    if (!r)
        goto out;
    if (balai_gov_ruleset_count(app->rules->rs) >= BALAI_RULES_MAX) {
        balai_api_error(req, 400, "M_LIMIT_EXCEEDED", "At most %d membership rules",
                        BALAI_RULES_MAX);
        balai_gov_rule_free(r);
        goto out;
    }
    char *tok = balai_random_token(9);
    r->rule_id = balai_asprintf("rule_%s", tok);
    free(tok);
    r->created_ts = r->updated_ts = balai_now_ms();
    submit_rule_write(req, s, r, NULL, "rule.create");
out:
    json_decref(body);
}

static void update_rule(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const struct balai_gov_rule *old;
    struct balai_gov_rule *r;
    json_t *body = NULL;

    if (balai_api_auth_may(req, &s, BALAI_GOV_POLICY_MANAGE) < 0 ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    old = balai_gov_ruleset_get(app->rules->rs, req->params[0]);
    if (!old) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such membership rule: %.100s", req->params[0]);
        goto out;
    }
    r = rule_from_body(req, body);
    if (!r)
        goto out;
    r->rule_id = balai_strdup(old->rule_id);
    r->created_ts = old->created_ts;
    r->updated_ts = balai_now_ms();
    submit_rule_write(req, s, r, NULL, "rule.update");
out:
    json_decref(body);
}

static void delete_rule(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (balai_api_auth_may(req, &s, BALAI_GOV_POLICY_MANAGE) < 0)
        return;
    if (!balai_gov_ruleset_get(app->rules->rs, req->params[0])) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such membership rule: %.100s", req->params[0]);
        return;
    }
    submit_rule_write(req, s, NULL, req->params[0], "rule.delete");
}

/* ---- preview ---- */

struct preview_ctx {
    struct balai_app *app;
    const struct balai_gov_ruleset *rs;
    json_t *join, *leave;
};

static int preview_user(struct balai_user *u, void *arg)
{
    struct preview_ctx *c = arg;
    struct balai_api_rules *ar = c->app->rules;
    struct plan p = {NULL, 0, 0};

    if (u->system)
        return 0;
    plan_user(c->app, c->rs, u, &p);
    for (size_t i = 0; i < p.n; i++) {
        const struct action *a = &p.v[i];
        const struct balai_gov_rule *r =
            a->rule_id ? balai_gov_ruleset_get(c->rs, a->rule_id) : NULL;
        if (a->kind == ACT_JOIN)
            json_array_append_new(c->join,
                                  json_pack("{s:s, s:s, s:s, s:s}", "user_id", a->user_id,
                                            "room_id", a->room_id, "rule_id", a->rule_id, "rule",
                                            r ? r->name : rule_name(ar, a->rule_id)));
        else if (a->kind == ACT_LEAVE)
            json_array_append_new(c->leave,
                                  json_pack("{s:s, s:s, s:s?, s:s}", "user_id", a->user_id,
                                            "room_id", a->room_id, "rule_id", a->rule_id, "rule",
                                            rule_name(ar, a->rule_id)));
    }
    plan_release(&p);
    return 0;
}

static int by_user_room(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "user_id")),
                   json_string_value(json_object_get(y, "user_id")));
    return c ? c
             : strcmp(json_string_value(json_object_get(x, "room_id")),
                      json_string_value(json_object_get(y, "room_id")));
}

static json_t *sorted(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = balai_calloc(n ? n : 1, sizeof(*v)), *o = json_array();

    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(arr, i);
    qsort(v, n, sizeof(*v), by_user_room);
    for (size_t i = 0; i < n; i++)
        json_array_append(o, v[i]);
    free(v);
    json_decref(arr);
    return o;
}

/* POST /rules/preview: {"rule": {...}} (a new rule, or a changed one with
 * "rule_id"), {"delete": "rule_id"}, or {"rules": [...]} (a whole new set:
 * entries with a known rule_id replace that rule, the others are new).
 * Answers {"join": [...], "leave": [...]} as applying it would do now. */
static void preview_rules(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_gov_ruleset *rs = NULL;
    json_t *body = NULL, *v;
    int n = 0;

    if (balai_api_auth_role(req, &s, READ_ROLES) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    n = !!json_object_get(body, "rule") + !!json_object_get(body, "delete") +
        !!json_object_get(body, "rules");
    if (n != 1 || json_object_size(body) != 1) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "The body must be exactly one of {\"rule\": {...}}, {\"delete\": "
                        "\"RULE_ID\"} or {\"rules\": [...]}");
        goto out;
    }
    if ((v = json_object_get(body, "delete"))) {
        if (!json_is_string(v)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'delete' must be a rule id");
            goto out;
        }
        rs = balai_gov_ruleset_clone(app->rules->rs);
        if (balai_gov_ruleset_remove(rs, json_string_value(v)) != BALAI_OK) {
            balai_api_error(req, 404, "M_NOT_FOUND", "No such membership rule: %.100s",
                            json_string_value(v));
            goto out;
        }
    } else {
        json_t *list = json_object_get(body, "rules");
        int whole = list != NULL;
        if (!whole) {
            list = json_array();
            json_array_append(list, json_object_get(body, "rule"));
        } else if (!json_is_array(list)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'rules' must be an array of rules");
            goto out;
        } else {
            json_incref(list);
        }
        rs = whole ? balai_gov_ruleset_new() : balai_gov_ruleset_clone(app->rules->rs);
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *rj = json_array_get(list, i);
            const char *id = json_string_value(json_object_get(rj, "rule_id"));
            const struct balai_gov_rule *old =
                id ? balai_gov_ruleset_get(app->rules->rs, id) : NULL;
            struct balai_gov_rule *r = rule_from_body(req, rj);
            if (!r) {
                json_decref(list);
                goto out;
            }
            if (id && !old) {
                balai_api_error(req, 404, "M_NOT_FOUND", "No such membership rule: %.100s", id);
                balai_gov_rule_free(r);
                json_decref(list);
                goto out;
            }
            r->rule_id = old ? balai_strdup(old->rule_id) : balai_asprintf("(new %zu)", i + 1);
            if (balai_gov_ruleset_put(rs, r) != BALAI_OK) {
                balai_api_error(req, 400, "M_LIMIT_EXCEEDED", "At most %d membership rules",
                                BALAI_RULES_MAX);
                balai_gov_rule_free(r);
                json_decref(list);
                goto out;
            }
        }
        json_decref(list);
    }
    struct preview_ctx c = {app, rs, json_array(), json_array()};
    balai_accounts_each(app->accounts, preview_user, &c);
    c.join = sorted(c.join);
    c.leave = sorted(c.leave);
    balai_api_json(req, 200,
                   json_pack("{s:o, s:o, s:I, s:I, s:o}", "join", c.join, "leave", c.leave,
                             "join_count", (json_int_t)json_array_size(c.join), "leave_count",
                             (json_int_t)json_array_size(c.leave), "applying", status_json(app)));
out:
    balai_gov_ruleset_free(rs);
    json_decref(body);
}

/* SCIM changes (api/scim/scim.h): a person's account, record or groups. */
static void scim_changed(struct balai_app *app, enum balai_api_scim_change what,
                         const char *group_id, const char *user_id, void *arg)
{
    (void)group_id;
    (void)arg;
    if (user_id)
        balai_api_rules_on_person_changed(app, user_id);
    else if (what == BALAI_API_SCIM_GROUP && has_group_rules(app->rules->rs))
        queue_everyone(app); /* a group renamed or deleted */
}

int balai_api_rules_routes(struct balai_app *app)
{
    static const struct {
        enum balai_http_method m;
        const char *pattern;
        balai_http_handler_fn fn;
    } routes[] = {
        {BALAI_HTTP_GET, "/_balai/admin/v1/rules", list_rules},
        {BALAI_HTTP_POST, "/_balai/admin/v1/rules", create_rule},
        {BALAI_HTTP_POST, "/_balai/admin/v1/rules/preview", preview_rules},
        {BALAI_HTTP_GET, "/_balai/admin/v1/rules/{ruleId}", get_rule},
        {BALAI_HTTP_PUT, "/_balai/admin/v1/rules/{ruleId}", update_rule},
        {BALAI_HTTP_DELETE, "/_balai/admin/v1/rules/{ruleId}", delete_rule},
    };

    if (!app->rules)
        return BALAI_OK; /* not loaded (tools): no rules API */
    for (size_t i = 0; i < BALAI_ARRAY_LEN(routes); i++) {
        int rc = balai_api_route(app, routes[i].m, routes[i].pattern, routes[i].fn, 0);
        if (rc != BALAI_OK)
            return rc;
    }
    app->rules->timer = balai_timer_new(app->loop, tick, app);
    if (!app->rules->timer)
        return BALAI_ENOMEM;
    balai_timer_set_ref(app->rules->timer, 0);
    /* BALAI_ESTATE when SCIM is not loaded (tools): nothing to listen to */
    balai_api_scim_on_change(app, scim_changed, NULL);
    queue_everyone(app); /* the queue is not persisted: recompute it */
    schedule(app->rules);
    return BALAI_OK;
}
