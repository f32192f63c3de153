/* sync.c: /sync response assembly from the in-memory rooms, with the
 * client's filter (sync/filter.h) applied while assembling. Without a filter
 * (p->filter NULL) no filter code runs: the fan-out path stays as it was. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "sync/sync.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/jsonw.h"
#include "util/map.h"

#define MAX_LIMIT 100

int balai_sync_write_event(struct balai_buf *b, struct balai_ev *ev, const char *user_id,
                           const char *device_id, const struct balai_sync_extra *x)
{
    size_t len;
    const char *js = balai_ev_client_json(ev, &len);
    if (!js)
        return BALAI_EINVAL;
    int txn = ev->txn_id && device_id && ev->txn_device && strcmp(ev->sender, user_id) == 0 &&
              strcmp(ev->txn_device, device_id) == 0;
    if (!txn && (!x || !x->fn))
        return balai_buf_append(b, js, len);
    size_t mark = b->len;
    int rc = balai_buf_append(b, js, len - 1);
    if (rc == BALAI_OK)
        rc = balai_buf_append_str(b, ",\"unsigned\":{");
    size_t members = b->len;
    if (rc == BALAI_OK && txn) {
        rc = balai_buf_append_str(b, "\"transaction_id\":");
        if (rc == BALAI_OK)
            rc = balai_jsonw_str(b, ev->txn_id);
    }
    size_t n = rc == BALAI_OK && x && x->fn ? x->fn(x->src, ev, user_id, b) : 0;
    if (rc == BALAI_OK && !txn && n) {
        /* the first extra member's comma has no member before it */
        memmove(b->data + members, b->data + members + 1, b->len - members - 1);
        b->len--;
    }
    if (rc == BALAI_OK && !txn && !n) {
        b->len = mark;
        return balai_buf_append(b, js, len);
    }
    if (rc == BALAI_OK)
        rc = balai_buf_append_str(b, "}}");
    return rc;
}

/* ---- lazy-loaded members already sent ---- */

struct lazy_entry {
    int64_t pos;     /* the member event's position */
    int64_t sent_at; /* events position of the response that carried it */
};

struct balai_sync_lazy {
    struct balai_map *devs; /* "user\0device" -> map "room\0member" -> lazy_entry */
    size_t n, max;
};

struct balai_sync_lazy *balai_sync_lazy_new(size_t max_entries)
{
    struct balai_sync_lazy *l = balai_calloc(1, sizeof(*l));
    l->devs = balai_map_new();
    l->max = max_entries;
    return l;
}

static void lazy_dev_free(struct balai_map *m)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(m, &it, &k, &kl, &v))
        free(v);
    balai_map_free(m);
}

static void lazy_clear(struct balai_sync_lazy *l)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(l->devs, &it, &k, &kl, &v))
        lazy_dev_free(v);
    balai_map_free(l->devs);
    l->devs = balai_map_new();
    l->n = 0;
}

void balai_sync_lazy_free(struct balai_sync_lazy *l)
{
    if (!l)
        return;
    lazy_clear(l);
    balai_map_free(l->devs);
    free(l);
}

/* Writes "a\0b" into key; returns its length, 0 when it does not fit. */
static size_t pair_key(char *key, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > cap)
        return 0;
    memcpy(key, a, la);
    key[la] = '\0';
    memcpy(key + la + 1, b, lb);
    return la + lb + 1;
}

/* The device's map (created when `create`), or NULL. */
static struct balai_map *lazy_dev(struct balai_sync_lazy *l, const struct balai_sync_params *p,
                                  int create)
{
    char key[512];
    size_t kl = pair_key(key, sizeof(key), p->user_id, p->device_id ? p->device_id : "");
    if (!kl)
        return NULL;
    struct balai_map *m = balai_map_get(l->devs, key, kl);
    if (!m && create) {
        m = balai_map_new();
        balai_map_put(l->devs, key, kl, m);
    }
    return m;
}

/* Forgets what the device was sent (a new sync sequence). */
static void lazy_reset(struct balai_sync_lazy *l, const struct balai_sync_params *p)
{
    char key[512];
    size_t kl = pair_key(key, sizeof(key), p->user_id, p->device_id ? p->device_id : "");
    struct balai_map *m = kl ? balai_map_del(l->devs, key, kl) : NULL;
    if (m) {
        l->n -= balai_map_count(m);
        lazy_dev_free(m);
    }
}

/* Has the device received member event ev of room_id? */
static int lazy_received(struct balai_sync_lazy *l, const struct balai_sync_params *p,
                         const char *room_id, const struct balai_ev *ev, int64_t since)
{
    char key[512];
    struct balai_map *m = lazy_dev(l, p, 0);
    size_t kl = m ? pair_key(key, sizeof(key), room_id, ev->state_key) : 0;
    struct lazy_entry *e = kl ? balai_map_get(m, key, kl) : NULL;
    return e && e->pos == ev->pos && e->sent_at <= since;
}

static void lazy_note(struct balai_sync_lazy *l, const struct balai_sync_params *p,
                      const char *room_id, const struct balai_ev *ev, int64_t upto)
{
    char key[512];
    struct balai_map *m;
    size_t kl = pair_key(key, sizeof(key), room_id, ev->state_key);
    if (!kl)
        return;
    if (l->n >= l->max)
        lazy_clear(l);
    m = lazy_dev(l, p, 1);
    if (!m)
        return;
    struct lazy_entry *e = balai_map_get(m, key, kl);
    if (!e) {
        e = balai_malloc(sizeof(*e));
        balai_map_put(m, key, kl, e);
        l->n++;
    }
    e->pos = ev->pos;
    e->sent_at = upto;
}

/* ---- account data ---- */

struct ad_ctx {
    struct balai_buf *b;
    size_t n;
    const struct balai_event_filter *f; /* NULL: none */
    const char *room_id;
};

/* Does the account data entry pass the filter (limit included)? */
static int ad_pass(const struct ad_ctx *c, const char *type)
{
    if (!c->f)
        return 1;
    if (c->f->limit && c->n >= (size_t)c->f->limit)
        return 0;
    return balai_event_filter_match(c->f, c->room_id, NULL, type, NULL);
}

static void ad_write(const char *type, const char *json, size_t len, void *arg)
{
    struct ad_ctx *c = arg;
    if (!ad_pass(c, type))
        return;
    if (c->n++)
        balai_buf_append_char(c->b, ',');
    balai_buf_append_str(c->b, "{\"type\":");
    balai_jsonw_str(c->b, type);
    balai_buf_append_str(c->b, ",\"content\":");
    balai_buf_append(c->b, json, len);
    balai_buf_append_char(c->b, '}');
}

static void ad_count(const char *type, const char *json, size_t len, void *arg)
{
    struct ad_ctx *c = arg;
    (void)json;
    (void)len;
    if (ad_pass(c, type))
        c->n++;
}

/* The account data filter for room_id (NULL = global data), NULL for none. */
static const struct balai_event_filter *ad_filter(const struct balai_sync_params *p,
                                                  const char *room_id)
{
    const struct balai_event_filter *f;
    if (!p->filter)
        return NULL;
    f = room_id ? &p->filter->room_account_data : &p->filter->account_data;
    return f->trivial && !f->limit ? NULL : f;
}

/* The account data position the sync starts after. */
static int64_t ad_since(const struct balai_sync_params *p)
{
    return p->initial ? 0 : p->since.pos[BALAI_STREAM_ACCOUNT_DATA];
}

/* Writes "account_data":{"events":[...]} with the entries of room_id (NULL =
 * global) changed after `after`; returns their number. */
static size_t write_account_data(struct balai_buf *b, const struct balai_sync_params *p,
                                 const char *room_id, int64_t after)
{
    struct ad_ctx c = {b, 0, ad_filter(p, room_id), room_id};
    balai_buf_append_str(b, "\"account_data\":{\"events\":[");
    if (p->account_data_each)
        p->account_data_each(p->account_data_src, p->user_id, room_id, after, ad_write, &c);
    balai_buf_append_str(b, "]}");
    return c.n;
}

/* The number of entries of room_id changed after `after`. */
static size_t count_account_data(const struct balai_sync_params *p, const char *room_id,
                                 int64_t after)
{
    struct ad_ctx c = {NULL, 0, ad_filter(p, room_id), room_id};
    if (p->account_data_each)
        p->account_data_each(p->account_data_src, p->user_id, room_id, after, ad_count, &c);
    return c.n;
}

/* ---- ephemeral events ---- */

/* The position of `stream` the sync starts after, for a room not new to it. */
static int64_t eph_since(const struct balai_sync_params *p, int stream)
{
    return p->initial ? 0 : p->since.pos[stream];
}

/* Writes (b non-NULL) or counts the room's typing notices and receipts. */
static size_t ephemeral(struct balai_buf *b, const struct balai_sync_params *p, const char *room_id,
                        int full)
{
    size_t n = 0;
    const struct balai_event_filter *f = p->filter ? &p->filter->ephemeral : NULL;
    int typing = 1, receipts = 1;
    if (f && !f->trivial) {
        if (!balai_event_filter_room_ok(f, room_id))
            return 0;
        typing = balai_event_filter_match(f, room_id, NULL, "m.typing", NULL);
        receipts = balai_event_filter_match(f, room_id, NULL, "m.receipt", NULL);
    }
    if (p->typing_each && typing)
        n += p->typing_each(p->typing_src, p->user_id, room_id,
                            full ? 0 : eph_since(p, BALAI_STREAM_TYPING), b, 0);
    if (p->receipts_each && receipts)
        n += p->receipts_each(p->receipts_src, p->user_id, room_id,
                              full ? 0 : eph_since(p, BALAI_STREAM_RECEIPTS), b, n > 0);
    return n;
}

struct room_ctx {
    const struct balai_sync_params *p;
    struct balai_rooms *rs;
    int64_t upto;
    struct balai_buf join, invite, leave;
    int njoin, ninvite, nleave;
    int rc;
};

struct timeline {
    struct balai_ev *evs[MAX_LIMIT];
    size_t n;
    int limited;
    int64_t prev_pos;
};

/* Does the event go into the timeline? tf NULL: no filter. */
static int timeline_ok(struct balai_room *r, const char *user, const struct balai_event_filter *tf,
                       struct balai_ev *ev)
{
    return balai_room_visible(r, user, ev) &&
           (!tf || balai_event_filter_match_ev(tf, balai_room_id(r), ev));
}

/* Collects the newest visible events with after < pos <= upto that pass
 * the timeline filter tf (NULL: none). */
static void collect(struct balai_room *r, const char *user, const struct balai_event_filter *tf,
                    int64_t after, int64_t upto, int limit, struct timeline *t)
{
    struct balai_ev *buf[64];
    size_t got, i;
    int64_t cursor = upto;
    int exhausted = 0;

    t->n = 0;
    t->limited = 0;
    if (tf && !balai_event_filter_room_ok(tf, balai_room_id(r))) {
        t->prev_pos = upto;
        return;
    }
    while (t->n < (size_t)limit) {
        got = balai_room_cached_latest(r, cursor, BALAI_ARRAY_LEN(buf), buf);
        for (i = 0; i < got && t->n < (size_t)limit; i++) {
            if (buf[i]->pos <= after)
                break;
            if (timeline_ok(r, user, tf, buf[i]))
                t->evs[t->n++] = buf[i];
        }
        if (i < got && t->n == (size_t)limit && buf[i]->pos > after) {
            /* more events remain in range */
            for (; i < got; i++) {
                if (buf[i]->pos <= after)
                    break;
                if (timeline_ok(r, user, tf, buf[i])) {
                    t->limited = 1;
                    break;
                }
            }
            break;
        }
        if (got < BALAI_ARRAY_LEN(buf) || (i < got && buf[i]->pos <= after)) {
            exhausted = got < BALAI_ARRAY_LEN(buf);
            break;
        }
        cursor = buf[got - 1]->pos - 1;
    }
    /* Older events in range that the cache no longer holds: report a gap. */
    if (exhausted && !t->limited) {
        int64_t floor = balai_room_cache_floor(r);
        int64_t first = balai_room_first_pos(r);
        if (floor > after + 1 && floor > first)
            t->limited = 1;
    }
    /* reverse into ascending order */
    for (i = 0; i < t->n / 2; i++) {
        struct balai_ev *x = t->evs[i];
        t->evs[i] = t->evs[t->n - 1 - i];
        t->evs[t->n - 1 - i] = x;
    }
    t->prev_pos = t->n ? t->evs[0]->pos - 1 : upto;
}

static int in_timeline(const struct timeline *t, const struct balai_ev *ev)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->evs[i] == ev)
            return 1;
    }
    return 0;
}

struct state_ctx {
    struct balai_buf *b;
    const struct timeline *t;
    const struct balai_sync_params *p;
    int64_t after; /* only state events with pos > after */
    int64_t upto;
    int first;
    size_t count;
    const struct balai_event_filter *sf; /* NULL: no state filter */
    const char *room_id;
    int lazy; /* member events are written apart (lazy loading) */
};

static void write_state_ev(struct balai_ev *ev, void *arg)
{
    struct state_ctx *s = arg;
    if (ev->pos <= s->after || ev->pos > s->upto || in_timeline(s->t, ev))
        return;
    if (s->lazy && strcmp(ev->type, "m.room.member") == 0)
        return;
    if (s->sf && !balai_event_filter_match_ev(s->sf, s->room_id, ev))
        return;
    if (!s->first)
        balai_buf_append_char(s->b, ',');
    s->first = 0;
    s->count++;
    balai_sync_write_event(s->b, ev, s->p->user_id, s->p->device_id, &s->p->extra);
}

struct heroes {
    const char *user;
    const char *ids[5];
    int n;
};

static void hero(const char *user_id, const char *membership, void *arg)
{
    struct heroes *h = arg;
    if (h->n < 5 && strcmp(user_id, h->user) != 0 &&
        (strcmp(membership, "join") == 0 || strcmp(membership, "invite") == 0))
        h->ids[h->n++] = user_id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Lazy loading: writes the member events of user ids[0..n) that the state
 * filter passes, are not in the timeline, and the device has not received
 * (unless `all`); returns how many. */
static size_t write_lazy_members(struct state_ctx *s, struct balai_room *r, const char **ids,
                                 size_t n, int all)
{
    const struct balai_sync_params *p = s->p;
    int64_t since = p->initial ? 0 : p->since.pos[BALAI_STREAM_EVENTS];
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(ids[i], ids[j]) == 0;
        struct balai_ev *ev = dup ? NULL : balai_room_state_ev(r, "m.room.member", ids[i]);
        if (!ev || ev->pos > s->upto || in_timeline(s->t, ev))
            continue;
        if (s->sf && !balai_event_filter_match_ev(s->sf, s->room_id, ev))
            continue;
        if (!all && lazy_received(p->lazy, p, s->room_id, ev, since))
            continue;
        if (!s->first)
            balai_buf_append_char(s->b, ',');
        s->first = 0;
        count++;
        balai_sync_write_event(s->b, ev, p->user_id, p->device_id, &p->extra);
        if (p->lazy && !p->filter->state.include_redundant_members)
            lazy_note(p->lazy, p, s->room_id, ev, s->upto);
    }
    return count;
}

/* Writes one room; returns the number of timeline and state events and, for
 * a joined room (summary), of account data entries written. */
static size_t write_room(struct room_ctx *c, struct balai_buf *b, struct balai_room *r,
                         int64_t after, int64_t upto, int full, int summary)
{
    size_t written;
    const struct balai_sync_params *p = c->p;
    struct timeline t;
    char tok[200];

    const struct balai_filter *f = p->filter;
    const struct balai_event_filter *tf = f && !f->timeline.trivial ? &f->timeline : NULL;
    int lazy = f && f->state.lazy_load_members;
    struct heroes h = {p->user_id, {NULL}, 0};

    collect(r, p->user_id, tf, after, upto, p->timeline_limit, &t);
    balai_jsonw_key(b, balai_room_id(r));
    balai_buf_append_str(b, "{\"timeline\":{\"events\":[");
    for (size_t i = 0; i < t.n; i++) {
        if (i)
            balai_buf_append_char(b, ',');
        balai_sync_write_event(b, t.evs[i], p->user_id, p->device_id, &p->extra);
    }
    balai_page_token_format(p->epoch, t.prev_pos, tok, sizeof(tok));
    balai_buf_printf(b, "],\"limited\":%s,\"prev_batch\":\"%s\"},\"state\":{\"events\":[",
                     t.limited ? "true" : "false", tok);
    /* Full state for a room new to this sync; else the state changes the
     * timeline gap hides. */
    written = t.n;
    /* The summary walks the member list: send it only when it may have
     * changed (a room new to this sync, or a membership event in it). */
    int members_changed = full;
    for (size_t i = 0; !members_changed && i < t.n; i++)
        members_changed = t.evs[i]->membership != NULL;
    if (summary && members_changed) {
        balai_room_members_each(r, NULL, hero, &h);
        qsort(h.ids, (size_t)h.n, sizeof(h.ids[0]), cmp_str);
    }
    struct state_ctx s = {b,
                          &t,
                          p,
                          full ? 0 : after,
                          upto,
                          1,
                          0,
                          f && !f->state.trivial ? &f->state : NULL,
                          balai_room_id(r),
                          lazy};
    if (full || t.limited)
        balai_room_state_each(r, write_state_ev, &s);
    if (lazy) {
        /* the members of the timeline's senders, the heroes', and on a
         * room new to this sync the user's own */
        const char *ids[MAX_LIMIT + 6];
        size_t n = 0;
        for (size_t i = 0; i < t.n; i++)
            ids[n++] = t.evs[i]->sender;
        for (int i = 0; i < h.n; i++)
            ids[n++] = h.ids[i];
        if (full)
            ids[n++] = p->user_id;
        write_lazy_members(&s, r, ids, n, full || f->state.include_redundant_members || !p->lazy);
        /* the member events of the timeline count as sent too */
        for (size_t i = 0; p->lazy && !f->state.include_redundant_members && i < t.n; i++) {
            if (t.evs[i]->membership && t.evs[i]->state_key)
                lazy_note(p->lazy, p, balai_room_id(r), t.evs[i], upto);
        }
    }
    written += s.count;
    balai_buf_append_str(b, "]}");
    if (summary && members_changed) {
        balai_buf_append_str(b, ",\"summary\":{\"m.heroes\":[");
        for (int i = 0; i < h.n; i++) {
            if (i)
                balai_buf_append_char(b, ',');
            balai_jsonw_str(b, h.ids[i]);
        }
        balai_buf_printf(b, "],\"m.joined_member_count\":%zu,\"m.invited_member_count\":%zu}",
                         balai_room_joined_count(r), balai_room_invited_count(r));
    }
    if (summary) {
        balai_buf_append_str(b, ",\"ephemeral\":{\"events\":[");
        written += ephemeral(b, p, balai_room_id(r), full);
        balai_buf_append_str(b, "]},");
        written += write_account_data(b, p, balai_room_id(r), full ? 0 : ad_since(p));
        if (p->unread_write)
            p->unread_write(p->unread_src, p->user_id, balai_room_id(r), p->unread_threads, b);
        else
            balai_buf_append_str(b, ",\"unread_notifications\":{\"notification_count\":0,"
                                    "\"highlight_count\":0}");
    }
    balai_buf_append_char(b, '}');
    return written;
}

static const char *const stripped_types[] = {
    "m.room.create",          "m.room.join_rules", "m.room.name",       "m.room.avatar",
    "m.room.canonical_alias", "m.room.topic",      "m.room.encryption",
};

static void write_stripped(struct balai_buf *b, struct balai_ev *ev, int *first)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "type", ev->type, "state_key", ev->state_key,
                          "sender", ev->sender, "content", balai_event_content(ev->pdu));
    size_t len;
    char *s = o ? balai_json_dump(o, 0, &len) : NULL;
    if (s) {
        if (!*first)
            balai_buf_append_char(b, ',');
        *first = 0;
        balai_buf_append(b, s, len);
    }
    free(s);
    json_decref(o);
}

static void write_invite(struct room_ctx *c, struct balai_room *r)
{
    struct balai_buf *b = &c->invite;
    int first = 1;
    if (c->ninvite++)
        balai_buf_append_char(b, ',');
    balai_jsonw_key(b, balai_room_id(r));
    balai_buf_append_str(b, "{\"invite_state\":{\"events\":[");
    for (size_t i = 0; i < BALAI_ARRAY_LEN(stripped_types); i++) {
        struct balai_ev *ev = balai_room_state_ev(r, stripped_types[i], "");
        if (ev)
            write_stripped(b, ev, &first);
    }
    struct balai_ev *me = balai_room_state_ev(r, "m.room.member", c->p->user_id);
    if (me) {
        /* the invite itself, in client form (clients read its sender and event id) */
        if (!first)
            balai_buf_append_char(b, ',');
        balai_sync_write_event(b, me, c->p->user_id, c->p->device_id, &c->p->extra);
    }
    balai_buf_append_str(b, "]}}");
}

static void each_room(struct balai_room *r, void *arg)
{
    struct room_ctx *c = arg;
    const struct balai_sync_params *p = c->p;
    const char *m = balai_room_membership(r, p->user_id);
    int64_t mpos = balai_room_membership_pos(r, p->user_id);
    int64_t since = p->initial ? 0 : p->since.pos[BALAI_STREAM_EVENTS];
    int changed = p->initial || mpos > since;

    if (!m || mpos > c->upto)
        return;
    if (p->filter && !balai_filter_room_ok(p->filter, balai_room_id(r)))
        return;
    if (strcmp(m, "join") == 0) {
        int full = changed || p->full_state;
        if (!full && balai_room_last_pos(r) <= since &&
            !count_account_data(p, balai_room_id(r), ad_since(p)) &&
            !ephemeral(NULL, p, balai_room_id(r), 0))
            return;
        struct balai_buf *b = &c->join;
        size_t mark = b->len;
        int had = c->njoin;
        if (c->njoin++)
            balai_buf_append_char(b, ',');
        size_t n = write_room(c, b, r, full && changed ? 0 : since, c->upto, full, 1);
        /* An incremental sync with no visible event and no state: drop it. */
        if (!full && n == 0) {
            b->len = mark;
            b->data[mark] = '\0';
            c->njoin = had;
        }
    } else if (strcmp(m, "invite") == 0) {
        if (changed)
            write_invite(c, r);
    } else if (strcmp(m, "leave") == 0 || strcmp(m, "ban") == 0) {
        /* include_leave: every room left or banned from (not forgotten), in
         * an initial sync and with full_state */
        int all = p->filter && p->filter->include_leave && (p->initial || p->full_state) &&
                  !balai_rooms_forgotten(c->rs, p->user_id, balai_room_id(r));
        if (!all && (p->initial || !changed))
            return;
        struct balai_buf *b = &c->leave;
        if (c->nleave++)
            balai_buf_append_char(b, ',');
        if (all)
            write_room(c, b, r, 0, mpos, 1, 0);
        else
            write_room(c, b, r, since, mpos, 0, 0);
    }
}

/* Keeps the presence events of pres (comma-separated objects) that pass
 * the filter, at most its limit; returns how many. */
static size_t filter_presence(const struct balai_event_filter *f, struct balai_buf *pres)
{
    struct balai_buf keep;
    size_t n = 0, i;
    json_t *a, *ev;
    balai_buf_init(&keep, 0);
    balai_buf_append_char(&keep, '[');
    if (pres->len)
        balai_buf_append(&keep, pres->data, pres->len);
    balai_buf_append_char(&keep, ']');
    a = json_loadb(keep.data, keep.len, 0, NULL);
    balai_buf_release(&keep);
    balai_buf_init(&keep, 0);
    json_array_foreach(a, i, ev)
    {
        if (f->limit && n >= (size_t)f->limit)
            break;
        if (!balai_event_filter_match(f, NULL, json_string_value(json_object_get(ev, "sender")),
                                      json_string_value(json_object_get(ev, "type")), NULL))
            continue;
        size_t len;
        char *js = balai_json_dump(ev, 0, &len);
        if (!js)
            continue;
        if (n++)
            balai_buf_append_char(&keep, ',');
        balai_buf_append(&keep, js, len);
        free(js);
    }
    json_decref(a);
    balai_buf_release(pres);
    *pres = keep;
    return n;
}

int balai_sync_build(struct balai_rooms *rs, const struct balai_sync_params *p, int64_t upto,
                     struct balai_buf *out, int *has_updates)
{
    struct room_ctx c;
    struct balai_sync_token next;
    struct balai_buf td, pres, dl_changed, dl_left;
    size_t ntd = 0, npres = 0, ndl = 0;
    char tok[200];

    memset(&c, 0, sizeof(c));
    balai_buf_init(&td, 0);
    balai_buf_init(&pres, 0);
    balai_buf_init(&dl_changed, 0);
    balai_buf_init(&dl_left, 0);
    c.p = p;
    c.rs = rs;
    c.upto = upto;
    balai_buf_init(&c.join, 0);
    balai_buf_init(&c.invite, 0);
    balai_buf_init(&c.leave, 0);
    /* a new sync sequence: the client remembers no lazy-loaded member */
    if (p->lazy && p->filter && p->filter->state.lazy_load_members && p->initial)
        lazy_reset(p->lazy, p);
    balai_rooms_of_user(rs, p->user_id, each_room, &c);

    next = p->since;
    next.pos[BALAI_STREAM_EVENTS] = upto;
    if (p->account_data_each && p->account_data_pos > next.pos[BALAI_STREAM_ACCOUNT_DATA])
        next.pos[BALAI_STREAM_ACCOUNT_DATA] = p->account_data_pos;
    if (p->typing_each)
        next.pos[BALAI_STREAM_TYPING] = p->typing_pos;
    if (p->receipts_each && p->receipts_pos > next.pos[BALAI_STREAM_RECEIPTS])
        next.pos[BALAI_STREAM_RECEIPTS] = p->receipts_pos;
    if (p->to_device_write) {
        int64_t td_upto = 0;
        ntd = p->to_device_write(p->to_device_src, p->user_id, p->device_id,
                                 p->since.pos[BALAI_STREAM_TO_DEVICE], &td, &td_upto);
        if (td_upto > next.pos[BALAI_STREAM_TO_DEVICE])
            next.pos[BALAI_STREAM_TO_DEVICE] = td_upto;
    }
    if (p->presence_write) {
        npres = p->presence_write(p->presence_src, p->user_id,
                                  p->initial ? 0 : p->since.pos[BALAI_STREAM_PRESENCE], &pres);
        if (npres && p->filter && (!p->filter->presence.trivial || p->filter->presence.limit))
            npres = filter_presence(&p->filter->presence, &pres);
        if (p->presence_pos > next.pos[BALAI_STREAM_PRESENCE])
            next.pos[BALAI_STREAM_PRESENCE] = p->presence_pos;
    }
    if (p->device_lists_write) {
        /* an initial sync has no changes to report: the client queries all */
        if (!p->initial)
            ndl = p->device_lists_write(p->device_lists_src, p->user_id,
                                        p->since.pos[BALAI_STREAM_DEVICE_LISTS], &dl_changed,
                                        &dl_left);
        if (p->device_lists_pos > next.pos[BALAI_STREAM_DEVICE_LISTS])
            next.pos[BALAI_STREAM_DEVICE_LISTS] = p->device_lists_pos;
    }
    balai_sync_token_format(p->epoch, &next, tok, sizeof(tok));
    balai_buf_printf(out, "{\"next_batch\":\"%s\",\"rooms\":{\"join\":{", tok);
    if (c.join.len)
        balai_buf_append(out, c.join.data, c.join.len);
    balai_buf_append_str(out, "},\"invite\":{");
    if (c.invite.len)
        balai_buf_append(out, c.invite.data, c.invite.len);
    balai_buf_append_str(out, "},\"leave\":{");
    if (c.leave.len)
        balai_buf_append(out, c.leave.data, c.leave.len);
    balai_buf_append_str(out, "},\"knock\":{}},\"presence\":{\"events\":[");
    if (pres.len)
        balai_buf_append(out, pres.data, pres.len);
    balai_buf_append_str(out, "]},");
    size_t nglobal = write_account_data(out, p, NULL, ad_since(p));
    balai_buf_append_str(out, ",\"to_device\":{\"events\":[");
    if (td.len)
        balai_buf_append(out, td.data, td.len);
    balai_buf_append_str(out, "]},\"device_lists\":{\"changed\":[");
    if (dl_changed.len)
        balai_buf_append(out, dl_changed.data, dl_changed.len);
    balai_buf_append_str(out, "],\"left\":[");
    if (dl_left.len)
        balai_buf_append(out, dl_left.data, dl_left.len);
    balai_buf_append_str(out, "]}");
    if (p->keys_write)
        p->keys_write(p->keys_src, p->user_id, p->device_id, out);
    else
        balai_buf_append_str(out, ",\"device_one_time_keys_count\":{\"signed_curve25519\":0},"
                                  "\"device_unused_fallback_key_types\":[]");
    balai_buf_append_char(out, '}');
    *has_updates = p->initial || c.njoin || c.ninvite || c.nleave || nglobal || ntd || npres || ndl;
    balai_buf_release(&c.join);
    balai_buf_release(&c.invite);
    balai_buf_release(&c.leave);
    balai_buf_release(&td);
    balai_buf_release(&pres);
    balai_buf_release(&dl_changed);
    balai_buf_release(&dl_left);
    return BALAI_OK;
}
