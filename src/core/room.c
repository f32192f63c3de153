/* room.c: in-memory rooms: state, membership, recent timeline, visibility history. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/room.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"

/* ---- events ---- */

static const char *const memberships[] = {"join", "invite", "leave", "ban", "knock"};

static const char *intern_membership(const char *m)
{
    if (!m)
        return NULL;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(memberships); i++) {
        if (strcmp(m, memberships[i]) == 0)
            return memberships[i];
    }
    return NULL;
}

struct balai_ev *balai_ev_new(json_t *pdu, const char *event_id)
{
    struct balai_ev *ev = balai_calloc(1, sizeof(*ev));
    ev->refs = 1;
    ev->pdu = pdu;
    ev->event_id = balai_strdup(event_id);
    ev->type = balai_event_type(pdu);
    ev->sender = balai_event_sender(pdu);
    ev->state_key = balai_event_state_key(pdu);
    ev->ts = json_integer_value(json_object_get(pdu, "origin_server_ts"));
    ev->depth = json_integer_value(json_object_get(pdu, "depth"));
    if (ev->type && ev->state_key && strcmp(ev->type, "m.room.member") == 0) {
        const json_t *c = balai_event_content(pdu);
        ev->membership = intern_membership(json_string_value(json_object_get(c, "membership")));
    }
    return ev;
}

struct balai_ev *balai_ev_ref(struct balai_ev *ev)
{
    ev->refs++;
    return ev;
}

void balai_ev_unref(struct balai_ev *ev)
{
    if (!ev || --ev->refs > 0)
        return;
    json_decref(ev->pdu);
    free(ev->event_id);
    free(ev->txn_device);
    free(ev->txn_id);
    free(ev->client_json);
    free(ev);
}

const char *balai_ev_client_json(struct balai_ev *ev, size_t *len)
{
    if (!ev->client_json) {
        json_t *c = balai_event_client_format(ev->pdu, ev->event_id);
        json_object_del(c, "unsigned");
        ev->client_json = balai_json_dump(c, 0, &ev->client_len);
        json_decref(c);
    }
    if (len)
        *len = ev->client_len;
    return ev->client_json;
}

/* ---- rooms ---- */

struct hist {
    int64_t pos;
    const char *value; /* interned membership or visibility */
};

struct member {
    const char *membership; /* current */
    struct hist *h;
    size_t n, cap;
};

struct balai_room {
    char *room_id;
    const struct balai_room_version *rv;
    char *creator;
    int is_direct;
    struct balai_room_state *state;
    struct balai_map *state_evs; /* "type\0state_key" -> struct balai_ev */
    int64_t first_pos;
    /* pending events, oldest first */
    struct balai_ev **pending;
    size_t npending, pending_cap;
    char *head_id;
    int64_t head_depth;
    int64_t last_pos;
    struct balai_map *members; /* user -> struct member */
    size_t joined, invited;
    struct hist *vis;
    size_t nvis, viscap;
    /* ring of recent committed events */
    struct balai_ev **ring;
    size_t ring_cap, ring_start, ring_len;
    int64_t floor; /* every event with pos >= floor is in the ring */
};

static const char *const vis_names[] = {"shared", "invited", "joined", "world_readable"};

struct balai_room *balai_room_new(const char *room_id, const struct balai_room_version *rv,
                                  const char *creator, int is_direct, size_t cache_size)
{
    struct balai_room *r = balai_calloc(1, sizeof(*r));
    r->room_id = balai_strdup(room_id);
    r->rv = rv;
    r->creator = balai_strdup(creator);
    r->is_direct = is_direct;
    r->state = balai_state_new();
    r->state_evs = balai_map_new();
    r->members = balai_map_new();
    r->ring_cap = cache_size ? cache_size : 1;
    r->ring = balai_calloc(r->ring_cap, sizeof(*r->ring));
    r->floor = 1; /* a new room: everything is cached */
    return r;
}

void balai_room_free(struct balai_room *r)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!r)
        return;
    while (balai_map_next(r->members, &it, &k, &kl, &v)) {
        struct member *m = v;
        free(m->h);
        free(m);
    }
    balai_map_free(r->members);
    it = 0;
    while (balai_map_next(r->state_evs, &it, &k, &kl, &v))
        balai_ev_unref(v);
    balai_map_free(r->state_evs);
    for (size_t i = 0; i < r->npending; i++)
        balai_ev_unref(r->pending[i]);
    free(r->pending);
    for (size_t i = 0; i < r->ring_len; i++)
        balai_ev_unref(r->ring[(r->ring_start + i) % r->ring_cap]);
    free(r->ring);
    free(r->vis);
    balai_state_free(r->state);
    free(r->room_id);
    free(r->creator);
    free(r->head_id);
    free(r);
}

const char *balai_room_id(const struct balai_room *r)
{
    return r->room_id;
}

const struct balai_room_version *balai_room_version(const struct balai_room *r)
{
    return r->rv;
}

const char *balai_room_creator(const struct balai_room *r)
{
    return r->creator;
}

int balai_room_is_direct(const struct balai_room *r)
{
    return r->is_direct;
}

const struct balai_room_state *balai_room_state(const struct balai_room *r)
{
    return r->state;
}

void balai_room_state_each(const struct balai_room *r, void (*fn)(struct balai_ev *ev, void *arg),
                           void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(r->state_evs, &it, &k, &kl, &v))
        fn(v, arg);
}

struct balai_ev *balai_room_state_ev(const struct balai_room *r, const char *type,
                                     const char *state_key)
{
    size_t tl = strlen(type), sl = strlen(state_key);
    char *key = balai_malloc(tl + sl + 1);
    memcpy(key, type, tl + 1);
    memcpy(key + tl + 1, state_key, sl);
    struct balai_ev *ev = balai_map_get(r->state_evs, key, tl + sl + 1);
    free(key);
    return ev;
}

int64_t balai_room_first_pos(const struct balai_room *r)
{
    return r->first_pos;
}

static const json_t *auth_get(void *arg, const char *type, const char *state_key,
                              const char **event_id)
{
    struct balai_room *r = arg;
    for (size_t i = r->npending; i > 0; i--) {
        struct balai_ev *ev = r->pending[i - 1];
        if (ev->state_key && strcmp(ev->type, type) == 0 && strcmp(ev->state_key, state_key) == 0) {
            if (event_id)
                *event_id = ev->event_id;
            return ev->pdu;
        }
    }
    return balai_state_get(r->state, type, state_key, event_id);
}

struct balai_state_lookup balai_room_auth_view(struct balai_room *r)
{
    struct balai_state_lookup l = {auth_get, r};
    return l;
}

const char *balai_room_head(const struct balai_room *r, int64_t *depth)
{
    if (r->npending) {
        struct balai_ev *ev = r->pending[r->npending - 1];
        *depth = ev->depth;
        return ev->event_id;
    }
    *depth = r->head_depth;
    return r->head_id;
}

int balai_room_pending_each(const struct balai_room *r, int (*fn)(struct balai_ev *ev, void *arg),
                            void *arg)
{
    for (size_t i = 0; i < r->npending; i++) {
        int rc = fn(r->pending[i], arg);
        if (rc)
            return rc;
    }
    return 0;
}

void balai_room_add_pending(struct balai_room *r, struct balai_ev *ev)
{
    if (r->npending == r->pending_cap) {
        r->pending_cap = r->pending_cap ? r->pending_cap * 2 : 8;
        r->pending = balai_realloc(r->pending, r->pending_cap * sizeof(*r->pending));
    }
    r->pending[r->npending++] = balai_ev_ref(ev);
}

static int remove_pending(struct balai_room *r, struct balai_ev *ev)
{
    for (size_t i = 0; i < r->npending; i++) {
        if (r->pending[i] == ev) {
            memmove(&r->pending[i], &r->pending[i + 1], (r->npending - i - 1) * sizeof(ev));
            r->npending--;
            balai_ev_unref(ev);
            return 1;
        }
    }
    return 0;
}

static void ring_push(struct balai_room *r, struct balai_ev *ev)
{
    if (r->ring_len == r->ring_cap) {
        struct balai_ev *old = r->ring[r->ring_start];
        r->ring_start = (r->ring_start + 1) % r->ring_cap;
        r->ring_len--;
        balai_ev_unref(old);
        r->floor = r->ring[r->ring_start]->pos;
    }
    r->ring[(r->ring_start + r->ring_len) % r->ring_cap] = balai_ev_ref(ev);
    r->ring_len++;
}

static void hist_push(struct hist **h, size_t *n, size_t *cap, int64_t pos, const char *value)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *h = balai_realloc(*h, *cap * sizeof(**h));
    }
    (*h)[*n].pos = pos;
    (*h)[*n].value = value;
    (*n)++;
}

static const char *intern_vis(const char *v)
{
    for (size_t i = 0; v && i < BALAI_ARRAY_LEN(vis_names); i++) {
        if (strcmp(v, vis_names[i]) == 0)
            return vis_names[i];
    }
    return NULL;
}

static void set_membership(struct balai_room *r, const char *user, int64_t pos, const char *m)
{
    struct member *mem = balai_map_get_str(r->members, user);
    if (!mem) {
        mem = balai_calloc(1, sizeof(*mem));
        balai_map_put_str(r->members, user, mem);
    }
    if (mem->membership == memberships[0])
        r->joined--;
    else if (mem->membership == memberships[1])
        r->invited--;
    mem->membership = m;
    if (m == memberships[0])
        r->joined++;
    else if (m == memberships[1])
        r->invited++;
    hist_push(&mem->h, &mem->n, &mem->cap, pos, m);
}

void balai_room_load_history(struct balai_room *r, int64_t pos, const char *user, const char *value)
{
    if (user) {
        const char *m = intern_membership(value);
        if (m)
            set_membership(r, user, pos, m);
    } else {
        const char *v = intern_vis(value);
        if (v)
            hist_push(&r->vis, &r->nvis, &r->viscap, pos, v);
    }
}

static void apply_committed(struct balai_room *r, struct balai_ev *ev, int history)
{
    if (ev->state_key) {
        size_t tl = strlen(ev->type), sl = strlen(ev->state_key);
        char *key = balai_malloc(tl + sl + 1);
        memcpy(key, ev->type, tl + 1);
        memcpy(key + tl + 1, ev->state_key, sl);
        balai_ev_unref(balai_map_put(r->state_evs, key, tl + sl + 1, balai_ev_ref(ev)));
        free(key);
        balai_state_set(r->state, ev->event_id, ev->pdu);
        if (strcmp(ev->type, "m.room.create") == 0)
            r->first_pos = ev->pos;
        if (history && ev->membership)
            set_membership(r, ev->state_key, ev->pos, ev->membership);
        if (history && strcmp(ev->type, "m.room.history_visibility") == 0) {
            const json_t *c = balai_event_content(ev->pdu);
            const char *v = intern_vis(json_string_value(json_object_get(c, "history_visibility")));
            if (v)
                hist_push(&r->vis, &r->nvis, &r->viscap, ev->pos, v);
        }
    }
}

void balai_room_commit(struct balai_room *r, struct balai_ev *ev)
{
    apply_committed(r, ev, 1);
    if (r->ring_len == 0 && r->last_pos == 0)
        r->floor = ev->pos;
    ring_push(r, ev);
    free(r->head_id);
    r->head_id = balai_strdup(ev->event_id);
    r->head_depth = ev->depth;
    r->last_pos = ev->pos;
    remove_pending(r, ev);
}

void balai_room_replace(struct balai_room *r, struct balai_ev *redacted)
{
    for (size_t i = 0; i < r->ring_len; i++) {
        size_t at = (r->ring_start + i) % r->ring_cap;
        if (strcmp(r->ring[at]->event_id, redacted->event_id) == 0) {
            balai_ev_unref(r->ring[at]);
            r->ring[at] = balai_ev_ref(redacted);
            break;
        }
    }
    if (!redacted->type || !redacted->state_key)
        return;
    size_t tl = strlen(redacted->type), sl = strlen(redacted->state_key);
    char *key = balai_malloc(tl + sl + 1);
    memcpy(key, redacted->type, tl + 1);
    memcpy(key + tl + 1, redacted->state_key, sl);
    struct balai_ev *cur = balai_map_get(r->state_evs, key, tl + sl + 1);
    if (cur && strcmp(cur->event_id, redacted->event_id) == 0) {
        balai_ev_unref(balai_map_put(r->state_evs, key, tl + sl + 1, balai_ev_ref(redacted)));
        balai_state_set(r->state, redacted->event_id, redacted->pdu);
    }
    free(key);
}

void balai_room_abort(struct balai_room *r, struct balai_ev *ev)
{
    remove_pending(r, ev);
}

void balai_room_load_state(struct balai_room *r, struct balai_ev *ev)
{
    apply_committed(r, ev, 0);
}

void balai_room_load_timeline(struct balai_room *r, struct balai_ev *ev)
{
    if (r->ring_len == 0)
        r->floor = ev->pos;
    ring_push(r, ev);
    free(r->head_id);
    r->head_id = balai_strdup(ev->event_id);
    r->head_depth = ev->depth;
    r->last_pos = ev->pos;
}

int64_t balai_room_last_pos(const struct balai_room *r)
{
    return r->last_pos;
}

int64_t balai_room_cache_floor(const struct balai_room *r)
{
    return r->floor;
}

int balai_room_cached_each(const struct balai_room *r, int64_t after, int64_t upto,
                           int (*fn)(struct balai_ev *ev, void *arg), void *arg)
{
    for (size_t i = 0; i < r->ring_len; i++) {
        struct balai_ev *ev = r->ring[(r->ring_start + i) % r->ring_cap];
        if (ev->pos <= after)
            continue;
        if (ev->pos > upto)
            break;
        int rc = fn(ev, arg);
        if (rc)
            return rc;
    }
    return 0;
}

size_t balai_room_cached_latest(const struct balai_room *r, int64_t upto, size_t max,
                                struct balai_ev **out)
{
    size_t n = 0;
    for (size_t i = r->ring_len; i > 0 && n < max; i--) {
        struct balai_ev *ev = r->ring[(r->ring_start + i - 1) % r->ring_cap];
        if (ev->pos > upto)
            continue;
        out[n++] = ev;
    }
    return n;
}

struct balai_ev *balai_room_cached_event(const struct balai_room *r, const char *event_id)
{
    for (size_t i = r->ring_len; i > 0; i--) {
        struct balai_ev *ev = r->ring[(r->ring_start + i - 1) % r->ring_cap];
        if (strcmp(ev->event_id, event_id) == 0)
            return ev;
    }
    return NULL;
}

const char *balai_room_membership(const struct balai_room *r, const char *user_id)
{
    struct member *m = balai_map_get_str(r->members, user_id);
    return m ? m->membership : NULL;
}

static const struct hist *hist_at(const struct hist *h, size_t n, int64_t pos)
{
    /* binary search: last entry with h.pos <= pos */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h[mid].pos <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &h[lo - 1] : NULL;
}

const char *balai_room_membership_at(const struct balai_room *r, const char *user_id, int64_t pos)
{
    struct member *m = balai_map_get_str(r->members, user_id);
    if (!m)
        return NULL;
    const struct hist *e = hist_at(m->h, m->n, pos);
    return e ? e->value : NULL;
}

int64_t balai_room_membership_pos(const struct balai_room *r, const char *user_id)
{
    struct member *m = balai_map_get_str(r->members, user_id);
    return m && m->n ? m->h[m->n - 1].pos : 0;
}

size_t balai_room_joined_count(const struct balai_room *r)
{
    return r->joined;
}

size_t balai_room_invited_count(const struct balai_room *r)
{
    return r->invited;
}

void balai_room_members_each(const struct balai_room *r, const char *membership,
                             void (*fn)(const char *user_id, const char *membership, void *arg),
                             void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(r->members, &it, &k, &kl, &v)) {
        struct member *m = v;
        if (!membership || (m->membership && strcmp(m->membership, membership) == 0))
            fn(k, m->membership, arg);
    }
}

int balai_room_visible(const struct balai_room *r, const char *user_id, const struct balai_ev *ev)
{
    if (ev->membership && strcmp(ev->state_key, user_id) == 0)
        return 1;
    const struct hist *v = hist_at(r->vis, r->nvis, ev->pos - 1);
    const char *vis = v ? v->value : vis_names[BALAI_VIS_SHARED];
    if (vis == vis_names[BALAI_VIS_WORLD_READABLE])
        return 1;
    struct member *m = balai_map_get_str(r->members, user_id);
    if (!m)
        return 0;
    const struct hist *at = hist_at(m->h, m->n, ev->pos);
    const char *mem = at ? at->value : NULL;
    if (mem == memberships[0])
        return 1;
    if (vis == vis_names[BALAI_VIS_INVITED])
        return mem == memberships[1];
    if (vis == vis_names[BALAI_VIS_JOINED])
        return 0;
    /* shared: visible if the user joined at any point after the event */
    for (size_t i = m->n; i > 0; i--) {
        if (m->h[i - 1].pos <= ev->pos)
            break;
        if (m->h[i - 1].value == memberships[0])
            return 1;
    }
    return 0;
}

/* ---- the set of rooms ---- */

struct user_rooms {
    struct balai_room **rooms;
    size_t n, cap;
};

struct alias {
    char *room_id;
    char *creator;
};

struct balai_rooms {
    struct balai_map *rooms;     /* id -> room */
    struct balai_map *by_user;   /* user -> struct user_rooms */
    struct balai_map *aliases;   /* alias -> struct alias */
    struct balai_map *forgotten; /* "user\nroom" -> marker */
    size_t cache_size;
    int64_t max_pos;
};

struct balai_rooms *balai_rooms_new(size_t cache_size)
{
    struct balai_rooms *rs = balai_calloc(1, sizeof(*rs));
    rs->rooms = balai_map_new();
    rs->by_user = balai_map_new();
    rs->aliases = balai_map_new();
    rs->forgotten = balai_map_new();
    rs->cache_size = cache_size;
    return rs;
}

void balai_rooms_free(struct balai_rooms *rs)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!rs)
        return;
    while (balai_map_next(rs->rooms, &it, &k, &kl, &v))
        balai_room_free(v);
    it = 0;
    while (balai_map_next(rs->by_user, &it, &k, &kl, &v)) {
        struct user_rooms *u = v;
        free(u->rooms);
        free(u);
    }
    it = 0;
    while (balai_map_next(rs->aliases, &it, &k, &kl, &v)) {
        struct alias *a = v;
        free(a->room_id);
        free(a->creator);
        free(a);
    }
    balai_map_free(rs->rooms);
    balai_map_free(rs->by_user);
    balai_map_free(rs->aliases);
    balai_map_free(rs->forgotten);
    free(rs);
}

struct balai_room *balai_rooms_get(const struct balai_rooms *rs, const char *room_id)
{
    return balai_map_get_str(rs->rooms, room_id);
}

struct balai_room *balai_rooms_add(struct balai_rooms *rs, const char *room_id,
                                   const struct balai_room_version *rv, const char *creator,
                                   int is_direct)
{
    if (balai_map_get_str(rs->rooms, room_id))
        return NULL;
    struct balai_room *r = balai_room_new(room_id, rv, creator, is_direct, rs->cache_size);
    balai_map_put_str(rs->rooms, room_id, r);
    return r;
}

int balai_rooms_remove_unborn(struct balai_rooms *rs, struct balai_room *r)
{
    if (r->last_pos || r->npending || r->ring_len)
        return BALAI_ESTATE;
    if (balai_map_get_str(rs->rooms, r->room_id) != r)
        return BALAI_ENOTFOUND;
    balai_map_del_str(rs->rooms, r->room_id);
    balai_room_free(r);
    return BALAI_OK;
}

size_t balai_rooms_count(const struct balai_rooms *rs)
{
    return balai_map_count(rs->rooms);
}

void balai_rooms_of_user(const struct balai_rooms *rs, const char *user_id,
                         void (*fn)(struct balai_room *r, void *arg), void *arg)
{
    struct user_rooms *u = balai_map_get_str(rs->by_user, user_id);
    for (size_t i = 0; u && i < u->n; i++)
        fn(u->rooms[i], arg);
}

void balai_rooms_note_member(struct balai_rooms *rs, struct balai_room *r, const char *user_id)
{
    struct user_rooms *u = balai_map_get_str(rs->by_user, user_id);
    if (!u) {
        u = balai_calloc(1, sizeof(*u));
        balai_map_put_str(rs->by_user, user_id, u);
    }
    for (size_t i = 0; i < u->n; i++) {
        if (u->rooms[i] == r)
            return;
    }
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 4;
        u->rooms = balai_realloc(u->rooms, u->cap * sizeof(*u->rooms));
    }
    u->rooms[u->n++] = r;
}

int64_t balai_rooms_max_pos(const struct balai_rooms *rs)
{
    return rs->max_pos;
}

void balai_rooms_set_max_pos(struct balai_rooms *rs, int64_t pos)
{
    if (pos > rs->max_pos)
        rs->max_pos = pos;
}

int balai_rooms_alias_set(struct balai_rooms *rs, const char *alias, const char *room_id,
                          const char *creator)
{
    if (balai_map_get_str(rs->aliases, alias))
        return BALAI_EEXIST;
    struct alias *a = balai_malloc(sizeof(*a));
    a->room_id = balai_strdup(room_id);
    a->creator = balai_strdup(creator);
    balai_map_put_str(rs->aliases, alias, a);
    return BALAI_OK;
}

const char *balai_rooms_alias_get(const struct balai_rooms *rs, const char *alias,
                                  const char **creator)
{
    struct alias *a = balai_map_get_str(rs->aliases, alias);
    if (!a)
        return NULL;
    if (creator)
        *creator = a->creator;
    return a->room_id;
}

int balai_rooms_alias_del(struct balai_rooms *rs, const char *alias)
{
    struct alias *a = balai_map_del_str(rs->aliases, alias);
    if (!a)
        return BALAI_ENOTFOUND;
    free(a->room_id);
    free(a->creator);
    free(a);
    return BALAI_OK;
}

void balai_rooms_forget(struct balai_rooms *rs, const char *user_id, const char *room_id,
                        int forgotten)
{
    char *key = balai_asprintf("%s\n%s", user_id, room_id);
    if (forgotten)
        balai_map_put_str(rs->forgotten, key, rs);
    else
        balai_map_del_str(rs->forgotten, key);
    free(key);
}

int balai_rooms_forgotten(const struct balai_rooms *rs, const char *user_id, const char *room_id)
{
    char *key = balai_asprintf("%s\n%s", user_id, room_id);
    int f = balai_map_get_str(rs->forgotten, key) != NULL;
    free(key);
    return f;
}
