/* scen_sync.c: /sync response time for a user in many rooms.
 *
 * One user joins R rooms (100) in which another user posted M messages
 * each. Then, on one keep-alive connection, one request at a time:
 *   warm  initial /sync?timeout=0 repeated: every event's client form is
 *         already serialised and every room is in memory;
 *   quiet /sync?since=<next_batch>&timeout=0 with nothing new;
 *   cold  the first initial /sync after a server restart (rooms and their
 *         recent timelines are loaded at start; nothing is serialised
 *         yet), over several restarts.
 * Figures: median and maximum of each, and the response size. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define MSG_PARALLEL 32

struct sync_run {
    struct bench *b;
    size_t pending;
    int status;
    size_t len;
    char next[256];
    int64_t t0, took_ns;
};

struct msgs_ctx {
    struct bench_user *sender;
    char **rooms;
    size_t per_room;
};

static void make_msg(void *arg, size_t i, struct bench_reqspec *rq)
{
    struct msgs_ctx *x = arg;
    char *enc = bench_urlenc(x->rooms[i / x->per_room]);
    rq->method = "PUT";
    balai_buf_printf(&rq->target, "/_matrix/client/v3/rooms/%s/send/m.room.message/m%zu", enc, i);
    balai_buf_printf(&rq->body,
                     "{\"msgtype\":\"m.text\",\"body\":\"message %zu: the ward round starts at "
                     "seven, bring the charts for beds 3 to 9\"}",
                     i);
    rq->token = x->sender->token;
    free(enc);
}

static int take_msg(void *arg, size_t i, int status, const char *body, size_t len)
{
    (void)arg;
    (void)i;
    (void)body;
    (void)len;
    return status == 200 ? 0 : BALAI_EIO;
}

static void on_sync(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct sync_run *r = arg;
    (void)c;
    r->took_ns = bench_now_ns() - r->t0;
    r->status = status;
    r->len = len;
    if (status != 200 || bench_next_batch(body, len, r->next, sizeof(r->next)) != BALAI_OK) {
        r->status = status == 200 ? BALAI_EINVAL : status;
        fprintf(stderr, "balai-bench: sync: /sync failed: %d %.*s\n", status,
                (int)(len > 200 ? 200 : len), body);
    }
    r->pending = 0;
}

static void on_open(struct bench_conn *c, int rc, void *arg)
{
    struct sync_run *r = arg;
    (void)c;
    r->status = rc;
    r->pending = 0;
}

/* Opens one connection to the current server. */
static struct bench_conn *open_one(struct bench *b, struct sync_run *r)
{
    r->pending = 1;
    struct bench_conn *c = bench_conn_tcp(b->loop, &b->srv.addr, NULL, on_open, r);
    if (!c)
        return NULL;
    if (bench_wait(b, &r->pending, 10000) != BALAI_OK || r->status != 0) {
        bench_conn_close(c);
        return NULL;
    }
    return c;
}

/* One /sync; its time in ns goes to *ns. */
static int sync_once(struct bench *b, struct bench_conn *c, struct sync_run *r, const char *token,
                     const char *since, int64_t *ns)
{
    char target[400];
    if (since)
        snprintf(target, sizeof(target), "/_matrix/client/v3/sync?timeout=0&since=%s", since);
    else
        snprintf(target, sizeof(target), "/_matrix/client/v3/sync?timeout=0");
    r->pending = 1;
    r->t0 = bench_now_ns();
    if (bench_conn_request(c, "GET", target, token, NULL, 0, on_sync, r) != BALAI_OK)
        return BALAI_EIO;
    int rc = bench_wait(b, &r->pending, 30000);
    if (rc != BALAI_OK)
        return rc;
    if (r->status != 200)
        return BALAI_EIO;
    *ns = r->took_ns;
    return BALAI_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_ms(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return (double)v[n / 2] / 1e6;
}

int bench_scen_sync(struct bench *b)
{
    size_t nrooms = 100, per_room = b->o.full ? 50 : 20;
    size_t nwarm = b->o.full ? 50 : 20, ncold = b->o.full ? 5 : 3;
    struct bench_user *users = NULL;
    struct bench_user **creators = balai_calloc(nrooms, sizeof(*creators));
    struct bench_user **joiners = balai_calloc(nrooms, sizeof(*joiners));
    char **rooms = balai_calloc(nrooms, sizeof(*rooms));
    int64_t warm[64], quiet[64], cold[8];
    struct bench_conn *c = NULL;
    struct sync_run r;
    size_t warm_len = 0;
    char since[256], note[200];
    int rc;

    printf("sync: one user in %zu rooms of %zu messages each\n", nrooms, per_room);
    fflush(stdout);
    memset(&r, 0, sizeof(r));
    r.b = b;
    if ((rc = bench_start(b, "test", 100)) != BALAI_OK)
        goto out;
    if ((rc = bench_users_make(b, "sync", 2, &users)) != BALAI_OK)
        goto out;
    for (size_t i = 0; i < nrooms; i++) {
        creators[i] = &users[1];
        joiners[i] = &users[0];
    }
    if ((rc = bench_rooms_create(b, creators, nrooms, rooms)) != BALAI_OK)
        goto out;
    if ((rc = bench_rooms_join(b, joiners, rooms, nrooms)) != BALAI_OK)
        goto out;
    struct msgs_ctx mx = {&users[1], rooms, per_room};
    struct bench_batch bt = {"send messages", nrooms * per_room, MSG_PARALLEL, 0,
                             make_msg,        take_msg,          &mx};
    if ((rc = bench_batch_run(b, &bt, 120000)) != BALAI_OK)
        goto out;

    if (!(c = open_one(b, &r))) {
        rc = BALAI_EIO;
        goto out;
    }
    int64_t ns;
    if ((rc = sync_once(b, c, &r, users[0].token, NULL, &ns)) != BALAI_OK) /* warm-up */
        goto out;
    for (size_t i = 0; i < nwarm; i++) {
        if ((rc = sync_once(b, c, &r, users[0].token, NULL, &warm[i])) != BALAI_OK)
            goto out;
        warm_len = r.len;
    }
    snprintf(since, sizeof(since), "%s", r.next);
    for (size_t i = 0; i < nwarm; i++)
        if ((rc = sync_once(b, c, &r, users[0].token, since, &quiet[i])) != BALAI_OK)
            goto out;
    for (size_t i = 0; i < ncold; i++) {
        bench_conn_close(c);
        c = NULL;
        if ((rc = bench_restart(b, "test", 100)) != BALAI_OK)
            goto out;
        if (!(c = open_one(b, &r))) {
            rc = BALAI_EIO;
            goto out;
        }
        if ((rc = sync_once(b, c, &r, users[0].token, NULL, &cold[i])) != BALAI_OK)
            goto out;
    }

    double warm_med = median_ms(warm, nwarm), warm_max = (double)warm[nwarm - 1] / 1e6;
    double quiet_med = median_ms(quiet, nwarm);
    double cold_med = median_ms(cold, ncold), cold_max = (double)cold[ncold - 1] / 1e6;
    printf("  initial /sync, %zu KiB: warm median %.2f ms (max %.2f), cold median %.2f ms "
           "(max %.2f); incremental with nothing new %.3f ms\n",
           warm_len / 1024, warm_med, warm_max, cold_med, cold_max, quiet_med);
    fflush(stdout);

    json_t *o = bench_scenario_json(b, "sync");
    json_object_set_new(o, "rooms", json_integer((json_int_t)nrooms));
    json_object_set_new(o, "messages_per_room", json_integer((json_int_t)per_room));
    json_object_set_new(o, "response_bytes", json_integer((json_int_t)warm_len));
    json_object_set_new(o, "warm_median_ms", json_real(warm_med));
    json_object_set_new(o, "warm_max_ms", json_real(warm_max));
    json_object_set_new(o, "cold_median_ms", json_real(cold_med));
    json_object_set_new(o, "cold_max_ms", json_real(cold_max));
    json_object_set_new(o, "quiet_median_ms", json_real(quiet_med));
    snprintf(note, sizeof(note), "%zu rooms x %zu messages, %zu KiB response, %zu runs", nrooms,
             per_room, warm_len / 1024, nwarm);
    bench_report_add(b, "sync100_warm_ms", "initial /sync in 100 rooms, warm cache (median)",
                     warm_med, "ms", BENCH_NO_TARGET, 0, note);
    snprintf(note, sizeof(note), "first /sync after a restart, median of %zu restarts", ncold);
    bench_report_add(b, "sync100_cold_ms", "initial /sync in 100 rooms, cold cache (median)",
                     cold_med, "ms", BENCH_NO_TARGET, 0, note);
    bench_report_add(b, "sync100_quiet_ms", "incremental /sync in 100 rooms, nothing new (median)",
                     quiet_med, "ms", BENCH_NO_TARGET, 0, NULL);
out:
    bench_conn_close(c);
    bench_users_free(users, 2);
    for (size_t i = 0; i < nrooms; i++)
        free(rooms[i]);
    free(rooms);
    free(creators);
    free(joiners);
    bench_stop(b);
    return rc;
}
