/* login.c: GET/POST /login, /logout, /logout/all, and /register (refused:
 * accounts come from admins and provisioning). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/directory.h"
#include "api/passwords.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/throttle.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

#define LOG_MODULE "login"
#include "util/log.h"

struct login {
    struct balai_store_op op; /* first: the store hands it back */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *device_id;
    char *device_name;
    char *token;
    uint8_t hash[32];
    int64_t now;
    int64_t dl_pos; /* the device-list change of the login */
};

static void login_free(struct login *l)
{
    if (!l)
        return;
    free(l->user_id);
    free(l->device_id);
    free(l->device_name);
    if (l->token) {
        balai_wipe(l->token, strlen(l->token));
        free(l->token);
    }
    free(l);
}

static void get_login(struct balai_http_req *req)
{
    json_t *o = json_pack("{s:[{s:s}]}", "flows", "type", "m.login.password");
    balai_api_json(req, 200, o);
}

static int login_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct login *l = (struct login *)op;
    struct balai_device_rec d = {l->user_id, l->device_id, l->device_name, l->now, l->now, NULL};
    struct balai_token_rec tok;
    int rc = balai_store_txn_device_delete(t, l->user_id, l->device_id);
    if (rc != BALAI_OK && rc != BALAI_ENOTFOUND)
        return rc;
    rc = balai_store_txn_device_upsert(t, &d);
    if (rc != BALAI_OK)
        return rc;
    memcpy(tok.hash, l->hash, sizeof(tok.hash));
    tok.user_id = l->user_id;
    tok.device_id = l->device_id;
    tok.created_ts = l->now;
    rc = balai_store_txn_token_insert(t, &tok);
    return rc == BALAI_OK ? balai_api_device_lists_txn(t, l->user_id, &l->dl_pos) : rc;
}

static void login_done(struct balai_store_op *op)
{
    struct login *l = (struct login *)op;
    struct balai_app *app = l->app;
    struct balai_user *u = balai_accounts_user(app->accounts, l->user_id);

    if (op->rc != BALAI_OK || !u) {
        LOG_ERROR("storing the login of %s failed: %s", l->user_id, balai_strerror(op->rc));
        balai_api_error(l->req, 500, "M_UNKNOWN", "Could not store the login; try again");
        goto out;
    }
    if (u->deactivated) {
        balai_api_error(l->req, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
        goto out;
    }
    struct balai_device *d = balai_user_device(u, l->device_id);
    if (d) {
        while (d->sessions)
            balai_accounts_revoke_session(app->accounts, d->sessions);
    }
    balai_api_device_lists_note(app, l->user_id, l->dl_pos);
    d = balai_accounts_add_device(app->accounts, u, l->device_id, l->device_name, l->now);
    d->last_seen_ts = l->now;
    snprintf(d->last_seen_ip, sizeof(d->last_seen_ip), "%s", l->req->peer_ip);
    balai_accounts_add_session(app->accounts, d, l->hash);
    LOG_INFO("login %s device %s from %s", l->user_id, l->device_id, l->req->peer_ip);
    balai_api_audit_log(
        app, l->user_id, "user.login", l->user_id,
        json_pack("{s:s, s:s}", "address", l->req->peer_ip, "device_id", l->device_id));
    balai_api_json(l->req, 200,
                   json_pack("{s:s, s:s, s:s, s:s}", "user_id", l->user_id, "access_token",
                             l->token, "device_id", l->device_id, "home_server", app->server_name));
out:
    login_free(l);
}

static void login_verified(void *arg, int rc, const char *unused)
{
    struct login *l = arg;
    struct balai_app *app = l->app;
    (void)unused;

    if (rc != BALAI_OK) {
        balai_throttle_hit(app->login_account, l->user_id, balai_mono_ms());
        LOG_INFO("failed login for %s from %s", l->user_id, l->req->peer_ip);
        balai_api_audit_log(app, l->user_id, "user.login_failed", l->user_id,
                            json_pack("{s:s}", "address", l->req->peer_ip));
        balai_api_error(l->req, 403, "M_FORBIDDEN", "Invalid username or password");
        login_free(l);
        return;
    }
    balai_throttle_reset(app->login_account, l->user_id);
    if (balai_api_directory_access_refused(app, l->user_id)) {
        balai_api_error(l->req, 403, "M_FORBIDDEN",
                        "Your guest access has expired; ask your sponsor to extend it");
        login_free(l);
        return;
    }
    if (!l->device_id)
        l->device_id = balai_random_alnum(10);
    l->token = balai_random_token(32);
    balai_sha256(l->token, strlen(l->token), l->hash);
    l->now = balai_now_ms();
    l->op.apply = login_apply;
    l->op.done = login_done;
    balai_store_submit(app->store, &l->op);
}

static int device_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] == 0x7f)
            return 0;
    }
    return 1;
}

static void post_login(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    json_t *body = NULL, *ident = NULL;
    const char *type, *user = NULL, *password, *device_id, *device_name;
    struct login *l = NULL;
    int64_t retry, now = balai_mono_ms();
    char *user_id = NULL;

    if (balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "type", 1, &type) < 0)
        goto out;
    if (strcmp(type, "m.login.password") != 0) {
        balai_api_error(req, 400, "M_UNKNOWN", "Unsupported login type '%s'", type);
        goto out;
    }
    ident = json_object_get(body, "identifier");
    if (ident) {
        const char *itype;
        if (!json_is_object(ident)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'identifier' must be an object");
            goto out;
        }
        if (balai_api_str(req, ident, "type", 1, &itype) < 0)
            goto out;
        if (strcmp(itype, "m.id.user") != 0) {
            balai_api_error(req, 400, "M_UNKNOWN", "Unsupported identifier type '%s'", itype);
            goto out;
        }
        if (balai_api_str(req, ident, "user", 1, &user) < 0)
            goto out;
    } else if (balai_api_str(req, body, "user", 1, &user) < 0) {
        goto out;
    }
    if (balai_api_str(req, body, "password", 1, &password) < 0 ||
        balai_api_str(req, body, "device_id", 0, &device_id) < 0 ||
        balai_api_str(req, body, "initial_device_display_name", 0, &device_name) < 0)
        goto out;
    if (device_id && !device_id_ok(device_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'device_id' must be 1 to 255 printable characters without spaces");
        goto out;
    }
    if (device_name && strlen(device_name) > 512) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'initial_device_display_name' is longer than 512 characters");
        goto out;
    }
    if (balai_throttle_check(app->login_ip, req->peer_ip, now, &retry) != BALAI_OK) {
        balai_api_limit(req, retry);
        goto out;
    }
    balai_throttle_hit(app->login_ip, req->peer_ip, now);
    if (balai_id_user_normalise(user, app->server_name, &user_id) != BALAI_OK) {
        balai_api_error(req, 403, "M_FORBIDDEN", "Invalid username or password");
        goto out;
    }
    if (balai_throttle_check(app->login_account, user_id, now, &retry) != BALAI_OK) {
        balai_api_limit(req, retry);
        goto out;
    }
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    l = balai_calloc(1, sizeof(*l));
    l->app = app;
    l->req = req;
    l->user_id = user_id;
    user_id = NULL;
    l->device_id = balai_strdup(device_id);
    l->device_name = balai_strdup(device_name);
    const char *hash = u && !u->deactivated && !u->system ? u->password_hash : NULL;
    if (balai_api_pw_verify(app, hash, password, login_verified, l) != BALAI_OK) {
        balai_api_limit(req, 1000);
        login_free(l);
        goto out;
    }
out:
    free(user_id);
    json_decref(body);
}

/* ---- logout ---- */

struct logout {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char **device_ids;
    size_t ndevices;
    int all;
};

static void logout_free(struct logout *l)
{
    for (size_t i = 0; i < l->ndevices; i++)
        free(l->device_ids[i]);
    free(l->device_ids);
    free(l->user_id);
    free(l);
}

static int logout_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct logout *l = (struct logout *)op;
    for (size_t i = 0; i < l->ndevices; i++) {
        int rc = balai_store_txn_device_delete(t, l->user_id, l->device_ids[i]);
        if (rc == BALAI_OK || rc == BALAI_ENOTFOUND)
            rc = balai_store_txn_device_data_delete(t, l->user_id, l->device_ids[i]);
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}

static void logout_done(struct balai_store_op *op)
{
    struct logout *l = (struct logout *)op;
    if (op->rc != BALAI_OK) {
        balai_api_error(l->req, 500, "M_UNKNOWN", "Could not store the logout; try again");
    } else {
        for (size_t i = 0; i < l->ndevices; i++)
            balai_api_device_lists_device_gone(l->app, l->user_id, l->device_ids[i]);
        json_t *devs = json_array();
        for (size_t i = 0; i < l->ndevices; i++)
            json_array_append_new(devs, json_string(l->device_ids[i]));
        balai_api_audit_log(l->app, l->user_id, l->all ? "user.logout_all" : "user.logout",
                            l->user_id, json_pack("{s:o}", "devices", devs));
        balai_api_json(l->req, 200, json_object());
    }
    logout_free(l);
}

static void logout_common(struct balai_http_req *req, int all)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_user *u = s->device->user;
    struct logout *l = balai_calloc(1, sizeof(*l));
    l->app = app;
    l->req = req;
    l->user_id = balai_strdup(u->user_id);
    l->all = all;
    if (all) {
        size_t n = 0;
        for (struct balai_device *d = u->devices; d; d = d->next)
            n++;
        l->device_ids = balai_calloc(n, sizeof(char *));
        for (struct balai_device *d = u->devices; d; d = d->next)
            l->device_ids[l->ndevices++] = balai_strdup(d->device_id);
        while (u->devices)
            balai_accounts_remove_device(app->accounts, u->devices);
    } else {
        l->device_ids = balai_calloc(1, sizeof(char *));
        l->device_ids[l->ndevices++] = balai_strdup(s->device->device_id);
        balai_accounts_remove_device(app->accounts, s->device);
    }
    l->op.apply = logout_apply;
    l->op.done = logout_done;
    balai_store_submit(app->store, &l->op);
}

static void post_logout(struct balai_http_req *req)
{
    logout_common(req, 0);
}

static void post_logout_all(struct balai_http_req *req)
{
    logout_common(req, 1);
}

static void post_register(struct balai_http_req *req)
{
    balai_api_error(req, 403, "M_FORBIDDEN",
                    "Registration is disabled: accounts are created by your organisation's "
                    "administrators. Ask your IT team for an account.");
}

static void get_register_available(struct balai_http_req *req)
{
    post_register(req);
}

int balai_api_client_login_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/login", get_login, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/login", post_login, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/logout", post_logout, 0);
    rc |=
        balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/logout/all", post_logout_all, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/register", post_register, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/register/available",
                          get_register_available, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
