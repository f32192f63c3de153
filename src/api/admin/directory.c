/* directory.c: the admin API of the organisation directory and roles.
 *
 *   GET    /_balai/admin/v1/directory/users?q=&unit=&limit=&from=   search, page by user id
 *   GET    /_balai/admin/v1/directory/users/{userId}                 one record
 *   PUT    /_balai/admin/v1/directory/users/{userId}                 set attributes
 *   PUT    /_balai/admin/v1/users/{userId}/role                      {role}
 *   GET    /_balai/admin/v1/units                                    the unit tree
 *   POST   /_balai/admin/v1/units                                    {name, parent?, unit_id?, admins?}
 *   GET    /_balai/admin/v1/units/{unitId}
 *   PUT    /_balai/admin/v1/units/{unitId}                           {name?, parent?, admins?}
 *   DELETE /_balai/admin/v1/units/{unitId}                           only when empty
 *   POST   /_balai/admin/v1/directory/import?dry_run=true            CSV (directory_import.c)
 *
 * Roles (gov/directory.h, docs/directory.md): reading needs
 * BALAI_GOV_DIRECTORY_READ, changing attributes and units
 * BALAI_GOV_DIRECTORY_EDIT, roles BALAI_GOV_ROLE_GRANT (and
 * BALAI_GOV_ROLE_GRANT_OWNER to grant or take away owner and admin). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

#define LOG_MODULE "admin"
#include "util/log.h"

#define MAX_UNIT_NAME 256
#define MAX_UNIT_ID 100
#define MAX_UNIT_ADMINS 100

/* Answers a merge/validation error of balai_api_directory_merge. */
static void merge_error(struct balai_http_req *req, int rc, const char *err)
{
    if (rc == BALAI_EINVAL)
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
    else if (rc == BALAI_EEXIST)
        balai_api_error(req, 409, "M_UNKNOWN", "%s", err);
    else
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", err);
}

/* Parses ?limit= (1..1000, default 100); answers 400 and fails when bad. */
static int query_limit(struct balai_http_req *req, long *out)
{
    const char *lim = balai_http_req_query(req, "limit");
    char *end;

    *out = 100;
    if (!lim)
        return BALAI_OK;
    *out = strtol(lim, &end, 10);
    if (*lim == '\0' || *end != '\0' || *out < 1 || *out > 1000) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be between 1 and 1000");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

/* ---- search ---- */

struct list_ctx {
    struct balai_app *app;
    struct balai_gov_query *q;
    const char *unit;
    const char *from;
    const char **ids;
    size_t n, cap;
};

static int list_match(struct balai_user *u, void *arg)
{
    struct list_ctx *c = arg;
    struct balai_gov_directory *dir = c->app->directory->dir;
    const struct balai_gov_person *p = balai_gov_directory_get(dir, u->user_id);

    if (u->system)
        return 0;
    if (c->unit && !(p && p->unit_id && balai_gov_unit_within(dir, p->unit_id, c->unit)))
        return 0;
    if (!balai_gov_directory_match(dir, c->q, u->user_id, p, u->displayname))
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->ids = balai_realloc(c->ids, c->cap * sizeof(*c->ids));
    }
    c->ids[c->n++] = u->user_id;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_users(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct list_ctx c;
    long limit;
    size_t i, shown = 0;
    json_t *arr;

    memset(&c, 0, sizeof(c));
    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_READ) < 0 || query_limit(req, &limit) < 0)
        return;
    c.app = app;
    c.unit = balai_http_req_query(req, "unit");
    c.from = balai_http_req_query(req, "from");
    if (c.unit && !*c.unit)
        c.unit = NULL;
    if (c.unit && !balai_gov_unit_get(app->directory->dir, c.unit)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Unknown unit %s", c.unit);
        return;
    }
    c.q = balai_gov_query_new(balai_http_req_query(req, "q"));
    balai_accounts_each(app->accounts, list_match, &c);
    if (c.n)
        qsort(c.ids, c.n, sizeof(*c.ids), by_id);
    arr = json_array();
    for (i = 0; i < c.n && shown < (size_t)limit; i++) {
        if (c.from && *c.from && strcmp(c.ids[i], c.from) <= 0)
            continue;
        json_array_append_new(
            arr, balai_api_directory_person_json(
                     app, c.ids[i], balai_gov_directory_get(app->directory->dir, c.ids[i])));
        shown++;
    }
    json_t *o = json_pack("{s:o, s:I}", "users", arr, "total", (json_int_t)c.n);
    if (i < c.n && shown == (size_t)limit)
        json_object_set_new(o, "next_from", json_string(c.ids[i - 1]));
    balai_gov_query_free(c.q);
    free(c.ids);
    balai_api_json(req, 200, o);
}

static struct balai_user *target_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);

    if (!u) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %s", req->params[0]);
        return NULL;
    }
    return u;
}

static void get_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_user *u;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_READ) < 0 || !(u = target_user(req)))
        return;
    balai_api_json(req, 200,
                   balai_api_directory_person_json(
                       app, u->user_id, balai_gov_directory_get(app->directory->dir, u->user_id)));
}

/* ---- person writes (attributes and role) ---- */

struct person_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_gov_person *p;
    char *actor;
    const char *action;
    struct balai_api_audit_entry *audit; /* committed with the change */
    int demotes_owner;
    int role_reply; /* answer {user_id, role} instead of the record */
};

static int person_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct person_op *x = (struct person_op *)op;
    int rc = balai_api_directory_txn_person(t, x->p);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void person_done(struct balai_store_op *op)
{
    struct person_op *x = (struct person_op *)op;
    struct balai_app *app = x->app;

    if (x->demotes_owner)
        app->directory->owner_demotions--;
    if (op->rc == BALAI_EEXIST) {
        balai_api_error(x->req, 409, "M_UNKNOWN", "'employee_number' %s is taken",
                        x->p->employee_number);
    } else if (op->rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the change; try again");
    } else {
        balai_api_directory_committed(app, x->p);
        LOG_INFO("%s: %s by %s", x->action, x->p->user_id, x->actor);
        if (x->role_reply)
            balai_api_json(x->req, 200,
                           json_pack("{s:s, s:s}", "user_id", x->p->user_id, "role",
                                     balai_gov_role_name(x->p->role)));
        else
            balai_api_json(x->req, 200,
                           balai_api_directory_person_json(
                               app, x->p->user_id,
                               balai_gov_directory_get(app->directory->dir, x->p->user_id)));
    }
    balai_api_audit_entry_done(app, x->audit, op->rc);
    balai_gov_person_free(x->p);
    free(x->actor);
    free(x);
}

static void submit_person(struct balai_http_req *req, struct balai_session *s,
                          struct balai_gov_person *p, const char *action, json_t *detail,
                          int demotes_owner, int role_reply)
{
    struct balai_app *app = balai_api_app(req);
    struct person_op *x = balai_calloc(1, sizeof(*x));

    p->updated_ts = balai_now_ms();
    x->app = app;
    x->req = req;
    x->p = p;
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->action = action;
    x->audit = balai_api_audit_entry_new(app, x->actor, action, p->user_id, detail);
    x->demotes_owner = demotes_owner;
    x->role_reply = role_reply;
    if (demotes_owner)
        app->directory->owner_demotions++;
    x->op.apply = person_apply;
    x->op.done = person_done;
    balai_store_submit(app->store, &x->op);
}

static void put_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_gov_person *p = NULL;
    struct balai_user *u;
    json_t *body = NULL;
    char err[300];
    int rc;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_EDIT) < 0 || !(u = target_user(req)) ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    if (u->system) {
        balai_api_error(req, 403, "M_FORBIDDEN", "The system user has no directory record");
        goto out;
    }
    p = balai_api_directory_person(app, u->user_id);
    rc = balai_api_directory_merge(app, p, body, err, sizeof(err));
    if (rc != BALAI_OK) {
        merge_error(req, rc, err);
        goto out;
    }
    json_t *keys = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        (void)v;
        json_array_append_new(keys, json_string(k));
    }
    submit_person(req, s, p, "directory.user.update", json_pack("{s:o}", "attributes", keys), 0,
                  0);
    p = NULL;
out:
    balai_gov_person_free(p);
    json_decref(body);
}

struct owner_count {
    struct balai_app *app;
    size_t n;
};

static int count_owner(struct balai_user *u, void *arg)
{
    struct owner_count *c = arg;
    if (!u->deactivated && !u->system && balai_api_role(c->app, u->user_id) == BALAI_ROLE_OWNER)
        c->n++;
    return 0;
}

static void put_role(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_gov_person *p = NULL;
    struct balai_user *u;
    json_t *body = NULL;
    const char *name;
    enum balai_gov_role role, old, mine;

    if (balai_api_auth_may(req, &s, BALAI_GOV_ROLE_GRANT) < 0 || !(u = target_user(req)) ||
        balai_api_body(req, 0, &body) < 0 || balai_api_str(req, body, "role", 1, &name) < 0)
        goto out;
    if (json_object_size(body) != 1) {
        balai_api_error(req, 400, "M_BAD_JSON", "The body takes only 'role'");
        goto out;
    }
    if (balai_gov_role_parse(name, &role) != BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Unknown role '%.64s' (owner, admin, hr, compliance, moderator, member, "
                        "guest)",
                        name);
        goto out;
    }
    if (u->system || u->deactivated) {
        balai_api_error(req, 403, "M_FORBIDDEN", "%s cannot have a role",
                        u->system ? "The system user" : "A deactivated account");
        goto out;
    }
    old = balai_api_role(app, u->user_id);
    mine = balai_api_caller_role(app, s);
    if (role == BALAI_ROLE_GUEST || old == BALAI_ROLE_GUEST) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Guests are made and unmade through the directory attributes 'guest', "
                        "'sponsor' and 'guest_expires_ts'");
        goto out;
    }
    if ((role == BALAI_ROLE_OWNER || role == BALAI_ROLE_ADMIN || old == BALAI_ROLE_OWNER ||
         old == BALAI_ROLE_ADMIN) &&
        !balai_gov_role_may(mine, BALAI_GOV_ROLE_GRANT_OWNER)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Only an owner may grant or take away the roles owner and admin");
        goto out;
    }
    if (old == BALAI_ROLE_OWNER && role != BALAI_ROLE_OWNER) {
        struct owner_count c = {app, 0};
        balai_accounts_each(app->accounts, count_owner, &c);
        if (c.n <= 1 + app->directory->owner_demotions) {
            balai_api_error(req, 403, "M_FORBIDDEN",
                            "%s is the last owner; make someone else owner first", u->user_id);
            goto out;
        }
    }
    p = balai_api_directory_person(app, u->user_id);
    p->role = role;
    submit_person(req, s, p, "role.change",
                  json_pack("{s:s, s:s}", "old", balai_gov_role_name(old), "new",
                            balai_gov_role_name(role)),
                  old == BALAI_ROLE_OWNER && role != BALAI_ROLE_OWNER, 1);
    p = NULL;
out:
    balai_gov_person_free(p);
    json_decref(body);
}

/* ---- units ---- */

struct unit_list {
    struct balai_app *app;
    json_t *arr;
};

static int unit_add(const struct balai_gov_unit *u, void *arg)
{
    struct unit_list *l = arg;
    json_array_append_new(l->arr, balai_api_directory_unit_json(l->app, u));
    return 0;
}

static int by_path(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "path")),
                  json_string_value(json_object_get(y, "path")));
}

static void list_units(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct unit_list l = {app, json_array()};
    json_t **items, *sorted;
    size_t n;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_READ) < 0) {
        json_decref(l.arr);
        return;
    }
    balai_gov_unit_each(app->directory->dir, unit_add, &l);
    n = json_array_size(l.arr);
    items = balai_calloc(n ? n : 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(l.arr, i);
    qsort(items, n, sizeof(*items), by_path);
    sorted = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(sorted, items[i]);
    free(items);
    json_decref(l.arr);
    balai_api_json(req, 200, json_pack("{s:o}", "units", sorted));
}

static const struct balai_gov_unit *target_unit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const struct balai_gov_unit *u = balai_gov_unit_get(app->directory->dir, req->params[0]);
    if (!u)
        balai_api_error(req, 404, "M_NOT_FOUND", "No such unit: %s", req->params[0]);
    return u;
}

static void get_unit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const struct balai_gov_unit *u;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_READ) < 0 || !(u = target_unit(req)))
        return;
    balai_api_json(req, 200, balai_api_directory_unit_json(app, u));
}

/* A unit being written: owned strings. */
struct unit_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *actor;
    const char *action;
    struct balai_api_audit_entry *audit; /* committed with the change */
    int del;
    char *unit_id, *name, *parent_id;
    char **admins;
    size_t n_admins;
    int64_t created_ts;
};

static void unit_op_free(struct unit_op *x)
{
    if (x->audit)
        balai_api_audit_entry_done(x->app, x->audit, x->op.rc);
    free(x->actor);
    free(x->unit_id);
    free(x->name);
    free(x->parent_id);
    for (size_t i = 0; i < x->n_admins; i++)
        free(x->admins[i]);
    free(x->admins);
    free(x);
}

static void unit_view(const struct unit_op *x, struct balai_gov_unit *u)
{
    u->unit_id = x->unit_id;
    u->name = x->name;
    u->parent_id = x->parent_id;
    u->admins = (const char *const *)x->admins;
    u->n_admins = x->n_admins;
    u->created_ts = x->created_ts;
}

static int unit_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct unit_op *x = (struct unit_op *)op;
    struct balai_gov_unit u;

    int rc;

    if (x->del) {
        rc = balai_store_txn_org_unit_delete(t, x->unit_id);
    } else {
        unit_view(x, &u);
        rc = balai_api_directory_txn_unit(t, &u);
    }
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void unit_done(struct balai_store_op *op)
{
    struct unit_op *x = (struct unit_op *)op;
    struct balai_app *app = x->app;
    struct balai_gov_unit u;
    int rc;

    if (op->rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the unit; try again");
        goto out;
    }
    if (x->del) {
        rc = balai_gov_unit_remove(app->directory->dir, x->unit_id);
        if (rc != BALAI_OK)
            LOG_ERROR("unit %s deleted in the store but not in memory: %s", x->unit_id,
                      balai_strerror(rc));
        balai_api_json(x->req, 200, json_pack("{s:s, s:b}", "unit_id", x->unit_id, "deleted", 1));
    } else {
        unit_view(x, &u);
        rc = balai_gov_unit_put(app->directory->dir, &u);
        if (rc != BALAI_OK)
            LOG_ERROR("unit %s stored but refused in memory: %s", x->unit_id, balai_strerror(rc));
        balai_api_json(x->req, 200,
                       balai_api_directory_unit_json(
                           app, balai_gov_unit_get(app->directory->dir, x->unit_id)
                                    ? balai_gov_unit_get(app->directory->dir, x->unit_id)
                                    : &u));
    }
out:
    unit_op_free(x);
}

static int id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Reads the unit fields of body into x (name, parent, admins, unit_id when
 * creating). Answers 400 and fails on bad input. */
static int unit_fields(struct balai_http_req *req, json_t *body, struct unit_op *x, int creating)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_gov_directory *dir = app->directory->dir;
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || !*json_string_value(v) ||
                strlen(json_string_value(v)) > MAX_UNIT_NAME ||
                strchr(json_string_value(v), '/')) {
                balai_api_error(req, 400, "M_BAD_JSON",
                                "'name' must be a non-empty string of at most %d bytes without "
                                "'/'",
                                MAX_UNIT_NAME);
                return BALAI_EINVAL;
            }
            free(x->name);
            x->name = balai_strdup(json_string_value(v));
        } else if (strcmp(key, "parent") == 0) {
            if (!json_is_null(v) && !json_is_string(v)) {
                balai_api_error(req, 400, "M_BAD_JSON", "'parent' must be a unit id or null");
                return BALAI_EINVAL;
            }
            if (json_is_string(v) && !balai_gov_unit_get(dir, json_string_value(v))) {
                balai_api_error(req, 400, "M_INVALID_PARAM", "'parent': unknown unit %.200s",
                                json_string_value(v));
                return BALAI_EINVAL;
            }
            free(x->parent_id);
            x->parent_id = json_is_string(v) ? balai_strdup(json_string_value(v)) : NULL;
        } else if (strcmp(key, "admins") == 0) {
            size_t i;
            json_t *a;
            if (!json_is_array(v) || json_array_size(v) > MAX_UNIT_ADMINS) {
                balai_api_error(req, 400, "M_BAD_JSON",
                                "'admins' must be an array of at most %d user ids",
                                MAX_UNIT_ADMINS);
                return BALAI_EINVAL;
            }
            for (size_t j = 0; j < x->n_admins; j++)
                free(x->admins[j]);
            free(x->admins);
            x->admins = balai_calloc(json_array_size(v) + 1, sizeof(*x->admins));
            x->n_admins = 0;
            json_array_foreach(v, i, a)
            {
                char *uid = NULL;
                if (!json_is_string(a)) {
                    balai_api_error(req, 400, "M_BAD_JSON", "'admins' must hold user ids");
                    return BALAI_EINVAL;
                }
                if (balai_id_user_normalise(json_string_value(a), app->server_name, &uid) !=
                        BALAI_OK ||
                    !balai_accounts_user(app->accounts, uid)) {
                    balai_api_error(req, 400, "M_INVALID_PARAM", "'admins': unknown user %.200s",
                                    json_string_value(a));
                    free(uid);
                    return BALAI_EINVAL;
                }
                int dup = 0;
                for (size_t j = 0; j < x->n_admins; j++)
                    dup |= strcmp(x->admins[j], uid) == 0;
                if (dup)
                    free(uid);
                else
                    x->admins[x->n_admins++] = uid;
            }
        } else if (strcmp(key, "unit_id") == 0 && creating) {
            const char *id = json_string_value(v);
            size_t l = id ? strlen(id) : 0;
            int ok = l > 0 && l <= MAX_UNIT_ID;
            for (size_t i = 0; ok && i < l; i++)
                ok = id_char_ok(id[i]);
            if (!ok) {
                balai_api_error(req, 400, "M_BAD_JSON",
                                "'unit_id' must be 1 to %d characters of a-z 0-9 . _ -",
                                MAX_UNIT_ID);
                return BALAI_EINVAL;
            }
            if (balai_gov_unit_get(dir, id)) {
                balai_api_error(req, 409, "M_UNKNOWN", "The unit %s already exists", id);
                return BALAI_EEXIST;
            }
            free(x->unit_id);
            x->unit_id = balai_strdup(id);
        } else {
            balai_api_error(req, 400, "M_BAD_JSON", "unknown attribute '%.100s'", key);
            return BALAI_EINVAL;
        }
    }
    if (!x->name) {
        balai_api_error(req, 400, "M_MISSING_PARAM", "Missing 'name'");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static void create_unit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct unit_op *x = NULL;
    json_t *body = NULL;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_EDIT) < 0 ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    x = balai_calloc(1, sizeof(*x));
    if (unit_fields(req, body, x, 1) < 0)
        goto out;
    if (!x->unit_id)
        x->unit_id = balai_gov_unit_new_id(app->directory->dir, x->parent_id, x->name);
    x->app = app;
    x->req = req;
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->action = "unit.create";
    x->created_ts = balai_now_ms();
    x->op.apply = unit_apply;
    x->op.done = unit_done;
    x->audit = balai_api_audit_entry_new(app, x->actor, x->action, x->unit_id, NULL);
    balai_store_submit(app->store, &x->op);
    x = NULL;
out:
    if (x)
        unit_op_free(x);
    json_decref(body);
}

static void update_unit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const struct balai_gov_unit *u;
    struct unit_op *x = NULL;
    json_t *body = NULL;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_EDIT) < 0 || !(u = target_unit(req)) ||
        balai_api_body(req, 0, &body) < 0)
        goto out;
    x = balai_calloc(1, sizeof(*x));
    x->unit_id = balai_strdup(u->unit_id);
    x->name = balai_strdup(u->name);
    x->parent_id = u->parent_id ? balai_strdup(u->parent_id) : NULL;
    x->admins = balai_calloc(u->n_admins + 1, sizeof(*x->admins));
    for (size_t i = 0; i < u->n_admins; i++)
        x->admins[x->n_admins++] = balai_strdup(u->admins[i]);
    x->created_ts = u->created_ts;
    if (unit_fields(req, body, x, 0) < 0)
        goto out;
    if (x->parent_id && balai_gov_unit_within(app->directory->dir, x->parent_id, x->unit_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'parent': a unit cannot be placed under itself or its own sub-units");
        goto out;
    }
    x->app = app;
    x->req = req;
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->action = "unit.update";
    x->op.apply = unit_apply;
    x->op.done = unit_done;
    x->audit = balai_api_audit_entry_new(app, x->actor, x->action, x->unit_id, NULL);
    balai_store_submit(app->store, &x->op);
    x = NULL;
out:
    if (x)
        unit_op_free(x);
    json_decref(body);
}

static void delete_unit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const struct balai_gov_unit *u;
    size_t members, children;

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_EDIT) < 0 || !(u = target_unit(req)))
        return;
    members = balai_gov_unit_members(app->directory->dir, u->unit_id);
    children = balai_gov_unit_children(app->directory->dir, u->unit_id);
    if (members || children) {
        balai_api_error(req, 409, "ID.BALAI.UNIT_NOT_EMPTY",
                        "The unit %s still has %zu people and %zu sub-units; move them first",
                        u->unit_id, members, children);
        return;
    }
    struct unit_op *x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->del = 1;
    x->unit_id = balai_strdup(u->unit_id);
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->action = "unit.delete";
    x->op.apply = unit_apply;
    x->op.done = unit_done;
    x->audit = balai_api_audit_entry_new(app, x->actor, x->action, x->unit_id, NULL);
    balai_store_submit(app->store, &x->op);
}

int balai_api_admin_directory_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/directory/users", list_users, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/directory/users/{userId}",
                          get_user, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_balai/admin/v1/directory/users/{userId}",
                          put_user, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_balai/admin/v1/users/{userId}/role", put_role,
                          0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/units", list_units, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/units", create_unit, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/units/{unitId}", get_unit, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_balai/admin/v1/units/{unitId}", update_unit, 0);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, "/_balai/admin/v1/units/{unitId}", delete_unit,
                          0);
    rc |= balai_api_admin_directory_import_routes(app);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
