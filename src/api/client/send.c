/* send.c: PUT /rooms/{roomId}/send/{eventType}/{txnId} and
 * PUT /rooms/{roomId}/state/{eventType}[/{stateKey}]: the path of one message
 * (DESIGN.md §3), through the event pipeline of api/events.h. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "util/alloc.h"
#include "util/map.h"

/* Large enough for any event that fits the spec's 65,536-byte PDU limit;
 * the pipeline answers M_TOO_LARGE for the rest. */
#define SEND_MAX_BODY (96 * 1024)

static void send_done(struct balai_api_write *w)
{
    struct balai_http_req *req = w->arg;
    if (w->op.rc == BALAI_OK && w->nevs) {
        /* event ids are URL-safe base64 behind '$': nothing to escape */
        char body[128];
        int n = snprintf(body, sizeof(body), "{\"event_id\":\"%s\"}", w->evs[0]->event_id);
        balai_http_respond(req, 200, "application/json", body, (size_t)n);
    } else if (w->op.rc == BALAI_EEXIST)
        balai_api_error(req, 409, "M_UNKNOWN",
                        "This transaction id was used at the same time by another request");
    else
        balai_api_error(req, 500, "M_UNKNOWN", "Could not store the event; try again");
}

/* A send DLP acted on: an incident waits for the event id, and when the
 * content was masked the answer tells the sender. */
struct dlp_send {
    struct balai_http_req *req;
    json_t *findings; /* masked: the findings for the answer */
    struct balai_api_dlp_pending *pending;
};

static void send_dlp_done(struct balai_api_write *w)
{
    struct dlp_send *m = w->arg;
    int ok = w->op.rc == BALAI_OK && w->nevs;
    balai_api_dlp_pending_done(w->app, m->pending, ok ? w->evs[0]->event_id : NULL);
    if (ok && m->findings) {
        balai_api_dlp_answer_masked(m->req, w->evs[0]->event_id, m->findings);
        m->findings = NULL;
    } else {
        w->arg = m->req;
        send_done(w);
    }
    json_decref(m->findings);
    free(m);
}

/* Finds the room or answers: 400 for a malformed id, 403 when unknown (not
 * revealing which rooms exist). */
static struct balai_room *room_of(struct balai_http_req *req, const char *room_id)
{
    struct balai_app *app = balai_api_app(req);
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return NULL;
    }
    struct balai_room *r = balai_rooms_get(app->rooms, room_id);
    if (!r)
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not a member of this room");
    return r;
}

static void write_one(struct balai_http_req *req, struct balai_session *s, const char *room_id,
                      const char *type, const char *state_key, const char *txn)
{
    struct balai_app *app = balai_api_app(req);
    const char *user_id = s->device->user->user_id;
    struct balai_api_write *w = NULL;
    json_t *body = NULL, *masked = NULL;
    struct balai_api_dlp_pending *pending = NULL;
    char reason[512];

    if (balai_api_refuse_suspended(req, user_id))
        goto out;
    struct balai_room *room = room_of(req, room_id);
    if (!room)
        goto out;
    if (txn && (balai_api_dlp_held_answered(req, user_id, s->device->device_id, txn) ||
                balai_api_txn_answered(req, user_id, s->device->device_id, txn)))
        goto out;
    if (balai_api_body(req, 1, &body) < 0)
        goto out;
    /* before persist: DLP (api/dlp.h) may change the content or answer */
    struct balai_api_dlp_event de = {.sender = user_id,
                                     .room_id = room_id,
                                     .label = balai_api_dlp_room_label(app, room),
                                     .type = type,
                                     .state_key = state_key,
                                     .can_hold = 1};
    if (balai_api_dlp_check_txn(req, &de, txn ? s->device->device_id : NULL, txn, body, &masked,
                                &pending))
        goto out;
    w = balai_api_write_new(app, room);
    int rc = balai_api_event_add(w, user_id, type, state_key, body, reason, sizeof(reason));
    if (rc != BALAI_OK) {
        balai_api_event_error(req, rc, reason);
        goto out;
    }
    if (txn) {
        w->txn_user = balai_strdup(user_id);
        w->txn_device = balai_strdup(s->device->device_id);
        w->txn_id = balai_strdup(txn);
    }
    w->done = send_done;
    w->arg = req;
    if (masked || pending) {
        struct dlp_send *m = balai_calloc(1, sizeof(*m));
        m->req = req;
        m->findings = masked;
        m->pending = pending;
        masked = NULL;
        pending = NULL;
        w->done = send_dlp_done;
        w->arg = m;
    }
    balai_api_write_submit(w);
    w = NULL;
out:
    balai_api_write_free(w);
    balai_api_dlp_pending_done(app, pending, NULL); /* req may be answered (freed) */
    json_decref(masked);
    json_decref(body);
}

static void put_send(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    write_one(req, s, req->params[0], req->params[1], NULL, req->params[2]);
}

static void put_state(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    write_one(req, s, req->params[0], req->params[1], req->nparams > 2 ? req->params[2] : "", NULL);
}

int balai_api_client_send_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_PUT,
                          "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", put_send,
                          SEND_MAX_BODY);
    rc |=
        balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}",
                        put_state, SEND_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_PUT,
                          "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}",
                          put_state, SEND_MAX_BODY);
    /* an empty state key written as a trailing slash (matrix-js-sdk does) */
    rc |=
        balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/",
                        put_state, SEND_MAX_BODY);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
