/* stats.c: GET /_balai/admin/v1/stats?days=N, the figures of the admin
 * dashboard (owner, admin, compliance):
 *
 *   {"days": N, "since": ms,
 *    "messages_per_day": [{"day": "YYYY-MM-DD", "ts": ms, "messages": n,
 *                          "active_users": n}, ...]   one per UTC day, oldest first
 *    "dlp_incidents_per_week": [{"week": "YYYY-MM-DD", "ts": ms, "incidents": n}, ...]
 *                          one per UTC week (Monday first) touching the range
 *    "totals": {"users": n, "rooms": n, "messages": n, "active_users": n,
 *               "dlp_incidents": n}}
 *
 * Messages are the m.room.message events (non-state) by origin_server_ts;
 * active users per day the distinct senders of those; totals.active_users is
 * the busiest day's. Users count the accounts that are neither deactivated
 * nor the system user; rooms every room the server knows. N is 1 to 90
 * (default 30), today (UTC) included. The store reads run on the work pool;
 * they scan the events table, which is acceptable for an admin view. */
#include "balai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api/admin/stats.h"
#include "api/app.h"
#include "api/common.h"
#include "api/directory.h"
#include "core/room.h"
#include "net/pool.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/time.h"

#define LOG_MODULE "admin"
#include "util/log.h"

#define ROLE(r) BALAI_ROLE_BIT(BALAI_ROLE_##r)
#define STATS_ROLES (ROLE(OWNER) | ROLE(ADMIN) | ROLE(COMPLIANCE))
#define DAY_MS INT64_C(86400000)
#define DAYS_DEFAULT 30
#define DAYS_MAX 90
#define WEEKS_MAX (DAYS_MAX / 7 + 2)

struct stats_job {
    struct balai_http_req *req;
    struct balai_app *app;
    int days;
    int64_t first_day; /* days since the epoch, UTC */
    int64_t first_week; /* the epoch day of the Monday of first_day's week */
    int64_t messages[DAYS_MAX], senders[DAYS_MAX];
    int64_t incidents[WEEKS_MAX];
    int64_t users, rooms;
    int rc;
};

/* The epoch day of the Monday of `day`'s week (1970-01-01 was a Thursday). */
static int64_t monday_of(int64_t day)
{
    int64_t dow = ((day + 3) % 7 + 7) % 7; /* 0 = Monday */
    return day - dow;
}

static void day_str(int64_t day, char out[11])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
        snprintf(out, 11, "?");
}

static int day_row(int64_t day_ts, int64_t events, int64_t senders, void *arg)
{
    struct stats_job *j = arg;
    int64_t i = day_ts / DAY_MS - j->first_day;

    if (i >= 0 && i < j->days) {
        j->messages[i] = events;
        j->senders[i] = senders;
    }
    return 0;
}

static int incident_row(const struct balai_dlp_incident_rec *r, void *arg)
{
    struct stats_job *j = arg;
    int64_t w = (monday_of(r->ts / DAY_MS) - j->first_week) / 7;

    if (w >= 0 && w < WEEKS_MAX)
        j->incidents[w]++;
    return 0;
}

static int user_row(const struct balai_user_rec *u, void *arg)
{
    struct stats_job *j = arg;

    if (!u->deactivated && !u->system)
        j->users++;
    return 0;
}

static void stats_work(void *arg)
{
    struct stats_job *j = arg;
    struct balai_dlp_incident_query q = {.since = j->first_day * DAY_MS};

    j->rc = balai_store_events_per_day(j->app->store, "m.room.message", j->first_day * DAY_MS,
                                       day_row, j);
    if (j->rc >= 0)
        j->rc = balai_store_dlp_incidents_each(j->app->store, &q, incident_row, j);
    if (j->rc >= 0)
        j->rc = balai_store_users_each(j->app->store, user_row, j);
}

static void stats_done(void *arg)
{
    struct stats_job *j = arg;
    json_t *per_day, *per_week, *o;
    int64_t total = 0, busiest = 0, dlp = 0;
    int64_t last_week = monday_of(j->first_day + j->days - 1);
    char ds[11];

    if (j->rc < 0) {
        balai_api_error(j->req, 500, "M_UNKNOWN", "Could not read the statistics");
        goto out;
    }
    per_day = json_array();
    for (int i = 0; i < j->days; i++) {
        day_str(j->first_day + i, ds);
        json_array_append_new(per_day,
                              json_pack("{s:s, s:I, s:I, s:I}", "day", ds, "ts",
                                        (json_int_t)((j->first_day + i) * DAY_MS), "messages",
                                        (json_int_t)j->messages[i], "active_users",
                                        (json_int_t)j->senders[i]));
        total += j->messages[i];
        if (j->senders[i] > busiest)
            busiest = j->senders[i];
    }
    per_week = json_array();
    for (int64_t w = 0; j->first_week + w * 7 <= last_week && w < WEEKS_MAX; w++) {
        day_str(j->first_week + w * 7, ds);
        json_array_append_new(per_week, json_pack("{s:s, s:I, s:I}", "week", ds, "ts",
                                                  (json_int_t)((j->first_week + w * 7) * DAY_MS),
                                                  "incidents", (json_int_t)j->incidents[w]));
        dlp += j->incidents[w];
    }
    o = json_pack("{s:i, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "days", j->days, "since",
                  (json_int_t)(j->first_day * DAY_MS), "messages_per_day", per_day,
                  "dlp_incidents_per_week", per_week, "totals", "users", (json_int_t)j->users,
                  "rooms", (json_int_t)j->rooms, "messages", (json_int_t)total, "active_users",
                  (json_int_t)busiest, "dlp_incidents", (json_int_t)dlp);
    balai_api_json(j->req, 200, o);
out:
    free(j);
}

static void get_stats(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *v = balai_http_req_query(req, "days");
    long days = DAYS_DEFAULT;

    if (balai_api_auth_role(req, &s, STATS_ROLES) < 0)
        return;
    if (v) {
        char *end;
        errno = 0;
        days = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno != 0 || days < 1 || days > DAYS_MAX) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'days' must be an integer from 1 to %d",
                            DAYS_MAX);
            return;
        }
    }
    struct stats_job *j = balai_calloc(1, sizeof(*j));
    j->req = req;
    j->app = app;
    j->days = (int)days;
    j->first_day = balai_now_ms() / DAY_MS - (days - 1);
    j->first_week = monday_of(j->first_day);
    j->rooms = (int64_t)balai_rooms_count(app->rooms);
    if (balai_pool_submit(app->work_pool, stats_work, stats_done, j) != BALAI_OK) {
        balai_api_limit(req, 1000);
        free(j);
    }
}

int balai_api_admin_stats_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/stats", get_stats, 0);
}
