/* account.c: GET /account/whoami and POST /account/password. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/client/uia.h"
#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/passwords.h"
#include "core/accounts.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"

#define LOG_MODULE "account"
#include "util/log.h"

static void get_whoami(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    json_t *o = json_pack("{s:s, s:s, s:b}", "user_id", s->device->user->user_id, "device_id",
                          s->device->device_id, "is_guest", 0);
    balai_api_json(req, 200, o);
}

struct pwchange {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *keep_device;
    char *new_password;
    char hash[BALAI_PWHASH_STRBYTES];
    int logout_devices;
    char **others;
    size_t nothers;
    char *actor;        /* for the audit entry */
    const char *action; /* audit action name (static) */
};

static void pwchange_free(struct pwchange *p)
{
    free(p->user_id);
    free(p->keep_device);
    free(p->actor);
    if (p->new_password) {
        balai_wipe(p->new_password, strlen(p->new_password));
        free(p->new_password);
    }
    for (size_t i = 0; i < p->nothers; i++)
        free(p->others[i]);
    free(p->others);
    free(p);
}

static int pwchange_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct pwchange *p = (struct pwchange *)op;
    int rc = balai_store_txn_user_set_password(t, p->user_id, p->hash);
    for (size_t i = 0; rc == BALAI_OK && i < p->nothers; i++) {
        rc = balai_store_txn_device_delete(t, p->user_id, p->others[i]);
        if (rc == BALAI_OK || rc == BALAI_ENOTFOUND)
            rc = balai_store_txn_device_data_delete(t, p->user_id, p->others[i]);
    }
    return rc;
}

static void pwchange_done(struct balai_store_op *op)
{
    struct pwchange *p = (struct pwchange *)op;
    struct balai_user *u = balai_accounts_user(p->app->accounts, p->user_id);
    if (op->rc != BALAI_OK || !u) {
        balai_api_error(p->req, 500, "M_UNKNOWN", "Could not store the new password; try again");
        goto out;
    }
    balai_user_set_password_hash(u, p->hash);
    for (size_t i = 0; i < p->nothers; i++) {
        struct balai_device *d = balai_user_device(u, p->others[i]);
        if (d)
            balai_accounts_remove_device(p->app->accounts, d);
        balai_api_device_lists_device_gone(p->app, p->user_id, p->others[i]);
    }
    LOG_INFO("password changed for %s (%zu other devices logged out)", p->user_id, p->nothers);
    balai_api_audit_log(p->app, p->actor, p->action, p->user_id,
                        json_pack("{s:I}", "devices_logged_out", (json_int_t)p->nothers));
    balai_api_json(p->req, 200, json_object());
out:
    pwchange_free(p);
}

static void pwchange_hashed(void *arg, int rc, const char *hash)
{
    struct pwchange *p = arg;
    if (rc != BALAI_OK) {
        balai_api_error(p->req, 500, "M_UNKNOWN", "Could not hash the new password");
        pwchange_free(p);
        return;
    }
    snprintf(p->hash, sizeof(p->hash), "%s", hash);
    struct balai_user *u = balai_accounts_user(p->app->accounts, p->user_id);
    if (u && p->logout_devices) {
        size_t n = 0;
        for (struct balai_device *d = u->devices; d; d = d->next)
            n++;
        p->others = balai_calloc(n, sizeof(char *));
        for (struct balai_device *d = u->devices; d; d = d->next) {
            if (!p->keep_device || strcmp(d->device_id, p->keep_device) != 0)
                p->others[p->nothers++] = balai_strdup(d->device_id);
        }
    }
    p->op.apply = pwchange_apply;
    p->op.done = pwchange_done;
    balai_store_submit(p->app->store, &p->op);
}

static void pwchange_authed(void *arg, int rc)
{
    struct pwchange *p = arg;
    if (rc != BALAI_OK) {
        pwchange_free(p);
        return;
    }
    if (balai_api_pw_hash(p->app, p->new_password, pwchange_hashed, p) != BALAI_OK) {
        balai_api_limit(p->req, 1000);
        pwchange_free(p);
    }
}

static void post_password(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *pw;
    int logout = 1;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "new_password", 1, &pw) < 0 ||
        balai_api_bool(req, body, "logout_devices", &logout) < 0)
        goto out;
    const char *user_id = s->device->user->user_id;
    if (balai_api_password_ok(req, user_id, pw) < 0)
        goto out;
    struct pwchange *p = balai_calloc(1, sizeof(*p));
    p->app = app;
    p->req = req;
    p->user_id = balai_strdup(user_id);
    p->keep_device = balai_strdup(s->device->device_id);
    p->new_password = balai_strdup(pw);
    p->logout_devices = logout;
    p->actor = balai_strdup(user_id);
    p->action = "user.password.change";
    if (balai_uia_check(req, body, user_id, pwchange_authed, p) != BALAI_OK)
        pwchange_free(p);
out:
    json_decref(body);
}

void balai_api_password_set(struct balai_http_req *req, const char *user_id, const char *pw,
                            int logout_devices, const char *actor, const char *action)
{
    struct pwchange *p = balai_calloc(1, sizeof(*p));
    p->app = balai_api_app(req);
    p->req = req;
    p->user_id = balai_strdup(user_id);
    p->new_password = balai_strdup(pw);
    p->logout_devices = logout_devices;
    p->actor = balai_strdup(actor);
    p->action = action;
    pwchange_authed(p, BALAI_OK);
}

int balai_api_client_account_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/account/whoami", get_whoami, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/account/password",
                          post_password, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
