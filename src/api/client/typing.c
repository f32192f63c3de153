/* typing.c: PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}.
 *
 * A user says it types in a room (for at most MAX_TIMEOUT_MS) or stopped.
 * Notices are in memory only (sync/typing.h); the loop timer fires at the
 * earliest expiry. Each change wakes the room's joined members, whose /sync
 * then carries the room's m.typing event. */
#include "balai.h"

#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/typing.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/timer.h"
#include "sync/notifier.h"
#include "sync/typing.h"
#include "util/jsonw.h"
#include "util/time.h"

#define LOG_MODULE "typing"
#include "util/log.h"

#define MAX_TIMEOUT_MS 30000
#define MAX_BODY 1024

static void wake_member(const char *user_id, const char *membership, void *arg)
{
    struct balai_app *app = arg;
    (void)membership;
    balai_notifier_wake_user(app->notifier, user_id);
}

static void wake_room(const char *room_id, void *arg)
{
    struct balai_app *app = arg;
    struct balai_room *r = balai_rooms_get(app->rooms, room_id);
    if (r)
        balai_room_members_each(r, "join", wake_member, app);
}

/* Arms the timer for the earliest expiry, or stops it when nobody types. */
static void rearm(struct balai_app *app)
{
    int64_t next = balai_typing_next_expiry(app->typing);
    if (!app->typing_timer)
        return;
    if (next < 0) {
        balai_timer_stop(app->typing_timer);
        return;
    }
    int64_t ms = next - balai_mono_ms();
    balai_timer_start(app->typing_timer, ms > 0 ? (uint64_t)ms : 0, 0);
}

static void on_expiry(void *arg)
{
    struct balai_app *app = arg;
    balai_typing_expire(app->typing, balai_mono_ms(), wake_room, app);
    rearm(app);
}

static void put_typing(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *room_id = req->params[0];
    int64_t timeout = MAX_TIMEOUT_MS;

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (balai_api_refuse_suspended(req, user_id)) /* api/dlp.h */
        return;
    if (strcmp(req->params[1], user_id) != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You can only set your own typing state");
        return;
    }
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid room ID", room_id);
        return;
    }
    if (balai_api_body(req, 0, &body) < 0)
        return;
    json_t *typing = json_object_get(body, "typing");
    json_t *tmo = json_object_get(body, "timeout");
    if (!json_is_boolean(typing)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'typing' must be true or false");
        goto out;
    }
    if (tmo && !json_is_null(tmo)) {
        if (!json_is_number(tmo) || json_number_value(tmo) < 0) {
            balai_api_error(req, 400, "M_BAD_JSON", "'timeout' must be a non-negative number");
            goto out;
        }
        if (json_number_value(tmo) < MAX_TIMEOUT_MS)
            timeout = (int64_t)json_number_value(tmo);
    }
    struct balai_room *r = balai_rooms_get(app->rooms, room_id);
    const char *m = r ? balai_room_membership(r, user_id) : NULL;
    if (!m || strcmp(m, "join") != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
        goto out;
    }
    if (balai_typing_set(app->typing, room_id, user_id, json_is_true(typing),
                         balai_mono_ms() + timeout))
        wake_room(room_id, app);
    rearm(app);
    balai_api_json(req, 200, json_object());
out:
    json_decref(body);
}

/* ---- /sync ---- */

struct typing_ctx {
    struct balai_room *r;
    struct balai_buf *b;
    size_t n;
};

static void visit(const char *user_id, void *arg)
{
    struct typing_ctx *c = arg;
    const char *m = balai_room_membership(c->r, user_id);
    if (!m || strcmp(m, "join") != 0)
        return;
    if (c->b) {
        if (c->n)
            balai_buf_append_char(c->b, ',');
        balai_jsonw_str(c->b, user_id);
    }
    c->n++;
}

size_t balai_api_typing_each(void *src, const char *user_id, const char *room_id, int64_t after,
                             struct balai_buf *b, int comma)
{
    struct balai_app *app = src;
    struct typing_ctx c = {NULL, NULL, 0};
    (void)user_id;

    if (!app->typing || !(c.r = balai_rooms_get(app->rooms, room_id)))
        return 0;
    int64_t pos = balai_typing_room(app->typing, room_id, visit, &c);
    if (after > 0 ? pos <= after : c.n == 0)
        return 0;
    if (!b)
        return 1;
    if (comma)
        balai_buf_append_char(b, ',');
    balai_buf_append_str(b, "{\"type\":\"m.typing\",\"content\":{\"user_ids\":[");
    c.b = b;
    c.n = 0;
    balai_typing_room(app->typing, room_id, visit, &c);
    balai_buf_append_str(b, "]}}");
    return 1;
}

int64_t balai_api_typing_pos(const struct balai_app *app)
{
    return app->typing ? balai_typing_pos(app->typing) : 0;
}

int balai_api_client_typing_routes(struct balai_app *app)
{
    app->typing = balai_typing_new(balai_now_ms());
    app->typing_timer = balai_timer_new(app->loop, on_expiry, app);
    if (!app->typing_timer)
        return BALAI_EIO;
    balai_timer_set_ref(app->typing_timer, 0);
    return balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/rooms/{roomId}/typing/{userId}",
                           put_typing, MAX_BODY);
}

void balai_api_typing_release(struct balai_app *app)
{
    balai_timer_free(app->typing_timer);
    app->typing_timer = NULL;
    balai_typing_free(app->typing);
    app->typing = NULL;
}
