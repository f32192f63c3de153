/* keys.c: end-to-end encryption key endpoints (spec: "End-to-end
 * encryption"), so that clients with encryption built in work:
 *
 *   POST /keys/upload                  device, one-time and fallback keys
 *   POST /keys/query                   device and cross-signing keys of local users
 *   POST /keys/claim                   one one-time (else fallback) key per device
 *   POST /keys/device_signing/upload   cross-signing keys
 *   POST /keys/signatures/upload       accepted, not stored ({"failures":{}}); counts
 *                                      as a change of the uploader's device list
 *   GET  /room_keys/version            404: no key backup
 *
 * Keys are public key material, stored in clear JSON text. A write runs on
 * the writer thread; once committed, memory (api/e2e_keys.h) is updated and
 * the request answered. A claim takes its keys from memory at once so that
 * concurrent claims never hand out the same one-time key.
 *
 * Cross-signing keys: like Synapse, the first upload needs no user-interactive
 * authentication; replacing an existing master key does (m.login.password). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client/uia.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/e2e_keys.h"
#include "core/accounts.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"

#define LOG_MODULE "keys"
#include "util/log.h"

#define MAX_BODY (512 * 1024)
#define MAX_OTKS 1000     /* one-time keys stored per device */
#define MAX_KEY_JSON 8192 /* bytes of one serialised key */

/* ---- the write ---- */

struct kw {
    char *user_id;
    char *device_id;
    char *kind;
    char *key_id;
    char *json; /* NULL: delete */
    int used;
};

enum reply { REPLY_COUNTS, REPLY_JSON };

struct keys_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *device_id;
    struct kw *w;
    size_t n, cap;
    enum reply reply;
    json_t *body;   /* REPLY_JSON: the answer */
    int64_t dl_pos; /* the device-list change, when device or cross-signing keys changed */
};

static struct keys_op *op_new(struct balai_http_req *req, const char *user_id,
                              const char *device_id)
{
    struct keys_op *o = balai_calloc(1, sizeof(*o));
    o->app = balai_api_app(req);
    o->req = req;
    o->user_id = balai_strdup(user_id);
    o->device_id = balai_strdup(device_id);
    return o;
}

static void op_free(struct keys_op *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->w[i].user_id);
        free(o->w[i].device_id);
        free(o->w[i].kind);
        free(o->w[i].key_id);
        free(o->w[i].json);
    }
    free(o->w);
    free(o->user_id);
    free(o->device_id);
    json_decref(o->body);
    free(o);
}

/* Adds a write of a key of user_id (strings copied; json NULL deletes the key). */
static void op_add_of(struct keys_op *o, const char *user_id, const char *device_id,
                      const char *kind, const char *key_id, const char *json, int used)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->w = balai_realloc(o->w, o->cap * sizeof(*o->w));
    }
    struct kw *w = &o->w[o->n++];
    w->user_id = balai_strdup(user_id);
    w->device_id = balai_strdup(device_id);
    w->kind = balai_strdup(kind);
    w->key_id = balai_strdup(key_id);
    w->json = json ? balai_strdup(json) : NULL;
    w->used = used;
}

/* Adds a write of a key of the caller. */
static void op_add(struct keys_op *o, const char *device_id, const char *kind, const char *key_id,
                   const char *json, int used)
{
    op_add_of(o, o->user_id, device_id, kind, key_id, json, used);
}

static int op_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct keys_op *o = (struct keys_op *)op;
    int rc = BALAI_OK;

    for (size_t i = 0; i < o->n && rc == BALAI_OK; i++) {
        struct kw *w = &o->w[i];
        if (w->json)
            rc = balai_store_txn_e2e_key_set(t, w->user_id, w->device_id, w->kind, w->key_id,
                                             w->json, w->used);
        else
            rc = balai_store_txn_e2e_key_delete(t, w->user_id, w->device_id, w->kind, w->key_id);
        if (rc == BALAI_OK && !o->dl_pos &&
            (strcmp(w->kind, BALAI_E2E_DEVICE) == 0 || strcmp(w->kind, BALAI_E2E_XSIGN) == 0))
            rc = balai_api_device_lists_txn(t, o->user_id, &o->dl_pos);
    }
    return rc;
}

static void op_done(struct balai_store_op *op)
{
    struct keys_op *o = (struct keys_op *)op;
    struct balai_app *app = o->app;

    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing keys of %s failed: %s", o->user_id, balai_strerror(op->rc));
        balai_api_error(o->req, 500, "M_UNKNOWN", "Could not store the keys; try again");
        goto out;
    }
    for (size_t i = 0; i < o->n; i++) {
        struct kw *w = &o->w[i];
        if (w->json)
            balai_api_e2e_keys_put(app->e2e_keys, w->user_id, w->device_id, w->kind, w->key_id,
                                   w->json, w->used);
        else
            balai_api_e2e_keys_del(app->e2e_keys, w->user_id, w->device_id, w->kind, w->key_id);
    }
    balai_api_device_lists_note(app, o->user_id, o->dl_pos);
    if (o->reply == REPLY_COUNTS) {
        json_t *counts = balai_api_e2e_keys_counts(app->e2e_keys, o->user_id, o->device_id);
        balai_api_json(o->req, 200, json_pack("{s:o}", "one_time_key_counts", counts));
    } else {
        balai_api_json(o->req, 200, o->body);
        o->body = NULL;
    }
out:
    op_free(o);
}

static void op_submit(struct keys_op *o)
{
    o->op.apply = op_apply;
    o->op.done = op_done;
    balai_store_submit(o->app->store, &o->op);
}

/* ---- upload ---- */

/* A key's serialised form (keys sorted), or NULL after answering 400. */
static char *key_json(struct balai_http_req *req, const char *what, json_t *v)
{
    size_t len;
    char *s;

    if (!json_is_object(v) && !json_is_string(v)) {
        balai_api_error(req, 400, "M_BAD_JSON", "Each of '%s' must be an object or a string", what);
        return NULL;
    }
    s = balai_json_dump(v, 1, &len);
    if (!s || len > MAX_KEY_JSON) {
        free(s);
        balai_api_error(req, 400, "M_BAD_JSON", "A key of '%s' is too large", what);
        return NULL;
    }
    return s;
}

/* Checks the device_keys object and queues its write. */
static int upload_device_keys(struct balai_http_req *req, struct keys_op *o, json_t *dk)
{
    const char *uid = json_string_value(json_object_get(dk, "user_id"));
    const char *did = json_string_value(json_object_get(dk, "device_id"));

    if (!json_is_object(dk) || !json_is_object(json_object_get(dk, "keys")) ||
        !json_is_array(json_object_get(dk, "algorithms"))) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "'device_keys' must be an object with 'keys' and 'algorithms'");
        return BALAI_EINVAL;
    }
    if (!uid || !did || strcmp(uid, o->user_id) != 0 || strcmp(did, o->device_id) != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'device_keys' must be for your own user and device");
        return BALAI_EINVAL;
    }
    char *s = key_json(req, "device_keys", dk);
    if (!s)
        return BALAI_EINVAL;
    op_add(o, o->device_id, BALAI_E2E_DEVICE, "", s, 0);
    free(s);
    return BALAI_OK;
}

/* Checks a one_time_keys or fallback_keys object and queues its writes. */
static int upload_keys(struct balai_http_req *req, struct keys_op *o, const char *what,
                       json_t *keys, int fallback)
{
    struct balai_e2e_keys *k = o->app->e2e_keys;
    const char *key_id;
    json_t *v;

    if (!json_is_object(keys)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'%s' must be an object", what);
        return BALAI_EINVAL;
    }
    if (!fallback &&
        balai_api_e2e_keys_otk_total(k, o->user_id, o->device_id) + json_object_size(keys) >
            MAX_OTKS) {
        balai_api_error(req, 400, "M_LIMIT_EXCEEDED", "A device keeps at most %d one-time keys",
                        MAX_OTKS);
        return BALAI_EINVAL;
    }
    json_object_foreach(keys, key_id, v)
    {
        char *alg = balai_api_e2e_key_algorithm(key_id);
        if (!alg || strlen(key_id) > 255) {
            free(alg);
            balai_api_error(req, 400, "M_BAD_JSON", "Key IDs in '%s' must be <algorithm>:<id>",
                            what);
            return BALAI_EINVAL;
        }
        free(alg);
        char *s = key_json(req, what, v);
        if (!s)
            return BALAI_EINVAL;
        int used = 0;
        const char *kind = fallback ? BALAI_E2E_FALLBACK : BALAI_E2E_OTK;
        const char *old = balai_api_e2e_keys_get(k, o->user_id, o->device_id, kind, key_id, &used);
        if (old && strcmp(old, s) != 0 && !fallback) {
            free(s);
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "One-time key %s already exists with other content", key_id);
            return BALAI_EINVAL;
        }
        op_add(o, o->device_id, kind, key_id, s, old && strcmp(old, s) == 0 ? used : 0);
        free(s);
    }
    return BALAI_OK;
}

struct fb_ctx {
    struct keys_op *o;
    json_t *keys; /* the uploaded fallback keys */
};

static void fb_old(const char *kind, const char *key_id, const char *json, int used, void *arg)
{
    struct fb_ctx *c = arg;
    const char *new_id;
    json_t *v;

    (void)json;
    (void)used;
    if (strcmp(kind, BALAI_E2E_FALLBACK) != 0 || json_object_get(c->keys, key_id))
        return;
    char *alg = balai_api_e2e_key_algorithm(key_id);
    json_object_foreach(c->keys, new_id, v)
    {
        char *nalg = balai_api_e2e_key_algorithm(new_id);
        int same = alg && nalg && strcmp(alg, nalg) == 0;
        free(nalg);
        if (same) {
            op_add(c->o, c->o->device_id, BALAI_E2E_FALLBACK, key_id, NULL, 0);
            break;
        }
    }
    free(alg);
}

/* Deletes the device's fallback keys of the algorithms being uploaded,
 * except those uploaded again: one fallback key per algorithm. */
static void replace_fallbacks(struct keys_op *o, json_t *keys)
{
    struct fb_ctx c = {o, keys};
    balai_api_e2e_keys_each(o->app->e2e_keys, o->user_id, o->device_id, fb_old, &c);
}

static void post_upload(struct balai_http_req *req)
{
    struct balai_session *s;
    json_t *body = NULL, *v;
    struct keys_op *o = NULL;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    o = op_new(req, s->device->user->user_id, s->device->device_id);
    o->reply = REPLY_COUNTS;
    v = json_object_get(body, "device_keys");
    if (v && !json_is_null(v) && upload_device_keys(req, o, v) < 0)
        goto out;
    v = json_object_get(body, "one_time_keys");
    if (v && !json_is_null(v) && upload_keys(req, o, "one_time_keys", v, 0) < 0)
        goto out;
    v = json_object_get(body, "fallback_keys");
    if (v && !json_is_null(v)) {
        if (upload_keys(req, o, "fallback_keys", v, 1) < 0)
            goto out;
        replace_fallbacks(o, v);
    }
    op_submit(o);
    o = NULL;
out:
    op_free(o);
    json_decref(body);
}

/* ---- query ---- */

static const char *const XSIGN[][2] = {
    {"master", "master_keys"},
    {"self_signing", "self_signing_keys"},
    {"user_signing", "user_signing_keys"},
};

/* The stored device keys of d with unsigned.device_display_name, or NULL. */
static json_t *device_keys_of(struct balai_app *app, const struct balai_device *d)
{
    const char *json = balai_api_e2e_keys_get(app->e2e_keys, d->user->user_id, d->device_id,
                                              BALAI_E2E_DEVICE, "", NULL);
    json_t *v = json ? json_loads(json, 0, NULL) : NULL;

    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    if (d->display_name) {
        json_t *u = json_object_get(v, "unsigned");
        if (!json_is_object(u)) {
            u = json_object();
            json_object_set_new(v, "unsigned", u);
        }
        json_object_set_new(u, "device_display_name", json_string(d->display_name));
    }
    return v;
}

/* Whether the array of device ids is empty or names device_id. */
static int wanted(json_t *ids, const char *device_id)
{
    size_t i;
    json_t *v;

    if (json_array_size(ids) == 0)
        return 1;
    json_array_foreach(ids, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), device_id) == 0)
            return 1;
    }
    return 0;
}

static void post_query(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *dk, *ids, *out = NULL;
    const char *user_id;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    dk = json_object_get(body, "device_keys");
    if (!json_is_object(dk)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'device_keys' must be an object");
        goto out;
    }
    json_object_foreach(dk, user_id, ids)
    {
        if (!json_is_array(ids)) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "Each entry of 'device_keys' must be a list of device IDs");
            goto out;
        }
    }
    out = json_pack("{s:{},s:{},s:{},s:{},s:{}}", "device_keys", "failures", "master_keys",
                    "self_signing_keys", "user_signing_keys");
    json_object_foreach(dk, user_id, ids)
    {
        struct balai_user *u = balai_accounts_user(app->accounts, user_id);
        if (!u)
            continue;
        json_t *devs = json_object();
        for (const struct balai_device *d = u->devices; d; d = d->next) {
            json_t *keys = wanted(ids, d->device_id) ? device_keys_of(app, d) : NULL;
            if (keys)
                json_object_set_new(devs, d->device_id, keys);
        }
        json_object_set_new(json_object_get(out, "device_keys"), user_id, devs);
        for (size_t i = 0; i < BALAI_ARRAY_LEN(XSIGN); i++) {
            const char *json = balai_api_e2e_keys_get(app->e2e_keys, user_id, "", BALAI_E2E_XSIGN,
                                                      XSIGN[i][0], NULL);
            json_t *v = json ? json_loads(json, 0, NULL) : NULL;
            /* The user-signing key is only shown to its owner. */
            if (v && i == 2 && strcmp(user_id, s->device->user->user_id) != 0) {
                json_decref(v);
                v = NULL;
            }
            if (v)
                json_object_set_new(json_object_get(out, XSIGN[i][1]), user_id, v);
        }
    }
    balai_api_json(req, 200, out);
    out = NULL;
out:
    json_decref(out);
    json_decref(body);
}

/* ---- claim ---- */

static void post_claim(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *otk, *devs, *alg, *result;
    const char *user_id, *device_id;
    struct keys_op *o = NULL;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    otk = json_object_get(body, "one_time_keys");
    if (!json_is_object(otk)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'one_time_keys' must be an object");
        goto out;
    }
    json_object_foreach(otk, user_id, devs)
    {
        if (!json_is_object(devs)) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "Each user of 'one_time_keys' must map "
                            "device IDs to algorithms");
            goto out;
        }
        json_object_foreach(devs, device_id, alg)
        {
            if (!json_is_string(alg)) {
                balai_api_error(req, 400, "M_BAD_JSON", "Algorithms must be strings");
                goto out;
            }
        }
    }
    o = op_new(req, s->device->user->user_id, s->device->device_id);
    result = json_object();
    json_object_foreach(otk, user_id, devs)
    {
        json_t *udevs = json_object();
        json_object_foreach(devs, device_id, alg)
        {
            char *key_id = NULL, *json = NULL;
            int fallback = 0;
            if (balai_api_e2e_keys_claim(app->e2e_keys, user_id, device_id, json_string_value(alg),
                                         &key_id, &json, &fallback) != BALAI_OK)
                continue;
            if (fallback)
                op_add_of(o, user_id, device_id, BALAI_E2E_FALLBACK, key_id, json, 1);
            else
                op_add_of(o, user_id, device_id, BALAI_E2E_OTK, key_id, NULL, 0);
            json_t *kv = json_loads(json, JSON_DECODE_ANY, NULL);
            if (kv)
                json_object_set_new(udevs, device_id, json_pack("{s:o}", key_id, kv));
            free(key_id);
            free(json);
        }
        if (json_object_size(udevs))
            json_object_set_new(result, user_id, udevs);
        else
            json_decref(udevs);
    }
    o->reply = REPLY_JSON;
    o->body = json_pack("{s:o,s:{}}", "one_time_keys", result, "failures");
    if (o->n == 0) {
        balai_api_json(req, 200, o->body);
        o->body = NULL;
        goto out;
    }
    op_submit(o);
    o = NULL;
out:
    op_free(o);
    json_decref(body);
}

/* ---- cross-signing, signatures, changes, backup ---- */

static void signing_authed(void *arg, int rc)
{
    struct keys_op *o = arg;

    if (rc != BALAI_OK) {
        op_free(o);
        return;
    }
    op_submit(o);
}

static void post_device_signing(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    struct keys_op *o = NULL;
    int replaces = 0;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    const char *user_id = s->device->user->user_id;
    o = op_new(req, user_id, s->device->device_id);
    o->reply = REPLY_JSON;
    o->body = json_object();
    for (size_t i = 0; i < BALAI_ARRAY_LEN(XSIGN); i++) {
        char field[32];
        snprintf(field, sizeof(field), "%s_key", XSIGN[i][0]);
        json_t *v = json_object_get(body, field);
        if (!v || json_is_null(v))
            continue;
        const char *uid = json_string_value(json_object_get(v, "user_id"));
        if (!json_is_object(v) || !json_is_object(json_object_get(v, "keys")) ||
            !json_is_array(json_object_get(v, "usage"))) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "'%s' must be an object with 'keys' and 'usage'", field);
            goto out;
        }
        if (!uid || strcmp(uid, user_id) != 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' must be for your own user", field);
            goto out;
        }
        char *json = key_json(req, field, v);
        if (!json)
            goto out;
        const char *old =
            balai_api_e2e_keys_get(app->e2e_keys, user_id, "", BALAI_E2E_XSIGN, XSIGN[i][0], NULL);
        if (i == 0 && old && strcmp(old, json) != 0)
            replaces = 1;
        op_add(o, "", BALAI_E2E_XSIGN, XSIGN[i][0], json, 0);
        free(json);
    }
    if (!replaces) {
        op_submit(o);
        o = NULL;
    } else if (balai_uia_check(req, body, user_id, signing_authed, o) == BALAI_OK) {
        o = NULL;
    }
out:
    op_free(o);
    json_decref(body);
}

static void post_signatures(struct balai_http_req *req)
{
    struct balai_session *s;
    json_t *body = NULL;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    json_decref(body);
    balai_api_device_lists_changed(balai_api_app(req), s->device->user->user_id);
    balai_api_json(req, 200, json_pack("{s:{}}", "failures"));
}

static void get_backup_version(struct balai_http_req *req)
{
    struct balai_session *s;

    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_error(req, 404, "M_NOT_FOUND", "No current backup version");
}

int balai_api_client_keys_routes(struct balai_app *app)
{
    const size_t max = MAX_BODY;
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/keys/upload", post_upload, max);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/keys/query", post_query, max);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/keys/claim", post_claim, max);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/keys/device_signing/upload",
                          post_device_signing, max);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/keys/signatures/upload",
                          post_signatures, max);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/room_keys/version",
                          get_backup_version, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
