/* fuzz_http.c: arbitrary bytes through the HTTP connection engine (parser,
 * limits, router, pipelining, answers) without sockets. The first input
 * byte picks how the rest is split into reads and whether writes complete
 * at once; handlers answer at once, echo, or park and answer later. Any
 * crash, sanitizer report or leak is a bug. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake {
    int queue;
    int queued;
    size_t written;
};

static int f_write(void *arg, const struct balai_slice *bufs, unsigned n)
{
    struct fake *f = arg;
    for (unsigned i = 0; i < n; i++)
        f->written += bufs[i].len;
    if (f->queue) {
        f->queued++;
        return 0;
    }
    return 1;
}

static void f_noop(void *arg)
{
    (void)arg;
}

static void f_pause(void *arg, int pause)
{
    (void)arg;
    (void)pause;
}

static const struct balai_http_io fake_io = {
    .write = f_write,
    .shutdown = f_noop,
    .close = f_noop,
    .read_pause = f_pause,
};

#define MAX_PARKED 64
static struct balai_http_req *parked[MAX_PARKED];
static int nparked;

static void h_ok(struct balai_http_req *req)
{
    const char *q = balai_http_req_query(req, "access_token");
    struct balai_slice h = balai_http_req_header(req, "authorization");
    (void)q;
    (void)h;
    balai_http_add_header(req, "X-Ok", "1");
    balai_http_respond(req, 200, "application/json", "{}", 2);
}

static void h_echo(struct balai_http_req *req)
{
    char *copy = malloc(req->body_len + 1);
    memcpy(copy, req->body, req->body_len + 1);
    balai_http_respond_take(req, 200, "application/octet-stream", copy, req->body_len);
}

static void h_param(struct balai_http_req *req)
{
    balai_http_respond_error(req, 403, "M_FORBIDDEN", req->nparams ? req->params[0] : "none");
}

static void on_abort(struct balai_http_req *req)
{
    (void)req;
}

static void h_park(struct balai_http_req *req)
{
    if (nparked == MAX_PARKED) {
        balai_http_respond(req, 503, NULL, NULL, 0);
        return;
    }
    req->on_abort = on_abort;
    parked[nparked++] = req;
}

static void answer_parked(void)
{
    while (nparked > 0)
        balai_http_respond(parked[--nparked], 200, "text/plain", "late", 4);
}

static struct balai_router *router;

static void init(void)
{
    balai_log_set_level(BALAI_LOG_OFF);
    router = balai_router_new();
    balai_router_add(router, BALAI_HTTP_GET, "/_matrix/client/versions", h_ok, 0, NULL);
    balai_router_add(router, BALAI_HTTP_POST, "/echo", h_echo, 0, NULL);
    balai_router_add(router, BALAI_HTTP_PUT, "/_matrix/client/v3/rooms/{roomId}/send/{t}/{txn}",
                     h_param, 128, NULL);
    balai_router_add(router, BALAI_HTTP_GET, "/_matrix/client/v3/sync", h_park, 0, NULL);
    balai_router_add(router, BALAI_HTTP_GET, "/_matrix/client/v3/profile/{userId}", h_param, 0,
                     NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct balai_http_server_config cfg;
    struct balai_http_server *srv = NULL;
    struct balai_http_conn *hc;
    struct fake f = {0, 0, 0};
    unsigned mode, step;
    uint64_t now = 0;
    size_t off = 1;

    if (!router)
        init();
    if (size < 1)
        return 0;
    mode = data[0];
    memset(&cfg, 0, sizeof(cfg));
    cfg.router = router;
    cfg.limits.max_header_bytes = 512 + (mode & 0x3) * 1024;
    cfg.limits.max_body_default = 256;
    if (balai_http_server_new(NULL, &cfg, &srv) != BALAI_OK)
        return 0;
    f.queue = (mode & 0x4) != 0;
    step = 1 + ((mode >> 3) & 0x1f) * 3;
    hc = balai_http_conn_new(srv, &fake_io, &f, (mode & 0x80) != 0);

    while (off < size && !balai_http_conn_closing(hc)) {
        size_t n = size - off < step ? size - off : step;
        balai_http_conn_feed(hc, (const char *)data + off, n);
        off += n;
        /* complete queued writes now and then, answer parked requests */
        while (f.queued > 0 && (off & 1)) {
            f.queued--;
            balai_http_conn_written(hc, 0);
        }
        if ((off & 7) == 3)
            answer_parked();
        if ((off & 15) == 5) {
            now += 5000;
            balai_http_server_set_clock(srv, now);
            balai_http_server_run_timeouts(srv);
        }
    }
    while (f.queued > 0) {
        f.queued--;
        balai_http_conn_written(hc, 0);
    }
    balai_http_conn_eof(hc);
    balai_http_conn_free(hc); /* parked requests get on_abort */
    answer_parked();          /* ... and their answers are discarded */
    balai_http_server_free(srv);
    return 0;
}
