/* devices.c: GET /devices, GET/PUT/DELETE /devices/{deviceId}, POST /delete_devices. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/client/uia.h"
#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "core/accounts.h"
#include "store/store.h"
#include "util/alloc.h"

static json_t *device_json(const struct balai_device *d)
{
    json_t *o = json_pack("{s:s}", "device_id", d->device_id);
    json_object_set_new(o, "display_name",
                        d->display_name ? json_string(d->display_name) : json_null());
    if (d->last_seen_ip[0])
        json_object_set_new(o, "last_seen_ip", json_string(d->last_seen_ip));
    if (d->last_seen_ts)
        json_object_set_new(o, "last_seen_ts", json_integer(d->last_seen_ts));
    return o;
}

static void get_devices(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    json_t *arr = json_array();
    for (struct balai_device *d = s->device->user->devices; d; d = d->next)
        json_array_append_new(arr, device_json(d));
    json_t *o = json_object();
    json_object_set_new(o, "devices", arr);
    balai_api_json(req, 200, o);
}

static void get_device(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_device *d = balai_user_device(s->device->user, req->params[0]);
    if (!d) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such device");
        return;
    }
    balai_api_json(req, 200, device_json(d));
}

/* One op shape serves rename and delete. */
struct devop {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *display_name; /* rename */
    char **ids;         /* delete */
    size_t nids;
    int64_t created_ts, last_seen_ts;
};

static void devop_free(struct devop *d)
{
    free(d->user_id);
    free(d->display_name);
    for (size_t i = 0; i < d->nids; i++)
        free(d->ids[i]);
    free(d->ids);
    free(d);
}

static int rename_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct devop *d = (struct devop *)op;
    struct balai_device_rec r = {d->user_id,    d->ids[0],       d->display_name,
                                 d->created_ts, d->last_seen_ts, NULL};
    return balai_store_txn_device_upsert(t, &r);
}

static void rename_done(struct balai_store_op *op)
{
    struct devop *d = (struct devop *)op;
    struct balai_user *u = balai_accounts_user(d->app->accounts, d->user_id);
    struct balai_device *dev = u ? balai_user_device(u, d->ids[0]) : NULL;
    if (op->rc != BALAI_OK) {
        balai_api_error(d->req, 500, "M_UNKNOWN", "Could not store the device name");
    } else {
        if (dev) {
            free(dev->display_name);
            dev->display_name = balai_strdup(d->display_name);
        }
        balai_api_json(d->req, 200, json_object());
    }
    devop_free(d);
}

static void put_device(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *name;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "display_name", 0, &name) < 0)
        goto out;
    struct balai_device *dev = balai_user_device(s->device->user, req->params[0]);
    if (!dev) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such device");
        goto out;
    }
    if (!name) {
        balai_api_json(req, 200, json_object());
        goto out;
    }
    if (strlen(name) > 512) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'display_name' is longer than 512 characters");
        goto out;
    }
    struct devop *d = balai_calloc(1, sizeof(*d));
    d->app = app;
    d->req = req;
    d->user_id = balai_strdup(s->device->user->user_id);
    d->display_name = balai_strdup(name);
    d->ids = balai_calloc(1, sizeof(char *));
    d->ids[d->nids++] = balai_strdup(dev->device_id);
    d->created_ts = dev->created_ts;
    d->last_seen_ts = dev->last_seen_ts;
    d->op.apply = rename_apply;
    d->op.done = rename_done;
    balai_store_submit(app->store, &d->op);
out:
    json_decref(body);
}

static int delete_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct devop *d = (struct devop *)op;
    for (size_t i = 0; i < d->nids; i++) {
        int rc = balai_store_txn_device_delete(t, d->user_id, d->ids[i]);
        if (rc == BALAI_OK || rc == BALAI_ENOTFOUND)
            rc = balai_store_txn_device_data_delete(t, d->user_id, d->ids[i]);
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}

static void delete_done(struct balai_store_op *op)
{
    struct devop *d = (struct devop *)op;
    struct balai_user *u = balai_accounts_user(d->app->accounts, d->user_id);
    if (op->rc != BALAI_OK) {
        balai_api_error(d->req, 500, "M_UNKNOWN", "Could not delete the devices; try again");
    } else {
        for (size_t i = 0; u && i < d->nids; i++) {
            struct balai_device *dev = balai_user_device(u, d->ids[i]);
            if (!dev)
                continue;
            balai_accounts_remove_device(d->app->accounts, dev);
            balai_api_device_lists_device_gone(d->app, d->user_id, d->ids[i]);
        }
        json_t *devs = json_array();
        for (size_t i = 0; i < d->nids; i++)
            json_array_append_new(devs, json_string(d->ids[i]));
        balai_api_audit_log(d->app, d->user_id, "user.device.delete", d->user_id,
                            json_pack("{s:o}", "devices", devs));
        balai_api_json(d->req, 200, json_object());
    }
    devop_free(d);
}

static void delete_authed(void *arg, int rc)
{
    struct devop *d = arg;
    if (rc != BALAI_OK) {
        devop_free(d);
        return;
    }
    d->op.apply = delete_apply;
    d->op.done = delete_done;
    balai_store_submit(d->app->store, &d->op);
}

static void delete_common(struct balai_http_req *req, int many)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *arr = NULL;
    struct devop *d = NULL;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, !many, &body) < 0)
        goto out;
    struct balai_user *u = s->device->user;
    d = balai_calloc(1, sizeof(*d));
    d->app = app;
    d->req = req;
    d->user_id = balai_strdup(u->user_id);
    if (many) {
        arr = json_object_get(body, "devices");
        if (!arr) {
            balai_api_error(req, 400, "M_MISSING_PARAM", "Missing 'devices'");
            goto out;
        }
        if (!json_is_array(arr) || json_array_size(arr) > 1000) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "'devices' must be an array of at most 1000 device ids");
            goto out;
        }
        d->ids = balai_calloc(json_array_size(arr), sizeof(char *));
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (!json_is_string(v)) {
                balai_api_error(req, 400, "M_BAD_JSON", "'devices' must contain strings");
                goto out;
            }
            d->ids[d->nids++] = balai_strdup(json_string_value(v));
        }
    } else {
        if (!balai_user_device(u, req->params[0])) {
            balai_api_error(req, 404, "M_NOT_FOUND", "No such device");
            goto out;
        }
        d->ids = balai_calloc(1, sizeof(char *));
        d->ids[d->nids++] = balai_strdup(req->params[0]);
    }
    if (balai_uia_check(req, body, u->user_id, delete_authed, d) == BALAI_OK)
        d = NULL;
out:
    if (d)
        devop_free(d);
    json_decref(body);
}

static void delete_device(struct balai_http_req *req)
{
    delete_common(req, 0);
}

static void post_delete_devices(struct balai_http_req *req)
{
    delete_common(req, 1);
}

int balai_api_client_devices_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/devices", get_devices, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/devices/{deviceId}", get_device,
                          0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/devices/{deviceId}", put_device,
                          0);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, "/_matrix/client/v3/devices/{deviceId}",
                          delete_device, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/delete_devices",
                          post_delete_devices, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
