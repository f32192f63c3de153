/* metrics.c: GET /metrics in Prometheus text format. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "core/accounts.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/time.h"

static long rss_kib(void)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static void get_metrics(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_store_stats st;
    struct balai_buf b;
    static const char *const bounds[] = {"1",  "2",   "4",   "8",   "16",   "32",
                                         "64", "128", "256", "512", "1024", "+Inf"};

    balai_buf_init(&b, 0);
    balai_http_server_metrics(app->http, &b);
    balai_store_stats(app->store, &st);
    balai_buf_printf(&b,
                     "# HELP balai_writer_batches_total Group-commit transactions.\n"
                     "# TYPE balai_writer_batches_total counter\n"
                     "balai_writer_batches_total %llu\n"
                     "# HELP balai_writer_ops_total Writes committed or refused.\n"
                     "# TYPE balai_writer_ops_total counter\n"
                     "balai_writer_ops_total %llu\n"
                     "balai_writer_failed_ops_total %llu\n"
                     "# HELP balai_writer_batch_size Writes per group commit.\n"
                     "# TYPE balai_writer_batch_size histogram\n",
                     (unsigned long long)st.batches, (unsigned long long)st.ops,
                     (unsigned long long)st.failed_ops);
    unsigned long long cum = 0;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bounds); i++) {
        cum += st.batch_size_buckets[i];
        balai_buf_printf(&b, "balai_writer_batch_size_bucket{le=\"%s\"} %llu\n", bounds[i], cum);
    }
    balai_buf_printf(&b,
                     "balai_writer_batch_size_sum %llu\n"
                     "balai_writer_batch_size_count %llu\n"
                     "# HELP balai_writer_commit_seconds_total Time spent committing.\n"
                     "# TYPE balai_writer_commit_seconds_total counter\n"
                     "balai_writer_commit_seconds_total %.6f\n"
                     "# HELP balai_users Accounts known to the server.\n"
                     "# TYPE balai_users gauge\n"
                     "balai_users %zu\n"
                     "# HELP balai_process_resident_memory_bytes Resident set size.\n"
                     "# TYPE balai_process_resident_memory_bytes gauge\n"
                     "balai_process_resident_memory_bytes %ld\n"
                     "# HELP balai_uptime_seconds Seconds since start.\n"
                     "# TYPE balai_uptime_seconds gauge\n"
                     "balai_uptime_seconds %.3f\n",
                     (unsigned long long)st.ops, (unsigned long long)st.batches,
                     (double)st.commit_us_total / 1e6, balai_accounts_user_count(app->accounts),
                     rss_kib() * 1024, (double)(balai_mono_ms() - app->started_ms) / 1000.0);
    size_t len;
    char *s = balai_buf_detach(&b, &len);
    balai_http_respond_take(req, 200, "text/plain; version=0.0.4", s, len);
}

int balai_api_metrics_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET, "/metrics", get_metrics, 0);
}
