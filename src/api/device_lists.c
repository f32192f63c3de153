/* device_lists.c: device-list changes in memory and in the store, their
 * delivery through /sync, and GET /keys/changes (see device_lists.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/common.h"
#include "api/device_lists.h"
#include "api/e2e_keys.h"
#include "api/to_device.h"
#include "core/accounts.h"
#include "core/room.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "sync/token.h"
#include "util/alloc.h"
#include "util/jsonw.h"
#include "util/map.h"

#define LOG_MODULE "device_lists"
#include "util/log.h"

/* Changes kept in memory; a token older than these gets everyone. */
#define DEVICE_LISTS_KEEP 8192
#define DEVICE_LISTS_STREAM "device_lists"

struct change {
    int64_t pos;
    char *user_id;
};

struct balai_device_lists {
    struct change ring[DEVICE_LISTS_KEEP];
    size_t head, n;  /* oldest entry, count */
    int64_t floor;   /* every change with pos > floor is in the ring */
    int64_t pos;     /* the last committed change (0: none) */
};

static void ring_add(struct balai_device_lists *dl, int64_t pos, const char *user_id)
{
    if (dl->n == DEVICE_LISTS_KEEP) {
        struct change *old = &dl->ring[dl->head];
        dl->floor = old->pos;
        free(old->user_id);
        dl->head = (dl->head + 1) % DEVICE_LISTS_KEEP;
        dl->n--;
    }
    struct change *c = &dl->ring[(dl->head + dl->n) % DEVICE_LISTS_KEEP];
    c->pos = pos;
    c->user_id = balai_strdup(user_id);
    dl->n++;
    if (pos > dl->pos)
        dl->pos = pos;
}

/* The logical index of the first change with pos > after (n when none). */
static size_t ring_first_after(const struct balai_device_lists *dl, int64_t after)
{
    size_t lo = 0, hi = dl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dl->ring[(dl->head + mid) % DEVICE_LISTS_KEEP].pos <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void balai_api_device_lists_free(struct balai_device_lists *dl)
{
    if (!dl)
        return;
    for (size_t i = 0; i < dl->n; i++)
        free(dl->ring[(dl->head + i) % DEVICE_LISTS_KEEP].user_id);
    free(dl);
}

int64_t balai_api_device_lists_pos(const struct balai_device_lists *dl)
{
    return dl ? dl->pos : 0;
}

static int load_row(int64_t pos, const char *user_id, void *arg)
{
    ring_add(arg, pos, user_id);
    return 0;
}

int balai_api_device_lists_load(struct balai_app *app)
{
    struct balai_device_lists *dl = balai_calloc(1, sizeof(*dl));
    int64_t cur = balai_store_pos_current(app->store, DEVICE_LISTS_STREAM);
    int rc;

    if (cur < 0) {
        free(dl);
        return (int)cur;
    }
    dl->floor = cur > DEVICE_LISTS_KEEP ? cur - DEVICE_LISTS_KEEP : 0;
    rc = balai_store_device_list_changes(app->store, dl->floor, load_row, dl);
    if (rc != BALAI_OK) {
        balai_api_device_lists_free(dl);
        return rc;
    }
    if (cur > dl->pos)
        dl->pos = cur;
    app->device_lists = dl;
    return BALAI_OK;
}

/* ---- who shares a room with whom ---- */

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

/* Whether a and b are both joined to some room (a user shares with itself). */
static int shares(const struct balai_app *app, const char *a, const char *b)
{
    struct share_ctx c = {a, b, 0};
    if (strcmp(a, b) == 0)
        return 1;
    balai_rooms_of_user(app->rooms, b, share_room, &c);
    return c.yes;
}

/* ---- the changes between two tokens ---- */

struct calc {
    struct balai_app *app;
    const char *user_id;
    struct balai_map *changed, *left; /* user id -> (void *)1 */
    struct balai_room *room;
    int64_t ev_after, ev_upto;
};

/* Sets of user ids, created on first use (most syncs name nobody). */
static void set_add(struct balai_map **m, const char *user_id)
{
    static char one = 1;
    if (!*m)
        *m = balai_map_new();
    if (!balai_map_get_str(*m, user_id))
        balai_map_put_str(*m, user_id, &one);
}

static int set_has(const struct balai_map *m, const char *user_id)
{
    return m && balai_map_get_str(m, user_id);
}

static void add_changed(const char *user_id, const char *membership, void *arg)
{
    struct calc *c = arg;
    (void)membership;
    set_add(&c->changed, user_id);
}

static void add_left(const char *user_id, const char *membership, void *arg)
{
    struct calc *c = arg;
    (void)membership;
    if (strcmp(user_id, c->user_id) != 0 && !shares(c->app, c->user_id, user_id))
        set_add(&c->left, user_id);
}

/* Everyone joined to the rooms the user is joined to. */
static void all_room(struct balai_room *r, void *arg)
{
    struct calc *c = arg;
    if (joined(r, c->user_id))
        balai_room_members_each(r, "join", add_changed, c);
}

static int membership_ev(struct balai_ev *ev, void *arg)
{
    struct calc *c = arg;
    struct balai_room *r = c->room;
    const char *x = ev->state_key;

    if (!ev->membership || !x || strcmp(ev->type, "m.room.member") != 0)
        return 0;
    /* only a join or the end of one counts (not invites, not profile changes) */
    const char *prev = balai_room_membership_at(r, x, ev->pos - 1);
    int was = prev && strcmp(prev, "join") == 0;
    int is = strcmp(ev->membership, "join") == 0;
    if (was == is)
        return 0;
    if (strcmp(x, c->user_id) == 0) {
        /* the user's own join or leave: everyone there came, or may have left */
        balai_room_members_each(r, "join", joined(r, c->user_id) ? add_changed : add_left, c);
        return 0;
    }
    if (is && joined(r, x) && joined(r, c->user_id))
        set_add(&c->changed, x);
    else if (!is)
        add_left(x, NULL, c);
    return 0;
}

/* Membership changes after ev_after in one of the user's rooms. */
static void membership_room(struct balai_room *r, void *arg)
{
    struct calc *c = arg;

    if (balai_room_last_pos(r) <= c->ev_after)
        return;
    if (c->ev_after + 1 < balai_room_cache_floor(r)) {
        /* past the cached timeline: name everyone still there */
        if (joined(r, c->user_id))
            balai_room_members_each(r, "join", add_changed, c);
        return;
    }
    c->room = r;
    balai_room_cached_each(r, c->ev_after, c->ev_upto, membership_ev, c);
    c->room = NULL;
}

/* Fills c->changed and c->left for device-list positions (after, upto] and
 * events positions (c->ev_after, c->ev_upto]. */
static void compute(struct calc *c, int64_t after, int64_t upto)
{
    struct balai_device_lists *dl = c->app->device_lists;

    if (!dl)
        return;
    if (after < dl->floor) {
        balai_rooms_of_user(c->app->rooms, c->user_id, all_room, c);
        set_add(&c->changed, c->user_id);
        return;
    }
    for (size_t i = ring_first_after(dl, after); i < dl->n; i++) {
        const struct change *ch = &dl->ring[(dl->head + i) % DEVICE_LISTS_KEEP];
        if (ch->pos > upto)
            break;
        if (!set_has(c->changed, ch->user_id) && shares(c->app, c->user_id, ch->user_id))
            set_add(&c->changed, ch->user_id);
    }
    if (c->ev_upto > c->ev_after)
        balai_rooms_of_user(c->app->rooms, c->user_id, membership_room, c);
}

static void calc_init(struct calc *c, struct balai_app *app, const char *user_id,
                      int64_t ev_after, int64_t ev_upto)
{
    memset(c, 0, sizeof(*c));
    c->app = app;
    c->user_id = user_id;
    c->ev_after = ev_after;
    c->ev_upto = ev_upto;
}

static void calc_release(struct calc *c)
{
    balai_map_free(c->changed);
    balai_map_free(c->left);
}

size_t balai_api_device_lists_write(void *src, const char *user_id, int64_t after,
                                    struct balai_buf *changed, struct balai_buf *left)
{
    const struct balai_api_device_lists_src *s = src;
    struct balai_app *app = s->app;
    int64_t ev_upto = balai_rooms_max_pos(app->rooms);
    struct calc c;
    size_t n = 0, it = 0, kl;
    const void *k;
    void *v;

    if (!app->device_lists ||
        (after >= app->device_lists->pos && s->events_after >= ev_upto))
        return 0;
    calc_init(&c, app, user_id, s->events_after, ev_upto);
    compute(&c, after, app->device_lists->pos);
    while (c.changed && balai_map_next(c.changed, &it, &k, &kl, &v)) {
        if (changed->len)
            balai_buf_append_char(changed, ',');
        balai_jsonw_str(changed, k);
        n++;
    }
    it = 0;
    while (c.left && balai_map_next(c.left, &it, &k, &kl, &v)) {
        if (set_has(c.changed, k))
            continue;
        if (left->len)
            balai_buf_append_char(left, ',');
        balai_jsonw_str(left, k);
        n++;
    }
    calc_release(&c);
    return n;
}

/* ---- recording a change ---- */

struct dl_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    char *user_id;
    int64_t pos;
};

static int dl_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct dl_op *o = (struct dl_op *)op;
    return balai_store_txn_device_list_add(t, o->user_id, &o->pos);
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

int balai_api_device_lists_txn(struct balai_store_txn *t, const char *user_id, int64_t *pos)
{
    return balai_store_txn_device_list_add(t, user_id, pos);
}

void balai_api_device_lists_note(struct balai_app *app, const char *user_id, int64_t pos)
{
    struct wake_ctx w = {app, user_id};

    if (!app->device_lists || pos <= 0)
        return;
    ring_add(app->device_lists, pos, user_id);
    balai_notifier_wake_user(app->notifier, user_id);
    balai_rooms_of_user(app->rooms, user_id, wake_room, &w);
}

static void dl_done(struct balai_store_op *op)
{
    struct dl_op *o = (struct dl_op *)op;

    if (op->rc != BALAI_OK)
        LOG_ERROR("recording a device-list change of %s failed: %s", o->user_id,
                  balai_strerror(op->rc));
    else
        balai_api_device_lists_note(o->app, o->user_id, o->pos);
    free(o->user_id);
    free(o);
}

void balai_api_device_lists_changed(struct balai_app *app, const char *user_id)
{
    struct dl_op *o = balai_calloc(1, sizeof(*o));
    o->app = app;
    o->user_id = balai_strdup(user_id);
    o->op.apply = dl_apply;
    o->op.done = dl_done;
    balai_store_submit(app->store, &o->op);
}

void balai_api_device_lists_device_gone(struct balai_app *app, const char *user_id,
                                        const char *device_id)
{
    if (app->e2e_keys)
        balai_api_e2e_keys_del_device(app->e2e_keys, user_id, device_id);
    if (app->to_device && device_id)
        balai_api_to_device_drop(app->to_device, user_id, device_id, INT64_MAX);
    else if (app->to_device)
        balai_api_to_device_drop_user(app->to_device, user_id);
    balai_api_device_lists_changed(app, user_id);
}

/* ---- GET /keys/changes ---- */

static int token_param(struct balai_http_req *req, const char *name,
                       struct balai_sync_token *t)
{
    struct balai_app *app = balai_api_app(req);
    const char *v = balai_http_req_query(req, name);
    int rc;

    if (!v || !*v) {
        balai_api_error(req, 400, "M_MISSING_PARAM", "'%s' (a sync token) is required", name);
        return BALAI_EINVAL;
    }
    rc = balai_sync_token_parse(v, app->epoch, t);
    if (rc == BALAI_ESTATE) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'%s' is a sync token from another server or an older database", name);
        return rc;
    }
    if (rc != BALAI_OK || v[0] != 's') {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a sync token", name);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static void get_changes(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_sync_token from, to;
    struct calc c;
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (token_param(req, "from", &from) < 0 || token_param(req, "to", &to) < 0)
        return;
    int64_t dl_to = to.pos[BALAI_STREAM_DEVICE_LISTS];
    int64_t ev_to = to.pos[BALAI_STREAM_EVENTS];
    if (ev_to > balai_rooms_max_pos(app->rooms))
        ev_to = balai_rooms_max_pos(app->rooms);
    calc_init(&c, app, s->device->user->user_id, from.pos[BALAI_STREAM_EVENTS], ev_to);
    if (dl_to > from.pos[BALAI_STREAM_DEVICE_LISTS] || ev_to > c.ev_after)
        compute(&c, from.pos[BALAI_STREAM_DEVICE_LISTS], dl_to);
    json_t *changed = json_array(), *left = json_array();
    while (c.changed && balai_map_next(c.changed, &it, &k, &kl, &v))
        json_array_append_new(changed, json_string(k));
    it = 0;
    while (c.left && balai_map_next(c.left, &it, &k, &kl, &v)) {
        if (!set_has(c.changed, k))
            json_array_append_new(left, json_string(k));
    }
    calc_release(&c);
    balai_api_json(req, 200, json_pack("{s:o,s:o}", "changed", changed, "left", left));
}

int balai_api_client_device_lists_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/keys/changes", get_changes,
                           0);
}
