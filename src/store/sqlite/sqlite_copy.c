/* sqlite_copy.c: the SQLite backend's bulk copy functions (store_int.h,
 * store/copy.c): the source side of `balai db migrate-to`. SQLite is not a
 * copy target (copy_load refuses). Also its `unavailable` (never). Table names come from
 * sqlite_master, never from outside, and are quoted anyway. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

int balai__sqlite_copy_tables(void *p, int (*fn)(const char *table, void *), void *arg)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc = 0, src;

    pthread_mutex_lock(&db->rlock);
    if (sqlite3_prepare_v2(db->r,
                           "SELECT name FROM sqlite_master WHERE type = 'table'"
                           " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                           " AND name <> 'schema_migrations' ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = balai__sqlite_map_err(db->r, sqlite3_errcode(db->r), "copy_tables");
        goto out;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(col_text(s, 0), arg);
        if (rc != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "copy_tables");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int balai__sqlite_copy_rows(void *p, int writer, const char *table,
                            int (*fn)(const struct balai_store_row *, void *), void *arg)
{
    struct sqlite_db *db = p;
    sqlite3 *conn = writer ? db->w : db->r;
    sqlite3_stmt *s = NULL;
    char *sql = balai_asprintf("SELECT * FROM \"%s\"", table);
    const char **cols = NULL;
    struct balai_store_value *vals = NULL;
    size_t n = 0;
    int rc = 0, src;

    if (!writer)
        pthread_mutex_lock(&db->rlock);
    if (sqlite3_prepare_v2(conn, sql, -1, &s, NULL) != SQLITE_OK) {
        rc = balai__sqlite_map_err(conn, sqlite3_errcode(conn), "copy_rows");
        goto out;
    }
    n = (size_t)sqlite3_column_count(s);
    cols = balai_calloc(n ? n : 1, sizeof(*cols));
    vals = balai_calloc(n ? n : 1, sizeof(*vals));
    for (size_t i = 0; i < n; i++)
        cols[i] = sqlite3_column_name(s, (int)i);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct balai_store_row row = {table, n, cols, vals};

        for (size_t i = 0; i < n; i++) {
            struct balai_store_value *v = &vals[i];

            memset(v, 0, sizeof(*v));
            switch (sqlite3_column_type(s, (int)i)) {
            case SQLITE_NULL:
                v->kind = BALAI_STORE_NULL;
                break;
            case SQLITE_INTEGER:
            case SQLITE_FLOAT:
                v->kind = BALAI_STORE_INT;
                v->i = sqlite3_column_int64(s, (int)i);
                break;
            case SQLITE_BLOB:
                v->kind = BALAI_STORE_BLOB;
                v->p = sqlite3_column_blob(s, (int)i);
                v->len = (size_t)sqlite3_column_bytes(s, (int)i);
                break;
            default:
                v->kind = BALAI_STORE_TEXT;
                v->p = sqlite3_column_text(s, (int)i);
                v->len = (size_t)sqlite3_column_bytes(s, (int)i);
                break;
            }
        }
        rc = fn(&row, arg);
        if (rc != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(conn, src, "copy_rows");
out:
    sqlite3_finalize(s);
    if (!writer)
        pthread_mutex_unlock(&db->rlock);
    free(cols);
    free(vals);
    free(sql);
    return rc;
}

int balai__sqlite_copy_load(void *p, const struct balai_store_row *row)
{
    (void)p;
    (void)row;
    LOG_ERROR("SQLite is not a copy target");
    return BALAI_ESTATE;
}

int balai__sqlite_copy_finish(void *p)
{
    (void)p;
    return BALAI_OK;
}

int balai__sqlite_unavailable(void *p)
{
    (void)p;
    return 0;
}
