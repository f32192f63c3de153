/* context.c: GET /rooms/{roomId}/context/{eventId}: an event with the events
 * just before and after it, and pagination tokens for /messages.
 *
 * Everything is read from the store on the worker pool (the event and up to
 * `limit` events on each side); visibility is decided back on the loop
 * thread. The requester must have a membership in the room (403 otherwise)
 * and be allowed to see the event by the history visibility (404
 * M_NOT_FOUND otherwise, as for GET /event); events around it that the
 * requester may not see are left out. `filter` (an inline RoomEventFilter)
 * applies to events_before, events_after and state, after the limit (the
 * spec lets the server choose); with lazy_load_members `state` holds only the
 * m.room.member events of the senders of the events returned. `state` is the
 * room's current state when the requester is joined, empty otherwise. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/events.h"
#include "api/relations.h"
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

#define DEFAULT_LIMIT 10
#define MAX_LIMIT 100

struct context {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *user_id;
    char *device_id;
    char *event_id;
    int nbefore, nafter;
    /* worker results */
    struct balai_ev *ev;
    struct balai_ev **before, **after; /* newest first; oldest first */
    size_t nb, na, capb, capa;
    int rc;
    int collecting_after;
    int filtered; /* filter holds the request's filter */
    struct balai_event_filter filter;
};

static void context_free(struct context *c)
{
    if (!c)
        return;
    balai_ev_unref(c->ev);
    for (size_t i = 0; i < c->nb; i++)
        balai_ev_unref(c->before[i]);
    for (size_t i = 0; i < c->na; i++)
        balai_ev_unref(c->after[i]);
    free(c->before);
    free(c->after);
    balai_event_filter_clear(&c->filter);
    free(c->user_id);
    free(c->device_id);
    free(c->event_id);
    free(c);
}

static int target_collect(const struct balai_event_rec *r, void *arg)
{
    struct context *c = arg;
    c->ev = balai_api_event_unseal(c->app, r);
    return 0;
}

static int around_collect(const struct balai_event_rec *r, void *arg)
{
    struct context *c = arg;
    struct balai_ev *ev = balai_api_event_unseal(c->app, r);
    if (!ev)
        return 0;
    struct balai_ev ***v = c->collecting_after ? &c->after : &c->before;
    size_t *n = c->collecting_after ? &c->na : &c->nb;
    size_t *cap = c->collecting_after ? &c->capa : &c->capb;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = balai_realloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = ev;
    return 0;
}

static void context_work(void *arg)
{
    struct context *c = arg;
    c->rc = balai_store_event_get(c->app->store, c->event_id, target_collect, c);
    if (c->rc != BALAI_OK || !c->ev)
        return;
    const char *room_id = balai_room_id(c->room);
    if (c->nbefore > 0)
        c->rc = balai_store_room_events(c->app->store, room_id, c->ev->pos, 0, 'b', c->nbefore,
                                        around_collect, c);
    c->collecting_after = 1;
    if (c->rc == BALAI_OK && c->nafter > 0)
        c->rc = balai_store_room_events(c->app->store, room_id, c->ev->pos, INT64_MAX, 'f',
                                        c->nafter, around_collect, c);
}

struct state_ctx {
    struct balai_buf *b;
    const char *user_id;
    const struct balai_sync_extra *x;
    size_t n;
    const struct balai_event_filter *f; /* NULL: no filter */
    const char *room_id;
    const char **senders; /* lazy loading: the members to send; else NULL */
    size_t nsenders;
};

/* Does the event pass the request's filter? */
static int context_pass(const struct context *c, const struct balai_ev *ev)
{
    return !c->filtered || balai_event_filter_match_ev(&c->filter, balai_room_id(c->room), ev);
}

static void state_one(struct balai_ev *ev, void *arg)
{
    struct state_ctx *s = arg;
    if (s->f && !balai_event_filter_match_ev(s->f, s->room_id, ev))
        return;
    if (s->senders && strcmp(ev->type, "m.room.member") == 0) {
        size_t i = 0;
        while (i < s->nsenders && strcmp(s->senders[i], ev->state_key) != 0)
            i++;
        if (i == s->nsenders)
            return;
    }
    if (s->n++)
        balai_buf_append_char(s->b, ',');
    balai_sync_write_event(s->b, ev, s->user_id, NULL, s->x);
}

static void context_done(void *arg)
{
    struct context *c = arg;
    struct balai_app *app = c->app;
    struct balai_ev *ev = c->ev;
    const char *room_id = ev ? json_string_value(json_object_get(ev->pdu, "room_id")) : NULL;
    if (c->rc != BALAI_OK && c->rc != BALAI_ENOTFOUND) {
        balai_api_error(c->req, 500, "M_UNKNOWN", "Could not read the room history");
        context_free(c);
        return;
    }
    if (!ev || !room_id || strcmp(room_id, balai_room_id(c->room)) != 0 ||
        !balai_room_visible(c->room, c->user_id, ev)) {
        balai_api_error(c->req, 404, "M_NOT_FOUND", "Event not found");
        context_free(c);
        return;
    }
    struct balai_buf b;
    char tok[200];
    size_t n = 0, nsenders = 0;
    int64_t start = ev->pos - 1, end = ev->pos;
    const char **senders = balai_calloc(c->nb + c->na + 1, sizeof(*senders));
    senders[nsenders++] = ev->sender;
    balai_buf_init(&b, 0);
    balai_buf_append_str(&b, "{\"event\":");
    balai_sync_write_event(&b, ev, c->user_id, c->device_id, &app->event_extra);
    balai_buf_append_str(&b, ",\"events_before\":[");
    for (size_t i = 0; i < c->nb; i++) {
        start = c->before[i]->pos - 1;
        if (!balai_room_visible(c->room, c->user_id, c->before[i]) ||
            !context_pass(c, c->before[i]))
            continue;
        senders[nsenders++] = c->before[i]->sender;
        if (n++)
            balai_buf_append_char(&b, ',');
        balai_sync_write_event(&b, c->before[i], c->user_id, c->device_id, &app->event_extra);
    }
    balai_buf_append_str(&b, "],\"events_after\":[");
    n = 0;
    for (size_t i = 0; i < c->na; i++) {
        end = c->after[i]->pos;
        if (!balai_room_visible(c->room, c->user_id, c->after[i]) || !context_pass(c, c->after[i]))
            continue;
        senders[nsenders++] = c->after[i]->sender;
        if (n++)
            balai_buf_append_char(&b, ',');
        balai_sync_write_event(&b, c->after[i], c->user_id, c->device_id, &app->event_extra);
    }
    balai_buf_append_str(&b, "],\"state\":[");
    const char *m = balai_room_membership(c->room, c->user_id);
    if (m && strcmp(m, "join") == 0) {
        int lazy = c->filtered && c->filter.lazy_load_members;
        struct state_ctx s = {&b,
                              c->user_id,
                              &app->event_extra,
                              0,
                              c->filtered ? &c->filter : NULL,
                              balai_room_id(c->room),
                              lazy ? senders : NULL,
                              nsenders};
        balai_room_state_each(c->room, state_one, &s);
    }
    free(senders);
    balai_buf_append_char(&b, ']');
    balai_page_token_format(app->epoch, start < 0 ? 0 : start, tok, sizeof(tok));
    balai_buf_printf(&b, ",\"start\":\"%s\"", tok);
    balai_page_token_format(app->epoch, end, tok, sizeof(tok));
    balai_buf_printf(&b, ",\"end\":\"%s\"}", tok);
    size_t len;
    char *s = balai_buf_detach(&b, &len);
    balai_http_respond_take(c->req, 200, "application/json", s, len);
    context_free(c);
}

static void get_context(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *room_id = req->params[0], *event_id = req->params[1];
    const char *lim = balai_http_req_query(req, "limit");
    const char *filter = balai_http_req_query(req, "filter");
    struct balai_event_filter ef;
    int filtered = 0;
    int limit = DEFAULT_LIMIT;

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return;
    }
    if (event_id[0] != '$' || strlen(event_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed event id: it must start with $");
        return;
    }
    if (lim) {
        char *endp;
        long v = strtol(lim, &endp, 10);
        if (!*lim || *endp || v < 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            return;
        }
        limit = v > MAX_LIMIT ? MAX_LIMIT : (int)v;
    }
    if (filter && *filter) {
        char err[BALAI_JSON_ERR_LEN];
        json_t *j = json_loads(filter, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            balai_api_error(req, 400, "M_NOT_JSON", "'filter' must be a JSON object");
            return;
        }
        int rc = balai_filter_parse_room_event(j, &ef, err, sizeof(err));
        json_decref(j);
        if (rc != BALAI_OK) {
            balai_api_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
            return;
        }
        filtered = 1;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room || !balai_room_membership(room, user_id)) {
        if (filtered)
            balai_event_filter_clear(&ef);
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        return;
    }
    struct context *c = balai_calloc(1, sizeof(*c));
    c->app = app;
    c->req = req;
    c->room = room;
    c->user_id = balai_strdup(user_id);
    c->device_id = balai_strdup(s->device->device_id);
    c->event_id = balai_strdup(event_id);
    c->nbefore = limit / 2;
    c->nafter = limit - c->nbefore;
    c->filtered = filtered;
    if (filtered)
        c->filter = ef;
    if (balai_pool_submit(app->work_pool, context_work, context_done, c) != BALAI_OK) {
        balai_api_limit(req, 500);
        context_free(c);
    }
}

int balai_api_client_context_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET,
                           "/_matrix/client/v3/rooms/{roomId}/context/{eventId}", get_context, 0);
}
