/* sqlite_audit.c: the SQLite backend's functions for the audit_log table,
 * the append-only audit trail (see sqlite.c for the design, gov/audit.h for
 * the chain).
 *
 * Append-only: there is no UPDATE or DELETE of audit_log anywhere in the
 * code, and the table's triggers (migration 11) refuse both. Audit writes
 * are rare (logins, admin actions), so these statements are prepared per
 * call instead of living in the statement tables of sqlite.c; the query is
 * built from the filters actually given, so that SQLite can use the index of
 * the column filtered on. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/buf.h"
#include "util/log.h"

#define AUDIT_COLS "seq, ts, actor, action, target, detail, prev, mac"

static int prepare(sqlite3 *conn, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(conn, sql, -1, out, NULL) != SQLITE_OK) {
        LOG_ERROR("audit: cannot prepare a statement: %s", sqlite3_errmsg(conn));
        return BALAI_ESTORE;
    }
    return BALAI_OK;
}

int balai__sqlite_audit_append(void *p, const struct balai_audit_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc, src;

    if (!r->actor || !r->action || !r->detail || r->seq < 1)
        return BALAI_EINVAL;
    rc = prepare(db->w,
                 "INSERT INTO audit_log (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    src = sqlite3_bind_int64(s, 1, r->seq) | sqlite3_bind_int64(s, 2, r->ts) |
          bind_text(s, 3, r->actor) | bind_text(s, 4, r->action) | bind_text(s, 5, r->target) |
          bind_text(s, 6, r->detail) | sqlite3_bind_blob(s, 7, r->prev, 32, SQLITE_STATIC) |
          sqlite3_bind_blob(s, 8, r->mac, 32, SQLITE_STATIC);
    if (src != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->w, src, "audit_append");
out:
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_audit_tail(void *p, int64_t *seq, uint8_t mac[32])
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc, src;

    *seq = 0;
    memset(mac, 0, 32);
    rc = prepare(db->w, "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1", &s);
    if (rc != BALAI_OK)
        return rc;
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == 32)
            memcpy(mac, sqlite3_column_blob(s, 1), 32);
    } else if (src != SQLITE_DONE) {
        rc = balai__sqlite_map_err(db->w, src, "audit_tail");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Binds a named parameter if the statement has it. */
static int bind_named_text(sqlite3_stmt *s, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    return i ? bind_text(s, i, v) : SQLITE_OK;
}

static int bind_named_int(sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    return i ? sqlite3_bind_int64(s, i, v) : SQLITE_OK;
}

int balai__sqlite_audit_each(void *p, const struct balai_audit_query *q,
                             int (*fn)(const struct balai_audit_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct balai_buf sql;
    sqlite3_stmt *s = NULL;
    char *prefix_lo = NULL, *prefix_hi = NULL;
    size_t alen = q->action ? strlen(q->action) : 0;
    int prefix = alen > 1 && q->action[alen - 1] == '*';
    int rc = 0, src;

    balai_buf_init(&sql, 0);
    balai_buf_append_str(&sql, "SELECT " AUDIT_COLS " FROM audit_log WHERE 1");
    if (q->actor)
        balai_buf_append_str(&sql, " AND actor = :actor");
    if (q->action && prefix)
        balai_buf_append_str(&sql, " AND action >= :alo AND action < :ahi");
    else if (q->action)
        balai_buf_append_str(&sql, " AND action = :action");
    if (q->target)
        balai_buf_append_str(&sql, " AND target = :target");
    if (q->since > 0)
        balai_buf_append_str(&sql, " AND ts >= :since");
    if (q->until > 0)
        balai_buf_append_str(&sql, " AND ts <= :until");
    if (q->dir == 'b') {
        if (q->from > 0)
            balai_buf_append_str(&sql, " AND seq < :from");
        balai_buf_append_str(&sql, " ORDER BY seq DESC LIMIT :limit");
    } else {
        if (q->from > 0)
            balai_buf_append_str(&sql, " AND seq > :from");
        balai_buf_append_str(&sql, " ORDER BY seq LIMIT :limit");
    }
    if (prefix) {
        /* "user.*" is every action in [ "user." , "user/" ): '/' follows '.' */
        prefix_lo = strndup(q->action, alen - 1);
        prefix_hi = strndup(q->action, alen - 1);
        if (!prefix_lo || !prefix_hi) {
            rc = BALAI_ENOMEM;
            goto out;
        }
        prefix_hi[alen - 2]++;
    }

    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r, sql.data, &s);
    if (rc != BALAI_OK)
        goto unlock;
    src = bind_named_text(s, ":actor", q->actor) | bind_named_text(s, ":action", q->action) |
          bind_named_text(s, ":alo", prefix_lo) | bind_named_text(s, ":ahi", prefix_hi) |
          bind_named_text(s, ":target", q->target) | bind_named_int(s, ":since", q->since) |
          bind_named_int(s, ":until", q->until) | bind_named_int(s, ":from", q->from) |
          bind_named_int(s, ":limit", q->limit > 0 ? q->limit : -1);
    if (src != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto unlock;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct balai_audit_rec r = {
            .seq = sqlite3_column_int64(s, 0),
            .ts = sqlite3_column_int64(s, 1),
            .actor = col_text(s, 2),
            .action = col_text(s, 3),
            .target = col_text(s, 4),
            .detail = col_text(s, 5),
        };
        /* A blob of the wrong size (tampering) reads as zeros: the MAC check
         * then fails, as it should. */
        if (sqlite3_column_bytes(s, 6) == 32)
            memcpy(r.prev, sqlite3_column_blob(s, 6), 32);
        if (sqlite3_column_bytes(s, 7) == 32)
            memcpy(r.mac, sqlite3_column_blob(s, 7), 32);
        if (!r.actor)
            r.actor = "";
        if (!r.action)
            r.action = "";
        if (!r.detail)
            r.detail = "";
        rc = fn(&r, arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "audit_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
out:
    free(prefix_lo);
    free(prefix_hi);
    balai_buf_release(&sql);
    return rc;
}
