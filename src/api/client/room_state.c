/* room_state.c: reading a room's current state: GET /rooms/{roomId}/state,
 * /state/{eventType}[/{stateKey}], /members and /joined_members.
 *
 * SPEC: Matrix v1.12, Client-Server API "Getting events for a room". Answers
 * come from memory (core/room.h: the committed current state). Access: the
 * requester must be joined to the room, or the room must be world_readable.
 * A user who left is refused too (the spec would let them read the state as
 * it was when they left; Balai keeps only current state in memory), and an
 * unknown room answers the same 403 as a room one is not in, so that room
 * ids cannot be probed.
 *
 * /members?at= answers from current state when nothing changed since `at`,
 * else reads each member's event as it was at `at` from the store on the
 * worker pool. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/pool.h"
#include "store/store.h"
#include "sync/token.h"
#include "util/alloc.h"
#include "util/buf.h"

static int world_readable(const struct balai_room *room)
{
    struct balai_ev *ev = balai_room_state_ev(room, "m.room.history_visibility", "");
    if (!ev)
        return 0;
    const json_t *content = json_object_get(ev->pdu, "content");
    const char *v = json_string_value(json_object_get(content, "history_visibility"));
    return v && strcmp(v, "world_readable") == 0;
}

/* Authenticates and finds a room the requester may read, or answers
 * 401/400/403 and returns NULL. */
static struct balai_room *readable_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (balai_api_auth(req, &s) < 0)
        return NULL;
    if (!balai_id_room_ok(req->params[0])) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return NULL;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, req->params[0]);
    const char *m = room ? balai_room_membership(room, s->device->user->user_id) : NULL;
    if (!room || !((m && strcmp(m, "join") == 0) || world_readable(room))) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        return NULL;
    }
    return room;
}

/* A JSON array written from the events' cached client form. */
struct arr {
    struct balai_buf buf;
    size_t n;
};

static void arr_add(struct arr *a, struct balai_ev *ev)
{
    size_t len;
    const char *js = balai_ev_client_json(ev, &len);
    if (!js)
        return;
    balai_buf_append_char(&a->buf, a->n++ ? ',' : '[');
    balai_buf_append(&a->buf, js, len);
}

/* Answers `prefix` + the array + `suffix` (prefix/suffix wrap it in an object). */
static void arr_answer(struct balai_http_req *req, struct arr *a, const char *prefix,
                       const char *suffix)
{
    struct balai_buf out;
    size_t len;
    balai_buf_init(&out, 0);
    balai_buf_append_str(&out, prefix);
    if (a->n)
        balai_buf_append(&out, a->buf.data, a->buf.len);
    else
        balai_buf_append_char(&out, '[');
    balai_buf_append_char(&out, ']');
    balai_buf_append_str(&out, suffix);
    balai_buf_release(&a->buf);
    char *s = balai_buf_detach(&out, &len);
    balai_http_respond_take(req, 200, "application/json", s, len);
}

/* ---- GET /state ---- */

static void add_state(struct balai_ev *ev, void *arg)
{
    arr_add(arg, ev);
}

static void get_state(struct balai_http_req *req)
{
    struct balai_room *room = readable_room(req);
    if (!room)
        return;
    struct arr a;
    a.n = 0;
    balai_buf_init(&a.buf, 0);
    balai_room_state_each(room, add_state, &a);
    arr_answer(req, &a, "", "");
}

/* ---- GET /state/{eventType}[/{stateKey}] ---- */

static void state_event(struct balai_http_req *req, const char *state_key)
{
    struct balai_room *room = readable_room(req);
    if (!room)
        return;
    struct balai_ev *ev = balai_room_state_ev(room, req->params[1], state_key);
    json_t *content = ev ? json_object_get(ev->pdu, "content") : NULL;
    if (!content) {
        balai_api_error(req, 404, "M_NOT_FOUND", "The room has no %.200s state with that key",
                        req->params[1]);
        return;
    }
    balai_api_json(req, 200, json_incref(content));
}

static void get_state_type(struct balai_http_req *req)
{
    state_event(req, "");
}

static void get_state_type_key(struct balai_http_req *req)
{
    state_event(req, req->params[2]);
}

/* ---- GET /members ---- */

static const char *const memberships[] = {"join", "invite", "leave", "ban", "knock"};

static int membership_ok(const char *m)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(memberships); i++) {
        if (strcmp(m, memberships[i]) == 0)
            return 1;
    }
    return 0;
}

struct members_ctx {
    struct arr a;
    int64_t at;
    const char *membership, *not_membership;
};

static void add_member(struct balai_ev *ev, void *arg)
{
    struct members_ctx *c = arg;
    if (strcmp(ev->type, "m.room.member") != 0 || !ev->membership)
        return;
    if (ev->pos > c->at)
        return;
    if (c->membership && strcmp(ev->membership, c->membership) != 0)
        return;
    if (c->not_membership && strcmp(ev->membership, c->not_membership) == 0)
        return;
    arr_add(&c->a, ev);
}

/* ---- /members?at= from the store ---- */

struct at_job {
    struct balai_app *app;
    struct balai_http_req *req;
    char *room_id;
    struct members_ctx c;
    char *membership, *not_membership;
    struct balai_ev **evs;
    size_t n, cap;
    int rc;
};

static int at_collect(const struct balai_event_rec *r, void *arg)
{
    struct at_job *j = arg;
    struct balai_ev *ev = balai_api_event_unseal(j->app, r);
    if (!ev)
        return 0;
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 32;
        j->evs = balai_realloc(j->evs, j->cap * sizeof(*j->evs));
    }
    j->evs[j->n++] = ev;
    return 0;
}

static void at_work(void *arg)
{
    struct at_job *j = arg;
    j->rc = balai_store_room_members_at(j->app->store, j->room_id, j->c.at, at_collect, j);
}

static void at_done(void *arg)
{
    struct at_job *j = arg;
    if (j->rc != BALAI_OK) {
        balai_api_error(j->req, 500, "M_UNKNOWN", "Could not read the room's members");
    } else {
        j->c.at = INT64_MAX;
        j->c.membership = j->membership;
        j->c.not_membership = j->not_membership;
        balai_buf_init(&j->c.a.buf, 0);
        for (size_t i = 0; i < j->n; i++)
            add_member(j->evs[i], &j->c);
        arr_answer(j->req, &j->c.a, "{\"chunk\":", "}");
    }
    for (size_t i = 0; i < j->n; i++)
        balai_ev_unref(j->evs[i]);
    free(j->evs);
    free(j->room_id);
    free(j->membership);
    free(j->not_membership);
    free(j);
}

static void members_at(struct balai_http_req *req, struct balai_room *room,
                       const struct members_ctx *c)
{
    struct balai_app *app = balai_api_app(req);
    struct at_job *j = balai_calloc(1, sizeof(*j));
    j->app = app;
    j->req = req;
    j->room_id = balai_strdup(balai_room_id(room));
    j->c.at = c->at;
    j->membership = balai_strdup(c->membership);
    j->not_membership = balai_strdup(c->not_membership);
    if (balai_pool_submit(app->work_pool, at_work, at_done, j) != BALAI_OK) {
        balai_api_limit(req, 500);
        free(j->room_id);
        free(j->membership);
        free(j->not_membership);
        free(j);
    }
}

static void get_members(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct members_ctx c;
    const char *at = balai_http_req_query(req, "at");

    memset(&c, 0, sizeof(c));
    c.at = INT64_MAX;
    c.membership = balai_http_req_query(req, "membership");
    c.not_membership = balai_http_req_query(req, "not_membership");
    struct balai_room *room = readable_room(req);
    if (!room)
        return;
    if ((c.membership && !membership_ok(c.membership)) ||
        (c.not_membership && !membership_ok(c.not_membership))) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'membership' and 'not_membership' must be one of join, invite, leave, "
                        "ban, knock");
        return;
    }
    if (at) {
        int rc = balai_page_token_parse(at, app->epoch, &c.at);
        if (rc == BALAI_ESTATE) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "The 'at' token comes from another server or an older database");
            return;
        }
        if (rc != BALAI_OK) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed 'at' token");
            return;
        }
    }
    if (c.at < balai_room_last_pos(room)) {
        members_at(req, room, &c);
        return;
    }
    balai_buf_init(&c.a.buf, 0);
    balai_room_state_each(room, add_member, &c);
    arr_answer(req, &c.a, "{\"chunk\":", "}");
}

/* ---- GET /joined_members ---- */

struct joined_ctx {
    const struct balai_room *room;
    json_t *joined;
};

static void add_joined(const char *user_id, const char *membership, void *arg)
{
    struct joined_ctx *c = arg;
    struct balai_ev *ev = balai_room_state_ev(c->room, "m.room.member", user_id);
    const json_t *content = ev ? json_object_get(ev->pdu, "content") : NULL;
    json_t *o = json_object(), *v;
    (void)membership;
    /* both keys always, null when unset: some clients (matrix-nio) need them */
    v = json_object_get(content, "displayname");
    json_object_set_new(o, "display_name", json_is_string(v) ? json_incref(v) : json_null());
    v = json_object_get(content, "avatar_url");
    json_object_set_new(o, "avatar_url", json_is_string(v) ? json_incref(v) : json_null());
    json_object_set_new(c->joined, user_id, o);
}

static void get_joined_members(struct balai_http_req *req)
{
    struct balai_room *room = readable_room(req);
    if (!room)
        return;
    struct joined_ctx c = {room, json_object()};
    balai_room_members_each(room, "join", add_joined, &c);
    balai_api_json(req, 200, json_pack("{s:o}", "joined", c.joined));
}

int balai_api_client_room_state_routes(struct balai_app *app)
{
    static const struct {
        const char *pattern;
        balai_http_handler_fn fn;
    } routes[] = {
        {"/_matrix/client/v3/rooms/{roomId}/state", get_state},
        {"/_matrix/client/v3/rooms/{roomId}/state/{eventType}", get_state_type},
        {"/_matrix/client/v3/rooms/{roomId}/state/{eventType}/", get_state_type},
        {"/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}", get_state_type_key},
        {"/_matrix/client/v3/rooms/{roomId}/members", get_members},
        {"/_matrix/client/v3/rooms/{roomId}/joined_members", get_joined_members},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(routes); i++) {
        int rc = balai_api_route(app, BALAI_HTTP_GET, routes[i].pattern, routes[i].fn, 0);
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}
