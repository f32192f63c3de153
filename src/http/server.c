/* server.c: the HTTP server: listeners, connection bookkeeping, deadlines,
 * graceful shutdown and metrics. The per-connection protocol is conn.c.
 *
 * DESIGN: deadlines cost no timer per connection. Each kind of wait (idle,
 * head, body, write, linger) has one list; all its members share one
 * timeout, so appending at the tail keeps the list sorted and expiry only
 * looks at list heads. One server timer is armed for the earliest head. */
#include "balai.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "http"
#include "http/http_int.h"
#include "net/conn.h"
#include "net/loop.h"
#include "net/timer.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_LISTENERS 8
#define LINGER_MS 2000
#define NBUCKETS 10

static const double bucket_le[NBUCKETS] = {0.0005, 0.001, 0.005, 0.01, 0.05,
                                           0.1,    0.5,   1,     5,    INFINITY};
static const char *const bucket_text[NBUCKETS] = {"0.0005", "0.001", "0.005", "0.01", "0.05",
                                                  "0.1",    "0.5",   "1",     "5",    "+Inf"};

struct metric {
    const struct balai_route *route; /* NULL: no route */
    uint64_t count;
    uint16_t status;
    uint8_t method; /* http_parser method, 0xff unknown */
    uint8_t used;
};

struct balai_http_server {
    struct balai_loop *loop; /* NULL in tests */
    struct balai_http_limits limits;
    struct balai_router *router;
    char *server_header;
    char *trusted_proxies; /* ",a,b," for whole-entry search; NULL: none */
    struct balai_timer *timer;
    int armed;
    uint64_t armed_at;
    struct http_dlist all;
    struct http_dlist lists[L_COUNT];
    uint32_t list_ms[L_COUNT];
    struct http_dlist deferred;
    unsigned nconns;
    struct balai_listener *listeners[MAX_LISTENERS];
    int nlisteners;
    int shutting_down;
    int freeing;
    void (*done)(void *arg);
    void *done_arg;
    uint64_t fake_now;
    time_t date_sec;
    char date[40];
    struct metric *metrics;
    size_t nmetrics, ametrics; /* ametrics: 0 or a power of two */
    uint64_t hist[NBUCKETS];
    double hist_sum;
    uint64_t hist_count;
    uint64_t conns_total;
    uint64_t conns_rejected;
    uint64_t last_reject_log;
};

#define CONN_OF(node, field)                                                                       \
    ((struct balai_http_conn *)(void *)((char *)(node)-offsetof(struct balai_http_conn, field)))

/* ---- intrusive lists ---- */

static void dl_init(struct http_dlist *l)
{
    l->prev = l->next = l;
}

static int dl_empty(const struct http_dlist *l)
{
    return l->next == l;
}

static void dl_push(struct http_dlist *l, struct http_dlist *n)
{
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}

static void dl_del(struct http_dlist *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* ---- clock and deadlines ---- */

uint64_t balai__http_now_ms(struct balai_http_server *s)
{
    return s->loop ? balai_loop_now_ms(s->loop) : s->fake_now;
}

static void arm(struct balai_http_server *s, uint64_t deadline)
{
    uint64_t now;

    if (!s->timer || (s->armed && deadline >= s->armed_at))
        return;
    now = balai__http_now_ms(s);
    s->armed = 1;
    s->armed_at = deadline;
    balai_timer_start(s->timer, deadline > now ? deadline - now : 0, 0);
}

void balai__http_timed_set(struct balai_http_server *s, struct balai_http_conn *hc, int list)
{
    if (hc->list != L_NONE) {
        dl_del(&hc->timed);
        hc->list = L_NONE;
    }
    if (list == L_NONE || list >= L_COUNT)
        return;
    hc->list = (uint8_t)list;
    hc->deadline = balai__http_now_ms(s) + s->list_ms[list];
    dl_push(&s->lists[list], &hc->timed);
    arm(s, hc->deadline);
}

void balai_http_server_run_timeouts(struct balai_http_server *s)
{
    uint64_t now = balai__http_now_ms(s);

    for (int l = 0; l < L_COUNT; l++) {
        while (!dl_empty(&s->lists[l])) {
            struct balai_http_conn *hc = CONN_OF(s->lists[l].next, timed);
            if (hc->deadline > now)
                break;
            dl_del(&hc->timed);
            hc->list = L_NONE;
            balai__http_conn_expire(hc, l);
        }
    }
}

void balai_http_server_set_clock(struct balai_http_server *s, uint64_t now_ms)
{
    s->fake_now = now_ms;
}

unsigned balai_http_server_connections(const struct balai_http_server *s)
{
    return s->nconns;
}

void balai__http_defer_resume(struct balai_http_server *s, struct balai_http_conn *hc)
{
    if (!s->timer) {
        balai__http_conn_resume(hc);
        return;
    }
    if (hc->resume.next)
        return;
    dl_push(&s->deferred, &hc->resume);
    s->armed = 1;
    s->armed_at = balai__http_now_ms(s);
    balai_timer_start(s->timer, 0, 0);
}

static void on_timer(void *arg)
{
    struct balai_http_server *s = arg;
    uint64_t earliest = UINT64_MAX;

    s->armed = 0;
    while (!dl_empty(&s->deferred)) {
        struct balai_http_conn *hc = CONN_OF(s->deferred.next, resume);
        dl_del(&hc->resume);
        balai__http_conn_resume(hc);
    }
    balai_http_server_run_timeouts(s);
    for (int l = 0; l < L_COUNT; l++) {
        if (!dl_empty(&s->lists[l])) {
            struct balai_http_conn *hc = CONN_OF(s->lists[l].next, timed);
            if (hc->deadline < earliest)
                earliest = hc->deadline;
        }
    }
    if (earliest != UINT64_MAX)
        arm(s, earliest);
}

/* ---- bookkeeping for the engine ---- */

const struct balai_http_limits *balai__http_limits(const struct balai_http_server *s)
{
    return &s->limits;
}

const struct balai_router *balai__http_router(const struct balai_http_server *s)
{
    return s->router;
}

int balai__http_trusted_proxy(const struct balai_http_server *s, const char *ip, size_t len)
{
    if (!s->trusted_proxies || !len || memchr(ip, ',', len))
        return 0;
    for (const char *p = strstr(s->trusted_proxies, ","); p; p = strstr(p + 1, ",")) {
        if (strncmp(p + 1, ip, len) == 0 && p[1 + len] == ',')
            return 1;
    }
    return 0;
}

const char *balai__http_server_header(const struct balai_http_server *s)
{
    return s->server_header;
}

int balai__http_shutting_down(const struct balai_http_server *s)
{
    return s->shutting_down || s->freeing;
}

const char *balai__http_date(struct balai_http_server *s)
{
    time_t now = time(NULL);

    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = now;
    }
    return s->date;
}

void balai__http_conn_added(struct balai_http_server *s, struct balai_http_conn *hc)
{
    dl_push(&s->all, &hc->all);
    s->nconns++;
    s->conns_total++;
}

static void final_free(struct balai_http_server *s)
{
    free(s->metrics);
    free(s->server_header);
    free(s->trusted_proxies);
    free(s);
}

void balai__http_conn_removed(struct balai_http_server *s, struct balai_http_conn *hc)
{
    dl_del(&hc->all);
    if (hc->resume.next)
        dl_del(&hc->resume);
    s->nconns--;
    if (s->nconns > 0)
        return;
    if (s->freeing) {
        final_free(s);
    } else if (s->shutting_down && s->done) {
        void (*done)(void *arg) = s->done;
        s->done = NULL;
        done(s->done_arg);
    }
}

static size_t metric_hash(const struct balai_route *route, unsigned method, int status)
{
    uint64_t h = (uint64_t)(uintptr_t)route * 0x9e3779b97f4a7c15u;
    h ^= (uint64_t)method * 0x100000001b3u + (uint64_t)status;
    h *= 0xff51afd7ed558ccdu;
    return (size_t)(h ^ (h >> 29));
}

static struct metric *metric_slot(struct balai_http_server *s, const struct balai_route *route,
                                  unsigned method, int status)
{
    size_t mask = s->ametrics - 1;
    size_t i = metric_hash(route, method, status) & mask;

    while (s->metrics[i].used) {
        struct metric *m = &s->metrics[i];
        if (m->route == route && m->method == method && m->status == status)
            return m;
        i = (i + 1) & mask;
    }
    return &s->metrics[i];
}

void balai__http_record(struct balai_http_server *s, const struct balai_route *route,
                        unsigned parser_method, int status, double seconds)
{
    struct metric *m;
    int b;

    if (parser_method > 0xff)
        parser_method = 0xff;
    if ((s->nmetrics + 1) * 2 > s->ametrics) {
        struct metric *old = s->metrics;
        size_t n = s->ametrics;

        s->ametrics = n ? n * 2 : 64;
        s->metrics = balai_calloc(s->ametrics, sizeof(*s->metrics));
        for (size_t i = 0; i < n; i++) {
            if (old[i].used)
                *metric_slot(s, old[i].route, old[i].method, old[i].status) = old[i];
        }
        free(old);
    }
    m = metric_slot(s, route, parser_method, status);
    if (!m->used) {
        m->used = 1;
        m->route = route;
        m->method = (uint8_t)parser_method;
        m->status = (uint16_t)status;
        s->nmetrics++;
    }
    m->count++;
    for (b = 0; b < NBUCKETS - 1 && seconds > bucket_le[b]; b++)
        ;
    s->hist[b]++;
    s->hist_sum += seconds;
    s->hist_count++;
}

/* ---- sockets ---- */

static int nio_write(void *arg, const struct balai_slice *bufs, unsigned nbufs);
static void nio_shutdown(void *arg);
static void nio_close(void *arg);
static void nio_read_pause(void *arg, int pause);
static size_t nio_queued(void *arg);
static void nio_peer(void *arg, char *out, size_t outlen);

static const struct balai_http_io net_io = {
    .write = nio_write,
    .shutdown = nio_shutdown,
    .close = nio_close,
    .read_pause = nio_read_pause,
    .queued = nio_queued,
    .peer = nio_peer,
};

static void nio_written(struct balai_conn *c, int status, void *arg)
{
    (void)arg;
    balai_http_conn_written(balai_conn_ext(c), status);
}

static int nio_write(void *arg, const struct balai_slice *bufs, unsigned nbufs)
{
    return balai_conn_write(arg, bufs, nbufs, nio_written, NULL);
}

static void nio_shutdown(void *arg)
{
    balai_conn_shutdown(arg);
}

static void nio_close(void *arg)
{
    balai_conn_close(arg);
}

static void nio_read_pause(void *arg, int pause)
{
    if (pause)
        balai_conn_read_stop(arg);
    else
        balai_conn_read_start(arg);
}

static size_t nio_queued(void *arg)
{
    return balai_conn_write_queue_size(arg);
}

static void nio_peer(void *arg, char *out, size_t outlen)
{
    balai_conn_peer(arg, out, outlen);
}

static void on_net_read(struct balai_conn *c, const char *data, ssize_t n)
{
    struct balai_http_conn *hc = balai_conn_ext(c);

    if (n > 0)
        balai_http_conn_feed(hc, data, (size_t)n);
    else
        balai_http_conn_eof(hc);
}

static void on_net_close(struct balai_conn *c)
{
    balai_http_conn_release(balai_conn_ext(c));
}

static const struct balai_conn_handler net_handler = {
    .on_read = on_net_read,
    .on_close = on_net_close,
};

static const char busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 54\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Connection: close\r\n"
    "\r\n"
    "{\"errcode\":\"M_UNKNOWN\",\"error\":\"Too many connections\"}";

static int on_accept(struct balai_conn *c, void *arg)
{
    struct balai_http_server *s = arg;

    if (s->shutting_down || s->freeing)
        return 1;
    if (s->nconns >= s->limits.max_connections) {
        uint64_t now = balai__http_now_ms(s);
        (void)balai_conn_try_write(c, busy_response, sizeof(busy_response) - 1);
        s->conns_rejected++;
        if (now - s->last_reject_log >= 10000 || s->conns_rejected == 1) {
            LOG_WARN("connection limit (%u) reached: refusing connections",
                     s->limits.max_connections);
            s->last_reject_log = now;
        }
        return 1;
    }
    balai_conn_set_handler(c, &net_handler);
    balai_http_conn_init(balai_conn_ext(c), s, &net_io, c, balai_conn_is_local(c));
    return 0;
}

static int add_listener(struct balai_http_server *s, int is_unix, const char *where, char *bound,
                        size_t boundlen)
{
    struct balai_listen_opts opts = {
        .on_accept = on_accept,
        .arg = s,
        .ext_size = balai_http_conn_size(),
        .backlog = 0,
    };
    struct balai_listener *l = NULL;
    int rc;

    if (!s->loop || s->nlisteners == MAX_LISTENERS || s->shutting_down || s->freeing)
        return BALAI_EINVAL;
    if (is_unix)
        rc = balai_listen_unix(s->loop, where, &opts, &l);
    else
        rc = balai_listen_tcp(s->loop, where, &opts, &l, bound, boundlen);
    if (rc != BALAI_OK)
        return rc;
    s->listeners[s->nlisteners++] = l;
    return BALAI_OK;
}

int balai_http_server_listen_tcp(struct balai_http_server *s, const char *addr_port, char *bound,
                                 size_t boundlen)
{
    return add_listener(s, 0, addr_port, bound, boundlen);
}

int balai_http_server_listen_unix(struct balai_http_server *s, const char *path)
{
    return add_listener(s, 1, path, NULL, 0);
}

static void close_listeners(struct balai_http_server *s)
{
    for (int i = 0; i < s->nlisteners; i++)
        balai_listener_close(s->listeners[i]);
    s->nlisteners = 0;
}

/* ---- life cycle ---- */

int balai_http_server_new(struct balai_loop *loop, const struct balai_http_server_config *cfg,
                          struct balai_http_server **out)
{
    struct balai_http_server *s;
    struct balai_http_limits *lim;

    if (!cfg || !cfg->router)
        return BALAI_EINVAL;
    s = balai_calloc(1, sizeof(*s));
    s->loop = loop;
    s->router = cfg->router;
    s->limits = cfg->limits;
    lim = &s->limits;
    if (!lim->max_header_bytes)
        lim->max_header_bytes = 16 * 1024;
    if (!lim->max_body_default)
        lim->max_body_default = 64 * 1024;
    if (!lim->header_timeout_ms)
        lim->header_timeout_ms = 10000;
    if (!lim->body_timeout_ms)
        lim->body_timeout_ms = 30000;
    if (!lim->idle_timeout_ms)
        lim->idle_timeout_ms = 60000;
    if (!lim->max_connections)
        lim->max_connections = 10000;
    s->server_header =
        balai_strdup(cfg->server_header ? cfg->server_header : "Balai/" BALAI_VERSION);
    if (cfg->trusted_proxies && *cfg->trusted_proxies) {
        /* ",a,b," without spaces, so that an entry is found whole */
        struct balai_buf b;
        balai_buf_init(&b, 0);
        balai_buf_append_char(&b, ',');
        for (const char *p = cfg->trusted_proxies; *p; p++)
            if (*p != ' ' && *p != '\t')
                balai_buf_append_char(&b, *p);
        balai_buf_append_char(&b, ',');
        s->trusted_proxies = balai_buf_detach(&b, NULL);
    }
    for (char *p = s->server_header; *p; p++) {
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    }
    dl_init(&s->all);
    dl_init(&s->deferred);
    for (int l = 0; l < L_COUNT; l++)
        dl_init(&s->lists[l]);
    s->list_ms[L_IDLE] = lim->idle_timeout_ms;
    s->list_ms[L_HEAD] = lim->header_timeout_ms;
    s->list_ms[L_BODY] = lim->body_timeout_ms;
    s->list_ms[L_WRITE] = lim->idle_timeout_ms;
    s->list_ms[L_LINGER] = lim->header_timeout_ms < LINGER_MS ? lim->header_timeout_ms : LINGER_MS;
    if (loop) {
        s->timer = balai_timer_new(loop, on_timer, s);
        if (!s->timer) {
            final_free(s);
            return BALAI_EIO;
        }
        /* Deadlines alone must not keep the loop running. */
        balai_timer_set_ref(s->timer, 0);
    }
    *out = s;
    return BALAI_OK;
}

void balai_http_server_shutdown(struct balai_http_server *s, void (*done)(void *arg), void *arg)
{
    struct http_dlist *n, *next;

    if (s->shutting_down || s->freeing)
        return;
    s->shutting_down = 1;
    s->done = done;
    s->done_arg = arg;
    close_listeners(s);
    LOG_INFO("shutting down: %u connection(s) open", s->nconns);
    for (n = s->all.next; n != &s->all; n = next) {
        next = n->next;
        balai__http_conn_shutdown(CONN_OF(n, all));
    }
    if (s->nconns == 0 && s->done) {
        s->done = NULL;
        done(arg);
    }
}

void balai_http_server_free(struct balai_http_server *s)
{
    struct http_dlist *n, *next;

    if (!s)
        return;
    close_listeners(s);
    s->freeing = 1;
    s->done = NULL;
    balai_timer_free(s->timer);
    s->timer = NULL;
    for (n = s->all.next; n != &s->all; n = next) {
        next = n->next;
        balai__http_conn_close(CONN_OF(n, all));
    }
    if (s->nconns == 0)
        final_free(s);
}

/* ---- metrics ---- */

static void put_label(struct balai_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            balai_buf_append_char(out, '\\');
        if (*v == '\n')
            balai_buf_append_str(out, "\\n");
        else
            balai_buf_append_char(out, *v);
    }
}

void balai_http_server_metrics(struct balai_http_server *s, struct balai_buf *out)
{
    uint64_t cum = 0;

    balai_buf_append_str(out, "# HELP balai_http_requests_total HTTP requests answered, by route "
                              "pattern, method and status.\n"
                              "# TYPE balai_http_requests_total counter\n");
    for (size_t i = 0; i < s->ametrics; i++) {
        const struct metric *m = &s->metrics[i];
        if (!m->used)
            continue;
        balai_buf_append_str(out, "balai_http_requests_total{route=\"");
        put_label(out, m->route ? balai_route_pattern(m->route) : "unmatched");
        balai_buf_printf(out, "\",method=\"%s\",code=\"%u\"} %llu\n",
                         m->method == 0xff ? "-" : http_method_str(m->method), m->status,
                         (unsigned long long)m->count);
    }
    balai_buf_append_str(out, "# HELP balai_http_request_duration_seconds Time from a "
                              "request's first byte to its answer.\n"
                              "# TYPE balai_http_request_duration_seconds histogram\n");
    for (int b = 0; b < NBUCKETS; b++) {
        cum += s->hist[b];
        balai_buf_printf(out, "balai_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
                         bucket_text[b], (unsigned long long)cum);
    }
    balai_buf_printf(out,
                     "balai_http_request_duration_seconds_sum %.6f\n"
                     "balai_http_request_duration_seconds_count %llu\n",
                     s->hist_sum, (unsigned long long)s->hist_count);
    balai_buf_printf(out,
                     "# HELP balai_http_connections_open Open HTTP connections.\n"
                     "# TYPE balai_http_connections_open gauge\n"
                     "balai_http_connections_open %u\n"
                     "# HELP balai_http_connections_total HTTP connections accepted.\n"
                     "# TYPE balai_http_connections_total counter\n"
                     "balai_http_connections_total %llu\n"
                     "# HELP balai_http_connections_rejected_total Connections refused at the "
                     "connection limit.\n"
                     "# TYPE balai_http_connections_rejected_total counter\n"
                     "balai_http_connections_rejected_total %llu\n",
                     s->nconns, (unsigned long long)s->conns_total,
                     (unsigned long long)s->conns_rejected);
}
