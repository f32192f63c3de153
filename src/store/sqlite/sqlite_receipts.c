/* sqlite_receipts.c: the SQLite backend's functions for the receipts table
 * (see sqlite.c for the design). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

#define RECEIPTS_STREAM "receipts"

int balai__sqlite_receipt_set(void *p, const char *room_id, const char *user_id, const char *type,
                              const char *thread_id, const char *event_id, int64_t ts, int64_t *pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_RECEIPT_SET];
    int64_t next = 0;
    int rc, b;

    if (!room_id || !user_id || !type || !thread_id || !event_id)
        return BALAI_EINVAL;
    /* Two statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai_store_sqlite_backend.next_pos(db, RECEIPTS_STREAM, &next);
    if (rc != BALAI_OK)
        goto out;
    b = bind_text(s, 1, room_id) | bind_text(s, 2, user_id) | bind_text(s, 3, type) |
        bind_text(s, 4, thread_id) | bind_text(s, 5, event_id) | sqlite3_bind_int64(s, 6, ts) |
        sqlite3_bind_int64(s, 7, next);
    rc = balai__sqlite_wrun(db, W_RECEIPT_SET, b, NULL);
out:
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (rc == BALAI_OK)
        *pos = next;
    return rc;
}

struct receipts_ctx {
    int (*fn)(const struct balai_receipt_rec *, void *);
    void *arg;
};

static int receipt_row(sqlite3_stmt *s, void *p)
{
    struct receipts_ctx *c = p;
    struct balai_receipt_rec r = {
        .room_id = col_text(s, 0),
        .user_id = col_text(s, 1),
        .type = col_text(s, 2),
        .thread_id = col_text(s, 3),
        .event_id = col_text(s, 4),
        .ts = sqlite3_column_int64(s, 5),
        .pos = sqlite3_column_int64(s, 6),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_receipts_each(void *p, int (*fn)(const struct balai_receipt_rec *, void *),
                                void *arg)
{
    struct sqlite_db *db = p;
    struct receipts_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_RECEIPTS, receipt_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
