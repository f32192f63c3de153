/* account_data.c: global and per-room account data, and room tags.
 *
 *   GET/PUT /user/{userId}/account_data/{type}
 *   GET/PUT /user/{userId}/rooms/{roomId}/account_data/{type}
 *   GET     /user/{userId}/rooms/{roomId}/tags
 *   PUT/DELETE /user/{userId}/rooms/{roomId}/tags/{tag}
 *
 * Tags are the per-room account data m.tag ({"tags": {name: {order?}}}).
 * A write seals the content with the user's data key on the writer thread;
 * once committed, memory (api/account_data.h) is updated and the user's
 * parked /sync wakes. Tag edits build on the newest submitted m.tag, so that
 * edits in flight at once are not lost. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "api/common.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/json.h"

#define LOG_MODULE "account_data"
#include "util/log.h"

#define MAX_CONTENT (64 * 1024)
#define MAX_NAME 255
#define TAG_TYPE "m.tag"

/* ---- the write ---- */

struct ad_write {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *room_id; /* "" for global data */
    char *type;
    char *json;
    size_t len;
    int pending; /* registered with pending_begin */
    int64_t pos;
};

static void write_free(struct ad_write *w)
{
    free(w->user_id);
    free(w->room_id);
    free(w->type);
    free(w->json);
    free(w);
}

static int write_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct ad_write *w = (struct ad_write *)op;
    return balai_api_account_data_txn_set(w->app, t, w->user_id, w->room_id, w->type, w->json,
                                          w->len, &w->pos);
}

static void write_done(struct balai_store_op *op)
{
    struct ad_write *w = (struct ad_write *)op;
    struct balai_app *app = w->app;

    if (w->pending)
        balai_api_account_data_pending_end(app->account_data, w->user_id, w->room_id, w->type);
    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing account data %s failed: %s", w->type, balai_strerror(op->rc));
        balai_api_error(w->req, 500, "M_UNKNOWN", "Could not store the account data; try again");
    } else {
        balai_api_account_data_put(app->account_data, w->user_id, w->room_id, w->type, w->json,
                                   w->len, w->pos);
        balai_notifier_wake_user(app->notifier, w->user_id);
        balai_api_json(w->req, 200, json_object());
    }
    write_free(w);
}

/* Submits the write of `content` (serialised here); answers when committed. */
static void submit(struct balai_http_req *req, const char *user_id, const char *room_id,
                   const char *type, const json_t *content, int pending)
{
    struct balai_app *app = balai_api_app(req);
    size_t len;
    char *json = balai_json_dump(content, 0, &len);

    if (!json) {
        balai_api_error(req, 400, "M_BAD_JSON", "The content cannot be encoded");
        return;
    }
    if (len > MAX_CONTENT) {
        free(json);
        balai_api_error(req, 413, "M_TOO_LARGE", "Account data is at most %d bytes", MAX_CONTENT);
        return;
    }
    struct ad_write *w = balai_calloc(1, sizeof(*w));
    w->app = app;
    w->req = req;
    w->user_id = balai_strdup(user_id);
    w->room_id = balai_strdup(room_id ? room_id : "");
    w->type = balai_strdup(type);
    w->json = json;
    w->len = len;
    if (pending) {
        balai_api_account_data_pending_begin(app->account_data, user_id, w->room_id, type, json);
        w->pending = 1;
    }
    w->op.apply = write_apply;
    w->op.done = write_done;
    balai_store_submit(app->store, &w->op);
}

/* ---- checks ---- */

/* Authenticates and checks that {userId} is the caller. */
static int own_user(struct balai_http_req *req, struct balai_session **s)
{
    if (balai_api_auth(req, s) < 0)
        return BALAI_EAUTH;
    if (strcmp(req->params[0], (*s)->device->user->user_id) != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You can only access your own account data");
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

/* Checks {roomId}: well formed, and a room the caller has a membership in. */
static int room_ok(struct balai_http_req *req, const char *user_id, const char *room_id)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_room *r;

    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid room ID", room_id);
        return BALAI_EINVAL;
    }
    r = balai_rooms_get(app->rooms, room_id);
    if (!r || !balai_room_membership(r, user_id)) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

/* A type or tag name: 1..255 bytes, no control characters. */
static int name_ok(struct balai_http_req *req, const char *what, const char *name)
{
    size_t n = strlen(name);
    int bad = n == 0 || n > MAX_NAME;
    for (size_t i = 0; !bad && i < n; i++)
        bad = (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
    if (bad) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "The %s must be 1 to %d printable bytes", what,
                        MAX_NAME);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

/* ---- account data ---- */

static void get_data(struct balai_http_req *req, const char *room_id, const char *type)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    size_t len;

    if (own_user(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (room_id && room_ok(req, user_id, room_id) < 0)
        return;
    const char *json = balai_api_account_data_get(app->account_data, user_id, room_id, type, &len);
    if (!json) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No account data of this type");
        return;
    }
    balai_http_respond(req, 200, "application/json", json, len);
}

static void put_data(struct balai_http_req *req, const char *room_id, const char *type)
{
    struct balai_session *s;
    json_t *body = NULL;

    if (own_user(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (room_id && room_ok(req, user_id, room_id) < 0)
        return;
    if (name_ok(req, "type", type) < 0)
        return;
    if (strcmp(type, "m.fully_read") == 0 || strcmp(type, "m.push_rules") == 0) {
        balai_api_error(req, 405, "M_BAD_JSON",
                        "%s cannot be set as account data; use its own endpoint", type);
        return;
    }
    if (balai_api_body(req, 0, &body) < 0)
        return;
    submit(req, user_id, room_id, type, body, strcmp(type, TAG_TYPE) == 0 && room_id);
    json_decref(body);
}

static void get_global(struct balai_http_req *req)
{
    get_data(req, NULL, req->params[1]);
}

static void put_global(struct balai_http_req *req)
{
    put_data(req, NULL, req->params[1]);
}

static void get_room(struct balai_http_req *req)
{
    get_data(req, req->params[1], req->params[2]);
}

static void put_room(struct balai_http_req *req)
{
    put_data(req, req->params[1], req->params[2]);
}

/* ---- tags ---- */

/* The newest m.tag content of the room as a new object with a "tags" object. */
static json_t *tags_latest(struct balai_app *app, const char *user_id, const char *room_id)
{
    const char *json = balai_api_account_data_latest(app->account_data, user_id, room_id, TAG_TYPE);
    json_t *o = json ? json_loads(json, 0, NULL) : NULL;

    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    if (!json_is_object(json_object_get(o, "tags")))
        json_object_set_new(o, "tags", json_object());
    return o;
}

static void get_tags(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (own_user(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (room_ok(req, user_id, req->params[1]) < 0)
        return;
    const char *json =
        balai_api_account_data_get(app->account_data, user_id, req->params[1], TAG_TYPE, NULL);
    json_t *o = json ? json_loads(json, 0, NULL) : NULL;
    json_t *tags = json_object_get(o, "tags");
    tags = json_is_object(tags) ? json_incref(tags) : json_object();
    balai_api_json(req, 200, json_pack("{s:o}", "tags", tags));
    json_decref(o);
}

static void tag_edit(struct balai_http_req *req, int del)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *content = NULL;

    if (own_user(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    const char *room_id = req->params[1];
    const char *tag = req->params[2];
    if (room_ok(req, user_id, room_id) < 0 || name_ok(req, "tag", tag) < 0)
        return;
    if (!del) {
        if (balai_api_body(req, 0, &body) < 0)
            return;
        json_t *order = json_object_get(body, "order");
        if (order && (!json_is_number(order) || json_number_value(order) < 0 ||
                      json_number_value(order) > 1)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'order' must be a number from 0 to 1");
            goto out;
        }
    }
    content = tags_latest(app, user_id, room_id);
    json_t *tags = json_object_get(content, "tags");
    if (del)
        json_object_del(tags, tag);
    else
        json_object_set(tags, tag, body);
    submit(req, user_id, room_id, TAG_TYPE, content, 1);
out:
    json_decref(body);
    json_decref(content);
}

static void put_tag(struct balai_http_req *req)
{
    tag_edit(req, 0);
}

static void delete_tag(struct balai_http_req *req)
{
    tag_edit(req, 1);
}

int balai_api_client_account_data_routes(struct balai_app *app)
{
    const size_t max = MAX_CONTENT;
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_GET,
                          "/_matrix/client/v3/user/{userId}/account_data/{type}", get_global, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT,
                          "/_matrix/client/v3/user/{userId}/account_data/{type}", put_global, max);
    rc |= balai_api_route(app, BALAI_HTTP_GET,
                          "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}",
                          get_room, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT,
                          "/_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}",
                          put_room, max);
    rc |= balai_api_route(app, BALAI_HTTP_GET,
                          "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags", get_tags, 0);
    rc |=
        balai_api_route(app, BALAI_HTTP_PUT,
                        "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", put_tag, max);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE,
                          "/_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}", delete_tag,
                          0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
