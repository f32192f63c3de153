/* sqlite_directory.c: the SQLite backend's functions for the room_directory
 * table, the public room directory (see sqlite.c for the design). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"

int balai__sqlite_room_publish(void *p, const char *room_id, int published, int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int b;

    if (!room_id)
        return BALAI_EINVAL;
    if (!published) {
        s = db->ws[W_ROOM_UNPUBLISH];
        return balai__sqlite_wrun(db, W_ROOM_UNPUBLISH, bind_text(s, 1, room_id), NULL);
    }
    s = db->ws[W_ROOM_PUBLISH];
    b = bind_text(s, 1, room_id) | sqlite3_bind_int64(s, 2, ts);
    return balai__sqlite_wrun(db, W_ROOM_PUBLISH, b, NULL);
}

struct published_ctx {
    int (*fn)(const char *, int64_t, void *);
    void *arg;
};

static int published_row(sqlite3_stmt *s, void *p)
{
    struct published_ctx *c = p;

    return c->fn(col_text(s, 0), sqlite3_column_int64(s, 1), c->arg);
}

int balai__sqlite_published_each(void *p, int (*fn)(const char *, int64_t, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct published_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_PUBLISHED, published_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
