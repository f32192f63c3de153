/* sqlite_dlp.c: the SQLite backend's functions for DLP and moderation
 * (migration 12): dlp_incidents, dlp_held, mod_reports, user_suspensions and
 * dlp_settings. These writes and reads are rare (a message a DLP rule acts
 * on, an admin action), so statements are prepared per call, like
 * sqlite_audit.c; filtered queries are built from the filters given. */
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

static int prepare(sqlite3 *conn, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(conn, sql, -1, out, NULL) != SQLITE_OK) {
        LOG_ERROR("dlp: cannot prepare a statement: %s", sqlite3_errmsg(conn));
        return BALAI_ESTORE;
    }
    return BALAI_OK;
}

/* Steps a bound write statement to completion; *changes (if set) gets the
 * rows changed. */
static int wstep(struct sqlite_db *db, sqlite3_stmt *s, int bind, const char *what, int *changes)
{
    int rc = BALAI_OK, src;

    if (bind != SQLITE_OK)
        return BALAI_ESTORE;
    src = sqlite3_step(s);
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->w, src, what);
    else if (changes)
        *changes = sqlite3_changes(db->w);
    return rc;
}

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

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* ---- incidents ---- */

int balai__sqlite_dlp_incident_add(void *p, struct balai_dlp_incident_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc;

    if (!r->user_id || !r->label || !r->action || !r->outcome || !r->types || !r->findings)
        return BALAI_EINVAL;
    rc = prepare(db->w,
                 "INSERT INTO dlp_incidents (ts, room_id, event_id, user_id, label, action, "
                 "outcome, types, findings) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s,
               sqlite3_bind_int64(s, 1, r->ts) | bind_text(s, 2, r->room_id) |
                   bind_text(s, 3, r->event_id) | bind_text(s, 4, r->user_id) |
                   bind_text(s, 5, r->label) | bind_text(s, 6, r->action) |
                   bind_text(s, 7, r->outcome) | bind_text(s, 8, r->types) |
                   bind_text(s, 9, r->findings),
               "dlp_incident_add", NULL);
    if (rc == BALAI_OK)
        r->id = sqlite3_last_insert_rowid(db->w);
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_dlp_incidents_each(void *p, const struct balai_dlp_incident_query *q,
                                     int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                     void *arg)
{
    struct sqlite_db *db = p;
    struct balai_buf sql;
    sqlite3_stmt *s = NULL;
    char *typepat = NULL;
    int rc, src;

    balai_buf_init(&sql, 0);
    balai_buf_append_str(&sql, "SELECT id, ts, room_id, event_id, user_id, label, action, outcome, "
                               "types, findings FROM dlp_incidents WHERE 1");
    if (q->label)
        balai_buf_append_str(&sql, " AND label = :label");
    if (q->type)
        balai_buf_append_str(&sql, " AND instr(types, :type) > 0");
    if (q->room_id)
        balai_buf_append_str(&sql, " AND room_id = :room");
    if (q->user_id)
        balai_buf_append_str(&sql, " AND user_id = :user");
    if (q->action)
        balai_buf_append_str(&sql, " AND action = :action");
    if (q->since > 0)
        balai_buf_append_str(&sql, " AND ts >= :since");
    if (q->until > 0)
        balai_buf_append_str(&sql, " AND ts <= :until");
    if (q->from > 0)
        balai_buf_append_str(&sql, " AND id < :from");
    balai_buf_append_str(&sql, " ORDER BY id DESC LIMIT :limit");
    if (q->type) {
        size_t n = strlen(q->type);
        typepat = malloc(n + 3);
        if (!typepat) {
            balai_buf_release(&sql);
            return BALAI_ENOMEM;
        }
        typepat[0] = ',';
        memcpy(typepat + 1, q->type, n);
        typepat[n + 1] = ',';
        typepat[n + 2] = '\0';
    }

    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r, sql.data, &s);
    if (rc != BALAI_OK)
        goto unlock;
    src = bind_named_text(s, ":label", q->label) | bind_named_text(s, ":type", typepat) |
          bind_named_text(s, ":room", q->room_id) | bind_named_text(s, ":user", q->user_id) |
          bind_named_text(s, ":action", q->action) | bind_named_int(s, ":since", q->since) |
          bind_named_int(s, ":until", q->until) | bind_named_int(s, ":from", q->from) |
          bind_named_int(s, ":limit", q->limit > 0 ? q->limit : -1);
    if (src != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto unlock;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct balai_dlp_incident_rec r = {
            .id = sqlite3_column_int64(s, 0),
            .ts = sqlite3_column_int64(s, 1),
            .room_id = col_text(s, 2),
            .event_id = col_text(s, 3),
            .user_id = nz(col_text(s, 4)),
            .label = nz(col_text(s, 5)),
            .action = nz(col_text(s, 6)),
            .outcome = nz(col_text(s, 7)),
            .types = nz(col_text(s, 8)),
            .findings = nz(col_text(s, 9)),
        };
        rc = fn(&r, arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "dlp_incidents_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    free(typepat);
    balai_buf_release(&sql);
    return rc;
}

/* ---- held messages ---- */

int balai__sqlite_dlp_held_add(void *p, const struct balai_dlp_held_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc;

    if (!r->held_id || !r->room_id || !r->user_id || !r->type || !r->label || !r->findings ||
        !r->key_name || !r->blob)
        return BALAI_EINVAL;
    rc = prepare(db->w,
                 "INSERT INTO dlp_held (held_id, ts, room_id, user_id, type, label, findings, "
                 "key_name, blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s,
               bind_text(s, 1, r->held_id) | sqlite3_bind_int64(s, 2, r->ts) |
                   bind_text(s, 3, r->room_id) | bind_text(s, 4, r->user_id) |
                   bind_text(s, 5, r->type) | bind_text(s, 6, r->label) |
                   bind_text(s, 7, r->findings) | bind_text(s, 8, r->key_name) |
                   sqlite3_bind_blob(s, 9, r->blob, (int)r->blob_len, SQLITE_STATIC),
               "dlp_held_add", NULL);
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_dlp_held_delete(void *p, const char *held_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int changes = 0, rc;

    rc = prepare(db->w, "DELETE FROM dlp_held WHERE held_id = ?1", &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s, bind_text(s, 1, held_id), "dlp_held_delete", &changes);
    sqlite3_finalize(s);
    if (rc == BALAI_OK && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__sqlite_dlp_held_each(void *p, const char *held_id,
                                int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc, src;

    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r,
                 held_id ? "SELECT held_id, ts, room_id, user_id, type, label, findings, key_name, "
                           "blob FROM dlp_held WHERE held_id = ?1"
                         : "SELECT held_id, ts, room_id, user_id, type, label, findings, key_name, "
                           "blob FROM dlp_held ORDER BY ts, held_id",
                 &s);
    if (rc != BALAI_OK)
        goto unlock;
    if (held_id && bind_text(s, 1, held_id) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto unlock;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct balai_dlp_held_rec r = {
            .held_id = nz(col_text(s, 0)),
            .ts = sqlite3_column_int64(s, 1),
            .room_id = nz(col_text(s, 2)),
            .user_id = nz(col_text(s, 3)),
            .type = nz(col_text(s, 4)),
            .label = nz(col_text(s, 5)),
            .findings = nz(col_text(s, 6)),
            .key_name = nz(col_text(s, 7)),
            .blob = sqlite3_column_blob(s, 8),
            .blob_len = (size_t)sqlite3_column_bytes(s, 8),
        };
        rc = fn(&r, arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "dlp_held_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

/* ---- reports ---- */

int balai__sqlite_report_add(void *p, struct balai_report_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc;

    if (!r->room_id || !r->event_id || !r->reporter)
        return BALAI_EINVAL;
    rc = prepare(db->w,
                 "INSERT INTO mod_reports (ts, room_id, event_id, reporter, reason, score) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s,
               sqlite3_bind_int64(s, 1, r->ts) | bind_text(s, 2, r->room_id) |
                   bind_text(s, 3, r->event_id) | bind_text(s, 4, r->reporter) |
                   bind_text(s, 5, r->reason) |
                   (r->has_score ? sqlite3_bind_int64(s, 6, r->score) : sqlite3_bind_null(s, 6)),
               "report_add", NULL);
    if (rc == BALAI_OK)
        r->id = sqlite3_last_insert_rowid(db->w);
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_report_close(void *p, int64_t id, const char *status, const char *by,
                               const char *note, int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int changes = 0, rc;

    rc = prepare(db->w,
                 "UPDATE mod_reports SET status = ?2, resolved_by = ?3, note = ?4, "
                 "resolved_ts = ?5 WHERE id = ?1 AND status = 'open'",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s,
               sqlite3_bind_int64(s, 1, id) | bind_text(s, 2, status) | bind_text(s, 3, by) |
                   bind_text(s, 4, note) | sqlite3_bind_int64(s, 5, ts),
               "report_close", &changes);
    sqlite3_finalize(s);
    if (rc == BALAI_OK && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__sqlite_reports_each(void *p, const char *status, int64_t id, int limit,
                               int (*fn)(const struct balai_report_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct balai_buf sql;
    sqlite3_stmt *s = NULL;
    int rc, src;

    balai_buf_init(&sql, 0);
    balai_buf_append_str(&sql, "SELECT id, ts, room_id, event_id, reporter, reason, score, status, "
                               "resolved_by, resolved_ts, note FROM mod_reports WHERE 1");
    if (status)
        balai_buf_append_str(&sql, " AND status = :status");
    if (id > 0)
        balai_buf_append_str(&sql, " AND id = :id");
    balai_buf_append_str(&sql, " ORDER BY id DESC LIMIT :limit");
    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r, sql.data, &s);
    if (rc != BALAI_OK)
        goto unlock;
    if ((bind_named_text(s, ":status", status) | bind_named_int(s, ":id", id) |
         bind_named_int(s, ":limit", limit > 0 ? limit : -1)) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto unlock;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct balai_report_rec r = {
            .id = sqlite3_column_int64(s, 0),
            .ts = sqlite3_column_int64(s, 1),
            .room_id = nz(col_text(s, 2)),
            .event_id = nz(col_text(s, 3)),
            .reporter = nz(col_text(s, 4)),
            .reason = col_text(s, 5),
            .has_score = sqlite3_column_type(s, 6) != SQLITE_NULL,
            .score = sqlite3_column_int64(s, 6),
            .status = nz(col_text(s, 7)),
            .resolved_by = col_text(s, 8),
            .resolved_ts = sqlite3_column_int64(s, 9),
            .note = col_text(s, 10),
        };
        rc = fn(&r, arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "reports_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    balai_buf_release(&sql);
    return rc;
}

/* ---- suspensions ---- */

int balai__sqlite_suspension_set(void *p, const char *user_id, int suspended, const char *actor,
                                 int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc;

    if (!user_id || !actor)
        return BALAI_EINVAL;
    rc =
        prepare(db->w,
                suspended ? "INSERT INTO user_suspensions (user_id, ts, actor) VALUES (?1, ?2, ?3) "
                            "ON CONFLICT (user_id) DO NOTHING"
                          : "DELETE FROM user_suspensions WHERE user_id = ?1",
                &s);
    if (rc != BALAI_OK)
        return rc;
    int bind = bind_text(s, 1, user_id);
    if (suspended)
        bind |= sqlite3_bind_int64(s, 2, ts) | bind_text(s, 3, actor);
    rc = wstep(db, s, bind, "suspension_set", NULL);
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_suspensions_each(void *p, int (*fn)(const char *, int64_t, const char *, void *),
                                   void *arg)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc, src;

    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r, "SELECT user_id, ts, actor FROM user_suspensions ORDER BY user_id", &s);
    if (rc != BALAI_OK)
        goto unlock;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(nz(col_text(s, 0)), sqlite3_column_int64(s, 1), nz(col_text(s, 2)), arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "suspensions_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

/* ---- settings ---- */

int balai__sqlite_dlp_setting_set(void *p, const char *kind, const char *name, const char *value,
                                  int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int changes = 0, rc;

    if (!kind || !name)
        return BALAI_EINVAL;
    rc = prepare(db->w,
                 value ? "INSERT INTO dlp_settings (kind, name, value, updated_ts) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, name) DO UPDATE SET "
                         "value = excluded.value, updated_ts = excluded.updated_ts"
                       : "DELETE FROM dlp_settings WHERE kind = ?1 AND name = ?2",
                 &s);
    if (rc != BALAI_OK)
        return rc;
    int bind = bind_text(s, 1, kind) | bind_text(s, 2, name);
    if (value)
        bind |= bind_text(s, 3, value) | sqlite3_bind_int64(s, 4, ts);
    rc = wstep(db, s, bind, "dlp_setting_set", &changes);
    sqlite3_finalize(s);
    if (rc == BALAI_OK && !value && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__sqlite_dlp_settings_each(
    void *p, int (*fn)(const char *, const char *, const char *, int64_t, void *), void *arg)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc, src;

    pthread_mutex_lock(&db->rlock);
    rc = prepare(db->r,
                 "SELECT kind, name, value, updated_ts FROM dlp_settings ORDER BY kind, name", &s);
    if (rc != BALAI_OK)
        goto unlock;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(nz(col_text(s, 0)), nz(col_text(s, 1)), nz(col_text(s, 2)),
                sqlite3_column_int64(s, 3), arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "dlp_settings_each");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
