/* unread.c: unread notification counts (see unread.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/push_rules.h"
#include "api/unread.h"
#include "core/event.h"
#include "core/powerlevels.h"
#include "core/push.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/jsonw.h"
#include "util/map.h"

#define LOG_MODULE "unread"
#include "util/log.h"

#define MAIN_THREAD "main"

/* One thread's read position and counts for a member. */
struct thread_ctr {
    char *id; /* "main" or the thread root's event id */
    int64_t read_pos;
    uint32_t notif, hl;
};

struct member {
    int64_t read_pos; /* unthreaded receipts: every thread read up to here */
    struct thread_ctr *t;
    size_t n, cap;
};

struct balai_unread {
    struct balai_map *rooms; /* room id -> struct balai_map * (user id -> struct member *) */
};

void balai_api_unread_init(struct balai_app *app)
{
    app->unread = balai_calloc(1, sizeof(*app->unread));
    app->unread->rooms = balai_map_new();
}

static void member_free(struct member *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->t[i].id);
    free(m->t);
    free(m);
}

void balai_api_unread_free(struct balai_unread *u)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!u)
        return;
    while (balai_map_next(u->rooms, &it, &k, &kl, &v)) {
        struct balai_map *members = v;
        size_t mit = 0;
        while (balai_map_next(members, &mit, &k, &kl, &v))
            member_free(v);
        balai_map_free(members);
    }
    balai_map_free(u->rooms);
    free(u);
}

static struct member *member_get(struct balai_unread *u, const char *room_id, const char *user_id,
                                 int create)
{
    struct balai_map *members = balai_map_get_str(u->rooms, room_id);
    if (!members) {
        if (!create)
            return NULL;
        members = balai_map_new();
        balai_map_put_str(u->rooms, room_id, members);
    }
    struct member *m = balai_map_get_str(members, user_id);
    if (!m && create) {
        m = balai_calloc(1, sizeof(*m));
        balai_map_put_str(members, user_id, m);
    }
    return m;
}

static struct thread_ctr *thread_get(struct member *m, const char *id, int create)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->t[i].id, id) == 0)
            return &m->t[i];
    }
    if (!create)
        return NULL;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 2;
        m->t = balai_realloc(m->t, m->cap * sizeof(*m->t));
    }
    struct thread_ctr *t = &m->t[m->n++];
    memset(t, 0, sizeof(*t));
    t->id = balai_strdup(id);
    return t;
}

/* The thread of an event: the root of its m.thread relation, else "main". */
static const char *thread_of(const struct balai_ev *ev)
{
    json_t *rel = json_object_get(balai_event_content(ev->pdu), "m.relates_to");
    const char *type = json_string_value(json_object_get(rel, "rel_type"));
    const char *root = json_string_value(json_object_get(rel, "event_id"));
    if (type && root && root[0] && strcmp(type, "m.thread") == 0)
        return root;
    return MAIN_THREAD;
}

/* ---- counting one event ---- */

/* What the members share for one event. */
struct ev_ctx {
    struct balai_app *app;
    struct balai_room *room;
    struct balai_ev *ev;
    const char *thread;
    struct balai_push_event pe;
    struct balai_powerlevels pl;
    size_t members;
    const char *only_user; /* recounts: only this member */
    int check_membership;  /* rebuilds and recounts: was the member joined then? */
};

static void ev_ctx_init(struct ev_ctx *c, struct balai_app *app, struct balai_room *room)
{
    memset(c, 0, sizeof(*c));
    c->app = app;
    c->room = room;
    struct balai_ev *pl = balai_room_state_ev(room, "m.room.power_levels", "");
    balai_pl_init(&c->pl, pl ? balai_event_content(pl->pdu) : NULL, balai_room_creator(room));
    c->members = balai_room_joined_count(room);
}

static void ev_ctx_set(struct ev_ctx *c, struct balai_ev *ev)
{
    c->ev = ev;
    c->thread = thread_of(ev);
    balai_push_event_init(&c->pe, ev->pdu, &c->pl);
}

/* Counts the event for one member (not its sender). */
static void count_for(struct ev_ctx *c, const char *user_id)
{
    struct balai_app *app = c->app;
    const char *room_id = balai_room_id(c->room);
    struct member *m = member_get(app->unread, room_id, user_id, 0);
    struct thread_ctr *t = m ? thread_get(m, c->thread, 0) : NULL;
    int64_t read = m ? m->read_pos : 0;

    if (t && t->read_pos > read)
        read = t->read_pos;
    if (c->ev->pos <= read)
        return;
    if (c->check_membership) {
        const char *ms = balai_room_membership_at(c->room, user_id, c->ev->pos);
        if (!ms || strcmp(ms, "join") != 0)
            return;
    }
    struct balai_ev *me = balai_room_state_ev(c->room, "m.room.member", user_id);
    struct balai_push_ctx x = {
        .display_name =
            me ? json_string_value(json_object_get(balai_event_content(me->pdu), "displayname"))
               : NULL,
        .member_count = c->members,
    };
    struct balai_push_result res;
    balai_push_eval(balai_api_push_rules_for(app, user_id), &c->pe, &x, &res);
    if (!res.notify)
        return;
    if (!t) {
        m = member_get(app->unread, room_id, user_id, 1);
        t = thread_get(m, c->thread, 1);
    }
    t->notif++;
    if (res.highlight)
        t->hl++;
}

/* The sender's own event: its thread is read up to it. */
static void own_event(struct balai_app *app, struct balai_room *room, const char *user_id,
                      const char *thread, int64_t pos)
{
    struct member *m = member_get(app->unread, balai_room_id(room), user_id, 1);
    struct thread_ctr *t = thread_get(m, thread, 1);
    if (pos > t->read_pos)
        t->read_pos = pos;
    t->notif = t->hl = 0;
}

static void each_member(const char *user_id, const char *membership, void *arg)
{
    struct ev_ctx *c = arg;
    (void)membership;
    if (c->ev->sender && strcmp(user_id, c->ev->sender) == 0)
        return;
    count_for(c, user_id);
}

/* Counts ev for every joined member (or c->only_user). */
static void count_event(struct ev_ctx *c, struct balai_ev *ev)
{
    ev_ctx_set(c, ev);
    if (ev->sender && (!c->only_user || strcmp(c->only_user, ev->sender) == 0)) {
        const char *ms = balai_room_membership_at(c->room, ev->sender, ev->pos);
        if (ms && strcmp(ms, "join") == 0)
            own_event(c->app, c->room, ev->sender, c->thread, ev->pos);
    }
    if (c->only_user)
        each_member(c->only_user, "join", c);
    else
        balai_room_members_each(c->room, "join", each_member, c);
    balai_push_event_release(&c->pe);
}

void balai_api_unread_event(struct balai_app *app, struct balai_room *room, struct balai_ev *ev)
{
    struct ev_ctx c;
    if (!app->unread)
        return;
    ev_ctx_init(&c, app, room);
    count_event(&c, ev);
}

/* ---- receipts ---- */

static int recount_one(struct balai_ev *ev, void *arg)
{
    count_event(arg, ev);
    return 0;
}

/* Recounts the member's threads (one, or all when thread is NULL) from the
 * cached events after `from`. */
static void recount(struct balai_app *app, struct balai_room *room, const char *user_id,
                    struct member *m, const char *thread, int64_t from)
{
    struct ev_ctx c;
    for (size_t i = 0; i < m->n; i++) {
        if (!thread || strcmp(m->t[i].id, thread) == 0)
            m->t[i].notif = m->t[i].hl = 0;
    }
    /* counting adds to every thread: keep the others' counts aside */
    size_t n = m->n;
    uint32_t *keep = balai_calloc(n ? n * 2 : 1, sizeof(*keep));
    for (size_t i = 0; i < n; i++) {
        keep[2 * i] = m->t[i].notif;
        keep[2 * i + 1] = m->t[i].hl;
        m->t[i].notif = m->t[i].hl = 0;
    }
    ev_ctx_init(&c, app, room);
    c.only_user = user_id;
    c.check_membership = 1;
    balai_room_cached_each(room, from, INT64_MAX, recount_one, &c);
    for (size_t i = 0; i < n; i++) {
        if (thread && strcmp(m->t[i].id, thread) != 0) {
            m->t[i].notif = keep[2 * i];
            m->t[i].hl = keep[2 * i + 1];
        }
    }
    free(keep);
}

void balai_api_unread_receipt(struct balai_app *app, const char *room_id, const char *user_id,
                              const char *type, const char *thread_id, const char *event_id)
{
    struct balai_room *room = app->unread ? balai_rooms_get(app->rooms, room_id) : NULL;
    struct balai_ev *ev = room ? balai_room_cached_event(room, event_id) : NULL;
    (void)type; /* m.read and m.read.private alike: the one further ahead wins */
    if (!ev)
        return;
    struct member *m = member_get(app->unread, room_id, user_id, 1);
    if (!thread_id || !thread_id[0]) {
        if (ev->pos <= m->read_pos)
            return;
        m->read_pos = ev->pos;
        recount(app, room, user_id, m, NULL, ev->pos);
    } else {
        struct thread_ctr *t = thread_get(m, thread_id, 1);
        if (ev->pos <= t->read_pos)
            return;
        t->read_pos = ev->pos;
        recount(app, room, user_id, m, thread_id, ev->pos);
    }
}

/* ---- reading ---- */

void balai_api_unread_get(struct balai_app *app, const char *room_id, const char *user_id,
                          const char *thread_id, uint32_t *notifications, uint32_t *highlights)
{
    struct member *m = app->unread ? member_get(app->unread, room_id, user_id, 0) : NULL;
    *notifications = *highlights = 0;
    for (size_t i = 0; m && i < m->n; i++) {
        if (thread_id && strcmp(m->t[i].id, thread_id) != 0)
            continue;
        *notifications += m->t[i].notif;
        *highlights += m->t[i].hl;
    }
}

void balai_api_unread_write(void *src, const char *user_id, const char *room_id, int threads,
                            struct balai_buf *b)
{
    struct balai_app *app = src;
    struct member *m = app->unread ? member_get(app->unread, room_id, user_id, 0) : NULL;
    uint32_t n, h;

    balai_api_unread_get(app, room_id, user_id, threads ? MAIN_THREAD : NULL, &n, &h);
    balai_buf_printf(b, ",\"unread_notifications\":{\"notification_count\":%u,"
                        "\"highlight_count\":%u}",
                     n, h);
    if (!threads)
        return;
    balai_buf_append_str(b, ",\"unread_thread_notifications\":{");
    int first = 1;
    for (size_t i = 0; m && i < m->n; i++) {
        const struct thread_ctr *t = &m->t[i];
        if (strcmp(t->id, MAIN_THREAD) == 0 || (!t->notif && !t->hl))
            continue;
        if (!first)
            balai_buf_append_char(b, ',');
        first = 0;
        balai_jsonw_key(b, t->id);
        balai_buf_printf(b, "{\"notification_count\":%u,\"highlight_count\":%u}", t->notif,
                         t->hl);
    }
    balai_buf_append_char(b, '}');
}

/* ---- rebuilding at start ---- */

struct rebuild {
    struct balai_app *app;
    char **rooms;
    size_t n, cap;
};

static int load_receipt(const struct balai_receipt_rec *r, void *arg)
{
    struct rebuild *rb = arg;
    struct balai_room *room = balai_rooms_get(rb->app->rooms, r->room_id);
    struct balai_ev *ev = room ? balai_room_cached_event(room, r->event_id) : NULL;
    if (!ev)
        return 0; /* older than the cache (or unknown): count the whole cache */
    struct member *m = member_get(rb->app->unread, r->room_id, r->user_id, 1);
    if (!r->thread_id || !r->thread_id[0]) {
        if (ev->pos > m->read_pos)
            m->read_pos = ev->pos;
    } else {
        struct thread_ctr *t = thread_get(m, r->thread_id, 1);
        if (ev->pos > t->read_pos)
            t->read_pos = ev->pos;
    }
    return 0;
}

static int list_room(const struct balai_room_rec *r, void *arg)
{
    struct rebuild *rb = arg;
    if (rb->n == rb->cap) {
        rb->cap = rb->cap ? rb->cap * 2 : 64;
        rb->rooms = balai_realloc(rb->rooms, rb->cap * sizeof(*rb->rooms));
    }
    rb->rooms[rb->n++] = balai_strdup(r->room_id);
    return 0;
}

int balai_api_unread_load(struct balai_app *app)
{
    struct rebuild rb = {app, NULL, 0, 0};
    int rc;

    if (!app->push_rules)
        balai_api_push_rules_init(app);
    balai_api_unread_init(app);
    rc = balai_store_receipts_each(app->store, load_receipt, &rb);
    if (rc == BALAI_OK)
        rc = balai_store_rooms_each(app->store, list_room, &rb);
    for (size_t i = 0; i < rb.n; i++) {
        struct balai_room *room = balai_rooms_get(app->rooms, rb.rooms[i]);
        if (rc == BALAI_OK && room) {
            struct ev_ctx c;
            ev_ctx_init(&c, app, room);
            c.check_membership = 1;
            balai_room_cached_each(room, 0, INT64_MAX, recount_one, &c);
        }
        free(rb.rooms[i]);
    }
    free(rb.rooms);
    LOG_DEBUG("rebuilt the unread counts of %zu rooms", balai_map_count(app->unread->rooms));
    return rc;
}
