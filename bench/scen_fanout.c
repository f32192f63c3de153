/* scen_fanout.c: fan-out to syncing members at stepped send rates; the
 * `fanout` (100- and 1,000-member rooms) and `dm` (many 1:1 rooms)
 * scenarios.
 *
 * Every member keeps one long-poll /sync going on its own connection
 * (since=next_batch&timeout=30000, a timeline limit of 100). A pool of
 * sender connections PUTs messages into the rooms at a paced rate; message
 * m goes to room m % rooms, from one of the room's first ten members. Its
 * body carries "bbm:<m>:<t>", t being the time the schedule meant it to be
 * sent (so a send delayed because no sender was free still counts from its
 * intended time). A delivery is one such body reaching one member's /sync;
 * its latency is receipt minus t.
 *
 * Each step offers `rate` messages/s for a warm-up (so that deliveries in
 * flight reach a steady state) and then a measured window, then waits
 * (bounded) for the backlog to drain. Achieved deliveries/s counts what
 * members received during the measured window. The rate grows by a factor per step
 * until a step is saturated: achieved deliveries below 90% of offered, a
 * backlog that does not drain, or sends that could not be issued. */
#include "balai.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define SYNC_TIMEOUT_MS 30000
#define SENDERS_PER_ROOM_MAX 10
#define MEMBER_ERRORS_MAX 50
#define PACE_MS 1
#define MARK "bbm:"

struct fo_msg {
    int64_t intended_ns;
    uint32_t expected;
    uint32_t got;
    uint16_t step;
};

struct fo_member {
    struct fo_run *r;
    const struct bench_user *u;
    struct bench_conn *c;
    size_t room;
    unsigned errors;
    int dead;
    char since[200];
};

struct fo_sender {
    struct fo_run *r;
    struct bench_conn *c;
    uint32_t msg;
    int64_t t0;
};

struct fo_step {
    double rate; /* messages/s offered */
    int64_t warmup_ms;
    int64_t window_ms;
    int64_t meas_t0, meas_t1; /* the measured window, ns */
    struct bench_cpu cpu;
    uint64_t due, issued, send_ok, send_err;
    uint64_t expected;  /* deliveries the issued messages should make */
    uint64_t delivered; /* of this step's messages, whenever they arrived */
    uint64_t in_window; /* deliveries (of any step) received in the measured window */
    uint64_t backlog_end;
    uint64_t backlog_after;
    uint64_t gaps;
    double drain_s;
    double srv_cpu, gen_cpu, other_cpu;
    int64_t srv_rss_kib;
    int saturated;
    struct bench_hist lat;  /* send -> one member's receipt */
    struct bench_hist last; /* send -> last member's receipt */
    struct bench_hist send; /* PUT answered */
};

struct fo_config {
    const char *name;  /* scenario key: "fanout100" */
    const char *title; /* "100-member room" */
    size_t rooms;
    size_t members; /* per room */
    size_t senders; /* sender connections */
    double rate0;   /* first step, messages/s */
    double factor;  /* growth per step */
    int max_steps;
    int64_t warmup_ms; /* per step, before measuring */
    int64_t window_ms; /* per step, measured */
    int64_t first_window_ms;
    int64_t drain_ms;
};

struct fo_run {
    struct bench *b;
    const struct fo_config *cfg;
    struct bench_user *users;
    size_t nusers;
    char **rooms;
    char **send_prefix; /* per room: /_matrix/client/v3/rooms/ENC/send/m.room.message/ */
    size_t *alive;      /* live members per room */
    struct fo_member *members;
    struct fo_sender *senders;
    size_t *free_senders;
    size_t nfree;
    struct fo_msg *msgs;
    size_t nmsgs, msgs_cap;
    struct fo_step *steps;
    size_t nsteps, cur;
    char *filter_q;
    size_t initial_pending;
    size_t sends_in_flight;
    size_t window_open; /* 1 while the current step is offering load */
    int measuring;      /* within the measured part of it */
    int64_t step_t0;
    uint64_t sync_errors, stray, dead_members, gaps;
    uv_timer_t pacer;
    int pacer_init;
};

/* ---- receiving ---- */

static void member_sync(struct fo_member *m);

static void scan_body(struct fo_run *r, const char *body, size_t len, int64_t now)
{
    const char *p = body, *end = body + len;
    while ((p = memmem(p, (size_t)(end - p), MARK, sizeof(MARK) - 1)) != NULL) {
        char *q;
        p += sizeof(MARK) - 1;
        unsigned long long id = strtoull(p, &q, 10);
        if (q == p || *q != ':' || id >= r->nmsgs) {
            r->stray++;
            continue;
        }
        struct fo_msg *msg = &r->msgs[id];
        if (msg->got >= msg->expected) {
            r->stray++;
            continue;
        }
        msg->got++;
        struct fo_step *st = &r->steps[msg->step];
        st->delivered++;
        if (r->measuring)
            r->steps[r->cur].in_window++;
        uint64_t us = now > msg->intended_ns ? (uint64_t)(now - msg->intended_ns) / 1000 : 0;
        bench_hist_add(&st->lat, us);
        if (msg->got == msg->expected)
            bench_hist_add(&st->last, us);
        p = q;
    }
    static const char limited[] = "\"limited\":true";
    for (p = body; (p = memmem(p, (size_t)(end - p), limited, sizeof(limited) - 1)) != NULL;
         p += sizeof(limited) - 1) {
        r->gaps++;
        r->steps[r->cur].gaps++;
    }
}

static void member_lost(struct fo_member *m)
{
    if (m->dead)
        return;
    m->dead = 1;
    m->r->alive[m->room]--;
    m->r->dead_members++;
}

static void on_member_sync(struct bench_conn *c, int status, const char *body, size_t len,
                           void *arg)
{
    struct fo_member *m = arg;
    struct fo_run *r = m->r;
    (void)c;
    if (status == 200) {
        if (r->nmsgs)
            scan_body(r, body, len, bench_now_ns());
        if (bench_next_batch(body, len, m->since, sizeof(m->since)) != BALAI_OK)
            status = 0;
    }
    if (status != 200) {
        if (r->sync_errors++ == 0)
            fprintf(stderr, "balai-bench: %s: /sync failed: %d %.*s\n", r->cfg->name, status,
                    (int)(len > 200 ? 200 : len), body);
        if (status < 0 || ++m->errors > MEMBER_ERRORS_MAX) {
            member_lost(m);
            return;
        }
    }
    member_sync(m);
}

static void member_sync(struct fo_member *m)
{
    char target[512];
    snprintf(target, sizeof(target), "/_matrix/client/v3/sync?since=%s&timeout=%d%s", m->since,
             SYNC_TIMEOUT_MS, m->r->filter_q);
    if (bench_conn_request(m->c, "GET", target, m->u->token, NULL, 0, on_member_sync, m) !=
        BALAI_OK)
        member_lost(m);
}

static void on_member_initial(struct bench_conn *c, int status, const char *body, size_t len,
                              void *arg)
{
    struct fo_member *m = arg;
    struct fo_run *r = m->r;
    (void)c;
    r->initial_pending--;
    if (status != 200 || bench_next_batch(body, len, m->since, sizeof(m->since)) != BALAI_OK) {
        if (r->sync_errors++ == 0)
            fprintf(stderr, "balai-bench: %s: initial /sync failed: %d %.*s\n", r->cfg->name,
                    status, (int)(len > 200 ? 200 : len), body);
        member_lost(m);
        return;
    }
    member_sync(m);
}

/* ---- sending ---- */

static void send_message(struct fo_run *r, struct fo_sender *s, int64_t intended);

static void on_sent(struct bench_conn *c, int status, const char *body, size_t len, void *arg)
{
    struct fo_sender *s = arg;
    struct fo_run *r = s->r;
    struct fo_msg *msg = &r->msgs[s->msg];
    struct fo_step *st = &r->steps[msg->step];
    (void)c;
    r->sends_in_flight--;
    if (status == 200) {
        st->send_ok++;
        bench_hist_add(&st->send, (uint64_t)(bench_now_ns() - s->t0) / 1000);
    } else {
        /* never stored: expect nothing from it */
        st->send_err++;
        st->expected -= msg->expected;
        msg->expected = 0;
        if (st->send_err == 1)
            fprintf(stderr, "balai-bench: %s: send failed: %d %.*s\n", r->cfg->name, status,
                    (int)(len > 200 ? 200 : len), body);
        if (status < 0)
            return; /* the sender is gone */
    }
    r->free_senders[r->nfree++] = (size_t)(s - r->senders);
}

static void send_message(struct fo_run *r, struct fo_sender *s, int64_t intended)
{
    const struct fo_config *cfg = r->cfg;
    struct fo_step *st = &r->steps[r->cur];
    char target[512], body[256];

    if (r->nmsgs == r->msgs_cap) {
        r->msgs_cap = r->msgs_cap ? r->msgs_cap * 2 : 4096;
        r->msgs = balai_realloc(r->msgs, r->msgs_cap * sizeof(*r->msgs));
    }
    uint32_t id = (uint32_t)r->nmsgs++;
    size_t room = id % cfg->rooms;
    size_t per = cfg->members < SENDERS_PER_ROOM_MAX ? cfg->members : SENDERS_PER_ROOM_MAX;
    const struct bench_user *u = &r->users[room * cfg->members + (id / cfg->rooms) % per];
    struct fo_msg *msg = &r->msgs[id];
    msg->intended_ns = intended;
    msg->expected = (uint32_t)r->alive[room];
    msg->got = 0;
    msg->step = (uint16_t)r->cur;
    st->expected += msg->expected;
    st->issued++;

    int n = snprintf(body, sizeof(body),
                     "{\"msgtype\":\"m.text\",\"body\":\"" MARK
                     "%u:%lld the quick brown fox jumps over the lazy dog\"}",
                     id, (long long)intended);
    snprintf(target, sizeof(target), "%sf%u", r->send_prefix[room], id);
    s->msg = id;
    s->t0 = bench_now_ns();
    if (bench_conn_request(s->c, "PUT", target, u->token, body, (size_t)n, on_sent, s) ==
        BALAI_OK) {
        r->sends_in_flight++;
    } else {
        st->send_err++;
        st->expected -= msg->expected;
        msg->expected = 0;
    }
}

static void on_pace(uv_timer_t *t)
{
    struct fo_run *r = t->data;
    struct fo_step *st = &r->steps[r->cur];
    if (!r->window_open)
        return;
    int64_t now = bench_now_ns();
    int64_t elapsed = now - r->step_t0;
    int64_t warmup_ns = st->warmup_ms * 1000000;
    int64_t window_ns = warmup_ns + st->window_ms * 1000000;
    int last = elapsed >= window_ns;
    if (last)
        elapsed = window_ns;
    if (!r->measuring && !st->meas_t0 && elapsed >= warmup_ns) {
        r->measuring = 1;
        st->meas_t0 = now;
        bench_cpu_mark(r->b, &st->cpu);
    }
    uint64_t due = (uint64_t)(st->rate * (double)elapsed / 1e9);
    st->due = due;
    while (st->issued < due && r->nfree > 0) {
        struct fo_sender *s = &r->senders[r->free_senders[--r->nfree]];
        int64_t intended = r->step_t0 + (int64_t)((double)st->issued * 1e9 / st->rate);
        send_message(r, s, intended);
    }
    if (last) {
        r->measuring = 0;
        st->meas_t1 = now;
        bench_cpu_since(r->b, &st->cpu, &st->srv_cpu, &st->gen_cpu);
        st->other_cpu = r->b->last_other;
        r->window_open = 0;
        uv_timer_stop(t);
    }
}

/* ---- steps ---- */

static double achieved_of(const struct fo_step *st)
{
    double secs = (double)(st->meas_t1 - st->meas_t0) / 1e9;
    return secs > 0 ? (double)st->in_window / secs : 0;
}

static json_t *step_json(const struct fo_step *st, size_t members)
{
    return json_pack("{s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:o, s:o, "
                     "s:o, s:f, s:f, s:f, s:I, s:b}",
                     "messages_per_s", st->rate, "offered_deliveries_per_s",
                     st->rate * (double)members, "achieved_deliveries_per_s", achieved_of(st),
                     "sends_due", (json_int_t)st->due, "sends_issued", (json_int_t)st->issued,
                     "sends_ok", (json_int_t)st->send_ok, "sends_failed", (json_int_t)st->send_err,
                     "backlog_at_window_end", (json_int_t)st->backlog_end, "backlog_after_drain",
                     (json_int_t)st->backlog_after, "timeline_gaps", (json_int_t)st->gaps,
                     "drain_s", st->drain_s, "window_ms", (json_int_t)st->window_ms, "warmup_ms",
                     (json_int_t)st->warmup_ms, "delivery_latency", bench_hist_json(&st->lat),
                     "last_member_latency", bench_hist_json(&st->last), "send_latency",
                     bench_hist_json(&st->send), "server_cpu_pct", st->srv_cpu, "generator_cpu_pct",
                     st->gen_cpu, "other_cpu_pct", st->other_cpu, "server_rss_kib",
                     (json_int_t)st->srv_rss_kib, "saturated", st->saturated);
}

static int run_step(struct fo_run *r, double rate, int64_t window_ms)
{
    struct bench *b = r->b;
    const struct fo_config *cfg = r->cfg;
    struct fo_step *st = &r->steps[r->cur];
    struct bench_proc_sample ps;
    int rc;

    memset(st, 0, sizeof(*st));
    st->rate = rate;
    st->warmup_ms = cfg->warmup_ms;
    st->window_ms = window_ms;
    r->step_t0 = bench_now_ns();
    r->window_open = 1;
    uv_timer_start(&r->pacer, on_pace, 0, PACE_MS);
    rc = bench_wait(b, &r->window_open, cfg->warmup_ms + window_ms + 5000);
    uv_timer_stop(&r->pacer);
    r->window_open = 0;
    r->measuring = 0;
    if (bench_sample(b, &ps) == BALAI_OK)
        st->srv_rss_kib = ps.rss_kib;
    if (rc == BALAI_ECLOSED)
        return rc;
    size_t members = cfg->members;
    uint64_t unsent = st->due - st->issued;
    st->backlog_end = st->expected - st->delivered + unsent * members;

    /* drain: every issued message answered and delivered, or time is up */
    int64_t t0 = bench_now_ns();
    int64_t deadline = t0 + cfg->drain_ms * 1000000;
    while ((st->delivered < st->expected || r->sends_in_flight) && bench_now_ns() < deadline) {
        if ((rc = bench_sleep(b, 5)) != BALAI_OK)
            return rc;
    }
    st->drain_s = (double)(bench_now_ns() - t0) / 1e9;
    st->backlog_after = st->expected - st->delivered + unsent * members;

    double offered = rate * (double)members;
    double achieved = achieved_of(st);
    st->saturated = achieved < 0.9 * offered || st->backlog_after > 0 ||
                    unsent > st->due / 100 + 1 || st->send_err > 0;
    printf("  %-10s %7.0f msg/s  offered %9.0f  achieved %9.0f deliv/s  backlog %7llu -> "
           "%llu  p50 %6.2f  p99 %7.2f  p999 %7.2f ms  last p99 %7.2f  send p99 %6.2f  srv "
           "%3.0f%% gen %3.0f%% other %3.0f%%%s\n",
           cfg->name, rate, offered, achieved, (unsigned long long)st->backlog_end,
           (unsigned long long)st->backlog_after, bench_hist_pct(&st->lat, 50) / 1000.0,
           bench_hist_pct(&st->lat, 99) / 1000.0, bench_hist_pct(&st->lat, 99.9) / 1000.0,
           bench_hist_pct(&st->last, 99) / 1000.0, bench_hist_pct(&st->send, 99) / 1000.0,
           st->srv_cpu, st->gen_cpu, st->other_cpu, st->saturated ? "  SATURATED" : "");
    fflush(stdout);
    return BALAI_OK;
}

/* ---- setup and teardown ---- */

static int fo_setup(struct fo_run *r)
{
    struct bench *b = r->b;
    const struct fo_config *cfg = r->cfg;
    size_t n = cfg->rooms * cfg->members;
    struct bench_user **creators = balai_calloc(cfg->rooms, sizeof(*creators));
    struct bench_user **joiners = balai_calloc(n, sizeof(*joiners));
    char **join_rooms = balai_calloc(n, sizeof(*join_rooms));
    struct bench_conn **conns = balai_calloc(n + cfg->senders, sizeof(*conns));
    size_t njoin = 0;
    int64_t t0 = bench_now_ns();
    int rc;

    if ((rc = bench_start(b, "test", (int64_t)(n + cfg->senders))) != BALAI_OK)
        goto out;
    r->nusers = n;
    if ((rc = bench_users_make(b, cfg->name, n, &r->users)) != BALAI_OK)
        goto out;
    r->rooms = balai_calloc(cfg->rooms, sizeof(*r->rooms));
    for (size_t k = 0; k < cfg->rooms; k++)
        creators[k] = &r->users[k * cfg->members];
    if ((rc = bench_rooms_create(b, creators, cfg->rooms, r->rooms)) != BALAI_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i % cfg->members == 0)
            continue;
        joiners[njoin] = &r->users[i];
        join_rooms[njoin++] = r->rooms[i / cfg->members];
    }
    if ((rc = bench_rooms_join(b, joiners, join_rooms, njoin)) != BALAI_OK)
        goto out;
    double provision_s = (double)(bench_now_ns() - t0) / 1e9;

    r->send_prefix = balai_calloc(cfg->rooms, sizeof(*r->send_prefix));
    r->alive = balai_calloc(cfg->rooms, sizeof(*r->alive));
    for (size_t k = 0; k < cfg->rooms; k++) {
        char *enc = bench_urlenc(r->rooms[k]);
        r->send_prefix[k] = balai_asprintf("/_matrix/client/v3/rooms/%s/send/m.room.message/", enc);
        free(enc);
    }

    t0 = bench_now_ns();
    if (bench_open(b, conns, n + cfg->senders, 120000) < n + cfg->senders) {
        fprintf(stderr, "balai-bench: %s: not every connection opened\n", cfg->name);
        rc = BALAI_EIO;
        /* keep going with those that did */
    }
    r->members = balai_calloc(n, sizeof(*r->members));
    for (size_t i = 0; i < n; i++) {
        struct fo_member *m = &r->members[i];
        m->r = r;
        m->u = &r->users[i];
        m->c = conns[i];
        m->room = i / cfg->members;
        if (!m->c) {
            m->dead = 1;
            continue;
        }
        r->alive[m->room]++;
    }
    r->senders = balai_calloc(cfg->senders, sizeof(*r->senders));
    r->free_senders = balai_calloc(cfg->senders, sizeof(*r->free_senders));
    for (size_t k = 0; k < cfg->senders; k++) {
        r->senders[k].r = r;
        r->senders[k].c = conns[n + k];
        if (conns[n + k])
            r->free_senders[r->nfree++] = k;
    }
    rc = BALAI_OK;
    char target[512];
    snprintf(target, sizeof(target), "/_matrix/client/v3/sync?timeout=0%s", r->filter_q);
    for (size_t i = 0; i < n; i++) {
        struct fo_member *m = &r->members[i];
        if (m->dead)
            continue;
        if (bench_conn_request(m->c, "GET", target, m->u->token, NULL, 0, on_member_initial, m) ==
            BALAI_OK)
            r->initial_pending++;
        else
            member_lost(m);
    }
    rc = bench_wait(b, &r->initial_pending, 300000);
    if (rc != BALAI_OK)
        goto out;
    double initial_s = (double)(bench_now_ns() - t0) / 1e9;
    size_t alive = 0;
    for (size_t k = 0; k < cfg->rooms; k++)
        alive += r->alive[k];
    printf("  %s: %zu users, %zu rooms in %.1f s; %zu members syncing (initial syncs %.1f s)\n",
           cfg->name, n, cfg->rooms, provision_s, alive, initial_s);
    fflush(stdout);
    json_t *o = bench_scenario_json(b, cfg->name);
    json_object_set_new(o, "rooms", json_integer((json_int_t)cfg->rooms));
    json_object_set_new(o, "members_per_room", json_integer((json_int_t)cfg->members));
    json_object_set_new(o, "sender_connections", json_integer((json_int_t)cfg->senders));
    json_object_set_new(o, "provision_s", json_real(provision_s));
    json_object_set_new(o, "connect_and_initial_sync_s", json_real(initial_s));
    if (alive < n) {
        fprintf(stderr, "balai-bench: %s: only %zu of %zu members are syncing\n", cfg->name, alive,
                n);
        rc = BALAI_EIO;
        goto out;
    }
    /* let every member park */
    rc = bench_sleep(b, 500);
out:
    free(creators);
    free(joiners);
    free(join_rooms);
    free(conns);
    return rc;
}

static void fo_teardown(struct fo_run *r)
{
    const struct fo_config *cfg = r->cfg;
    struct bench *b = r->b;
    for (size_t i = 0; r->members && i < r->nusers; i++) {
        bench_conn_close(r->members[i].c);
        r->members[i].c = NULL;
    }
    for (size_t k = 0; r->senders && k < cfg->senders; k++) {
        bench_conn_close(r->senders[k].c);
        r->senders[k].c = NULL;
    }
    if (r->pacer_init)
        uv_close((uv_handle_t *)&r->pacer, NULL);
    uv_run(b->loop, UV_RUN_NOWAIT);
    bench_stop(b);
    for (size_t k = 0; r->rooms && k < cfg->rooms; k++) {
        free(r->rooms[k]);
        if (r->send_prefix)
            free(r->send_prefix[k]);
    }
    free(r->rooms);
    free(r->send_prefix);
    free(r->alive);
    free(r->members);
    free(r->senders);
    free(r->free_senders);
    free(r->msgs);
    free(r->steps);
    free(r->filter_q);
    bench_users_free(r->users, r->nusers);
}

/* Runs one configuration; *best is the step with the highest achieved
 * rate and *sustained the highest unsaturated one (NULL when none). */
static int fo_run(struct bench *b, const struct fo_config *cfg, struct fo_run *r)
{
    char *enc;
    int rc;

    memset(r, 0, sizeof(*r));
    r->b = b;
    r->cfg = cfg;
    enc = bench_urlenc("{\"room\":{\"timeline\":{\"limit\":100}}}");
    r->filter_q = balai_asprintf("&filter=%s", enc);
    free(enc);
    r->steps = balai_calloc((size_t)cfg->max_steps, sizeof(*r->steps));
    uv_timer_init(b->loop, &r->pacer);
    r->pacer.data = r;
    r->pacer_init = 1;

    printf("%s: %s, %zu room(s) of %zu members, %zu sender connections\n", cfg->name, cfg->title,
           cfg->rooms, cfg->members, cfg->senders);
    fflush(stdout);
    if ((rc = fo_setup(r)) != BALAI_OK)
        return rc;
    double rate = cfg->rate0;
    json_t *steps = json_array();
    json_object_set_new(bench_scenario_json(b, cfg->name), "steps", steps);
    for (int k = 0; k < cfg->max_steps && !b->stop; k++) {
        r->cur = (size_t)k;
        r->nsteps = (size_t)k + 1;
        rc = run_step(r, rate, k == 0 ? cfg->first_window_ms : cfg->window_ms);
        if (rc != BALAI_OK)
            return rc;
        json_array_append_new(steps, step_json(&r->steps[k], cfg->members));
        if (r->steps[k].saturated || r->dead_members > 0)
            break;
        rate *= cfg->factor;
    }
    json_t *o = bench_scenario_json(b, cfg->name);
    json_object_set_new(o, "sync_errors", json_integer((json_int_t)r->sync_errors));
    json_object_set_new(o, "members_lost", json_integer((json_int_t)r->dead_members));
    json_object_set_new(o, "stray_or_duplicate", json_integer((json_int_t)r->stray));
    json_object_set_new(o, "timeline_gaps", json_integer((json_int_t)r->gaps));
    return BALAI_OK;
}

static const struct fo_step *best_step(const struct fo_run *r)
{
    const struct fo_step *best = NULL;
    for (size_t k = 0; k < r->nsteps; k++) {
        if (!best || achieved_of(&r->steps[k]) > achieved_of(best))
            best = &r->steps[k];
    }
    return best;
}

static const struct fo_step *sustained_step(const struct fo_run *r)
{
    const struct fo_step *s = NULL;
    for (size_t k = 0; k < r->nsteps; k++) {
        if (!r->steps[k].saturated)
            s = &r->steps[k];
    }
    return s;
}

/* Records the saturation and latency rows of one run. */
static void report_run(struct bench *b, const struct fo_run *r, enum bench_goal dps_goal,
                       double dps_target, enum bench_goal p99_goal, double p99_target)
{
    const struct fo_config *cfg = r->cfg;
    const struct fo_step *best = best_step(r), *sus = sustained_step(r);
    char key[64], label[160], note[256];
    if (!best)
        return;
    snprintf(note, sizeof(note),
             "at %.0f msg/s offered (%.0f deliveries/s); server CPU %.0f%%, generator %.0f%%%s, "
             "other %.0f%%",
             best->rate, best->rate * (double)cfg->members, best->srv_cpu, best->gen_cpu,
             best->gen_cpu > 90 ? " (generator saturated)" : "", best->other_cpu);
    snprintf(key, sizeof(key), "%s_max_deliveries_per_s", cfg->name);
    snprintf(label, sizeof(label), "%s fan-out at saturation: deliveries/s", cfg->title);
    bench_report_add(b, key, label, achieved_of(best), "/s", dps_goal, dps_target, note);
    if (sus) {
        snprintf(note, sizeof(note),
                 "highest unsaturated step: %.0f deliveries/s; p50 %.2f ms, p999 %.2f ms",
                 achieved_of(sus), bench_hist_pct(&sus->lat, 50) / 1000.0,
                 bench_hist_pct(&sus->lat, 99.9) / 1000.0);
        snprintf(key, sizeof(key), "%s_p99_ms", cfg->name);
        snprintf(label, sizeof(label), "%s: p99 send -> receipt, highest sustained rate",
                 cfg->title);
        bench_report_add(b, key, label, (double)bench_hist_pct(&sus->lat, 99) / 1000.0, "ms",
                         p99_goal, p99_target, note);
    } else {
        snprintf(key, sizeof(key), "%s_p99_ms", cfg->name);
        snprintf(label, sizeof(label), "%s: p99 send -> receipt, highest sustained rate",
                 cfg->title);
        bench_report_add(b, key, label, (double)bench_hist_pct(&best->lat, 99) / 1000.0, "ms",
                         p99_goal, p99_target, "no unsaturated step: figure from the first");
    }
    if (p99_goal != BENCH_AT_MOST)
        return;
    /* both halves of the target at once: the highest rate whose p99 meets it */
    const struct fo_step *ok = NULL;
    for (size_t k = 0; k < r->nsteps; k++) {
        const struct fo_step *st = &r->steps[k];
        if (!st->saturated && (double)bench_hist_pct(&st->lat, 99) / 1000.0 <= p99_target)
            ok = st;
    }
    snprintf(note, sizeof(note), "steps of x%.2f from %.0f msg/s; %s", cfg->factor, cfg->rate0,
             ok ? "unsaturated, p99 within target" : "no step met the p99 target");
    snprintf(key, sizeof(key), "%s_deliveries_per_s_within_p99", cfg->name);
    snprintf(label, sizeof(label), "%s: deliveries/s with p99 <= %.0f ms", cfg->title, p99_target);
    bench_report_add(b, key, label, ok ? achieved_of(ok) : 0, "/s", dps_goal, dps_target, note);
}

int bench_scen_fanout(struct bench *b)
{
    const struct fo_config c100 = {
        .name = "fanout100",
        .title = "100-member room",
        .rooms = 1,
        .members = 100,
        .senders = 64,
        .rate0 = 500,
        .factor = 1.4142,
        .max_steps = 12,
        .warmup_ms = b->o.full ? 1000 : 500,
        .window_ms = b->o.full ? 5000 : 2000,
        .first_window_ms = b->o.full ? 5000 : 2000,
        .drain_ms = 3000,
    };
    const struct fo_config c1000 = {
        .name = "fanout1000",
        .title = "1,000-member room",
        .rooms = 1,
        .members = 1000,
        .senders = 32,
        .rate0 = 20,
        .factor = 2,
        .max_steps = 10,
        .warmup_ms = b->o.full ? 1000 : 500,
        .window_ms = b->o.full ? 5000 : 2000,
        .first_window_ms = b->o.full ? 15000 : 5000,
        .drain_ms = 3000,
    };
    struct fo_run r;
    int rc, rc2;

    rc = fo_run(b, &c100, &r);
    if (rc == BALAI_OK)
        report_run(b, &r, BENCH_AT_LEAST, 250000, BENCH_AT_MOST, 50);
    fo_teardown(&r);
    if (b->stop)
        return BALAI_ECLOSED;

    rc2 = fo_run(b, &c1000, &r);
    if (rc2 == BALAI_OK && r.nsteps > 0) {
        const struct fo_step *m = &r.steps[0];
        char note[200];
        snprintf(note, sizeof(note),
                 "moderate load: %.0f msg/s = %.0f deliveries/s; %llu messages; p50 %.2f ms",
                 m->rate, m->rate * 1000, (unsigned long long)m->issued,
                 bench_hist_pct(&m->last, 50) / 1000.0);
        bench_report_add(
            b, "fanout1000_p99_last_ms", "1,000-member room: p99 send -> last member received",
            (double)bench_hist_pct(&m->last, 99) / 1000.0, "ms", BENCH_AT_MOST, 20, note);
        report_run(b, &r, BENCH_NO_TARGET, 0, BENCH_NO_TARGET, 0);
    }
    fo_teardown(&r);
    return rc != BALAI_OK ? rc : rc2;
}

int bench_scen_dm(struct bench *b)
{
    const struct fo_config cdm = {
        .name = "dm",
        .title = "1:1 rooms",
        .rooms = b->o.full ? 2000 : 250,
        .members = 2,
        .senders = 64,
        .rate0 = 250,
        .factor = b->o.full ? 1.5 : 2,
        .max_steps = 12,
        .warmup_ms = b->o.full ? 1000 : 500,
        .window_ms = b->o.full ? 5000 : 2000,
        .first_window_ms = b->o.full ? 5000 : 2000,
        .drain_ms = 3000,
    };
    struct fo_run r;
    int rc = fo_run(b, &cdm, &r);
    if (rc == BALAI_OK)
        report_run(b, &r, BENCH_NO_TARGET, 0, BENCH_NO_TARGET, 0);
    fo_teardown(&r);
    return rc;
}
