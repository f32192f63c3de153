/* relations.c: the in-memory index of event relations and redactions, the
 * bundled aggregations it serves, and its write and commit hooks (see
 * relations.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/events.h"
#include "api/relations.h"
#include "core/event.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "net/pool.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/map.h"

#define LOG_MODULE "relations"
#include "util/log.h"

#define HASH_LEN 16
#define KEY_MAX 600

/* One relating event. */
struct child {
    char *event_id;
    struct parent *parent;
    char *rel_type;
    char *type;
    char *sender;
    int64_t pos, ts;
    uint8_t hash[HASH_LEN];
    int has_hash;
    struct balai_ev *ev; /* held body: every edit, the latest event of a thread */
};

/* The children of one (room, event). */
struct parent {
    char *room_id;
    char *event_id;
    struct child **kids; /* ascending pos */
    size_t n, cap;
    size_t nthread;
    struct child *latest_thread;
};

/* A redacted event: the redaction's id and body (NULL until read). */
struct redaction {
    char *redaction_id;
    struct balai_ev *ev;
};

/* An extra `unsigned` source: depth 0 bundles everything, 1 no m.thread. */
struct xsrc {
    struct balai_relations *rel;
    int depth;
};

struct balai_relations {
    struct balai_app *app;
    struct balai_map *parents;    /* "room\nevent" -> struct parent */
    struct balai_map *children;   /* child event id -> struct child */
    struct balai_map *redactions; /* redacted event id -> struct redaction */
    struct xsrc top, inner;
};

static int is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static size_t parent_key(char *out, const char *room_id, const char *event_id)
{
    size_t rl = strlen(room_id), el = strlen(event_id);
    if (rl + el + 1 > KEY_MAX)
        return 0;
    memcpy(out, room_id, rl);
    out[rl] = '\n';
    memcpy(out + rl + 1, event_id, el);
    return rl + el + 1;
}

static struct parent *parent_get(struct balai_relations *rel, const char *room_id,
                                 const char *event_id)
{
    char key[KEY_MAX];
    size_t kl = parent_key(key, room_id, event_id);
    return kl ? balai_map_get(rel->parents, key, kl) : NULL;
}

/* The relation of an event: its rel_type and parent (borrowed), or 0. */
static int relation_of(const json_t *pdu, const char **rel_type, const char **parent,
                       const char **key)
{
    if (balai_event_state_key(pdu))
        return 0;
    const json_t *rt = json_object_get(balai_event_content(pdu), "m.relates_to");
    const char *t = json_string_value(json_object_get(rt, "rel_type"));
    const char *p = json_string_value(json_object_get(rt, "event_id"));
    if (!t || !p || !*t || p[0] != '$')
        return 0;
    *rel_type = t;
    *parent = p;
    if (key)
        *key = json_string_value(json_object_get(rt, "key"));
    return 1;
}

/* The keyed hash of an annotation (type, key) in room_id: a key derived from
 * the room's data key, so the hash means nothing without the keystore and is
 * shredded with the room. Any thread. */
static int annotation_hash(struct balai_app *app, const char *room_id, const char *type,
                           const char *key, uint8_t out[HASH_LEN])
{
    char name[300];
    uint8_t rk[32], hk[32], mac[32];
    balai_api_room_key_name(room_id, name, sizeof(name));
    if (balai_keystore_get(app->keystore, name, rk) != BALAI_OK)
        return BALAI_ECRYPTO;
    balai_kdf(rk, "annotation", hk);
    size_t tl = strlen(type), kl = strlen(key);
    char *data = balai_malloc(tl + kl + 1);
    memcpy(data, type, tl);
    data[tl] = 0;
    memcpy(data + tl + 1, key, kl);
    balai_hmac_sha256(hk, sizeof(hk), data, tl + kl + 1, mac);
    memcpy(out, mac, HASH_LEN);
    free(data);
    balai_wipe(rk, sizeof(rk));
    balai_wipe(hk, sizeof(hk));
    return BALAI_OK;
}

/* ---- the index ---- */

static void child_free(struct child *c)
{
    if (!c)
        return;
    balai_ev_unref(c->ev);
    free(c->event_id);
    free(c->rel_type);
    free(c->type);
    free(c->sender);
    free(c);
}

static void parent_free(struct parent *p)
{
    if (!p)
        return;
    free(p->room_id);
    free(p->event_id);
    free(p->kids);
    free(p);
}

static void thread_recount(struct parent *p)
{
    p->nthread = 0;
    p->latest_thread = NULL;
    for (size_t i = 0; i < p->n; i++) {
        if (is(p->kids[i]->rel_type, "m.thread")) {
            p->nthread++;
            p->latest_thread = p->kids[i];
        }
    }
}

/* Adds a child (metadata; ev borrowed, may be NULL). Returns it, or NULL if known. */
static struct child *index_add(struct balai_relations *rel, const char *room_id,
                               const char *parent_id, const char *event_id, const char *rel_type,
                               const char *type, const char *sender, int64_t pos, int64_t ts,
                               const uint8_t *hash, struct balai_ev *ev)
{
    char key[KEY_MAX];
    size_t kl = parent_key(key, room_id, parent_id);
    if (!kl || balai_map_get_str(rel->children, event_id))
        return NULL;
    struct parent *p = balai_map_get(rel->parents, key, kl);
    if (!p) {
        p = balai_calloc(1, sizeof(*p));
        p->room_id = balai_strdup(room_id);
        p->event_id = balai_strdup(parent_id);
        balai_map_put(rel->parents, key, kl, p);
    }
    struct child *c = balai_calloc(1, sizeof(*c));
    c->event_id = balai_strdup(event_id);
    c->parent = p;
    c->rel_type = balai_strdup(rel_type);
    c->type = balai_strdup(type);
    c->sender = balai_strdup(sender);
    c->pos = pos;
    c->ts = ts;
    if (hash) {
        memcpy(c->hash, hash, HASH_LEN);
        c->has_hash = 1;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->kids = balai_realloc(p->kids, p->cap * sizeof(*p->kids));
    }
    /* commits and the load arrive in ascending pos; keep the order anyway */
    size_t at = p->n;
    while (at > 0 && p->kids[at - 1]->pos > pos)
        at--;
    memmove(p->kids + at + 1, p->kids + at, (p->n - at) * sizeof(*p->kids));
    p->kids[at] = c;
    p->n++;
    balai_map_put_str(rel->children, event_id, c);
    if (is(rel_type, "m.thread")) {
        struct child *old = p->latest_thread;
        thread_recount(p);
        if (old && old != p->latest_thread) {
            balai_ev_unref(old->ev);
            old->ev = NULL;
        }
        if (p->latest_thread == c && ev)
            c->ev = balai_ev_ref(ev);
    } else if (is(rel_type, "m.replace") && ev) {
        c->ev = balai_ev_ref(ev);
    }
    return c;
}

static void fetch_latest(struct balai_relations *rel, struct child *c);

/* A child was redacted: it leaves the index. */
static void index_remove(struct balai_relations *rel, const char *event_id)
{
    struct child *c = balai_map_del_str(rel->children, event_id);
    if (!c)
        return;
    struct parent *p = c->parent;
    for (size_t i = 0; i < p->n; i++) {
        if (p->kids[i] == c) {
            memmove(p->kids + i, p->kids + i + 1, (p->n - i - 1) * sizeof(*p->kids));
            p->n--;
            break;
        }
    }
    int was_latest = p->latest_thread == c;
    thread_recount(p);
    child_free(c);
    if (p->n == 0) {
        char key[KEY_MAX];
        size_t kl = parent_key(key, p->room_id, p->event_id);
        balai_map_del(rel->parents, key, kl);
        parent_free(p);
        return;
    }
    if (was_latest && p->latest_thread && !p->latest_thread->ev)
        fetch_latest(rel, p->latest_thread);
}

static void redaction_put(struct balai_relations *rel, const char *event_id,
                          const char *redaction_id, struct balai_ev *ev)
{
    struct redaction *r = balai_map_get_str(rel->redactions, event_id);
    if (!r) {
        r = balai_calloc(1, sizeof(*r));
        balai_map_put_str(rel->redactions, event_id, r);
    } else {
        free(r->redaction_id);
        balai_ev_unref(r->ev);
        r->ev = NULL;
    }
    r->redaction_id = balai_strdup(redaction_id);
    r->ev = ev ? balai_ev_ref(ev) : NULL;
}

/* ---- reading one body ---- */

struct one_read {
    struct balai_app *app;
    char *event_id;
    struct balai_ev *ev;
};

static int one_collect(const struct balai_event_rec *r, void *arg)
{
    struct one_read *o = arg;
    o->ev = balai_api_event_unseal(o->app, r);
    return 0;
}

/* Reads one event from the store (any thread). New reference or NULL. */
static struct balai_ev *read_event(struct balai_app *app, const char *event_id)
{
    struct one_read o = {app, NULL, NULL};
    balai_store_event_get(app->store, event_id, one_collect, &o);
    return o.ev;
}

static void latest_work(void *arg)
{
    struct one_read *o = arg;
    o->ev = read_event(o->app, o->event_id);
}

static void latest_done(void *arg)
{
    struct one_read *o = arg;
    struct balai_relations *rel = o->app->relations;
    struct child *c = rel ? balai_map_get_str(rel->children, o->event_id) : NULL;
    if (c && !c->ev && c->parent->latest_thread == c && o->ev)
        c->ev = balai_ev_ref(o->ev);
    balai_ev_unref(o->ev);
    free(o->event_id);
    free(o);
}

/* The thread's new latest event has no body in memory: read it. */
static void fetch_latest(struct balai_relations *rel, struct child *c)
{
    struct balai_room *room = balai_rooms_get(rel->app->rooms, c->parent->room_id);
    struct balai_ev *ev = room ? balai_room_cached_event(room, c->event_id) : NULL;
    if (ev) {
        c->ev = balai_ev_ref(ev);
        return;
    }
    if (!rel->app->work_pool)
        return;
    struct one_read *o = balai_calloc(1, sizeof(*o));
    o->app = rel->app;
    o->event_id = balai_strdup(c->event_id);
    if (balai_pool_submit(rel->app->work_pool, latest_work, latest_done, o) != BALAI_OK) {
        LOG_WARN("cannot read the latest event of a thread: the pool is full");
        free(o->event_id);
        free(o);
    }
}

/* ---- bundled aggregations ---- */

static size_t extra_write(void *src, struct balai_ev *ev, const char *user_id, struct balai_buf *b);

/* The latest valid replacement of parent event `orig` (spec "Validity of
 * replacement events"), or NULL. */
static struct balai_ev *latest_edit(struct balai_relations *rel, struct parent *p,
                                    struct balai_ev *orig)
{
    struct balai_ev *best = NULL;
    if (orig->state_key || balai_map_get_str(rel->redactions, orig->event_id))
        return NULL;
    struct child *self = balai_map_get_str(rel->children, orig->event_id);
    if (self && is(self->rel_type, "m.replace"))
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct child *c = p->kids[i];
        struct balai_ev *e = c->ev;
        if (!e || !is(c->rel_type, "m.replace") || !is(e->sender, orig->sender) ||
            !is(e->type, orig->type) || e->state_key)
            continue;
        if (!json_is_object(json_object_get(balai_event_content(e->pdu), "m.new_content")))
            continue;
        if (!best || e->ts > best->ts ||
            (e->ts == best->ts && strcmp(e->event_id, best->event_id) > 0))
            best = e;
    }
    return best;
}

static int participated(const struct parent *p, const struct balai_ev *root, const char *user_id)
{
    if (is(root->sender, user_id))
        return 1;
    for (size_t i = 0; i < p->n; i++) {
        if (is(p->kids[i]->rel_type, "m.thread") && is(p->kids[i]->sender, user_id))
            return 1;
    }
    return 0;
}

static size_t extra_write(void *src, struct balai_ev *ev, const char *user_id, struct balai_buf *b)
{
    struct xsrc *x = src;
    struct balai_relations *rel = x->rel;
    size_t n = 0;

    if (x->depth == 0 && balai_map_count(rel->redactions)) {
        struct redaction *r = balai_map_get_str(rel->redactions, ev->event_id);
        if (r && r->ev) {
            balai_buf_append_str(b, ",\"redacted_because\":");
            balai_sync_write_event(b, r->ev, user_id, NULL, NULL);
            n++;
        }
    }
    if (!balai_map_count(rel->parents))
        return n;
    const char *room_id = json_string_value(json_object_get(ev->pdu, "room_id"));
    struct parent *p = room_id ? parent_get(rel, room_id, ev->event_id) : NULL;
    if (!p)
        return n;
    size_t mark = b->len;
    int m = 0;
    balai_buf_append_str(b, ",\"m.relations\":{");
    if (x->depth == 0 && p->nthread && p->latest_thread && p->latest_thread->ev) {
        struct balai_sync_extra inner = {extra_write, &rel->inner};
        balai_buf_append_str(b, "\"m.thread\":{\"latest_event\":");
        balai_sync_write_event(b, p->latest_thread->ev, user_id, NULL, &inner);
        balai_buf_printf(b, ",\"count\":%zu,\"current_user_participated\":%s}", p->nthread,
                         participated(p, ev, user_id) ? "true" : "false");
        m++;
    }
    struct balai_ev *edit = latest_edit(rel, p, ev);
    if (edit) {
        if (m++)
            balai_buf_append_char(b, ',');
        balai_buf_append_str(b, "\"m.replace\":");
        balai_sync_write_event(b, edit, user_id, NULL, NULL);
    }
    int refs = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!is(p->kids[i]->rel_type, "m.reference"))
            continue;
        if (!refs++) {
            if (m++)
                balai_buf_append_char(b, ',');
            balai_buf_append_str(b, "\"m.reference\":{\"chunk\":[");
        } else {
            balai_buf_append_char(b, ',');
        }
        balai_buf_append_str(b, "{\"event_id\":");
        balai_jsonw_str(b, p->kids[i]->event_id);
        balai_buf_append_char(b, '}');
    }
    if (refs)
        balai_buf_append_str(b, "]}");
    if (!m) {
        b->len = mark;
        return n;
    }
    balai_buf_append_char(b, '}');
    return n + 1;
}

/* ---- the send path, the writer and the commit ---- */

struct same_annotation {
    const char *sender, *type, *target, *key;
};

/* A pending event of the room that is the same annotation (a concurrent duplicate). */
static int pending_same(struct balai_ev *ev, void *arg)
{
    const struct same_annotation *a = arg;
    if (ev->state_key || strcmp(ev->sender, a->sender) != 0 || strcmp(ev->type, a->type) != 0)
        return 0;
    const json_t *rt = json_object_get(balai_event_content(ev->pdu), "m.relates_to");
    return is(json_string_value(json_object_get(rt, "rel_type")), "m.annotation") &&
           is(json_string_value(json_object_get(rt, "event_id")), a->target) &&
           is(json_string_value(json_object_get(rt, "key")), a->key);
}

int balai_api_relations_check(struct balai_app *app, struct balai_room *room, const char *sender,
                              const char *type, const char *state_key, const json_t *content,
                              char *reason, size_t reasonlen)
{
    struct balai_relations *rel = app->relations;
    if (!rel || state_key || !content)
        return BALAI_OK;
    const json_t *rt = json_object_get(content, "m.relates_to");
    const char *t = json_string_value(json_object_get(rt, "rel_type"));
    const char *target = json_string_value(json_object_get(rt, "event_id"));
    if (!t || !target)
        return BALAI_OK;
    if (strcmp(t, "m.thread") == 0 && balai_map_get_str(rel->children, target)) {
        snprintf(reason, reasonlen,
                 "Cannot start a thread from an event that itself relates to another event");
        return BALAI_ESTATE;
    }
    const char *key = json_string_value(json_object_get(rt, "key"));
    if (strcmp(t, "m.annotation") != 0 || !key)
        return BALAI_OK;
    struct same_annotation same = {sender, type, target, key};
    if (balai_room_pending_each(room, pending_same, &same)) {
        snprintf(reason, reasonlen, "You already sent this annotation to that event");
        return BALAI_EEXIST;
    }
    struct parent *p = parent_get(rel, balai_room_id(room), target);
    uint8_t h[HASH_LEN];
    if (!p || annotation_hash(app, balai_room_id(room), type, key, h) != BALAI_OK)
        return BALAI_OK;
    for (size_t i = 0; i < p->n; i++) {
        struct child *c = p->kids[i];
        if (c->has_hash && is(c->rel_type, "m.annotation") && is(c->sender, sender) &&
            is(c->type, type) && memcmp(c->hash, h, HASH_LEN) == 0) {
            snprintf(reason, reasonlen, "You already sent this annotation to that event");
            return BALAI_EEXIST;
        }
    }
    return BALAI_OK;
}

/* The m.room.redaction event of w that redacts event_id, or NULL. */
static struct balai_ev *redaction_in(struct balai_api_write *w, const char *event_id)
{
    for (size_t i = 0; i < w->nevs; i++) {
        if (is(w->evs[i]->type, "m.room.redaction") &&
            is(balai_event_redacts(w->evs[i]->pdu), event_id))
            return w->evs[i];
    }
    return NULL;
}

int balai_api_relations_write(struct balai_store_txn *t, struct balai_api_write *w)
{
    const char *room_id = balai_room_id(w->room);
    int rc = BALAI_OK;
    for (size_t i = 0; rc == BALAI_OK && i < w->nevs; i++) {
        struct balai_ev *ev = w->evs[i];
        const char *rel_type, *parent, *key;
        uint8_t h[HASH_LEN];
        if (!relation_of(ev->pdu, &rel_type, &parent, &key))
            continue;
        int hashed = strcmp(rel_type, "m.annotation") == 0 && key &&
                     annotation_hash(w->app, room_id, ev->type, key, h) == BALAI_OK;
        struct balai_relation_rec r = {
            .event_id = ev->event_id,
            .room_id = room_id,
            .parent_id = parent,
            .rel_type = rel_type,
            .type = ev->type,
            .sender = ev->sender,
            .pos = w->pos[i],
            .ts = ev->ts,
            .agg_hash = hashed ? h : NULL,
            .agg_hash_len = hashed ? HASH_LEN : 0,
        };
        rc = balai_store_txn_relation_insert(t, &r);
    }
    for (size_t i = 0; rc == BALAI_OK && i < w->nredacted; i++) {
        const char *id = w->redacted[i]->event_id;
        rc = balai_store_txn_relation_delete(t, id);
        struct balai_ev *red = redaction_in(w, id);
        if (rc == BALAI_OK && red)
            rc = balai_store_txn_redaction_set(t, id, red->event_id);
    }
    return rc;
}

void balai_api_relations_commit(struct balai_api_write *w)
{
    struct balai_relations *rel = w->app->relations;
    if (!rel)
        return;
    const char *room_id = balai_room_id(w->room);
    for (size_t i = 0; i < w->nevs; i++) {
        struct balai_ev *ev = w->evs[i];
        const char *rel_type, *parent, *key;
        uint8_t h[HASH_LEN];
        if (!relation_of(ev->pdu, &rel_type, &parent, &key))
            continue;
        int hashed = strcmp(rel_type, "m.annotation") == 0 && key &&
                     annotation_hash(w->app, room_id, ev->type, key, h) == BALAI_OK;
        index_add(rel, room_id, parent, ev->event_id, rel_type, ev->type, ev->sender, ev->pos,
                  ev->ts, hashed ? h : NULL, ev);
    }
    for (size_t i = 0; i < w->nredacted; i++) {
        const char *id = w->redacted[i]->event_id;
        index_remove(rel, id);
        struct balai_ev *red = redaction_in(w, id);
        if (red)
            redaction_put(rel, id, red->event_id, red);
    }
}

/* ---- listings ---- */

static void items_add(struct balai_rel_item **items, size_t *n, size_t *cap, struct child *c)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *items = balai_realloc(*items, *cap * sizeof(**items));
    }
    struct balai_rel_item *it = &(*items)[(*n)++];
    it->event_id = balai_strdup(c->event_id);
    it->pos = c->pos;
    it->ev = c->ev ? balai_ev_ref(c->ev) : NULL;
}

static int item_cmp(const void *a, const void *b)
{
    const struct balai_rel_item *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

size_t balai_api_relations_list(struct balai_app *app, struct balai_room *room,
                                const char *parent_id, const char *rel_type, const char *event_type,
                                int max_depth, struct balai_rel_item **out)
{
    struct balai_relations *rel = app->relations;
    struct balai_rel_item *items = NULL;
    size_t n = 0, cap = 0;
    /* breadth first: the parents of this level, then the next */
    char **level = balai_calloc(1, sizeof(*level));
    size_t nlevel = 1;
    level[0] = balai_strdup(parent_id);
    for (int d = 0; rel && d < max_depth && nlevel; d++) {
        char **next = NULL;
        size_t nnext = 0, capnext = 0;
        for (size_t i = 0; i < nlevel; i++) {
            struct parent *p = parent_get(rel, balai_room_id(room), level[i]);
            for (size_t k = 0; p && k < p->n; k++) {
                struct child *c = p->kids[k];
                if ((!rel_type || is(c->rel_type, rel_type)) &&
                    (!event_type || is(c->type, event_type)))
                    items_add(&items, &n, &cap, c);
                if (d + 1 < max_depth) {
                    if (nnext == capnext) {
                        capnext = capnext ? capnext * 2 : 16;
                        next = balai_realloc(next, capnext * sizeof(*next));
                    }
                    next[nnext++] = balai_strdup(c->event_id);
                }
            }
        }
        for (size_t i = 0; i < nlevel; i++)
            free(level[i]);
        free(level);
        level = next;
        nlevel = nnext;
    }
    for (size_t i = 0; i < nlevel; i++)
        free(level[i]);
    free(level);
    if (n > 1)
        qsort(items, n, sizeof(*items), item_cmp);
    *out = items;
    return n;
}

static int item_cmp_desc(const void *a, const void *b)
{
    return item_cmp(b, a);
}

size_t balai_api_relations_threads(struct balai_app *app, struct balai_room *room,
                                   struct balai_rel_item **out)
{
    struct balai_relations *rel = app->relations;
    struct balai_rel_item *items = NULL;
    size_t n = 0, cap = 0, it = 0, kl;
    const void *k;
    void *v;
    while (rel && balai_map_next(rel->parents, &it, &k, &kl, &v)) {
        struct parent *p = v;
        if (!p->nthread || !p->latest_thread || strcmp(p->room_id, balai_room_id(room)) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = balai_realloc(items, cap * sizeof(*items));
        }
        struct balai_ev *root = balai_room_cached_event(room, p->event_id);
        items[n].event_id = balai_strdup(p->event_id);
        items[n].pos = p->latest_thread->pos;
        items[n].ev = root ? balai_ev_ref(root) : NULL;
        n++;
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), item_cmp_desc);
    *out = items;
    return n;
}

int balai_api_relations_participated(struct balai_app *app, struct balai_room *room,
                                     struct balai_ev *root, const char *user_id)
{
    struct balai_relations *rel = app->relations;
    struct parent *p = rel ? parent_get(rel, balai_room_id(room), root->event_id) : NULL;
    return p ? participated(p, root, user_id) : is(root->sender, user_id);
}

void balai_api_rel_items_free(struct balai_rel_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].event_id);
        balai_ev_unref(items[i].ev);
    }
    free(items);
}

struct fetch {
    struct balai_app *app;
    struct balai_rel_item *items;
    size_t n;
    void (*done)(void *arg);
    void *arg;
};

static void fetch_work(void *arg)
{
    struct fetch *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->items[i].ev)
            f->items[i].ev = read_event(f->app, f->items[i].event_id);
    }
}

static void fetch_done(void *arg)
{
    struct fetch *f = arg;
    void (*done)(void *) = f->done;
    void *darg = f->arg;
    free(f);
    done(darg);
}

int balai_api_rel_fetch(struct balai_app *app, struct balai_room *room,
                        struct balai_rel_item *items, size_t n, void (*done)(void *arg), void *arg)
{
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].ev)
            continue;
        struct balai_ev *ev = balai_room_cached_event(room, items[i].event_id);
        if (ev)
            items[i].ev = balai_ev_ref(ev);
        else
            missing = 1;
    }
    if (!missing)
        return 0;
    struct fetch *f = balai_calloc(1, sizeof(*f));
    f->app = app;
    f->items = items;
    f->n = n;
    f->done = done;
    f->arg = arg;
    if (balai_pool_submit(app->work_pool, fetch_work, fetch_done, f) != BALAI_OK) {
        free(f);
        return BALAI_EBUSY;
    }
    return 1;
}

/* ---- loading and freeing ---- */

static int load_relation(const struct balai_relation_rec *r, void *arg)
{
    struct balai_relations *rel = arg;
    const uint8_t *h = r->agg_hash && r->agg_hash_len == HASH_LEN ? r->agg_hash : NULL;
    index_add(rel, r->room_id, r->parent_id, r->event_id, r->rel_type, r->type, r->sender, r->pos,
              r->ts, h, NULL);
    return 0;
}

static int load_redaction(const char *event_id, const char *redaction_id, void *arg)
{
    struct balai_relations *rel = arg;
    redaction_put(rel, event_id, redaction_id, NULL);
    return 0;
}

/* Reads a body at start: from the room's cache, else from the store. */
static struct balai_ev *load_body(struct balai_app *app, const char *room_id, const char *event_id)
{
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    struct balai_ev *ev = room ? balai_room_cached_event(room, event_id) : NULL;
    return ev ? balai_ev_ref(ev) : read_event(app, event_id);
}

int balai_api_relations_load(struct balai_app *app)
{
    struct balai_relations *rel = balai_calloc(1, sizeof(*rel));
    size_t it = 0, kl, missing = 0;
    const void *k;
    void *v;
    int rc;

    rel->app = app;
    rel->parents = balai_map_new();
    rel->children = balai_map_new();
    rel->redactions = balai_map_new();
    rel->top.rel = rel;
    rel->inner.rel = rel;
    rel->inner.depth = 1;
    app->relations = rel;
    rc = balai_store_relations_each(app->store, load_relation, rel);
    if (rc == BALAI_OK)
        rc = balai_store_redactions_each(app->store, load_redaction, rel);
    if (rc != BALAI_OK)
        return rc;
    while (balai_map_next(rel->parents, &it, &k, &kl, &v)) {
        struct parent *p = v;
        for (size_t i = 0; i < p->n; i++) {
            struct child *c = p->kids[i];
            if (c->ev || (!is(c->rel_type, "m.replace") && c != p->latest_thread))
                continue;
            c->ev = load_body(app, p->room_id, c->event_id);
            missing += !c->ev;
        }
    }
    it = 0;
    while (balai_map_next(rel->redactions, &it, &k, &kl, &v)) {
        struct redaction *r = v;
        r->ev = read_event(app, r->redaction_id);
        missing += !r->ev;
    }
    if (missing)
        LOG_WARN("%zu event(s) needed for bundled aggregations could not be read", missing);
    LOG_DEBUG("%zu parent(s), %zu relation(s), %zu redaction(s)", balai_map_count(rel->parents),
              balai_map_count(rel->children), balai_map_count(rel->redactions));
    app->event_extra.fn = extra_write;
    app->event_extra.src = &rel->top;
    return BALAI_OK;
}

void balai_api_relations_free(struct balai_app *app)
{
    struct balai_relations *rel = app ? app->relations : NULL;
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!rel)
        return;
    while (balai_map_next(rel->children, &it, &k, &kl, &v))
        child_free(v);
    it = 0;
    while (balai_map_next(rel->parents, &it, &k, &kl, &v))
        parent_free(v);
    it = 0;
    while (balai_map_next(rel->redactions, &it, &k, &kl, &v)) {
        struct redaction *r = v;
        free(r->redaction_id);
        balai_ev_unref(r->ev);
        free(r);
    }
    balai_map_free(rel->children);
    balai_map_free(rel->parents);
    balai_map_free(rel->redactions);
    free(rel);
    app->relations = NULL;
    app->event_extra.fn = NULL;
    app->event_extra.src = NULL;
}
