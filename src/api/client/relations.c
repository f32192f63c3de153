/* relations.c: GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
 * and GET /rooms/{roomId}/threads (Client-Server API v1.12, v1 endpoints).
 *
 * The children come from the in-memory index (api/relations.h), already in
 * position order; visibility is decided on the loop thread from the
 * membership history, and only the bodies of the page (and of the parent)
 * that are not in memory are read from the store, on the worker pool. The
 * pagination tokens are the /messages ones (a position in the event
 * stream). `recurse` is implemented: up to 3 levels of relations. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/relations.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "sync/sync.h"
#include "sync/token.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/jsonw.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 1000
#define RECURSE_DEPTH 3

struct listing {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *user_id;
    char *device_id;
    char *from;  /* the request's from token, for prev_batch */
    int threads; /* /threads (else /relations) */
    int participated;
    int recursed; /* recurse=true was asked */
    char dir;
    /* items[0] is the parent for /relations; then the page */
    struct balai_rel_item *items;
    size_t n;
    int64_t next; /* next_batch position, or -1 */
};

static void listing_free(struct listing *l)
{
    if (!l)
        return;
    balai_api_rel_items_free(l->items, l->n);
    free(l->user_id);
    free(l->device_id);
    free(l->from);
    free(l);
}

/* May the user see an event at pos (a relation, never a membership event)? */
static int visible_at(struct balai_room *room, const char *user_id, int64_t pos)
{
    struct balai_ev probe;
    memset(&probe, 0, sizeof(probe));
    probe.pos = pos;
    return balai_room_visible(room, user_id, &probe);
}

static void listing_answer(void *arg)
{
    struct listing *l = arg;
    struct balai_app *app = l->app;
    struct balai_buf b;
    char tok[200];
    size_t first = 0, written = 0;

    if (!l->threads) {
        struct balai_ev *p = l->items[0].ev;
        const char *room_id = p ? json_string_value(json_object_get(p->pdu, "room_id")) : NULL;
        if (!p || !room_id || strcmp(room_id, balai_room_id(l->room)) != 0 ||
            !balai_room_visible(l->room, l->user_id, p)) {
            balai_api_error(l->req, 404, "M_NOT_FOUND", "Event not found");
            listing_free(l);
            return;
        }
        first = 1;
    }
    balai_buf_init(&b, 0);
    balai_buf_append_str(&b, "{\"chunk\":[");
    for (size_t i = first; i < l->n; i++) {
        struct balai_ev *ev = l->items[i].ev;
        if (!ev)
            continue;
        if (l->threads &&
            (!balai_room_visible(l->room, l->user_id, ev) ||
             (l->participated && !balai_api_relations_participated(app, l->room, ev, l->user_id))))
            continue;
        if (written++)
            balai_buf_append_char(&b, ',');
        balai_sync_write_event(&b, ev, l->user_id, l->device_id, &app->event_extra);
    }
    balai_buf_append_char(&b, ']');
    if (l->next >= 0) {
        balai_page_token_format(app->epoch, l->next, tok, sizeof(tok));
        balai_buf_printf(&b, ",\"next_batch\":\"%s\"", tok);
    }
    if (l->from && !l->threads) {
        balai_buf_append_str(&b, ",\"prev_batch\":");
        balai_jsonw_str(&b, l->from);
    }
    if (l->recursed)
        balai_buf_printf(&b, ",\"recursion_depth\":%d", RECURSE_DEPTH);
    balai_buf_append_char(&b, '}');
    size_t len;
    char *s = balai_buf_detach(&b, &len);
    balai_http_respond_take(l->req, 200, "application/json", s, len);
    listing_free(l);
}

/* Parses limit, dir, from and to; answers and fails on a bad one. */
static int page_params(struct balai_http_req *req, struct balai_app *app, int *limit, char *dir,
                       int64_t *from, int64_t *to)
{
    const char *lim = balai_http_req_query(req, "limit");
    const char *d = balai_http_req_query(req, "dir");
    const char *f = balai_http_req_query(req, "from");
    const char *t = balai_http_req_query(req, "to");
    *limit = DEFAULT_LIMIT;
    *dir = 'b';
    *from = -1;
    *to = -1;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || v < 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            return BALAI_EINVAL;
        }
        *limit = v == 0 ? DEFAULT_LIMIT : v > MAX_LIMIT ? MAX_LIMIT : (int)v;
    }
    if (d && strcmp(d, "b") != 0 && strcmp(d, "f") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'dir' must be 'b' or 'f'");
        return BALAI_EINVAL;
    }
    if (d)
        *dir = d[0];
    if (f && *f && balai_page_token_parse(f, app->epoch, from) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed or foreign 'from' token");
        return BALAI_EINVAL;
    }
    if (t && *t && balai_page_token_parse(t, app->epoch, to) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed or foreign 'to' token");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

/* The room the user has (or had) a membership in, or answers 400/403. */
static struct balai_room *member_room(struct balai_http_req *req, const char *user_id)
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

static struct listing *listing_new(struct balai_http_req *req, struct balai_session *s,
                                   struct balai_room *room)
{
    struct listing *l = balai_calloc(1, sizeof(*l));
    const char *from = balai_http_req_query(req, "from");
    l->app = balai_api_app(req);
    l->req = req;
    l->room = room;
    l->user_id = balai_strdup(s->device->user->user_id);
    l->device_id = balai_strdup(s->device->device_id);
    l->from = from && *from ? balai_strdup(from) : NULL;
    l->next = -1;
    return l;
}

static void listing_go(struct listing *l)
{
    int rc = balai_api_rel_fetch(l->app, l->room, l->items, l->n, listing_answer, l);
    if (rc == 0) {
        listing_answer(l);
    } else if (rc < 0) {
        balai_api_limit(l->req, 500);
        listing_free(l);
    }
}

static void get_relations(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_rel_item *all = NULL;
    size_t nall = 0;
    int limit;
    char dir;
    int64_t from, to;

    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_room *room = member_room(req, s->device->user->user_id);
    if (!room)
        return;
    const char *event_id = req->params[1];
    if (event_id[0] != '$' || strlen(event_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed event id: it must start with $");
        return;
    }
    if (page_params(req, app, &limit, &dir, &from, &to) != BALAI_OK)
        return;
    const char *recurse = balai_http_req_query(req, "recurse");
    if (recurse && strcmp(recurse, "true") != 0 && strcmp(recurse, "false") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'recurse' must be true or false");
        return;
    }
    int deep = recurse && strcmp(recurse, "true") == 0;
    const char *rel_type = req->nparams > 2 ? req->params[2] : NULL;
    const char *ev_type = req->nparams > 3 ? req->params[3] : NULL;
    struct listing *l = listing_new(req, s, room);
    l->dir = dir;
    l->recursed = recurse != NULL;
    nall = balai_api_relations_list(app, room, event_id, rel_type, ev_type,
                                    deep ? RECURSE_DEPTH : 1, &all);
    l->items = balai_calloc((size_t)limit + 1, sizeof(*l->items));
    l->items[0].event_id = balai_strdup(event_id);
    l->n = 1;
    for (size_t k = 0; k < nall; k++) {
        struct balai_rel_item *it = &all[dir == 'b' ? nall - 1 - k : k];
        if (dir == 'b' ? (from >= 0 && it->pos > from) : (from >= 0 && it->pos <= from))
            continue;
        if (dir == 'b' ? (to >= 0 && it->pos <= to) : (to >= 0 && it->pos > to))
            break;
        if (!visible_at(room, l->user_id, it->pos))
            continue;
        if (l->n == (size_t)limit + 1) {
            int64_t last = l->items[l->n - 1].pos;
            l->next = dir == 'b' ? last - 1 : last;
            break;
        }
        l->items[l->n++] = *it;
        it->event_id = NULL;
        it->ev = NULL;
    }
    balai_api_rel_items_free(all, nall);
    listing_go(l);
}

static void get_threads(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_rel_item *all = NULL;
    size_t nall;
    int limit;
    char dir;
    int64_t from, to;

    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_room *room = member_room(req, s->device->user->user_id);
    if (!room)
        return;
    if (page_params(req, app, &limit, &dir, &from, &to) != BALAI_OK)
        return;
    const char *include = balai_http_req_query(req, "include");
    if (include && strcmp(include, "all") != 0 && strcmp(include, "participated") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'include' must be 'all' or 'participated'");
        return;
    }
    struct listing *l = listing_new(req, s, room);
    l->threads = 1;
    l->participated = include && strcmp(include, "participated") == 0;
    nall = balai_api_relations_threads(app, room, &all);
    l->items = balai_calloc((size_t)limit, sizeof(*l->items));
    for (size_t k = 0; k < nall; k++) {
        struct balai_rel_item *it = &all[k];
        if (from >= 0 && it->pos > from)
            continue;
        if (l->n == (size_t)limit) {
            l->next = l->items[l->n - 1].pos - 1;
            break;
        }
        l->items[l->n++] = *it;
        it->event_id = NULL;
        it->ev = NULL;
    }
    balai_api_rel_items_free(all, nall);
    listing_go(l);
}

int balai_api_client_relations_routes(struct balai_app *app)
{
    int rc = 0;
    rc |=
        balai_api_route(app, BALAI_HTTP_GET,
                        "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}", get_relations, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET,
                          "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}",
                          get_relations, 0);
    rc |= balai_api_route(
        app, BALAI_HTTP_GET,
        "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}",
        get_relations, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v1/rooms/{roomId}/threads",
                          get_threads, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
