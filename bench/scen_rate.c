/* scen_rate.c: the plain request-rate scenario (issue #2's figures).
 *
 * C keep-alive connections each send GET /_matrix/client/versions (no
 * auth) or GET /account/whoami (a bearer token) again as soon as the last
 * answer arrives, for a fixed window after a short warm-up: requests/s
 * and latency percentiles, at 100 and 1,000 connections. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define WARMUP_MS 500
#define TOKEN_USERS 100

struct rate_slot {
    struct rate_run *run;
    const char *token;
    int64_t t0;
};

struct rate_run {
    struct bench *b;
    const char *path;
    int measuring;
    int stopping;
    uint64_t done, errors;
    size_t in_flight;
    struct bench_hist h;
};

static void rate_issue(struct bench_conn *c, struct rate_slot *s);

static void on_rate_done(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct rate_slot *s = arg;
    struct rate_run *r = s->run;
    (void)body;
    (void)len;
    r->in_flight--;
    if (r->measuring) {
        if (status == 200) {
            r->done++;
            bench_hist_add(&r->h, (uint64_t)(bench_now_ns() - s->t0) / 1000);
        } else {
            r->errors++;
        }
    }
    if (status < 0 || r->stopping)
        return;
    rate_issue(c, s);
}

static void rate_issue(struct bench_conn *c, struct rate_slot *s)
{
    s->t0 = bench_now_ns();
    if (bench_conn_request(c, "GET", s->run->path, s->token, NULL, 0, on_rate_done, s) == BALAI_OK)
        s->run->in_flight++;
}

static int rate_one(struct bench *b, const char *what, const char *path,
                    const struct bench_user *users, size_t nconns, int64_t window_ms)
{
    struct bench_conn **conns = balai_calloc(nconns, sizeof(*conns));
    struct rate_slot *slots = balai_calloc(nconns, sizeof(*slots));
    struct rate_run *r = balai_calloc(1, sizeof(*r));
    struct bench_cpu cpu;
    double srv, gen;
    char key[64], label[128], note[160];
    int rc = BALAI_OK;

    r->b = b;
    r->path = path;
    size_t opened = bench_open(b, conns, nconns, 30000);
    if (opened < nconns) {
        fprintf(stderr, "balai-bench: rate: only %zu of %zu connections opened\n", opened, nconns);
        rc = BALAI_EIO;
        goto out;
    }
    for (size_t i = 0; i < nconns; i++) {
        slots[i].run = r;
        slots[i].token = users ? users[i % TOKEN_USERS].token : NULL;
        rate_issue(conns[i], &slots[i]);
    }
    if ((rc = bench_sleep(b, WARMUP_MS)) != BALAI_OK)
        goto out;
    bench_cpu_mark(b, &cpu);
    r->measuring = 1;
    if ((rc = bench_sleep(b, window_ms)) != BALAI_OK)
        goto out;
    r->measuring = 0;
    bench_cpu_since(b, &cpu, &srv, &gen);
    r->stopping = 1;
    (void)bench_wait(b, &r->in_flight, 10000);

    double rps = (double)r->done * 1000.0 / (double)window_ms;
    json_t *o = json_pack(
        "{s:s, s:I, s:f, s:I, s:o, s:f, s:f, s:f}", "path", path, "connections", (json_int_t)nconns,
        "requests_per_s", rps, "errors", (json_int_t)r->errors, "latency", bench_hist_json(&r->h),
        "server_cpu_pct", srv, "generator_cpu_pct", gen, "other_cpu_pct", b->last_other);
    json_object_set_new(bench_scenario_json(b, "rate"), what, o);

    snprintf(note, sizeof(note),
             "server CPU %.0f%%, generator CPU %.0f%%%s, other %.0f%%, %llu errors", srv, gen,
             gen > 90 ? " (generator saturated)" : "", b->last_other,
             (unsigned long long)r->errors);
    snprintf(key, sizeof(key), "%s_rps", what);
    snprintf(label, sizeof(label), "%s, %zu keep-alive connections: requests/s",
             users ? "GET /account/whoami" : "GET /versions", nconns);
    bench_report_add(b, key, label, rps, "/s", BENCH_NO_TARGET, 0, note);
    snprintf(key, sizeof(key), "%s_p99_ms", what);
    snprintf(label, sizeof(label), "%s, %zu connections: p99 latency",
             users ? "GET /account/whoami" : "GET /versions", nconns);
    bench_report_add(b, key, label, (double)bench_hist_pct(&r->h, 99) / 1000.0, "ms",
                     BENCH_NO_TARGET, 0, NULL);
    printf("  %-10s %5zu conns: %9.0f req/s  p50 %.2f ms  p99 %.2f ms  (server %.0f%%, gen "
           "%.0f%%, other %.0f%%)\n",
           users ? "whoami" : "versions", nconns, rps, bench_hist_pct(&r->h, 50) / 1000.0,
           bench_hist_pct(&r->h, 99) / 1000.0, srv, gen, b->last_other);
    fflush(stdout);
out:
    bench_close_all(b, conns, nconns);
    free(conns);
    free(slots);
    free(r);
    return rc;
}

int bench_scen_rate(struct bench *b)
{
    static const size_t counts[] = {100, 1000};
    int64_t window = b->o.full ? 10000 : 3000;
    struct bench_user *users = NULL;
    int rc;

    printf("rate: GET /versions and /account/whoami, closed loop, %lld s windows\n",
           (long long)window / 1000);
    if ((rc = bench_start(b, "test", 2000)) != BALAI_OK)
        return rc;
    rc = bench_users_make(b, "rate", TOKEN_USERS, &users);
    for (size_t i = 0; rc == BALAI_OK && i < BALAI_ARRAY_LEN(counts); i++) {
        char what[32];
        snprintf(what, sizeof(what), "versions_%zu", counts[i]);
        rc = rate_one(b, what, "/_matrix/client/versions", NULL, counts[i], window);
        if (rc == BALAI_OK) {
            snprintf(what, sizeof(what), "whoami_%zu", counts[i]);
            rc = rate_one(b, what, "/_matrix/client/v3/account/whoami", users, counts[i], window);
        }
    }
    bench_users_free(users, TOKEN_USERS);
    bench_stop(b);
    return rc;
}
