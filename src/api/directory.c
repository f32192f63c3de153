/* directory.c: the organisation directory in the running server: load,
 * role checks, write-through of records, and guest expiry (directory.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/rules.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "net/timer.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/time.h"

#define LOG_MODULE "directory"
#include "util/log.h"

#define MAX_TEXT 256
#define MAX_EMPLOYEE_NUMBER 64
#define MAX_WORKING_HOURS 100
#define MAX_EMAIL 254

/* ---- load ---- */

struct unit_load {
    struct balai_gov_unit *u;
    json_t *admins;
};

struct unit_loads {
    struct unit_load *v;
    size_t n, cap;
};

static int load_unit(const struct balai_org_unit_rec *r, void *arg)
{
    struct unit_loads *ls = arg;
    struct unit_load ul;
    struct balai_gov_unit *u = balai_calloc(1, sizeof(*u));

    u->unit_id = balai_strdup(r->unit_id);
    u->name = balai_strdup(r->name);
    u->parent_id = r->parent_id ? balai_strdup(r->parent_id) : NULL;
    u->created_ts = r->created_ts;
    ul.u = u;
    ul.admins = json_loads(r->admins ? r->admins : "[]", 0, NULL);
    if (!json_is_array(ul.admins)) {
        LOG_WARN("unit %s: unreadable admins list, ignored", r->unit_id);
        json_decref(ul.admins);
        ul.admins = json_array();
    }
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 16;
        ls->v = balai_realloc(ls->v, ls->cap * sizeof(*ls->v));
    }
    ls->v[ls->n++] = ul;
    return 0;
}

/* Puts one loaded unit; 1 when put, 0 when its parent is not there yet. */
static int put_loaded_unit(struct balai_gov_directory *dir, struct unit_load *ul, int force)
{
    size_t n = json_array_size(ul->admins);
    const char **admins = balai_calloc(n ? n : 1, sizeof(*admins));
    size_t k = 0;
    int rc;

    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(ul->admins, i));
        if (a)
            admins[k++] = a;
    }
    ul->u->admins = admins;
    ul->u->n_admins = k;
    rc = balai_gov_unit_put(dir, ul->u);
    if (rc != BALAI_OK && force) {
        LOG_WARN("unit %s: parent %s missing or a cycle; loaded as a root unit", ul->u->unit_id,
                 ul->u->parent_id);
        free((char *)ul->u->parent_id);
        ul->u->parent_id = NULL;
        rc = balai_gov_unit_put(dir, ul->u);
    }
    free(admins);
    ul->u->admins = NULL;
    ul->u->n_admins = 0;
    return rc == BALAI_OK;
}

static int load_person(const struct balai_org_person_rec *r, void *arg)
{
    struct balai_app *app = arg;
    struct balai_gov_person p;

    memset(&p, 0, sizeof(p));
    p.user_id = r->user_id;
    if (balai_gov_role_parse(r->role, &p.role) != BALAI_OK) {
        LOG_WARN("%s: unknown role '%s', taken as member", r->user_id, r->role);
        p.role = BALAI_ROLE_MEMBER;
    }
    if (balai_gov_status_parse(r->status, &p.status) != BALAI_OK)
        p.status = BALAI_STATUS_ACTIVE;
    p.employee_number = r->employee_number;
    p.display_name = r->display_name;
    p.unit_id = r->unit_id;
    p.title = r->title;
    p.manager = r->manager;
    p.site = r->site;
    p.working_hours = r->working_hours;
    p.email = r->email;
    p.guest = r->guest;
    p.sponsor = r->sponsor;
    p.guest_expires_ts = r->guest_expires_ts;
    p.updated_ts = r->updated_ts;
    p.stored = 1;
    if (balai_gov_directory_put(app->directory->dir, &p) != BALAI_OK)
        LOG_WARN("%s: employee number %s taken twice; record skipped", r->user_id,
                 r->employee_number);
    return 0;
}

static void unit_load_release(struct unit_load *ul)
{
    json_decref(ul->admins);
    free((char *)ul->u->unit_id);
    free((char *)ul->u->name);
    free((char *)ul->u->parent_id);
    free(ul->u);
    ul->u = NULL;
}

int balai_api_directory_load(struct balai_app *app)
{
    struct unit_loads units = {NULL, 0, 0};
    struct unit_load *ul;
    size_t n, left;
    int rc;

    app->directory = balai_calloc(1, sizeof(*app->directory));
    app->directory->dir = balai_gov_directory_new();
    rc = balai_store_org_units_each(app->store, load_unit, &units);
    ul = units.v;
    n = units.n;
    /* parents before children: put what fits, pass after pass; when a pass
     * makes no progress (a missing parent or a cycle), force one as a root */
    left = n;
    while (left) {
        size_t before = left;
        for (size_t i = 0; i < n; i++) {
            if (ul[i].u && put_loaded_unit(app->directory->dir, &ul[i], 0)) {
                unit_load_release(&ul[i]);
                left--;
            }
        }
        for (size_t i = 0; left == before && i < n; i++) {
            if (ul[i].u) {
                put_loaded_unit(app->directory->dir, &ul[i], 1);
                unit_load_release(&ul[i]);
                left--;
            }
        }
    }
    free(units.v);
    if (rc == BALAI_OK)
        rc = balai_store_org_people_each(app->store, load_person, app);
    if (rc == BALAI_OK)
        LOG_DEBUG("directory: %zu records", balai_gov_directory_count(app->directory->dir));
    return rc;
}

void balai_api_directory_free(struct balai_app *app)
{
    if (!app->directory)
        return;
    balai_timer_free(app->directory->guest_timer);
    balai_gov_directory_free(app->directory->dir);
    free(app->directory);
    app->directory = NULL;
}

/* ---- roles ---- */

enum balai_gov_role balai_api_role(struct balai_app *app, const char *user_id)
{
    const struct balai_gov_person *p =
        app->directory ? balai_gov_directory_get(app->directory->dir, user_id) : NULL;
    struct balai_user *u;

    if (p)
        return p->role;
    u = balai_accounts_user(app->accounts, user_id);
    if (u && (u->admin || u->system))
        return BALAI_ROLE_OWNER;
    return BALAI_ROLE_MEMBER;
}

enum balai_gov_role balai_api_caller_role(struct balai_app *app, const struct balai_session *s)
{
    if (!s)
        return BALAI_ROLE_OWNER;
    return balai_api_role(app, s->device->user->user_id);
}

int balai_api_auth_role(struct balai_http_req *req, struct balai_session **out, unsigned roles_mask)
{
    struct balai_app *app = balai_api_app(req);
    enum balai_gov_role role;
    char names[160];
    size_t n = 0;
    int rc;

    if (req->local) {
        *out = NULL;
        return BALAI_OK;
    }
    rc = balai_api_auth(req, out);
    if (rc != BALAI_OK)
        return rc;
    role = balai_api_role(app, (*out)->device->user->user_id);
    if (roles_mask & BALAI_ROLE_BIT(role))
        return BALAI_OK;
    names[0] = '\0';
    for (int r = BALAI_ROLE__COUNT - 1; r >= 0; r--) {
        if (roles_mask & BALAI_ROLE_BIT(r))
            n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
                                  balai_gov_role_name((enum balai_gov_role)r));
        if (n >= sizeof(names))
            break;
    }
    balai_api_error(req, 403, "M_FORBIDDEN", "This needs the role %s (yours is %s)",
                    names[0] ? names : "(none)", balai_gov_role_name(role));
    return BALAI_EFORBIDDEN;
}

int balai_api_auth_may(struct balai_http_req *req, struct balai_session **out,
                       enum balai_gov_action action)
{
    return balai_api_auth_role(req, out, balai_gov_action_roles(action));
}

/* ---- guests ---- */

int balai_api_directory_access_refused(struct balai_app *app, const char *user_id)
{
    const struct balai_gov_person *p;

    if (!app->directory)
        return 0;
    p = balai_gov_directory_get(app->directory->dir, user_id);
    return p && p->guest && p->guest_expires_ts > 0 && p->guest_expires_ts <= balai_now_ms();
}

struct revoke_op {
    struct balai_store_op op;
    char *user_id;
    char **devices;
    size_t n;
};

static int revoke_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct revoke_op *r = (struct revoke_op *)op;

    for (size_t i = 0; i < r->n; i++) {
        int rc = balai_store_txn_device_delete(t, r->user_id, r->devices[i]);
        if (rc != BALAI_OK && rc != BALAI_ENOTFOUND)
            return rc;
    }
    return BALAI_OK;
}

static void revoke_done(struct balai_store_op *op)
{
    struct revoke_op *r = (struct revoke_op *)op;

    if (op->rc != BALAI_OK)
        LOG_ERROR("removing the devices of expired guest %s failed: %s", r->user_id,
                  balai_strerror(op->rc));
    for (size_t i = 0; i < r->n; i++)
        free(r->devices[i]);
    free(r->devices);
    free(r->user_id);
    free(r);
}

/* Takes away every device and token of user_id at once (memory) and for
 * good (a store write). */
static void revoke_access(struct balai_app *app, const char *user_id)
{
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    struct revoke_op *r;
    size_t n = 0;

    if (!u || !u->devices)
        return;
    for (struct balai_device *d = u->devices; d; d = d->next)
        n++;
    r = balai_calloc(1, sizeof(*r));
    r->user_id = balai_strdup(user_id);
    r->devices = balai_calloc(n, sizeof(*r->devices));
    while (u->devices) {
        r->devices[r->n++] = balai_strdup(u->devices->device_id);
        balai_accounts_remove_device(app->accounts, u->devices);
    }
    r->op.apply = revoke_apply;
    r->op.done = revoke_done;
    balai_store_submit(app->store, &r->op);
    LOG_INFO("guest access of %s expired: %zu devices removed", user_id, n);
    balai_api_audit_log(app, "system", "directory.guest.expired", user_id,
                        json_pack("{s:I}", "devices", (json_int_t)n));
}

struct guest_scan {
    int64_t after, now, next;
    const char **expired;
    size_t n, cap;
};

static int scan_guest(const struct balai_gov_person *p, void *arg)
{
    struct guest_scan *g = arg;

    if (!p->guest || p->guest_expires_ts <= 0 || p->guest_expires_ts <= g->after)
        return 0;
    if (p->guest_expires_ts <= g->now) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 8;
            g->expired = balai_realloc(g->expired, g->cap * sizeof(*g->expired));
        }
        g->expired[g->n++] = p->user_id;
    } else if (g->next == 0 || p->guest_expires_ts < g->next) {
        g->next = p->guest_expires_ts;
    }
    return 0;
}

/* Handles the guests whose expiry passed since the last sweep, then waits
 * for the earliest one to come. */
static void guest_sweep(void *arg)
{
    struct balai_app *app = arg;
    struct balai_api_directory *ad = app->directory;
    struct guest_scan g;
    char **ids;

    memset(&g, 0, sizeof(g));
    g.after = ad->guest_swept_ts;
    g.now = balai_now_ms();
    balai_gov_directory_each(ad->dir, scan_guest, &g);
    ids = balai_calloc(g.n ? g.n : 1, sizeof(*ids));
    for (size_t i = 0; i < g.n; i++)
        ids[i] = balai_strdup(g.expired[i]);
    free(g.expired);
    ad->guest_swept_ts = g.now;
    for (size_t i = 0; i < g.n; i++) {
        revoke_access(app, ids[i]);
        free(ids[i]);
    }
    free(ids);
    if (!ad->guest_timer)
        return;
    if (g.next) {
        int64_t wait = g.next - balai_now_ms();
        balai_timer_start(ad->guest_timer, wait > 0 ? (uint64_t)wait : 0, 0);
    } else {
        balai_timer_stop(ad->guest_timer);
    }
}

int balai_api_directory_start(struct balai_app *app)
{
    if (!app->directory)
        return BALAI_ESTATE;
    app->directory->guest_timer = balai_timer_new(app->loop, guest_sweep, app);
    if (!app->directory->guest_timer)
        return BALAI_ENOMEM;
    balai_timer_set_ref(app->directory->guest_timer, 0);
    /* the first sweep handles guests that expired while the server was down */
    balai_timer_start(app->directory->guest_timer, 0, 0);
    return BALAI_OK;
}

void balai_api_directory_stop(struct balai_app *app)
{
    if (!app->directory)
        return;
    balai_timer_free(app->directory->guest_timer);
    app->directory->guest_timer = NULL;
}

/* ---- records ---- */

struct balai_gov_person *balai_api_directory_person(struct balai_app *app, const char *user_id)
{
    const struct balai_gov_person *p = balai_gov_directory_get(app->directory->dir, user_id);
    struct balai_gov_person blank;

    if (p)
        return balai_gov_person_dup(p);
    if (!balai_accounts_user(app->accounts, user_id))
        return NULL;
    memset(&blank, 0, sizeof(blank));
    blank.user_id = user_id;
    blank.role = balai_api_role(app, user_id);
    blank.status = BALAI_STATUS_ACTIVE;
    return balai_gov_person_dup(&blank);
}

/* A string-or-null attribute: sets *field; 0 or BALAI_EINVAL (err set). */
static int text_attr(const char *key, json_t *v, size_t max, const char **field, char *err,
                     size_t errlen)
{
    if (json_is_null(v)) {
        balai_gov_person_set(field, NULL);
        return BALAI_OK;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "'%s' must be a string or null", key);
        return BALAI_EINVAL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) > max) {
        snprintf(err, errlen, "'%s' is longer than %zu bytes", key, max);
        return BALAI_EINVAL;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c < 0x20) {
            snprintf(err, errlen, "'%s' contains a control character", key);
            return BALAI_EINVAL;
        }
    }
    balai_gov_person_set(field, *s ? s : NULL);
    return BALAI_OK;
}

/* A user reference (manager, sponsor): "name" or "@name:server" of a known
 * user. */
static int user_attr(struct balai_app *app, const char *key, json_t *v, const char **field,
                     char *err, size_t errlen)
{
    char *uid = NULL;

    if (json_is_null(v)) {
        balai_gov_person_set(field, NULL);
        return BALAI_OK;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "'%s' must be a user id or null", key);
        return BALAI_EINVAL;
    }
    if (balai_id_user_normalise(json_string_value(v), app->server_name, &uid) != BALAI_OK ||
        !balai_accounts_user(app->accounts, uid)) {
        snprintf(err, errlen, "'%s': unknown user %.200s", key, json_string_value(v));
        free(uid);
        return BALAI_ENOTFOUND;
    }
    balai_gov_person_set(field, uid);
    free(uid);
    return BALAI_OK;
}

int balai_api_directory_merge(struct balai_app *app, struct balai_gov_person *p, json_t *attrs,
                              char *err, size_t errlen)
{
    struct balai_gov_directory *dir = app->directory->dir;
    const char *key;
    json_t *v;
    int rc = BALAI_OK;

    json_object_foreach(attrs, key, v)
    {
        if (strcmp(key, "display_name") == 0) {
            rc = text_attr(key, v, MAX_TEXT, &p->display_name, err, errlen);
        } else if (strcmp(key, "employee_number") == 0) {
            rc = text_attr(key, v, MAX_EMPLOYEE_NUMBER, &p->employee_number, err, errlen);
        } else if (strcmp(key, "title") == 0) {
            rc = text_attr(key, v, MAX_TEXT, &p->title, err, errlen);
        } else if (strcmp(key, "site") == 0) {
            rc = text_attr(key, v, MAX_TEXT, &p->site, err, errlen);
        } else if (strcmp(key, "working_hours") == 0) {
            rc = text_attr(key, v, MAX_WORKING_HOURS, &p->working_hours, err, errlen);
        } else if (strcmp(key, "email") == 0) {
            rc = text_attr(key, v, MAX_EMAIL, &p->email, err, errlen);
            if (rc == BALAI_OK && p->email &&
                (!strchr(p->email, '@') || strchr(p->email, ' ') || p->email[0] == '@')) {
                snprintf(err, errlen, "'email' is not an e-mail address");
                rc = BALAI_EINVAL;
            }
        } else if (strcmp(key, "unit") == 0) {
            if (!json_is_null(v) && !json_is_string(v)) {
                snprintf(err, errlen, "'unit' must be a unit id or null");
                rc = BALAI_EINVAL;
            } else if (json_is_string(v) && !balai_gov_unit_get(dir, json_string_value(v))) {
                snprintf(err, errlen, "'unit': unknown unit %.200s", json_string_value(v));
                rc = BALAI_ENOTFOUND;
            } else {
                balai_gov_person_set(&p->unit_id, json_string_value(v));
            }
        } else if (strcmp(key, "manager") == 0) {
            rc = user_attr(app, key, v, &p->manager, err, errlen);
        } else if (strcmp(key, "sponsor") == 0) {
            rc = user_attr(app, key, v, &p->sponsor, err, errlen);
        } else if (strcmp(key, "status") == 0) {
            if (!json_is_string(v) ||
                balai_gov_status_parse(json_string_value(v), &p->status) != BALAI_OK) {
                snprintf(err, errlen, "'status' must be \"active\", \"leave\" or \"terminated\"");
                rc = BALAI_EINVAL;
            }
        } else if (strcmp(key, "guest") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "'guest' must be true or false");
                rc = BALAI_EINVAL;
            } else {
                p->guest = json_is_true(v);
            }
        } else if (strcmp(key, "guest_expires_ts") == 0) {
            if (json_is_null(v)) {
                p->guest_expires_ts = 0;
            } else if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(err, errlen, "'guest_expires_ts' must be a time in ms or null");
                rc = BALAI_EINVAL;
            } else {
                p->guest_expires_ts = json_integer_value(v);
            }
        } else if (strcmp(key, "role") == 0) {
            snprintf(err, errlen,
                     "unknown attribute 'role': roles are set with PUT "
                     "/_balai/admin/v1/users/{userId}/role");
            rc = BALAI_EINVAL;
        } else {
            snprintf(err, errlen, "unknown attribute '%.100s'", key);
            rc = BALAI_EINVAL;
        }
        if (rc != BALAI_OK)
            return rc;
    }
    if (balai_gov_directory_check_manager(dir, p->user_id, p->manager) != BALAI_OK) {
        snprintf(err, errlen, "'manager': %s would make a cycle in the manager chain", p->manager);
        return BALAI_ESTATE;
    }
    const struct balai_gov_person *o =
        balai_gov_directory_by_employee_number(dir, p->employee_number);
    if (o && strcmp(o->user_id, p->user_id) != 0) {
        snprintf(err, errlen, "'employee_number' %s belongs to %s", p->employee_number, o->user_id);
        return BALAI_EEXIST;
    }
    if (p->guest) {
        if (!p->sponsor || p->guest_expires_ts <= 0) {
            snprintf(err, errlen, "a guest needs a 'sponsor' and a 'guest_expires_ts'");
            return BALAI_ESTATE;
        }
        if (strcmp(p->sponsor, p->user_id) == 0) {
            snprintf(err, errlen, "'sponsor': a guest cannot sponsor themselves");
            return BALAI_ESTATE;
        }
        const struct balai_gov_person *sp = balai_gov_directory_get(dir, p->sponsor);
        if (sp && sp->guest) {
            snprintf(err, errlen, "'sponsor': a guest cannot be a sponsor");
            return BALAI_ESTATE;
        }
        if (p->role == BALAI_ROLE_OWNER || p->role == BALAI_ROLE_ADMIN) {
            snprintf(err, errlen, "an %s cannot be a guest; change the role first",
                     balai_gov_role_name(p->role));
            return BALAI_ESTATE;
        }
        p->role = BALAI_ROLE_GUEST;
    } else {
        if (p->role == BALAI_ROLE_GUEST)
            p->role = BALAI_ROLE_MEMBER;
        if (p->sponsor || p->guest_expires_ts) {
            if (json_object_get(attrs, "sponsor") || json_object_get(attrs, "guest_expires_ts")) {
                snprintf(err, errlen, "'sponsor' and 'guest_expires_ts' are for guests only");
                return BALAI_ESTATE;
            }
            balai_gov_person_set(&p->sponsor, NULL);
            p->guest_expires_ts = 0;
        }
    }
    return BALAI_OK;
}

int balai_api_directory_txn_person(struct balai_store_txn *t, const struct balai_gov_person *p)
{
    struct balai_org_person_rec r = {
        .user_id = p->user_id,
        .role = balai_gov_role_name(p->role),
        .employee_number = p->employee_number,
        .display_name = p->display_name,
        .unit_id = p->unit_id,
        .title = p->title,
        .manager = p->manager,
        .site = p->site,
        .status = balai_gov_status_name(p->status),
        .working_hours = p->working_hours,
        .email = p->email,
        .guest = p->guest,
        .sponsor = p->sponsor,
        .guest_expires_ts = p->guest_expires_ts,
        .updated_ts = p->updated_ts,
    };
    int rc = balai_store_txn_org_person_set(t, &r);
    if (rc == BALAI_OK)
        rc = balai_store_txn_user_set_admin(
            t, p->user_id, p->role == BALAI_ROLE_OWNER || p->role == BALAI_ROLE_ADMIN);
    return rc;
}

char *balai_api_directory_admins_text(const struct balai_gov_unit *u)
{
    json_t *a = json_array();
    char *s;

    for (size_t i = 0; i < u->n_admins; i++)
        json_array_append_new(a, json_string(u->admins[i]));
    s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s ? s : balai_strdup("[]");
}

int balai_api_directory_txn_unit(struct balai_store_txn *t, const struct balai_gov_unit *u)
{
    char *admins = balai_api_directory_admins_text(u);
    struct balai_org_unit_rec r = {u->unit_id, u->name, u->parent_id, admins, u->created_ts};
    int rc = balai_store_txn_org_unit_set(t, &r);
    free(admins);
    return rc;
}

void balai_api_directory_committed(struct balai_app *app, const struct balai_gov_person *p)
{
    struct balai_api_directory *ad = app->directory;
    struct balai_gov_person *c = balai_gov_person_dup(p);
    struct balai_user *u = balai_accounts_user(app->accounts, p->user_id);

    c->stored = 1;
    if (balai_gov_directory_put(ad->dir, c) != BALAI_OK)
        LOG_ERROR("%s: committed record refused in memory (employee number %s taken)", p->user_id,
                  p->employee_number);
    balai_gov_person_free(c);
    if (u)
        u->admin = p->role == BALAI_ROLE_OWNER || p->role == BALAI_ROLE_ADMIN;
    if (p->guest && p->guest_expires_ts > 0) {
        if (p->guest_expires_ts <= balai_now_ms())
            revoke_access(app, p->user_id);
        else if (ad->guest_timer)
            balai_timer_start(ad->guest_timer, 0, 0); /* re-arm for the earliest */
    }
    balai_api_rules_on_person_changed(app, p->user_id); /* membership rules (api/rules.h) */
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *balai_api_directory_person_json(struct balai_app *app, const char *user_id,
                                        const struct balai_gov_person *p)
{
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    struct balai_gov_person blank;
    json_t *o;
    char *path;

    if (!p) {
        memset(&blank, 0, sizeof(blank));
        blank.user_id = user_id;
        blank.role = balai_api_role(app, user_id);
        p = &blank;
    }
    path = balai_gov_unit_path(app->directory->dir, p->unit_id);
    o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "user_id", user_id, "role",
                  balai_gov_role_name(p->role), "status", balai_gov_status_name(p->status), "guest",
                  p->guest, "deactivated", u ? u->deactivated : 0);
    json_object_set_new(o, "employee_number", str_or_null(p->employee_number));
    json_object_set_new(o, "display_name", str_or_null(p->display_name));
    json_object_set_new(o, "profile_displayname", str_or_null(u ? u->displayname : NULL));
    json_object_set_new(o, "unit", str_or_null(p->unit_id));
    json_object_set_new(o, "unit_path", str_or_null(path));
    json_object_set_new(o, "title", str_or_null(p->title));
    json_object_set_new(o, "manager", str_or_null(p->manager));
    json_object_set_new(o, "site", str_or_null(p->site));
    json_object_set_new(o, "working_hours", str_or_null(p->working_hours));
    json_object_set_new(o, "email", str_or_null(p->email));
    json_object_set_new(o, "sponsor", str_or_null(p->sponsor));
    json_object_set_new(o, "guest_expires_ts",
                        p->guest_expires_ts ? json_integer(p->guest_expires_ts) : json_null());
    free(path);
    return o;
}

json_t *balai_api_directory_unit_json(struct balai_app *app, const struct balai_gov_unit *u)
{
    struct balai_gov_directory *dir = app->directory->dir;
    char *path = balai_gov_unit_path(dir, u->unit_id);
    json_t *admins = json_array();
    json_t *o;

    for (size_t i = 0; i < u->n_admins; i++)
        json_array_append_new(admins, json_string(u->admins[i]));
    o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:I}", "unit_id", u->unit_id, "name",
                  u->name, "parent", str_or_null(u->parent_id), "path", path ? path : u->name,
                  "admins", admins, "created_ts", (json_int_t)u->created_ts, "members",
                  (json_int_t)balai_gov_unit_members(dir, u->unit_id), "children",
                  (json_int_t)balai_gov_unit_children(dir, u->unit_id));
    free(path);
    return o;
}

int balai_api_directory_visible(struct balai_app *app, const char *viewer, const char *target)
{
    struct balai_gov_directory *dir = app->directory->dir;
    struct balai_user *u = balai_accounts_user(app->accounts, target);
    const struct balai_gov_person *t, *v;

    if (!u || u->deactivated || u->system)
        return 0;
    t = balai_gov_directory_get(dir, target);
    if (t && t->status == BALAI_STATUS_TERMINATED)
        return 0;
    if (t && t->guest && balai_api_directory_access_refused(app, target))
        return 0;
    v = viewer ? balai_gov_directory_get(dir, viewer) : NULL;
    if (!v || !v->guest)
        return 1;
    /* a guest sees themselves, their sponsor and the people of their unit */
    if (strcmp(viewer, target) == 0 || (v->sponsor && strcmp(v->sponsor, target) == 0))
        return 1;
    return v->unit_id && t && t->unit_id && balai_gov_unit_within(dir, t->unit_id, v->unit_id);
}
