/* pg_dlp.c: the PostgreSQL backend's functions for DLP and moderation:
 * dlp_incidents, dlp_held, mod_reports, user_suspensions and dlp_settings
 * (see pg.c for the design). Filtered reads are one prepared statement
 * each, a NULL (or 0) parameter meaning "no filter". */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

PG_STMT(s_incident_add, "dlp_incident_add",
        "INSERT INTO dlp_incidents (ts, room_id, event_id, user_id, label, action, outcome, types,"
        " findings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id");
PG_STMT(s_incidents, "dlp_incidents_each",
        "SELECT id, ts, room_id, event_id, user_id, label, action, outcome, types, findings"
        " FROM dlp_incidents WHERE ($1::text IS NULL OR label = $1)"
        " AND ($2::text IS NULL OR strpos(types, $2) > 0)"
        " AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR user_id = $4)"
        " AND ($5::text IS NULL OR action = $5) AND ($6::bigint <= 0 OR ts >= $6)"
        " AND ($7::bigint <= 0 OR ts <= $7) AND ($8::bigint <= 0 OR id < $8)"
        " ORDER BY id DESC LIMIT $9");
PG_STMT(s_held_add, "dlp_held_add",
        "INSERT INTO dlp_held (held_id, ts, room_id, user_id, type, label, findings, key_name,"
        " blob) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
PG_STMT(s_held_delete, "dlp_held_delete", "DELETE FROM dlp_held WHERE held_id = $1");
PG_STMT(s_held_one, "dlp_held_one",
        "SELECT held_id, ts, room_id, user_id, type, label, findings, key_name, blob"
        " FROM dlp_held WHERE held_id = $1");
PG_STMT(s_held_all, "dlp_held_all",
        "SELECT held_id, ts, room_id, user_id, type, label, findings, key_name, blob"
        " FROM dlp_held ORDER BY ts, held_id");
PG_STMT(s_report_add, "report_add",
        "INSERT INTO mod_reports (ts, room_id, event_id, reporter, reason, score)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id");
PG_STMT(s_report_close, "report_close",
        "UPDATE mod_reports SET status = $2, resolved_by = $3, note = $4, resolved_ts = $5"
        " WHERE id = $1 AND status = 'open'");
PG_STMT(s_reports, "reports_each",
        "SELECT id, ts, room_id, event_id, reporter, reason, score, status, resolved_by,"
        " resolved_ts, note FROM mod_reports WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::bigint <= 0 OR id = $2) ORDER BY id DESC LIMIT $3");
PG_STMT(s_suspend, "suspension_set",
        "INSERT INTO user_suspensions (user_id, ts, actor) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id) DO NOTHING");
PG_STMT(s_unsuspend, "suspension_lift", "DELETE FROM user_suspensions WHERE user_id = $1");
PG_STMT(s_suspensions, "suspensions_each",
        "SELECT user_id, ts, actor FROM user_suspensions ORDER BY user_id");
PG_STMT(s_setting_set, "dlp_setting_set",
        "INSERT INTO dlp_settings (kind, name, value, updated_ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (kind, name) DO UPDATE SET value = excluded.value,"
        " updated_ts = excluded.updated_ts");
PG_STMT(s_setting_delete, "dlp_setting_delete",
        "DELETE FROM dlp_settings WHERE kind = $1 AND name = $2");
PG_STMT(s_settings, "dlp_settings_each",
        "SELECT kind, name, value, updated_ts FROM dlp_settings ORDER BY kind, name");

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* A LIMIT parameter: NULL (no limit) when limit <= 0. */
static void pa_limit(struct pg_args *a, int limit)
{
    if (limit > 0)
        pa_int(a, limit);
    else
        pa_text(a, NULL);
}

/* ---- incidents ---- */

int balai__pg_dlp_incident_add(void *db, struct balai_dlp_incident_rec *r)
{
    struct pg_args a = {0};

    if (!r->user_id || !r->label || !r->action || !r->outcome || !r->types || !r->findings)
        return BALAI_EINVAL;
    pa_int(&a, r->ts);
    pa_text(&a, r->room_id);
    pa_text(&a, r->event_id);
    pa_text(&a, r->user_id);
    pa_text(&a, r->label);
    pa_text(&a, r->action);
    pa_text(&a, r->outcome);
    pa_text(&a, r->types);
    pa_text(&a, r->findings);
    return balai__pg_wexec_int(db, &s_incident_add, &a, &r->id);
}

struct incidents_ctx {
    int (*fn)(const struct balai_dlp_incident_rec *, void *);
    void *arg;
};

static int incident_row(const PGresult *r, int i, void *p)
{
    struct incidents_ctx *c = p;
    struct balai_dlp_incident_rec rec = {
        .id = pc_int(r, i, 0),
        .ts = pc_int(r, i, 1),
        .room_id = pc_text(r, i, 2),
        .event_id = pc_text(r, i, 3),
        .user_id = nz(pc_text(r, i, 4)),
        .label = nz(pc_text(r, i, 5)),
        .action = nz(pc_text(r, i, 6)),
        .outcome = nz(pc_text(r, i, 7)),
        .types = nz(pc_text(r, i, 8)),
        .findings = nz(pc_text(r, i, 9)),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_dlp_incidents_each(void *db, const struct balai_dlp_incident_query *q,
                                 int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                 void *arg)
{
    struct incidents_ctx c = {fn, arg};
    struct pg_args a = {0};
    char *typepat = q->type ? balai_asprintf(",%s,", q->type) : NULL;
    int rc;

    pa_text(&a, q->label);
    pa_text(&a, typepat);
    pa_text(&a, q->room_id);
    pa_text(&a, q->user_id);
    pa_text(&a, q->action);
    pa_int(&a, q->since);
    pa_int(&a, q->until);
    pa_int(&a, q->from);
    pa_limit(&a, q->limit);
    rc = balai__pg_each(db, &s_incidents, &a, incident_row, &c);
    free(typepat);
    return rc;
}

/* ---- held messages ---- */

int balai__pg_dlp_held_add(void *db, const struct balai_dlp_held_rec *r)
{
    struct pg_args a = {0};

    if (!r->held_id || !r->room_id || !r->user_id || !r->type || !r->label || !r->findings ||
        !r->key_name || !r->blob)
        return BALAI_EINVAL;
    pa_text(&a, r->held_id);
    pa_int(&a, r->ts);
    pa_text(&a, r->room_id);
    pa_text(&a, r->user_id);
    pa_text(&a, r->type);
    pa_text(&a, r->label);
    pa_text(&a, r->findings);
    pa_text(&a, r->key_name);
    pa_bytea(&a, r->blob, r->blob_len);
    return balai__pg_wexec(db, &s_held_add, &a, NULL, NULL);
}

int balai__pg_dlp_held_delete(void *db, const char *held_id)
{
    struct pg_args a = {0};

    pa_text(&a, held_id);
    return balai__pg_wexec_one(db, &s_held_delete, &a);
}

struct held_ctx {
    int (*fn)(const struct balai_dlp_held_rec *, void *);
    void *arg;
};

static int held_row(const PGresult *r, int i, void *p)
{
    struct held_ctx *c = p;
    struct balai_dlp_held_rec rec = {
        .held_id = nz(pc_text(r, i, 0)),
        .ts = pc_int(r, i, 1),
        .room_id = nz(pc_text(r, i, 2)),
        .user_id = nz(pc_text(r, i, 3)),
        .type = nz(pc_text(r, i, 4)),
        .label = nz(pc_text(r, i, 5)),
        .findings = nz(pc_text(r, i, 6)),
        .key_name = nz(pc_text(r, i, 7)),
    };
    uint8_t *blob = balai__pg_bytea(r, i, 8, &rec.blob_len);
    int rc;

    rec.blob = blob;
    rc = c->fn(&rec, c->arg);
    free(blob);
    return rc;
}

int balai__pg_dlp_held_each(void *db, const char *held_id,
                            int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg)
{
    struct held_ctx c = {fn, arg};
    struct pg_args a = {0};

    if (!held_id)
        return balai__pg_each(db, &s_held_all, NULL, held_row, &c);
    pa_text(&a, held_id);
    return balai__pg_each(db, &s_held_one, &a, held_row, &c);
}

/* ---- reports ---- */

int balai__pg_report_add(void *db, struct balai_report_rec *r)
{
    struct pg_args a = {0};

    if (!r->room_id || !r->event_id || !r->reporter)
        return BALAI_EINVAL;
    pa_int(&a, r->ts);
    pa_text(&a, r->room_id);
    pa_text(&a, r->event_id);
    pa_text(&a, r->reporter);
    pa_text(&a, r->reason);
    if (r->has_score)
        pa_int(&a, r->score);
    else
        pa_text(&a, NULL);
    return balai__pg_wexec_int(db, &s_report_add, &a, &r->id);
}

int balai__pg_report_close(void *db, int64_t id, const char *status, const char *by,
                           const char *note, int64_t ts)
{
    struct pg_args a = {0};

    pa_int(&a, id);
    pa_text(&a, status);
    pa_text(&a, by);
    pa_text(&a, note);
    pa_int(&a, ts);
    return balai__pg_wexec_one(db, &s_report_close, &a);
}

struct reports_ctx {
    int (*fn)(const struct balai_report_rec *, void *);
    void *arg;
};

static int report_row(const PGresult *r, int i, void *p)
{
    struct reports_ctx *c = p;
    struct balai_report_rec rec = {
        .id = pc_int(r, i, 0),
        .ts = pc_int(r, i, 1),
        .room_id = nz(pc_text(r, i, 2)),
        .event_id = nz(pc_text(r, i, 3)),
        .reporter = nz(pc_text(r, i, 4)),
        .reason = pc_text(r, i, 5),
        .has_score = !PQgetisnull(r, i, 6),
        .score = pc_int(r, i, 6),
        .status = nz(pc_text(r, i, 7)),
        .resolved_by = pc_text(r, i, 8),
        .resolved_ts = pc_int(r, i, 9),
        .note = pc_text(r, i, 10),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_reports_each(void *db, const char *status, int64_t id, int limit,
                           int (*fn)(const struct balai_report_rec *, void *), void *arg)
{
    struct reports_ctx c = {fn, arg};
    struct pg_args a = {0};

    pa_text(&a, status);
    pa_int(&a, id);
    pa_limit(&a, limit);
    return balai__pg_each(db, &s_reports, &a, report_row, &c);
}

/* ---- suspensions ---- */

int balai__pg_suspension_set(void *db, const char *user_id, int suspended, const char *actor,
                             int64_t ts)
{
    struct pg_args a = {0};

    if (!user_id || !actor)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    if (!suspended)
        return balai__pg_wexec(db, &s_unsuspend, &a, NULL, NULL);
    pa_int(&a, ts);
    pa_text(&a, actor);
    return balai__pg_wexec(db, &s_suspend, &a, NULL, NULL);
}

struct suspensions_ctx {
    int (*fn)(const char *, int64_t, const char *, void *);
    void *arg;
};

static int suspension_row(const PGresult *r, int i, void *p)
{
    struct suspensions_ctx *c = p;

    return c->fn(nz(pc_text(r, i, 0)), pc_int(r, i, 1), nz(pc_text(r, i, 2)), c->arg);
}

int balai__pg_suspensions_each(void *db, int (*fn)(const char *, int64_t, const char *, void *),
                               void *arg)
{
    struct suspensions_ctx c = {fn, arg};

    return balai__pg_each(db, &s_suspensions, NULL, suspension_row, &c);
}

/* ---- settings ---- */

int balai__pg_dlp_setting_set(void *db, const char *kind, const char *name, const char *value,
                              int64_t ts)
{
    struct pg_args a = {0};

    if (!kind || !name)
        return BALAI_EINVAL;
    pa_text(&a, kind);
    pa_text(&a, name);
    if (!value)
        return balai__pg_wexec_one(db, &s_setting_delete, &a);
    pa_text(&a, value);
    pa_int(&a, ts);
    return balai__pg_wexec(db, &s_setting_set, &a, NULL, NULL);
}

struct settings_ctx {
    int (*fn)(const char *, const char *, const char *, int64_t, void *);
    void *arg;
};

static int setting_row(const PGresult *r, int i, void *p)
{
    struct settings_ctx *c = p;

    return c->fn(nz(pc_text(r, i, 0)), nz(pc_text(r, i, 1)), nz(pc_text(r, i, 2)), pc_int(r, i, 3),
                 c->arg);
}

int balai__pg_dlp_settings_each(
    void *db, int (*fn)(const char *, const char *, const char *, int64_t, void *), void *arg)
{
    struct settings_ctx c = {fn, arg};

    return balai__pg_each(db, &s_settings, NULL, setting_row, &c);
}
