/* scim.c: SCIM state, provisioning tokens, authentication, answers and
 * errors, the write queue, the discovery endpoints (ServiceProviderConfig,
 * ResourceTypes, Schemas), the token admin API and the group queries that
 * membership rules use (scim.h). */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/scim/scim_int.h"
#include "core/accounts.h"
#include "crypto/crypto.h"
#include "gov/scim_filter.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "scim"
#include "util/log.h"

#define TOKEN_PREFIX "balai_scim_"
#define MAX_TOKEN_NAME 100

/* ---- answers ---- */

void scim_json(struct balai_http_req *req, int status, json_t *body)
{
    size_t len = 0;
    char *s = body ? balai_json_dump(body, 0, &len) : NULL;

    json_decref(body);
    if (!s) {
        balai_http_respond(req, status, NULL, "", 0);
        return;
    }
    balai_http_respond_take(req, status, SCIM_CT, s, len);
}

void scim_error(struct balai_http_req *req, int status, const char *scim_type, const char *fmt,
                ...)
{
    char detail[512], st[8];
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(st, sizeof(st), "%d", status);
    o = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_URN_ERROR, "status", st, "detail", detail);
    if (scim_type)
        json_object_set_new(o, "scimType", json_string(scim_type));
    scim_json(req, status, o);
}

char *scim_actor(const struct scim_token *t)
{
    return balai_asprintf("scim:%s", t->name);
}

const struct scim_token *scim_auth(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_slice h = balai_http_req_header(req, "Authorization");
    const struct scim_token *t = NULL;
    uint8_t hash[32];

    if (!h.ptr || h.len < 8 || strncasecmp(h.ptr, "Bearer ", 7) != 0) {
        balai_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"scim\"");
        scim_error(req, 401, NULL, "A provisioning token is required (Authorization: Bearer)");
        return NULL;
    }
    size_t off = 7;
    while (off < h.len && h.ptr[off] == ' ')
        off++;
    balai_sha256(h.ptr + off, h.len - off, hash);
    if (app->scim)
        t = balai_map_get(app->scim->tokens, hash, sizeof(hash));
    if (!t) {
        balai_http_add_header(req, "WWW-Authenticate",
                              "Bearer realm=\"scim\", error=\"invalid_token\"");
        scim_error(req, 401, NULL, "Unknown or revoked provisioning token");
        return NULL;
    }
    return t;
}

int scim_body(struct balai_http_req *req, json_t **out)
{
    json_error_t e;
    json_t *j;

    *out = NULL;
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        scim_error(req, 400, "invalidSyntax", "The body is not valid JSON: %s (line %d)", e.text,
                   e.line);
        return BALAI_EINVAL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        scim_error(req, 400, "invalidSyntax", "The body must be a JSON object");
        return BALAI_EINVAL;
    }
    *out = j;
    return BALAI_OK;
}

char *scim_base_url(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_slice host = balai_http_req_header(req, "Host");
    struct balai_slice proto = balai_http_req_header(req, "X-Forwarded-Proto");
    const char *pb = app->cfg ? app->cfg->public_baseurl : NULL;

    if (pb && *pb) {
        size_t n = strlen(pb);
        while (n && pb[n - 1] == '/')
            n--;
        return balai_strndup(pb, n);
    }
    if (!host.ptr || host.len == 0 || host.len > 255 || memchr(host.ptr, '/', host.len) ||
        memchr(host.ptr, '"', host.len))
        return balai_strdup(app->bound_url);
    return balai_asprintf("%s://%.*s",
                          proto.ptr && balai_slice_ieq(proto, "https") ? "https" : "http",
                          (int)host.len, host.ptr);
}

void scim_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        tm.tm_year = 70;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(ms % 1000));
}

char *scim_new_id(void)
{
    uint8_t b[16];
    char hex[33];

    balai_random_bytes(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    balai_hex_encode(b, sizeof(b), hex);
    return balai_asprintf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void scim_etag(struct balai_http_req *req, int64_t v)
{
    char e[32];
    snprintf(e, sizeof(e), "W/\"%lld\"", (long long)v);
    balai_http_add_header(req, "ETag", e);
}

int scim_if_match(struct balai_http_req *req, int64_t v)
{
    struct balai_slice h = balai_http_req_header(req, "If-Match");
    char e[32];

    if (!h.ptr || (h.len == 1 && h.ptr[0] == '*'))
        return BALAI_OK;
    snprintf(e, sizeof(e), "\"%lld\"", (long long)v);
    for (size_t i = 0; i + strlen(e) <= h.len; i++)
        if (memcmp(h.ptr + i, e, strlen(e)) == 0)
            return BALAI_OK;
    scim_error(req, 412, NULL, "The resource changed: its version is W/\"%lld\"", (long long)v);
    return BALAI_ESTATE;
}

/* Whether `name` is in the comma-separated list (case-insensitive; a
 * "urn:...:attr" entry names attr of that schema, and counts by attr). */
static int in_list(const char *list, const char *name)
{
    const char *p = list;

    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        const char *dot = memchr(p, '.', n);
        size_t top = dot && !(n > 4 && strncasecmp(p, "urn:", 4) == 0) ? (size_t)(dot - p) : n;
        if (top == strlen(name) && strncasecmp(p, name, top) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

void scim_project(struct balai_http_req *req, json_t *res)
{
    const char *attrs = balai_http_req_query(req, "attributes");
    const char *excl = balai_http_req_query(req, "excludedAttributes");
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(res, tmp, k, v)
    {
        if (strcmp(k, "id") == 0 || strcmp(k, "schemas") == 0)
            continue;
        if ((attrs && *attrs && !in_list(attrs, k) && strcmp(k, "meta") != 0) ||
            (excl && *excl && in_list(excl, k)))
            json_object_del(res, k);
    }
}

int scim_paging(struct balai_http_req *req, size_t *start, size_t *count)
{
    const char *si = balai_http_req_query(req, "startIndex");
    const char *co = balai_http_req_query(req, "count");
    char *end;
    long long v;

    *start = 1;
    *count = SCIM_DEFAULT_COUNT;
    if (si && *si) {
        v = strtoll(si, &end, 10);
        if (*end != '\0') {
            scim_error(req, 400, "invalidValue", "'startIndex' must be an integer");
            return BALAI_EINVAL;
        }
        *start = v < 1 ? 1 : (size_t)v; /* RFC 7644 §3.4.2.4: less than 1 is 1 */
    }
    if (co && *co) {
        v = strtoll(co, &end, 10);
        if (*end != '\0') {
            scim_error(req, 400, "invalidValue", "'count' must be an integer");
            return BALAI_EINVAL;
        }
        *count = v < 0 ? 0 : v > SCIM_MAX_COUNT ? SCIM_MAX_COUNT : (size_t)v;
    }
    return BALAI_OK;
}

/* ---- the write queue ---- */

static void write_run(struct balai_app *app, struct balai_http_req *req,
                      int (*run)(struct balai_http_req *))
{
    app->scim->busy = 1;
    if (!run(req))
        app->scim->busy = 0;
}

void scim_write(struct balai_http_req *req, int (*run)(struct balai_http_req *req))
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_scim *sc = app->scim;

    if (!sc->busy) {
        write_run(app, req, run);
        /* a write answered at once lets the next queued one run */
        if (!sc->busy && sc->queue)
            scim_write_done(app);
        return;
    }
    struct scim_pending *p = balai_calloc(1, sizeof(*p));
    p->req = req;
    p->run = run;
    if (sc->queue_tail)
        sc->queue_tail->next = p;
    else
        sc->queue = p;
    sc->queue_tail = p;
}

void scim_write_done(struct balai_app *app)
{
    struct balai_api_scim *sc = app->scim;

    sc->busy = 0;
    while (!sc->busy && sc->queue) {
        struct scim_pending *p = sc->queue;
        sc->queue = p->next;
        if (!sc->queue)
            sc->queue_tail = NULL;
        write_run(app, p->req, p->run);
        free(p);
    }
}

/* ---- change notification ---- */

int balai_api_scim_on_change(struct balai_app *app, balai_api_scim_change_fn fn, void *arg)
{
    struct balai_api_scim *sc = app->scim;

    if (!sc)
        return BALAI_ESTATE;
    if (sc->n_listeners == BALAI_ARRAY_LEN(sc->listeners))
        return BALAI_ETOOBIG;
    sc->listeners[sc->n_listeners].fn = fn;
    sc->listeners[sc->n_listeners].arg = arg;
    sc->n_listeners++;
    return BALAI_OK;
}

void scim_notify(struct balai_app *app, enum balai_api_scim_change what, const char *group_id,
                 const char *user_id)
{
    for (size_t i = 0; i < app->scim->n_listeners; i++)
        app->scim->listeners[i].fn(app, what, group_id, user_id, app->scim->listeners[i].arg);
}

/* ---- group queries ---- */

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int balai_api_scim_group_members(struct balai_app *app, const char *group_id,
                                 int (*fn)(const char *user_id, void *arg), void *arg)
{
    struct scim_group *g = app->scim ? balai_map_get_str(app->scim->groups_by_id, group_id) : NULL;
    const char **ids;
    size_t n = 0, it = 0, klen;
    const void *k;
    void *v;
    int rc = 0;

    if (!g)
        return BALAI_ENOTFOUND;
    ids = balai_calloc(balai_map_count(g->members) + 1, sizeof(*ids));
    while (balai_map_next(g->members, &it, &k, &klen, &v))
        ids[n++] = k;
    qsort(ids, n, sizeof(*ids), by_str);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(ids[i], arg);
    free(ids);
    return rc;
}

int balai_api_scim_user_groups(struct balai_app *app, const char *user_id,
                               int (*fn)(const char *group_id, const char *display_name,
                                         void *arg),
                               void *arg)
{
    struct balai_api_scim *sc = app->scim;
    int rc = 0;

    for (size_t i = 0; sc && i < sc->n_groups && rc == 0; i++) {
        struct scim_group *g = sc->groups[i];
        if (!g->deleted && balai_map_get_str(g->members, user_id))
            rc = fn(g->scim_id, g->display_name, arg);
    }
    return rc;
}

int balai_api_scim_is_member(struct balai_app *app, const char *group_id, const char *user_id)
{
    struct scim_group *g = app->scim ? balai_map_get_str(app->scim->groups_by_id, group_id) : NULL;
    return g && user_id && balai_map_get_str(g->members, user_id) != NULL;
}

const char *balai_api_scim_group_by_name(struct balai_app *app, const char *display_name)
{
    struct balai_api_scim *sc = app->scim;

    for (size_t i = 0; sc && display_name && i < sc->n_groups; i++)
        if (!sc->groups[i]->deleted && strcasecmp(sc->groups[i]->display_name, display_name) == 0)
            return sc->groups[i]->scim_id;
    return NULL;
}

const char *balai_api_scim_group_name(struct balai_app *app, const char *group_id)
{
    struct scim_group *g = app->scim ? balai_map_get_str(app->scim->groups_by_id, group_id) : NULL;
    return g ? g->display_name : NULL;
}

/* ---- load and free ---- */

static struct scim_token *token_put(struct balai_app *app, const struct balai_scim_token_rec *r)
{
    struct scim_token *t = balai_calloc(1, sizeof(*t));

    t->token_id = balai_strdup(r->token_id);
    t->name = balai_strdup(r->name);
    memcpy(t->hash, r->hash, 32);
    t->created_ts = r->created_ts;
    balai_map_put(app->scim->tokens, t->hash, 32, t);
    return t;
}

static void token_free(struct scim_token *t)
{
    if (!t)
        return;
    free(t->token_id);
    free(t->name);
    free(t);
}

static int load_token(const struct balai_scim_token_rec *r, void *arg)
{
    token_put(arg, r);
    return 0;
}

static int load_user(const struct balai_scim_user_rec *r, void *arg)
{
    struct balai_app *app = arg;
    json_t *attrs = json_loads(r->attrs ? r->attrs : "{}", 0, NULL);

    if (!json_is_object(attrs)) {
        LOG_WARN("SCIM user %s: unreadable attributes, kept empty", r->user_id);
        json_decref(attrs);
        attrs = json_object();
    }
    scim_user_put(app, r, attrs);
    return 0;
}

static int load_group(const struct balai_scim_group_rec *r, void *arg)
{
    scim_group_put(arg, r);
    return 0;
}

static int load_member(const char *group_id, const char *user_id, void *arg)
{
    struct balai_app *app = arg;
    struct scim_group *g = balai_map_get_str(app->scim->groups_by_id, group_id);

    if (g)
        balai_map_put_str(g->members, user_id, g);
    return 0;
}

int balai_api_scim_load(struct balai_app *app)
{
    struct balai_api_scim *sc = balai_calloc(1, sizeof(*sc));
    int rc;

    sc->tokens = balai_map_new();
    sc->by_id = balai_map_new();
    sc->by_uid = balai_map_new();
    sc->by_name = balai_map_new();
    sc->groups_by_id = balai_map_new();
    app->scim = sc;
    rc = balai_store_scim_tokens_each(app->store, load_token, app);
    if (rc == BALAI_OK)
        rc = balai_store_scim_users_each(app->store, load_user, app);
    if (rc == BALAI_OK)
        rc = balai_store_scim_groups_each(app->store, load_group, app);
    if (rc == BALAI_OK)
        rc = balai_store_scim_members_each(app->store, load_member, app);
    if (rc == BALAI_OK)
        LOG_DEBUG("scim: %zu tokens, %zu users, %zu groups", balai_map_count(sc->tokens),
                  balai_map_count(sc->by_id), balai_map_count(sc->groups_by_id));
    return rc;
}

void balai_api_scim_free(struct balai_app *app)
{
    struct balai_api_scim *sc = app->scim;
    size_t it = 0, klen;
    const void *k;
    void *v;

    if (!sc)
        return;
    while (balai_map_next(sc->tokens, &it, &k, &klen, &v))
        token_free(v);
    for (size_t i = 0; i < sc->n_users; i++)
        scim_user_free(sc->users[i]);
    for (size_t i = 0; i < sc->n_groups; i++)
        scim_group_free(sc->groups[i]);
    while (sc->queue) {
        struct scim_pending *p = sc->queue;
        sc->queue = p->next;
        free(p);
    }
    free(sc->users);
    free(sc->groups);
    balai_map_free(sc->tokens);
    balai_map_free(sc->by_id);
    balai_map_free(sc->by_uid);
    balai_map_free(sc->by_name);
    balai_map_free(sc->groups_by_id);
    free(sc);
    app->scim = NULL;
}

/* ---- discovery ---- */

static json_t *meta(struct balai_http_req *req, const char *type, const char *path)
{
    char *base = scim_base_url(req);
    json_t *m = json_pack("{s:s, s:s++}", "resourceType", type, "location", base, "/scim/v2/",
                          path);
    free(base);
    return m;
}

static json_t *service_provider_config(struct balai_http_req *req)
{
    json_t *o = json_pack(
        "{s:[s], s:s, s:{s:b}, s:{s:b, s:i, s:i}, s:{s:b, s:i}, s:{s:b}, s:{s:b}, s:{s:b},"
        " s:[{s:s, s:s, s:s, s:b}]}",
        "schemas", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
        "documentationUri", "https://balai.id/docs/scim", "patch", "supported", 1, "bulk",
        "supported", 0, "maxOperations", 0, "maxPayloadSize", 0, "filter", "supported", 1,
        "maxResults", SCIM_MAX_COUNT, "changePassword", "supported", 0, "sort", "supported", 0,
        "etag", "supported", 1, "authenticationSchemes", "type", "oauthbearertoken", "name",
        "OAuth Bearer Token", "description",
        "A provisioning token made with `balai scim token create`", "primary", 1);
    json_object_set_new(o, "meta", meta(req, "ServiceProviderConfig", "ServiceProviderConfig"));
    return o;
}

static void get_spc(struct balai_http_req *req)
{
    if (!scim_auth(req))
        return;
    scim_json(req, 200, service_provider_config(req));
}

static json_t *resource_type(struct balai_http_req *req, const char *name)
{
    json_t *o;
    char path[64];

    if (strcmp(name, "User") == 0) {
        o = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:b}]}", "schemas",
                      "urn:ietf:params:scim:schemas:core:2.0:ResourceType", "id", "User", "name",
                      "User", "endpoint", "/Users", "description", "A person (a Matrix account)",
                      "schema", BALAI_SCIM_URN_USER, "schemaExtensions", "schema",
                      BALAI_SCIM_URN_ENTERPRISE, "required", 0);
    } else {
        o = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s, s:[]}", "schemas",
                      "urn:ietf:params:scim:schemas:core:2.0:ResourceType", "id", "Group", "name",
                      "Group", "endpoint", "/Groups", "description",
                      "A group of people (for membership rules)", "schema", BALAI_SCIM_URN_GROUP,
                      "schemaExtensions");
    }
    snprintf(path, sizeof(path), "ResourceTypes/%s", name);
    json_object_set_new(o, "meta", meta(req, "ResourceType", path));
    return o;
}

static json_t *list_response(json_t *arr)
{
    return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_URN_LIST, "totalResults",
                     (json_int_t)json_array_size(arr), "itemsPerPage",
                     (json_int_t)json_array_size(arr), "startIndex", (json_int_t)1, "Resources",
                     arr);
}

static void get_resource_types(struct balai_http_req *req)
{
    if (!scim_auth(req))
        return;
    scim_json(req, 200,
              list_response(json_pack("[o, o]", resource_type(req, "User"),
                                      resource_type(req, "Group"))));
}

static void get_resource_type(struct balai_http_req *req)
{
    const char *id = req->params[0];

    if (!scim_auth(req))
        return;
    if (strcmp(id, "User") != 0 && strcmp(id, "Group") != 0) {
        scim_error(req, 404, NULL, "No resource type %.100s", id);
        return;
    }
    scim_json(req, 200, resource_type(req, id));
}

/* One attribute definition of a schema. */
static json_t *attr_def(const char *name, const char *type, int multi, int required,
                        const char *mutability, const char *uniqueness, json_t *subs)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:s, s:s, s:s}", "name", name, "type",
                          type, "multiValued", multi, "description", name, "required", required,
                          "caseExact", strcmp(name, "id") == 0 || strcmp(name, "externalId") == 0,
                          "mutability", mutability, "returned", "default", "uniqueness",
                          uniqueness);
    if (subs)
        json_object_set_new(o, "subAttributes", subs);
    return o;
}

static json_t *multi_subs(void)
{
    return json_pack("[o, o, o, o]", attr_def("value", "string", 0, 0, "readWrite", "none", NULL),
                     attr_def("display", "string", 0, 0, "readWrite", "none", NULL),
                     attr_def("type", "string", 0, 0, "readWrite", "none", NULL),
                     attr_def("primary", "boolean", 0, 0, "readWrite", "none", NULL));
}

static json_t *schema(struct balai_http_req *req, const char *urn)
{
    json_t *attrs = json_array(), *o;
    const char *name, *desc;
    char *path;

    if (strcmp(urn, BALAI_SCIM_URN_USER) == 0) {
        name = "User";
        desc = "User Account";
        json_array_append_new(attrs, attr_def("userName", "string", 0, 1, "readWrite", "server",
                                              NULL));
        json_array_append_new(
            attrs, attr_def("name", "complex", 0, 0, "readWrite", "none",
                            json_pack("[o, o, o, o, o, o]",
                                      attr_def("formatted", "string", 0, 0, "readWrite", "none",
                                               NULL),
                                      attr_def("familyName", "string", 0, 0, "readWrite", "none",
                                               NULL),
                                      attr_def("givenName", "string", 0, 0, "readWrite", "none",
                                               NULL),
                                      attr_def("middleName", "string", 0, 0, "readWrite", "none",
                                               NULL),
                                      attr_def("honorificPrefix", "string", 0, 0, "readWrite",
                                               "none", NULL),
                                      attr_def("honorificSuffix", "string", 0, 0, "readWrite",
                                               "none", NULL))));
        static const char *const strs[] = {"displayName", "nickName",          "profileUrl",
                                           "title",       "userType",          "preferredLanguage",
                                           "locale",      "timezone"};
        for (size_t i = 0; i < BALAI_ARRAY_LEN(strs); i++)
            json_array_append_new(attrs,
                                  attr_def(strs[i], "string", 0, 0, "readWrite", "none", NULL));
        json_array_append_new(attrs, attr_def("active", "boolean", 0, 0, "readWrite", "none",
                                              NULL));
        static const char *const multis[] = {"emails", "phoneNumbers", "ims", "photos",
                                             "entitlements", "roles"};
        for (size_t i = 0; i < BALAI_ARRAY_LEN(multis); i++)
            json_array_append_new(attrs, attr_def(multis[i], "complex", 1, 0, "readWrite", "none",
                                                  multi_subs()));
        json_array_append_new(attrs, attr_def("addresses", "complex", 1, 0, "readWrite", "none",
                                              NULL));
        json_array_append_new(attrs, attr_def("groups", "complex", 1, 0, "readOnly", "none",
                                              multi_subs()));
    } else if (strcmp(urn, BALAI_SCIM_URN_GROUP) == 0) {
        name = "Group";
        desc = "Group";
        json_array_append_new(attrs, attr_def("displayName", "string", 0, 1, "readWrite", "none",
                                              NULL));
        json_array_append_new(
            attrs,
            attr_def("members", "complex", 1, 0, "readWrite", "none",
                     json_pack("[o, o]",
                               attr_def("value", "string", 0, 0, "immutable", "none", NULL),
                               attr_def("display", "string", 0, 0, "readOnly", "none", NULL))));
    } else {
        name = "EnterpriseUser";
        desc = "Enterprise User";
        static const char *const strs[] = {"employeeNumber", "costCenter", "organization",
                                           "division", "department"};
        for (size_t i = 0; i < BALAI_ARRAY_LEN(strs); i++)
            json_array_append_new(attrs,
                                  attr_def(strs[i], "string", 0, 0, "readWrite", "none", NULL));
        json_array_append_new(
            attrs, attr_def("manager", "complex", 0, 0, "readWrite", "none",
                            json_pack("[o, o]",
                                      attr_def("value", "string", 0, 0, "readWrite", "none", NULL),
                                      attr_def("displayName", "string", 0, 0, "readOnly", "none",
                                               NULL))));
    }
    o = json_pack("{s:[s], s:s, s:s, s:s, s:o}", "schemas",
                  "urn:ietf:params:scim:schemas:core:2.0:Schema", "id", urn, "name", name,
                  "description", desc, "attributes", attrs);
    path = balai_asprintf("Schemas/%s", urn);
    json_object_set_new(o, "meta", meta(req, "Schema", path));
    free(path);
    return o;
}

static void get_schemas(struct balai_http_req *req)
{
    if (!scim_auth(req))
        return;
    scim_json(req, 200,
              list_response(json_pack("[o, o, o]", schema(req, BALAI_SCIM_URN_USER),
                                      schema(req, BALAI_SCIM_URN_GROUP),
                                      schema(req, BALAI_SCIM_URN_ENTERPRISE))));
}

static void get_schema(struct balai_http_req *req)
{
    const char *id = req->params[0];

    if (!scim_auth(req))
        return;
    if (!balai_scim_urn_known(id)) {
        scim_error(req, 404, NULL, "No schema %.200s", id);
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        const char *u = i == 0 ? BALAI_SCIM_URN_USER
                        : i == 1 ? BALAI_SCIM_URN_GROUP
                                 : BALAI_SCIM_URN_ENTERPRISE;
        if (strcasecmp(u, id) == 0)
            id = u;
    }
    scim_json(req, 200, schema(req, id));
}

/* ---- tokens: the admin API ---- */

static json_t *token_json(const struct scim_token *t)
{
    return json_pack("{s:s, s:s, s:I}", "token_id", t->token_id, "name", t->name, "created_ts",
                     (json_int_t)t->created_ts);
}

static int by_created(const void *a, const void *b)
{
    const struct scim_token *x = *(const struct scim_token *const *)a;
    const struct scim_token *y = *(const struct scim_token *const *)b;
    if (x->created_ts != y->created_ts)
        return x->created_ts < y->created_ts ? -1 : 1;
    return strcmp(x->token_id, y->token_id);
}

static void list_tokens(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct scim_token **v;
    size_t n = 0, it = 0, klen;
    const void *k;
    void *val;
    json_t *arr = json_array();

    if (balai_api_auth_may(req, &s, BALAI_GOV_USERS_MANAGE) < 0) {
        json_decref(arr);
        return;
    }
    v = balai_calloc(balai_map_count(app->scim->tokens) + 1, sizeof(*v));
    while (balai_map_next(app->scim->tokens, &it, &k, &klen, &val))
        v[n++] = val;
    qsort(v, n, sizeof(*v), by_created);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, token_json(v[i]));
    free(v);
    balai_api_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

struct token_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_scim_token_rec rec;
    char *token; /* the secret, answered once (create) */
    int revoke;
    struct balai_api_audit_entry *audit;
};

static void token_op_free(struct token_op *x)
{
    free((char *)x->rec.token_id);
    free((char *)x->rec.name);
    if (x->token) {
        balai_wipe(x->token, strlen(x->token));
        free(x->token);
    }
    free(x);
}

static int token_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct token_op *x = (struct token_op *)op;
    int rc = x->revoke ? balai_store_txn_scim_token_delete(t, x->rec.token_id)
                       : balai_store_txn_scim_token_add(t, &x->rec);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void token_done(struct balai_store_op *op)
{
    struct token_op *x = (struct token_op *)op;
    struct balai_app *app = x->app;

    balai_api_audit_entry_done(app, x->audit, op->rc);
    if (op->rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the token; try again");
    } else if (x->revoke) {
        struct scim_token *t = balai_map_del(app->scim->tokens, x->rec.hash, 32);
        token_free(t);
        LOG_INFO("SCIM token %s revoked", x->rec.token_id);
        balai_api_json(x->req, 200, json_pack("{s:s, s:b}", "token_id", x->rec.token_id,
                                               "revoked", 1));
    } else {
        struct scim_token *t = token_put(app, &x->rec);
        json_t *o = token_json(t);
        json_object_set_new(o, "token", json_string(x->token));
        LOG_INFO("SCIM token %s (%s) created", t->token_id, t->name);
        balai_api_json(x->req, 200, o);
    }
    token_op_free(x);
}

static void create_token(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *name = NULL;
    struct token_op *x;

    if (balai_api_auth_may(req, &s, BALAI_GOV_USERS_MANAGE) < 0 ||
        balai_api_body(req, 1, &body) < 0 || balai_api_str(req, body, "name", 0, &name) < 0)
        goto out;
    if (!name || !*name)
        name = "scim";
    if (strlen(name) > MAX_TOKEN_NAME) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'name' is longer than %d bytes",
                        MAX_TOKEN_NAME);
        goto out;
    }
    for (const char *c = name; *c; c++) {
        if ((unsigned char)*c < 0x20) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'name' contains a control character");
            goto out;
        }
    }
    x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->rec.token_id = balai_random_alnum(12);
    x->rec.name = balai_strdup(name);
    x->rec.created_ts = balai_now_ms();
    char *rnd = balai_random_token(32);
    x->token = balai_asprintf("%s%s", TOKEN_PREFIX, rnd);
    balai_wipe(rnd, strlen(rnd));
    free(rnd);
    balai_sha256(x->token, strlen(x->token), x->rec.hash);
    x->op.apply = token_apply;
    x->op.done = token_done;
    x->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), "scim.token.create",
                                         x->rec.token_id, json_pack("{s:s}", "name", name));
    balai_store_submit(app->store, &x->op);
out:
    json_decref(body);
}

static void revoke_token(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct scim_token *t = NULL;
    size_t it = 0, klen;
    const void *k;
    void *v;

    if (balai_api_auth_may(req, &s, BALAI_GOV_USERS_MANAGE) < 0)
        return;
    while (balai_map_next(app->scim->tokens, &it, &k, &klen, &v)) {
        if (strcmp(((struct scim_token *)v)->token_id, req->params[0]) == 0) {
            t = v;
            break;
        }
    }
    if (!t) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No SCIM token %.100s", req->params[0]);
        return;
    }
    struct token_op *x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->revoke = 1;
    x->rec.token_id = balai_strdup(t->token_id);
    x->rec.name = balai_strdup(t->name);
    memcpy(x->rec.hash, t->hash, 32);
    x->op.apply = token_apply;
    x->op.done = token_done;
    x->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), "scim.token.revoke",
                                         t->token_id, json_pack("{s:s}", "name", t->name));
    balai_store_submit(app->store, &x->op);
}

int balai_api_scim_routes(struct balai_app *app)
{
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/ServiceProviderConfig", get_spc, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/ResourceTypes", get_resource_types, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/ResourceTypes/{id}", get_resource_type,
                          0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Schemas", get_schemas, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/scim/v2/Schemas/{id}", get_schema, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/scim/tokens", list_tokens, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/scim/tokens", create_token, 0);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, "/_balai/admin/v1/scim/tokens/{tokenId}",
                          revoke_token, 0);
    if (rc == 0)
        rc = scim_users_routes(app);
    if (rc == 0)
        rc = scim_groups_routes(app);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
