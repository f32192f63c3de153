/* sqlite_device_lists.c: the SQLite backend's functions for the
 * device_list_changes table (changes of users' device lists, at "device_lists"
 * stream positions) and for deleting what a device that goes leaves behind
 * (its rows of e2e_keys and to_device); see sqlite.c for the design. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"

#define DEVICE_LISTS_STREAM "device_lists"

int balai__sqlite_device_list_add(void *p, const char *user_id, int64_t *pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_DEVICE_LIST_ADD];
    int64_t next = 0;
    int rc, b;

    if (!user_id)
        return BALAI_EINVAL;
    /* Two statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai_store_sqlite_backend.next_pos(db, DEVICE_LISTS_STREAM, &next);
    if (rc != BALAI_OK)
        goto out;
    b = sqlite3_bind_int64(s, 1, next) | bind_text(s, 2, user_id);
    rc = balai__sqlite_wrun(db, W_DEVICE_LIST_ADD, b, NULL);
out:
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (rc == BALAI_OK)
        *pos = next;
    return rc;
}

struct dl_ctx {
    int (*fn)(int64_t pos, const char *user_id, void *);
    void *arg;
};

static int dl_row(sqlite3_stmt *s, void *p)
{
    struct dl_ctx *c = p;
    return c->fn(sqlite3_column_int64(s, 0), col_text(s, 1), c->arg);
}

int balai__sqlite_device_list_changes(void *p, int64_t after,
                                      int (*fn)(int64_t pos, const char *user_id, void *),
                                      void *arg)
{
    struct sqlite_db *db = p;
    struct dl_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    if (sqlite3_bind_int64(db->rs[R_DEVICE_LIST_CHANGES], 1, after) != SQLITE_OK) {
        stmt_done(db->rs[R_DEVICE_LIST_CHANGES]);
        rc = BALAI_ESTORE;
    } else {
        rc = balai__sqlite_riterate(db, R_DEVICE_LIST_CHANGES, dl_row, &c);
    }
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int balai__sqlite_device_data_delete(void *p, const char *user_id, const char *device_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *k = db->ws[W_E2E_DEVICE_DELETE];
    sqlite3_stmt *m = db->ws[W_TO_DEVICE_DEVICE_DELETE];
    int rc;

    if (!user_id)
        return BALAI_EINVAL;
    /* Two statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai__sqlite_wrun(db, W_E2E_DEVICE_DELETE,
                            bind_text(k, 1, user_id) | bind_text(k, 2, device_id), NULL);
    if (rc == BALAI_OK)
        rc = balai__sqlite_wrun(db, W_TO_DEVICE_DEVICE_DELETE,
                                bind_text(m, 1, user_id) | bind_text(m, 2, device_id), NULL);
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    return rc;
}
