/* sqlite_stats.c: the SQLite backend's aggregate reads for the admin
 * statistics (GET /_balai/admin/v1/stats): events of one type per UTC day.
 * Rare (an admin opening the dashboard), so the statement is prepared per
 * call on the read connection. It scans the events table (no index on
 * origin_server_ts); callers run it on the work pool. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

#define DAY_MS 86400000

int balai__sqlite_events_per_day(void *p, const char *type, int64_t since_ts,
                                 int (*fn)(int64_t, int64_t, int64_t, void *), void *arg)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = NULL;
    int rc = BALAI_OK, src;

    if (!type || !fn)
        return BALAI_EINVAL;
    pthread_mutex_lock(&db->rlock);
    if (sqlite3_prepare_v2(db->r,
                           "SELECT origin_server_ts / 86400000 AS d, count(*), "
                           "count(DISTINCT sender) FROM events WHERE type = ?1 "
                           "AND state_key IS NULL AND origin_server_ts >= ?2 "
                           "GROUP BY d ORDER BY d",
                           -1, &s, NULL) != SQLITE_OK) {
        LOG_ERROR("stats: cannot prepare a statement: %s", sqlite3_errmsg(db->r));
        rc = BALAI_ESTORE;
        goto unlock;
    }
    if ((bind_text(s, 1, type) | sqlite3_bind_int64(s, 2, since_ts)) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto unlock;
    }
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        rc = fn(sqlite3_column_int64(s, 0) * DAY_MS, sqlite3_column_int64(s, 1),
                sqlite3_column_int64(s, 2), arg);
        if (rc != 0)
            goto unlock;
    }
    if (src != SQLITE_DONE)
        rc = balai__sqlite_map_err(db->r, src, "events_per_day");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
