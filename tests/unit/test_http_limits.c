/* test_http_limits.c: unit tests for the HTTP connection engine
 * (src/http/conn.c, request.c, server.c) driven without sockets: limits
 * (431, 413, 408), malformed input (400), pipelining, Expect:
 * 100-continue, keep-alive and close, parked requests and shutdown. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/conn.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

/* ---- a fake transport ---- */

struct fake {
    struct balai_buf out; /* everything written */
    int queue;            /* 1: writes report "queued" */
    int queued_writes;
    int shutdown;
    int closed;
    int paused;
    size_t qsize; /* what queued() reports */
};

static int f_write(void *arg, const struct balai_slice *bufs, unsigned n)
{
    struct fake *f = arg;
    for (unsigned i = 0; i < n; i++)
        balai_buf_append(&f->out, bufs[i].ptr, bufs[i].len);
    if (f->queue) {
        f->queued_writes++;
        return 0;
    }
    return 1;
}

static void f_shutdown(void *arg)
{
    ((struct fake *)arg)->shutdown = 1;
}

static void f_close(void *arg)
{
    ((struct fake *)arg)->closed = 1;
}

static void f_pause(void *arg, int pause)
{
    ((struct fake *)arg)->paused = pause;
}

static size_t f_queued(void *arg)
{
    return ((struct fake *)arg)->qsize;
}

static void f_peer(void *arg, char *out, size_t outlen)
{
    (void)arg;
    snprintf(out, outlen, "192.0.2.1");
}

static const struct balai_http_io fake_io = {
    .write = f_write,
    .shutdown = f_shutdown,
    .close = f_close,
    .read_pause = f_pause,
    .queued = f_queued,
    .peer = f_peer,
};

/* ---- handlers ---- */

static struct balai_http_req *parked;
static int aborts;
static int dispatches;
static char order[64];

static void h_hello(struct balai_http_req *req)
{
    dispatches++;
    balai_http_respond(req, 200, "text/plain", "hello", 5);
}

static void h_echo(struct balai_http_req *req)
{
    dispatches++;
    strncat(order, req->body, sizeof(order) - strlen(order) - 1);
    balai_http_respond(req, 200, "text/plain", req->body, req->body_len);
}

static void h_query(struct balai_http_req *req)
{
    const char *a = balai_http_req_query(req, "a");
    const char *b = balai_http_req_query(req, "b c");
    const char *n = balai_http_req_query(req, "nul");
    struct balai_slice h = balai_http_req_header(req, "x-test");
    char out[256];

    snprintf(out, sizeof(out), "a=%s b=%s nul=%s h=%.*s p=%s", a ? a : "(null)", b ? b : "(null)",
             n ? n : "(null)", (int)h.len, h.ptr ? h.ptr : "", req->params[0]);
    balai_http_respond(req, 200, "text/plain", out, strlen(out));
}

static void on_abort(struct balai_http_req *req)
{
    (void)req;
    aborts++;
}

static void h_park(struct balai_http_req *req)
{
    dispatches++;
    req->on_abort = on_abort;
    parked = req;
}

static void h_error(struct balai_http_req *req)
{
    balai_http_add_header(req, "Retry-After", "5");
    balai_http_add_header(req, "Bad\r\nHeader", "x");
    balai_http_respond_error(req, 429, "M_LIMIT_EXCEEDED", "quote \" backslash \\ nl \n bad \xff");
}

/* ---- fixture ---- */

struct fix {
    struct balai_router *router;
    struct balai_http_server *srv;
    struct fake f;
    struct balai_http_conn *hc;
};

static int setup(void **state)
{
    struct fix *x = calloc(1, sizeof(*x));
    struct balai_http_server_config cfg;

    balai_log_set_level(BALAI_LOG_ERROR);
    memset(&cfg, 0, sizeof(cfg));
    x->router = balai_router_new();
    balai_router_add(x->router, BALAI_HTTP_GET, "/hello", h_hello, 0, NULL);
    balai_router_add(x->router, BALAI_HTTP_POST, "/echo", h_echo, 0, NULL);
    balai_router_add(x->router, BALAI_HTTP_POST, "/small", h_echo, 16, NULL);
    balai_router_add(x->router, BALAI_HTTP_GET, "/q/{p}", h_query, 0, NULL);
    balai_router_add(x->router, BALAI_HTTP_GET, "/park", h_park, 0, NULL);
    balai_router_add(x->router, BALAI_HTTP_GET, "/error", h_error, 0, NULL);
    cfg.router = x->router;
    cfg.limits.max_header_bytes = 1024;
    cfg.limits.max_body_default = 1000;
    cfg.server_header = "Test/1";
    assert_int_equal(balai_http_server_new(NULL, &cfg, &x->srv), BALAI_OK);
    balai_buf_init(&x->f.out, 0);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    parked = NULL;
    aborts = dispatches = 0;
    order[0] = '\0';
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fix *x = *state;
    balai_http_conn_free(x->hc);
    if (x->srv) {
        assert_int_equal(balai_http_server_connections(x->srv), 0);
        balai_http_server_free(x->srv);
    }
    balai_router_free(x->router);
    balai_buf_release(&x->f.out);
    free(x);
    return 0;
}

static void feed(struct fix *x, const char *s)
{
    balai_http_conn_feed(x->hc, s, strlen(s));
}

static const char *out(struct fix *x)
{
    return x->f.out.data ? x->f.out.data : "";
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- tests ---- */

static void test_simple_get_keep_alive(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out(x), "Content-Length: 5\r\n"));
    assert_non_null(strstr(out(x), "Content-Type: text/plain\r\n"));
    assert_non_null(strstr(out(x), "Server: Test/1\r\n"));
    assert_non_null(strstr(out(x), "Access-Control-Allow-Origin: *\r\n"));
    assert_non_null(strstr(out(x), "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, "
                                   "OPTIONS\r\n"));
    assert_non_null(strstr(out(x), "Access-Control-Allow-Headers: X-Requested-With, "
                                   "Content-Type, Authorization\r\n"));
    assert_null(strstr(out(x), "Connection: close"));
    assert_non_null(strstr(out(x), "\r\n\r\nhello"));
    assert_false(balai_http_conn_closing(x->hc));

    /* a second request on the same connection, fed byte by byte */
    balai_buf_reset(&x->f.out);
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    for (size_t i = 0; req[i]; i++)
        balai_http_conn_feed(x->hc, req + i, 1);
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out(x), "\r\n\r\nabc"));
    assert_int_equal(dispatches, 2);
}

static void test_header_too_large(void **state)
{
    struct fix *x = *state;
    char big[2048];

    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    feed(x, "GET /hello HTTP/1.1\r\nX-Big: ");
    assert_int_equal(x->f.out.len, 0);
    feed(x, big);
    assert_non_null(strstr(out(x), "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    assert_non_null(strstr(out(x), "\"errcode\":\"M_TOO_LARGE\""));
    assert_non_null(strstr(out(x), "Connection: close\r\n"));
    assert_true(balai_http_conn_closing(x->hc));
    assert_true(x->f.shutdown);
    assert_int_equal(dispatches, 0);
    /* more input while lingering is dropped */
    feed(x, "GET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(count(out(x), "HTTP/1.1"), 1);
}

static void test_header_limit_exact(void **state)
{
    struct fix *x = *state;
    char req[1100];
    const char *pre = "GET /hello HTTP/1.1\r\nX-Pad: ";
    size_t n;

    /* exactly 1024 bytes of head: accepted */
    n = strlen(pre);
    memcpy(req, pre, n);
    memset(req + n, 'p', 1024 - n - 4);
    memcpy(req + 1024 - 4, "\r\n\r\n", 5);
    assert_int_equal(strlen(req), 1024);
    feed(x, req);
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK"));
    assert_false(balai_http_conn_closing(x->hc));

    /* 1025 bytes: refused */
    balai_buf_reset(&x->f.out);
    memset(req + n, 'p', 1025 - n - 4);
    memcpy(req + 1025 - 4, "\r\n\r\n", 5);
    feed(x, req);
    assert_non_null(strstr(out(x), "HTTP/1.1 431 "));
}

static void test_many_headers(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 200 && !balai_http_conn_closing(x->hc); i++)
        feed(x, "a:\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 431 "));
}

static void test_content_length_too_large(void **state)
{
    struct fix *x = *state;

    /* refused as soon as the headers are in, before any body byte */
    feed(x, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 413 Payload Too Large\r\n"));
    assert_non_null(strstr(out(x), "Request body exceeds 1000 bytes"));
    assert_true(balai_http_conn_closing(x->hc));
    assert_int_equal(dispatches, 0);
}

static void test_route_body_limit(void **state)
{
    struct fix *x = *state;

    feed(x, "POST /small HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK"));
    balai_buf_reset(&x->f.out);
    feed(x, "POST /small HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 413 "));
    assert_non_null(strstr(out(x), "Request body exceeds 16 bytes"));
}

static void test_chunked(void **state)
{
    struct fix *x = *state;

    feed(x, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK"));
    assert_non_null(strstr(out(x), "Content-Length: 7\r\n"));
    assert_non_null(strstr(out(x), "\r\n\r\nabcdefg"));
    assert_false(balai_http_conn_closing(x->hc));
}

static void test_chunked_too_large(void **state)
{
    struct fix *x = *state;
    char chunk[600];

    memset(chunk, 'z', sizeof(chunk));
    feed(x, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    feed(x, "258\r\n"); /* 600 */
    balai_http_conn_feed(x->hc, chunk, sizeof(chunk));
    feed(x, "\r\n258\r\n");
    assert_int_equal(x->f.out.len, 0);
    balai_http_conn_feed(x->hc, chunk, sizeof(chunk));
    assert_non_null(strstr(out(x), "HTTP/1.1 413 "));
    assert_true(balai_http_conn_closing(x->hc));
    assert_int_equal(dispatches, 0);
}

static void test_malformed(void **state)
{
    struct fix *x = *state;
    static const char *const bad[] = {
        "\x01\x02garbage\r\n\r\n",
        "GET /hello HTTP/9.9\r\n\r\n",
        "GET /hello HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET /hello HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /hel lo HTTP/1.1\r\n\r\n",
    };

    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        balai_http_conn_free(x->hc);
        balai_buf_reset(&x->f.out);
        memset(&x->f.shutdown, 0, sizeof(int) * 3);
        x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
        feed(x, bad[i]);
        if (!strstr(out(x), "HTTP/1.1 400 Bad Request\r\n"))
            fail_msg("input %zu: got '%s'", i, out(x));
        assert_non_null(strstr(out(x), "\"errcode\":\"M_BAD_REQUEST\""));
        assert_true(balai_http_conn_closing(x->hc));
    }
    assert_int_equal(dispatches, 0);
}

static void test_pipelined(void **state)
{
    struct fix *x = *state;
    const char *a, *b;

    feed(x, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nfirstPOST /echo HTTP/1.1\r\n"
            "Content-Length: 6\r\n\r\nsecondGET /hello HTTP/1.1\r\n\r\n");
    assert_int_equal(dispatches, 3);
    assert_string_equal(order, "firstsecond");
    a = strstr(out(x), "\r\n\r\nfirst");
    b = strstr(out(x), "\r\n\r\nsecond");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_true(b < strstr(out(x), "\r\n\r\nhello"));
    assert_int_equal(count(out(x), "HTTP/1.1 200 OK"), 3);
}

static void test_pipelined_behind_parked(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /park HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\nGET /hello");
    assert_non_null(parked);
    assert_int_equal(dispatches, 1);
    assert_int_equal(x->f.out.len, 0);
    feed(x, " HTTP/1.1\r\n\r\n");
    assert_int_equal(dispatches, 1);
    /* answering the parked request lets the next ones through, in order */
    balai_http_respond(parked, 200, "application/json", "{\"p\":1}", 7);
    parked = NULL;
    assert_int_equal(dispatches, 3);
    assert_true(strstr(out(x), "{\"p\":1}") < strstr(out(x), "hello"));
    assert_int_equal(count(out(x), "HTTP/1.1 200 OK"), 3);
    assert_int_equal(aborts, 0);
}

static void test_parked_abort(void **state)
{
    struct fix *x = *state;
    struct balai_http_req *req;

    feed(x, "GET /park HTTP/1.1\r\n\r\n");
    req = parked;
    assert_non_null(req);
    /* the client goes away */
    balai_http_conn_eof(x->hc);
    assert_true(x->f.closed);
    balai_http_conn_free(x->hc);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    assert_int_equal(aborts, 1);
    /* the late answer is discarded (and frees the request: ASan checks) */
    balai_buf_reset(&x->f.out);
    balai_http_respond(req, 200, "text/plain", "late", 4);
    assert_int_equal(x->f.out.len, 0);
    assert_int_equal(aborts, 1);
}

static void test_expect_continue(void **state)
{
    struct fix *x = *state;

    feed(x, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_string_equal(out(x), "HTTP/1.1 100 Continue\r\n\r\n");
    feed(x, "body");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK"));
    assert_non_null(strstr(out(x), "\r\n\r\nbody"));

    /* over the limit: 413 instead of 100, then close */
    balai_buf_reset(&x->f.out);
    feed(x, "POST /small HTTP/1.1\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n");
    assert_null(strstr(out(x), "100 Continue"));
    assert_non_null(strstr(out(x), "HTTP/1.1 413 "));
    assert_true(balai_http_conn_closing(x->hc));
}

static void test_expect_body_already_sent(void **state)
{
    struct fix *x = *state;

    /* the client did not wait: no 100 needed */
    feed(x, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi");
    assert_null(strstr(out(x), "100 Continue"));
    assert_non_null(strstr(out(x), "\r\n\r\nhi"));
}

static void test_connection_close(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "Connection: close\r\n"));
    assert_int_equal(count(out(x), "HTTP/1.1 200"), 1);
    assert_true(balai_http_conn_closing(x->hc));
    assert_true(x->f.shutdown);
}

static void test_http10(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_non_null(strstr(out(x), "Connection: keep-alive\r\n"));
    assert_false(balai_http_conn_closing(x->hc));
    balai_buf_reset(&x->f.out);
    feed(x, "GET /hello HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(out(x), "Connection: close\r\n"));
    assert_true(balai_http_conn_closing(x->hc));
}

static void test_not_found_method_options_head(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /nope HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(
        strstr(out(x), "{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"Unrecognized request\"}"));
    balai_buf_reset(&x->f.out);
    feed(x, "DELETE /hello HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(out(x), "Allow: GET\r\n"));
    assert_non_null(strstr(out(x), "M_UNRECOGNIZED"));
    balai_buf_reset(&x->f.out);
    feed(x, "OPTIONS /anything/at/all HTTP/1.1\r\nOrigin: https://x\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out(x), "Access-Control-Allow-Origin: *\r\n"));
    assert_non_null(strstr(out(x), "\r\n\r\n{}"));
    balai_buf_reset(&x->f.out);
    feed(x, "HEAD /hello HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out(x), "Content-Length: 5\r\n"));
    assert_null(strstr(out(x), "hello"));
    balai_buf_reset(&x->f.out);
    feed(x, "PATCH /hello HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 405 "));
    assert_false(balai_http_conn_closing(x->hc));
}

static void test_query_headers_params(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /q/%21r%3Ax?a=1%202&b+c=x+y&nul=%00&a=second HTTP/1.1\r\n"
            "X-Test: value  \r\n\r\n");
    assert_non_null(strstr(out(x), "a=1 2 b=x y nul=(null) h=value p=!r:x"));
    balai_buf_reset(&x->f.out);
    feed(x, "GET http://example.org/q/abs?a=z HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "a=z b=(null) nul=(null) h= p=abs"));
}

static void test_error_json_and_headers(void **state)
{
    struct fix *x = *state;

    feed(x, "GET /error HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(out(x), "HTTP/1.1 429 Too Many Requests\r\n"));
    assert_non_null(strstr(out(x), "Retry-After: 5\r\n"));
    assert_null(strstr(out(x), "Bad"));
    assert_non_null(strstr(out(x), "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"quote \\\" "
                                   "backslash \\\\ nl \\u000a bad \\ufffd\"}"));
}

static void test_timeouts(void **state)
{
    struct fix *x = *state;

    /* slowloris: the head must be complete within 10 s of its first byte */
    balai_http_server_set_clock(x->srv, 1000);
    balai_http_conn_free(x->hc);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    feed(x, "GET /hello HTTP/1.1\r\nX-A: 1\r\n");
    for (uint64_t t = 2000; t <= 10000; t += 1000) {
        balai_http_server_set_clock(x->srv, t);
        feed(x, "X: 1\r\n");
        balai_http_server_run_timeouts(x->srv);
        assert_int_equal(x->f.out.len, 0);
    }
    balai_http_server_set_clock(x->srv, 11000);
    balai_http_server_run_timeouts(x->srv);
    assert_non_null(strstr(out(x), "HTTP/1.1 408 Request Timeout\r\n"));
    assert_true(balai_http_conn_closing(x->hc));
    assert_false(x->f.closed);
    /* lingering ends after a short while */
    balai_http_server_set_clock(x->srv, 14000);
    balai_http_server_run_timeouts(x->srv);
    assert_true(x->f.closed);

    /* body timeout */
    balai_http_conn_free(x->hc);
    memset(&x->f.shutdown, 0, sizeof(int) * 3);
    balai_buf_reset(&x->f.out);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    feed(x, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    balai_http_server_set_clock(x->srv, 14000 + 29999);
    balai_http_server_run_timeouts(x->srv);
    assert_int_equal(x->f.out.len, 0);
    balai_http_server_set_clock(x->srv, 14000 + 30000);
    balai_http_server_run_timeouts(x->srv);
    assert_non_null(strstr(out(x), "HTTP/1.1 408 "));

    /* idle keep-alive connection: closed silently after 60 s */
    balai_http_conn_free(x->hc);
    memset(&x->f.shutdown, 0, sizeof(int) * 3);
    balai_buf_reset(&x->f.out);
    balai_http_server_set_clock(x->srv, 100000);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    feed(x, "GET /hello HTTP/1.1\r\n\r\n");
    balai_buf_reset(&x->f.out);
    balai_http_server_set_clock(x->srv, 159999);
    balai_http_server_run_timeouts(x->srv);
    assert_false(x->f.closed);
    balai_http_server_set_clock(x->srv, 160000);
    balai_http_server_run_timeouts(x->srv);
    assert_true(x->f.closed);
    assert_int_equal(x->f.out.len, 0);

    /* a parked request has no deadline */
    balai_http_conn_free(x->hc);
    memset(&x->f.shutdown, 0, sizeof(int) * 3);
    x->hc = balai_http_conn_new(x->srv, &fake_io, &x->f, 0);
    feed(x, "GET /park HTTP/1.1\r\n\r\n");
    balai_http_server_set_clock(x->srv, 10000000);
    balai_http_server_run_timeouts(x->srv);
    assert_false(x->f.closed);
    balai_http_respond(parked, 200, NULL, NULL, 0);
    assert_non_null(strstr(out(x), "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out(x), "Content-Length: 0\r\n"));
}

static void test_queued_writes(void **state)
{
    struct fix *x = *state;

    x->f.queue = 1;
    feed(x, "GET /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    /* the second waits until the first is written */
    assert_int_equal(dispatches, 1);
    assert_int_equal(x->f.queued_writes, 1);
    balai_http_conn_written(x->hc, 0);
    assert_int_equal(dispatches, 2);
    balai_http_conn_written(x->hc, 0);
    assert_int_equal(count(out(x), "HTTP/1.1 200"), 2);
    /* a failed write closes */
    feed(x, "GET /hello HTTP/1.1\r\n\r\n");
    balai_http_conn_written(x->hc, BALAI_EIO);
    assert_true(x->f.closed);
}

static void test_stalled_write(void **state)
{
    struct fix *x = *state;

    /* a client that stops reading: the write deadline (idle timeout) is
     * extended while the queue shrinks, then the connection is closed */
    balai_http_server_set_clock(x->srv, 0);
    x->f.queue = 1;
    x->f.qsize = 5000;
    feed(x, "GET /hello HTTP/1.1\r\n\r\n");
    balai_http_server_set_clock(x->srv, 60000);
    x->f.qsize = 4000;
    balai_http_server_run_timeouts(x->srv);
    assert_false(x->f.closed);
    balai_http_server_set_clock(x->srv, 120000);
    balai_http_server_run_timeouts(x->srv);
    assert_true(x->f.closed);
    /* the transport cancels the write when it closes */
    balai_http_conn_written(x->hc, BALAI_ECLOSED);
}

static void test_backpressure(void **state)
{
    struct fix *x = *state;
    char junk[4096];

    memset(junk, 'x', sizeof(junk));
    feed(x, "GET /park HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 20; i++)
        balai_http_conn_feed(x->hc, junk, sizeof(junk));
    assert_true(x->f.paused);
    balai_http_respond(parked, 200, NULL, "", 0);
    /* the junk is then parsed: 400, close */
    assert_non_null(strstr(out(x), "HTTP/1.1 400 "));
    assert_true(balai_http_conn_closing(x->hc));
}

static void shutdown_done(void *arg)
{
    (*(int *)arg)++;
}

static void test_shutdown(void **state)
{
    struct fix *x = *state;
    struct fake f2;
    struct balai_http_conn *idle;
    int done = 0;

    memset(&f2, 0, sizeof(f2));
    balai_buf_init(&f2.out, 0);
    idle = balai_http_conn_new(x->srv, &fake_io, &f2, 0);
    feed(x, "GET /park HTTP/1.1\r\n\r\n");
    balai_http_server_shutdown(x->srv, shutdown_done, &done);
    assert_true(f2.closed);      /* idle: closed at once */
    assert_int_equal(aborts, 1); /* parked: told */
    assert_false(x->f.closed);
    balai_http_conn_free(idle);
    assert_int_equal(done, 0);
    /* the parked answer is still delivered, then the connection closes */
    balai_http_respond(parked, 200, "application/json", "{}", 2);
    assert_non_null(strstr(out(x), "Connection: close\r\n"));
    assert_true(balai_http_conn_closing(x->hc));
    balai_http_conn_free(x->hc);
    x->hc = NULL;
    assert_int_equal(done, 1);
    assert_int_equal(aborts, 1);
    balai_buf_release(&f2.out);
    /* teardown frees a NULL conn */
}

static void test_free_with_parked(void **state)
{
    struct fix *x = *state;
    struct balai_http_req *req;

    feed(x, "GET /park HTTP/1.1\r\n\r\n");
    req = parked;
    /* free: the parked request is aborted before free returns */
    balai_http_server_free(x->srv);
    x->srv = NULL;
    assert_int_equal(aborts, 1);
    assert_true(x->f.closed);
    /* the transport finishes closing: the server memory goes with it */
    balai_http_conn_free(x->hc);
    x->hc = NULL;
    assert_int_equal(aborts, 1);
    balai_http_respond(req, 200, NULL, NULL, 0); /* discarded, frees req */
    assert_null(strstr(out(x), "HTTP/1.1 200"));
}

static void test_metrics(void **state)
{
    struct fix *x = *state;
    struct balai_buf m;

    feed(x, "GET /hello HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
    balai_buf_init(&m, 0);
    balai_http_server_metrics(x->srv, &m);
    assert_non_null(strstr(
        m.data, "balai_http_requests_total{route=\"/hello\",method=\"GET\",code=\"200\"} 2"));
    assert_non_null(strstr(
        m.data, "balai_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"} 1"));
    assert_non_null(strstr(m.data, "balai_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
    assert_non_null(strstr(m.data, "balai_http_request_duration_seconds_count 3"));
    assert_non_null(strstr(m.data, "balai_http_connections_open 1\n"));
    balai_buf_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple_get_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_limit_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_length_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_body_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_behind_parked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parked_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_body_already_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_method_options_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_headers_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_json_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_parked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
