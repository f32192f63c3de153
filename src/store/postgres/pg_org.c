/* pg_org.c: the PostgreSQL backend's functions for the organisation
 * directory (org_people, org_units) and the audit trail (audit_log,
 * append-only: no UPDATE or DELETE here, and a trigger refuses both); see
 * pg.c for the design. Filtered reads are one prepared statement each, a
 * NULL (or 0) parameter meaning "no filter". */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

PG_STMT(s_person_set, "org_person_set",
        "INSERT INTO org_people (user_id, role, employee_number, display_name, unit_id, title,"
        " manager, site, status, working_hours, email, guest, sponsor, guest_expires_ts,"
        " updated_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        " ON CONFLICT (user_id) DO UPDATE SET role = excluded.role,"
        " employee_number = excluded.employee_number, display_name = excluded.display_name,"
        " unit_id = excluded.unit_id, title = excluded.title, manager = excluded.manager,"
        " site = excluded.site, status = excluded.status, working_hours = excluded.working_hours,"
        " email = excluded.email, guest = excluded.guest, sponsor = excluded.sponsor,"
        " guest_expires_ts = excluded.guest_expires_ts, updated_ts = excluded.updated_ts");
PG_STMT(s_unit_set, "org_unit_set",
        "INSERT INTO org_units (unit_id, name, parent_id, admins, created_ts)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (unit_id) DO UPDATE SET name = excluded.name,"
        " parent_id = excluded.parent_id, admins = excluded.admins");
PG_STMT(s_unit_delete, "org_unit_delete", "DELETE FROM org_units WHERE unit_id = $1");
PG_STMT(s_people, "org_people_each",
        "SELECT user_id, role, employee_number, display_name, unit_id, title, manager, site,"
        " status, working_hours, email, guest, sponsor, guest_expires_ts, updated_ts"
        " FROM org_people ORDER BY user_id");
PG_STMT(s_units, "org_units_each",
        "SELECT unit_id, name, parent_id, admins, created_ts FROM org_units ORDER BY unit_id");

#define AUDIT_COLS "seq, ts, actor, action, target, detail, prev, mac"
PG_STMT(s_audit_append, "audit_append",
        "INSERT INTO audit_log (" AUDIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
PG_STMT(s_audit_tail, "audit_tail", "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1");
#define AUDIT_FILTER                                                                               \
    "SELECT " AUDIT_COLS " FROM audit_log WHERE ($1::text IS NULL OR actor = $1)"                  \
    " AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR starts_with(action, $3))"     \
    " AND ($4::text IS NULL OR target = $4) AND ($5::bigint <= 0 OR ts >= $5)"                     \
    " AND ($6::bigint <= 0 OR ts <= $6)"
PG_STMT(s_audit_f, "audit_each_f",
        AUDIT_FILTER " AND ($7::bigint <= 0 OR seq > $7) ORDER BY seq LIMIT $8");
PG_STMT(s_audit_b, "audit_each_b",
        AUDIT_FILTER " AND ($7::bigint <= 0 OR seq < $7) ORDER BY seq DESC LIMIT $8");

/* ---- the organisation directory ---- */

int balai__pg_org_person_set(void *db, const struct balai_org_person_rec *r)
{
    struct pg_args a = {0};

    if (!r || !r->user_id || !r->role || !r->status)
        return BALAI_EINVAL;
    pa_text(&a, r->user_id);
    pa_text(&a, r->role);
    pa_text(&a, r->employee_number);
    pa_text(&a, r->display_name);
    pa_text(&a, r->unit_id);
    pa_text(&a, r->title);
    pa_text(&a, r->manager);
    pa_text(&a, r->site);
    pa_text(&a, r->status);
    pa_text(&a, r->working_hours);
    pa_text(&a, r->email);
    pa_int(&a, r->guest ? 1 : 0);
    pa_text(&a, r->sponsor);
    pa_int(&a, r->guest_expires_ts);
    pa_int(&a, r->updated_ts);
    return balai__pg_wexec(db, &s_person_set, &a, NULL, NULL);
}

int balai__pg_org_unit_set(void *db, const struct balai_org_unit_rec *u)
{
    struct pg_args a = {0};

    if (!u || !u->unit_id || !u->name || !u->admins)
        return BALAI_EINVAL;
    pa_text(&a, u->unit_id);
    pa_text(&a, u->name);
    pa_text(&a, u->parent_id);
    pa_text(&a, u->admins);
    pa_int(&a, u->created_ts);
    return balai__pg_wexec(db, &s_unit_set, &a, NULL, NULL);
}

int balai__pg_org_unit_delete(void *db, const char *unit_id)
{
    struct pg_args a = {0};

    if (!unit_id)
        return BALAI_EINVAL;
    pa_text(&a, unit_id);
    return balai__pg_wexec_one(db, &s_unit_delete, &a);
}

struct people_ctx {
    int (*fn)(const struct balai_org_person_rec *, void *);
    void *arg;
};

static int person_row(const PGresult *r, int i, void *p)
{
    struct people_ctx *c = p;
    struct balai_org_person_rec rec = {
        .user_id = pc_text(r, i, 0),
        .role = pc_text(r, i, 1),
        .employee_number = pc_text(r, i, 2),
        .display_name = pc_text(r, i, 3),
        .unit_id = pc_text(r, i, 4),
        .title = pc_text(r, i, 5),
        .manager = pc_text(r, i, 6),
        .site = pc_text(r, i, 7),
        .status = pc_text(r, i, 8),
        .working_hours = pc_text(r, i, 9),
        .email = pc_text(r, i, 10),
        .guest = (int)pc_int(r, i, 11),
        .sponsor = pc_text(r, i, 12),
        .guest_expires_ts = pc_int(r, i, 13),
        .updated_ts = pc_int(r, i, 14),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_org_people_each(void *db, int (*fn)(const struct balai_org_person_rec *, void *),
                              void *arg)
{
    struct people_ctx c = {fn, arg};

    return balai__pg_each(db, &s_people, NULL, person_row, &c);
}

struct units_ctx {
    int (*fn)(const struct balai_org_unit_rec *, void *);
    void *arg;
};

static int unit_row(const PGresult *r, int i, void *p)
{
    struct units_ctx *c = p;
    struct balai_org_unit_rec rec = {
        .unit_id = pc_text(r, i, 0),
        .name = pc_text(r, i, 1),
        .parent_id = pc_text(r, i, 2),
        .admins = pc_text(r, i, 3),
        .created_ts = pc_int(r, i, 4),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_org_units_each(void *db, int (*fn)(const struct balai_org_unit_rec *, void *),
                             void *arg)
{
    struct units_ctx c = {fn, arg};

    return balai__pg_each(db, &s_units, NULL, unit_row, &c);
}

/* ---- the audit trail ---- */

int balai__pg_audit_append(void *db, const struct balai_audit_rec *r)
{
    struct pg_args a = {0};

    if (!r->actor || !r->action || !r->detail || r->seq < 1)
        return BALAI_EINVAL;
    pa_int(&a, r->seq);
    pa_int(&a, r->ts);
    pa_text(&a, r->actor);
    pa_text(&a, r->action);
    pa_text(&a, r->target);
    pa_text(&a, r->detail);
    pa_bytea(&a, r->prev, 32);
    pa_bytea(&a, r->mac, 32);
    return balai__pg_wexec(db, &s_audit_append, &a, NULL, NULL);
}

/* On the write connection: it sees the batch's earlier appends. */
int balai__pg_audit_tail(void *db, int64_t *seq, uint8_t mac[32])
{
    PGresult *r = NULL;
    uint8_t *m;
    size_t len;
    int rc;

    *seq = 0;
    memset(mac, 0, 32);
    rc = balai__pg_wexec(db, &s_audit_tail, NULL, NULL, &r);
    if (rc != BALAI_OK)
        return rc;
    if (PQntuples(r) > 0) {
        *seq = pc_int(r, 0, 0);
        m = balai__pg_bytea(r, 0, 1, &len);
        if (m && len == 32)
            memcpy(mac, m, 32);
        free(m);
    }
    PQclear(r);
    return BALAI_OK;
}

struct audit_ctx {
    int (*fn)(const struct balai_audit_rec *, void *);
    void *arg;
};

static int audit_row(const PGresult *r, int i, void *p)
{
    struct audit_ctx *c = p;
    struct balai_audit_rec rec = {
        .seq = pc_int(r, i, 0),
        .ts = pc_int(r, i, 1),
        .actor = pc_text(r, i, 2),
        .action = pc_text(r, i, 3),
        .target = pc_text(r, i, 4),
        .detail = pc_text(r, i, 5),
    };
    size_t len;
    uint8_t *b;

    /* A value of the wrong size (tampering) reads as zeros: the MAC check
     * then fails, as it should. */
    b = balai__pg_bytea(r, i, 6, &len);
    if (b && len == 32)
        memcpy(rec.prev, b, 32);
    free(b);
    b = balai__pg_bytea(r, i, 7, &len);
    if (b && len == 32)
        memcpy(rec.mac, b, 32);
    free(b);
    if (!rec.actor)
        rec.actor = "";
    if (!rec.action)
        rec.action = "";
    if (!rec.detail)
        rec.detail = "";
    return c->fn(&rec, c->arg);
}

int balai__pg_audit_each(void *db, const struct balai_audit_query *q,
                         int (*fn)(const struct balai_audit_rec *, void *), void *arg)
{
    struct audit_ctx c = {fn, arg};
    struct pg_args a = {0};
    size_t alen = q->action ? strlen(q->action) : 0;
    int prefix = alen > 1 && q->action[alen - 1] == '*';
    char *pre = prefix ? balai_strndup(q->action, alen - 1) : NULL;
    int rc;

    pa_text(&a, q->actor);
    pa_text(&a, prefix ? NULL : q->action);
    pa_text(&a, pre);
    pa_text(&a, q->target);
    pa_int(&a, q->since);
    pa_int(&a, q->until);
    pa_int(&a, q->from);
    if (q->limit > 0)
        pa_int(&a, q->limit);
    else
        pa_text(&a, NULL);
    rc = balai__pg_each(db, q->dir == 'b' ? &s_audit_b : &s_audit_f, &a, audit_row, &c);
    free(pre);
    return rc;
}
