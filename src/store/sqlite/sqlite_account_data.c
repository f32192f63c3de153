/* sqlite_account_data.c: the SQLite backend's functions for the account_data
 * table (see sqlite.c for the design). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

#define ACCOUNT_DATA_STREAM "account_data"

int balai__sqlite_account_data_set(void *p, const char *user_id, const char *room_id,
                                   const char *type, const uint8_t *blob, size_t len,
                                   const char *key_name, int64_t *pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_ACCOUNT_DATA_SET];
    int64_t next = 0;
    int rc, b;

    if (!user_id || !room_id || !type || !blob || !key_name || len > INT32_MAX)
        return BALAI_EINVAL;
    /* Two statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai_store_sqlite_backend.next_pos(db, ACCOUNT_DATA_STREAM, &next);
    if (rc != BALAI_OK)
        goto out;
    b = bind_text(s, 1, user_id) | bind_text(s, 2, room_id) | bind_text(s, 3, type) |
        sqlite3_bind_int64(s, 4, next) | bind_text(s, 5, key_name) |
        sqlite3_bind_blob(s, 6, blob, (int)len, SQLITE_STATIC);
    rc = balai__sqlite_wrun(db, W_ACCOUNT_DATA_SET, b, NULL);
out:
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (rc == BALAI_OK)
        *pos = next;
    return rc;
}

struct account_data_ctx {
    int (*fn)(const struct balai_account_data_rec *, void *);
    void *arg;
};

static int account_data_row(sqlite3_stmt *s, void *p)
{
    struct account_data_ctx *c = p;
    struct balai_account_data_rec r = {
        .user_id = col_text(s, 0),
        .room_id = col_text(s, 1),
        .type = col_text(s, 2),
        .pos = sqlite3_column_int64(s, 3),
        .key_name = col_text(s, 4),
        .blob = sqlite3_column_blob(s, 5),
        .blob_len = (size_t)sqlite3_column_bytes(s, 5),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_account_data_each(void *p,
                                    int (*fn)(const struct balai_account_data_rec *, void *),
                                    void *arg)
{
    struct sqlite_db *db = p;
    struct account_data_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_ACCOUNT_DATA, account_data_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
