/* pg_stats.c: the PostgreSQL backend's aggregate reads for the admin
 * statistics (GET /_balai/admin/v1/stats), mirroring sqlite_stats.c:
 * events of one type per UTC day. */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"

#define DAY_MS 86400000

PG_STMT(s_per_day, "events_per_day",
        "SELECT origin_server_ts / 86400000 AS d, count(*), count(DISTINCT sender)"
        " FROM events WHERE type = $1 AND state_key IS NULL AND origin_server_ts >= $2"
        " GROUP BY d ORDER BY d");

struct per_day_ctx {
    int (*fn)(int64_t, int64_t, int64_t, void *);
    void *arg;
};

static int per_day_row(const PGresult *r, int i, void *p)
{
    struct per_day_ctx *c = p;

    return c->fn(pc_int(r, i, 0) * DAY_MS, pc_int(r, i, 1), pc_int(r, i, 2), c->arg);
}

int balai__pg_events_per_day(void *db, const char *type, int64_t since_ts,
                             int (*fn)(int64_t, int64_t, int64_t, void *), void *arg)
{
    struct per_day_ctx c = {fn, arg};
    struct pg_args a = {0};

    if (!type || !fn)
        return BALAI_EINVAL;
    pa_text(&a, type);
    pa_int(&a, since_ts);
    return balai__pg_each(db, &s_per_day, &a, per_day_row, &c);
}
