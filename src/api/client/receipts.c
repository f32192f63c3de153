/* receipts.c: read receipts and read markers.
 *
 *   POST /rooms/{roomId}/receipt/{receiptType}/{eventId}   {thread_id?}
 *   POST /rooms/{roomId}/read_markers   {m.fully_read?, m.read?, m.read.private?}
 *
 * m.read and m.read.private are receipts (api/receipts.h, table receipts);
 * m.fully_read is the room's account data of that type, {"event_id": ...}
 * (api/account_data.h). All the writes of one request go in one store op;
 * once committed, memory is updated and those who can see the change wake:
 * the room's joined members for m.read, the caller only otherwise. The event
 * of POST /receipt must exist in that room (400 M_INVALID_PARAM otherwise:
 * the spec names no error for it): looked up in the room's cached timeline,
 * else in the store on the work pool; read_markers checks only the ids'
 * form. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "api/common.h"
#include "api/receipts.h"
#include "api/unread.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/pool.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/time.h"

#define LOG_MODULE "receipts"
#include "util/log.h"

#define MAX_BODY 4096
#define MAX_ID 255
#define FULLY_READ "m.fully_read"

struct receipt {
    const char *type; /* static: BALAI_RECEIPT_READ or _PRIVATE */
    char *event_id;
    char *thread_id;
    int64_t pos;
};

struct rc_write {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *room_id;
    int64_t ts;
    struct receipt r[2];
    size_t nr;
    char *fully_read; /* account data content, or NULL */
    size_t fr_len;
    int64_t fr_pos;
};

static void write_free(struct rc_write *w)
{
    for (size_t i = 0; i < w->nr; i++) {
        free(w->r[i].event_id);
        free(w->r[i].thread_id);
    }
    free(w->user_id);
    free(w->room_id);
    free(w->fully_read);
    free(w);
}

static int write_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct rc_write *w = (struct rc_write *)op;
    int rc = BALAI_OK;

    for (size_t i = 0; rc == BALAI_OK && i < w->nr; i++)
        rc = balai_store_txn_receipt_set(t, w->room_id, w->user_id, w->r[i].type, w->r[i].thread_id,
                                         w->r[i].event_id, w->ts, &w->r[i].pos);
    if (rc == BALAI_OK && w->fully_read)
        rc = balai_api_account_data_txn_set(w->app, t, w->user_id, w->room_id, FULLY_READ,
                                            w->fully_read, w->fr_len, &w->fr_pos);
    return rc;
}

static void wake_member(const char *user_id, const char *membership, void *arg)
{
    struct balai_app *app = arg;
    (void)membership;
    balai_notifier_wake_user(app->notifier, user_id);
}

static void write_done(struct balai_store_op *op)
{
    struct rc_write *w = (struct rc_write *)op;
    struct balai_app *app = w->app;
    int public = 0;

    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing a receipt failed: %s", balai_strerror(op->rc));
        balai_api_error(w->req, 500, "M_UNKNOWN", "Could not store the receipt; try again");
        write_free(w);
        return;
    }
    for (size_t i = 0; i < w->nr; i++) {
        balai_api_receipts_put(app->receipts, w->room_id, w->user_id, w->r[i].type,
                               w->r[i].thread_id, w->r[i].event_id, w->ts, w->r[i].pos);
        balai_api_unread_receipt(app, w->room_id, w->user_id, w->r[i].type, w->r[i].thread_id,
                                 w->r[i].event_id);
        public |= strcmp(w->r[i].type, BALAI_RECEIPT_READ) == 0;
    }
    if (w->fully_read)
        balai_api_account_data_put(app->account_data, w->user_id, w->room_id, FULLY_READ,
                                   w->fully_read, w->fr_len, w->fr_pos);
    struct balai_room *r = balai_rooms_get(app->rooms, w->room_id);
    if (public && r)
        balai_room_members_each(r, "join", wake_member, app);
    balai_notifier_wake_user(app->notifier, w->user_id);
    balai_api_json(w->req, 200, json_object());
    write_free(w);
}

/* ---- checks ---- */

/* An event id: '$' then 1..254 printable bytes. */
static int event_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n < 2 || n > MAX_ID || id[0] != '$')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)id[i] <= 0x20 || id[i] == 0x7f)
            return 0;
    }
    return 1;
}

/* Checks {roomId}: well formed (400) and joined by the caller (403). */
static int room_ok(struct balai_http_req *req, const char *user_id, const char *room_id)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_room *r;
    const char *m;

    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid room ID", room_id);
        return BALAI_EINVAL;
    }
    r = balai_rooms_get(app->rooms, room_id);
    m = r ? balai_room_membership(r, user_id) : NULL;
    if (!m || strcmp(m, "join") != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You are not joined to this room");
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

static struct rc_write *write_new(struct balai_app *app, struct balai_http_req *req,
                                  const char *user_id, const char *room_id)
{
    struct rc_write *w = balai_calloc(1, sizeof(*w));
    w->app = app;
    w->req = req;
    w->user_id = balai_strdup(user_id);
    w->room_id = balai_strdup(room_id);
    w->ts = balai_now_ms();
    w->op.apply = write_apply;
    w->op.done = write_done;
    return w;
}

static void add_receipt(struct rc_write *w, const char *type, const char *event_id,
                        const char *thread_id)
{
    struct receipt *r = &w->r[w->nr++];
    r->type = strcmp(type, BALAI_RECEIPT_READ) == 0 ? BALAI_RECEIPT_READ : BALAI_RECEIPT_PRIVATE;
    r->event_id = balai_strdup(event_id);
    r->thread_id = balai_strdup(thread_id ? thread_id : "");
}

static void set_fully_read(struct rc_write *w, const char *event_id)
{
    json_t *o = json_pack("{s:s}", "event_id", event_id);
    w->fully_read = balai_json_dump(o, 0, &w->fr_len);
    json_decref(o);
}

/* ---- the receipt's event ---- */

struct ev_check {
    struct rc_write *w;
    char *event_id;
    char *room_id; /* of the stored event, NULL when none */
    int rc;
};

static int ev_check_row(const struct balai_event_rec *r, void *arg)
{
    struct ev_check *c = arg;
    c->room_id = balai_strdup(r->room_id);
    return 0;
}

static void ev_check_work(void *arg)
{
    struct ev_check *c = arg;
    c->rc = balai_store_event_get(c->w->app->store, c->event_id, ev_check_row, c);
}

static void ev_check_done(void *arg)
{
    struct ev_check *c = arg;
    struct rc_write *w = c->w;

    if (c->rc != BALAI_OK && c->rc != BALAI_ENOTFOUND) {
        balai_api_error(w->req, 500, "M_UNKNOWN", "Could not look the event up; try again");
        write_free(w);
    } else if (!c->room_id || strcmp(c->room_id, w->room_id) != 0) {
        balai_api_error(w->req, 400, "M_INVALID_PARAM", "Event %s is not in this room",
                        c->event_id);
        write_free(w);
    } else {
        balai_store_submit(w->app->store, &w->op);
    }
    free(c->event_id);
    free(c->room_id);
    free(c);
}

/* Submits w once event_id is known to be an event of w's room (from the
 * cache at once, else looked up on the work pool); answers 400 otherwise. */
static void submit_if_event(struct rc_write *w, const char *event_id)
{
    struct balai_app *app = w->app;
    struct balai_room *r = balai_rooms_get(app->rooms, w->room_id);

    if (r && balai_room_cached_event(r, event_id)) {
        balai_store_submit(app->store, &w->op);
        return;
    }
    if (r && balai_room_cache_floor(r) <= balai_room_first_pos(r)) {
        /* the cache holds the whole room: the event is not in it */
        balai_api_error(w->req, 400, "M_INVALID_PARAM", "Event %s is not in this room", event_id);
        write_free(w);
        return;
    }
    struct ev_check *c = balai_calloc(1, sizeof(*c));
    c->w = w;
    c->event_id = balai_strdup(event_id);
    if (balai_pool_submit(app->work_pool, ev_check_work, ev_check_done, c) != BALAI_OK) {
        balai_api_limit(w->req, 500);
        write_free(w);
        free(c->event_id);
        free(c);
    }
}

/* ---- endpoints ---- */

static void post_receipt(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *room_id = req->params[0];
    const char *type = req->params[1];
    const char *event_id = req->params[2];
    const char *thread_id = NULL;

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid room ID", room_id);
        return;
    }
    if (strcmp(type, BALAI_RECEIPT_READ) != 0 && strcmp(type, BALAI_RECEIPT_PRIVATE) != 0 &&
        strcmp(type, FULLY_READ) != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "The receipt type must be m.read, m.read.private or m.fully_read");
        return;
    }
    if (!event_id_ok(event_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid event ID", event_id);
        return;
    }
    if (balai_api_body(req, 1, &body) < 0)
        return;
    if (balai_api_str(req, body, "thread_id", 0, &thread_id) < 0)
        goto out;
    if (thread_id && (!thread_id[0] || strlen(thread_id) > MAX_ID ||
                      (strcmp(thread_id, "main") != 0 && !event_id_ok(thread_id)))) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'thread_id' must be \"main\" or the ID of a thread's root event");
        goto out;
    }
    if (thread_id && strcmp(type, FULLY_READ) == 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "m.fully_read cannot be threaded");
        goto out;
    }
    if (room_ok(req, user_id, room_id) < 0)
        goto out;
    struct rc_write *w = write_new(app, req, user_id, room_id);
    if (strcmp(type, FULLY_READ) == 0)
        set_fully_read(w, event_id);
    else
        add_receipt(w, type, event_id, thread_id);
    submit_if_event(w, event_id);
out:
    json_decref(body);
}

static void post_read_markers(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *room_id = req->params[0];
    static const char *const keys[] = {FULLY_READ, BALAI_RECEIPT_READ, BALAI_RECEIPT_PRIVATE};
    const char *ids[3] = {NULL, NULL, NULL};

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is not a valid room ID", room_id);
        return;
    }
    if (balai_api_body(req, 0, &body) < 0)
        return;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++) {
        if (balai_api_str(req, body, keys[i], 0, &ids[i]) < 0)
            goto out;
        if (ids[i] && !event_id_ok(ids[i])) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' must be an event ID", keys[i]);
            goto out;
        }
    }
    if (room_ok(req, user_id, room_id) < 0)
        goto out;
    if (!ids[0] && !ids[1] && !ids[2]) {
        balai_api_json(req, 200, json_object());
        goto out;
    }
    struct rc_write *w = write_new(app, req, user_id, room_id);
    if (ids[0])
        set_fully_read(w, ids[0]);
    for (size_t i = 1; i < 3; i++) {
        if (ids[i])
            add_receipt(w, keys[i], ids[i], NULL);
    }
    balai_store_submit(app->store, &w->op);
out:
    json_decref(body);
}

int balai_api_client_receipts_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_POST,
                          "/_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}",
                          post_receipt, MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/read_markers",
                          post_read_markers, MAX_BODY);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
