/* scen_send.c: durable sends per second.
 *
 * C clients, four to a room, each PUT /rooms/{id}/send/m.room.message/{txn}
 * the next message as soon as the previous one is answered (an answer
 * means the event is committed: the store's group commit with fsync).
 * Nobody syncs, so this measures the write path alone. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define PER_ROOM 4
#define WARMUP_MS 1000

struct send_slot {
    struct send_run *r;
    const struct bench_user *u;
    char *path_prefix; /* /_matrix/client/v3/rooms/ENC/send/m.room.message/ */
    uint64_t seq;
    int64_t t0;
};

struct send_run {
    int measuring, stopping;
    uint64_t done, errors;
    size_t in_flight;
    struct bench_hist h;
};

static void send_issue(struct bench_conn *c, struct send_slot *s);

static void on_send_done(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct send_slot *s = arg;
    struct send_run *r = s->r;
    r->in_flight--;
    if (r->measuring) {
        if (status == 200) {
            r->done++;
            bench_hist_add(&r->h, (uint64_t)(bench_now_ns() - s->t0) / 1000);
        } else if (r->errors++ == 0) {
            fprintf(stderr, "balai-bench: send: status %d: %.*s\n", status,
                    (int)(len > 200 ? 200 : len), body);
        }
    }
    if (status < 0 || r->stopping)
        return;
    send_issue(c, s);
}

static void send_issue(struct bench_conn *c, struct send_slot *s)
{
    char target[512], body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"msgtype\":\"m.text\",\"body\":\"send %llu from %s: the quick brown fox "
                     "jumps over the lazy dog\"}",
                     (unsigned long long)s->seq, s->u->name);
    snprintf(target, sizeof(target), "%ss%llu", s->path_prefix, (unsigned long long)s->seq++);
    s->t0 = bench_now_ns();
    if (bench_conn_request(c, "PUT", target, s->u->token, body, (size_t)n, on_send_done, s) ==
        BALAI_OK)
        s->r->in_flight++;
}

int bench_scen_send(struct bench *b)
{
    size_t n = b->o.full ? 256 : 64;
    size_t nrooms = (n + PER_ROOM - 1) / PER_ROOM;
    int64_t window = b->o.full ? 15000 : 5000;
    struct bench_user *users = NULL;
    struct bench_user **creators = balai_calloc(nrooms, sizeof(*creators));
    struct bench_user **joiners = balai_calloc(n, sizeof(*joiners));
    char **rooms = balai_calloc(nrooms, sizeof(*rooms));
    char **join_rooms = balai_calloc(n, sizeof(*join_rooms));
    struct bench_conn **conns = balai_calloc(n, sizeof(*conns));
    struct send_slot *slots = balai_calloc(n, sizeof(*slots));
    struct send_run *r = balai_calloc(1, sizeof(*r));
    struct bench_cpu cpu;
    double srv = 0, gen = 0;
    size_t njoin = 0;
    char note[200], label[128];
    int rc;

    printf("send: %zu clients in %zu rooms, closed loop, %lld s window\n", n, nrooms,
           (long long)window / 1000);
    fflush(stdout);
    if ((rc = bench_start(b, "test", (int64_t)n * 2)) != BALAI_OK)
        goto out;
    if ((rc = bench_users_make(b, "send", n, &users)) != BALAI_OK)
        goto out;
    for (size_t k = 0; k < nrooms; k++)
        creators[k] = &users[k * PER_ROOM];
    if ((rc = bench_rooms_create(b, creators, nrooms, rooms)) != BALAI_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i % PER_ROOM == 0)
            continue;
        joiners[njoin] = &users[i];
        join_rooms[njoin++] = rooms[i / PER_ROOM];
    }
    if ((rc = bench_rooms_join(b, joiners, join_rooms, njoin)) != BALAI_OK)
        goto out;
    if (bench_open(b, conns, n, 30000) < n) {
        rc = BALAI_EIO;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char *enc = bench_urlenc(rooms[i / PER_ROOM]);
        slots[i].r = r;
        slots[i].u = &users[i];
        slots[i].path_prefix =
            balai_asprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/", enc);
        free(enc);
        send_issue(conns[i], &slots[i]);
    }
    if ((rc = bench_sleep(b, WARMUP_MS)) != BALAI_OK)
        goto out;
    bench_cpu_mark(b, &cpu);
    r->measuring = 1;
    if ((rc = bench_sleep(b, window)) != BALAI_OK)
        goto out;
    r->measuring = 0;
    bench_cpu_since(b, &cpu, &srv, &gen);
    r->stopping = 1;
    (void)bench_wait(b, &r->in_flight, 10000);

    double rate = (double)r->done * 1000.0 / (double)window;
    printf("  %.0f sends/s  p50 %.2f ms  p99 %.2f ms  (server %.0f%%, gen %.0f%%, other %.0f%%, "
           "%llu errors)\n",
           rate, bench_hist_pct(&r->h, 50) / 1000.0, bench_hist_pct(&r->h, 99) / 1000.0, srv, gen,
           b->last_other, (unsigned long long)r->errors);
    json_t *o = bench_scenario_json(b, "send");
    json_object_set_new(o, "clients", json_integer((json_int_t)n));
    json_object_set_new(o, "rooms", json_integer((json_int_t)nrooms));
    json_object_set_new(o, "sends_per_s", json_real(rate));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "latency", bench_hist_json(&r->h));
    json_object_set_new(o, "server_cpu_pct", json_real(srv));
    json_object_set_new(o, "generator_cpu_pct", json_real(gen));
    json_object_set_new(o, "other_cpu_pct", json_real(b->last_other));
    snprintf(note, sizeof(note),
             "%zu clients, %zu rooms; p50 %.2f ms, p99 %.2f ms; server CPU %.0f%%, generator "
             "%.0f%%, other %.0f%%",
             n, nrooms, bench_hist_pct(&r->h, 50) / 1000.0, bench_hist_pct(&r->h, 99) / 1000.0, srv,
             gen, b->last_other);
    snprintf(label, sizeof(label), "durable sends (fsync, group commit), %zu clients", n);
    bench_report_add(b, "send_per_s", label, rate, "/s", BENCH_AT_LEAST, 20000, note);
out:
    bench_close_all(b, conns, n);
    for (size_t i = 0; i < n; i++)
        free(slots[i].path_prefix);
    for (size_t k = 0; k < nrooms; k++)
        free(rooms[k]);
    free(rooms);
    free(join_rooms);
    free(creators);
    free(joiners);
    free(conns);
    free(slots);
    free(r);
    bench_users_free(users, n);
    bench_stop(b);
    return rc;
}
