/* push_rules.c: the push rules endpoints.
 *
 *   GET    /pushrules/                      {"global": ruleset}
 *   GET    /pushrules/global/               ruleset
 *   GET    /pushrules/global/{kind}/{ruleId}
 *   PUT    /pushrules/global/{kind}/{ruleId}?before=&after=   {actions, conditions?, pattern?}
 *   DELETE /pushrules/global/{kind}/{ruleId}
 *   GET/PUT /pushrules/global/{kind}/{ruleId}/enabled   {"enabled": bool}
 *   GET/PUT /pushrules/global/{kind}/{ruleId}/actions   {"actions": [...]}
 *
 * SPEC: Matrix v1.12, Client-Server API "Push Rules: API". The only scope is
 * "global" (others: 400 M_INVALID_PARAM). Every change rewrites the user's
 * whole merged rule set as the account data m.push_rules (api/push_rules.h)
 * through the writer; edits build on the newest submitted set so that
 * concurrent edits are not lost. Once committed the user's compiled rules
 * are dropped and their /syncs wake (m.push_rules in account_data). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "api/common.h"
#include "api/push_rules.h"
#include "core/accounts.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/json.h"

#define LOG_MODULE "push_rules"
#include "util/log.h"

#define MAX_BODY (16 * 1024)
#define MAX_RULESET (128 * 1024)

/* ---- the write ---- */

struct pr_write {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char *json;
    size_t len;
    int64_t pos;
};

static int write_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct pr_write *w = (struct pr_write *)op;
    return balai_api_account_data_txn_set(w->app, t, w->user_id, "", BALAI_PUSH_RULES_TYPE,
                                          w->json, w->len, &w->pos);
}

static void write_done(struct balai_store_op *op)
{
    struct pr_write *w = (struct pr_write *)op;
    struct balai_app *app = w->app;

    balai_api_account_data_pending_end(app->account_data, w->user_id, "",
                                       BALAI_PUSH_RULES_TYPE);
    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing push rules failed: %s", balai_strerror(op->rc));
        balai_api_error(w->req, 500, "M_UNKNOWN", "Could not store the push rules; try again");
    } else {
        balai_api_account_data_put(app->account_data, w->user_id, "", BALAI_PUSH_RULES_TYPE,
                                   w->json, w->len, w->pos);
        balai_api_push_rules_changed(app, w->user_id);
        balai_notifier_wake_user(app->notifier, w->user_id);
        balai_api_json(w->req, 200, json_object());
    }
    free(w->user_id);
    free(w->json);
    free(w);
}

/* Stores the whole rule set; answers once committed. */
static void submit(struct balai_http_req *req, const char *user_id, const json_t *ruleset)
{
    struct balai_app *app = balai_api_app(req);
    size_t len;
    char *json = balai_json_dump(ruleset, 0, &len);

    if (!json) {
        balai_api_error(req, 400, "M_BAD_JSON", "The push rules cannot be encoded");
        return;
    }
    if (len > MAX_RULESET) {
        free(json);
        balai_api_error(req, 413, "M_TOO_LARGE", "Push rules are at most %d bytes in all",
                        MAX_RULESET);
        return;
    }
    struct pr_write *w = balai_calloc(1, sizeof(*w));
    w->app = app;
    w->req = req;
    w->user_id = balai_strdup(user_id);
    w->json = json;
    w->len = len;
    balai_api_account_data_pending_begin(app->account_data, user_id, "", BALAI_PUSH_RULES_TYPE,
                                         json);
    w->op.apply = write_apply;
    w->op.done = write_done;
    balai_store_submit(app->store, &w->op);
}

/* ---- checks ---- */

static int scope_ok(struct balai_http_req *req, const char *scope)
{
    if (strcmp(scope, "global") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Unknown push rule scope '%s': the only scope is 'global'", scope);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

/* Authenticates and checks {scope} and {kind}: *user and *kind set. */
static int rule_path(struct balai_http_req *req, const char **user, int *kind)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return BALAI_EAUTH;
    *user = s->device->user->user_id;
    if (scope_ok(req, req->params[0]) < 0)
        return BALAI_EINVAL;
    *kind = balai_push_kind_parse(req->params[1]);
    if (*kind < 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Unknown push rule kind '%s': use override, content, room, sender or "
                        "underride",
                        req->params[1]);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static void not_found(struct balai_http_req *req)
{
    balai_api_error(req, 404, "M_NOT_FOUND", "The push rule was not found.");
}

/* ---- endpoints ---- */

static void get_all(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_json(req, 200, balai_api_push_rules_get(balai_api_app(req),
                                                      s->device->user->user_id, 0));
}

static void get_scope(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0 || scope_ok(req, req->params[0]) < 0)
        return;
    json_t *set = balai_api_push_rules_get(balai_api_app(req), s->device->user->user_id, 0);
    balai_api_json(req, 200, json_incref(json_object_get(set, "global")));
    json_decref(set);
}

/* GET of a rule (what 0), its enabled (1) or its actions (2). */
static void get_part(struct balai_http_req *req, int what)
{
    const char *user;
    int kind;
    if (rule_path(req, &user, &kind) < 0)
        return;
    json_t *set = balai_api_push_rules_get(balai_api_app(req), user, 0);
    json_t *r = balai_push_find(set, kind, req->params[2]);
    if (!r)
        not_found(req);
    else if (what == 0)
        balai_api_json(req, 200, json_incref(r));
    else if (what == 1)
        balai_api_json(req, 200, json_pack("{s:O}", "enabled", json_object_get(r, "enabled")));
    else
        balai_api_json(req, 200, json_pack("{s:O}", "actions", json_object_get(r, "actions")));
    json_decref(set);
}

static void get_rule(struct balai_http_req *req)
{
    get_part(req, 0);
}

static void get_enabled(struct balai_http_req *req)
{
    get_part(req, 1);
}

static void get_actions(struct balai_http_req *req)
{
    get_part(req, 2);
}

static void put_rule(struct balai_http_req *req)
{
    const char *user;
    int kind;
    json_t *body = NULL, *set = NULL;
    char reason[256];

    if (rule_path(req, &user, &kind) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    const char *before = balai_http_req_query(req, "before");
    const char *after = balai_http_req_query(req, "after");
    set = balai_api_push_rules_get(balai_api_app(req), user, 1);
    reason[0] = '\0';
    int rc = balai_push_put(set, kind, req->params[2], body, before, after, reason,
                            sizeof(reason));
    if (rc == BALAI_ENOTFOUND)
        balai_api_error(req, 400, "M_UNKNOWN", "%s", reason);
    else if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", reason);
    else
        submit(req, user, set);
    json_decref(set);
    json_decref(body);
}

static void delete_rule(struct balai_http_req *req)
{
    const char *user;
    int kind;
    if (rule_path(req, &user, &kind) < 0)
        return;
    json_t *set = balai_api_push_rules_get(balai_api_app(req), user, 1);
    int rc = balai_push_delete(set, kind, req->params[2]);
    if (rc == BALAI_ENOTFOUND)
        not_found(req);
    else if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Server-default rules cannot be deleted; disable them instead");
    else
        submit(req, user, set);
    json_decref(set);
}

/* PUT of enabled (what 1) or actions (2). */
static void put_part(struct balai_http_req *req, int what)
{
    const char *user;
    int kind;
    json_t *body = NULL, *set = NULL;
    char reason[256];

    if (rule_path(req, &user, &kind) < 0)
        return;
    if (balai_api_body(req, 0, &body) < 0)
        return;
    json_t *v = json_object_get(body, what == 1 ? "enabled" : "actions");
    if (what == 1 && !json_is_boolean(v)) {
        balai_api_error(req, 400, v ? "M_BAD_JSON" : "M_MISSING_PARAM",
                        "'enabled' must be given as a boolean");
        goto out;
    }
    if (what == 2 && !v) {
        balai_api_error(req, 400, "M_MISSING_PARAM", "'actions' must be given");
        goto out;
    }
    if (what == 2 && balai_push_check_actions(v, reason, sizeof(reason)) != BALAI_OK) {
        balai_api_error(req, 400, json_is_array(v) ? "M_INVALID_PARAM" : "M_BAD_JSON", "%s",
                        reason);
        goto out;
    }
    set = balai_api_push_rules_get(balai_api_app(req), user, 1);
    json_t *r = balai_push_find(set, kind, req->params[2]);
    if (!r) {
        not_found(req);
        goto out;
    }
    json_object_set(r, what == 1 ? "enabled" : "actions", v);
    submit(req, user, set);
out:
    json_decref(set);
    json_decref(body);
}

static void put_enabled(struct balai_http_req *req)
{
    put_part(req, 1);
}

static void put_actions(struct balai_http_req *req)
{
    put_part(req, 2);
}

int balai_api_client_push_rules_routes(struct balai_app *app)
{
#define PR "/_matrix/client/v3/pushrules"
#define RULE PR "/{scope}/{kind}/{ruleId}"
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, PR "/", get_all, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, PR "/{scope}/", get_scope, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, PR "/{scope}", get_scope, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, RULE, get_rule, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, RULE, put_rule, MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_DELETE, RULE, delete_rule, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, RULE "/enabled", get_enabled, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, RULE "/enabled", put_enabled, MAX_BODY);
    rc |= balai_api_route(app, BALAI_HTTP_GET, RULE "/actions", get_actions, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, RULE "/actions", put_actions, MAX_BODY);
#undef RULE
#undef PR
    return rc ? BALAI_EINVAL : BALAI_OK;
}
