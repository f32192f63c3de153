/* sqlite.c: the SQLite backend of the store (embedded default).
 *
 * DESIGN. Two connections to one database file in WAL mode:
 *  - the WRITE connection (synchronous=FULL, foreign_keys=ON, a busy
 *    timeout) is used by one thread at a time, the writer thread or the
 *    owner thread (open, exec), so it needs no lock of its own;
 *  - the READ connection (opened read-only) serves reads from any thread,
 *    serialised by `rlock`. WAL lets it read the last committed state while
 *    the writer commits.
 * Every statement is prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 * from the tables below, bound with SQLITE_STATIC (the caller's strings
 * outlive the step), and reset and unbound after each use.
 *
 * The "events" stream counter is hot (one position per event, tens of
 * thousands a second), so the write transaction caches it: read once at its
 * first use in a transaction, advanced in memory by event_insert and
 * next_pos("events"), snapshotted at each op's SAVEPOINT and restored by
 * ROLLBACK TO (a refused op consumes no position), and written back just
 * before COMMIT. Outside a write transaction the cache is empty, so the
 * stored counter is the truth (BEGIN IMMEDIATE excludes other writers).
 *
 * FILES. This file holds the connections, the statement tables, the
 * transaction control, the stream positions and the backend table; the
 * functions of the account tables are in sqlite_accounts.c, those of the room
 * tables in sqlite_rooms.c, the migrations in schema.c, and what they share
 * in sqlite_int.h. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define BUSY_TIMEOUT_MS 5000

/* The write statements (enum wstmt). */
const struct stmt_def balai__sqlite_wdefs[W__COUNT] = {
    [W_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [W_COMMIT] = {"commit", "COMMIT"},
    [W_ROLLBACK] = {"rollback", "ROLLBACK"},
    /* One savepoint per op ... */
    [W_SAVEPOINT] = {"savepoint", "SAVEPOINT op"},
    [W_RELEASE] = {"release", "RELEASE op"},
    [W_ROLLBACK_TO] = {"rollback_to", "ROLLBACK TO op"},
    /* ... and one nested in it around a txn function of several statements. */
    [W_FN_SAVEPOINT] = {"fn_savepoint", "SAVEPOINT fn"},
    [W_FN_RELEASE] = {"fn_release", "RELEASE fn"},
    [W_FN_ROLLBACK_TO] = {"fn_rollback_to", "ROLLBACK TO fn"},
    [W_USER_INSERT] = {"user_insert",
                       "INSERT INTO users (user_id, password_hash, admin, deactivated, system,"
                       " displayname, avatar_url, created_ts)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    [W_USER_SET_PASSWORD] = {"user_set_password",
                             "UPDATE users SET password_hash = ?2 WHERE user_id = ?1"},
    [W_USER_SET_DISPLAYNAME] = {"user_set_displayname",
                                "UPDATE users SET displayname = ?2 WHERE user_id = ?1"},
    [W_USER_SET_AVATAR_URL] = {"user_set_avatar_url",
                               "UPDATE users SET avatar_url = ?2 WHERE user_id = ?1"},
    [W_USER_SET_ADMIN] = {"user_set_admin", "UPDATE users SET admin = ?2 WHERE user_id = ?1"},
    [W_USER_DEACTIVATE] = {"user_deactivate",
                           "UPDATE users SET deactivated = 1, password_hash = NULL"
                           " WHERE user_id = ?1"},
    [W_USER_TOKENS_DELETE] = {"user_tokens_delete", "DELETE FROM access_tokens WHERE user_id = ?1"},
    [W_USER_DEVICES_DELETE] = {"user_devices_delete", "DELETE FROM devices WHERE user_id = ?1"},
    [W_DEVICE_UPSERT] = {"device_upsert",
                         "INSERT INTO devices (user_id, device_id, display_name, created_ts,"
                         " last_seen_ts, last_seen_ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                         " ON CONFLICT (user_id, device_id) DO UPDATE SET"
                         " display_name = coalesce(excluded.display_name, devices.display_name),"
                         " last_seen_ip = CASE WHEN excluded.last_seen_ts > devices.last_seen_ts"
                         " THEN coalesce(excluded.last_seen_ip, devices.last_seen_ip)"
                         " ELSE devices.last_seen_ip END,"
                         " last_seen_ts = max(devices.last_seen_ts, excluded.last_seen_ts)"},
    [W_DEVICE_DELETE] = {"device_delete",
                         "DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2"},
    [W_TOKEN_INSERT] = {"token_insert",
                        "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts)"
                        " VALUES (?1, ?2, ?3, ?4)"},
    [W_TOKEN_DELETE] = {"token_delete", "DELETE FROM access_tokens WHERE token_hash = ?1"},
    [W_META_SET] = {"meta_set", "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                                " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
    [W_META_DELETE] = {"meta_delete", "DELETE FROM meta WHERE key = ?1"},
    [W_NEXT_POS] = {"next_pos", "INSERT INTO stream_positions (stream, pos) VALUES (?1, 1)"
                                " ON CONFLICT (stream) DO UPDATE SET pos = stream_positions.pos + 1"
                                " RETURNING pos"},
    [W_POS_GET] = {"pos_get", "SELECT pos FROM stream_positions WHERE stream = ?1"},
    [W_POS_SET] = {"pos_set", "INSERT INTO stream_positions (stream, pos) VALUES (?1, ?2)"
                              " ON CONFLICT (stream) DO UPDATE SET pos = excluded.pos"},
    [W_ROOM_INSERT] = {"room_insert",
                       "INSERT INTO rooms (room_id, room_version, creator, is_direct, created_ts)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)"},
    [W_EVENT_INSERT] = {"event_insert",
                        "INSERT INTO events (pos, event_id, room_id, type, state_key, sender,"
                        " origin_server_ts, depth, membership, aux, txn_user, key_name, redacted,"
                        " blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                        " ?14)"},
    [W_STATE_SET] = {"state_set", "INSERT INTO current_state (room_id, type, state_key, event_pos)"
                                  " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (room_id, type, state_key)"
                                  " DO UPDATE SET event_pos = excluded.event_pos"},
    [W_TXN_INSERT] = {"txn_insert", "INSERT INTO txns (user_id, device_id, txn_id, event_id, ts)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5)"},
    [W_ALIAS_INSERT] = {"alias_insert", "INSERT INTO room_aliases (alias, room_id, creator)"
                                        " VALUES (?1, ?2, ?3)"},
    [W_ALIAS_DELETE] = {"alias_delete", "DELETE FROM room_aliases WHERE alias = ?1"},
    [W_FORGET] = {"forget", "INSERT INTO forgotten (user_id, room_id) VALUES (?1, ?2)"
                            " ON CONFLICT (user_id, room_id) DO NOTHING"},
    [W_UNFORGET] = {"unforget", "DELETE FROM forgotten WHERE user_id = ?1 AND room_id = ?2"},
    [W_EVENT_SET_BLOB] = {"event_set_blob",
                          "UPDATE events SET blob = ?2, redacted = ?3 WHERE event_id = ?1"},
    [W_ACCOUNT_DATA_SET] = {"account_data_set",
                            "INSERT INTO account_data (user_id, room_id, type, pos, key_name,"
                            " content) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                            " ON CONFLICT (user_id, room_id, type) DO UPDATE SET"
                            " pos = excluded.pos, key_name = excluded.key_name,"
                            " content = excluded.content"},
    [W_RECEIPT_SET] = {"receipt_set",
                       "INSERT INTO receipts (room_id, user_id, type, thread_id, event_id, ts, pos)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                       " ON CONFLICT (room_id, user_id, type, thread_id) DO UPDATE SET"
                       " event_id = excluded.event_id, ts = excluded.ts, pos = excluded.pos"},
    [W_ROOM_PUBLISH] = {"room_publish",
                        "INSERT INTO room_directory (room_id, published_ts) VALUES (?1, ?2)"
                        " ON CONFLICT (room_id) DO NOTHING"},
    [W_ROOM_UNPUBLISH] = {"room_unpublish", "DELETE FROM room_directory WHERE room_id = ?1"},
    [W_E2E_KEY_SET] = {"e2e_key_set",
                       "INSERT INTO e2e_keys (user_id, device_id, kind, key_id, json, used)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (user_id, device_id, kind, key_id) DO UPDATE SET"
                       " json = excluded.json, used = excluded.used"},
    [W_E2E_KEY_DELETE] = {"e2e_key_delete",
                          "DELETE FROM e2e_keys WHERE user_id = ?1 AND device_id = ?2"
                          " AND kind = ?3 AND key_id = ?4"},
    [W_RELATION_INSERT] = {"relation_insert",
                           "INSERT INTO event_relations (event_id, room_id, parent_id, rel_type,"
                           " type, sender, pos, ts, agg_hash)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
    [W_RELATION_DELETE] = {"relation_delete", "DELETE FROM event_relations WHERE event_id = ?1"},
    [W_REDACTION_SET] = {"redaction_set",
                         "INSERT INTO event_redactions (event_id, redaction_id) VALUES (?1, ?2)"
                         " ON CONFLICT (event_id) DO UPDATE SET"
                         " redaction_id = excluded.redaction_id"},
    [W_TO_DEVICE_ADD] = {"to_device_add",
                         "INSERT INTO to_device (user_id, device_id, pos, sender, type, content)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    [W_TO_DEVICE_DELETE] = {"to_device_delete",
                            "DELETE FROM to_device WHERE user_id = ?1 AND device_id = ?2"
                            " AND pos <= ?3"},
    [W_DEVICE_LIST_ADD] = {"device_list_add",
                           "INSERT INTO device_list_changes (pos, user_id) VALUES (?1, ?2)"},
    [W_E2E_DEVICE_DELETE] = {"e2e_device_delete",
                             "DELETE FROM e2e_keys WHERE user_id = ?1"
                             " AND (device_id = ?2 OR (?2 IS NULL AND device_id <> ''))"},
    [W_TO_DEVICE_DEVICE_DELETE] = {"to_device_device_delete",
                                   "DELETE FROM to_device WHERE user_id = ?1"
                                   " AND (device_id = ?2 OR ?2 IS NULL)"},
};

/* The columns of an event row, in the order event_row() (sqlite_rooms.c)
 * reads them; the
 * blob comes last so that a metadata-only query can select NULL instead. */
#define EVENT_META_COLS                                                                            \
    "e.pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.origin_server_ts, e.depth,"    \
    " e.membership, e.aux, e.txn_user, e.key_name, e.redacted"
#define EVENT_COLS EVENT_META_COLS ", e.blob"

/* The read statements (enum rstmt). */
const struct stmt_def balai__sqlite_rdefs[R__COUNT] = {
    [R_USERS] = {"users_each",
                 "SELECT user_id, password_hash, admin, deactivated, system, displayname,"
                 " avatar_url, created_ts FROM users ORDER BY user_id"},
    [R_DEVICES] = {"devices_each",
                   "SELECT user_id, device_id, display_name, created_ts, last_seen_ts,"
                   " last_seen_ip FROM devices ORDER BY user_id, device_id"},
    [R_TOKENS] = {"tokens_each", "SELECT token_hash, user_id, device_id, created_ts"
                                 " FROM access_tokens ORDER BY token_hash"},
    [R_META_GET] = {"meta_get", "SELECT value FROM meta WHERE key = ?1"},
    [R_POS_CURRENT] = {"pos_current", "SELECT pos FROM stream_positions WHERE stream = ?1"},
    [R_SCHEMA_VERSION] = {"schema_version",
                          "SELECT coalesce(max(version), 0) FROM schema_migrations"},
    [R_ROOMS] = {"rooms_each", "SELECT room_id, room_version, creator, is_direct, created_ts"
                               " FROM rooms ORDER BY room_id"},
    [R_STATE] = {"state_each", "SELECT " EVENT_COLS " FROM current_state c"
                               " JOIN events e ON e.pos = c.event_pos"
                               " ORDER BY c.room_id, c.type, c.state_key"},
    [R_ROOM_EVENTS_F] = {"room_events_f", "SELECT " EVENT_COLS " FROM events e"
                                          " WHERE e.room_id = ?1 AND e.pos > ?2 AND e.pos <= ?3"
                                          " ORDER BY e.pos LIMIT ?4"},
    [R_ROOM_EVENTS_B] = {"room_events_b", "SELECT " EVENT_COLS " FROM events e"
                                          " WHERE e.room_id = ?1 AND e.pos < ?2 AND e.pos >= ?3"
                                          " ORDER BY e.pos DESC LIMIT ?4"},
    [R_EVENTS_AFTER] = {"events_after", "SELECT " EVENT_COLS " FROM events e"
                                        " WHERE e.pos > ?1 ORDER BY e.pos LIMIT ?2"},
    /* INDEXED BY: the partial index holds only these rows; never a full scan. */
    [R_POLICY_EVENTS] = {"policy_events_each",
                         "SELECT " EVENT_META_COLS ", NULL FROM events e INDEXED BY events_policy"
                         " WHERE e.membership IS NOT NULL OR e.aux IS NOT NULL ORDER BY e.pos"},
    [R_MEMBERS_AT] = {"room_members_at",
                      "SELECT " EVENT_COLS " FROM events e"
                      " WHERE e.room_id = ?1 AND e.type = 'm.room.member' AND e.pos <= ?2"
                      " AND e.pos = (SELECT max(x.pos) FROM events x INDEXED BY events_policy"
                      " WHERE (x.membership IS NOT NULL OR x.aux IS NOT NULL)"
                      " AND x.room_id = e.room_id AND x.type = 'm.room.member'"
                      " AND x.state_key = e.state_key AND x.pos <= ?2)"
                      " ORDER BY e.state_key"},
    [R_EVENT_GET] = {"event_get", "SELECT " EVENT_COLS " FROM events e WHERE e.event_id = ?1"},
    [R_TXNS] = {"txns_each", "SELECT user_id, device_id, txn_id, event_id, ts FROM txns"
                             " WHERE ts >= ?1 ORDER BY ts"},
    [R_ALIASES] = {"aliases_each",
                   "SELECT alias, room_id, creator FROM room_aliases ORDER BY alias"},
    [R_FORGOTTEN] = {"forgotten_each",
                     "SELECT user_id, room_id FROM forgotten ORDER BY user_id, room_id"},
    [R_ACCOUNT_DATA] = {"account_data_each",
                        "SELECT user_id, room_id, type, pos, key_name, content FROM account_data"
                        " ORDER BY user_id, room_id, type"},
    [R_RECEIPTS] = {"receipts_each",
                    "SELECT room_id, user_id, type, thread_id, event_id, ts, pos FROM receipts"
                    " ORDER BY room_id, user_id, type, thread_id"},
    [R_PUBLISHED] = {"published_each",
                     "SELECT room_id, published_ts FROM room_directory ORDER BY room_id"},
    [R_E2E_KEYS] = {"e2e_keys_each",
                    "SELECT user_id, device_id, kind, key_id, json, used FROM e2e_keys"
                    " ORDER BY user_id, device_id, kind, key_id"},
    [R_RELATIONS] = {"relations_each",
                     "SELECT event_id, room_id, parent_id, rel_type, type, sender, pos, ts,"
                     " agg_hash FROM event_relations ORDER BY pos"},
    [R_REDACTIONS] = {"redactions_each",
                      "SELECT event_id, redaction_id FROM event_redactions ORDER BY event_id"},
    [R_TO_DEVICE] = {"to_device_each",
                     "SELECT user_id, device_id, pos, sender, type, content FROM to_device"
                     " ORDER BY user_id, device_id, pos"},
    [R_DEVICE_LIST_CHANGES] = {"device_list_changes",
                               "SELECT pos, user_id FROM device_list_changes WHERE pos > ?1"
                               " ORDER BY pos"},
};

/* Maps a failed step's result code to a BALAI_E*. Constraint failures are
 * expected outcomes (a taken user ID) and logged at debug level only; the
 * messages name columns, never values. */
int balai__sqlite_map_err(sqlite3 *conn, int src, const char *what)
{
    switch (src) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        LOG_DEBUG("%s: %s", what, sqlite3_errmsg(conn));
        return BALAI_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        LOG_DEBUG("%s: %s", what, sqlite3_errmsg(conn));
        return BALAI_ENOTFOUND;
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT:
        LOG_DEBUG("%s: %s", what, sqlite3_errmsg(conn));
        return BALAI_EINVAL;
    default:
        LOG_ERROR("%s: %s (%d)", what, sqlite3_errmsg(conn), src);
        return BALAI_ESTORE;
    }
}

/* Steps a write statement (already bound; `bind` is the OR of the bind
 * results) to completion. If `changes` is set, stores the number of rows the
 * statement itself changed (cascades excluded). */
int balai__sqlite_wrun(struct sqlite_db *db, enum wstmt id, int bind, int *changes)
{
    sqlite3_stmt *s = db->ws[id];
    int src, rc = BALAI_OK;

    if (bind != SQLITE_OK) {
        LOG_ERROR("%s: cannot bind: %s", balai__sqlite_wdefs[id].name, sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = balai__sqlite_map_err(db->w, src, balai__sqlite_wdefs[id].name);
        goto out;
    }
    if (changes)
        *changes = sqlite3_changes(db->w);
out:
    stmt_done(s);
    return rc;
}

/* Like balai__sqlite_wrun, then BALAI_ENOTFOUND if no row was changed. */
int balai__sqlite_wrun_one(struct sqlite_db *db, enum wstmt id, int bind)
{
    int n = 0;
    int rc = balai__sqlite_wrun(db, id, bind, &n);

    if (rc == BALAI_OK && n == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

/* Steps a write statement ending in "RETURNING <integer>" (already bound) to
 * completion and stores the returned value in *out. */
static int wrun_returning(struct sqlite_db *db, enum wstmt id, int bind, int64_t *out)
{
    sqlite3_stmt *s = db->ws[id];
    int64_t v = 0;
    int src, rc = BALAI_OK;

    if (bind != SQLITE_OK) {
        LOG_ERROR("%s: cannot bind: %s", balai__sqlite_wdefs[id].name, sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
        src = sqlite3_step(s); /* the change is made; finish the statement */
    }
    if (src != SQLITE_DONE) {
        rc = balai__sqlite_map_err(db->w, src, balai__sqlite_wdefs[id].name);
        goto out;
    }
    if (v <= 0) {
        LOG_ERROR("%s: no value returned", balai__sqlite_wdefs[id].name);
        rc = BALAI_ESTORE;
        goto out;
    }
    *out = v;
out:
    stmt_done(s);
    return rc;
}

/* Steps read statement `id` (already bound, under rlock) and calls row() for
 * each row until it returns non-zero. */
int balai__sqlite_riterate(struct sqlite_db *db, enum rstmt id, int (*row)(sqlite3_stmt *, void *),
                           void *ctx)
{
    sqlite3_stmt *s = db->rs[id];
    int src, rc = 0;

    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = row(s, ctx);
        if (rc != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, balai__sqlite_rdefs[id].name);
out:
    stmt_done(s);
    return rc;
}

/* Opens one connection with the settings common to both. */
static int open_conn(const char *path, int flags, sqlite3 **out)
{
    sqlite3 *conn = NULL;
    int src;

    *out = NULL;
    src = sqlite3_open_v2(path, &conn, flags, NULL);
    if (src != SQLITE_OK) {
        LOG_ERROR("cannot open database '%s': %s", path,
                  conn ? sqlite3_errmsg(conn) : sqlite3_errstr(src));
        sqlite3_close(conn);
        return BALAI_ESTORE;
    }
    sqlite3_extended_result_codes(conn, 1);
    sqlite3_busy_timeout(conn, BUSY_TIMEOUT_MS);
    *out = conn;
    return BALAI_OK;
}

static int exec_sql(sqlite3 *conn, const char *sql, const char *what)
{
    char *err = NULL;
    int src = sqlite3_exec(conn, sql, NULL, NULL, &err);

    if (src != SQLITE_OK) {
        LOG_ERROR("%s: %s", what, err ? err : sqlite3_errstr(src));
        sqlite3_free(err);
        return BALAI_ESTORE;
    }
    return BALAI_OK;
}

/* Runs a one-row statement (a PRAGMA, a SELECT) and returns its first column
 * as a new string (caller frees; NULL for an SQL NULL). */
static int query_text(sqlite3 *conn, const char *sql, char **out)
{
    sqlite3_stmt *s = NULL;
    int src, rc = BALAI_ESTORE;

    *out = NULL;
    src = sqlite3_prepare_v2(conn, sql, -1, &s, NULL);
    if (src != SQLITE_OK) {
        LOG_ERROR("cannot prepare '%s': %s", sql, sqlite3_errmsg(conn));
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        LOG_ERROR("'%s' returned no row: %s", sql, sqlite3_errmsg(conn));
        goto out;
    }
    *out = balai_strdup((const char *)sqlite3_column_text(s, 0));
    rc = BALAI_OK;
out:
    sqlite3_finalize(s);
    return rc;
}

/* Sets a pragma and checks that it took effect (some are silently ignored,
 * e.g. journal_mode=WAL on a file system without shared memory). */
static int set_pragma(sqlite3 *conn, const char *set, const char *get, const char *want)
{
    char *v = NULL;
    int rc;

    rc = exec_sql(conn, set, set);
    if (rc != BALAI_OK)
        goto out;
    rc = query_text(conn, get, &v);
    if (rc != BALAI_OK)
        goto out;
    if (!v || strcasecmp(v, want) != 0) {
        LOG_ERROR("'%s' did not take effect: '%s' is '%s'", set, get, v ? v : "NULL");
        rc = BALAI_ESTORE;
    }
out:
    free(v);
    return rc;
}

static int prepare_all(sqlite3 *conn, const struct stmt_def *defs, sqlite3_stmt **out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int src =
            sqlite3_prepare_v3(conn, defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT, &out[i], NULL);
        if (src != SQLITE_OK) {
            LOG_ERROR("cannot prepare '%s': %s", defs[i].name, sqlite3_errmsg(conn));
            return BALAI_ESTORE;
        }
    }
    return BALAI_OK;
}

static void finalize_all(sqlite3_stmt **s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_finalize(s[i]);
        s[i] = NULL;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Applies one migration if the database does not have it yet. The version
 * is read inside the write transaction, so two processes opening the same
 * database at once cannot both apply it. */
static int apply_migration(sqlite3 *conn, const struct balai_sqlite_migration *m)
{
    sqlite3_stmt *s = NULL;
    char *cur = NULL;
    int rc, src;

    rc = exec_sql(conn, "BEGIN IMMEDIATE", "migration begin");
    if (rc != BALAI_OK)
        return rc;
    rc = query_text(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", &cur);
    if (rc != BALAI_OK)
        goto out;
    if (atoi(cur) >= m->version)
        goto out; /* applied meanwhile by another process */
    rc = exec_sql(conn, m->sql, m->name);
    if (rc != BALAI_OK)
        goto out;
    src = sqlite3_prepare_v2(conn,
                             "INSERT INTO schema_migrations (version, name, applied_ts)"
                             " VALUES (?1, ?2, ?3)",
                             -1, &s, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_bind_int(s, 1, m->version) | sqlite3_bind_text(s, 2, m->name, -1, NULL) |
              sqlite3_bind_int64(s, 3, now_ms());
    }
    if (src == SQLITE_OK && sqlite3_step(s) != SQLITE_DONE)
        src = SQLITE_ERROR;
    if (src != SQLITE_OK) {
        LOG_ERROR("cannot record migration %d: %s", m->version, sqlite3_errmsg(conn));
        rc = BALAI_ESTORE;
        goto out;
    }
    rc = exec_sql(conn, "COMMIT", "migration commit");
    if (rc == BALAI_OK)
        LOG_INFO("applied schema migration %d: %s", m->version, m->name);
out:
    sqlite3_finalize(s);
    free(cur);
    if (!sqlite3_get_autocommit(conn))
        (void)exec_sql(conn, rc == BALAI_OK ? "COMMIT" : "ROLLBACK", "migration end");
    if (rc != BALAI_OK)
        LOG_ERROR("schema migration %d (%s) failed", m->version, m->name);
    return rc;
}

static int migrate(sqlite3 *conn)
{
    const size_t n = balai_sqlite_migrations_len;
    char *cur = NULL;
    int rc, have;

    rc = exec_sql(conn,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version INTEGER PRIMARY KEY NOT NULL,"
                  " name TEXT NOT NULL,"
                  " applied_ts INTEGER NOT NULL)",
                  "create schema_migrations");
    if (rc != BALAI_OK)
        goto out;
    rc = query_text(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", &cur);
    if (rc != BALAI_OK)
        goto out;
    have = atoi(cur);
    if (have > balai_sqlite_migrations[n - 1].version) {
        LOG_ERROR("database schema version %d is newer than this build's %d; refusing to open",
                  have, balai_sqlite_migrations[n - 1].version);
        rc = BALAI_ESTORE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct balai_sqlite_migration *m = &balai_sqlite_migrations[i];

        if (m->version != (int)i + 1) {
            LOG_ERROR("schema migration %zu is numbered %d", i + 1, m->version);
            rc = BALAI_ESTORE;
            goto out;
        }
        if (m->version <= have)
            continue;
        rc = apply_migration(conn, m);
        if (rc != BALAI_OK)
            goto out;
    }
out:
    free(cur);
    return rc;
}

/* Creates the database file with mode 0600 if absent: it holds password and
 * token hashes. SQLite gives the -wal and -shm files the same mode. */
static int create_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        LOG_ERROR("cannot open database '%s': %s", path, strerror(errno));
        return BALAI_ESTORE;
    }
    close(fd);
    return BALAI_OK;
}

static void sqlite_close(void *p)
{
    struct sqlite_db *db = p;

    if (!db)
        return;
    /* The reader first: the last connection to close checkpoints the WAL. */
    finalize_all(db->rs, R__COUNT);
    if (sqlite3_close(db->r) != SQLITE_OK)
        LOG_WARN("closing the read connection: %s", sqlite3_errmsg(db->r));
    finalize_all(db->ws, W__COUNT);
    if (sqlite3_close(db->w) != SQLITE_OK)
        LOG_WARN("closing the write connection: %s", sqlite3_errmsg(db->w));
    pthread_mutex_destroy(&db->rlock);
    free(db);
}

static int sqlite_open(const char *path, void **out)
{
    struct sqlite_db *db = NULL;
    int rc;

    *out = NULL;
    if (!sqlite3_threadsafe()) {
        LOG_ERROR("the SQLite library is built without thread support");
        return BALAI_ESTORE;
    }
    rc = create_file(path);
    if (rc != BALAI_OK)
        return rc;
    db = balai_calloc(1, sizeof(*db));
    pthread_mutex_init(&db->rlock, NULL);

    rc = open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db->w);
    if (rc != BALAI_OK)
        goto out;
    rc = set_pragma(db->w, "PRAGMA journal_mode = WAL", "PRAGMA journal_mode", "wal");
    if (rc != BALAI_OK)
        goto out;
    rc = set_pragma(db->w, "PRAGMA synchronous = FULL", "PRAGMA synchronous", "2");
    if (rc != BALAI_OK)
        goto out;
    rc = set_pragma(db->w, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", "1");
    if (rc != BALAI_OK)
        goto out;
    /* Deleted or replaced content (a redacted event's sealed original) is
     * overwritten with zeros in the database file, not left in free pages. */
    rc = set_pragma(db->w, "PRAGMA secure_delete = ON", "PRAGMA secure_delete", "1");
    if (rc != BALAI_OK)
        goto out;
    rc = migrate(db->w);
    if (rc != BALAI_OK)
        goto out;
    rc = prepare_all(db->w, balai__sqlite_wdefs, db->ws, W__COUNT);
    if (rc != BALAI_OK)
        goto out;

    rc = open_conn(path, SQLITE_OPEN_READONLY, &db->r);
    if (rc != BALAI_OK)
        goto out;
    rc = prepare_all(db->r, balai__sqlite_rdefs, db->rs, R__COUNT);
    if (rc != BALAI_OK)
        goto out;
    *out = db;
    db = NULL;
out:
    sqlite_close(db);
    return rc;
}

/* Transaction control. */

static int sqlite_begin(void *p)
{
    struct sqlite_db *db = p;

    db->ev = (struct pos_cache){0};
    return balai__sqlite_wrun(db, W_BEGIN, SQLITE_OK, NULL);
}

static int sqlite_savepoint(void *p)
{
    struct sqlite_db *db = p;

    /* Outside a transaction, SAVEPOINT would open one that RELEASE commits. */
    if (sqlite3_get_autocommit(db->w)) {
        LOG_ERROR("savepoint: no transaction is open");
        return BALAI_ESTORE;
    }
    db->ev_at_op = db->ev;
    return balai__sqlite_wrun(db, W_SAVEPOINT, SQLITE_OK, NULL);
}

static int sqlite_release(void *p)
{
    return balai__sqlite_wrun(p, W_RELEASE, SQLITE_OK, NULL);
}

static int sqlite_rollback_to(void *p)
{
    struct sqlite_db *db = p;
    int rc = balai__sqlite_wrun(db, W_ROLLBACK_TO, SQLITE_OK, NULL);

    if (rc == BALAI_OK)
        db->ev = db->ev_at_op;
    return rc;
}

static int sqlite_commit(void *p)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_POS_SET];
    int rc;

    if (db->ev.dirty) {
        rc = balai__sqlite_wrun(
            db, W_POS_SET, bind_text(s, 1, EVENTS_STREAM) | sqlite3_bind_int64(s, 2, db->ev.last),
            NULL);
        if (rc != BALAI_OK)
            return rc; /* the caller rolls back */
    }
    rc = balai__sqlite_wrun(db, W_COMMIT, SQLITE_OK, NULL);
    if (rc == BALAI_OK)
        db->ev = (struct pos_cache){0};
    return rc;
}

static int sqlite_rollback(void *p)
{
    struct sqlite_db *db = p;

    db->ev = (struct pos_cache){0};
    if (sqlite3_get_autocommit(db->w))
        return BALAI_OK; /* SQLite already rolled the transaction back */
    return balai__sqlite_wrun(db, W_ROLLBACK, SQLITE_OK, NULL);
}

/* Stream positions. */

/* Loads the cached "events" counter if this transaction has not yet, and
 * stores the next position in *out without allocating it. */
int balai__sqlite_events_pos_peek(struct sqlite_db *db, int64_t *out)
{
    sqlite3_stmt *s = db->ws[W_POS_GET];
    int src, rc = BALAI_OK;

    if (db->ev.loaded)
        goto out;
    if (sqlite3_get_autocommit(db->w)) {
        LOG_ERROR("events position: no transaction is open");
        return BALAI_ESTORE;
    }
    if (bind_text(s, 1, EVENTS_STREAM) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto reset;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = balai__sqlite_map_err(db->w, src, balai__sqlite_wdefs[W_POS_GET].name);
        goto reset;
    }
    db->ev.last = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    db->ev.loaded = true;
reset:
    stmt_done(s);
    if (rc != BALAI_OK)
        return rc;
out:
    *out = db->ev.last + 1;
    return BALAI_OK;
}

/* Marks the position returned by balai__sqlite_events_pos_peek as allocated. */
void balai__sqlite_events_pos_take(struct sqlite_db *db, int64_t pos)
{
    db->ev.last = pos;
    db->ev.dirty = true;
}

static int sqlite_next_pos(void *p, const char *stream, int64_t *out)
{
    struct sqlite_db *db = p;
    int64_t pos;
    int rc;

    if (stream && strcmp(stream, EVENTS_STREAM) == 0) {
        rc = balai__sqlite_events_pos_peek(db, &pos);
        if (rc == BALAI_OK) {
            balai__sqlite_events_pos_take(db, pos);
            *out = pos;
        }
        return rc;
    }
    return wrun_returning(db, W_NEXT_POS, bind_text(db->ws[W_NEXT_POS], 1, stream), out);
}

static int64_t sqlite_pos_current(void *p, const char *stream)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->rs[R_POS_CURRENT];
    int64_t pos = 0;
    int src;

    pthread_mutex_lock(&db->rlock);
    if (bind_text(s, 1, stream) != SQLITE_OK) {
        pos = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        pos = sqlite3_column_int64(s, 0);
    else if (src != SQLITE_DONE)
        pos = balai__sqlite_map_err(db->r, src, balai__sqlite_rdefs[R_POS_CURRENT].name);
out:
    stmt_done(s);
    pthread_mutex_unlock(&db->rlock);
    return pos;
}

static int sqlite_schema_version(void *p, int *out)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->rs[R_SCHEMA_VERSION];
    int src, rc = BALAI_OK;

    pthread_mutex_lock(&db->rlock);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int(s, 0);
    else
        rc = balai__sqlite_map_err(db->r, src, balai__sqlite_rdefs[R_SCHEMA_VERSION].name);
    stmt_done(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

/* Settings, for tests and diagnostics: the pragmas open sets. */
static int sqlite_debug_setting(void *p, const char *name, char **out)
{
    static const char *const allowed[] = {"journal_mode", "synchronous", "foreign_keys",
                                          "busy_timeout", "secure_delete"};
    struct sqlite_db *db = p;
    char *sql;
    int rc;

    *out = NULL;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(allowed); i++) {
        if (strcmp(name, allowed[i]) == 0)
            goto found;
    }
    return BALAI_EINVAL;
found:
    sql = balai_asprintf("PRAGMA %s", name);
    rc = query_text(db->w, sql, out);
    free(sql);
    return rc;
}

const struct balai_store_backend balai_store_sqlite_backend = {
    .abi = BALAI_STORE_BACKEND_ABI,
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin = sqlite_begin,
    .savepoint = sqlite_savepoint,
    .release = sqlite_release,
    .rollback_to = sqlite_rollback_to,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .user_insert = balai__sqlite_user_insert,
    .user_set_password = balai__sqlite_user_set_password,
    .user_set_displayname = balai__sqlite_user_set_displayname,
    .user_set_avatar_url = balai__sqlite_user_set_avatar_url,
    .user_set_admin = balai__sqlite_user_set_admin,
    .user_deactivate = balai__sqlite_user_deactivate,
    .device_upsert = balai__sqlite_device_upsert,
    .device_delete = balai__sqlite_device_delete,
    .token_insert = balai__sqlite_token_insert,
    .token_delete = balai__sqlite_token_delete,
    .meta_set = balai__sqlite_meta_set,
    .next_pos = sqlite_next_pos,
    .room_insert = balai__sqlite_room_insert,
    .event_insert = balai__sqlite_event_insert,
    .state_set = balai__sqlite_state_set,
    .txn_insert = balai__sqlite_txn_insert,
    .alias_insert = balai__sqlite_alias_insert,
    .alias_delete = balai__sqlite_alias_delete,
    .forget = balai__sqlite_forget,
    .unforget = balai__sqlite_unforget,
    .event_set_blob = balai__sqlite_event_set_blob,
    .users_each = balai__sqlite_users_each,
    .devices_each = balai__sqlite_devices_each,
    .tokens_each = balai__sqlite_tokens_each,
    .meta_get = balai__sqlite_meta_get,
    .pos_current = sqlite_pos_current,
    .schema_version = sqlite_schema_version,
    .rooms_each = balai__sqlite_rooms_each,
    .state_each = balai__sqlite_state_each,
    .room_events = balai__sqlite_room_events,
    .events_after = balai__sqlite_events_after,
    .policy_events_each = balai__sqlite_policy_events_each,
    .room_members_at = balai__sqlite_room_members_at,
    .event_get = balai__sqlite_event_get,
    .txns_each = balai__sqlite_txns_each,
    .aliases_each = balai__sqlite_aliases_each,
    .forgotten_each = balai__sqlite_forgotten_each,
    .account_data_set = balai__sqlite_account_data_set,
    .account_data_each = balai__sqlite_account_data_each,
    .receipt_set = balai__sqlite_receipt_set,
    .receipts_each = balai__sqlite_receipts_each,
    .room_publish = balai__sqlite_room_publish,
    .published_each = balai__sqlite_published_each,
    .e2e_key_set = balai__sqlite_e2e_key_set,
    .e2e_key_delete = balai__sqlite_e2e_key_delete,
    .e2e_keys_each = balai__sqlite_e2e_keys_each,
    .to_device_add = balai__sqlite_to_device_add,
    .to_device_delete = balai__sqlite_to_device_delete,
    .to_device_each = balai__sqlite_to_device_each,
    .device_list_add = balai__sqlite_device_list_add,
    .device_data_delete = balai__sqlite_device_data_delete,
    .device_list_changes = balai__sqlite_device_list_changes,
    .relation_insert = balai__sqlite_relation_insert,
    .relation_delete = balai__sqlite_relation_delete,
    .redaction_set = balai__sqlite_redaction_set,
    .relations_each = balai__sqlite_relations_each,
    .redactions_each = balai__sqlite_redactions_each,
    .org_person_set = balai__sqlite_org_person_set,
    .org_unit_set = balai__sqlite_org_unit_set,
    .org_unit_delete = balai__sqlite_org_unit_delete,
    .org_people_each = balai__sqlite_org_people_each,
    .org_units_each = balai__sqlite_org_units_each,
    .audit_append = balai__sqlite_audit_append,
    .audit_tail = balai__sqlite_audit_tail,
    .audit_each = balai__sqlite_audit_each,
    .dlp_incident_add = balai__sqlite_dlp_incident_add,
    .dlp_incidents_each = balai__sqlite_dlp_incidents_each,
    .dlp_held_add = balai__sqlite_dlp_held_add,
    .dlp_held_delete = balai__sqlite_dlp_held_delete,
    .dlp_held_each = balai__sqlite_dlp_held_each,
    .report_add = balai__sqlite_report_add,
    .report_close = balai__sqlite_report_close,
    .reports_each = balai__sqlite_reports_each,
    .suspension_set = balai__sqlite_suspension_set,
    .suspensions_each = balai__sqlite_suspensions_each,
    .dlp_setting_set = balai__sqlite_dlp_setting_set,
    .dlp_settings_each = balai__sqlite_dlp_settings_each,
    .scim_token_add = balai__sqlite_scim_token_add,
    .scim_token_delete = balai__sqlite_scim_token_delete,
    .scim_user_set = balai__sqlite_scim_user_set,
    .scim_group_set = balai__sqlite_scim_group_set,
    .scim_group_delete = balai__sqlite_scim_group_delete,
    .scim_member_set = balai__sqlite_scim_member_set,
    .scim_member_remove_all = balai__sqlite_scim_member_remove_all,
    .scim_tokens_each = balai__sqlite_scim_tokens_each,
    .scim_users_each = balai__sqlite_scim_users_each,
    .scim_groups_each = balai__sqlite_scim_groups_each,
    .scim_members_each = balai__sqlite_scim_members_each,
    .rule_set = balai__sqlite_rule_set,
    .rule_delete = balai__sqlite_rule_delete,
    .rules_each = balai__sqlite_rules_each,
    .rule_member_set = balai__sqlite_rule_member_set,
    .rule_members_each = balai__sqlite_rule_members_each,
    .offboarding_add = balai__sqlite_offboarding_add,
    .offboarding_close = balai__sqlite_offboarding_close,
    .offboardings_each = balai__sqlite_offboardings_each,
    .user_reactivate = balai__sqlite_user_reactivate,
    .copy_tables = balai__sqlite_copy_tables,
    .copy_rows = balai__sqlite_copy_rows,
    .copy_load = balai__sqlite_copy_load,
    .copy_finish = balai__sqlite_copy_finish,
    .unavailable = balai__sqlite_unavailable,
    .debug_setting = sqlite_debug_setting,
    .events_per_day = balai__sqlite_events_per_day,
};

int balai__sqlite_prepare_sql(sqlite3 *conn, const char *sql, const char *what, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(conn, sql, -1, out, NULL) != SQLITE_OK) {
        LOG_ERROR("%s: cannot prepare: %s", what, sqlite3_errmsg(conn));
        *out = NULL;
        return BALAI_ESTORE;
    }
    return BALAI_OK;
}

int balai__sqlite_riterate_sql(struct sqlite_db *db, const char *sql, const char *what,
                               int (*row)(sqlite3_stmt *, void *), void *ctx)
{
    sqlite3_stmt *s = NULL;
    int rc, src;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_prepare_sql(db->r, sql, what, &s);
    if (rc != BALAI_OK)
        goto out;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = row(s, ctx);
        if (rc)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, what);
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
