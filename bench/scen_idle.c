/* scen_idle.c: memory and CPU of parked /sync clients.
 *
 * N users each do an initial /sync and then park in
 * /sync?since=...&timeout=120000 on their own keep-alive connection. The
 * figure is the server's RSS growth per parked client: (RSS with N parked
 * - RSS after provisioning, before connecting) / N, so users, devices and
 * tokens are not counted, only what a waiting client costs. Also: the RSS
 * of a fresh idle server, and the server's CPU while the N clients wait. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define PARK_TIMEOUT_MS 120000
#define SETTLE_MS 1000

struct idle_slot {
    struct idle_run *r;
    const struct bench_user *u;
    int parked;
};

struct idle_run {
    struct bench *b;
    size_t initial_pending;
    size_t parked;
    size_t unexpected; /* a parked /sync answered during the measurement */
    size_t errors;
};

static void on_parked_done(struct bench_conn *c, int status, const char *body, size_t len,
                           void *arg)
{
    struct idle_slot *s = arg;
    (void)c;
    (void)status;
    (void)body;
    (void)len;
    s->parked = 0;
    s->r->parked--;
    s->r->unexpected++;
}

static void on_initial_done(struct bench_conn *c, int status, const char *body, size_t len,
                            void *arg)
{
    struct idle_slot *s = arg;
    struct idle_run *r = s->r;
    char since[256], target[512];

    r->initial_pending--;
    if (status != 200 || bench_next_batch(body, len, since, sizeof(since)) != BALAI_OK) {
        if (r->errors++ == 0)
            fprintf(stderr, "balai-bench: idle: initial /sync failed: %d %.*s\n", status,
                    (int)(len > 200 ? 200 : len), body);
        return;
    }
    snprintf(target, sizeof(target), "/_matrix/client/v3/sync?since=%s&timeout=%d", since,
             PARK_TIMEOUT_MS);
    if (bench_conn_request(c, "GET", target, s->u->token, NULL, 0, on_parked_done, s) == BALAI_OK) {
        s->parked = 1;
        r->parked++;
    } else {
        r->errors++;
    }
}

int bench_scen_idle(struct bench *b)
{
    int64_t n = b->o.idle_clients ? b->o.idle_clients : b->o.full ? 20000 : 5000;
    int64_t window = b->o.full ? 10000 : 3000;
    struct bench_user *users = NULL;
    struct bench_conn **conns = NULL;
    struct idle_slot *slots = NULL;
    struct idle_run r;
    struct bench_cpu cpu;
    double srv = 0, gen = 0;
    char note[200];
    int rc;

    /* the server needs a descriptor per client too, under the same limit */
    if (n > b->nofile - 200) {
        printf("idle: %lld clients capped to %lld by RLIMIT_NOFILE\n", (long long)n,
               (long long)(b->nofile - 200));
        n = b->nofile - 200;
    }
    printf("idle: %lld clients parked in /sync\n", (long long)n);
    fflush(stdout);
    memset(&r, 0, sizeof(r));
    r.b = b;
    if ((rc = bench_start(b, "test", n)) != BALAI_OK)
        return rc;
    if ((rc = bench_sleep(b, SETTLE_MS)) != BALAI_OK)
        goto out;
    int64_t rss_fresh = bench_rss_settled(b, 3, 200);

    int64_t t0 = bench_now_ns();
    if ((rc = bench_users_make(b, "idle", (size_t)n, &users)) != BALAI_OK)
        goto out;
    double provision_s = (double)(bench_now_ns() - t0) / 1e9;
    printf("  provisioned %lld users (create + login) in %.1f s\n", (long long)n, provision_s);
    if ((rc = bench_sleep(b, SETTLE_MS)) != BALAI_OK)
        goto out;
    int64_t rss_before = bench_rss_settled(b, 5, 200);

    conns = balai_calloc((size_t)n, sizeof(*conns));
    slots = balai_calloc((size_t)n, sizeof(*slots));
    t0 = bench_now_ns();
    size_t opened = bench_open(b, conns, (size_t)n, 120000);
    double open_s = (double)(bench_now_ns() - t0) / 1e9;
    if (opened < (size_t)n)
        fprintf(stderr, "balai-bench: idle: only %zu of %lld connections opened\n", opened,
                (long long)n);
    for (size_t i = 0; i < (size_t)n; i++) {
        slots[i].r = &r;
        slots[i].u = &users[i];
        if (!conns[i])
            continue;
        if (bench_conn_request(conns[i], "GET", "/_matrix/client/v3/sync?timeout=0", users[i].token,
                               NULL, 0, on_initial_done, &slots[i]) == BALAI_OK)
            r.initial_pending++;
    }
    rc = bench_wait(b, &r.initial_pending, 120000);
    if (rc != BALAI_OK)
        goto out;
    double connect_s = (double)(bench_now_ns() - t0) / 1e9;
    if ((rc = bench_sleep(b, SETTLE_MS)) != BALAI_OK)
        goto out;
    int64_t rss_parked = bench_rss_settled(b, 5, 200);
    size_t parked = r.parked;
    r.unexpected = 0;
    bench_cpu_mark(b, &cpu);
    if ((rc = bench_sleep(b, window)) != BALAI_OK)
        goto out;
    bench_cpu_since(b, &cpu, &srv, &gen);

    double per_kib = parked ? (double)(rss_parked - rss_before) / (double)parked : 0;
    printf("  connected %zu in %.1f s, all parked after %.1f s\n", opened, open_s, connect_s);
    printf("  RSS fresh %.1f MB, before %.1f MB, with %zu parked %.1f MB: %.2f KiB per client;"
           " idle CPU %.2f%%\n",
           rss_fresh * 1024.0 / 1e6, rss_before * 1024.0 / 1e6, parked, rss_parked * 1024.0 / 1e6,
           per_kib, srv);
    fflush(stdout);

    json_t *o = bench_scenario_json(b, "idle");
    json_object_set_new(o, "clients", json_integer(n));
    json_object_set_new(o, "parked", json_integer((json_int_t)parked));
    json_object_set_new(o, "errors", json_integer((json_int_t)r.errors));
    json_object_set_new(o, "answered_while_parked", json_integer((json_int_t)r.unexpected));
    json_object_set_new(o, "rss_fresh_kib", json_integer(rss_fresh));
    json_object_set_new(o, "rss_before_kib", json_integer(rss_before));
    json_object_set_new(o, "rss_parked_kib", json_integer(rss_parked));
    json_object_set_new(o, "kib_per_parked_client", json_real(per_kib));
    json_object_set_new(o, "idle_server_cpu_pct", json_real(srv));
    json_object_set_new(o, "other_cpu_pct", json_real(b->last_other));
    json_object_set_new(o, "provision_s", json_real(provision_s));
    json_object_set_new(o, "connect_s", json_real(open_s));
    json_object_set_new(o, "connect_and_park_s", json_real(connect_s));

    bench_report_add(b, "idle_server_rss", "idle server RSS (fresh server, no clients)",
                     (double)rss_fresh * 1024.0 / 1e6, "MB", BENCH_AT_MOST, 20, NULL);
    snprintf(note, sizeof(note), "%zu parked, %zu answered early, %zu errors; RSS %.1f -> %.1f MB",
             parked, r.unexpected, r.errors, rss_before * 1024.0 / 1e6, rss_parked * 1024.0 / 1e6);
    bench_report_add(b, "idle_kib_per_client", "memory per idle parked /sync client", per_kib,
                     "KiB", BENCH_AT_MOST, 4, note);
    bench_report_add(b, "idle_parked", "parked /sync clients held at once", (double)parked, "",
                     BENCH_NO_TARGET, 0,
                     "DESIGN.md: 100,000 on one machine; bounded here by RLIMIT_NOFILE");
    bench_report_add(b, "idle_cpu_pct", "server CPU while the parked clients wait", srv, "%",
                     BENCH_NO_TARGET, 0, NULL);
out:
    if (conns)
        bench_close_all(b, conns, (size_t)n);
    free(conns);
    free(slots);
    bench_users_free(users, (size_t)n);
    bench_stop(b);
    return rc;
}
