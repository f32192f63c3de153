/* offboard.c: offboarding in one step, the signed offboarding record, and
 * reactivation (offboard.h, docs/offboarding.md). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/directory.h"
#include "api/events.h"
#include "api/offboard.h"
#include "api/passwords.h"
#include "api/rules.h"
#include "api/stewardship.h"
#include "core/accounts.h"
#include "core/canonjson.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "offboard"
#include "util/log.h"

#define MAX_REASON 500

struct rec {
    json_t *record;
    int current;
};

struct balai_api_offboard {
    struct balai_map *records; /* user id -> struct rec * (the latest) */
    struct balai_map *running; /* user id -> struct job * */
};

struct waiter {
    balai_offboard_done_fn fn;
    void *arg;
};

struct job {
    struct balai_store_op op; /* first: the record's write */
    struct balai_app *app;
    char *user_id, *actor, *reason, *room_reason;
    int64_t started_ts;
    json_int_t tokens, devices, stewardships, unfilled;
    json_t *rooms_left, *rooms_failed;
    char **rooms;
    size_t nrooms;
    struct waiter *w;
    size_t nw;
    struct balai_gov_person *p;
    json_t *record;
    char *record_text;
    struct balai_api_audit_entry *audit;
};

static struct balai_api_offboard *ob_of(struct balai_app *app)
{
    return app->offboard;
}

/* ---- signing ---- */

static int sign_record(struct balai_app *app, json_t *rec)
{
    uint8_t sig[BALAI_SIGN_BYTES];
    size_t len;
    char *canon, *b64;

    json_object_del(rec, "signatures");
    json_object_del(rec, "unsigned");
    canon = balai_canonjson(rec, &len);
    if (!canon)
        return BALAI_EINVAL;
    balai_sign(app->sign_sk, canon, len, sig);
    free(canon);
    b64 = balai_base64_encode(sig, sizeof(sig));
    json_object_set_new(rec, "signatures",
                        json_pack("{s:{s:s}}", app->server_name, app->sign_key_id, b64));
    free(b64);
    return BALAI_OK;
}

int balai_api_offboard_verify(const json_t *record, const char *server_name, const char *key_id,
                              const uint8_t pk[32])
{
    const char *sig64 = json_string_value(json_object_get(
        json_object_get(json_object_get(record, "signatures"), server_name), key_id));
    uint8_t *sig = NULL;
    size_t siglen = 0, len;
    json_t *copy = NULL;
    char *canon = NULL;
    int rc = BALAI_EINVAL;

    if (!json_is_object(record) || !sig64)
        goto out;
    if (balai_base64_decode(sig64, strlen(sig64), &sig, &siglen) != BALAI_OK ||
        siglen != BALAI_SIGN_BYTES)
        goto out;
    copy = json_deep_copy(record);
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    canon = balai_canonjson(copy, &len);
    if (!canon)
        goto out;
    rc = balai_sign_verify(pk, canon, len, sig);
out:
    free(sig);
    free(canon);
    json_decref(copy);
    return rc;
}

/* ---- records in memory ---- */

static void rec_set(struct balai_app *app, const char *user_id, json_t *record, int current)
{
    struct rec *r = balai_map_get_str(ob_of(app)->records, user_id);

    if (!r) {
        r = balai_calloc(1, sizeof(*r));
        balai_map_put_str(ob_of(app)->records, user_id, r);
    }
    json_decref(r->record);
    r->record = record;
    r->current = current;
}

/* A record stands while it is current and the account is still
 * deactivated: a reactivation by another path (SCIM active: true, which
 * does not close the record) ends it too. */
static int stands(struct balai_app *app, const struct rec *r, const char *user_id)
{
    const struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    return r && r->current && u && u->deactivated;
}

json_t *balai_api_offboard_record(struct balai_app *app, const char *user_id, int *current)
{
    struct rec *r = ob_of(app) ? balai_map_get_str(ob_of(app)->records, user_id) : NULL;

    if (current)
        *current = stands(app, r, user_id);
    return r ? r->record : NULL;
}

int balai_api_offboard_in_effect(struct balai_app *app, const char *user_id)
{
    struct balai_api_offboard *ob = ob_of(app);

    if (!ob)
        return 0;
    if (balai_map_get_str(ob->running, user_id))
        return 1;
    return stands(app, balai_map_get_str(ob->records, user_id), user_id);
}

/* ---- the job ---- */

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->nrooms; i++)
        free(j->rooms[i]);
    free(j->rooms);
    free(j->user_id);
    free(j->actor);
    free(j->reason);
    free(j->room_reason);
    json_decref(j->rooms_left);
    json_decref(j->rooms_failed);
    json_decref(j->record);
    free(j->record_text);
    free(j->w);
    balai_gov_person_free(j->p);
    free(j);
}

static void job_finish(struct job *j, int rc)
{
    struct balai_app *app = j->app;

    balai_map_del_str(ob_of(app)->running, j->user_id);
    for (size_t i = 0; i < j->nw; i++)
        j->w[i].fn(j->w[i].arg, rc, rc == BALAI_OK ? j->record : NULL);
    job_free(j);
}

static int record_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct job *j = (struct job *)op;
    int rc = balai_store_txn_offboarding_add(
        t, j->user_id, json_integer_value(json_object_get(j->record, "completed_ts")),
        j->record_text);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, j->audit) : rc;
}

static void late_done(struct balai_api_write *w)
{
    if (w->op.rc != BALAI_OK)
        LOG_WARN("offboarding: a late leave of %s failed: %s", balai_room_id(w->room),
                 balai_strerror(w->op.rc));
}

static void late_leave(struct balai_room *r, void *arg)
{
    struct job *j = arg;
    struct balai_app *app = j->app;
    const char *m = balai_room_membership(r, j->user_id);
    char reason[256];

    if (!m || (strcmp(m, "join") != 0 && strcmp(m, "invite") != 0))
        return;
    struct balai_api_write *w = balai_api_write_new(app, r);
    json_t *c = json_pack("{s:s, s:s}", "membership", "leave", "reason", j->room_reason);
    int rc = balai_api_event_add(w, app->system_user_id, "m.room.member", j->user_id, c, reason,
                                 sizeof(reason));
    if (rc != BALAI_OK)
        rc = balai_api_event_add(w, j->user_id, "m.room.member", j->user_id, c, reason,
                                 sizeof(reason));
    json_decref(c);
    if (rc != BALAI_OK) {
        LOG_WARN("offboarding %s: cannot leave %s: %s", j->user_id, balai_room_id(r), reason);
        balai_api_write_free(w);
        return;
    }
    LOG_INFO("offboarding %s: leaving %s, joined while the offboarding ran", j->user_id,
             balai_room_id(r));
    balai_api_audit_log(app, j->actor, "user.offboard.late_leave", j->user_id,
                        json_pack("{s:s}", "room_id", balai_room_id(r)));
    w->done = late_done;
    balai_api_write_submit(w);
}

static void record_done(struct balai_store_op *op)
{
    struct job *j = (struct job *)op;
    struct balai_app *app = j->app;

    balai_api_audit_entry_done(app, j->audit, op->rc);
    j->audit = NULL;
    if (op->rc != BALAI_OK) {
        LOG_ERROR("storing the offboarding record of %s failed: %s", j->user_id,
                  balai_strerror(op->rc));
        job_finish(j, BALAI_ESTORE);
        return;
    }
    rec_set(app, j->user_id, json_incref(j->record), 1);
    /* a join that was in flight when the offboarding began has committed
     * since: take the person out of that room too (logged and audited) */
    balai_rooms_of_user(app->rooms, j->user_id, late_leave, j);
    LOG_INFO("offboarded %s: %" JSON_INTEGER_FORMAT " tokens, %" JSON_INTEGER_FORMAT
             " devices, %zu rooms",
             j->user_id, j->tokens, j->devices, json_array_size(j->rooms_left));
    job_finish(j, BALAI_OK);
}

static void record_unencodable(struct balai_store_op *op)
{
    job_finish((struct job *)op, BALAI_EINVAL);
}

/* Builds and signs the record and its audit entry, and readies the op that
 * stores them. BALAI_EINVAL when the record cannot be encoded. */
static int make_record(struct job *j)
{
    struct balai_app *app = j->app;
    json_t *r = json_object();

    json_object_set_new(r, "type", json_string(BALAI_OFFBOARD_RECORD_TYPE));
    json_object_set_new(r, "user_id", json_string(j->user_id));
    json_object_set_new(r, "server_name", json_string(app->server_name));
    json_object_set_new(r, "actor", json_string(j->actor));
    json_object_set_new(r, "reason", j->reason ? json_string(j->reason) : json_null());
    json_object_set_new(r, "started_ts", json_integer(j->started_ts));
    json_object_set_new(r, "completed_ts", json_integer(balai_now_ms()));
    json_object_set_new(r, "tokens_revoked", json_integer(j->tokens));
    json_object_set_new(r, "devices_removed", json_integer(j->devices));
    json_object_set_new(r, "rooms_left", json_incref(j->rooms_left));
    json_object_set_new(r, "rooms_failed", json_incref(j->rooms_failed));
    json_object_set_new(r, "stewardships_passed", json_integer(j->stewardships));
    json_object_set_new(r, "stewardships_unfilled", json_integer(j->unfilled));
    json_object_set_new(r, "employment_status", json_string("terminated"));
    json_object_set_new(r, "account_deactivated", json_true());
    json_object_set_new(r, "history_kept", json_true());
    json_object_set_new(r, "legal_hold", json_false()); /* no legal hold exists yet */
    if (sign_record(app, r) != BALAI_OK) {
        json_decref(r);
        LOG_ERROR("offboarding record of %s cannot be encoded", j->user_id);
        return BALAI_EINVAL;
    }
    j->record = r;
    j->record_text = balai_canonjson(r, NULL);
    j->audit = balai_api_audit_entry_new(
        app, j->actor, "user.offboard", j->user_id,
        json_pack("{s:s?, s:I, s:I, s:I, s:I, s:I}", "reason", j->reason, "tokens_revoked",
                  j->tokens, "devices_removed", j->devices, "rooms_left",
                  (json_int_t)json_array_size(j->rooms_left), "rooms_failed",
                  (json_int_t)json_array_size(j->rooms_failed), "stewardships_passed",
                  j->stewardships));
    memset(&j->op, 0, sizeof(j->op));
    j->op.apply = record_apply;
    j->op.done = record_done;
    return BALAI_OK;
}

struct room_write {
    struct job *j;
    char *room_id;
    const char *method;
};

static void room_done(struct balai_api_write *w)
{
    struct room_write *rw = w->arg;
    if (w->op.rc != BALAI_OK && w->op.rc != BALAI_ESTORE)
        LOG_WARN("offboarding %s: leaving %s failed: %s", rw->j->user_id, rw->room_id,
                 balai_strerror(w->op.rc));
    free(rw->room_id);
    free(rw);
}

/* Readies the membership event that takes the person out of one room, as
 * part of the offboarding's group; the record lists it as left (or failed). */
static void leave_room(struct job *j, struct balai_store_group *g, const char *room_id)
{
    struct balai_app *app = j->app;
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    struct balai_api_write *w;
    struct room_write *rw;
    char reason[512];
    json_t *c;
    const char *method = "kick";
    int rc = BALAI_EINVAL;

    if (!room)
        return;
    w = balai_api_write_new(app, room);
    c = json_pack("{s:s, s:s}", "membership", "leave", "reason", j->room_reason);
    const char *sm = balai_room_membership(room, app->system_user_id);
    if (sm && strcmp(sm, "join") == 0)
        rc = balai_api_event_add(w, app->system_user_id, "m.room.member", j->user_id, c, reason,
                                 sizeof(reason));
    if (rc != BALAI_OK) {
        method = "leave"; /* on their behalf */
        rc = balai_api_event_add(w, j->user_id, "m.room.member", j->user_id, c, reason,
                                 sizeof(reason));
    }
    json_decref(c);
    if (rc != BALAI_OK) {
        LOG_WARN("offboarding %s: cannot leave %s: %s", j->user_id, room_id, reason);
        json_array_append_new(j->rooms_failed,
                              json_pack("{s:s, s:s}", "room_id", room_id, "error", reason));
        balai_api_write_free(w);
        return;
    }
    json_array_append_new(j->rooms_left,
                          json_pack("{s:s, s:s, s:s}", "room_id", room_id, "event_id",
                                    w->evs[0]->event_id, "method", method));
    rw = balai_calloc(1, sizeof(*rw));
    rw->j = j;
    rw->room_id = balai_strdup(room_id);
    rw->method = method;
    w->arg = rw;
    w->done = room_done;
    balai_api_write_add_to_group(w, g);
}

static void collect_room(struct balai_room *r, void *arg)
{
    struct job *j = arg;
    const char *m = balai_room_membership(r, j->user_id);

    if (!m || (strcmp(m, "join") != 0 && strcmp(m, "invite") != 0 && strcmp(m, "knock") != 0))
        return;
    j->rooms = balai_realloc(j->rooms, (j->nrooms + 1) * sizeof(*j->rooms));
    j->rooms[j->nrooms++] = balai_strdup(balai_room_id(r));
}

struct deact_op {
    struct balai_store_op op;
    struct job *j;
};

static int deact_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct job *j = ((struct deact_op *)op)->j;
    int rc = balai_store_txn_user_deactivate(t, j->user_id);

    if (rc == BALAI_OK)
        rc = balai_store_txn_device_data_delete(t, j->user_id, NULL);
    if (rc == BALAI_OK)
        rc = balai_api_directory_txn_person(t, j->p);
    return rc;
}

static void deact_done(struct balai_store_op *op)
{
    struct job *j = ((struct deact_op *)op)->j;
    struct balai_app *app = j->app;
    int rc = op->rc;

    free(op);
    if (rc != BALAI_OK)
        return; /* the whole group failed: record_done reports it */
    balai_api_device_lists_device_gone(app, j->user_id, NULL);
    balai_api_directory_committed(app, j->p);
}

int balai_api_offboard(struct balai_app *app, const char *user_id, const char *actor,
                       const char *reason, balai_offboard_done_fn done, void *arg)
{
    struct balai_api_offboard *ob = ob_of(app);
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    struct rec *r;
    struct job *j;
    size_t unfilled = 0;

    if (!u || !ob)
        return BALAI_ENOTFOUND;
    if (u->system)
        return BALAI_EFORBIDDEN;
    r = balai_map_get_str(ob->records, user_id);
    if (stands(app, r, user_id)) {
        done(arg, BALAI_OK, r->record);
        return BALAI_OK;
    }
    j = balai_map_get_str(ob->running, user_id);
    if (j) {
        j->w = balai_realloc(j->w, (j->nw + 1) * sizeof(*j->w));
        j->w[j->nw].fn = done;
        j->w[j->nw++].arg = arg;
        return BALAI_OK;
    }
    j = balai_calloc(1, sizeof(*j));
    j->app = app;
    j->user_id = balai_strdup(u->user_id);
    j->actor = balai_strdup(actor ? actor : "system");
    j->reason = reason && *reason ? balai_strndup(reason, strnlen(reason, MAX_REASON)) : NULL;
    j->room_reason =
        j->reason ? balai_asprintf("offboarded: %s", j->reason) : balai_strdup("offboarded");
    j->started_ts = balai_now_ms();
    j->rooms_left = json_array();
    j->rooms_failed = json_array();
    j->w = balai_calloc(1, sizeof(*j->w));
    j->w[0].fn = done;
    j->w[0].arg = arg;
    j->nw = 1;
    balai_map_put_str(ob->running, j->user_id, j);

    /* 1. stewardship first, so that no room is orphaned by what follows */
    j->stewardships =
        (json_int_t)balai_api_stewardship_on_departure(app, j->user_id, j->actor, &unfilled);
    j->unfilled = (json_int_t)unfilled;
    /* 2. access ends at once: parked /sync requests answer M_UNKNOWN_TOKEN */
    for (struct balai_device *d = u->devices; d; d = d->next) {
        j->devices++;
        for (struct balai_session *s = d->sessions; s; s = s->next)
            j->tokens++;
    }
    balai_accounts_deactivate(app->accounts, u);
    /* 3. no rule acts on them any more; the directory says terminated */
    balai_api_rules_forget_user(app, j->user_id);
    j->p = balai_api_directory_person(app, j->user_id);
    j->p->status = BALAI_STATUS_TERMINATED;
    j->p->updated_ts = balai_now_ms();
    /* 4. one transaction: the deactivation, a membership event in every
     * room, the signed record and its audit entry commit together or not at all */
    struct balai_store_group *g = balai_store_group_new();
    struct deact_op *d = balai_calloc(1, sizeof(*d));
    d->j = j;
    d->op.apply = deact_apply;
    d->op.done = deact_done;
    balai_store_group_add(g, &d->op);
    balai_rooms_of_user(app->rooms, j->user_id, collect_room, j);
    for (size_t i = 0; i < j->nrooms; i++)
        leave_room(j, g, j->rooms[i]);
    if (make_record(j) != BALAI_OK) {
        /* no record to store (cannot happen short of a bug): the rest still
         * runs, and the caller hears of the failure */
        memset(&j->op, 0, sizeof(j->op));
        j->op.done = record_unencodable;
    }
    balai_store_group_add(g, &j->op);
    balai_store_submit_group(app->store, g);
    return BALAI_OK;
}

/* ---- loading ---- */

static int load_record(int64_t id, const char *user_id, int64_t ts, const char *text, int current,
                       void *arg)
{
    struct balai_app *app = arg;
    json_t *rec = json_loads(text, 0, NULL);
    (void)ts;
    if (!rec) {
        LOG_ERROR("offboarding record %lld of %s is unreadable", (long long)id, user_id);
        return 0;
    }
    rec_set(app, user_id, rec, current);
    return 0;
}

int balai_api_offboard_load(struct balai_app *app)
{
    struct balai_api_offboard *ob = balai_calloc(1, sizeof(*ob));

    ob->records = balai_map_new();
    ob->running = balai_map_new();
    app->offboard = ob;
    return balai_store_offboardings_each(app->store, load_record, app);
}

void balai_api_offboard_free(struct balai_app *app)
{
    struct balai_api_offboard *ob = ob_of(app);
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!ob)
        return;
    while (balai_map_next(ob->records, &it, &k, &kl, &v)) {
        struct rec *r = v;
        json_decref(r->record);
        free(r);
    }
    balai_map_free(ob->records);
    balai_map_free(ob->running); /* jobs end with their writes, before this */
    free(ob);
    app->offboard = NULL;
}

/* ---- the admin API ---- */

static const unsigned OFFBOARD_ROLES = BALAI_ROLE_BIT(BALAI_ROLE_OWNER) |
                                       BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) |
                                       BALAI_ROLE_BIT(BALAI_ROLE_HR);
static const unsigned READ_ROLES =
    BALAI_ROLE_BIT(BALAI_ROLE_OWNER) | BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) |
    BALAI_ROLE_BIT(BALAI_ROLE_HR) | BALAI_ROLE_BIT(BALAI_ROLE_COMPLIANCE);

static void offboard_answered(void *arg, int rc, json_t *record)
{
    struct balai_http_req *req = arg;

    if (rc == BALAI_OK)
        balai_api_json(req, 200, json_incref(record));
    else
        balai_api_error(req, 500, "M_UNKNOWN",
                        "The person's access is revoked, but the offboarding could not be "
                        "completed; offboard them again to finish it");
}

static struct balai_user *target_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);

    if (!u) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %.300s", req->params[0]);
        return NULL;
    }
    if (u->system) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "The system user is the organisation's agent: it cannot be offboarded "
                        "or reactivated");
        return NULL;
    }
    return u;
}

static void post_offboard(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *reason = NULL;
    json_t *body = NULL;
    struct balai_user *u;

    if (balai_api_auth_role(req, &s, OFFBOARD_ROLES) < 0 || balai_api_body(req, 1, &body) < 0 ||
        balai_api_str(req, body, "reason", 0, &reason) < 0)
        goto out;
    if (reason && strlen(reason) > MAX_REASON) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'reason' is longer than %d bytes",
                        MAX_REASON);
        goto out;
    }
    u = target_user(req);
    if (!u)
        goto out;
    if (s && s->device->user == u) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "You cannot offboard yourself; ask another administrator");
        goto out;
    }
    if (balai_api_offboard(app, u->user_id, balai_api_audit_actor(s), reason, offboard_answered,
                           req) != BALAI_OK)
        balai_api_error(req, 500, "M_UNKNOWN", "Could not start the offboarding");
out:
    json_decref(body);
}

static void get_offboarding(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *rec;

    if (balai_api_auth_role(req, &s, READ_ROLES) < 0)
        return;
    if (!balai_accounts_user(app->accounts, req->params[0])) {
        balai_api_error(req, 404, "M_NOT_FOUND", "No such user: %.300s", req->params[0]);
        return;
    }
    rec = balai_api_offboard_record(app, req->params[0], NULL);
    if (!rec) {
        balai_api_error(req, 404, "M_NOT_FOUND", "%.300s has not been offboarded", req->params[0]);
        return;
    }
    balai_api_json(req, 200, json_incref(rec));
}

static void get_server_keys(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    char *pk = balai_base64_encode(app->sign_sk + 32, BALAI_SIGN_PUBLICKEYBYTES);

    balai_api_json(req, 200,
                   json_pack("{s:s, s:{s:{s:s}}}", "server_name", app->server_name, "verify_keys",
                             app->sign_key_id, "key", pk));
    free(pk);
}

/* ---- reactivation ---- */

struct react {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    char *user_id;
    char hash[BALAI_PWHASH_STRBYTES];
    int has_hash;
    struct balai_gov_person *p;
    struct balai_api_audit_entry *audit;
};

static void react_free(struct react *x)
{
    balai_api_audit_entry_done(x->app, x->audit, x->op.rc);
    balai_wipe(x->hash, sizeof(x->hash));
    balai_gov_person_free(x->p);
    free(x->user_id);
    free(x);
}

static int react_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct react *x = (struct react *)op;
    int rc = balai_store_txn_user_reactivate(t, x->user_id);

    if (rc == BALAI_OK && x->has_hash)
        rc = balai_store_txn_user_set_password(t, x->user_id, x->hash);
    if (rc == BALAI_OK)
        rc = balai_api_directory_txn_person(t, x->p);
    if (rc == BALAI_OK)
        rc = balai_store_txn_offboarding_close(t, x->user_id);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void react_done(struct balai_store_op *op)
{
    struct react *x = (struct react *)op;
    struct balai_app *app = x->app;
    struct balai_user *u = balai_accounts_user(app->accounts, x->user_id);

    if (op->rc != BALAI_OK || !u) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not store the reactivation; try again");
    } else {
        json_t *rec = balai_api_offboard_record(app, x->user_id, NULL);
        u->deactivated = 0;
        if (x->has_hash)
            balai_user_set_password_hash(u, x->hash);
        if (rec)
            rec_set(app, x->user_id, json_incref(rec), 0);
        balai_api_stewardship_on_return(app, x->user_id);
        balai_api_directory_committed(app, x->p); /* the rules put them back */
        balai_api_rules_on_person_changed(app, x->user_id);
        LOG_INFO("reactivated %s", x->user_id);
        balai_api_json(x->req, 200,
                       json_pack("{s:s, s:b, s:b}", "user_id", x->user_id, "deactivated", 0,
                                 "password_set", x->has_hash));
    }
    react_free(x);
}

static void react_hashed(void *arg, int rc, const char *hash)
{
    struct react *x = arg;

    if (rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN", "Could not hash the password");
        x->op.rc = BALAI_ECLOSED; /* never written: the audit entry is dropped */
        react_free(x);
        return;
    }
    snprintf(x->hash, sizeof(x->hash), "%s", hash);
    x->has_hash = 1;
    balai_store_submit(x->app->store, &x->op);
}

static void post_reactivate(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *password = NULL;
    json_t *body = NULL;
    struct balai_user *u;
    struct react *x;

    if (balai_api_auth_role(req, &s, OFFBOARD_ROLES) < 0 || balai_api_body(req, 1, &body) < 0 ||
        balai_api_str(req, body, "password", 0, &password) < 0)
        goto out;
    u = target_user(req);
    if (!u)
        goto out;
    if (!u->deactivated) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "%s is not deactivated", u->user_id);
        goto out;
    }
    if (balai_map_get_str(ob_of(app)->running, u->user_id)) {
        balai_api_limit(req, 1000); /* an offboarding is still under way */
        goto out;
    }
    if (password && balai_api_password_ok(req, u->user_id, password) < 0)
        goto out;
    x = balai_calloc(1, sizeof(*x));
    x->app = app;
    x->req = req;
    x->user_id = balai_strdup(u->user_id);
    x->p = balai_api_directory_person(app, u->user_id);
    x->p->status = BALAI_STATUS_ACTIVE;
    x->p->updated_ts = balai_now_ms();
    x->op.apply = react_apply;
    x->op.done = react_done;
    x->audit =
        balai_api_audit_entry_new(app, balai_api_audit_actor(s), "user.reactivate", x->user_id,
                                  json_pack("{s:b}", "password_set", password != NULL));
    if (!password) {
        balai_store_submit(app->store, &x->op);
    } else if (balai_api_pw_hash(app, password, react_hashed, x) != BALAI_OK) {
        balai_api_limit(req, 1000);
        x->op.rc = BALAI_EBUSY;
        react_free(x);
    }
out:
    json_decref(body);
}

int balai_api_offboard_routes(struct balai_app *app)
{
    static const struct {
        enum balai_http_method m;
        const char *pattern;
        balai_http_handler_fn fn;
    } routes[] = {
        {BALAI_HTTP_POST, "/_balai/admin/v1/users/{userId}/offboard", post_offboard},
        {BALAI_HTTP_GET, "/_balai/admin/v1/users/{userId}/offboarding", get_offboarding},
        {BALAI_HTTP_POST, "/_balai/admin/v1/users/{userId}/reactivate", post_reactivate},
        {BALAI_HTTP_GET, "/_balai/admin/v1/server/keys", get_server_keys},
    };

    if (!app->offboard)
        return BALAI_OK;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(routes); i++) {
        int rc = balai_api_route(app, routes[i].m, routes[i].pattern, routes[i].fn, 0);
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}
