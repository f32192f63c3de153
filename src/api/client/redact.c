/* redact.c: PUT /rooms/{roomId}/redact/{eventId}/{txnId}.
 *
 * One write carries the m.room.redaction event and the replacement of the
 * target's stored, sealed PDU by its redacted form: the original is
 * destroyed, not hidden. On commit the room's cached copies are replaced as
 * well, so every reader sees the redacted form. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/auth.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/pool.h"
#include "util/alloc.h"
#include "util/map.h"

#define REDACT_MAX_BODY (16 * 1024)

/* One redaction request, while its target is looked up. */
struct redact {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *user_id;
    char *device_id;
    char *event_id;
    char *txn;
    json_t *content;
    struct balai_ev *target;
    int rc;
};

static void redact_free(struct redact *x)
{
    if (!x)
        return;
    balai_ev_unref(x->target);
    json_decref(x->content);
    free(x->user_id);
    free(x->device_id);
    free(x->event_id);
    free(x->txn);
    free(x);
}

static void redact_answer(struct balai_api_write *w)
{
    struct balai_http_req *req = w->arg;
    if (w->op.rc == BALAI_OK && w->nevs) {
        /* event ids are URL-safe base64 behind '$': nothing to escape */
        char body[128];
        int n = snprintf(body, sizeof(body), "{\"event_id\":\"%s\"}", w->evs[0]->event_id);
        balai_http_respond(req, 200, "application/json", body, (size_t)n);
    } else if (w->op.rc == BALAI_EEXIST) {
        balai_api_error(req, 409, "M_UNKNOWN",
                        "This transaction id was used at the same time by another request");
    } else {
        balai_api_error(req, 500, "M_UNKNOWN", "Could not store the redaction; try again");
    }
}

/* The target is known (or not): check and write. Frees x. */
static void redact_write(struct redact *x)
{
    struct balai_http_req *req = x->req;
    struct balai_ev *t = x->target;
    struct balai_api_write *w = NULL;
    char reason[512];
    int rc;

    const char *room_id = t ? json_string_value(json_object_get(t->pdu, "room_id")) : NULL;
    if (!t || !room_id || strcmp(room_id, balai_room_id(x->room)) != 0) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Event not found");
        goto out;
    }
    /* the membership may have changed while the target was read */
    const char *m = balai_room_membership(x->room, x->user_id);
    if (!m || strcmp(m, "join") != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        goto out;
    }
    struct balai_state_lookup view = balai_room_auth_view(x->room);
    if (!t->sender || strcmp(t->sender, x->user_id) != 0) {
        rc = balai_auth_check_redaction(balai_room_version(x->room)->id, x->user_id, t->sender,
                                        &view, reason, sizeof(reason));
        if (rc != BALAI_OK) {
            balai_api_event_error(req, rc == BALAI_EINVAL ? BALAI_EFORBIDDEN : rc, reason);
            goto out;
        }
    }
    w = balai_api_write_new(x->app, x->room);
    rc = balai_api_event_add_redaction(w, x->user_id, t->event_id, x->content, reason,
                                       sizeof(reason));
    if (rc != BALAI_OK) {
        balai_api_event_error(req, rc, reason);
        goto out;
    }
    rc = balai_api_write_redact_target(w, t);
    if (rc != BALAI_OK) {
        balai_api_error(req, 400, "M_UNKNOWN", "This event cannot be redacted");
        goto out;
    }
    w->txn_user = balai_strdup(x->user_id);
    w->txn_device = balai_strdup(x->device_id);
    w->txn_id = balai_strdup(x->txn);
    w->done = redact_answer;
    w->arg = req;
    balai_api_write_submit(w);
    w = NULL;
out:
    balai_api_write_free(w);
    redact_free(x);
}

static int target_collect(const struct balai_event_rec *r, void *arg)
{
    struct redact *x = arg;
    x->target = balai_api_event_unseal(x->app, r);
    return 0;
}

static void target_work(void *arg)
{
    struct redact *x = arg;
    x->rc = balai_store_event_get(x->app->store, x->event_id, target_collect, x);
}

static void target_done(void *arg)
{
    struct redact *x = arg;
    if (x->rc != BALAI_OK && x->rc != BALAI_ENOTFOUND) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not read the event");
        redact_free(x);
        return;
    }
    redact_write(x);
}

static void put_redact(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct redact *x = NULL;
    json_t *body = NULL;
    const char *room_id = req->params[0], *event_id = req->params[1], *txn = req->params[2];

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (balai_api_refuse_suspended(req, user_id)) /* api/dlp.h */
        return;
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        goto out;
    }
    if (event_id[0] != '$' || strlen(event_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed event id: it must start with $");
        goto out;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    const char *m = room ? balai_room_membership(room, user_id) : NULL;
    if (!room || !m || strcmp(m, "join") != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
        goto out;
    }
    if (balai_api_txn_answered(req, user_id, s->device->device_id, txn))
        goto out;
    if (balai_api_body(req, 1, &body) < 0)
        goto out;
    json_t *why = json_object_get(body, "reason");
    if (why && !json_is_string(why)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'reason' must be a string");
        goto out;
    }
    x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->room = room;
    x->user_id = balai_strdup(user_id);
    x->device_id = balai_strdup(s->device->device_id);
    x->event_id = balai_strdup(event_id);
    x->txn = balai_strdup(txn);
    x->content = json_object();
    if (why)
        json_object_set(x->content, "reason", why);
    struct balai_ev *t = balai_room_cached_event(room, event_id);
    if (t) {
        x->target = balai_ev_ref(t);
        redact_write(x);
        x = NULL;
        goto out;
    }
    if (balai_pool_submit(app->work_pool, target_work, target_done, x) != BALAI_OK) {
        balai_api_limit(req, 500);
        goto out;
    }
    x = NULL;
out:
    redact_free(x);
    json_decref(body);
}

int balai_api_client_redact_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_PUT,
                           "/_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}", put_redact,
                           REDACT_MAX_BODY);
}
