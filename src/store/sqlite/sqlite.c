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
 * stored counter is the truth (BEGIN IMMEDIATE excludes other writers). */
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

struct stmt_def {
    const char *name; /* for logs */
    const char *sql;
};

/* Statements of the write connection. */
enum wstmt {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVEPOINT,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_FN_SAVEPOINT,
    W_FN_RELEASE,
    W_FN_ROLLBACK_TO,
    W_USER_INSERT,
    W_USER_SET_PASSWORD,
    W_USER_SET_DISPLAYNAME,
    W_USER_SET_AVATAR_URL,
    W_USER_SET_ADMIN,
    W_USER_DEACTIVATE,
    W_USER_TOKENS_DELETE,
    W_USER_DEVICES_DELETE,
    W_DEVICE_UPSERT,
    W_DEVICE_DELETE,
    W_TOKEN_INSERT,
    W_TOKEN_DELETE,
    W_META_SET,
    W_META_DELETE,
    W_NEXT_POS,
    W_POS_GET,
    W_POS_SET,
    W_ROOM_INSERT,
    W_EVENT_INSERT,
    W_STATE_SET,
    W_TXN_INSERT,
    W_ALIAS_INSERT,
    W_ALIAS_DELETE,
    W_FORGET,
    W_UNFORGET,
    W_EVENT_SET_BLOB,
    W__COUNT
};

static const struct stmt_def wdefs[W__COUNT] = {
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
};

/* Statements of the read connection. */
enum rstmt {
    R_USERS,
    R_DEVICES,
    R_TOKENS,
    R_META_GET,
    R_POS_CURRENT,
    R_SCHEMA_VERSION,
    R_ROOMS,
    R_STATE,
    R_ROOM_EVENTS_F,
    R_ROOM_EVENTS_B,
    R_EVENTS_AFTER,
    R_POLICY_EVENTS,
    R_MEMBERS_AT,
    R_EVENT_GET,
    R_TXNS,
    R_ALIASES,
    R_FORGOTTEN,
    R__COUNT
};

/* The columns of an event row, in the order event_row() reads them; the
 * blob comes last so that a metadata-only query can select NULL instead. */
#define EVENT_META_COLS                                                                            \
    "e.pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.origin_server_ts, e.depth,"    \
    " e.membership, e.aux, e.txn_user, e.key_name, e.redacted"
#define EVENT_COLS EVENT_META_COLS ", e.blob"

static const struct stmt_def rdefs[R__COUNT] = {
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
};

#define EVENTS_STREAM "events"

/* The cached "events" counter of the open write transaction. */
struct pos_cache {
    bool loaded;  /* cur holds the counter as of this transaction */
    bool dirty;   /* cur is ahead of the stored counter */
    int64_t last; /* the last position allocated (0 = none ever) */
};

struct sqlite_db {
    sqlite3 *w;
    sqlite3_stmt *ws[W__COUNT];
    struct pos_cache ev, ev_at_op; /* write thread; ev_at_op: as at SAVEPOINT op */
    pthread_mutex_t rlock;         /* guards r and rs */
    sqlite3 *r;
    sqlite3_stmt *rs[R__COUNT];
};

/* Maps a failed step's result code to a BALAI_E*. Constraint failures are
 * expected outcomes (a taken user ID) and logged at debug level only; the
 * messages name columns, never values. */
static int map_err(sqlite3 *conn, int src, const char *what)
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

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Steps a write statement (already bound; `bind` is the OR of the bind
 * results) to completion. If `changes` is set, stores the number of rows the
 * statement itself changed (cascades excluded). */
static int wrun(struct sqlite_db *db, enum wstmt id, int bind, int *changes)
{
    sqlite3_stmt *s = db->ws[id];
    int src, rc = BALAI_OK;

    if (bind != SQLITE_OK) {
        LOG_ERROR("%s: cannot bind: %s", wdefs[id].name, sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = map_err(db->w, src, wdefs[id].name);
        goto out;
    }
    if (changes)
        *changes = sqlite3_changes(db->w);
out:
    stmt_done(s);
    return rc;
}

/* Like wrun, then BALAI_ENOTFOUND if no row was changed. */
static int wrun_one(struct sqlite_db *db, enum wstmt id, int bind)
{
    int n = 0;
    int rc = wrun(db, id, bind, &n);

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
        LOG_ERROR("%s: cannot bind: %s", wdefs[id].name, sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
        src = sqlite3_step(s); /* the change is made; finish the statement */
    }
    if (src != SQLITE_DONE) {
        rc = map_err(db->w, src, wdefs[id].name);
        goto out;
    }
    if (v <= 0) {
        LOG_ERROR("%s: no value returned", wdefs[id].name);
        rc = BALAI_ESTORE;
        goto out;
    }
    *out = v;
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
    rc = migrate(db->w);
    if (rc != BALAI_OK)
        goto out;
    rc = prepare_all(db->w, wdefs, db->ws, W__COUNT);
    if (rc != BALAI_OK)
        goto out;

    rc = open_conn(path, SQLITE_OPEN_READONLY, &db->r);
    if (rc != BALAI_OK)
        goto out;
    rc = prepare_all(db->r, rdefs, db->rs, R__COUNT);
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
    return wrun(db, W_BEGIN, SQLITE_OK, NULL);
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
    return wrun(db, W_SAVEPOINT, SQLITE_OK, NULL);
}

static int sqlite_release(void *p)
{
    return wrun(p, W_RELEASE, SQLITE_OK, NULL);
}

static int sqlite_rollback_to(void *p)
{
    struct sqlite_db *db = p;
    int rc = wrun(db, W_ROLLBACK_TO, SQLITE_OK, NULL);

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
        rc = wrun(db, W_POS_SET,
                  bind_text(s, 1, EVENTS_STREAM) | sqlite3_bind_int64(s, 2, db->ev.last), NULL);
        if (rc != BALAI_OK)
            return rc; /* the caller rolls back */
    }
    rc = wrun(db, W_COMMIT, SQLITE_OK, NULL);
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
    return wrun(db, W_ROLLBACK, SQLITE_OK, NULL);
}

/* Writes. */

static int sqlite_user_insert(void *p, const struct balai_user_rec *u)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_USER_INSERT];
    int b;

    b = bind_text(s, 1, u->user_id) | bind_text(s, 2, u->password_hash) |
        sqlite3_bind_int(s, 3, u->admin != 0) | sqlite3_bind_int(s, 4, u->deactivated != 0) |
        sqlite3_bind_int(s, 5, u->system != 0) | bind_text(s, 6, u->displayname) |
        bind_text(s, 7, u->avatar_url) | sqlite3_bind_int64(s, 8, u->created_ts);
    return wrun(db, W_USER_INSERT, b, NULL);
}

static int update_user_text(struct sqlite_db *db, enum wstmt id, const char *user_id, const char *v)
{
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, v);

    return wrun_one(db, id, b);
}

static int sqlite_user_set_password(void *p, const char *user_id, const char *hash)
{
    return update_user_text(p, W_USER_SET_PASSWORD, user_id, hash);
}

static int sqlite_user_set_displayname(void *p, const char *user_id, const char *v)
{
    return update_user_text(p, W_USER_SET_DISPLAYNAME, user_id, v);
}

static int sqlite_user_set_avatar_url(void *p, const char *user_id, const char *v)
{
    return update_user_text(p, W_USER_SET_AVATAR_URL, user_id, v);
}

static int sqlite_user_set_admin(void *p, const char *user_id, int admin)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_USER_SET_ADMIN];
    int b = bind_text(s, 1, user_id) | sqlite3_bind_int(s, 2, admin != 0);

    return wrun_one(db, W_USER_SET_ADMIN, b);
}

static int sqlite_user_deactivate(void *p, const char *user_id)
{
    struct sqlite_db *db = p;
    int rc;

    /* Three statements: a nested savepoint keeps the call all-or-nothing. */
    rc = wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = wrun_one(db, W_USER_DEACTIVATE, bind_text(db->ws[W_USER_DEACTIVATE], 1, user_id));
    if (rc != BALAI_OK)
        goto out;
    rc = wrun(db, W_USER_TOKENS_DELETE, bind_text(db->ws[W_USER_TOKENS_DELETE], 1, user_id), NULL);
    if (rc != BALAI_OK)
        goto out;
    rc =
        wrun(db, W_USER_DEVICES_DELETE, bind_text(db->ws[W_USER_DEVICES_DELETE], 1, user_id), NULL);
out:
    if (rc != BALAI_OK && wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    return rc;
}

static int sqlite_device_upsert(void *p, const struct balai_device_rec *d)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_DEVICE_UPSERT];
    int b;

    b = bind_text(s, 1, d->user_id) | bind_text(s, 2, d->device_id) |
        bind_text(s, 3, d->display_name) | sqlite3_bind_int64(s, 4, d->created_ts) |
        sqlite3_bind_int64(s, 5, d->last_seen_ts) | bind_text(s, 6, d->last_seen_ip);
    return wrun(db, W_DEVICE_UPSERT, b, NULL);
}

static int sqlite_device_delete(void *p, const char *user_id, const char *device_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_DEVICE_DELETE];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id);

    /* Its tokens go with it: ON DELETE CASCADE. */
    return wrun_one(db, W_DEVICE_DELETE, b);
}

static int sqlite_token_insert(void *p, const struct balai_token_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TOKEN_INSERT];
    int b;

    b = sqlite3_bind_blob(s, 1, r->hash, (int)sizeof(r->hash), SQLITE_STATIC) |
        bind_text(s, 2, r->user_id) | bind_text(s, 3, r->device_id) |
        sqlite3_bind_int64(s, 4, r->created_ts);
    return wrun(db, W_TOKEN_INSERT, b, NULL);
}

static int sqlite_token_delete(void *p, const uint8_t hash[32])
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TOKEN_DELETE];
    int b = sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);

    return wrun_one(db, W_TOKEN_DELETE, b);
}

static int sqlite_meta_set(void *p, const char *key, const char *value)
{
    struct sqlite_db *db = p;
    enum wstmt id = value ? W_META_SET : W_META_DELETE;
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, key);

    if (value)
        b |= bind_text(s, 2, value);
    return wrun(db, id, b, NULL);
}

/* Loads the cached "events" counter if this transaction has not yet, and
 * stores the next position in *out without allocating it. */
static int events_pos_peek(struct sqlite_db *db, int64_t *out)
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
        rc = map_err(db->w, src, wdefs[W_POS_GET].name);
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

/* Marks the position returned by events_pos_peek as allocated. */
static void events_pos_take(struct sqlite_db *db, int64_t pos)
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
        rc = events_pos_peek(db, &pos);
        if (rc == BALAI_OK) {
            events_pos_take(db, pos);
            *out = pos;
        }
        return rc;
    }
    return wrun_returning(db, W_NEXT_POS, bind_text(db->ws[W_NEXT_POS], 1, stream), out);
}

static int sqlite_room_insert(void *p, const struct balai_room_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_ROOM_INSERT];
    int b;

    b = bind_text(s, 1, r->room_id) | bind_text(s, 2, r->room_version) |
        bind_text(s, 3, r->creator) | sqlite3_bind_int(s, 4, r->is_direct != 0) |
        sqlite3_bind_int64(s, 5, r->created_ts);
    return wrun(db, W_ROOM_INSERT, b, NULL);
}

/* Binds a blob; a NULL pointer binds SQL NULL (refused by NOT NULL). */
static int bind_blob(sqlite3_stmt *s, int i, const uint8_t *v, size_t len)
{
    return v ? sqlite3_bind_blob64(s, i, v, len, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* One INSERT at the next "events" position of the cached counter, taken
 * only if the insert succeeds. */
static int sqlite_event_insert(void *p, struct balai_event_rec *e)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_EVENT_INSERT];
    int64_t pos;
    int b, src, rc;

    rc = events_pos_peek(db, &pos);
    if (rc != BALAI_OK)
        return rc;
    b = sqlite3_bind_int64(s, 1, pos) | bind_text(s, 2, e->event_id) | bind_text(s, 3, e->room_id) |
        bind_text(s, 4, e->type) | bind_text(s, 5, e->state_key) | bind_text(s, 6, e->sender) |
        sqlite3_bind_int64(s, 7, e->origin_server_ts) | sqlite3_bind_int64(s, 8, e->depth) |
        bind_text(s, 9, e->membership) | bind_text(s, 10, e->aux) | bind_text(s, 11, e->txn_user) |
        bind_text(s, 12, e->key_name) | sqlite3_bind_int(s, 13, e->redacted != 0) |
        bind_blob(s, 14, e->blob, e->blob_len);
    if (b != SQLITE_OK) {
        LOG_ERROR("event_insert: cannot bind: %s", sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY) {
        /* The position is taken: the counter fell behind the events. */
        LOG_ERROR("event_insert: position %lld is taken", (long long)pos);
        rc = BALAI_ESTORE;
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = map_err(db->w, src, wdefs[W_EVENT_INSERT].name);
        goto out;
    }
    events_pos_take(db, pos);
    e->pos = pos;
out:
    stmt_done(s);
    return rc;
}

static int sqlite_state_set(void *p, const char *room_id, const char *type, const char *state_key,
                            int64_t event_pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_STATE_SET];
    int b;

    b = bind_text(s, 1, room_id) | bind_text(s, 2, type) | bind_text(s, 3, state_key) |
        sqlite3_bind_int64(s, 4, event_pos);
    return wrun(db, W_STATE_SET, b, NULL);
}

static int sqlite_txn_insert(void *p, const char *user_id, const char *device_id,
                             const char *txn_id, const char *event_id, int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TXN_INSERT];
    int b;

    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | bind_text(s, 3, txn_id) |
        bind_text(s, 4, event_id) | sqlite3_bind_int64(s, 5, ts);
    return wrun(db, W_TXN_INSERT, b, NULL);
}

static int sqlite_alias_insert(void *p, const char *alias, const char *room_id, const char *creator)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_ALIAS_INSERT];
    int b = bind_text(s, 1, alias) | bind_text(s, 2, room_id) | bind_text(s, 3, creator);

    return wrun(db, W_ALIAS_INSERT, b, NULL);
}

static int sqlite_alias_delete(void *p, const char *alias)
{
    struct sqlite_db *db = p;

    return wrun_one(db, W_ALIAS_DELETE, bind_text(db->ws[W_ALIAS_DELETE], 1, alias));
}

static int forgotten_write(struct sqlite_db *db, enum wstmt id, const char *user_id,
                           const char *room_id)
{
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, room_id);

    return wrun(db, id, b, NULL);
}

static int sqlite_forget(void *p, const char *user_id, const char *room_id)
{
    return forgotten_write(p, W_FORGET, user_id, room_id);
}

static int sqlite_unforget(void *p, const char *user_id, const char *room_id)
{
    return forgotten_write(p, W_UNFORGET, user_id, room_id);
}

static int sqlite_event_set_blob(void *p, const char *event_id, const uint8_t *blob, size_t len,
                                 int redacted)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_EVENT_SET_BLOB];
    int b;

    b = bind_text(s, 1, event_id) | bind_blob(s, 2, blob, len) |
        sqlite3_bind_int(s, 3, redacted != 0);
    return wrun_one(db, W_EVENT_SET_BLOB, b);
}

/* Reads. */

/* Steps read statement `id` (already bound, under rlock) and calls row() for
 * each row until it returns non-zero. */
static int riterate(struct sqlite_db *db, enum rstmt id, int (*row)(sqlite3_stmt *, void *),
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
        rc = map_err(db->r, src, rdefs[id].name);
out:
    stmt_done(s);
    return rc;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

struct users_ctx {
    int (*fn)(const struct balai_user_rec *, void *);
    void *arg;
};

static int user_row(sqlite3_stmt *s, void *p)
{
    struct users_ctx *c = p;
    struct balai_user_rec u = {
        .user_id = col_text(s, 0),
        .password_hash = col_text(s, 1),
        .admin = sqlite3_column_int(s, 2),
        .deactivated = sqlite3_column_int(s, 3),
        .system = sqlite3_column_int(s, 4),
        .displayname = col_text(s, 5),
        .avatar_url = col_text(s, 6),
        .created_ts = sqlite3_column_int64(s, 7),
    };

    return c->fn(&u, c->arg);
}

static int sqlite_users_each(void *p, int (*fn)(const struct balai_user_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct users_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_USERS, user_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct devices_ctx {
    int (*fn)(const struct balai_device_rec *, void *);
    void *arg;
};

static int device_row(sqlite3_stmt *s, void *p)
{
    struct devices_ctx *c = p;
    struct balai_device_rec d = {
        .user_id = col_text(s, 0),
        .device_id = col_text(s, 1),
        .display_name = col_text(s, 2),
        .created_ts = sqlite3_column_int64(s, 3),
        .last_seen_ts = sqlite3_column_int64(s, 4),
        .last_seen_ip = col_text(s, 5),
    };

    return c->fn(&d, c->arg);
}

static int sqlite_devices_each(void *p, int (*fn)(const struct balai_device_rec *, void *),
                               void *arg)
{
    struct sqlite_db *db = p;
    struct devices_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_DEVICES, device_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct tokens_ctx {
    int (*fn)(const struct balai_token_rec *, void *);
    void *arg;
};

static int token_row(sqlite3_stmt *s, void *p)
{
    struct tokens_ctx *c = p;
    struct balai_token_rec r = {
        .user_id = col_text(s, 1),
        .device_id = col_text(s, 2),
        .created_ts = sqlite3_column_int64(s, 3),
    };
    const void *hash = sqlite3_column_blob(s, 0);

    if (!hash || sqlite3_column_bytes(s, 0) != (int)sizeof(r.hash)) {
        LOG_WARN("skipping an access token row with a malformed hash");
        return 0;
    }
    memcpy(r.hash, hash, sizeof(r.hash));
    return c->fn(&r, c->arg);
}

static int sqlite_tokens_each(void *p, int (*fn)(const struct balai_token_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct tokens_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_TOKENS, token_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_meta_get(void *p, const char *key, char **out)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->rs[R_META_GET];
    int src, rc = BALAI_OK;

    *out = NULL;
    pthread_mutex_lock(&db->rlock);
    if (bind_text(s, 1, key) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *out = balai_strdup(col_text(s, 0));
    else if (src == SQLITE_DONE)
        rc = BALAI_ENOTFOUND;
    else
        rc = map_err(db->r, src, rdefs[R_META_GET].name);
out:
    stmt_done(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
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
        pos = map_err(db->r, src, rdefs[R_POS_CURRENT].name);
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
        rc = map_err(db->r, src, rdefs[R_SCHEMA_VERSION].name);
    stmt_done(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct rooms_ctx {
    int (*fn)(const struct balai_room_rec *, void *);
    void *arg;
};

static int room_row(sqlite3_stmt *s, void *p)
{
    struct rooms_ctx *c = p;
    struct balai_room_rec r = {
        .room_id = col_text(s, 0),
        .room_version = col_text(s, 1),
        .creator = col_text(s, 2),
        .is_direct = sqlite3_column_int(s, 3),
        .created_ts = sqlite3_column_int64(s, 4),
    };

    return c->fn(&r, c->arg);
}

static int sqlite_rooms_each(void *p, int (*fn)(const struct balai_room_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct rooms_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_ROOMS, room_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct events_ctx {
    int (*fn)(const struct balai_event_rec *, void *);
    void *arg;
    bool seen; /* a row was passed to fn */
};

/* Reads a row of EVENT_COLS. */
static int event_row(sqlite3_stmt *s, void *p)
{
    struct events_ctx *c = p;
    struct balai_event_rec e = {
        .pos = sqlite3_column_int64(s, 0),
        .event_id = col_text(s, 1),
        .room_id = col_text(s, 2),
        .type = col_text(s, 3),
        .state_key = col_text(s, 4),
        .sender = col_text(s, 5),
        .origin_server_ts = sqlite3_column_int64(s, 6),
        .depth = sqlite3_column_int64(s, 7),
        .membership = col_text(s, 8),
        .aux = col_text(s, 9),
        .txn_user = col_text(s, 10),
        .key_name = col_text(s, 11),
        .redacted = sqlite3_column_int(s, 12),
    };

    /* column_blob before column_bytes; an empty blob reads as NULL. */
    e.blob = sqlite3_column_blob(s, 13);
    e.blob_len = e.blob ? (size_t)sqlite3_column_bytes(s, 13) : 0;
    c->seen = true;
    return c->fn(&e, c->arg);
}

/* Runs event query `id` (under rlock; already bound, `bind` is the OR of the
 * bind results) and passes each row to c->fn through event_row(). */
static int events_query(struct sqlite_db *db, enum rstmt id, int bind, struct events_ctx *c)
{
    if (bind != SQLITE_OK) {
        LOG_ERROR("%s: cannot bind: %s", rdefs[id].name, sqlite3_errmsg(db->r));
        stmt_done(db->rs[id]);
        return BALAI_ESTORE;
    }
    return riterate(db, id, event_row, c);
}

static int sqlite_state_each(void *p, int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_STATE, SQLITE_OK, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_room_events(void *p, const char *room_id, int64_t from, int64_t to, char dir,
                              int limit, int (*fn)(const struct balai_event_rec *, void *),
                              void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    enum rstmt id = dir == 'b' ? R_ROOM_EVENTS_B : R_ROOM_EVENTS_F;
    sqlite3_stmt *s = db->rs[id];
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, id,
                      bind_text(s, 1, room_id) | sqlite3_bind_int64(s, 2, from) |
                          sqlite3_bind_int64(s, 3, to) | sqlite3_bind_int(s, 4, limit),
                      &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_events_after(void *p, int64_t after, int limit,
                               int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    sqlite3_stmt *s = db->rs[R_EVENTS_AFTER];
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_EVENTS_AFTER,
                      sqlite3_bind_int64(s, 1, after) | sqlite3_bind_int(s, 2, limit), &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_policy_events_each(void *p, int (*fn)(const struct balai_event_rec *, void *),
                                     void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_POLICY_EVENTS, SQLITE_OK, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_room_members_at(void *p, const char *room_id, int64_t at,
                                  int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    sqlite3_stmt *s = db->rs[R_MEMBERS_AT];
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_MEMBERS_AT, bind_text(s, 1, room_id) | sqlite3_bind_int64(s, 2, at),
                      &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_event_get(void *p, const char *event_id,
                            int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_EVENT_GET, bind_text(db->rs[R_EVENT_GET], 1, event_id), &c);
    pthread_mutex_unlock(&db->rlock);
    if (rc == 0 && !c.seen)
        rc = BALAI_ENOTFOUND;
    return rc;
}

struct txns_ctx {
    int (*fn)(const char *, const char *, const char *, const char *, int64_t, void *);
    void *arg;
};

static int txn_row(sqlite3_stmt *s, void *p)
{
    struct txns_ctx *c = p;

    return c->fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3),
                 sqlite3_column_int64(s, 4), c->arg);
}

static int sqlite_txns_each(void *p, int64_t since_ts,
                            int (*fn)(const char *, const char *, const char *, const char *,
                                      int64_t, void *),
                            void *arg)
{
    struct sqlite_db *db = p;
    struct txns_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    if (sqlite3_bind_int64(db->rs[R_TXNS], 1, since_ts) != SQLITE_OK) {
        stmt_done(db->rs[R_TXNS]);
        rc = BALAI_ESTORE;
    } else {
        rc = riterate(db, R_TXNS, txn_row, &c);
    }
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct aliases_ctx {
    int (*fn)(const char *, const char *, const char *, void *);
    void *arg;
};

static int alias_row(sqlite3_stmt *s, void *p)
{
    struct aliases_ctx *c = p;

    return c->fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), c->arg);
}

static int sqlite_aliases_each(void *p, int (*fn)(const char *, const char *, const char *, void *),
                               void *arg)
{
    struct sqlite_db *db = p;
    struct aliases_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_ALIASES, alias_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct forgotten_ctx {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int forgotten_row(sqlite3_stmt *s, void *p)
{
    struct forgotten_ctx *c = p;

    return c->fn(col_text(s, 0), col_text(s, 1), c->arg);
}

static int sqlite_forgotten_each(void *p, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct forgotten_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = riterate(db, R_FORGOTTEN, forgotten_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int sqlite_debug_setting(void *p, const char *name, char **out)
{
    static const char *const allowed[] = {"journal_mode", "synchronous", "foreign_keys",
                                          "busy_timeout"};
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
    .user_insert = sqlite_user_insert,
    .user_set_password = sqlite_user_set_password,
    .user_set_displayname = sqlite_user_set_displayname,
    .user_set_avatar_url = sqlite_user_set_avatar_url,
    .user_set_admin = sqlite_user_set_admin,
    .user_deactivate = sqlite_user_deactivate,
    .device_upsert = sqlite_device_upsert,
    .device_delete = sqlite_device_delete,
    .token_insert = sqlite_token_insert,
    .token_delete = sqlite_token_delete,
    .meta_set = sqlite_meta_set,
    .next_pos = sqlite_next_pos,
    .room_insert = sqlite_room_insert,
    .event_insert = sqlite_event_insert,
    .state_set = sqlite_state_set,
    .txn_insert = sqlite_txn_insert,
    .alias_insert = sqlite_alias_insert,
    .alias_delete = sqlite_alias_delete,
    .forget = sqlite_forget,
    .unforget = sqlite_unforget,
    .event_set_blob = sqlite_event_set_blob,
    .users_each = sqlite_users_each,
    .devices_each = sqlite_devices_each,
    .tokens_each = sqlite_tokens_each,
    .meta_get = sqlite_meta_get,
    .pos_current = sqlite_pos_current,
    .schema_version = sqlite_schema_version,
    .rooms_each = sqlite_rooms_each,
    .state_each = sqlite_state_each,
    .room_events = sqlite_room_events,
    .events_after = sqlite_events_after,
    .policy_events_each = sqlite_policy_events_each,
    .room_members_at = sqlite_room_members_at,
    .event_get = sqlite_event_get,
    .txns_each = sqlite_txns_each,
    .aliases_each = sqlite_aliases_each,
    .forgotten_each = sqlite_forgotten_each,
    .debug_setting = sqlite_debug_setting,
};
