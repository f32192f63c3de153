/* to_device.c: PUT /sendToDevice/{eventType}/{txnId}: messages to devices
 * of local users ({"messages": {user: {device or "*": content}}}).
 *
 * Each target device gets the message at its own "to_device" stream
 * position; once committed, memory (api/to_device.h) is updated and every
 * target user's parked /sync wakes. A transaction ID already used by the
 * sending device (since the server started) is answered {} without sending
 * again. Unknown users and devices, and remote users, are skipped. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/to_device.h"
#include "core/accounts.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/json.h"

#define LOG_MODULE "to_device"
#include "util/log.h"

#define MAX_BODY (1024 * 1024)
#define MAX_TARGETS 10000

struct target {
    char *user_id;
    char *device_id;
    char *content;
    int64_t pos;
};

struct td_send {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *sender;
    char *sender_device;
    char *type;
    char *txn_id;
    struct target *t;
    size_t n, cap;
};

static void send_free(struct td_send *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->t[i].user_id);
        free(o->t[i].device_id);
        free(o->t[i].content);
    }
    free(o->t);
    free(o->sender);
    free(o->sender_device);
    free(o->type);
    free(o->txn_id);
    free(o);
}

static void add_target(struct td_send *o, const char *user_id, const char *device_id,
                       const char *content)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->t = balai_realloc(o->t, o->cap * sizeof(*o->t));
    }
    struct target *t = &o->t[o->n++];
    t->user_id = balai_strdup(user_id);
    t->device_id = balai_strdup(device_id);
    t->content = balai_strdup(content);
    t->pos = 0;
}

static int send_apply(struct balai_store_txn *txn, struct balai_store_op *op)
{
    struct td_send *o = (struct td_send *)op;
    int rc = BALAI_OK;

    for (size_t i = 0; i < o->n && rc == BALAI_OK; i++) {
        char *sealed =
            balai_api_to_device_seal(o->app, o->t[i].user_id, o->t[i].device_id, o->t[i].content);
        if (!sealed)
            return BALAI_ECRYPTO;
        rc = balai_store_txn_to_device_add(txn, o->t[i].user_id, o->t[i].device_id, o->sender,
                                           o->type, sealed, &o->t[i].pos);
        free(sealed);
    }
    return rc;
}

static void send_done(struct balai_store_op *op)
{
    struct td_send *o = (struct td_send *)op;
    struct balai_app *app = o->app;

    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing to-device messages of %s failed: %s", o->sender, balai_strerror(op->rc));
        balai_api_to_device_txn_forget(app->to_device, o->sender, o->sender_device, o->txn_id);
        balai_api_error(o->req, 500, "M_UNKNOWN", "Could not store the messages; try again");
        goto out;
    }
    for (size_t i = 0; i < o->n; i++)
        balai_api_to_device_add(app->to_device, o->t[i].user_id, o->t[i].device_id, o->t[i].pos,
                                o->sender, o->type, o->t[i].content);
    for (size_t i = 0; i < o->n; i++) {
        if (i == 0 || strcmp(o->t[i].user_id, o->t[i - 1].user_id) != 0)
            balai_notifier_wake_user(app->notifier, o->t[i].user_id);
    }
    balai_api_json(o->req, 200, json_object());
out:
    send_free(o);
}

/* Adds the targets of one user's entry; answers 400 and fails on bad input. */
static int user_targets(struct balai_http_req *req, struct td_send *o, const char *user_id,
                        json_t *devs)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    const char *device_id;
    json_t *content;

    if (!json_is_object(devs)) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "Each user of 'messages' must map devices to "
                        "contents");
        return BALAI_EINVAL;
    }
    json_object_foreach(devs, device_id, content)
    {
        if (!json_is_object(content)) {
            balai_api_error(req, 400, "M_BAD_JSON", "Each message content must be an object");
            return BALAI_EINVAL;
        }
        if (!u || u->deactivated)
            continue;
        char *json = balai_json_dump(content, 0, NULL);
        if (!json) {
            balai_api_error(req, 400, "M_BAD_JSON", "A message content cannot be encoded");
            return BALAI_EINVAL;
        }
        for (const struct balai_device *d = u->devices; d; d = d->next) {
            if (strcmp(device_id, "*") == 0 || strcmp(device_id, d->device_id) == 0)
                add_target(o, user_id, d->device_id, json);
        }
        free(json);
        if (o->n > MAX_TARGETS) {
            balai_api_error(req, 400, "M_LIMIT_EXCEEDED", "At most %d devices per request",
                            MAX_TARGETS);
            return BALAI_EINVAL;
        }
    }
    return BALAI_OK;
}

static void put_send(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *msgs, *devs;
    struct td_send *o = NULL;
    const char *user_id;
    const char *type = req->params[0], *txn_id = req->params[1];

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    size_t tlen = strlen(type);
    if (tlen == 0 || tlen > 255 || strlen(txn_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Bad event type or transaction ID");
        goto out;
    }
    msgs = json_object_get(body, "messages");
    if (!json_is_object(msgs)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'messages' must be an object");
        goto out;
    }
    o = balai_calloc(1, sizeof(*o));
    o->app = app;
    o->req = req;
    o->sender = balai_strdup(s->device->user->user_id);
    o->sender_device = balai_strdup(s->device->device_id);
    o->type = balai_strdup(type);
    o->txn_id = balai_strdup(txn_id);
    json_object_foreach(msgs, user_id, devs)
    {
        if (user_targets(req, o, user_id, devs) < 0)
            goto out;
    }
    if (balai_api_to_device_txn_seen(app->to_device, o->sender, o->sender_device, txn_id) ||
        o->n == 0) {
        balai_api_json(req, 200, json_object());
        goto out;
    }
    o->op.apply = send_apply;
    o->op.done = send_done;
    balai_store_submit(app->store, &o->op);
    o = NULL;
out:
    send_free(o);
    json_decref(body);
}

int balai_api_client_to_device_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_PUT,
                           "/_matrix/client/v3/sendToDevice/{eventType}/{txnId}", put_send,
                           MAX_BODY);
}
