/* presence.c: users' presence in memory, its expiry timer and its /sync
 * source (see presence.h).
 *
 * Each user seen has one record. Expiry uses a min-heap holding each record
 * at most once: a /sync only moves the record's deadline; when the heap's
 * entry comes due and the deadline has moved, the entry is pushed again at
 * the new deadline, else the user goes offline. Changes are also kept in a
 * ring, newest last, so that /sync finds those after its token without
 * looking at every user; an entry counts only while it is its record's
 * latest change. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/presence.h"
#include "core/room.h"
#include "net/timer.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/jsonw.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "presence"
#include "util/log.h"

/* Changes kept for /sync; a token older than these gets everyone's state. */
#define RING 4096

struct pres {
    char *user_id;
    enum balai_presence_state state;
    int put_unavailable; /* unavailable was set with PUT: a sync does not undo it */
    char *status_msg;    /* NULL: none */
    int64_t last_active; /* wall clock ms, 0: never */
    int64_t deadline;    /* monotonic ms: offline after this */
    int64_t pos;         /* position of the last change, 0: none */
    int in_heap;
};

struct heap_ent {
    int64_t at;
    struct pres *p;
};

struct ring_ent {
    int64_t pos;
    struct pres *p;
};

struct balai_presence {
    struct balai_app *app;
    int enabled;
    struct balai_map *users; /* user id -> struct pres * */
    struct heap_ent *heap;
    size_t nheap, capheap;
    struct ring_ent ring[RING];
    size_t head, n;
    int64_t floor; /* every change with pos > floor is in the ring */
    int64_t pos;
    struct balai_timer *timer;
    int64_t timer_at; /* monotonic ms the timer fires at, 0: stopped */
};

static const char *const NAMES[] = {"offline", "online", "unavailable"};

int balai_api_presence_parse(const char *s)
{
    for (size_t i = 0; s && i < BALAI_ARRAY_LEN(NAMES); i++) {
        if (strcmp(s, NAMES[i]) == 0)
            return (int)i;
    }
    return -1;
}

int balai_api_presence_enabled(const struct balai_app *app)
{
    return app->presence && app->presence->enabled;
}

int64_t balai_api_presence_pos(const struct balai_app *app)
{
    return balai_api_presence_enabled(app) ? app->presence->pos : 0;
}

/* ---- heap ---- */

static void heap_push(struct balai_presence *ps, struct pres *p, int64_t at)
{
    if (ps->nheap == ps->capheap) {
        ps->capheap = ps->capheap ? ps->capheap * 2 : 64;
        ps->heap = balai_realloc(ps->heap, ps->capheap * sizeof(*ps->heap));
    }
    size_t i = ps->nheap++;
    while (i > 0 && ps->heap[(i - 1) / 2].at > at) {
        ps->heap[i] = ps->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    ps->heap[i] = (struct heap_ent){at, p};
    p->in_heap = 1;
}

static struct heap_ent heap_pop(struct balai_presence *ps)
{
    struct heap_ent top = ps->heap[0];
    struct heap_ent last = ps->heap[--ps->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ps->nheap)
            break;
        if (c + 1 < ps->nheap && ps->heap[c + 1].at < ps->heap[c].at)
            c++;
        if (ps->heap[c].at >= last.at)
            break;
        ps->heap[i] = ps->heap[c];
        i = c;
    }
    if (ps->nheap)
        ps->heap[i] = last;
    top.p->in_heap = 0;
    return top;
}

/* Arms the timer for the heap's earliest entry (or stops it). */
static void rearm(struct balai_presence *ps)
{
    if (!ps->timer)
        return;
    if (!ps->nheap) {
        balai_timer_stop(ps->timer);
        ps->timer_at = 0;
        return;
    }
    int64_t at = ps->heap[0].at;
    if (ps->timer_at && ps->timer_at <= at)
        return;
    int64_t ms = at - balai_mono_ms();
    balai_timer_start(ps->timer, ms > 0 ? (uint64_t)ms : 0, 0);
    ps->timer_at = at;
}

/* ---- changes ---- */

static int joined(const struct balai_room *r, const char *user_id)
{
    const char *m = balai_room_membership(r, user_id);
    return m && strcmp(m, "join") == 0;
}

struct share_ctx {
    const char *a, *b;
    int yes;
};

static void share_room(struct balai_room *r, void *arg)
{
    struct share_ctx *c = arg;
    if (!c->yes && joined(r, c->a) && joined(r, c->b))
        c->yes = 1;
}

int balai_api_presence_shares(const struct balai_app *app, const char *a, const char *b)
{
    struct share_ctx c = {a, b, 0};
    if (strcmp(a, b) == 0)
        return 1;
    balai_rooms_of_user(app->rooms, b, share_room, &c);
    return c.yes;
}

static void wake_member(const char *user_id, const char *membership, void *arg)
{
    struct balai_app *app = arg;
    (void)membership;
    balai_notifier_wake_user(app->notifier, user_id);
}

struct wake_ctx {
    struct balai_app *app;
    const char *user_id;
};

static void wake_room(struct balai_room *r, void *arg)
{
    struct wake_ctx *w = arg;
    if (joined(r, w->user_id))
        balai_room_members_each(r, "join", wake_member, w->app);
}

/* A change of p: the next position, the ring, and the wake-ups. */
static void changed(struct balai_presence *ps, struct pres *p)
{
    struct balai_app *app = ps->app;
    struct wake_ctx w = {app, p->user_id};
    int64_t now = balai_now_ms();

    ps->pos = now > ps->pos ? now : ps->pos + 1;
    p->pos = ps->pos;
    if (ps->n == RING) {
        ps->floor = ps->ring[ps->head].pos;
        ps->head = (ps->head + 1) % RING;
        ps->n--;
    }
    ps->ring[(ps->head + ps->n) % RING] = (struct ring_ent){p->pos, p};
    ps->n++;
    balai_notifier_wake_user(app->notifier, p->user_id);
    balai_rooms_of_user(app->rooms, p->user_id, wake_room, &w);
}

static void on_expiry(void *arg)
{
    struct balai_presence *ps = arg;
    int64_t now = balai_mono_ms();

    ps->timer_at = 0;
    while (ps->nheap && ps->heap[0].at <= now) {
        struct heap_ent e = heap_pop(ps);
        struct pres *p = e.p;
        if (p->deadline > now) {
            heap_push(ps, p, p->deadline);
            continue;
        }
        if (p->state != BALAI_PRESENCE_OFFLINE) {
            p->state = BALAI_PRESENCE_OFFLINE;
            p->put_unavailable = 0;
            changed(ps, p);
        }
    }
    rearm(ps);
}

static struct pres *pres_get(struct balai_presence *ps, const char *user_id)
{
    struct pres *p = balai_map_get_str(ps->users, user_id);
    if (!p) {
        p = balai_calloc(1, sizeof(*p));
        p->user_id = balai_strdup(user_id);
        balai_map_put_str(ps->users, user_id, p);
    }
    return p;
}

/* Keeps p from going offline before now + ms. */
static void extend(struct balai_presence *ps, struct pres *p, int64_t ms)
{
    int64_t at = balai_mono_ms() + ms;
    if (at > p->deadline)
        p->deadline = at;
    if (!p->in_heap) {
        heap_push(ps, p, p->deadline);
        rearm(ps);
    }
}

void balai_api_presence_synced(struct balai_app *app, const char *user_id,
                               const char *set_presence, int64_t timeout_ms)
{
    struct balai_presence *ps = app->presence;
    int want = set_presence ? balai_api_presence_parse(set_presence) : BALAI_PRESENCE_ONLINE;

    if (!ps || !ps->enabled || want <= BALAI_PRESENCE_OFFLINE)
        return;
    struct pres *p = pres_get(ps, user_id);
    int old = p->state;
    if (want == BALAI_PRESENCE_ONLINE) {
        p->last_active = balai_now_ms();
        if (!(old == BALAI_PRESENCE_UNAVAILABLE && p->put_unavailable))
            p->state = BALAI_PRESENCE_ONLINE;
    } else {
        p->state = BALAI_PRESENCE_UNAVAILABLE;
    }
    extend(ps, p, timeout_ms + BALAI_PRESENCE_GRACE_MS);
    if ((int)p->state != old)
        changed(ps, p);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

void balai_api_presence_set(struct balai_app *app, const char *user_id,
                            enum balai_presence_state state, const char *status_msg)
{
    struct balai_presence *ps = app->presence;

    if (!ps || !ps->enabled)
        return;
    struct pres *p = pres_get(ps, user_id);
    int same = p->state == state && str_eq(p->status_msg, status_msg);
    p->state = state;
    p->put_unavailable = state == BALAI_PRESENCE_UNAVAILABLE;
    if (!str_eq(p->status_msg, status_msg)) {
        free(p->status_msg);
        p->status_msg = status_msg ? balai_strdup(status_msg) : NULL;
    }
    if (state == BALAI_PRESENCE_ONLINE)
        p->last_active = balai_now_ms();
    if (state != BALAI_PRESENCE_OFFLINE)
        extend(ps, p, BALAI_PRESENCE_GRACE_MS);
    if (!same)
        changed(ps, p);
}

static int currently_active(const struct pres *p, int64_t now)
{
    return p->state == BALAI_PRESENCE_ONLINE && p->last_active &&
           now - p->last_active < BALAI_PRESENCE_GRACE_MS;
}

json_t *balai_api_presence_status(const struct balai_app *app, const char *user_id)
{
    const struct pres *p = NULL;
    int64_t now = balai_now_ms();

    if (balai_api_presence_enabled(app))
        p = balai_map_get_str(app->presence->users, user_id);
    if (!p)
        return json_pack("{s:s}", "presence", "offline");
    json_t *o = json_pack("{s:s,s:b}", "presence", NAMES[p->state], "currently_active",
                          currently_active(p, now));
    if (p->last_active)
        json_object_set_new(o, "last_active_ago",
                            json_integer(now > p->last_active ? now - p->last_active : 0));
    if (p->status_msg)
        json_object_set_new(o, "status_msg", json_string(p->status_msg));
    return o;
}

/* ---- /sync ---- */

static void write_event(struct balai_buf *b, const struct pres *p, int64_t now, size_t n)
{
    if (n)
        balai_buf_append_char(b, ',');
    balai_buf_append_str(b, "{\"type\":\"m.presence\",\"sender\":");
    balai_jsonw_str(b, p->user_id);
    balai_buf_printf(b, ",\"content\":{\"presence\":\"%s\",\"currently_active\":%s",
                     NAMES[p->state], currently_active(p, now) ? "true" : "false");
    if (p->last_active)
        balai_buf_printf(b, ",\"last_active_ago\":%lld",
                         (long long)(now > p->last_active ? now - p->last_active : 0));
    if (p->status_msg) {
        balai_buf_append_str(b, ",\"status_msg\":");
        balai_jsonw_str(b, p->status_msg);
    }
    balai_buf_append_str(b, "}}");
}

size_t balai_api_presence_write(void *src, const char *user_id, int64_t after,
                                struct balai_buf *b)
{
    struct balai_app *app = src;
    struct balai_presence *ps = app->presence;
    int64_t now = balai_now_ms();
    size_t n = 0;

    if (!ps || !ps->enabled)
        return 0;
    if (after > ps->pos) {
        /* a token from ahead of us (the clock was set back): catch up to it
         * and send everything current once */
        ps->pos = after;
        after = 0;
    }
    if (after >= ps->pos)
        return 0;
    if (after < ps->floor) {
        size_t it = 0, kl;
        const void *k;
        void *v;
        while (balai_map_next(ps->users, &it, &k, &kl, &v)) {
            const struct pres *p = v;
            if (p->pos > after && balai_api_presence_shares(app, user_id, p->user_id))
                write_event(b, p, now, n++);
        }
        return n;
    }
    /* the first change after the token: the ring is in position order */
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->ring[(ps->head + mid) % RING].pos <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ps->n; i++) {
        const struct ring_ent *e = &ps->ring[(ps->head + i) % RING];
        if (e->p->pos != e->pos)
            continue;
        if (balai_api_presence_shares(app, user_id, e->p->user_id))
            write_event(b, e->p, now, n++);
    }
    return n;
}

/* ---- life ---- */

int balai_api_presence_init(struct balai_app *app)
{
    struct balai_presence *ps = balai_calloc(1, sizeof(*ps));
    const char *cfg = app->cfg ? app->cfg->presence : NULL;

    ps->app = app;
    ps->enabled = !cfg || strcmp(cfg, "off") != 0;
    ps->users = balai_map_new();
    ps->pos = balai_now_ms();
    ps->floor = ps->pos;
    app->presence = ps;
    if (!ps->enabled)
        return BALAI_OK;
    ps->timer = balai_timer_new(app->loop, on_expiry, ps);
    if (!ps->timer)
        return BALAI_EIO;
    balai_timer_set_ref(ps->timer, 0);
    return BALAI_OK;
}

void balai_api_presence_release(struct balai_app *app)
{
    struct balai_presence *ps = app->presence;
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!ps)
        return;
    balai_timer_free(ps->timer);
    while (balai_map_next(ps->users, &it, &k, &kl, &v)) {
        struct pres *p = v;
        free(p->user_id);
        free(p->status_msg);
        free(p);
    }
    balai_map_free(ps->users);
    free(ps->heap);
    free(ps);
    app->presence = NULL;
}
