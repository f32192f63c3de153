/* stats.h: the admin statistics endpoint, GET /_balai/admin/v1/stats
 * (docs/webapp.md, the dashboard). */
#ifndef BALAI_API_ADMIN_STATS_H
#define BALAI_API_ADMIN_STATS_H

struct balai_app;

/* Registers GET /_balai/admin/v1/stats. Returns 0 or a negative BALAI_E*. */
int balai_api_admin_stats_routes(struct balai_app *app);

#endif
