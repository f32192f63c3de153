/* dlp.c: the admin API of data-loss prevention, /_balai/admin/v1/dlp
 * (docs/dlp.md).
 *
 *   GET    /dlp/incidents?label=&type=&room=&user=&action=&since=&until=&limit=&from=
 *          incidents newest first, with counts per label, detector and action
 *          over every incident matching the filters (compliance, owner)
 *   GET    /dlp/held, /dlp/held/{id}          the held-for-review queue; one
 *          held message with its content (compliance, moderator, admin, owner)
 *   POST   /dlp/held/{id}/release             writes the event (original sender)
 *   DELETE /dlp/held/{id}                     discards it
 *   GET    /dlp/policy, PUT /dlp/policy       override rules (owner, admin;
 *          compliance may read)
 *   GET    /dlp/detectors, POST /dlp/detectors, DELETE /dlp/detectors/{name}
 *   GET    /dlp/wordlists, GET|PUT|DELETE /dlp/wordlists/{name}
 *
 * Every change, every read of incidents and of a held message's content is
 * audited. Reads run on app->work_pool; writes go through the writer. */
#include "balai.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/canonjson.h"
#include "core/room.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "net/pool.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/time.h"

#define LOG_MODULE "admin"
#include "util/log.h"

#define ROLE(r) BALAI_ROLE_BIT(BALAI_ROLE_##r)
#define INCIDENT_ROLES (ROLE(COMPLIANCE) | ROLE(OWNER))
#define HELD_ROLES (ROLE(COMPLIANCE) | ROLE(MODERATOR) | ROLE(ADMIN) | ROLE(OWNER))
#define POLICY_READ_ROLES (ROLE(COMPLIANCE) | ROLE(ADMIN) | ROLE(OWNER))
#define POLICY_WRITE_ROLES (ROLE(ADMIN) | ROLE(OWNER))
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define WORDS_MAX 1000

/* ---- parameters ---- */

/* A detector or word-list name: 1-40 of [a-z0-9_-], starting with a letter. */
static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > BALAI_DLP_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ---- incidents ---- */

struct inc_list {
    struct balai_http_req *req;
    struct balai_app *app;
    struct balai_dlp_incident_query q;
    char *strs[5];
    int64_t limit;
    json_t *incidents, *by_label, *by_detector, *by_action;
    int64_t total, last_id;
    int rc;
};

static void count(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static int inc_row(const struct balai_dlp_incident_rec *r, void *arg)
{
    struct inc_list *l = arg;
    json_t *findings = json_loads(r->findings, 0, NULL);
    size_t i;
    json_t *f;

    l->total++;
    count(l->by_label, r->label);
    count(l->by_action, r->action);
    json_array_foreach(findings, i, f)
    {
        const char *t = json_string_value(json_object_get(f, "type"));
        const char *n = json_string_value(json_object_get(f, "name"));
        count(l->by_detector, t && strcmp(t, "custom") == 0 && n ? n : t ? t : "?");
    }
    if ((int64_t)json_array_size(l->incidents) < l->limit) {
        json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:s, s:s, s:s, s:s, s:o}", "id",
                              (json_int_t)r->id, "ts", (json_int_t)r->ts, "room_id",
                              r->room_id ? json_string(r->room_id) : json_null(), "event_id",
                              r->event_id ? json_string(r->event_id) : json_null(), "user_id",
                              r->user_id, "label", r->label, "action", r->action, "outcome",
                              r->outcome, "findings", findings ? findings : json_array());
        findings = NULL;
        if (o)
            json_array_append_new(l->incidents, o);
        l->last_id = r->id;
    }
    json_decref(findings);
    return 0;
}

static void inc_work(void *arg)
{
    struct inc_list *l = arg;
    l->rc = balai_store_dlp_incidents_each(l->app->store, &l->q, inc_row, l);
}

static void inc_free(struct inc_list *l)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(l->strs); i++)
        free(l->strs[i]);
    json_decref(l->incidents);
    json_decref(l->by_label);
    json_decref(l->by_detector);
    json_decref(l->by_action);
    free(l);
}

static void inc_done(void *arg)
{
    struct inc_list *l = arg;
    if (l->rc < 0) {
        balai_api_error(l->req, 500, "M_UNKNOWN", "Could not read the DLP incidents");
    } else {
        json_t *o = json_pack("{s:O, s:I, s:{s:O, s:O, s:O}}", "incidents", l->incidents, "total",
                              (json_int_t)l->total, "counts", "label", l->by_label, "detector",
                              l->by_detector, "action", l->by_action);
        if (l->total > (int64_t)json_array_size(l->incidents)) {
            char next[24];
            snprintf(next, sizeof(next), "%lld", (long long)l->last_id);
            json_object_set_new(o, "next", json_string(next));
        }
        balai_api_json(l->req, 200, o);
    }
    inc_free(l);
}

static void list_incidents(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *label = NULL, *type = NULL, *detector = NULL, *room = NULL, *user = NULL,
               *action = NULL;
    int64_t since = 0, until = 0, limit = LIST_DEFAULT, from = 0;

    if (balai_api_auth_role(req, &s, INCIDENT_ROLES) < 0)
        return;
    if (balai_api_query_str(req, "label", 255, &label) < 0 ||
        balai_api_query_str(req, "type", 255, &type) < 0 ||
        balai_api_query_str(req, "detector", 255, &detector) < 0 ||
        balai_api_query_str(req, "room", 255, &room) < 0 ||
        balai_api_query_str(req, "user", 255, &user) < 0 ||
        balai_api_query_str(req, "action", 255, &action) < 0 ||
        balai_api_query_int(req, "since", 0, BALAI_CANONJSON_INT_MAX, &since) < 0 ||
        balai_api_query_int(req, "until", 0, BALAI_CANONJSON_INT_MAX, &until) < 0 ||
        balai_api_query_int(req, "limit", 1, LIST_MAX, &limit) < 0 ||
        balai_api_query_int(req, "from", 0, BALAI_CANONJSON_INT_MAX, &from) < 0)
        return;
    if (!type)
        type = detector;
    struct inc_list *l = balai_calloc(1, sizeof(*l));
    l->req = req;
    l->app = app;
    l->q.label = l->strs[0] = balai_strdup(label);
    l->q.type = l->strs[1] = balai_strdup(type);
    l->q.room_id = l->strs[2] = balai_strdup(room);
    l->q.user_id = l->strs[3] = balai_strdup(user);
    l->q.action = l->strs[4] = balai_strdup(action);
    if (l->q.type)
        for (char *p = l->strs[1]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    l->q.since = since;
    l->q.until = until;
    l->q.from = from;
    l->limit = limit;
    l->incidents = json_array();
    l->by_label = json_object();
    l->by_detector = json_object();
    l->by_action = json_object();

    json_t *detail = json_object();
    const char *keys[] = {"label", "type", "room", "user", "action"};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++)
        if (l->strs[i])
            json_object_set_new(detail, keys[i], json_string(l->strs[i]));
    balai_api_audit_log(app, balai_api_audit_actor(s), "dlp.incidents.read", NULL, detail);
    if (balai_pool_submit(app->work_pool, inc_work, inc_done, l) != BALAI_OK) {
        balai_api_limit(req, 1000);
        inc_free(l);
    }
}

/* ---- settings writes (policy, detectors, word lists) ---- */

struct set_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *kind, *name, *value; /* value NULL: delete */
    struct balai_api_audit_entry *audit;
    json_t *answer;
};

static int set_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct set_op *x = (struct set_op *)op;
    int rc = balai_store_txn_dlp_setting_set(t, x->kind, x->name, x->value, balai_now_ms());
    if (rc == BALAI_OK)
        rc = balai_api_audit_entry_append(t, x->audit);
    return rc;
}

static void set_done(struct balai_store_op *op)
{
    struct set_op *x = (struct set_op *)op;

    balai_api_audit_entry_done(x->app, x->audit, op->rc);
    if (op->rc == BALAI_OK) {
        balai_api_dlp_setting_committed(x->app, x->kind, x->name, x->value);
        balai_api_json(x->req, 200, x->answer ? x->answer : json_object());
        x->answer = NULL;
    } else if (op->rc == BALAI_ENOTFOUND) {
        balai_api_error(x->req, 404, "M_NOT_FOUND", "No such %s", x->kind);
    } else {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the DLP setting; try again");
    }
    json_decref(x->answer);
    free(x->kind);
    free(x->name);
    free(x->value);
    free(x);
}

/* Submits a settings change; takes detail and answer. */
static void set_submit(struct balai_http_req *req, struct balai_session *s, const char *kind,
                       const char *name, const char *value, const char *action, json_t *detail,
                       json_t *answer)
{
    struct balai_app *app = balai_api_app(req);
    struct set_op *x = balai_calloc(1, sizeof(*x));
    char target[96];

    snprintf(target, sizeof(target), "%s:%s", kind, name);
    x->app = app;
    x->req = req;
    x->kind = balai_strdup(kind);
    x->name = balai_strdup(name);
    x->value = value ? balai_strdup(value) : NULL;
    x->audit = balai_api_audit_entry_new(app, balai_api_audit_actor(s), action, target, detail);
    x->answer = answer;
    x->op.apply = set_apply;
    x->op.done = set_done;
    balai_store_submit(app->store, &x->op);
}

/* Validates a would-be setting by building the whole engine with it. */
static int validate(struct balai_http_req *req, const char *rules, json_t *detectors,
                    json_t *wordlists)
{
    struct balai_dlp_config *cfg;
    struct balai_dlp_policy *policy;
    char err[BALAI_DLP_ERR_LEN + 64];

    if (balai_api_dlp_build(rules, detectors, wordlists, &cfg, &policy, err, sizeof(err)) !=
        BALAI_OK) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s", err);
        return BALAI_EINVAL;
    }
    balai_dlp_config_free(cfg);
    balai_dlp_policy_free(policy);
    return BALAI_OK;
}

/* ---- policy ---- */

static const char *const known_labels[] = {"public", "internal", "confidential",
                                           "restricted-health", "restricted-finance"};

static json_t *policy_json(struct balai_app *app)
{
    struct balai_api_dlp *d = app->dlp;
    json_t *eff = json_object();
    for (size_t i = 0; i < BALAI_ARRAY_LEN(known_labels); i++) {
        json_t *row = json_object();
        for (int c = 0; c < BALAI_DLP_NCATEGORIES; c++)
            json_object_set_new(row, balai_dlp_category_name((enum balai_dlp_category)c),
                                json_string(balai_dlp_action_name(balai_dlp_policy_action(
                                    d->policy, known_labels[i], (enum balai_dlp_category)c))));
        json_object_set_new(eff, known_labels[i], row);
    }
    return json_pack("{s:s, s:o}", "rules", d->rules ? d->rules : "", "effective", eff);
}

static void get_policy(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth_role(req, &s, POLICY_READ_ROLES) < 0)
        return;
    balai_api_json(req, 200, policy_json(balai_api_app(req)));
}

/* {"rules": "..."} or {"policy": {label: {category: action}}, "min_confidence": N}
 * into the engine's rule text (caller frees), or answers 400. */
static char *rules_of(struct balai_http_req *req, json_t *body)
{
    json_t *rules = json_object_get(body, "rules"), *pol = json_object_get(body, "policy");
    json_t *minc = json_object_get(body, "min_confidence");
    struct balai_buf b;
    const char *label, *cat;
    json_t *row, *act;

    if (rules) {
        if (!json_is_string(rules) || pol) {
            balai_api_error(req, 400, "M_BAD_JSON",
                            "'rules' must be a string of rules such as \"internal.card=block\"");
            return NULL;
        }
        return balai_strdup(json_string_value(rules));
    }
    if (!json_is_object(pol) || (minc && !json_is_integer(minc))) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "Send {\"rules\": \"label.category=action ...\"} or {\"policy\": "
                        "{label: {category: action}}, \"min_confidence\": N}");
        return NULL;
    }
    balai_buf_init(&b, 0);
    json_object_foreach(pol, label, row)
    {
        if (!json_is_object(row)) {
            balai_api_error(req, 400, "M_BAD_JSON", "policy.%s must be an object", label);
            balai_buf_release(&b);
            return NULL;
        }
        json_object_foreach(row, cat, act)
        {
            if (!json_is_string(act) || strpbrk(label, " ,;=") || strpbrk(cat, " ,;=") ||
                strpbrk(json_string_value(act), " ,;=")) {
                balai_api_error(req, 400, "M_BAD_JSON", "policy.%s.%s must be an action name",
                                label, cat);
                balai_buf_release(&b);
                return NULL;
            }
            balai_buf_printf(&b, "%s.%s=%s ", label, cat, json_string_value(act));
        }
    }
    if (minc)
        balai_buf_printf(&b, "min_confidence=%lld", (long long)json_integer_value(minc));
    char *s = balai_strndup(b.data ? b.data : "", b.len);
    balai_buf_release(&b);
    return s;
}

static void put_policy(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    char *rules = NULL;

    if (balai_api_auth_role(req, &s, POLICY_WRITE_ROLES) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    rules = rules_of(req, body);
    if (!rules || validate(req, rules, app->dlp->detectors, app->dlp->wordlists) < 0)
        goto out;
    /* answer with the new effective policy: build it from the rules alone */
    struct balai_dlp_policy *p = balai_dlp_policy_new();
    char err[BALAI_DLP_ERR_LEN];
    balai_dlp_policy_set(p, rules, err, sizeof(err));
    struct balai_dlp_policy *old = app->dlp->policy;
    char *old_rules = app->dlp->rules;
    app->dlp->policy = p;
    app->dlp->rules = rules;
    json_t *answer = policy_json(app);
    app->dlp->policy = old;
    app->dlp->rules = old_rules;
    balai_dlp_policy_free(p);
    set_submit(req, s, "policy", "rules", rules, "dlp.policy.set",
               json_pack("{s:s, s:s}", "previous", old_rules ? old_rules : "", "rules", rules),
               answer);
out:
    free(rules);
    json_decref(body);
}

/* ---- detectors ---- */

static void list_detectors(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *name;
    json_t *v, *arr = json_array();

    if (balai_api_auth_role(req, &s, POLICY_READ_ROLES) < 0) {
        json_decref(arr);
        return;
    }
    json_object_foreach(app->dlp->detectors, name, v) json_array_append(arr, v);
    balai_api_json(req, 200, json_pack("{s:o}", "detectors", arr));
}

static void post_detector(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *all = NULL, *d = NULL;
    const char *name = NULL, *pattern = NULL, *category = NULL;

    if (balai_api_auth_role(req, &s, POLICY_WRITE_ROLES) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "name", 1, &name) < 0 ||
        balai_api_str(req, body, "pattern", 0, &pattern) < 0 ||
        balai_api_str(req, body, "category", 0, &category) < 0)
        goto out;
    if (!name_ok(name)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'name' must be 1 to %d lower-case letters, digits, '-' or '_', "
                        "starting with a letter",
                        BALAI_DLP_NAME_MAX);
        goto out;
    }
    json_t *kw = json_object_get(body, "keywords");
    if ((!pattern) == (!kw) || (kw && (!json_is_array(kw) || json_array_size(kw) == 0 ||
                                       json_array_size(kw) > WORDS_MAX))) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "A detector needs either 'pattern' (a PCRE2 regular expression) or "
                        "'keywords' (a non-empty array of at most %d words)",
                        WORDS_MAX);
        goto out;
    }
    d = json_pack("{s:s, s:s}", "name", name, "category", category ? category : "other");
    if (pattern)
        json_object_set_new(d, "pattern", json_string(pattern));
    else
        json_object_set(d, "keywords", kw);
    all = json_deep_copy(app->dlp->detectors);
    json_object_set(all, name, d);
    if (validate(req, app->dlp->rules, all, app->dlp->wordlists) < 0)
        goto out;
    char *value = balai_json_dump(d, 1, NULL);
    set_submit(req, s, "detector", name, value, "dlp.detector.set", json_deep_copy(d),
               json_pack("{s:O}", "detector", d));
    free(value);
out:
    json_decref(all);
    json_decref(d);
    json_decref(body);
}

static void delete_setting(struct balai_http_req *req, const char *kind, json_t *mem,
                           const char *action)
{
    struct balai_session *s;
    const char *name = req->params[0];

    if (balai_api_auth_role(req, &s, POLICY_WRITE_ROLES) < 0)
        return;
    if (!json_object_get(mem, name)) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No %s named '%s'", kind, name);
        return;
    }
    set_submit(req, s, kind, name, NULL, action, NULL, NULL);
}

static void delete_detector(struct balai_http_req *req)
{
    delete_setting(req, "detector", balai_api_app(req)->dlp->detectors, "dlp.detector.delete");
}

/* ---- word lists ---- */

static void list_wordlists(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *name;
    json_t *v, *arr;

    if (balai_api_auth_role(req, &s, POLICY_READ_ROLES) < 0)
        return;
    arr = json_array();
    json_object_foreach(app->dlp->wordlists, name, v) json_array_append(arr, v);
    balai_api_json(req, 200, json_pack("{s:o}", "wordlists", arr));
}

static void get_wordlist(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (balai_api_auth_role(req, &s, POLICY_READ_ROLES) < 0)
        return;
    json_t *v = json_object_get(app->dlp->wordlists, req->params[0]);
    if (!v) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No word list named '%s'", req->params[0]);
        return;
    }
    balai_api_json(req, 200, json_incref(v));
}

static void put_wordlist(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *all = NULL, *d = NULL;
    const char *name = req->params[0], *action = NULL;

    if (balai_api_auth_role(req, &s, POLICY_WRITE_ROLES) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (!name_ok(name)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "A word list name is 1 to %d lower-case letters, digits, '-' or '_', "
                        "starting with a letter",
                        BALAI_DLP_NAME_MAX);
        goto out;
    }
    if (balai_api_str(req, body, "action", 1, &action) < 0)
        goto out;
    if (strcmp(action, "block") != 0 && strcmp(action, "mask") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'action' must be \"block\" or \"mask\"");
        goto out;
    }
    json_t *words = json_object_get(body, "words");
    if (!json_is_array(words) || json_array_size(words) == 0 ||
        json_array_size(words) > WORDS_MAX) {
        balai_api_error(req, 400, "M_BAD_JSON",
                        "'words' must be a non-empty array of at most %d words", WORDS_MAX);
        goto out;
    }
    d = json_pack("{s:s, s:s, s:O}", "name", name, "action", action, "words", words);
    all = json_deep_copy(app->dlp->wordlists);
    json_object_set(all, name, d);
    if (validate(req, app->dlp->rules, app->dlp->detectors, all) < 0)
        goto out;
    char *value = balai_json_dump(d, 1, NULL);
    set_submit(req, s, "wordlist", name, value, "dlp.wordlist.set",
               json_pack("{s:s, s:s, s:I}", "name", name, "action", action, "words",
                         (json_int_t)json_array_size(words)),
               json_incref(d));
    free(value);
out:
    json_decref(all);
    json_decref(d);
    json_decref(body);
}

static void delete_wordlist(struct balai_http_req *req)
{
    delete_setting(req, "wordlist", balai_api_app(req)->dlp->wordlists, "dlp.wordlist.delete");
}

/* ---- held messages ---- */

struct held {
    struct balai_store_op op; /* first: the store hands it back */
    struct balai_http_req *req;
    struct balai_app *app;
    char *actor;
    char *held_id; /* NULL: the whole queue */
    int with_content;
    json_t *list;
    /* one held message, unsealed */
    char *room_id, *user_id, *type, *state_key;
    json_t *content;
    int found, unsealed, rc;
    char *event_id; /* after release */
    struct balai_api_audit_entry *audit;
};

static void held_free(struct held *h)
{
    if (!h)
        return;
    free(h->actor);
    free(h->held_id);
    json_decref(h->list);
    free(h->room_id);
    free(h->user_id);
    free(h->type);
    free(h->state_key);
    json_decref(h->content);
    free(h->event_id);
    free(h);
}

static int held_row(const struct balai_dlp_held_rec *r, void *arg)
{
    struct held *h = arg;
    json_t *findings = json_loads(r->findings, 0, NULL);
    json_t *o =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o}", "held_id", r->held_id, "ts",
                  (json_int_t)r->ts, "room_id", r->room_id, "user_id", r->user_id, "type", r->type,
                  "label", r->label, "findings", findings ? findings : json_array());
    if (o)
        json_array_append_new(h->list, o);
    if (!h->held_id)
        return 0;
    h->found = 1;
    h->room_id = balai_strdup(r->room_id);
    h->user_id = balai_strdup(r->user_id);
    /* unseal: keystore reads are safe off the loop thread */
    uint8_t key[32];
    if (r->blob_len < BALAI_SEAL_OVERHEAD ||
        balai_keystore_get(h->app->keystore, r->key_name, key) != BALAI_OK)
        return 0;
    size_t plen = r->blob_len - BALAI_SEAL_OVERHEAD;
    uint8_t *plain = balai_malloc(plen + 1);
    if (balai_unseal(key, r->held_id, strlen(r->held_id), r->blob, r->blob_len, plain) ==
        BALAI_OK) {
        json_t *ev = json_loadb((const char *)plain, plen, 0, NULL);
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *sk = json_string_value(json_object_get(ev, "state_key"));
        json_t *content = json_object_get(ev, "content");
        if (type && json_is_object(content)) {
            h->type = balai_strdup(type);
            h->state_key = sk ? balai_strdup(sk) : NULL;
            h->content = json_incref(content);
            h->unsealed = 1;
        }
        json_decref(ev);
    }
    balai_wipe(plain, plen);
    free(plain);
    balai_wipe(key, sizeof(key));
    return 0;
}

static void held_work(void *arg)
{
    struct held *h = arg;
    h->rc = balai_store_dlp_held_each(h->app->store, h->held_id, held_row, h);
}

static struct held *held_new(struct balai_http_req *req, struct balai_session *s,
                             const char *held_id)
{
    struct held *h = balai_calloc(1, sizeof(*h));
    h->req = req;
    h->app = balai_api_app(req);
    h->actor = balai_strdup(balai_api_audit_actor(s));
    h->held_id = held_id ? balai_strdup(held_id) : NULL;
    h->list = json_array();
    return h;
}

static void held_submit(struct held *h, void (*done)(void *))
{
    if (balai_pool_submit(h->app->work_pool, held_work, done, h) != BALAI_OK) {
        balai_api_limit(h->req, 1000);
        held_free(h);
    }
}

/* Answers a failed read or a missing held message; returns 1 if it did. */
static int held_missing(struct held *h)
{
    if (h->rc < 0) {
        balai_api_error(h->req, 500, "M_UNKNOWN", "Could not read the held messages");
        return 1;
    }
    if (h->held_id && !h->found) {
        balai_api_error(h->req, 404, "M_NOT_FOUND", "No held message with this id");
        return 1;
    }
    return 0;
}

static void list_done(void *arg)
{
    struct held *h = arg;
    if (!held_missing(h))
        balai_api_json(h->req, 200, json_pack("{s:O}", "held", h->list));
    held_free(h);
}

static void list_held(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth_role(req, &s, HELD_ROLES) < 0)
        return;
    held_submit(held_new(req, s, NULL), list_done);
}

static void one_done(void *arg)
{
    struct held *h = arg;
    if (!held_missing(h)) {
        json_t *o = json_incref(json_array_get(h->list, 0));
        json_object_set(o, "content", h->content ? h->content : json_null());
        if (h->state_key)
            json_object_set_new(o, "state_key", json_string(h->state_key));
        balai_api_audit_log(h->app, h->actor, "dlp.held.read", h->held_id,
                            json_pack("{s:s, s:s}", "room_id", h->room_id, "user_id", h->user_id));
        balai_api_json(h->req, 200, o);
    }
    held_free(h);
}

static void get_held(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth_role(req, &s, HELD_ROLES) < 0)
        return;
    held_submit(held_new(req, s, req->params[0]), one_done);
}

/* delete (also after a release): the row and its audit entry in one transaction */
static int del_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct held *h = (struct held *)op;
    int rc = balai_store_txn_dlp_held_delete(t, h->held_id);
    if (rc == BALAI_OK)
        rc = balai_api_audit_entry_append(t, h->audit);
    return rc;
}

static void del_done(struct balai_store_op *op)
{
    struct held *h = (struct held *)op;
    balai_api_audit_entry_done(h->app, h->audit, op->rc);
    if (h->event_id) {
        if (op->rc != BALAI_OK)
            LOG_ERROR("held message %s was released as %s but could not be removed: %s", h->held_id,
                      h->event_id, balai_strerror(op->rc));
        balai_api_json(h->req, 200, json_pack("{s:s}", "event_id", h->event_id));
    } else if (op->rc == BALAI_ENOTFOUND) {
        balai_api_error(h->req, 404, "M_NOT_FOUND", "No held message with this id");
    } else if (op->rc != BALAI_OK) {
        balai_api_error(h->req, 500, "M_UNKNOWN", "Could not delete the held message; try again");
    } else {
        balai_api_json(h->req, 200, json_object());
    }
    held_free(h);
}

static void del_submit(struct held *h, const char *action, json_t *detail)
{
    h->audit = balai_api_audit_entry_new(h->app, h->actor, action, h->held_id, detail);
    h->op.apply = del_apply;
    h->op.done = del_done;
    balai_store_submit(h->app->store, &h->op);
}

static void delete_held(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth_role(req, &s, HELD_ROLES) < 0)
        return;
    struct held *h = held_new(req, s, req->params[0]);
    del_submit(h, "dlp.held.delete", NULL);
}

static void released(struct balai_api_write *w)
{
    struct held *h = w->arg;
    if (w->op.rc != BALAI_OK || !w->nevs) {
        balai_api_error(h->req, 500, "M_UNKNOWN",
                        "Could not store the released message; try again");
        held_free(h);
        return;
    }
    h->event_id = balai_strdup(w->evs[0]->event_id);
    del_submit(h, "dlp.held.release",
               json_pack("{s:s, s:s, s:s}", "room_id", h->room_id, "sender", h->user_id, "event_id",
                         h->event_id));
}

static void release_done(void *arg)
{
    struct held *h = arg;
    struct balai_api_write *w = NULL;
    char reason[512];

    if (held_missing(h))
        goto fail;
    struct balai_room *room = balai_rooms_get(h->app->rooms, h->room_id);
    if (!h->unsealed || !room) {
        balai_api_error(h->req, 500, "M_UNKNOWN",
                        "The held message cannot be opened (its room or key is missing)");
        goto fail;
    }
    /* the normal event path, with the original sender; DLP is not run again */
    w = balai_api_write_new(h->app, room);
    int rc = balai_api_event_add(w, h->user_id, h->type, h->state_key, h->content, reason,
                                 sizeof(reason));
    if (rc != BALAI_OK) {
        balai_api_write_free(w);
        if (rc == BALAI_EFORBIDDEN)
            balai_api_error(h->req, 409, "M_FORBIDDEN",
                            "The message cannot be released now: %s. Delete it instead.", reason);
        else
            balai_api_event_error(h->req, rc, reason);
        goto fail;
    }
    w->done = released;
    w->arg = h;
    balai_api_write_submit(w);
    return;
fail:
    held_free(h);
}

static void release_held(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth_role(req, &s, HELD_ROLES) < 0)
        return;
    held_submit(held_new(req, s, req->params[0]), release_done);
}

int balai_api_admin_dlp_routes(struct balai_app *app)
{
    int rc = 0;
#define R(m, p, fn, max)                                                                           \
    rc |= balai_api_route(app, BALAI_HTTP_##m, "/_balai/admin/v1/dlp" p, fn, max)
    R(GET, "/incidents", list_incidents, 0);
    R(GET, "/held", list_held, 0);
    R(GET, "/held/{id}", get_held, 0);
    R(POST, "/held/{id}/release", release_held, 1024);
    R(DELETE, "/held/{id}", delete_held, 1024);
    R(GET, "/policy", get_policy, 0);
    R(PUT, "/policy", put_policy, 64 * 1024);
    R(GET, "/detectors", list_detectors, 0);
    R(POST, "/detectors", post_detector, 64 * 1024);
    R(DELETE, "/detectors/{name}", delete_detector, 1024);
    R(GET, "/wordlists", list_wordlists, 0);
    R(GET, "/wordlists/{name}", get_wordlist, 0);
    R(PUT, "/wordlists/{name}", put_wordlist, 256 * 1024);
    R(DELETE, "/wordlists/{name}", delete_wordlist, 1024);
#undef R
    return rc ? BALAI_EINVAL : BALAI_OK;
}
