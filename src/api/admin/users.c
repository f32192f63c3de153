/* users.c: the admin API for accounts, /_balai/admin/v1/users.
 *
 *   GET  /users?from=USER_ID&limit=N    page through users sorted by id
 *   GET  /users/{userId}                 one user with their devices
 *   POST /users                          create {username, password?, admin?, displayname?}
 *   POST /users/{userId}/password        set a password {password, logout_devices?}
 *   POST /users/{userId}/deactivate      revoke every session, remove devices, block login
 *
 * Requires an admin's access token, or the server's unix socket (the CLI). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/directory.h"
#include "api/passwords.h"
#include "api/rules.h"
#include "api/stewardship.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

#define LOG_MODULE "admin"
#include "util/log.h"

static json_t *user_json(const struct balai_user *u, int with_devices)
{
    json_t *o = json_pack("{s:s, s:b, s:b, s:b, s:I}", "user_id", u->user_id, "admin", u->admin,
                          "deactivated", u->deactivated, "system", u->system, "created_ts",
                          (json_int_t)u->created_ts);
    json_object_set_new(o, "displayname",
                        u->displayname ? json_string(u->displayname) : json_null());
    if (with_devices) {
        json_t *arr = json_array();
        for (struct balai_device *d = u->devices; d; d = d->next) {
            json_t *dj =
                json_pack("{s:s, s:I, s:I}", "device_id", d->device_id, "created_ts",
                          (json_int_t)d->created_ts, "last_seen_ts", (json_int_t)d->last_seen_ts);
            json_object_set_new(dj, "display_name",
                                d->display_name ? json_string(d->display_name) : json_null());
            json_array_append_new(arr, dj);
        }
        json_object_set_new(o, "devices", arr);
    }
    return o;
}

static void list_users(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *from = balai_http_req_query(req, "from");
    const char *lim = balai_http_req_query(req, "limit");
    long limit = 100;

    if (balai_api_auth_admin(req, &s) < 0)
        return;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || limit < 1 || limit > 1000) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be between 1 and 1000");
            return;
        }
    }
    struct balai_user **page = balai_malloc((size_t)(limit + 1) * sizeof(*page));
    size_t n =
        balai_accounts_list(app->accounts, from && *from ? from : NULL, (size_t)limit + 1, page);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(arr, user_json(page[i], 0));
    json_t *o = json_pack("{s:o, s:I}", "users", arr, "total",
                          (json_int_t)balai_accounts_user_count(app->accounts));
    if (n > (size_t)limit)
        json_object_set_new(o, "next_from", json_string(page[limit - 1]->user_id));
    free(page);
    balai_api_json(req, 200, o);
}

static void get_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth_admin(req, &s) < 0)
        return;
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);
    if (!u) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %s", req->params[0]);
        return;
    }
    balai_api_json(req, 200, user_json(u, 1));
}

/* ---- create ---- */

struct create {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *password;
    char *displayname;
    char hash[BALAI_PWHASH_STRBYTES];
    int has_hash;
    int admin;
    int64_t now;
    struct balai_api_audit_entry *audit; /* committed with the user */
};

static void create_free(struct create *c)
{
    balai_api_audit_entry_done(c->app, c->audit, c->op.rc);
    free(c->user_id);
    if (c->password) {
        balai_wipe(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->displayname);
    free(c);
}

static int create_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct create *c = (struct create *)op;
    struct balai_user_rec u = {
        c->user_id, c->has_hash ? c->hash : NULL, c->admin, 0, 0, c->displayname, NULL, c->now};
    int rc = balai_store_txn_user_insert(t, &u);
    if (rc == BALAI_OK)
        rc = balai_api_audit_entry_append(t, c->audit);
    return rc;
}

static void create_done(struct balai_store_op *op)
{
    struct create *c = (struct create *)op;
    struct balai_app *app = c->app;
    if (op->rc == BALAI_EEXIST) {
        balai_api_error(c->req, 400, "M_USER_IN_USE", "The user %s already exists", c->user_id);
    } else if (op->rc != BALAI_OK) {
        balai_api_error(c->req, 500, "M_UNKNOWN", "Could not store the user; try again");
    } else {
        struct balai_user *u = balai_accounts_add_user(
            app->accounts, c->user_id, c->has_hash ? c->hash : NULL, c->admin, 0, c->now);
        if (u && c->displayname)
            balai_user_set_displayname(u, c->displayname);
        LOG_INFO("created user %s%s", c->user_id, c->admin ? " (admin)" : "");
        balai_api_rules_on_person_changed(app, c->user_id); /* membership rules */
        balai_api_json(c->req, 200,
                       json_pack("{s:s, s:b}", "user_id", c->user_id, "admin", c->admin));
    }
    create_free(c);
}

static void create_hashed(void *arg, int rc, const char *hash)
{
    struct create *c = arg;
    if (rc != BALAI_OK) {
        balai_api_error(c->req, 500, "M_UNKNOWN", "Could not hash the password");
        create_free(c);
        return;
    }
    snprintf(c->hash, sizeof(c->hash), "%s", hash);
    c->has_hash = 1;
    balai_store_submit(c->app->store, &c->op);
}

static void create_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *username, *password, *displayname;
    int admin = 0;
    char *user_id = NULL;

    if (balai_api_auth_admin(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "username", 1, &username) < 0 ||
        balai_api_str(req, body, "password", 0, &password) < 0 ||
        balai_api_str(req, body, "displayname", 0, &displayname) < 0 ||
        balai_api_bool(req, body, "admin", &admin) < 0)
        goto out;
    if (balai_id_user_normalise(username, app->server_name, &user_id) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_USERNAME",
                        "User names use only a-z, 0-9 and . _ = - / + (at most 200 characters)");
        goto out;
    }
    if (balai_accounts_user(app->accounts, user_id)) {
        balai_api_error(req, 400, "M_USER_IN_USE", "The user %s already exists", user_id);
        goto out;
    }
    /* admin: true makes an owner (api/directory.h ROLES): only owners may */
    if (admin && !balai_gov_role_may(balai_api_caller_role(app, s), BALAI_GOV_ROLE_GRANT_OWNER)) {
        balai_api_error(req, 403, "M_FORBIDDEN", "Only an owner may create administrators");
        goto out;
    }
    if (displayname && strlen(displayname) > 256) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'displayname' is too long");
        goto out;
    }
    if (password && balai_api_password_ok(req, user_id, password) < 0)
        goto out;
    struct create *c = balai_calloc(1, sizeof(*c));
    c->app = app;
    c->req = req;
    c->user_id = user_id;
    user_id = NULL;
    c->password = balai_strdup(password);
    /* without one, the display name is the localpart, as clients expect */
    c->displayname = displayname ? balai_strdup(displayname) : balai_id_localpart(c->user_id);
    c->admin = admin;
    c->now = balai_now_ms();
    c->op.apply = create_apply;
    c->op.done = create_done;
    c->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), "admin.user.create",
                                         c->user_id, json_pack("{s:b}", "admin", admin));
    if (!password) {
        balai_store_submit(app->store, &c->op);
    } else if (balai_api_pw_hash(app, password, create_hashed, c) != BALAI_OK) {
        balai_api_limit(req, 1000);
        create_free(c);
    }
out:
    free(user_id);
    json_decref(body);
}

/* ---- deactivate ---- */

struct deact {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    struct balai_api_audit_entry *audit; /* committed with the deactivation */
};

static int deact_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct deact *d = (struct deact *)op;
    int rc = balai_store_txn_user_deactivate(t, d->user_id);
    rc = rc == BALAI_OK ? balai_store_txn_device_data_delete(t, d->user_id, NULL) : rc;
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, d->audit) : rc;
}

static void deact_done(struct balai_store_op *op)
{
    struct deact *d = (struct deact *)op;
    if (op->rc != BALAI_OK) {
        balai_api_error(d->req, 500, "M_UNKNOWN", "Could not store the deactivation; try again");
    } else {
        LOG_INFO("deactivated user %s", d->user_id);
        balai_api_device_lists_device_gone(d->app, d->user_id, NULL);
        balai_api_rules_on_person_changed(d->app, d->user_id); /* rule rooms go */
        balai_api_json(d->req, 200,
                       json_pack("{s:s, s:b}", "user_id", d->user_id, "deactivated", 1));
    }
    balai_api_audit_entry_done(d->app, d->audit, op->rc);
    free(d->user_id);
    free(d);
}

/* POST /users/{userId}/password {password, logout_devices?}: an administrator
 * sets a person's password (a new hire imported from the directory, a
 * forgotten password). Every device is logged out unless logout_devices is
 * false. */
static void set_password(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *pw;
    int logout = 1;

    if (balai_api_auth_admin(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "password", 1, &pw) < 0 ||
        balai_api_bool(req, body, "logout_devices", &logout) < 0)
        goto out;
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);
    if (!u) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %s", req->params[0]);
        goto out;
    }
    if (u->system) {
        balai_api_error(req, 403, "M_FORBIDDEN", "The system user cannot log in");
        goto out;
    }
    if (u->deactivated) {
        balai_api_error(req, 400, "M_USER_DEACTIVATED",
                        "%s is deactivated; reactivate the account first", u->user_id);
        goto out;
    }
    if (balai_api_password_ok(req, u->user_id, pw) < 0)
        goto out;
    balai_api_password_set(req, u->user_id, pw, logout, balai_api_audit_actor(s),
                           "admin.user.password");
out:
    json_decref(body);
}

static void deactivate_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth_admin(req, &s) < 0)
        return;
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);
    if (!u) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %s", req->params[0]);
        return;
    }
    if (u->system) {
        balai_api_error(req, 403, "M_FORBIDDEN", "The system user cannot be deactivated");
        return;
    }
    if (s && s->device->user == u) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "You cannot deactivate your own account; ask another administrator");
        return;
    }
    if (u->deactivated) {
        balai_api_json(req, 200, json_pack("{s:s, s:b}", "user_id", u->user_id, "deactivated", 1));
        return;
    }
    /* Their rooms' stewardship passes on first (api/stewardship.h). */
    balai_api_stewardship_on_departure(app, u->user_id, balai_api_audit_actor(s), NULL);
    /* Revocation takes effect at once, before the write commits. */
    balai_accounts_deactivate(app->accounts, u);
    struct deact *d = balai_calloc(1, sizeof(*d));
    d->app = app;
    d->req = req;
    d->user_id = balai_strdup(u->user_id);
    d->op.apply = deact_apply;
    d->op.done = deact_done;
    d->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), "admin.user.deactivate",
                                         d->user_id, NULL);
    balai_store_submit(app->store, &d->op);
}

int balai_api_admin_users_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/users", list_users, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/users", create_user, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/users/{userId}", get_user, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/users/{userId}/password",
                          set_password, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/users/{userId}/deactivate",
                          deactivate_user, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
