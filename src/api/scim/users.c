/* users.c: SCIM Users (RFC 7643 §4.1 with the enterprise extension §4.3):
 * /scim/v2/Users create, get, list with filter and paging, PUT, PATCH and
 * DELETE; the mapping to Matrix accounts and directory records
 * (docs/scim.md "Attribute mapping"). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/directory.h"
#include "api/offboard.h"
#include "api/scim/scim_int.h"
#include "api/stewardship.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "gov/scim_filter.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "scim"
#include "util/log.h"

#define MAX_USER_NAME 256
#define MAX_LOCALPART 64

/* Core User attributes, canonical spelling (matched case-insensitively). */
static const char *const user_attrs[] = {
    "userName", "name",   "displayName",  "nickName", "profileUrl",       "title",
    "userType", "preferredLanguage",      "locale",   "timezone",         "active",
    "emails",   "phoneNumbers",           "ims",      "photos",           "addresses",
    "entitlements", "roles", "x509Certificates", "externalId"};
static const char *const ent_attrs[] = {"employeeNumber", "costCenter", "organization",
                                        "division", "department", "manager"};

static const char *canonical(const char *const *names, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], k) == 0)
            return names[i];
    return NULL;
}

static char *lower(const char *s)
{
    char *l = balai_strdup(s);
    for (char *c = l; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return l;
}

/* ---- memory ---- */

void scim_user_free(struct scim_user *u)
{
    if (!u)
        return;
    free(u->scim_id);
    free(u->user_id);
    free(u->user_name);
    free(u->external_id);
    json_decref(u->attrs);
    free(u);
}

void scim_user_put(struct balai_app *app, const struct balai_scim_user_rec *r, json_t *attrs)
{
    struct balai_api_scim *sc = app->scim;
    struct scim_user *u = balai_map_get_str(sc->by_uid, r->user_id);
    char *lc;

    if (u) {
        if (!u->deleted) {
            balai_map_del_str(sc->by_id, u->scim_id);
            lc = lower(u->user_name);
            if (balai_map_get_str(sc->by_name, lc) == u)
                balai_map_del_str(sc->by_name, lc);
            free(lc);
        }
        free(u->scim_id);
        free(u->user_name);
        free(u->external_id);
        json_decref(u->attrs);
    } else {
        u = balai_calloc(1, sizeof(*u));
        u->user_id = balai_strdup(r->user_id);
        balai_map_put_str(sc->by_uid, u->user_id, u);
        if (sc->n_users == sc->cap_users) {
            sc->cap_users = sc->cap_users ? sc->cap_users * 2 : 64;
            sc->users = balai_realloc(sc->users, sc->cap_users * sizeof(*sc->users));
        }
        sc->users[sc->n_users++] = u;
    }
    u->scim_id = balai_strdup(r->scim_id);
    u->user_name = balai_strdup(r->user_name);
    u->external_id = r->external_id ? balai_strdup(r->external_id) : NULL;
    u->attrs = attrs; /* takes the reference */
    u->created = r->created_ts;
    u->modified = r->modified_ts;
    u->version = r->version;
    u->deleted = r->deleted_ts;
    if (!u->deleted) {
        balai_map_put_str(sc->by_id, u->scim_id, u);
        lc = lower(u->user_name);
        balai_map_put_str(sc->by_name, lc, u);
        free(lc);
    }
}

struct scim_user *scim_user_by_id(struct balai_app *app, const char *scim_id)
{
    return balai_map_get_str(app->scim->by_id, scim_id);
}

/* ---- rendering ---- */

static int add_group_ref(const char *group_id, const char *name, void *arg)
{
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s}", "value", group_id, "display", name,
                                         "type", "direct"));
    return 0;
}

json_t *scim_user_json(struct balai_app *app, struct balai_http_req *req,
                       const struct scim_user *u)
{
    const struct balai_gov_person *p = balai_gov_directory_get(app->directory->dir, u->user_id);
    struct balai_user *acc = balai_accounts_user(app->accounts, u->user_id);
    json_t *o = json_object(), *ent, *groups = json_array(), *copy = json_deep_copy(u->attrs);
    char created[32], modified[32], ver[32];
    char *base = scim_base_url(req);

    /* schemas, id, externalId and userName first, as people read them */
    json_object_set_new(o, "schemas", json_pack("[s]", BALAI_SCIM_URN_USER));
    json_object_set_new(o, "id", json_string(u->scim_id));
    if (u->external_id)
        json_object_set_new(o, "externalId", json_string(u->external_id));
    json_object_set_new(o, "userName", json_string(u->user_name));
    json_object_update(o, copy);
    json_decref(copy);
    ent = json_object_get(o, BALAI_SCIM_URN_ENTERPRISE);
    if (p) {
        if (p->display_name)
            json_object_set_new(o, "displayName", json_string(p->display_name));
        if (p->title)
            json_object_set_new(o, "title", json_string(p->title));
        if (p->employee_number || p->manager) {
            if (!ent) {
                ent = json_object();
                json_object_set_new(o, BALAI_SCIM_URN_ENTERPRISE, ent);
            }
            if (p->employee_number)
                json_object_set_new(ent, "employeeNumber", json_string(p->employee_number));
            if (p->manager) {
                struct scim_user *m = balai_map_get_str(app->scim->by_uid, p->manager);
                const struct balai_gov_person *mp =
                    balai_gov_directory_get(app->directory->dir, p->manager);
                json_t *mj = json_pack("{s:s}", "value",
                                       m && !m->deleted ? m->scim_id : p->manager);
                if (mp && mp->display_name)
                    json_object_set_new(mj, "displayName", json_string(mp->display_name));
                json_object_set_new(ent, "manager", mj);
            } else {
                json_object_del(ent, "manager");
            }
        }
    }
    if (json_object_get(o, BALAI_SCIM_URN_ENTERPRISE))
        json_array_append_new(json_object_get(o, "schemas"), json_string(BALAI_SCIM_URN_ENTERPRISE));
    json_object_set_new(o, "active", json_boolean(acc && !acc->deactivated));
    balai_api_scim_user_groups(app, u->user_id, add_group_ref, groups);
    if (json_array_size(groups))
        json_object_set_new(o, "groups", groups);
    else
        json_decref(groups);
    scim_time(u->created, created);
    scim_time(u->modified, modified);
    snprintf(ver, sizeof(ver), "W/\"%lld\"", (long long)u->version);
    json_object_set_new(o, "meta",
                        json_pack("{s:s, s:s, s:s, s:s, s:s++}", "resourceType", "User",
                                  "created", created, "lastModified", modified, "version", ver,
                                  "location", base, "/scim/v2/Users/", u->scim_id));
    free(base);
    return o;
}

/* ---- validation and mapping ---- */

/* "True"/"False" (Entra) -> booleans. */
static json_t *coerce_bool(json_t *v)
{
    if (json_is_string(v)) {
        if (strcasecmp(json_string_value(v), "true") == 0)
            return json_true();
        if (strcasecmp(json_string_value(v), "false") == 0)
            return json_false();
    }
    return json_incref(v);
}

struct plan {
    json_t *attrs;  /* what is kept as provisioned */
    json_t *dir;    /* directory attributes for balai_api_directory_merge */
    char *user_name;
    char *external_id;
    char *manager;  /* Matrix id, or NULL */
    int has_manager;
    char *department, *organization, *division;
    int active; /* -1 = not given */
};

static void plan_release(struct plan *pl)
{
    json_decref(pl->attrs);
    json_decref(pl->dir);
    free(pl->user_name);
    free(pl->external_id);
    free(pl->manager);
    free(pl->department);
    free(pl->organization);
    free(pl->division);
    memset(pl, 0, sizeof(*pl));
}

static int str_ok(const json_t *v, size_t max)
{
    if (!json_is_string(v) || json_string_length(v) > max)
        return 0;
    for (const char *c = json_string_value(v); *c; c++)
        if ((unsigned char)*c < 0x20)
            return 0;
    return 1;
}

static char *opt_str(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) ? balai_strdup(json_string_value(v)) : NULL;
}

/* Normalises a User body (POST, PUT, or the result of a PATCH) into a plan;
 * answers 400/409 and fails when bad. self: the user being changed, or NULL. */
static int plan_user(struct balai_http_req *req, const json_t *in, const struct scim_user *self,
                     struct plan *pl)
{
    struct balai_app *app = balai_api_app(req);
    const char *k;
    json_t *v, *s;
    size_t i;

    memset(pl, 0, sizeof(*pl));
    pl->active = -1;
    pl->attrs = json_object();
    pl->dir = json_object();
    s = balai_scim_json_get(in, "schemas", NULL);
    if (s && !json_is_array(s)) {
        scim_error(req, 400, "invalidSyntax", "'schemas' must be an array of URNs");
        return BALAI_EINVAL;
    }
    json_array_foreach(s, i, v)
    {
        if (!json_is_string(v) || (strcasecmp(json_string_value(v), BALAI_SCIM_URN_USER) != 0 &&
                                   strcasecmp(json_string_value(v), BALAI_SCIM_URN_ENTERPRISE) != 0)) {
            scim_error(req, 400, "invalidValue", "Unknown schema %.200s in 'schemas'",
                       json_is_string(v) ? json_string_value(v) : "(not a string)");
            return BALAI_EINVAL;
        }
    }
    json_object_foreach((json_t *)in, k, v)
    {
        const char *c = canonical(user_attrs, BALAI_ARRAY_LEN(user_attrs), k);
        if (c) {
            if (json_is_null(v))
                continue;
            json_object_set_new(pl->attrs, c,
                                strcmp(c, "active") == 0 ? coerce_bool(v) : json_incref(v));
            continue;
        }
        if (strcasecmp(k, BALAI_SCIM_URN_ENTERPRISE) == 0) {
            const char *ek;
            json_t *ev, *ent = json_object();
            if (!json_is_object(v)) {
                json_decref(ent);
                scim_error(req, 400, "invalidSyntax", "The enterprise extension must be an object");
                return BALAI_EINVAL;
            }
            json_object_foreach(v, ek, ev)
            {
                const char *ec = canonical(ent_attrs, BALAI_ARRAY_LEN(ent_attrs), ek);
                if (!ec || json_is_null(ev))
                    continue;
                if (strcmp(ec, "manager") == 0 && json_is_string(ev))
                    ev = json_pack("{s:O}", "value", ev);
                else
                    json_incref(ev);
                if (strcmp(ec, "manager") == 0 &&
                    (!json_is_object(ev) || !json_is_string(json_object_get(ev, "value")) ||
                     json_string_length(json_object_get(ev, "value")) == 0)) {
                    json_decref(ev);
                    continue; /* an empty manager clears it */
                }
                json_object_set_new(ent, ec, ev);
            }
            if (json_object_size(ent))
                json_object_set_new(pl->attrs, BALAI_SCIM_URN_ENTERPRISE, ent);
            else
                json_decref(ent);
            continue;
        }
        if (strncasecmp(k, "urn:", 4) == 0 && strchr(k + 4, ':') &&
            strcasecmp(k, BALAI_SCIM_URN_USER) != 0) {
            scim_error(req, 400, "invalidValue", "Unknown schema extension %.200s", k);
            return BALAI_EINVAL;
        }
        /* id, meta, groups, schemas (read-only) and unknown attributes: ignored */
    }
    /* userName */
    v = json_object_get(pl->attrs, "userName");
    if (!v || !str_ok(v, MAX_USER_NAME) || json_string_length(v) == 0) {
        scim_error(req, 400, "invalidValue",
                   "'userName' is required: a string of 1 to %d characters", MAX_USER_NAME);
        return BALAI_EINVAL;
    }
    pl->user_name = balai_strdup(json_string_value(v));
    json_object_del(pl->attrs, "userName");
    char *lc = lower(pl->user_name);
    struct scim_user *o = balai_map_get_str(app->scim->by_name, lc);
    free(lc);
    if (o && o != self) {
        scim_error(req, 409, "uniqueness", "userName %.200s is taken", pl->user_name);
        return BALAI_EEXIST;
    }
    v = json_object_get(pl->attrs, "externalId");
    if (v && !str_ok(v, MAX_USER_NAME)) {
        scim_error(req, 400, "invalidValue", "'externalId' must be a string");
        return BALAI_EINVAL;
    }
    pl->external_id = opt_str(v);
    json_object_del(pl->attrs, "externalId");
    v = json_object_get(pl->attrs, "active");
    if (v) {
        if (!json_is_boolean(v)) {
            scim_error(req, 400, "invalidValue", "'active' must be a boolean");
            return BALAI_EINVAL;
        }
        pl->active = json_is_true(v);
        json_object_del(pl->attrs, "active");
    }
    json_object_del(pl->attrs, "password"); /* never kept */
    /* the directory's attributes */
    const char *dn = json_string_value(json_object_get(pl->attrs, "displayName"));
    json_t *name = json_object_get(pl->attrs, "name");
    char *built = NULL;
    if (!dn && json_is_object(name)) {
        dn = json_string_value(json_object_get(name, "formatted"));
        if (!dn) {
            const char *g = json_string_value(json_object_get(name, "givenName"));
            const char *f = json_string_value(json_object_get(name, "familyName"));
            if (g || f)
                dn = built = balai_asprintf("%s%s%s", g ? g : "", g && f ? " " : "", f ? f : "");
        }
    }
    json_object_set_new(pl->dir, "display_name", dn && *dn ? json_string(dn) : json_null());
    free(built);
    v = json_object_get(pl->attrs, "title");
    json_object_set_new(pl->dir, "title", json_is_string(v) ? json_incref(v) : json_null());
    /* e-mail: the primary one, else "work", else the first */
    json_t *emails = json_object_get(pl->attrs, "emails"), *e, *pick = NULL;
    if (emails && !json_is_array(emails)) {
        scim_error(req, 400, "invalidValue", "'emails' must be an array");
        return BALAI_EINVAL;
    }
    json_array_foreach(emails, i, e)
    {
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "value"))) {
            scim_error(req, 400, "invalidValue", "each of 'emails' needs a string 'value'");
            return BALAI_EINVAL;
        }
        json_t *pr = json_object_get(e, "primary");
        if (pr) {
            json_t *b = coerce_bool(pr);
            json_object_set_new(e, "primary", b);
        }
        if (json_is_true(json_object_get(e, "primary")))
            pick = e;
        else if (!pick && json_is_string(json_object_get(e, "type")) &&
                 strcasecmp(json_string_value(json_object_get(e, "type")), "work") == 0)
            pick = e;
    }
    if (!pick)
        pick = json_array_get(emails, 0);
    json_object_set_new(pl->dir, "email", pick ? json_incref(json_object_get(pick, "value"))
                                               : json_null());
    json_t *ent = json_object_get(pl->attrs, BALAI_SCIM_URN_ENTERPRISE);
    v = json_object_get(ent, "employeeNumber");
    json_object_set_new(pl->dir, "employee_number",
                        json_is_string(v) ? json_incref(v) : json_null());
    pl->department = opt_str(json_object_get(ent, "department"));
    pl->organization = opt_str(json_object_get(ent, "organization"));
    pl->division = opt_str(json_object_get(ent, "division"));
    v = json_object_get(json_object_get(ent, "manager"), "value");
    pl->has_manager = 1;
    if (json_is_string(v)) {
        struct scim_user *m = scim_user_by_id(app, json_string_value(v));
        if (m) {
            pl->manager = balai_strdup(m->user_id);
        } else if (balai_accounts_user(app->accounts, json_string_value(v))) {
            pl->manager = balai_strdup(json_string_value(v));
        } else {
            scim_error(req, 400, "invalidValue", "manager %.100s is not a provisioned user",
                       json_string_value(v));
            return BALAI_EINVAL;
        }
        if (self && strcmp(pl->manager, self->user_id) == 0) {
            scim_error(req, 400, "invalidValue", "a user cannot be their own manager");
            return BALAI_EINVAL;
        }
        /* the manager's display name is the directory's: not kept */
        json_object_del(json_object_get(ent, "manager"), "displayName");
    }
    json_object_set_new(pl->dir, "manager", pl->manager ? json_string(pl->manager) : json_null());
    return BALAI_OK;
}

/* The unit a department names: a unit id; else the path organization/
 * division/department of unit names; else the only unit of that name
 * anywhere. NULL when none: then *path_out is the path to create. */
struct unit_find {
    const char *name;
    const struct balai_gov_unit *found;
    int count;
};

static int find_unit_name(const struct balai_gov_unit *u, void *arg)
{
    struct unit_find *f = arg;
    if (strcasecmp(u->name, f->name) == 0) {
        f->found = u;
        f->count++;
    }
    return 0;
}

static const char *resolve_unit(struct balai_app *app, const struct plan *pl, char **path_out)
{
    struct balai_gov_directory *dir = app->directory->dir;
    const struct balai_gov_unit *u;
    char *path;

    *path_out = NULL;
    if (!pl->department)
        return NULL;
    u = balai_gov_unit_get(dir, pl->department);
    if (u)
        return u->unit_id;
    path = balai_asprintf("%s%s%s%s%s", pl->organization ? pl->organization : "",
                          pl->organization ? "/" : "", pl->division ? pl->division : "",
                          pl->division ? "/" : "", pl->department);
    for (char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    u = balai_gov_unit_by_path(dir, path);
    if (!u) {
        struct unit_find f = {pl->department, NULL, 0};
        balai_gov_unit_each(dir, find_unit_name, &f);
        if (f.count == 1)
            u = f.found;
    }
    if (u) {
        free(path);
        return u->unit_id;
    }
    *path_out = path;
    return NULL;
}

/* ---- the write op ---- */

struct new_unit {
    char *unit_id, *name, *parent_id;
};

struct user_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    int is_new;           /* a new Matrix account */
    int revived;          /* a deleted SCIM row comes back */
    int deactivate;      /* plain deactivation, in this write */
    int offboard;        /* offboarding (api/offboard.h) once this write committed */
    int reactivate, deleting;
    char *actor;
    struct balai_gov_person *person;
    struct balai_scim_user_rec rec;
    char *attrs_text;
    json_t *attrs;
    struct new_unit *units;
    size_t n_units;
    int64_t now;
    int status; /* 200 or 201, 204 for DELETE */
    struct balai_api_audit_entry *audit;
};

static void user_op_free(struct user_op *x)
{
    free(x->actor);
    balai_gov_person_free(x->person);
    free((char *)x->rec.user_id);
    free((char *)x->rec.scim_id);
    free((char *)x->rec.user_name);
    free((char *)x->rec.external_id);
    free(x->attrs_text);
    json_decref(x->attrs);
    for (size_t i = 0; i < x->n_units; i++) {
        free(x->units[i].unit_id);
        free(x->units[i].name);
        free(x->units[i].parent_id);
    }
    free(x->units);
    free(x);
}

static int user_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct user_op *x = (struct user_op *)op;
    int rc = BALAI_OK;

    if (x->is_new) {
        struct balai_user_rec u = {x->rec.user_id, NULL, 0, 0, 0, x->person->display_name,
                                   NULL, x->now};
        rc = balai_store_txn_user_insert(t, &u);
    }
    for (size_t i = 0; rc == BALAI_OK && i < x->n_units; i++) {
        struct balai_org_unit_rec u = {x->units[i].unit_id, x->units[i].name,
                                       x->units[i].parent_id, "[]", x->now};
        rc = balai_store_txn_org_unit_set(t, &u);
    }
    if (rc == BALAI_OK && x->person)
        rc = balai_api_directory_txn_person(t, x->person);
    if (rc == BALAI_OK)
        rc = balai_store_txn_scim_user_set(t, &x->rec);
    if (rc == BALAI_OK && x->deactivate) {
        /* a plain deactivation (tokens, devices, login): for an account made
         * inactive, or when offboarding cannot run (see submit_user) */
        rc = balai_store_txn_user_deactivate(t, x->rec.user_id);
        if (rc == BALAI_OK)
            rc = balai_store_txn_device_data_delete(t, x->rec.user_id, NULL);
    }
    if (rc == BALAI_OK && x->reactivate) {
        rc = balai_store_txn_user_reactivate(t, x->rec.user_id);
        if (rc == BALAI_OK) /* the offboarding record no longer stands */
            rc = balai_store_txn_offboarding_close(t, x->rec.user_id);
    }
    if (rc == BALAI_OK && x->deleting)
        rc = balai_store_txn_scim_member_remove_all(t, x->rec.user_id);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void answer(struct user_op *x);
static void offboarded(void *arg, int rc, json_t *record);

static void user_done(struct balai_store_op *op)
{
    struct user_op *x = (struct user_op *)op;
    struct balai_app *app = x->app;
    struct balai_user *acc;

    balai_api_audit_entry_done(app, x->audit, op->rc);
    if (op->rc == BALAI_EEXIST) {
        scim_error(x->req, 409, "uniqueness", "userName or employeeNumber is taken");
        goto out;
    }
    if (op->rc != BALAI_OK) {
        scim_error(x->req, 500, NULL, "Could not store the change; nothing was changed");
        goto out;
    }
    if (x->is_new) {
        acc = balai_accounts_add_user(app->accounts, x->rec.user_id, NULL, 0, 0, x->now);
        if (acc && x->person->display_name)
            balai_user_set_displayname(acc, x->person->display_name);
        if (acc && x->deactivate)
            balai_accounts_deactivate(app->accounts, acc);
    }
    for (size_t i = 0; i < x->n_units; i++) {
        struct balai_gov_unit gu = {x->units[i].unit_id, x->units[i].name, x->units[i].parent_id,
                                    NULL, 0, x->now};
        if (balai_gov_unit_put(app->directory->dir, &gu) != BALAI_OK)
            LOG_ERROR("unit %s stored but refused in memory", gu.unit_id);
    }
    acc = balai_accounts_user(app->accounts, x->rec.user_id);
    if (x->reactivate && acc)
        acc->deactivated = 0; /* before the directory commit: the rules see it */
    if (x->person)
        balai_api_directory_committed(app, x->person);
    if (x->deactivate)
        balai_api_device_lists_device_gone(app, x->rec.user_id, NULL);
    if (x->deleting) {
        for (size_t i = 0; i < app->scim->n_groups; i++) {
            struct scim_group *g = app->scim->groups[i];
            if (!g->deleted && balai_map_del_str(g->members, x->rec.user_id))
                scim_notify(app, BALAI_API_SCIM_GROUP_MEMBER, g->scim_id, x->rec.user_id);
        }
    }
    if (x->reactivate)
        balai_api_stewardship_on_return(app, x->rec.user_id);
    scim_user_put(app, &x->rec, json_incref(x->attrs));
    LOG_INFO("SCIM %s %s (%s)", x->status == 201 ? "created" : x->deleting ? "deleted" : "updated",
             x->rec.user_id, x->rec.user_name);
    scim_notify(app, BALAI_API_SCIM_USER, NULL, x->rec.user_id);
    if (x->offboard) {
        /* OFFBOARD: SCIM active: false and DELETE offboard the person in one
         * step (api/offboard.h); the SCIM answer waits for it */
        int rc = balai_api_offboard(app, x->rec.user_id, x->actor,
                                    "deprovisioned by the identity provider (SCIM)", offboarded, x);
        if (rc == BALAI_OK)
            return; /* offboarded() answers and frees */
        LOG_ERROR("SCIM: offboarding %s could not start: %s", x->rec.user_id, balai_strerror(rc));
    }
    answer(x);
    return;
out:
    user_op_free(x);
    scim_write_done(app);
}

/* Answers a committed user write and frees it. */
static void answer(struct user_op *x)
{
    struct balai_app *app = x->app;
    struct scim_user *u = balai_map_get_str(app->scim->by_uid, x->rec.user_id);

    if (x->status == 204) {
        balai_http_respond(x->req, 204, NULL, "", 0);
    } else {
        json_t *o = scim_user_json(app, x->req, u);
        if (x->status == 201)
            balai_http_add_header(x->req, "Location",
                                  json_string_value(json_object_get(json_object_get(o, "meta"),
                                                                    "location")));
        scim_etag(x->req, u->version);
        scim_json(x->req, x->status, o);
    }
    user_op_free(x);
    scim_write_done(app);
}

static void offboarded(void *arg, int rc, json_t *record)
{
    struct user_op *x = arg;

    (void)record;
    if (rc != BALAI_OK)
        LOG_ERROR("SCIM: offboarding %s: %s (access is gone; a retry finishes it)",
                  x->rec.user_id, balai_strerror(rc));
    answer(x);
}

/* A free localpart for a userName (docs/scim.md "User names"): the part
 * before '@', lower case, other characters than a-z 0-9 . _ = - / as "_",
 * at most 64 bytes, "-2", "-3"... when taken. Caller frees the user id. */
static char *new_user_id(struct balai_app *app, const char *user_name)
{
    const char *at = strchr(user_name, '@');
    size_t n = at && at != user_name ? (size_t)(at - user_name) : strlen(user_name);
    char lp[MAX_LOCALPART + 16];
    size_t k = 0;

    for (size_t i = 0; i < n && k < MAX_LOCALPART; i++) {
        unsigned char c = (unsigned char)user_name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
            c == '=' || c == '-' || c == '/') {
            lp[k++] = (char)c;
        } else if (c >= 0x80 && c < 0xC0) {
            continue; /* a UTF-8 continuation byte: its character is already replaced */
        } else if (k == 0 || lp[k - 1] != '_') {
            lp[k++] = '_';
        }
    }
    if (k == 0)
        lp[k++] = 'u';
    lp[k] = '\0';
    for (int i = 1;; i++) {
        char cand[sizeof(lp) + 16];
        if (i == 1)
            snprintf(cand, sizeof(cand), "%s", lp);
        else
            snprintf(cand, sizeof(cand), "%s-%d", lp, i);
        char *uid = balai_id_user(cand, app->server_name);
        if (balai_id_localpart_ok(cand) && !balai_accounts_user(app->accounts, uid) &&
            strcmp(uid, app->system_user_id ? app->system_user_id : "") != 0)
            return uid;
        free(uid);
    }
}

/* Builds and submits the write of plan pl for user `self` (NULL: create).
 * Returns 1 when submitted, 0 when answered. */
static int submit_user(struct balai_http_req *req, const struct scim_token *tok,
                       struct plan *pl, struct scim_user *self, int deleting)
{
    struct balai_app *app = balai_api_app(req);
    struct user_op *x = balai_calloc(1, sizeof(*x));
    char err[300], *path = NULL;
    const char *unit_id;
    struct balai_user *acc;
    int rc;

    x->app = app;
    x->req = req;
    x->now = balai_now_ms();
    if (self) {
        x->rec.user_id = balai_strdup(self->user_id);
    } else {
        /* a deleted row with this userName: the same person again */
        struct scim_user *old = NULL;
        char *lc = lower(pl->user_name);
        for (size_t i = 0; i < app->scim->n_users && !old; i++) {
            struct scim_user *c = app->scim->users[i];
            char *cl = lower(c->user_name);
            if (c->deleted && strcmp(cl, lc) == 0)
                old = c;
            free(cl);
        }
        free(lc);
        if (old) {
            x->rec.user_id = balai_strdup(old->user_id);
            x->revived = 1;
        } else {
            x->rec.user_id = new_user_id(app, pl->user_name);
            x->is_new = 1;
        }
    }
    acc = balai_accounts_user(app->accounts, x->rec.user_id);
    x->person = x->is_new ? NULL : balai_api_directory_person(app, x->rec.user_id);
    if (x->is_new) {
        struct balai_gov_person blank;
        memset(&blank, 0, sizeof(blank));
        blank.user_id = x->rec.user_id;
        blank.role = BALAI_ROLE_MEMBER;
        blank.status = BALAI_STATUS_ACTIVE;
        x->person = balai_gov_person_dup(&blank);
    }
    if (!x->person) {
        scim_error(req, 404, NULL, "The account of this user is gone");
        goto answered;
    }
    if (!deleting) {
        rc = balai_api_directory_merge(app, x->person, pl->dir, err, sizeof(err));
        if (rc == BALAI_EEXIST) {
            scim_error(req, 409, "uniqueness", "%s", err);
            goto answered;
        }
        if (rc != BALAI_OK) {
            scim_error(req, 400, "invalidValue", "%s", err);
            goto answered;
        }
        unit_id = resolve_unit(app, pl, &path);
        if (path) {
            /* create the missing units along organization/division/department */
            const char *parent = NULL;
            char *save = NULL, *seg;
            char *copy = balai_strdup(path);
            struct balai_gov_directory *dir = app->directory->dir;
            size_t plen = 0;
            for (seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
                char *prefix = balai_strndup(path, (size_t)(seg - copy) + strlen(seg));
                const struct balai_gov_unit *have = balai_gov_unit_by_path(dir, prefix);
                free(prefix);
                plen++;
                if (have) {
                    parent = have->unit_id;
                    continue;
                }
                x->units = balai_realloc(x->units, (x->n_units + 1) * sizeof(*x->units));
                struct new_unit *nu = &x->units[x->n_units++];
                nu->name = balai_strdup(seg);
                nu->parent_id = parent ? balai_strdup(parent) : NULL;
                nu->unit_id = balai_gov_unit_new_id(dir, parent, seg);
                for (size_t j = 0; j + 1 < x->n_units; j++) /* unique within this write */
                    if (strcmp(x->units[j].unit_id, nu->unit_id) == 0) {
                        char *o = nu->unit_id;
                        nu->unit_id = balai_asprintf("%s-%zu", o, x->n_units);
                        free(o);
                    }
                parent = nu->unit_id;
            }
            free(copy);
            unit_id = parent;
        }
        balai_gov_person_set(&x->person->unit_id, unit_id);
        free(path);
        if (x->person->manager && balai_gov_directory_check_manager(
                                      app->directory->dir, x->person->user_id,
                                      x->person->manager) != BALAI_OK) {
            scim_error(req, 400, "invalidValue", "the manager would make a cycle");
            goto answered;
        }
        x->person->updated_ts = x->now;
    }
    /* active */
    int want_active = deleting ? 0 : pl->active >= 0 ? pl->active : (x->is_new ? 1 : -1);
    if (x->revived && pl->active < 0 && !deleting)
        want_active = 1;
    if (want_active == 0 && acc && !acc->deactivated) {
        int current = 0;
        if (acc->system) {
            scim_error(req, 403, NULL, "The system user cannot be deactivated");
            goto answered;
        }
        /* offboarding, unless an earlier record still stands (then it
         * would do nothing): a plain deactivation */
        if (app->offboard && (!balai_api_offboard_record(app, acc->user_id, &current) || !current))
            x->offboard = 1;
        else
            x->deactivate = 1;
    } else if (want_active == 1 && acc && acc->deactivated) {
        x->reactivate = 1;
        if (x->person)
            x->person->status = BALAI_STATUS_ACTIVE;
    }
    if (x->is_new && want_active == 0)
        x->deactivate = 1; /* created inactive: made, then deactivated, in one write */
    x->deleting = deleting;
    x->rec.scim_id = self && !deleting ? balai_strdup(self->scim_id)
                     : self          ? balai_strdup(self->scim_id)
                                     : scim_new_id();
    x->rec.user_name = balai_strdup(pl->user_name);
    x->rec.external_id = pl->external_id ? balai_strdup(pl->external_id) : NULL;
    x->attrs = json_incref(pl->attrs);
    x->attrs_text = json_dumps(x->attrs, JSON_COMPACT | JSON_SORT_KEYS);
    x->rec.attrs = x->attrs_text;
    x->rec.created_ts = self ? self->created : x->now;
    x->rec.modified_ts = x->now;
    x->rec.version = self ? self->version + 1 : 1;
    x->rec.deleted_ts = deleting ? x->now : 0;
    x->status = deleting ? 204 : self ? 200 : 201;
    if (deleting) {
        balai_gov_person_free(x->person);
        x->person = NULL;
    }
    /* revocation takes effect at once, before the write commits */
    if (x->deactivate && acc)
        balai_accounts_deactivate(app->accounts, acc);
    x->actor = scim_actor(tok);
    const char *actor = x->actor;
    const char *action = deleting          ? "scim.user.deactivate"
                         : x->status == 201 ? "scim.user.create"
                         : x->deactivate || x->offboard ? "scim.user.deactivate"
                         : x->reactivate    ? "scim.user.reactivate"
                                            : "scim.user.update";
    json_t *detail = json_pack("{s:s, s:s}", "scim_id", x->rec.scim_id, "userName",
                               x->rec.user_name);
    if (deleting)
        json_object_set_new(detail, "deleted", json_true());
    x->audit = balai_api_audit_entry_new(app, actor, action, x->rec.user_id, detail);
    x->op.apply = user_apply;
    x->op.done = user_done;
    balai_store_submit(app->store, &x->op);
    return 1;
answered:
    user_op_free(x);
    return 0;
}

/* ---- handlers ---- */

static int run_create(struct balai_http_req *req)
{
    const struct scim_token *tok = scim_auth(req);
    json_t *body = NULL;
    struct plan pl;
    int rc = 0;

    memset(&pl, 0, sizeof(pl));
    if (!tok || scim_body(req, &body) < 0)
        goto out;
    if (plan_user(req, body, NULL, &pl) < 0)
        goto out;
    rc = submit_user(req, tok, &pl, NULL, 0);
out:
    plan_release(&pl);
    json_decref(body);
    return rc;
}

static void post_user(struct balai_http_req *req)
{
    scim_write(req, run_create);
}

static struct scim_user *find(struct balai_http_req *req)
{
    struct scim_user *u = scim_user_by_id(balai_api_app(req), req->params[0]);
    if (!u)
        scim_error(req, 404, NULL, "User %.100s not found", req->params[0]);
    return u;
}

static void get_user(struct balai_http_req *req)
{
    struct scim_user *u;
    json_t *o;

    if (!scim_auth(req) || !(u = find(req)))
        return;
    o = scim_user_json(balai_api_app(req), req, u);
    scim_project(req, o);
    scim_etag(req, u->version);
    scim_json(req, 200, o);
}

static int run_put(struct balai_http_req *req)
{
    const struct scim_token *tok = scim_auth(req);
    json_t *body = NULL;
    struct scim_user *u;
    struct plan pl;
    int rc = 0;

    memset(&pl, 0, sizeof(pl));
    if (!tok || !(u = find(req)) || scim_if_match(req, u->version) < 0 ||
        scim_body(req, &body) < 0)
        goto out;
    if (plan_user(req, body, u, &pl) < 0)
        goto out;
    rc = submit_user(req, tok, &pl, u, 0);
out:
    plan_release(&pl);
    json_decref(body);
    return rc;
}

static void put_user(struct balai_http_req *req)
{
    scim_write(req, run_put);
}

static int run_patch(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const struct scim_token *tok = scim_auth(req);
    json_t *body = NULL, *res = NULL;
    struct scim_user *u;
    struct plan pl;
    const char *type = NULL;
    char err[300];
    int rc = 0;

    memset(&pl, 0, sizeof(pl));
    if (!tok || !(u = find(req)) || scim_if_match(req, u->version) < 0 ||
        scim_body(req, &body) < 0)
        goto out;
    res = scim_user_json(app, req, u);
    if (scim_patch_apply(res, body, BALAI_SCIM_URN_USER, &type, err, sizeof(err)) != BALAI_OK) {
        scim_error(req, 400, type, "%s", err);
        goto out;
    }
    if (plan_user(req, res, u, &pl) < 0)
        goto out;
    rc = submit_user(req, tok, &pl, u, 0);
out:
    plan_release(&pl);
    json_decref(res);
    json_decref(body);
    return rc;
}

static void patch_user(struct balai_http_req *req)
{
    scim_write(req, run_patch);
}

static int run_delete(struct balai_http_req *req)
{
    const struct scim_token *tok = scim_auth(req);
    struct scim_user *u;
    struct plan pl;
    int rc = 0;

    memset(&pl, 0, sizeof(pl));
    if (!tok || !(u = find(req)) || scim_if_match(req, u->version) < 0)
        goto out;
    pl.user_name = balai_strdup(u->user_name);
    pl.external_id = u->external_id ? balai_strdup(u->external_id) : NULL;
    pl.attrs = json_incref(u->attrs);
    pl.active = 0;
    rc = submit_user(req, tok, &pl, u, 1);
out:
    plan_release(&pl);
    return rc;
}

static void delete_user(struct balai_http_req *req)
{
    scim_write(req, run_delete);
}

/* userName eq "x" (the providers' lookup): answered by the index. */
static int simple_user_name(const struct balai_scim_filter *f)
{
    return f->op == BALAI_SCIM_EQ && !f->attr.sub && json_is_string(f->value) &&
           (!f->attr.urn || strcasecmp(f->attr.urn, BALAI_SCIM_URN_USER) == 0) &&
           strcasecmp(f->attr.name, "userName") == 0;
}

static void list_users(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_scim *sc = app->scim;
    const char *ftext = balai_http_req_query(req, "filter");
    struct balai_scim_filter *f = NULL;
    json_t *arr = json_array();
    size_t start, count, total = 0;
    char err[300];

    if (!scim_auth(req) || scim_paging(req, &start, &count) < 0)
        goto out;
    if (ftext && *ftext && balai_scim_filter_parse(ftext, &f, err, sizeof(err)) != BALAI_OK) {
        scim_error(req, 400, "invalidFilter", "Invalid filter: %s", err);
        goto out;
    }
    if (f && simple_user_name(f)) {
        char *lc = lower(json_string_value(f->value));
        struct scim_user *u = balai_map_get_str(sc->by_name, lc);
        free(lc);
        if (u) {
            total = 1;
            if (start == 1 && count > 0) {
                json_t *o = scim_user_json(app, req, u);
                scim_project(req, o);
                json_array_append_new(arr, o);
            }
        }
    } else {
        for (size_t i = 0; i < sc->n_users; i++) {
            struct scim_user *u = sc->users[i];
            if (u->deleted)
                continue;
            json_t *o = scim_user_json(app, req, u);
            if (!f || balai_scim_filter_match(f, o, BALAI_SCIM_URN_USER)) {
                total++;
                if (total >= start && json_array_size(arr) < count) {
                    scim_project(req, o);
                    json_array_append(arr, o);
                }
            }
            json_decref(o);
        }
    }
    scim_json(req, 200,
              json_pack("{s:[s], s:I, s:I, s:I, s:O}", "schemas", SCIM_URN_LIST, "totalResults",
                        (json_int_t)total, "itemsPerPage", (json_int_t)json_array_size(arr),
                        "startIndex", (json_int_t)start, "Resources", arr));
out:
    balai_scim_filter_free(f);
    json_decref(arr);
}

int scim_users_routes(struct balai_app *app)
{
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Users", list_users, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/scim/v2/Users", post_user, SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Users/{id}", get_user, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/scim/v2/Users/{id}", put_user, SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_PATCH, "/scim/v2/Users/{id}", patch_user,
                          SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, "/scim/v2/Users/{id}", delete_user, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
