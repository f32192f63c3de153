/* conn.c: HTTP/1.1 keep-alive client connections on libuv (see conn.h).
 *
 * DESIGN: a request is formatted into one shared buffer and handed to the
 * kernel with uv_try_write; only the rare remainder is copied into a
 * heap-allocated write request. Reads land in one shared buffer and are
 * parsed at once, so nothing points into it afterwards. The completion
 * callback runs from the parser's message-complete callback; closing the
 * connection there is safe because the memory is only released in libuv's
 * close callback. */
#include "balai.h"

#include <http_parser.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "util/alloc.h"
#include "util/buf.h"

#define BODY_CAP ((size_t)256 << 20)
#define READ_BUF (256 * 1024)

struct bench_conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } u;
    uv_connect_t creq;
    http_parser parser;
    struct balai_buf body;
    bench_conn_open_fn open_cb;
    void *open_arg;
    bench_conn_done_fn done_cb;
    void *done_arg;
    void *data;
    unsigned connected : 1;
    unsigned failed : 1;
    unsigned closing : 1;
    unsigned busy : 1;
};

struct write_req {
    uv_write_t req;
    size_t len;
    char data[];
};

static char read_buf[READ_BUF];
static struct balai_buf out_buf;
static size_t open_count;
static uint64_t completed;

static int on_message_begin(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

size_t bench_conn_open_count(void)
{
    return open_count;
}

uint64_t bench_conn_completed(void)
{
    return completed;
}

static struct bench_conn *conn_new(bench_conn_open_fn cb, void *arg)
{
    struct bench_conn *c = balai_calloc(1, sizeof(*c));
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    balai_buf_init(&c->body, BODY_CAP);
    c->open_cb = cb;
    c->open_arg = arg;
    c->u.h.data = c;
    open_count++;
    return c;
}

/* Marks the connection dead and reports it to an outstanding request. */
static void conn_fail(struct bench_conn *c)
{
    if (c->failed)
        return;
    c->failed = 1;
    if (c->connected && !c->closing)
        uv_read_stop(&c->u.s);
    if (c->busy && !c->closing) {
        bench_conn_done_fn cb = c->done_cb;
        c->busy = 0;
        c->done_cb = NULL;
        cb(c, BALAI_ECLOSED, "", 0, c->done_arg);
    }
}

static int on_message_begin(http_parser *p)
{
    struct bench_conn *c = p->data;
    balai_buf_reset(&c->body);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct bench_conn *c = p->data;
    return balai_buf_append(&c->body, at, len) == BALAI_OK ? 0 : 1;
}

static int on_message_complete(http_parser *p)
{
    struct bench_conn *c = p->data;
    if (!c->busy)
        return 1; /* a response nobody asked for */
    bench_conn_done_fn cb = c->done_cb;
    c->busy = 0;
    c->done_cb = NULL;
    completed++;
    cb(c, (int)p->status_code, c->body.data ? c->body.data : "", c->body.len, c->done_arg);
    return c->closing || c->failed ? 1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct bench_conn *c = s->data;
    if (c->closing || c->failed)
        return;
    if (nread < 0) {
        conn_fail(c);
        return;
    }
    if (nread == 0)
        return;
    size_t n = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    if (c->closing || c->failed)
        return;
    if (n != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
        conn_fail(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct bench_conn *c = req->data;
    if (c->closing)
        return;
    if (status == 0) {
        c->connected = 1;
        if (c->u.h.type == UV_TCP)
            uv_tcp_nodelay(&c->u.tcp, 1);
        status = uv_read_start(&c->u.s, on_alloc, on_read);
    }
    if (status != 0)
        c->failed = 1;
    c->open_cb(c, status, c->open_arg);
}

struct bench_conn *bench_conn_tcp(uv_loop_t *loop, const struct sockaddr_in *dst,
                                  const struct sockaddr_in *src, bench_conn_open_fn cb, void *arg)
{
    struct bench_conn *c = conn_new(cb, arg);
    int rc = uv_tcp_init_ex(loop, &c->u.tcp, AF_INET);
    if (rc != 0) {
        /* not a handle yet: nothing for libuv to close */
        open_count--;
        balai_buf_release(&c->body);
        free(c);
        return NULL;
    }
    c->u.h.data = c;
    if (src) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        /* choose the port at connect time, per destination, so each source
         * address is good for a full ephemeral range */
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno(&c->u.h, &fd) == 0)
            (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
        rc = uv_tcp_bind(&c->u.tcp, (const struct sockaddr *)src, 0);
    }
    c->creq.data = c;
    if (rc == 0)
        rc = uv_tcp_connect(&c->creq, &c->u.tcp, (const struct sockaddr *)dst, on_connect);
    if (rc != 0) {
        c->failed = 1;
        bench_conn_close(c);
        return NULL;
    }
    return c;
}

struct bench_conn *bench_conn_unix(uv_loop_t *loop, const char *path, bench_conn_open_fn cb,
                                   void *arg)
{
    struct bench_conn *c = conn_new(cb, arg);
    uv_pipe_init(loop, &c->u.pipe, 0);
    c->u.h.data = c;
    c->creq.data = c;
    uv_pipe_connect(&c->creq, &c->u.pipe, path, on_connect);
    return c;
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct bench_conn *c = req->handle->data;
    free(w);
    if (status != 0 && !c->closing)
        conn_fail(c);
}

int bench_conn_request(struct bench_conn *c, const char *method, const char *target,
                       const char *token, const char *body, size_t body_len, bench_conn_done_fn cb,
                       void *arg)
{
    if (!c->connected || c->failed || c->closing)
        return BALAI_ECLOSED;
    if (c->busy)
        return BALAI_EBUSY;
    struct balai_buf *o = &out_buf;
    balai_buf_reset(o);
    balai_buf_printf(o, "%s %s HTTP/1.1\r\nHost: bench\r\n", method, target);
    if (token)
        balai_buf_printf(o, "Authorization: Bearer %s\r\n", token);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        balai_buf_printf(o, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                         body ? body_len : 0);
    balai_buf_append(o, "\r\n", 2);
    if (body && body_len)
        balai_buf_append(o, body, body_len);

    c->busy = 1;
    c->done_cb = cb;
    c->done_arg = arg;
    uv_buf_t b = uv_buf_init(o->data, (unsigned)o->len);
    int n = uv_try_write(&c->u.s, &b, 1);
    if (n == (int)o->len)
        return BALAI_OK;
    if (n < 0 && n != UV_EAGAIN) {
        c->busy = 0;
        c->done_cb = NULL;
        conn_fail(c);
        return BALAI_ECLOSED;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    struct write_req *w = balai_malloc(sizeof(*w) + o->len - done);
    w->len = o->len - done;
    memcpy(w->data, o->data + done, w->len);
    b = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, &c->u.s, &b, 1, on_written) != 0) {
        free(w);
        c->busy = 0;
        c->done_cb = NULL;
        conn_fail(c);
        return BALAI_ECLOSED;
    }
    return BALAI_OK;
}

static void on_closed(uv_handle_t *h)
{
    struct bench_conn *c = h->data;
    balai_buf_release(&c->body);
    free(c);
    open_count--;
}

void bench_conn_close(struct bench_conn *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->busy = 0;
    c->done_cb = NULL;
    uv_close(&c->u.h, on_closed);
}

int bench_conn_busy(const struct bench_conn *c)
{
    return c->busy;
}

int bench_conn_alive(const struct bench_conn *c)
{
    return c->connected && !c->failed && !c->closing;
}

void bench_conn_set_data(struct bench_conn *c, void *data)
{
    c->data = data;
}

void *bench_conn_data(const struct bench_conn *c)
{
    return c->data;
}
