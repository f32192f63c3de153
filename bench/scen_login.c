/* scen_login.c: login rate with the production password hash.
 *
 * The server hashes with Argon2id 'moderate' (libsodium: 256 MiB, 3
 * passes), as deployed. A few users log in again and again, each on its
 * own connection, for a fixed window; every login verifies the hash and
 * stores a new device and token. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

struct login_slot {
    struct login_run *r;
    const struct bench_user *u;
    int64_t t0;
};

struct login_run {
    int stopping;
    uint64_t done, errors;
    size_t in_flight;
    struct bench_hist h;
};

static void login_issue(struct bench_conn *c, struct login_slot *s);

static void on_login_done(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct login_slot *s = arg;
    struct login_run *r = s->r;
    r->in_flight--;
    if (status == 200) {
        r->done++;
        bench_hist_add(&r->h, (uint64_t)(bench_now_ns() - s->t0) / 1000);
    } else if (r->errors++ == 0) {
        fprintf(stderr, "balai-bench: login: status %d: %.*s\n", status,
                (int)(len > 200 ? 200 : len), body);
    }
    if (status < 0 || r->stopping)
        return;
    login_issue(c, s);
}

static void login_issue(struct bench_conn *c, struct login_slot *s)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                     "\"user\":\"%s\"},\"password\":\"bench-pass-%s\"}",
                     s->u->name, s->u->name);
    s->t0 = bench_now_ns();
    if (bench_conn_request(c, "POST", "/_matrix/client/v3/login", NULL, body, (size_t)n,
                           on_login_done, s) == BALAI_OK)
        s->r->in_flight++;
}

int bench_scen_login(struct bench *b)
{
    size_t n = 4;
    int64_t window = b->o.full ? 30000 : 8000;
    struct bench_user *users = NULL;
    struct bench_conn **conns = balai_calloc(n, sizeof(*conns));
    struct login_slot *slots = balai_calloc(n, sizeof(*slots));
    struct login_run *r = balai_calloc(1, sizeof(*r));
    struct bench_cpu cpu;
    struct bench_proc_sample ps;
    double srv = 0, gen = 0;
    char note[200];
    int rc;

    printf("login: %zu clients logging in again and again, Argon2id moderate, %lld s\n", n,
           (long long)window / 1000);
    fflush(stdout);
    if ((rc = bench_start(b, "moderate", 100)) != BALAI_OK)
        goto out;
    if ((rc = bench_users_make(b, "login", n, &users)) != BALAI_OK)
        goto out;
    if (bench_open(b, conns, n, 30000) < n) {
        rc = BALAI_EIO;
        goto out;
    }
    bench_cpu_mark(b, &cpu);
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        slots[i].r = r;
        slots[i].u = &users[i];
        login_issue(conns[i], &slots[i]);
    }
    if ((rc = bench_sleep(b, window)) != BALAI_OK)
        goto out;
    r->stopping = 1;
    (void)bench_wait(b, &r->in_flight, 30000);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    bench_cpu_since(b, &cpu, &srv, &gen);
    (void)bench_sample(b, &ps);

    double rate = (double)r->done / secs;
    printf("  %.2f logins/s  p50 %.0f ms  p99 %.0f ms  (server %.0f%%, peak RSS %.0f MB, %llu "
           "errors)\n",
           rate, bench_hist_pct(&r->h, 50) / 1000.0, bench_hist_pct(&r->h, 99) / 1000.0, srv,
           ps.hwm_kib * 1024.0 / 1e6, (unsigned long long)r->errors);
    json_t *o = bench_scenario_json(b, "login");
    json_object_set_new(o, "clients", json_integer((json_int_t)n));
    json_object_set_new(o, "logins", json_integer((json_int_t)r->done));
    json_object_set_new(o, "seconds", json_real(secs));
    json_object_set_new(o, "logins_per_s", json_real(rate));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "latency", bench_hist_json(&r->h));
    json_object_set_new(o, "server_cpu_pct", json_real(srv));
    json_object_set_new(o, "other_cpu_pct", json_real(b->last_other));
    json_object_set_new(o, "server_peak_rss_kib", json_integer(ps.hwm_kib));
    snprintf(note, sizeof(note),
             "%llu logins in %.1f s, %zu concurrent; p50 %.0f ms; server CPU %.0f%%, peak RSS "
             "%.0f MB",
             (unsigned long long)r->done, secs, n, bench_hist_pct(&r->h, 50) / 1000.0, srv,
             ps.hwm_kib * 1024.0 / 1e6);
    bench_report_add(b, "login_per_s", "logins/s, Argon2id 'moderate' (256 MiB, 3 passes)", rate,
                     "/s", BENCH_NO_TARGET, 0, note);
out:
    bench_close_all(b, conns, n);
    free(conns);
    free(slots);
    free(r);
    bench_users_free(users, n);
    bench_stop(b);
    return rc;
}
