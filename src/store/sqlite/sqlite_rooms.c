/* sqlite_rooms.c: the SQLite backend's functions for the room tables: rooms,
 * events, current state, txns, aliases and forgotten rooms (see sqlite.c for
 * the design, and for the "events" position cache event_insert uses). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

/* Writes. */

int balai__sqlite_room_insert(void *p, const struct balai_room_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_ROOM_INSERT];
    int b;

    b = bind_text(s, 1, r->room_id) | bind_text(s, 2, r->room_version) |
        bind_text(s, 3, r->creator) | sqlite3_bind_int(s, 4, r->is_direct != 0) |
        sqlite3_bind_int64(s, 5, r->created_ts);
    return balai__sqlite_wrun(db, W_ROOM_INSERT, b, NULL);
}

/* Binds a blob; a NULL pointer binds SQL NULL (refused by NOT NULL). */
static int bind_blob(sqlite3_stmt *s, int i, const uint8_t *v, size_t len)
{
    return v ? sqlite3_bind_blob64(s, i, v, len, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* One INSERT at the next "events" position of the cached counter, taken
 * only if the insert succeeds. */
int balai__sqlite_event_insert(void *p, struct balai_event_rec *e)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_EVENT_INSERT];
    int64_t pos;
    int b, src, rc;

    rc = balai__sqlite_events_pos_peek(db, &pos);
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
        rc = balai__sqlite_map_err(db->w, src, balai__sqlite_wdefs[W_EVENT_INSERT].name);
        goto out;
    }
    balai__sqlite_events_pos_take(db, pos);
    e->pos = pos;
out:
    stmt_done(s);
    return rc;
}

int balai__sqlite_state_set(void *p, const char *room_id, const char *type, const char *state_key,
                            int64_t event_pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_STATE_SET];
    int b;

    b = bind_text(s, 1, room_id) | bind_text(s, 2, type) | bind_text(s, 3, state_key) |
        sqlite3_bind_int64(s, 4, event_pos);
    return balai__sqlite_wrun(db, W_STATE_SET, b, NULL);
}

int balai__sqlite_txn_insert(void *p, const char *user_id, const char *device_id,
                             const char *txn_id, const char *event_id, int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TXN_INSERT];
    int b;

    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | bind_text(s, 3, txn_id) |
        bind_text(s, 4, event_id) | sqlite3_bind_int64(s, 5, ts);
    return balai__sqlite_wrun(db, W_TXN_INSERT, b, NULL);
}

int balai__sqlite_alias_insert(void *p, const char *alias, const char *room_id, const char *creator)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_ALIAS_INSERT];
    int b = bind_text(s, 1, alias) | bind_text(s, 2, room_id) | bind_text(s, 3, creator);

    return balai__sqlite_wrun(db, W_ALIAS_INSERT, b, NULL);
}

int balai__sqlite_alias_delete(void *p, const char *alias)
{
    struct sqlite_db *db = p;

    return balai__sqlite_wrun_one(db, W_ALIAS_DELETE, bind_text(db->ws[W_ALIAS_DELETE], 1, alias));
}

static int forgotten_write(struct sqlite_db *db, enum wstmt id, const char *user_id,
                           const char *room_id)
{
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, room_id);

    return balai__sqlite_wrun(db, id, b, NULL);
}

int balai__sqlite_forget(void *p, const char *user_id, const char *room_id)
{
    return forgotten_write(p, W_FORGET, user_id, room_id);
}

int balai__sqlite_unforget(void *p, const char *user_id, const char *room_id)
{
    return forgotten_write(p, W_UNFORGET, user_id, room_id);
}

int balai__sqlite_event_set_blob(void *p, const char *event_id, const uint8_t *blob, size_t len,
                                 int redacted)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_EVENT_SET_BLOB];
    int b;

    b = bind_text(s, 1, event_id) | bind_blob(s, 2, blob, len) |
        sqlite3_bind_int(s, 3, redacted != 0);
    return balai__sqlite_wrun_one(db, W_EVENT_SET_BLOB, b);
}

/* Reads. */

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

int balai__sqlite_rooms_each(void *p, int (*fn)(const struct balai_room_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct rooms_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_ROOMS, room_row, &c);
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
        LOG_ERROR("%s: cannot bind: %s", balai__sqlite_rdefs[id].name, sqlite3_errmsg(db->r));
        stmt_done(db->rs[id]);
        return BALAI_ESTORE;
    }
    return balai__sqlite_riterate(db, id, event_row, c);
}

int balai__sqlite_state_each(void *p, int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = events_query(db, R_STATE, SQLITE_OK, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int balai__sqlite_room_events(void *p, const char *room_id, int64_t from, int64_t to, char dir,
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

int balai__sqlite_events_after(void *p, int64_t after, int limit,
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

int balai__sqlite_policy_events_each(void *p, int (*fn)(const struct balai_event_rec *, void *),
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

int balai__sqlite_room_members_at(void *p, const char *room_id, int64_t at,
                                  int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct events_ctx c = {fn, arg, false};
    sqlite3_stmt *s = db->rs[R_MEMBERS_AT];
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc =
        events_query(db, R_MEMBERS_AT, bind_text(s, 1, room_id) | sqlite3_bind_int64(s, 2, at), &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int balai__sqlite_event_get(void *p, const char *event_id,
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

int balai__sqlite_txns_each(void *p, int64_t since_ts,
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
        rc = balai__sqlite_riterate(db, R_TXNS, txn_row, &c);
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

int balai__sqlite_aliases_each(void *p, int (*fn)(const char *, const char *, const char *, void *),
                               void *arg)
{
    struct sqlite_db *db = p;
    struct aliases_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_ALIASES, alias_row, &c);
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

int balai__sqlite_forgotten_each(void *p, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct forgotten_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_FORGOTTEN, forgotten_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
