/* bench.h: shared state of balai-bench and the helpers every scenario uses.
 *
 * A scenario is a plain sequential function: it starts a fresh server,
 * issues asynchronous requests and drives the one libuv loop with
 * bench_wait / bench_sleep until they are done, then records figures with
 * bench_report_add and raw detail in its JSON object. Every wait is bounded;
 * an interrupt (SIGINT, SIGTERM) makes every wait return BALAI_ECLOSED so
 * the scenario unwinds and the server is stopped. Loop thread only. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"
#include "hist.h"
#include "proc.h"
#include "util/buf.h"

#define BENCH_SERVER_CPU 0
#define BENCH_GEN_CPU 1
/* one 127.0.0.x source address per this many client connections: the
 * kernel's ephemeral-port search slows once an address's range is half
 * used, and past ~28,000 one address cannot hold them at all */
#define BENCH_SRC_SPLIT 5000

struct bench_opts {
    const char *bin;       /* the balai binary */
    const char *json_path; /* where results go; NULL: nowhere */
    int full;              /* full-size runs instead of the quick set */
    int keep;              /* keep each server's data directory */
    int no_pin;            /* do not pin server and generator */
    int src_addrs;         /* force this many 127.0.0.x source addresses (0: automatic) */
    int64_t max_seconds;   /* hard bound on the whole run */
    int64_t idle_clients;  /* override of the idle scenario's N (0: default) */
    const char *log_level; /* the server's log level */
};

struct bench_row;

struct bench {
    uv_loop_t *loop;
    struct bench_opts o;
    struct bench_server srv;    /* the current scenario's server */
    uv_timer_t tick;            /* wakes the loop while a wait is bounded */
    int64_t nofile;             /* our RLIMIT_NOFILE after raising it */
    volatile sig_atomic_t stop; /* set on SIGINT/SIGTERM */
    json_t *json;               /* {"scenarios": {...}, "table": [...], ...}; owned */
    double last_other;          /* other processes' CPU % in the last window */
    double other_max;           /* the highest of those */
    struct bench_row *rows;
    size_t nrows;
};

/* ---- server ---- */

/* Starts a fresh server in b->srv with the given password-hash cost
 * ("test" or "moderate"), sized for `conns` client connections. On failure
 * the reason is printed and nothing is left running. */
int bench_start(struct bench *b, const char *hash_cost, int64_t conns);
/* Restarts the current server on its data directory (memory caches cold;
 * open connections are lost). */
int bench_restart(struct bench *b, const char *hash_cost, int64_t conns);
/* Stops the current server and removes its directory; a no-op when none
 * runs, so every scenario calls it on every path. */
void bench_stop(struct bench *b);
/* Samples the server (RSS, CPU). Returns 0 or BALAI_EIO. */
int bench_sample(struct bench *b, struct bench_proc_sample *s);
/* Server RSS in KiB, the mean of `n` samples `gap_ms` apart. */
int64_t bench_rss_settled(struct bench *b, int n, int64_t gap_ms);

/* CPU use of server and generator over a window. */
struct bench_cpu {
    int64_t t_ns, srv_us, gen_us, all_us;
};
void bench_cpu_mark(struct bench *b, struct bench_cpu *m);
/* Percent of one core each used since `m`. The CPU everything else on the
 * machine used meanwhile goes to b->last_other (and b->other_max), so a
 * disturbed measurement is visible. */
void bench_cpu_since(struct bench *b, const struct bench_cpu *m, double *srv_pct, double *gen_pct);

/* ---- driving the loop ---- */

/* Runs the loop until *pending is 0, `timeout_ms` passes (BALAI_ETIMEOUT)
 * or the run is interrupted (BALAI_ECLOSED). */
int bench_wait(struct bench *b, const size_t *pending, int64_t timeout_ms);
/* Runs the loop for `ms` milliseconds. BALAI_ECLOSED when interrupted. */
int bench_sleep(struct bench *b, int64_t ms);

/* ---- connections ---- */

/* Opens n TCP connections to the server, at most 256 connecting at a time,
 * from one 127.0.0.x source address per BENCH_SRC_SPLIT. conns[i]
 * is NULL where connecting failed. Returns how many opened. */
size_t bench_open(struct bench *b, struct bench_conn **conns, size_t n, int64_t timeout_ms);
/* Closes conns[0..n) and lets libuv release them. */
void bench_close_all(struct bench *b, struct bench_conn **conns, size_t n);

/* ---- batches: many independent requests over a pool of connections ---- */

struct bench_reqspec {
    const char *method;
    struct balai_buf target;
    const char *token;     /* borrowed */
    struct balai_buf body; /* empty: no body */
};

struct bench_batch {
    const char *what; /* for error messages: "create users" */
    size_t n;         /* items 0..n-1 */
    int parallel;     /* connections */
    int unix_socket;  /* over the admin socket instead of TCP */
    /* Fills the request for item i (rq is reset before each call). */
    void (*make)(void *arg, size_t i, struct bench_reqspec *rq);
    /* Takes item i's response; returns 0, or negative to count a failure. */
    int (*take)(void *arg, size_t i, int status, const char *body, size_t len);
    void *arg;
};

/* Runs the batch to completion. Returns 0, or BALAI_EIO when any item
 * failed (the first failure is printed), BALAI_ETIMEOUT, BALAI_ECLOSED. */
int bench_batch_run(struct bench *b, const struct bench_batch *bt, int64_t timeout_ms);

/* ---- Matrix helpers ---- */

struct bench_user {
    char *name;    /* localpart */
    char *user_id; /* @name:server */
    char *token;   /* access token */
};

/* Creates n users "<prefix>NNNNNN" through the admin socket and logs each
 * in. Returns a new array in *out (free with bench_users_free). */
int bench_users_make(struct bench *b, const char *prefix, size_t n, struct bench_user **out);
void bench_users_free(struct bench_user *u, size_t n);

/* Creates n public rooms, rooms[i] by creators[i]; each rooms[i] becomes a
 * new string (caller frees). */
int bench_rooms_create(struct bench *b, struct bench_user **creators, size_t n, char **rooms);
/* Makes users[i] join rooms[i] for i in 0..n-1. */
int bench_rooms_join(struct bench *b, struct bench_user **users, char **rooms, size_t n);

/* Percent-encodes s for a URL path segment or query value. Caller frees. */
char *bench_urlenc(const char *s);
/* Finds "next_batch" in a /sync body; copies it into out. Returns 0 or BALAI_ENOTFOUND. */
int bench_next_batch(const char *body, size_t len, char *out, size_t outlen);

/* ---- results ---- */

enum bench_goal {
    BENCH_NO_TARGET = 0,
    BENCH_AT_LEAST = 1, /* measured >= target meets it */
    BENCH_AT_MOST = 2,  /* measured <= target meets it */
};

/* Records one figure for the table and the JSON. `unit` is one of "KiB",
 * "MB", "/s", "ms", "%", "" (a count). `note` may be NULL. */
void bench_report_add(struct bench *b, const char *key, const char *label, double value,
                      const char *unit, enum bench_goal goal, double target, const char *note);
/* The scenario's JSON object (created on first use; borrowed). */
json_t *bench_scenario_json(struct bench *b, const char *name);
/* Prints the table to stdout. */
void bench_report_print(const struct bench *b);
/* Adds the table to the JSON and writes it to o.json_path, and the table as
 * Markdown beside it (latest.json -> latest.md), for docs/performance.md. */
int bench_report_write(struct bench *b);
void bench_report_free(struct bench *b);
/* JSON for a latency histogram: {count, p50_ms, p99_ms, p999_ms, max_ms, mean_ms}. */
json_t *bench_hist_json(const struct bench_hist *h);

/* ---- scenarios ---- */

int bench_scen_rate(struct bench *b);
int bench_scen_idle(struct bench *b);
int bench_scen_fanout(struct bench *b);
int bench_scen_dm(struct bench *b);
int bench_scen_send(struct bench *b);
int bench_scen_login(struct bench *b);
int bench_scen_sync(struct bench *b);

#endif
