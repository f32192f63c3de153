/* audit.c: the admin API of the audit trail, /_balai/admin/v1/audit.
 *
 *   GET /audit?actor=&action=&target=&since=&until=&limit=&from=&dir=
 *       entries, NEWEST FIRST (dir=b, the default) or oldest first (dir=f);
 *       action "user.*" matches by prefix; since/until are ms since the
 *       epoch (inclusive); limit 1..1000 (default 100); `next` in the answer
 *       is the `from` of the next page (absent on the last page).
 *   GET /audit/verify
 *       walks the whole trail: {ok, entries, last_seq, head_seq,
 *       first_bad: {seq, reason} | null}.
 *
 * For the org roles compliance and owner (and the unix socket, the CLI:
 * api/directory.h).
 * Every call is itself audited ("audit.read", "audit.verify"): reading the
 * trail leaves a trace. Reads run on app->work_pool. */
#include "balai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "core/canonjson.h"
#include "gov/audit.h"
#include "net/pool.h"
#include "store/store.h"
#include "util/alloc.h"

#define LOG_MODULE "admin"
#include "util/log.h"

/* Who may read the trail (DESIGN.md §5: the organisation's owners and its
 * compliance officers; not admins, whose acts the trail records). */
#define AUDIT_ROLES (BALAI_ROLE_BIT(BALAI_ROLE_COMPLIANCE) | BALAI_ROLE_BIT(BALAI_ROLE_OWNER))
#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* ---- list ---- */

struct list {
    struct balai_http_req *req;
    struct balai_app *app;
    struct balai_audit_query q;
    char *actor, *action, *target;
    json_t *entries;
    int64_t last_seq;
    int n, rc;
};

static int list_row(const struct balai_audit_rec *r, void *arg)
{
    struct list *l = arg;
    char prev[65], mac[65];

    l->n++;
    if (l->n > l->q.limit - 1)
        return 0; /* the extra row only tells that there is a next page */
    json_t *detail = json_loads(r->detail, 0, NULL);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        prev[2 * i] = hex[r->prev[i] >> 4];
        prev[2 * i + 1] = hex[r->prev[i] & 15];
        mac[2 * i] = hex[r->mac[i] >> 4];
        mac[2 * i + 1] = hex[r->mac[i] & 15];
    }
    prev[64] = mac[64] = '\0';
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:s, s:s}", "seq", (json_int_t)r->seq,
                          "ts", (json_int_t)r->ts, "actor", r->actor, "action", r->action, "target",
                          r->target ? json_string(r->target) : json_null(), "detail",
                          detail ? detail : json_object(), "prev", prev, "mac", mac);
    if (o)
        json_array_append_new(l->entries, o);
    l->last_seq = r->seq;
    return 0;
}

static void list_work(void *arg)
{
    struct list *l = arg;

    l->rc = balai_store_audit_each(l->app->store, &l->q, list_row, l);
}

static void list_free(struct list *l)
{
    json_decref(l->entries);
    free(l->actor);
    free(l->action);
    free(l->target);
    free(l);
}

static void list_done(void *arg)
{
    struct list *l = arg;

    if (l->rc < 0) {
        balai_api_error(l->req, 500, "M_UNKNOWN", "Could not read the audit trail");
    } else {
        json_t *o = json_pack("{s:O}", "entries", l->entries);
        if (l->n >= l->q.limit) {
            char next[24];
            snprintf(next, sizeof(next), "%lld", (long long)l->last_seq);
            json_object_set_new(o, "next", json_string(next));
        }
        balai_api_json(l->req, 200, o);
    }
    list_free(l);
}

static void list_audit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *actor = NULL, *action = NULL, *target = NULL, *dir = NULL;
    int64_t since = 0, until = 0, limit = LIST_DEFAULT, from = 0;

    if (balai_api_auth_role(req, &s, AUDIT_ROLES) < 0)
        return;
    if (balai_api_query_str(req, "actor", BALAI_AUDIT_NAME_MAX, &actor) < 0 ||
        balai_api_query_str(req, "action", BALAI_AUDIT_NAME_MAX, &action) < 0 ||
        balai_api_query_str(req, "target", BALAI_AUDIT_NAME_MAX, &target) < 0 ||
        balai_api_query_str(req, "dir", BALAI_AUDIT_NAME_MAX, &dir) < 0 ||
        balai_api_query_int(req, "since", 0, BALAI_CANONJSON_INT_MAX, &since) < 0 ||
        balai_api_query_int(req, "until", 0, BALAI_CANONJSON_INT_MAX, &until) < 0 ||
        balai_api_query_int(req, "limit", 1, LIST_MAX, &limit) < 0 ||
        balai_api_query_int(req, "from", 0, BALAI_CANONJSON_INT_MAX, &from) < 0)
        return;
    if (dir && strcmp(dir, "b") != 0 && strcmp(dir, "f") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'dir' must be 'b' or 'f'");
        return;
    }
    struct list *l = balai_calloc(1, sizeof(*l));
    l->req = req;
    l->app = app;
    l->actor = balai_strdup(actor);
    l->action = balai_strdup(action);
    l->target = balai_strdup(target);
    l->q.actor = l->actor;
    l->q.action = l->action;
    l->q.target = l->target;
    l->q.since = since;
    l->q.until = until;
    l->q.from = from;
    l->q.dir = dir ? dir[0] : 'b';
    l->q.limit = (int)limit + 1;
    l->entries = json_array();

    json_t *detail = json_object();
    if (actor)
        json_object_set_new(detail, "actor", json_string(actor));
    if (action)
        json_object_set_new(detail, "action", json_string(action));
    if (target)
        json_object_set_new(detail, "target", json_string(target));
    if (since)
        json_object_set_new(detail, "since", json_integer(since));
    if (until)
        json_object_set_new(detail, "until", json_integer(until));
    if (from)
        json_object_set_new(detail, "from", json_integer(from));
    balai_api_audit_log(app, balai_api_audit_actor(s), "audit.read", NULL, detail);

    if (balai_pool_submit(app->work_pool, list_work, list_done, l) != BALAI_OK) {
        balai_api_limit(req, 1000);
        list_free(l);
    }
}

/* ---- verify ---- */

struct verify {
    struct balai_http_req *req;
    struct balai_app *app;
    char *head_path;
    struct balai_api_audit_report report;
    int rc;
};

static void verify_work(void *arg)
{
    struct verify *v = arg;
    struct balai_app *app = v->app;

    v->rc = balai_api_audit_verify(app->store, app->audit_key, app->sign_sk + 32, v->head_path,
                                   &v->report);
}

static void verify_done(void *arg)
{
    struct verify *v = arg;

    if (v->rc < 0) {
        balai_api_error(v->req, 500, "M_UNKNOWN", "Could not read the audit trail");
    } else {
        if (!v->report.ok)
            LOG_ERROR("audit trail verification failed at entry %lld: %s",
                      (long long)v->report.bad_seq, v->report.reason);
        balai_api_json(v->req, 200, balai_api_audit_report_json(&v->report));
    }
    free(v->head_path);
    free(v);
}

static void verify_audit(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (balai_api_auth_role(req, &s, AUDIT_ROLES) < 0)
        return;
    if (!app->audit) {
        balai_api_error(req, 500, "M_UNKNOWN", "The audit trail is not loaded");
        return;
    }
    struct verify *v = balai_calloc(1, sizeof(*v));
    v->req = req;
    v->app = app;
    v->head_path = balai_asprintf("%s/%s", app->cfg->data_dir, BALAI_AUDIT_HEAD_FILE);
    balai_api_audit_log(app, balai_api_audit_actor(s), "audit.verify", NULL, NULL);
    if (balai_pool_submit(app->work_pool, verify_work, verify_done, v) != BALAI_OK) {
        balai_api_limit(req, 1000);
        free(v->head_path);
        free(v);
    }
}

int balai_api_admin_audit_routes(struct balai_app *app)
{
    int rc = 0;

    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/audit", list_audit, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/audit/verify", verify_audit, 0);
    if (rc)
        return BALAI_EINVAL;
    return balai_api_audit_start(app);
}
