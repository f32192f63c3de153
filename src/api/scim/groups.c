/* groups.c: SCIM Groups (RFC 7643 §4.2): /scim/v2/Groups create, get, list
 * with filter and paging, PUT, PATCH (members added and removed the way
 * Entra and Okta send them) and DELETE. Members are provisioned users; the
 * groups feed membership rules (scim.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/scim/scim_int.h"
#include "gov/scim_filter.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "scim"
#include "util/log.h"

#define MAX_DISPLAY_NAME 256

/* ---- memory ---- */

void scim_group_free(struct scim_group *g)
{
    if (!g)
        return;
    free(g->scim_id);
    free(g->display_name);
    free(g->external_id);
    balai_map_free(g->members);
    free(g);
}

struct scim_group *scim_group_put(struct balai_app *app, const struct balai_scim_group_rec *r)
{
    struct balai_api_scim *sc = app->scim;
    struct scim_group *g = balai_map_get_str(sc->groups_by_id, r->scim_id);

    if (!g) {
        g = balai_calloc(1, sizeof(*g));
        g->scim_id = balai_strdup(r->scim_id);
        g->members = balai_map_new();
        balai_map_put_str(sc->groups_by_id, g->scim_id, g);
        if (sc->n_groups == sc->cap_groups) {
            sc->cap_groups = sc->cap_groups ? sc->cap_groups * 2 : 16;
            sc->groups = balai_realloc(sc->groups, sc->cap_groups * sizeof(*sc->groups));
        }
        sc->groups[sc->n_groups++] = g;
    }
    free(g->display_name);
    free(g->external_id);
    g->display_name = balai_strdup(r->display_name);
    g->external_id = r->external_id ? balai_strdup(r->external_id) : NULL;
    g->created = r->created_ts;
    g->modified = r->modified_ts;
    g->version = r->version;
    return g;
}

/* ---- rendering ---- */

struct members_ctx {
    struct balai_app *app;
    json_t *arr;
    const char *base;
};

static int add_member(const char *user_id, void *arg)
{
    struct members_ctx *c = arg;
    struct scim_user *u = balai_map_get_str(c->app->scim->by_uid, user_id);

    if (!u || u->deleted)
        return 0;
    json_array_append_new(c->arr, json_pack("{s:s, s:s, s:s++}", "value", u->scim_id, "display",
                                            u->user_name, "$ref", c->base, "/scim/v2/Users/",
                                            u->scim_id));
    return 0;
}

json_t *scim_group_json(struct balai_app *app, struct balai_http_req *req,
                        const struct scim_group *g, int with_members)
{
    char created[32], modified[32], ver[32];
    char *base = scim_base_url(req);
    json_t *o = json_pack("{s:[s], s:s, s:s}", "schemas", BALAI_SCIM_URN_GROUP, "id", g->scim_id,
                          "displayName", g->display_name);

    if (g->external_id)
        json_object_set_new(o, "externalId", json_string(g->external_id));
    if (with_members) {
        struct members_ctx c = {app, json_array(), base};
        balai_api_scim_group_members(app, g->scim_id, add_member, &c);
        json_object_set_new(o, "members", c.arr);
    }
    scim_time(g->created, created);
    scim_time(g->modified, modified);
    snprintf(ver, sizeof(ver), "W/\"%lld\"", (long long)g->version);
    json_object_set_new(o, "meta",
                        json_pack("{s:s, s:s, s:s, s:s, s:s++}", "resourceType", "Group",
                                  "created", created, "lastModified", modified, "version", ver,
                                  "location", base, "/scim/v2/Groups/", g->scim_id));
    free(base);
    return o;
}

/* ---- the write ---- */

struct group_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_scim_group_rec rec;
    char **add, **rem; /* Matrix user ids */
    size_t n_add, n_rem;
    int is_new, deleting, renamed;
    int status;
    struct balai_api_audit_entry *audit;
};

static void group_op_free(struct group_op *x)
{
    free((char *)x->rec.scim_id);
    free((char *)x->rec.display_name);
    free((char *)x->rec.external_id);
    for (size_t i = 0; i < x->n_add; i++)
        free(x->add[i]);
    for (size_t i = 0; i < x->n_rem; i++)
        free(x->rem[i]);
    free(x->add);
    free(x->rem);
    free(x);
}

static int group_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct group_op *x = (struct group_op *)op;
    int rc;

    if (x->deleting) {
        rc = balai_store_txn_scim_group_delete(t, x->rec.scim_id);
    } else {
        rc = balai_store_txn_scim_group_set(t, &x->rec);
        for (size_t i = 0; rc == BALAI_OK && i < x->n_rem; i++)
            rc = balai_store_txn_scim_member_set(t, x->rec.scim_id, x->rem[i], 0);
        for (size_t i = 0; rc == BALAI_OK && i < x->n_add; i++)
            rc = balai_store_txn_scim_member_set(t, x->rec.scim_id, x->add[i], 1);
    }
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void group_done(struct balai_store_op *op)
{
    struct group_op *x = (struct group_op *)op;
    struct balai_app *app = x->app;
    struct scim_group *g;

    balai_api_audit_entry_done(app, x->audit, op->rc);
    if (op->rc != BALAI_OK) {
        scim_error(x->req, 500, NULL, "Could not store the change; nothing was changed");
        goto out;
    }
    if (x->deleting) {
        g = balai_map_del_str(app->scim->groups_by_id, x->rec.scim_id);
        if (g) {
            g->deleted = 1;
            for (size_t i = 0; i < x->n_rem; i++)
                balai_map_del_str(g->members, x->rem[i]);
        }
    } else {
        g = scim_group_put(app, &x->rec);
        for (size_t i = 0; i < x->n_rem; i++)
            balai_map_del_str(g->members, x->rem[i]);
        for (size_t i = 0; i < x->n_add; i++)
            balai_map_put_str(g->members, x->add[i], g);
    }
    LOG_INFO("SCIM group %s %s: +%zu -%zu members", x->rec.scim_id,
             x->deleting ? "deleted" : x->is_new ? "created" : "updated", x->n_add, x->n_rem);
    if (x->is_new || x->deleting || x->renamed)
        scim_notify(app, BALAI_API_SCIM_GROUP, x->rec.scim_id, NULL);
    for (size_t i = 0; i < x->n_rem; i++)
        scim_notify(app, BALAI_API_SCIM_GROUP_MEMBER, x->rec.scim_id, x->rem[i]);
    for (size_t i = 0; i < x->n_add; i++)
        scim_notify(app, BALAI_API_SCIM_GROUP_MEMBER, x->rec.scim_id, x->add[i]);
    if (x->status == 204) {
        balai_http_respond(x->req, 204, NULL, "", 0);
    } else {
        json_t *o = scim_group_json(app, x->req, g, 1);
        if (x->status == 201)
            balai_http_add_header(x->req, "Location",
                                  json_string_value(json_object_get(json_object_get(o, "meta"),
                                                                    "location")));
        scim_etag(x->req, g->version);
        scim_json(x->req, x->status, o);
    }
out:
    group_op_free(x);
    scim_write_done(app);
}

static void push(char ***v, size_t *n, const char *s)
{
    *v = balai_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = balai_strdup(s);
}

/* Validates a Group body (POST, PUT, or a PATCH's result) against group g
 * (NULL: new) and submits the write. Returns 1 when submitted, 0 when
 * answered. */
static int submit_group(struct balai_http_req *req, const struct scim_token *tok,
                        const json_t *in, struct scim_group *g)
{
    struct balai_app *app = balai_api_app(req);
    const json_t *s = balai_scim_json_get(in, "schemas", NULL);
    const json_t *dn = balai_scim_json_get(in, "displayName", NULL);
    const json_t *ext = balai_scim_json_get(in, "externalId", NULL);
    const json_t *members = balai_scim_json_get(in, "members", NULL);
    struct balai_map *want = balai_map_new();
    struct group_op *x = balai_calloc(1, sizeof(*x));
    size_t i, it = 0, klen;
    const void *k;
    void *v;
    json_t *e;

    x->app = app;
    x->req = req;
    if (s && !json_is_array(s)) {
        scim_error(req, 400, "invalidSyntax", "'schemas' must be an array of URNs");
        goto answered;
    }
    json_array_foreach((json_t *)s, i, e)
    {
        if (!json_is_string(e) || strcasecmp(json_string_value(e), BALAI_SCIM_URN_GROUP) != 0) {
            scim_error(req, 400, "invalidValue", "Unknown schema %.200s in 'schemas'",
                       json_is_string(e) ? json_string_value(e) : "(not a string)");
            goto answered;
        }
    }
    const char *key;
    json_object_foreach((json_t *)in, key, e)
    {
        if (strncasecmp(key, "urn:", 4) == 0 && strcasecmp(key, BALAI_SCIM_URN_GROUP) != 0) {
            scim_error(req, 400, "invalidValue", "Unknown schema extension %.200s", key);
            goto answered;
        }
    }
    if (!json_is_string(dn) || json_string_length(dn) == 0 ||
        json_string_length(dn) > MAX_DISPLAY_NAME) {
        scim_error(req, 400, "invalidValue", "'displayName' is required: a string of 1 to %d bytes",
                   MAX_DISPLAY_NAME);
        goto answered;
    }
    if (ext && !json_is_null(ext) && !json_is_string(ext)) {
        scim_error(req, 400, "invalidValue", "'externalId' must be a string");
        goto answered;
    }
    if (members && !json_is_null(members) && !json_is_array(members)) {
        scim_error(req, 400, "invalidValue", "'members' must be an array");
        goto answered;
    }
    json_array_foreach((json_t *)members, i, e)
    {
        const json_t *val = balai_scim_json_get(e, "value", NULL);
        struct scim_user *u;
        if (!json_is_string(val)) {
            scim_error(req, 400, "invalidValue", "each member needs a string 'value'");
            goto answered;
        }
        u = scim_user_by_id(app, json_string_value(val));
        if (!u) {
            if (balai_map_get_str(app->scim->groups_by_id, json_string_value(val)))
                scim_error(req, 400, "invalidValue",
                           "member %.100s is a group: nested groups are not supported",
                           json_string_value(val));
            else
                scim_error(req, 400, "invalidValue", "member %.100s is not a provisioned user",
                           json_string_value(val));
            goto answered;
        }
        balai_map_put_str(want, u->user_id, u);
    }
    if (g) {
        while (balai_map_next(g->members, &it, &k, &klen, &v))
            if (!balai_map_get(want, k, klen))
                push(&x->rem, &x->n_rem, k);
    }
    it = 0;
    while (balai_map_next(want, &it, &k, &klen, &v))
        if (!g || !balai_map_get(g->members, k, klen))
            push(&x->add, &x->n_add, k);
    x->is_new = !g;
    x->renamed = g && strcmp(g->display_name, json_string_value(dn)) != 0;
    x->rec.scim_id = g ? balai_strdup(g->scim_id) : scim_new_id();
    x->rec.display_name = balai_strdup(json_string_value(dn));
    x->rec.external_id = json_is_string(ext) && json_string_length(ext)
                             ? balai_strdup(json_string_value(ext))
                             : NULL;
    x->rec.created_ts = g ? g->created : balai_now_ms();
    x->rec.modified_ts = balai_now_ms();
    x->rec.version = g ? g->version + 1 : 1;
    x->status = g ? 200 : 201;
    char *actor = scim_actor(tok);
    x->audit = balai_api_audit_entry_new(
        app, actor, g ? "scim.group.update" : "scim.group.create", x->rec.scim_id,
        json_pack("{s:s, s:I, s:I}", "displayName", x->rec.display_name, "added",
                  (json_int_t)x->n_add, "removed", (json_int_t)x->n_rem));
    free(actor);
    x->op.apply = group_apply;
    x->op.done = group_done;
    balai_map_free(want);
    balai_store_submit(app->store, &x->op);
    return 1;
answered:
    balai_map_free(want);
    group_op_free(x);
    return 0;
}

/* ---- handlers ---- */

static struct scim_group *find(struct balai_http_req *req)
{
    struct scim_group *g = balai_map_get_str(balai_api_app(req)->scim->groups_by_id,
                                             req->params[0]);
    if (!g)
        scim_error(req, 404, NULL, "Group %.100s not found", req->params[0]);
    return g;
}

static int run_create(struct balai_http_req *req)
{
    const struct scim_token *tok = scim_auth(req);
    json_t *body = NULL;
    int rc = 0;

    if (tok && scim_body(req, &body) == BALAI_OK)
        rc = submit_group(req, tok, body, NULL);
    json_decref(body);
    return rc;
}

static void post_group(struct balai_http_req *req)
{
    scim_write(req, run_create);
}

/* Whether the request asks to leave members out (Entra does). */
static int members_excluded(struct balai_http_req *req)
{
    const char *ex = balai_http_req_query(req, "excludedAttributes");
    const char *at = balai_http_req_query(req, "attributes");
    return (ex && strcasestr(ex, "members")) || (at && *at && !strcasestr(at, "members"));
}

static void get_group(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct scim_group *g;
    json_t *o;

    if (!scim_auth(req) || !(g = find(req)))
        return;
    o = scim_group_json(app, req, g, !members_excluded(req));
    scim_project(req, o);
    scim_etag(req, g->version);
    scim_json(req, 200, o);
}

static void list_groups(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_scim *sc = app->scim;
    const char *ftext = balai_http_req_query(req, "filter");
    struct balai_scim_filter *f = NULL;
    json_t *arr = json_array();
    size_t start, count, total = 0;
    int with_members = !members_excluded(req);
    char err[300];

    if (!scim_auth(req) || scim_paging(req, &start, &count) < 0)
        goto out;
    if (ftext && *ftext && balai_scim_filter_parse(ftext, &f, err, sizeof(err)) != BALAI_OK) {
        scim_error(req, 400, "invalidFilter", "Invalid filter: %s", err);
        goto out;
    }
    for (size_t i = 0; i < sc->n_groups; i++) {
        struct scim_group *g = sc->groups[i];
        if (g->deleted)
            continue;
        /* members only when the filter or the answer needs them */
        json_t *o = scim_group_json(app, req, g, with_members || f);
        if (!f || balai_scim_filter_match(f, o, BALAI_SCIM_URN_GROUP)) {
            total++;
            if (total >= start && json_array_size(arr) < count) {
                if (!with_members)
                    json_object_del(o, "members");
                scim_project(req, o);
                json_array_append(arr, o);
            }
        }
        json_decref(o);
    }
    scim_json(req, 200,
              json_pack("{s:[s], s:I, s:I, s:I, s:O}", "schemas", SCIM_URN_LIST, "totalResults",
                        (json_int_t)total, "itemsPerPage", (json_int_t)json_array_size(arr),
                        "startIndex", (json_int_t)start, "Resources", arr));
out:
    balai_scim_filter_free(f);
    json_decref(arr);
}

static int run_put(struct balai_http_req *req)
{
    const struct scim_token *tok = scim_auth(req);
    struct scim_group *g;
    json_t *body = NULL;
    int rc = 0;

    if (tok && (g = find(req)) && scim_if_match(req, g->version) == BALAI_OK &&
        scim_body(req, &body) == BALAI_OK)
        rc = submit_group(req, tok, body, g);
    json_decref(body);
    return rc;
}

static void put_group(struct balai_http_req *req)
{
    scim_write(req, run_put);
}

static int run_patch(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const struct scim_token *tok = scim_auth(req);
    struct scim_group *g;
    json_t *body = NULL, *res = NULL;
    const char *type = NULL;
    char err[300];
    int rc = 0;

    if (!tok || !(g = find(req)) || scim_if_match(req, g->version) < 0 ||
        scim_body(req, &body) < 0)
        goto out;
    res = scim_group_json(app, req, g, 1);
    if (scim_patch_apply(res, body, BALAI_SCIM_URN_GROUP, &type, err, sizeof(err)) != BALAI_OK) {
        scim_error(req, 400, type, "%s", err);
        goto out;
    }
    rc = submit_group(req, tok, res, g);
out:
    json_decref(res);
    json_decref(body);
    return rc;
}

static void patch_group(struct balai_http_req *req)
{
    scim_write(req, run_patch);
}

static int run_delete(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const struct scim_token *tok = scim_auth(req);
    struct scim_group *g;
    size_t it = 0, klen;
    const void *k;
    void *v;

    if (!tok || !(g = find(req)) || scim_if_match(req, g->version) < 0)
        return 0;
    struct group_op *x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->deleting = 1;
    x->status = 204;
    x->rec.scim_id = balai_strdup(g->scim_id);
    x->rec.display_name = balai_strdup(g->display_name);
    while (balai_map_next(g->members, &it, &k, &klen, &v))
        push(&x->rem, &x->n_rem, k);
    char *actor = scim_actor(tok);
    x->audit = balai_api_audit_entry_new(app, actor, "scim.group.delete", g->scim_id,
                                         json_pack("{s:s, s:I}", "displayName", g->display_name,
                                                   "removed", (json_int_t)x->n_rem));
    free(actor);
    x->op.apply = group_apply;
    x->op.done = group_done;
    balai_store_submit(app->store, &x->op);
    return 1;
}

static void delete_group(struct balai_http_req *req)
{
    scim_write(req, run_delete);
}

int scim_groups_routes(struct balai_app *app)
{
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Groups", list_groups, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/scim/v2/Groups", post_group, SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Groups/{id}", get_group, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/scim/v2/Groups/{id}", put_group, SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_PATCH, "/scim/v2/Groups/{id}", patch_group,
                          SCIM_MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, "/scim/v2/Groups/{id}", delete_group, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
