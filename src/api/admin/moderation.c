/* moderation.c: the organisation's moderation tools (docs/dlp.md):
 *
 *   POST /_balai/admin/v1/rooms/{roomId}/redact/{eventId} {reason}
 *        a moderator removes any message of an organisation room, also of a
 *        room they are not in: the system user (a PL-100 member of every
 *        organisation room) writes the redaction, with the reason
 *   POST /_matrix/client/v3/rooms/{roomId}/report/{eventId} {reason, score}
 *        the Matrix report endpoint: the reporter must be able to see the
 *        event; the report joins the queue
 *   GET  /_balai/admin/v1/reports?status=open|resolved|dismissed&limit=
 *   POST /_balai/admin/v1/reports/{id}/resolve, /dismiss {note}
 *   PUT  /_balai/admin/v1/users/{userId}/suspended {suspended: bool}
 *   GET  /_balai/admin/v1/users/{userId}/suspended
 *
 * Roles: moderator, admin, owner (and the unix socket). Every change is
 * audited in the transaction that makes it (redactions just after theirs). */
#include "balai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/auth.h"
#include "core/ids.h"
#include "core/room.h"
#include "net/pool.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

#define LOG_MODULE "moderation"
#include "util/log.h"

#define MOD_ROLES                                                                                  \
    (BALAI_ROLE_BIT(BALAI_ROLE_MODERATOR) | BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) |                     \
     BALAI_ROLE_BIT(BALAI_ROLE_OWNER))
#define REASON_MAX 1000
#define LIST_DEFAULT 100
#define LIST_MAX 1000

/* ---- finding an event (cached, or read on the work pool) ---- */

struct target {
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_room *room;
    char *actor;
    char *event_id;
    char *reason;
    int has_score;
    int64_t score;
    struct balai_ev *ev;
    int rc;
    void (*next)(struct target *t);
};

static void target_free(struct target *t)
{
    if (!t)
        return;
    balai_ev_unref(t->ev);
    free(t->actor);
    free(t->event_id);
    free(t->reason);
    free(t);
}

static int target_collect(const struct balai_event_rec *r, void *arg)
{
    struct target *t = arg;
    t->ev = balai_api_event_unseal(t->app, r);
    return 0;
}

static void target_work(void *arg)
{
    struct target *t = arg;
    t->rc = balai_store_event_get(t->app->store, t->event_id, target_collect, t);
}

static void target_done(void *arg)
{
    struct target *t = arg;
    if (t->rc != BALAI_OK && t->rc != BALAI_ENOTFOUND) {
        balai_api_error(t->req, 500, "M_UNKNOWN", "Could not read the event");
        target_free(t);
        return;
    }
    t->next(t);
}

/* Looks the event up and calls next (which frees t). */
static void target_find(struct target *t)
{
    struct balai_ev *ev = balai_room_cached_event(t->room, t->event_id);
    if (ev) {
        t->ev = balai_ev_ref(ev);
        t->next(t);
        return;
    }
    if (balai_pool_submit(t->app->work_pool, target_work, target_done, t) != BALAI_OK) {
        balai_api_limit(t->req, 500);
        target_free(t);
    }
}

static int in_room(const struct balai_ev *ev, const struct balai_room *room)
{
    const char *rid = ev ? json_string_value(json_object_get(ev->pdu, "room_id")) : NULL;
    return rid && strcmp(rid, balai_room_id(room)) == 0;
}

static int ids_ok(struct balai_http_req *req, const char *room_id, const char *event_id)
{
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return 0;
    }
    if (event_id[0] != '$' || strlen(event_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed event id: it must start with $");
        return 0;
    }
    return 1;
}

/* ---- moderator redaction ---- */

static void redacted(struct balai_api_write *w)
{
    struct target *t = w->arg;
    if (w->op.rc == BALAI_OK && w->nevs) {
        balai_api_audit_log(t->app, t->actor, "moderation.redact", t->event_id,
                            json_pack("{s:s, s:s, s:s, s:s}", "room_id", balai_room_id(t->room),
                                      "sender", t->ev->sender ? t->ev->sender : "", "reason",
                                      t->reason ? t->reason : "", "redaction_id",
                                      w->evs[0]->event_id));
        balai_api_json(t->req, 200, json_pack("{s:s}", "event_id", w->evs[0]->event_id));
    } else {
        balai_api_error(t->req, 500, "M_UNKNOWN", "Could not store the redaction; try again");
    }
    target_free(t);
}

static void redact_write(struct target *t)
{
    struct balai_app *app = t->app;
    const char *sys = app->system_user_id;
    struct balai_api_write *w = NULL;
    char reason[512];
    int rc;

    if (!t->ev || !in_room(t->ev, t->room)) {
        balai_api_error(t->req, 404, "M_NOT_FOUND", "Event not found in this room");
        goto out;
    }
    const char *m = balai_room_membership(t->room, sys);
    if (!m || strcmp(m, "join") != 0) {
        balai_api_error(t->req, 403, "M_FORBIDDEN",
                        "The server's system user is not in this room, so it cannot remove "
                        "messages here");
        goto out;
    }
    struct balai_state_lookup view = balai_room_auth_view(t->room);
    if (!t->ev->sender || strcmp(t->ev->sender, sys) != 0) {
        rc = balai_auth_check_redaction(balai_room_version(t->room)->id, sys, t->ev->sender, &view,
                                        reason, sizeof(reason));
        if (rc != BALAI_OK) {
            balai_api_error(t->req, 403, "M_FORBIDDEN",
                            "The system user may not redact in this room: %s", reason);
            goto out;
        }
    }
    json_t *content = json_object();
    if (t->reason)
        json_object_set_new(content, "reason", json_string(t->reason));
    w = balai_api_write_new(app, t->room);
    rc = balai_api_event_add_redaction(w, sys, t->ev->event_id, content, reason, sizeof(reason));
    json_decref(content);
    if (rc != BALAI_OK) {
        balai_api_event_error(t->req, rc, reason);
        goto out;
    }
    if (balai_api_write_redact_target(w, t->ev) != BALAI_OK) {
        balai_api_error(t->req, 400, "M_UNKNOWN", "This event cannot be redacted");
        goto out;
    }
    w->done = redacted;
    w->arg = t;
    balai_api_write_submit(w);
    return;
out:
    balai_api_write_free(w);
    target_free(t);
}

static void mod_redact(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *room_id = req->params[0], *event_id = req->params[1], *why = NULL;

    if (balai_api_auth_role(req, &s, MOD_ROLES) < 0 || balai_api_body(req, 1, &body) < 0)
        goto out;
    if (!ids_ok(req, room_id, event_id) || balai_api_str(req, body, "reason", 0, &why) < 0)
        goto out;
    if (why && strlen(why) > REASON_MAX) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'reason' is at most %d bytes", REASON_MAX);
        goto out;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such room");
        goto out;
    }
    if (balai_room_is_direct(room)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Direct messages are not organisation rooms: moderators cannot remove "
                        "messages there");
        goto out;
    }
    struct target *t = balai_calloc(1, sizeof(*t));
    t->app = app;
    t->req = req;
    t->room = room;
    t->actor = balai_strdup(balai_api_audit_actor(s));
    t->event_id = balai_strdup(event_id);
    t->reason = why ? balai_strdup(why) : NULL;
    t->next = redact_write;
    target_find(t);
out:
    json_decref(body);
}

/* ---- reports ---- */

struct report_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_report_rec r;
    char *room_id, *event_id, *reporter, *reason, *status, *by, *note;
    struct balai_api_audit_entry *audit; /* close only */
};

static void report_op_free(struct report_op *x)
{
    free(x->room_id);
    free(x->event_id);
    free(x->reporter);
    free(x->reason);
    free(x->status);
    free(x->by);
    free(x->note);
    free(x);
}

static int report_add_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct report_op *x = (struct report_op *)op;
    return balai_store_txn_report_add(t, &x->r);
}

static void report_add_done(struct balai_store_op *op)
{
    struct report_op *x = (struct report_op *)op;
    if (op->rc == BALAI_OK)
        balai_api_json(x->req, 200, json_object());
    else
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the report; try again");
    report_op_free(x);
}

static void report_write(struct target *t)
{
    struct balai_app *app = t->app;
    const char *user_id = t->actor;

    if (!t->ev || !in_room(t->ev, t->room) || !balai_room_visible(t->room, user_id, t->ev)) {
        balai_api_error(t->req, 404, "M_NOT_FOUND",
                        "Unable to report event: it does not exist or you aren't able to see it.");
        target_free(t);
        return;
    }
    struct report_op *x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = t->req;
    x->room_id = balai_strdup(balai_room_id(t->room));
    x->event_id = balai_strdup(t->event_id);
    x->reporter = balai_strdup(user_id);
    x->reason = t->reason ? balai_strdup(t->reason) : NULL;
    x->r.ts = balai_now_ms();
    x->r.room_id = x->room_id;
    x->r.event_id = x->event_id;
    x->r.reporter = x->reporter;
    x->r.reason = x->reason;
    x->r.has_score = t->has_score;
    x->r.score = t->score;
    x->op.apply = report_add_apply;
    x->op.done = report_add_done;
    balai_store_submit(app->store, &x->op);
    target_free(t);
}

static void post_report(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *room_id = req->params[0], *event_id = req->params[1], *why = NULL;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 1, &body) < 0)
        goto out;
    if (!ids_ok(req, room_id, event_id) || balai_api_str(req, body, "reason", 0, &why) < 0)
        goto out;
    json_t *score = json_object_get(body, "score");
    if (score && (!json_is_integer(score) || json_integer_value(score) < -100 ||
                  json_integer_value(score) > 0)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'score' must be an integer from -100 to 0");
        goto out;
    }
    if (why && strlen(why) > REASON_MAX) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'reason' is at most %d bytes", REASON_MAX);
        goto out;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room) {
        balai_api_error(req, 404, "M_NOT_FOUND",
                        "Unable to report event: it does not exist or you aren't able to see it.");
        goto out;
    }
    struct target *t = balai_calloc(1, sizeof(*t));
    t->app = app;
    t->req = req;
    t->room = room;
    t->actor = balai_strdup(s->device->user->user_id);
    t->event_id = balai_strdup(event_id);
    t->reason = why ? balai_strdup(why) : NULL;
    t->has_score = score != NULL;
    t->score = score ? json_integer_value(score) : 0;
    t->next = report_write;
    target_find(t);
out:
    json_decref(body);
}

struct report_list {
    struct balai_http_req *req;
    struct balai_app *app;
    char *status;
    int64_t limit;
    json_t *reports;
    int rc;
};

static int report_row(const struct balai_report_rec *r, void *arg)
{
    struct report_list *l = arg;
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)r->id, "ts",
        (json_int_t)r->ts, "room_id", r->room_id, "event_id", r->event_id, "reporter", r->reporter,
        "reason", r->reason ? json_string(r->reason) : json_null(), "score",
        r->has_score ? json_integer(r->score) : json_null(), "status", r->status, "resolved_by",
        r->resolved_by ? json_string(r->resolved_by) : json_null(), "resolved_ts",
        r->resolved_ts ? json_integer(r->resolved_ts) : json_null(), "note",
        r->note ? json_string(r->note) : json_null());
    if (o)
        json_array_append_new(l->reports, o);
    return 0;
}

static void report_list_work(void *arg)
{
    struct report_list *l = arg;
    l->rc = balai_store_reports_each(l->app->store, l->status, 0, (int)l->limit, report_row, l);
}

static void report_list_done(void *arg)
{
    struct report_list *l = arg;
    if (l->rc < 0)
        balai_api_error(l->req, 500, "M_UNKNOWN", "Could not read the reports");
    else
        balai_api_json(l->req, 200, json_pack("{s:O}", "reports", l->reports));
    json_decref(l->reports);
    free(l->status);
    free(l);
}

static void list_reports(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *status = balai_http_req_query(req, "status");
    const char *lim = balai_http_req_query(req, "limit");
    int64_t limit = LIST_DEFAULT;

    if (balai_api_auth_role(req, &s, MOD_ROLES) < 0)
        return;
    if (status && strcmp(status, "open") != 0 && strcmp(status, "resolved") != 0 &&
        strcmp(status, "dismissed") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'status' must be open, resolved or dismissed");
        return;
    }
    if (lim) {
        char *end;
        errno = 0;
        long long n = strtoll(lim, &end, 10);
        if (!*lim || *end || errno || n < 1 || n > LIST_MAX) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be 1 to %d", LIST_MAX);
            return;
        }
        limit = n;
    }
    struct report_list *l = balai_calloc(1, sizeof(*l));
    l->req = req;
    l->app = app;
    l->status = status ? balai_strdup(status) : NULL;
    l->limit = limit;
    l->reports = json_array();
    if (balai_pool_submit(app->work_pool, report_list_work, report_list_done, l) != BALAI_OK) {
        balai_api_limit(req, 1000);
        json_decref(l->reports);
        free(l->status);
        free(l);
    }
}

static int report_close_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct report_op *x = (struct report_op *)op;
    int rc = balai_store_txn_report_close(t, x->r.id, x->status, x->by, x->note, balai_now_ms());
    if (rc == BALAI_OK)
        rc = balai_api_audit_entry_append(t, x->audit);
    return rc;
}

static void report_close_done(struct balai_store_op *op)
{
    struct report_op *x = (struct report_op *)op;
    balai_api_audit_entry_done(x->app, x->audit, op->rc);
    if (op->rc == BALAI_OK)
        balai_api_json(x->req, 200,
                       json_pack("{s:I, s:s}", "id", (json_int_t)x->r.id, "status", x->status));
    else if (op->rc == BALAI_ENOTFOUND)
        balai_api_error(x->req, 404, "M_NOT_FOUND", "No open report with this id");
    else
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not update the report; try again");
    report_op_free(x);
}

static void close_report(struct balai_http_req *req, const char *status)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *note = NULL;
    char *end;

    if (balai_api_auth_role(req, &s, MOD_ROLES) < 0 || balai_api_body(req, 1, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "note", 0, &note) < 0)
        goto out;
    errno = 0;
    long long id = strtoll(req->params[0], &end, 10);
    if (!req->params[0][0] || *end || errno || id < 1) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No open report with this id");
        goto out;
    }
    struct report_op *x = balai_calloc(1, sizeof(*x));
    char target[32];
    snprintf(target, sizeof(target), "report:%lld", id);
    x->app = app;
    x->req = req;
    x->r.id = id;
    x->status = balai_strdup(status);
    x->by = balai_strdup(balai_api_audit_actor(s));
    x->note = note ? balai_strdup(note) : NULL;
    x->audit = balai_api_audit_entry_new(
        app, x->by,
        strcmp(status, "resolved") == 0 ? "moderation.report.resolve" : "moderation.report.dismiss",
        target, note ? json_pack("{s:s}", "note", note) : NULL);
    x->op.apply = report_close_apply;
    x->op.done = report_close_done;
    balai_store_submit(app->store, &x->op);
out:
    json_decref(body);
}

static void resolve_report(struct balai_http_req *req)
{
    close_report(req, "resolved");
}

static void dismiss_report(struct balai_http_req *req)
{
    close_report(req, "dismissed");
}

/* ---- suspension ---- */

struct susp_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id, *actor;
    int suspended;
    struct balai_api_audit_entry *audit;
};

static int susp_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct susp_op *x = (struct susp_op *)op;
    int rc = balai_store_txn_suspension_set(t, x->user_id, x->suspended, x->actor, balai_now_ms());
    if (rc == BALAI_OK)
        rc = balai_api_audit_entry_append(t, x->audit);
    return rc;
}

static void susp_done(struct balai_store_op *op)
{
    struct susp_op *x = (struct susp_op *)op;
    balai_api_audit_entry_done(x->app, x->audit, op->rc);
    if (op->rc == BALAI_OK) {
        balai_api_dlp_suspension_committed(x->app, x->user_id, x->suspended, x->actor);
        LOG_INFO("%s %s by %s", x->user_id, x->suspended ? "suspended" : "unsuspended", x->actor);
        balai_api_json(x->req, 200,
                       json_pack("{s:s, s:b}", "user_id", x->user_id, "suspended", x->suspended));
    } else {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the suspension; try again");
    }
    free(x->user_id);
    free(x->actor);
    free(x);
}

static struct balai_user *user_param(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);
    if (!u)
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user");
    return u;
}

static void put_suspended(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;

    if (balai_api_auth_role(req, &s, MOD_ROLES) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    struct balai_user *u = user_param(req);
    if (!u)
        goto out;
    json_t *v = json_object_get(body, "suspended");
    if (!json_is_boolean(v)) {
        balai_api_error(req, 400, v ? "M_BAD_JSON" : "M_MISSING_PARAM",
                        "'suspended' must be true or false");
        goto out;
    }
    if (strcmp(u->user_id, app->system_user_id) == 0 ||
        (s && strcmp(u->user_id, s->device->user->user_id) == 0)) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You cannot suspend yourself or the system user");
        goto out;
    }
    struct susp_op *x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->user_id = balai_strdup(u->user_id);
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->suspended = json_is_true(v);
    x->audit = balai_api_audit_entry_new(
        app, x->actor, x->suspended ? "moderation.suspend" : "moderation.unsuspend", x->user_id,
        NULL);
    x->op.apply = susp_apply;
    x->op.done = susp_done;
    balai_store_submit(app->store, &x->op);
out:
    json_decref(body);
}

static void get_suspended(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;

    if (balai_api_auth_role(req, &s, MOD_ROLES) < 0)
        return;
    struct balai_user *u = user_param(req);
    if (!u)
        return;
    balai_api_json(req, 200,
                   json_pack("{s:s, s:b}", "user_id", u->user_id, "suspended",
                             balai_api_suspended(app, u->user_id)));
}

int balai_api_moderation_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/rooms/{roomId}/redact/{eventId}",
                          mod_redact, 16 * 1024);
    rc |=
        balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/report/{eventId}",
                        post_report, 16 * 1024);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/reports", list_reports, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/reports/{id}/resolve",
                          resolve_report, 16 * 1024);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/reports/{id}/dismiss",
                          dismiss_report, 16 * 1024);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_balai/admin/v1/users/{userId}/suspended",
                          put_suspended, 1024);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/users/{userId}/suspended",
                          get_suspended, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
