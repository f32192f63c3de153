/* run.c: the server's lifecycle, bounded waits on the loop, opening many
 * connections, and batches of independent requests. */
#include "balai.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define CONNECTING_MAX 256
#define BATCH_RETRIES_MAX 10000

/* ---- server ---- */

static struct bench_server_opts server_opts(struct bench *b, const char *hash_cost, int64_t conns)
{
    struct bench_server_opts so = {
        .bin = b->o.bin,
        .hash_cost = hash_cost,
        .log_level = b->o.log_level,
        .max_connections = conns + 1000,
        .cpu = b->o.no_pin ? -1 : BENCH_SERVER_CPU,
        .keep = b->o.keep,
    };
    return so;
}

int bench_start(struct bench *b, const char *hash_cost, int64_t conns)
{
    struct bench_server_opts so = server_opts(b, hash_cost, conns);
    int rc = bench_server_start(&b->srv, &so);
    if (rc != BALAI_OK)
        bench_server_stop(&b->srv);
    return rc;
}

int bench_restart(struct bench *b, const char *hash_cost, int64_t conns)
{
    struct bench_server_opts so = server_opts(b, hash_cost, conns);
    return bench_server_restart(&b->srv, &so);
}

void bench_stop(struct bench *b)
{
    bench_server_stop(&b->srv);
}

int bench_sample(struct bench *b, struct bench_proc_sample *s)
{
    if (b->srv.pid <= 0) {
        memset(s, 0, sizeof(*s));
        return BALAI_EIO;
    }
    return bench_proc_sample(b->srv.pid, s);
}

int64_t bench_rss_settled(struct bench *b, int n, int64_t gap_ms)
{
    int64_t sum = 0;
    int got = 0;
    for (int i = 0; i < n; i++) {
        struct bench_proc_sample s;
        if (i > 0 && bench_sleep(b, gap_ms) != BALAI_OK)
            break;
        if (bench_sample(b, &s) == BALAI_OK) {
            sum += s.rss_kib;
            got++;
        }
    }
    return got ? sum / got : 0;
}

void bench_cpu_mark(struct bench *b, struct bench_cpu *m)
{
    struct bench_proc_sample s;
    m->t_ns = bench_now_ns();
    m->srv_us = bench_sample(b, &s) == BALAI_OK ? s.cpu_us : 0;
    m->gen_us = bench_self_cpu_us();
    m->all_us = bench_system_busy_us();
}

void bench_cpu_since(struct bench *b, const struct bench_cpu *m, double *srv_pct, double *gen_pct)
{
    struct bench_cpu now;
    bench_cpu_mark(b, &now);
    double wall_us = (double)(now.t_ns - m->t_ns) / 1000.0;
    if (wall_us <= 0)
        wall_us = 1;
    *srv_pct = 100.0 * (double)(now.srv_us - m->srv_us) / wall_us;
    *gen_pct = 100.0 * (double)(now.gen_us - m->gen_us) / wall_us;
    double other = 100.0 * (double)(now.all_us - m->all_us) / wall_us - *srv_pct - *gen_pct;
    b->last_other = other > 0 ? other : 0;
    if (b->last_other > b->other_max)
        b->other_max = b->last_other;
}

/* ---- waiting ---- */

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

int bench_wait(struct bench *b, const size_t *pending, int64_t timeout_ms)
{
    int64_t deadline = bench_now_ns() + timeout_ms * 1000000;
    int rc = BALAI_OK;

    uv_timer_start(&b->tick, on_tick, 10, 10);
    while (!pending || *pending > 0) {
        if (b->stop) {
            rc = BALAI_ECLOSED;
            break;
        }
        if (bench_now_ns() >= deadline) {
            rc = pending ? BALAI_ETIMEOUT : BALAI_OK;
            break;
        }
        uv_run(b->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&b->tick);
    return rc;
}

int bench_sleep(struct bench *b, int64_t ms)
{
    return bench_wait(b, NULL, ms);
}

/* ---- opening connections ---- */

struct opening {
    struct bench *b;
    struct bench_conn **conns;
    size_t n, next, connecting, remaining, ok;
    struct sockaddr_in *src;
    int nsrc;
};

static void launch(struct opening *op);

static void on_opened(struct bench_conn *c, int rc, void *arg)
{
    struct opening *op = arg;
    size_t i = (size_t)(uintptr_t)bench_conn_data(c);
    op->connecting--;
    op->remaining--;
    if (rc != 0) {
        bench_conn_close(c);
        op->conns[i] = NULL;
    } else {
        op->ok++;
    }
    bench_conn_set_data(c, NULL);
    launch(op);
}

static void launch(struct opening *op)
{
    while (op->connecting < CONNECTING_MAX && op->next < op->n) {
        size_t i = op->next++;
        const struct sockaddr_in *src = op->nsrc ? &op->src[i % (size_t)op->nsrc] : NULL;
        struct bench_conn *c = bench_conn_tcp(op->b->loop, &op->b->srv.addr, src, on_opened, op);
        op->conns[i] = c;
        if (!c) {
            op->remaining--;
            continue;
        }
        bench_conn_set_data(c, (void *)(uintptr_t)i);
        op->connecting++;
    }
}

size_t bench_open(struct bench *b, struct bench_conn **conns, size_t n, int64_t timeout_ms)
{
    struct opening op = {.b = b, .conns = conns, .n = n, .remaining = n};
    int nsrc = b->o.src_addrs;
    if (nsrc <= 0 && n > BENCH_SRC_SPLIT)
        nsrc = (int)((n + BENCH_SRC_SPLIT - 1) / BENCH_SRC_SPLIT);
    if (nsrc > 250)
        nsrc = 250;
    if (nsrc > 0) {
        op.nsrc = nsrc;
        op.src = balai_calloc((size_t)nsrc, sizeof(*op.src));
        for (int k = 0; k < nsrc; k++) {
            op.src[k].sin_family = AF_INET;
            op.src[k].sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(k + 1));
        }
    }
    launch(&op);
    int rc = bench_wait(b, &op.remaining, timeout_ms);
    if (rc != BALAI_OK) {
        /* stragglers: close them; their callbacks see the cancel */
        for (size_t i = 0; i < n; i++) {
            if (conns[i] && !bench_conn_alive(conns[i])) {
                bench_conn_close(conns[i]);
                conns[i] = NULL;
            }
        }
        for (size_t i = op.next; i < n; i++)
            conns[i] = NULL;
        /* run the cancelled connect callbacks before `op` goes away */
        op.next = n;
        uv_run(b->loop, UV_RUN_NOWAIT);
        op.ok = 0;
        for (size_t i = 0; i < n; i++)
            op.ok += conns[i] != NULL;
    }
    free(op.src);
    return op.ok;
}

void bench_close_all(struct bench *b, struct bench_conn **conns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bench_conn_close(conns[i]);
        conns[i] = NULL;
    }
    uv_run(b->loop, UV_RUN_NOWAIT);
}

/* ---- batches ---- */

struct batch_run {
    struct bench *b;
    const struct bench_batch *bt;
    struct bench_conn **conns;
    size_t *cur; /* item each connection is working on */
    size_t next, remaining, failed, retries;
    size_t *retry;
    size_t nretry;
    size_t alive;
    struct bench_reqspec rq;
};

static void batch_issue(struct batch_run *r, struct bench_conn *c);

static size_t conn_slot(struct bench_conn *c)
{
    return (size_t)(uintptr_t)bench_conn_data(c);
}

static void batch_fail(struct batch_run *r, size_t i, int status, const char *body, size_t len)
{
    if (r->failed++ == 0)
        fprintf(stderr, "balai-bench: %s: item %zu failed: status %d: %.*s\n", r->bt->what, i,
                status, (int)(len > 300 ? 300 : len), body);
    r->remaining--;
}

/* A connection died: close it; when none is left, fail what remains. */
static void conn_lost(struct batch_run *r, struct bench_conn *c)
{
    r->alive--;
    r->conns[conn_slot(c)] = NULL;
    bench_conn_close(c);
    if (r->alive > 0)
        return;
    while (r->next < r->bt->n || r->nretry) {
        size_t k = r->nretry ? r->retry[--r->nretry] : r->next++;
        batch_fail(r, k, BALAI_ECLOSED, "no connection left", 18);
    }
}

static void on_batch_done(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct batch_run *r = arg;
    size_t slot = conn_slot(c);
    size_t i = r->cur[slot];

    if (status == 429 && r->retries < BATCH_RETRIES_MAX) {
        r->retries++;
        r->retry[r->nretry++] = i;
    } else if (status < 0) {
        batch_fail(r, i, status, body, len);
    } else if (r->bt->take(r->bt->arg, i, status, body, len) < 0) {
        batch_fail(r, i, status, body, len);
    } else {
        r->remaining--;
    }
    if (status < 0) {
        conn_lost(r, c);
        return;
    }
    batch_issue(r, c);
}

static void batch_issue(struct batch_run *r, struct bench_conn *c)
{
    size_t slot = conn_slot(c);
    size_t i;
    if (r->nretry)
        i = r->retry[--r->nretry];
    else if (r->next < r->bt->n)
        i = r->next++;
    else
        return;
    r->cur[slot] = i;
    r->rq.method = "GET";
    r->rq.token = NULL;
    balai_buf_reset(&r->rq.target);
    balai_buf_reset(&r->rq.body);
    r->bt->make(r->bt->arg, i, &r->rq);
    int rc = bench_conn_request(c, r->rq.method, r->rq.target.data, r->rq.token,
                                r->rq.body.len ? r->rq.body.data : NULL, r->rq.body.len,
                                on_batch_done, r);
    if (rc != BALAI_OK)
        on_batch_done(c, BALAI_ECLOSED, "", 0, r);
}

static void on_batch_open(struct bench_conn *c, int rc, void *arg)
{
    struct batch_run *r = arg;
    if (rc != 0) {
        conn_lost(r, c);
        return;
    }
    batch_issue(r, c);
}

int bench_batch_run(struct bench *b, const struct bench_batch *bt, int64_t timeout_ms)
{
    struct batch_run r;
    size_t p = (size_t)(bt->parallel > 0 ? bt->parallel : 1);
    int rc;

    if (bt->n == 0)
        return BALAI_OK;
    if (p > bt->n)
        p = bt->n;
    memset(&r, 0, sizeof(r));
    r.b = b;
    r.bt = bt;
    r.remaining = bt->n;
    r.conns = balai_calloc(p, sizeof(*r.conns));
    r.cur = balai_calloc(p, sizeof(*r.cur));
    r.retry = balai_calloc(bt->n, sizeof(*r.retry));
    balai_buf_init(&r.rq.target, 0);
    balai_buf_init(&r.rq.body, 0);
    r.alive = p;
    for (size_t k = 0; k < p; k++) {
        struct bench_conn *c = bt->unix_socket
                                   ? bench_conn_unix(b->loop, b->srv.sock_path, on_batch_open, &r)
                                   : bench_conn_tcp(b->loop, &b->srv.addr, NULL, on_batch_open, &r);
        r.conns[k] = c;
        if (!c) {
            r.alive--;
            continue;
        }
        bench_conn_set_data(c, (void *)(uintptr_t)k);
    }
    if (r.alive == 0) {
        fprintf(stderr, "balai-bench: %s: cannot connect to the server\n", bt->what);
        rc = BALAI_EIO;
        goto out;
    }
    rc = bench_wait(b, &r.remaining, timeout_ms);
    if (rc == BALAI_ETIMEOUT)
        fprintf(stderr, "balai-bench: %s: %zu of %zu not done after %lld ms\n", bt->what,
                r.remaining, bt->n, (long long)timeout_ms);
    else if (rc == BALAI_OK && r.failed)
        rc = BALAI_EIO;
out:
    bench_close_all(b, r.conns, p);
    balai_buf_release(&r.rq.target);
    balai_buf_release(&r.rq.body);
    free(r.conns);
    free(r.cur);
    free(r.retry);
    return rc;
}
