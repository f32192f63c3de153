/* messages.c: GET /rooms/{roomId}/messages and GET /rooms/{roomId}/event/{eventId}.
 *
 * Pages are served from the room's cache when it holds them, otherwise read
 * from the store on the worker pool (never on the loop thread); visibility
 * is decided back on the loop thread, where the membership history lives.
 *
 * A `filter` (an inline RoomEventFilter) keeps only the events it passes;
 * the page then reads on until it holds `limit` of them, the history ends,
 * or MAX_ROUNDS store reads of max(limit, FILTER_BATCH) events each were
 * made (then it answers with what it has and an `end` token to go on
 * from). With lazy_load_members, `state` carries the current m.room.member
 * events of the chunk's senders (always, as if include_redundant_members). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/pool.h"
#include "sync/filter.h"
#include "sync/sync.h"
#include "sync/token.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"

#define MAX_LIMIT 1000
#define DEFAULT_LIMIT 10
#define MAX_ROUNDS 16
#define FILTER_BATCH 200

/* May the user read this room's history at all? */
static struct balai_room *readable_room(struct balai_http_req *req, const char *user_id)
{
    struct balai_app *app = balai_api_app(req);
    const char *room_id = req->params[0];
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return NULL;
    }
    struct balai_room *r = balai_rooms_get(app->rooms, room_id);
    if (!r || !balai_room_membership(r, user_id)) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        return NULL;
    }
    return r;
}

struct page {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *user_id;
    char *device_id;
    char dir;
    int64_t cursor; /* dir b: next events have pos <= cursor; dir f: pos > cursor */
    int64_t to;     /* dir b: pos > to; dir f: pos <= to; -1 none */
    int limit;
    int rounds;
    int exhausted;
    int filtered; /* filter holds a parsed filter */
    struct balai_event_filter filter;
    struct balai_ev **out;
    size_t nout;
    /* worker job */
    struct balai_ev **fetched;
    size_t nfetched, cap;
    int rc;
};

static void page_free(struct page *p)
{
    for (size_t i = 0; i < p->nout; i++)
        balai_ev_unref(p->out[i]);
    for (size_t i = 0; i < p->nfetched; i++)
        balai_ev_unref(p->fetched[i]);
    free(p->out);
    free(p->fetched);
    balai_event_filter_clear(&p->filter);
    free(p->user_id);
    free(p->device_id);
    free(p);
}

static void page_answer(struct page *p)
{
    struct balai_buf b;
    char tok[200];
    balai_buf_init(&b, 0);
    balai_buf_append_str(&b, "{\"chunk\":[");
    for (size_t i = 0; i < p->nout; i++) {
        if (i)
            balai_buf_append_char(&b, ',');
        balai_sync_write_event(&b, p->out[i], p->user_id, p->device_id, &p->app->event_extra);
    }
    balai_page_token_format(p->app->epoch, p->cursor, tok, sizeof(tok));
    balai_buf_printf(&b, "],\"start\":\"%s\"",
                     balai_http_req_query(p->req, "from") ? balai_http_req_query(p->req, "from")
                                                          : tok);
    if (!p->exhausted)
        balai_buf_printf(&b, ",\"end\":\"%s\"", tok);
    balai_buf_append_str(&b, ",\"state\":[");
    if (p->filtered && p->filter.lazy_load_members) {
        int first = 1;
        for (size_t i = 0; i < p->nout; i++) {
            int dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = strcmp(p->out[i]->sender, p->out[j]->sender) == 0;
            struct balai_ev *m =
                dup ? NULL : balai_room_state_ev(p->room, "m.room.member", p->out[i]->sender);
            if (!m)
                continue;
            if (!first)
                balai_buf_append_char(&b, ',');
            first = 0;
            balai_sync_write_event(&b, m, p->user_id, p->device_id, &p->app->event_extra);
        }
    }
    balai_buf_append_str(&b, "]}");
    size_t len;
    char *s = balai_buf_detach(&b, &len);
    balai_http_respond_take(p->req, 200, "application/json", s, len);
    page_free(p);
}

/* Takes `ev` into the page if visible and in range; returns 0 to go on, 1 when full or past `to`.
 */
static int take(struct page *p, struct balai_ev *ev)
{
    if (p->dir == 'b' ? (p->to >= 0 && ev->pos <= p->to) : (p->to >= 0 && ev->pos > p->to)) {
        p->exhausted = 1;
        return 1;
    }
    p->cursor = p->dir == 'b' ? ev->pos - 1 : ev->pos;
    if (balai_room_visible(p->room, p->user_id, ev) &&
        (!p->filtered || balai_event_filter_match_ev(&p->filter, balai_room_id(p->room), ev)))
        p->out[p->nout++] = balai_ev_ref(ev);
    return p->nout == (size_t)p->limit;
}

static void fetch_more(struct page *p);

static int take_each(struct balai_ev *ev, void *arg)
{
    return take(arg, ev);
}

static int from_cache(struct page *p)
{
    int64_t floor = balai_room_cache_floor(p->room);
    if (p->dir == 'b') {
        struct balai_ev *buf[64];
        while (p->cursor >= floor && p->cursor > 0) {
            size_t n = balai_room_cached_latest(p->room, p->cursor, BALAI_ARRAY_LEN(buf), buf);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++) {
                if (take(p, buf[i]))
                    return 1;
            }
        }
        if (p->cursor < balai_room_first_pos(p->room) || p->cursor <= 0) {
            p->exhausted = 1;
            return 1;
        }
        return p->cursor < floor ? 0 : 1;
    }
    if (p->cursor + 1 < floor && floor > balai_room_first_pos(p->room))
        return 0;
    if (balai_room_cached_each(p->room, p->cursor, INT64_MAX, take_each, p) == 0)
        p->exhausted = 1;
    return 1;
}

static int collect(const struct balai_event_rec *r, void *arg)
{
    struct page *p = arg;
    struct balai_ev *ev = balai_api_event_unseal(p->app, r);
    if (!ev)
        return 0;
    if (p->nfetched == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->fetched = balai_realloc(p->fetched, p->cap * sizeof(*p->fetched));
    }
    p->fetched[p->nfetched++] = ev;
    return 0;
}

/* Events read from the store per round. */
static int batch_of(const struct page *p)
{
    int min = p->filtered ? FILTER_BATCH : 50;
    return p->limit < min ? min : p->limit;
}

static void fetch_work(void *arg)
{
    struct page *p = arg;
    int batch = batch_of(p);
    if (p->dir == 'b')
        p->rc = balai_store_room_events(p->app->store, balai_room_id(p->room), p->cursor + 1,
                                        p->to >= 0 ? p->to + 1 : 0, 'b', batch, collect, p);
    else
        p->rc = balai_store_room_events(p->app->store, balai_room_id(p->room), p->cursor,
                                        p->to >= 0 ? p->to : INT64_MAX, 'f', batch, collect, p);
}

static void fetch_done(void *arg)
{
    struct page *p = arg;
    int batch = batch_of(p);
    if (p->rc != BALAI_OK) {
        balai_api_error(p->req, 500, "M_UNKNOWN", "Could not read the room history");
        page_free(p);
        return;
    }
    int full = 0;
    for (size_t i = 0; i < p->nfetched && !full; i++)
        full = take(p, p->fetched[i]);
    size_t got = p->nfetched;
    for (size_t i = 0; i < p->nfetched; i++)
        balai_ev_unref(p->fetched[i]);
    p->nfetched = 0;
    if (!full && got < (size_t)batch)
        p->exhausted = 1;
    if (full || p->exhausted || ++p->rounds >= MAX_ROUNDS)
        page_answer(p);
    else
        fetch_more(p);
}

static void fetch_more(struct page *p)
{
    if (balai_pool_submit(p->app->work_pool, fetch_work, fetch_done, p) != BALAI_OK) {
        balai_api_limit(p->req, 500);
        page_free(p);
    }
}

static void get_messages(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *from = balai_http_req_query(req, "from");
    const char *to = balai_http_req_query(req, "to");
    const char *dir = balai_http_req_query(req, "dir");
    const char *limit = balai_http_req_query(req, "limit");
    const char *filter = balai_http_req_query(req, "filter");

    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_room *room = readable_room(req, s->device->user->user_id);
    if (!room)
        return;
    struct page *p = balai_calloc(1, sizeof(*p));
    p->app = app;
    p->req = req;
    p->room = room;
    p->user_id = balai_strdup(s->device->user->user_id);
    p->device_id = balai_strdup(s->device->device_id);
    p->dir = dir && strcmp(dir, "f") == 0 ? 'f' : 'b';
    p->limit = DEFAULT_LIMIT;
    p->to = -1;
    if (filter && *filter) {
        char err[BALAI_JSON_ERR_LEN];
        json_t *j = json_loads(filter, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            balai_api_error(req, 400, "M_NOT_JSON", "'filter' must be a JSON object");
            goto fail;
        }
        int rc = balai_filter_parse_room_event(j, &p->filter, err, sizeof(err));
        json_decref(j);
        if (rc != BALAI_OK) {
            balai_api_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
            goto fail;
        }
        p->filtered = 1;
        if (p->filter.limit)
            p->limit = p->filter.limit > MAX_LIMIT ? MAX_LIMIT : p->filter.limit;
    }
    if (dir && strcmp(dir, "f") != 0 && strcmp(dir, "b") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'dir' must be 'b' or 'f'");
        goto fail;
    }
    if (limit) {
        char *end;
        long l = strtol(limit, &end, 10);
        if (!*limit || *end || l < 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            goto fail;
        }
        p->limit = l == 0 ? DEFAULT_LIMIT : l > MAX_LIMIT ? MAX_LIMIT : (int)l;
    }
    if (from && *from) {
        int rc = balai_page_token_parse(from, app->epoch, &p->cursor);
        if (rc != BALAI_OK) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed or foreign 'from' token");
            goto fail;
        }
    } else {
        p->cursor = p->dir == 'b' ? balai_rooms_max_pos(app->rooms) : 0;
    }
    if (to && *to && balai_page_token_parse(to, app->epoch, &p->to) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed or foreign 'to' token");
        goto fail;
    }
    p->out = balai_calloc((size_t)p->limit, sizeof(*p->out));
    if (p->filtered && !balai_event_filter_room_ok(&p->filter, balai_room_id(room))) {
        /* nothing in this room can pass */
        p->exhausted = 1;
        page_answer(p);
        return;
    }
    if (from_cache(p)) {
        page_answer(p);
        return;
    }
    fetch_more(p);
    return;
fail:
    page_free(p);
}

/* ---- one event ---- */

struct one {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *user_id;
    char *device_id;
    char *event_id;
    struct balai_ev *ev;
    int rc;
};

static int one_collect(const struct balai_event_rec *r, void *arg)
{
    struct one *o = arg;
    o->ev = balai_api_event_unseal(o->app, r);
    return 0;
}

static void one_work(void *arg)
{
    struct one *o = arg;
    o->rc = balai_store_event_get(o->app->store, o->event_id, one_collect, o);
}

static void one_done(void *arg)
{
    struct one *o = arg;
    struct balai_ev *ev = o->ev;
    const char *room_id = ev ? json_string_value(json_object_get(ev->pdu, "room_id")) : NULL;
    if (!ev || !room_id || strcmp(room_id, balai_room_id(o->room)) != 0 ||
        !balai_room_visible(o->room, o->user_id, ev)) {
        balai_api_error(o->req, 404, "M_NOT_FOUND", "Event not found");
    } else {
        struct balai_buf b;
        balai_buf_init(&b, 0);
        balai_sync_write_event(&b, ev, o->user_id, o->device_id, &o->app->event_extra);
        size_t len;
        char *s = balai_buf_detach(&b, &len);
        balai_http_respond_take(o->req, 200, "application/json", s, len);
    }
    balai_ev_unref(o->ev);
    free(o->user_id);
    free(o->device_id);
    free(o->event_id);
    free(o);
}

static void get_event(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_room *room = readable_room(req, s->device->user->user_id);
    if (!room)
        return;
    struct one *o = balai_calloc(1, sizeof(*o));
    o->app = app;
    o->req = req;
    o->room = room;
    o->user_id = balai_strdup(s->device->user->user_id);
    o->device_id = balai_strdup(s->device->device_id);
    o->event_id = balai_strdup(req->params[1]);
    struct balai_ev *ev = balai_room_cached_event(room, req->params[1]);
    if (ev) {
        o->ev = balai_ev_ref(ev);
        one_done(o);
        return;
    }
    if (balai_pool_submit(app->work_pool, one_work, one_done, o) != BALAI_OK) {
        balai_api_limit(req, 500);
        free(o->user_id);
        free(o->device_id);
        free(o->event_id);
        free(o);
    }
}

int balai_api_client_messages_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/rooms/{roomId}/messages",
                          get_messages, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/rooms/{roomId}/event/{eventId}",
                          get_event, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
