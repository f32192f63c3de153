/* conn.c: the HTTP/1.1 connection engine over http_parser.
 *
 * DESIGN: bytes are parsed straight from the transport's read buffer. The
 * parser callbacks copy the request line and headers into the request's
 * own buffer and the body into its body buffer, so nothing points into the
 * read buffer afterwards. The parser is paused twice per request: when the
 * headers are complete (to route, check the body limit against
 * Content-Length and answer "Expect: 100-continue" outside the callback)
 * and when the message is complete (to dispatch). Requests on a connection
 * are strictly one at a time: while one is with its handler or being
 * written, later bytes wait in `pend` (reading stops when too much waits)
 * and parsing resumes once the answer is written. Header-size accounting
 * feeds the parser at most max_header_bytes + 1 bytes of a request head, so
 * the limit is exact. Idle connections hold no buffers. */
#include "balai.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "http"
#include "http/http_int.h"
#include "util/alloc.h"
#include "util/log.h"

enum { EV_NONE, EV_HEADERS, EV_MESSAGE };

#define MAX_HEADERS 128
#define PEND_CAP_MIN 65536
#define HEAD_INITIAL 512

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static int busy(const struct balai_http_conn *hc)
{
    return hc->phase >= PH_HANDLER;
}

static size_t pend_cap(const struct balai_http_conn *hc)
{
    size_t h = balai__http_limits(hc->srv)->max_header_bytes;
    return h > PEND_CAP_MIN ? h : PEND_CAP_MIN;
}

/* ---- lifecycle ---- */

size_t balai_http_conn_size(void)
{
    return sizeof(struct balai_http_conn);
}

void balai_http_conn_init(struct balai_http_conn *hc, struct balai_http_server *s,
                          const struct balai_http_io *io, void *io_arg, int local)
{
    memset(hc, 0, sizeof(*hc));
    http_parser_init(&hc->parser, HTTP_REQUEST);
    hc->parser.data = hc;
    hc->srv = s;
    hc->io = io;
    hc->io_arg = io_arg;
    hc->local = (uint8_t)(local != 0);
    hc->phase = PH_IDLE;
    hc->list = L_NONE;
    balai__http_conn_added(s, hc);
    balai__http_timed_set(s, hc, L_IDLE);
}

struct balai_http_conn *balai_http_conn_new(struct balai_http_server *s,
                                            const struct balai_http_io *io, void *io_arg, int local)
{
    struct balai_http_conn *hc = balai_malloc(sizeof(*hc));
    balai_http_conn_init(hc, s, io, io_arg, local);
    return hc;
}

static void pend_drop(struct balai_http_conn *hc)
{
    free(hc->pend);
    hc->pend = NULL;
    hc->pend_off = hc->pend_len = hc->pend_alloc = 0;
}

void balai_http_conn_release(struct balai_http_conn *hc)
{
    struct http_req *r = hc->req;

    balai__http_timed_set(hc->srv, hc, L_NONE);
    hc->phase = PH_CLOSED;
    hc->req = NULL;
    if (r) {
        if (r->dispatched && !r->responded) {
            /* Parked: the handler still owns it and must answer. */
            r->conn = NULL;
            if (r->pub.on_abort && !r->abort_called) {
                r->abort_called = 1;
                r->pub.on_abort(&r->pub); /* may answer (and free) r */
            }
        } else {
            balai__http_req_free(r);
        }
    }
    pend_drop(hc);
    balai__http_conn_removed(hc->srv, hc);
}

void balai_http_conn_free(struct balai_http_conn *hc)
{
    if (!hc)
        return;
    balai_http_conn_release(hc);
    free(hc);
}

int balai_http_conn_closing(const struct balai_http_conn *hc)
{
    return hc->phase >= PH_LINGER;
}

static void conn_close(struct balai_http_conn *hc)
{
    if (hc->phase == PH_CLOSED)
        return;
    hc->phase = PH_CLOSED;
    balai__http_timed_set(hc->srv, hc, L_NONE);
    hc->io->close(hc->io_arg);
}

void balai__http_conn_close(struct balai_http_conn *hc)
{
    struct http_req *r = hc->req;

    /* Server free: a parked request is handed to its handler now, so that
     * no callback comes from the server after balai_http_server_free. */
    if (r && r->dispatched && !r->responded) {
        hc->req = NULL;
        r->conn = NULL;
        if (r->pub.on_abort && !r->abort_called) {
            r->abort_called = 1;
            r->pub.on_abort(&r->pub); /* may answer (and free) r */
        }
    }
    conn_close(hc);
}

/* After an answer that ends the connection: send FIN, drain input until
 * the peer closes (so that unread input does not turn our close into a
 * reset that loses the answer), with a short deadline. */
static void conn_linger(struct balai_http_conn *hc)
{
    if (!hc->io->shutdown) {
        conn_close(hc);
        return;
    }
    hc->phase = PH_LINGER;
    hc->io->shutdown(hc->io_arg);
    balai__http_timed_set(hc->srv, hc, L_LINGER);
    if (hc->read_paused && hc->io->read_pause) {
        hc->read_paused = 0;
        hc->io->read_pause(hc->io_arg, 0);
    }
}

static void read_pause(struct balai_http_conn *hc, int pause)
{
    if (!hc->io->read_pause || hc->read_paused == pause || hc->phase == PH_CLOSED)
        return;
    hc->read_paused = (uint8_t)pause;
    hc->io->read_pause(hc->io_arg, pause);
}

/* ---- failing a request ---- */

static void fail(struct balai_http_conn *hc, int status, const char *errcode, const char *error)
{
    struct http_req *r = hc->req;

    if (hc->phase >= PH_HANDLER || (r && r->dispatched)) {
        conn_close(hc);
        return;
    }
    if (!r)
        r = hc->req = balai__http_req_new(hc);
    r->dispatched = 1;
    hc->phase = PH_HANDLER;
    balai__http_timed_set(hc->srv, hc, L_NONE);
    balai__http_req_fail(r, status, errcode, error);
}

static void fail_too_big(struct balai_http_conn *hc)
{
    char msg[80];
    size_t max = hc->req && hc->req->body_max ? hc->req->body_max
                                              : balai__http_limits(hc->srv)->max_body_default;
    snprintf(msg, sizeof(msg), "Request body exceeds %zu bytes", max);
    fail(hc, 413, "M_TOO_LARGE", msg);
}

static void fail_parse(struct balai_http_conn *hc, enum http_errno e)
{
    char msg[160];

    if (hc->err_status == 431 || e == HPE_HEADER_OVERFLOW) {
        fail(hc, 431, "M_TOO_LARGE", "Request headers too large");
    } else if (hc->err_status == 413) {
        fail_too_big(hc);
    } else {
        snprintf(msg, sizeof(msg), "Malformed HTTP request: %s", http_errno_description(e));
        fail(hc, 400, "M_BAD_REQUEST", msg);
    }
}

/* ---- parser callbacks ---- */

/* Makes room for `len` more bytes in the request's head buffer. */
static int head_reserve(struct http_req *r, size_t len)
{
    if (r->head_len + len + 1 > r->head_alloc) {
        size_t n = r->head_alloc ? r->head_alloc : HEAD_INITIAL;
        while (n < r->head_len + len + 1)
            n *= 2;
        if (n > UINT32_MAX)
            return BALAI_ETOOBIG;
        r->head = balai_realloc(r->head, n);
        r->head_alloc = (uint32_t)n;
    }
    return BALAI_OK;
}

static int head_append(struct http_req *r, const char *at, size_t len)
{
    if (head_reserve(r, len) != BALAI_OK)
        return BALAI_ETOOBIG;
    memcpy(r->head + r->head_len, at, len);
    r->head_len += (uint32_t)len;
    return BALAI_OK;
}

static int on_message_begin(http_parser *p)
{
    struct balai_http_conn *hc = p->data;

    if (hc->req) {
        hc->err_status = 400;
        return -1;
    }
    hc->req = balai__http_req_new(hc);
    hc->phase = PH_HEAD;
    hc->hdr_state = 0;
    hc->err_status = 0;
    balai__http_timed_set(hc->srv, hc, L_HEAD);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct balai_http_conn *hc = p->data;
    struct http_req *r = hc->req;

    if (hc->phase != PH_HEAD || !r)
        return 0;
    if (head_append(r, at, len) != BALAI_OK) {
        hc->err_status = 431;
        return -1;
    }
    r->url_len += (uint32_t)len;
    r->parser_method = p->method; /* known once the URL starts (for the log) */
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct balai_http_conn *hc = p->data;
    struct http_req *r = hc->req;

    if (hc->phase != PH_HEAD || !r)
        return 0; /* trailers of a chunked body are ignored */
    if (hc->hdr_state != 1) {
        struct http_hdr *h;

        if (r->nhdrs == MAX_HEADERS) {
            hc->err_status = 431;
            return -1;
        }
        if (r->nhdrs == r->ahdrs) {
            r->ahdrs = r->ahdrs ? r->ahdrs * 2 : 16;
            r->hdrs = balai_realloc(r->hdrs, r->ahdrs * sizeof(*r->hdrs));
        }
        h = &r->hdrs[r->nhdrs++];
        memset(h, 0, sizeof(*h));
        h->name_off = r->head_len;
        hc->hdr_state = 1;
    }
    if (head_append(r, at, len) != BALAI_OK) {
        hc->err_status = 431;
        return -1;
    }
    r->hdrs[r->nhdrs - 1].name_len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct balai_http_conn *hc = p->data;
    struct http_req *r = hc->req;
    struct http_hdr *h;

    if (hc->phase != PH_HEAD || !r || r->nhdrs == 0)
        return 0;
    h = &r->hdrs[r->nhdrs - 1];
    if (hc->hdr_state != 2) {
        h->val_off = r->head_len;
        h->val_len = 0;
        hc->hdr_state = 2;
    }
    if (head_append(r, at, len) != BALAI_OK) {
        hc->err_status = 431;
        return -1;
    }
    h->val_len += (uint32_t)len;
    return 0;
}

/* Behind a trusted reverse proxy, the client is the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy. */
static void forwarded_for(struct balai_http_conn *hc, struct http_req *r)
{
    const char *peer = r->pub.peer_ip;
    if (!balai__http_trusted_proxy(hc->srv, peer, strlen(peer)))
        return;
    struct balai_slice xff = balai_http_req_header(&r->pub, "x-forwarded-for");
    size_t end = xff.len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff.ptr[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && (xff.ptr[a] == ' ' || xff.ptr[a] == '\t'))
            a++;
        while (b > a && (xff.ptr[b - 1] == ' ' || xff.ptr[b - 1] == '\t'))
            b--;
        char ip[sizeof(r->pub.peer_ip)];
        unsigned char bin[16];
        if (b == a || b - a >= sizeof(ip))
            return; /* empty or malformed: keep the proxy's address */
        memcpy(ip, xff.ptr + a, b - a);
        ip[b - a] = '\0';
        if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
            return;
        if (!balai__http_trusted_proxy(hc->srv, ip, b - a)) {
            memcpy(r->pub.peer_ip, ip, b - a + 1);
            return;
        }
        end = start > 0 ? start - 1 : 0;
    }
}

static int on_headers_complete(http_parser *p)
{
    struct balai_http_conn *hc = p->data;

    if (hc->phase != PH_HEAD)
        return 0;
    hc->event = EV_HEADERS;
    http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct balai_http_conn *hc = p->data;
    struct http_req *r = hc->req;

    if (!r || hc->phase != PH_BODY)
        return 0;
    if (len > r->body_max - r->body_len) {
        hc->err_status = 413;
        return -1;
    }
    if (r->body_len + len + 1 > r->body_alloc) {
        /* grow with what arrives (a Content-Length alone reserves
         * nothing), ending at an exact fit when the length is known */
        size_t n = r->body_alloc ? r->body_alloc * 2 : 1024;
        while (n < r->body_len + len + 1)
            n *= 2;
        if (r->body_expect && n > r->body_expect + 1)
            n = r->body_expect + 1;
        if (n > r->body_max + 1)
            n = r->body_max + 1;
        r->body = balai_realloc(r->body, n);
        r->body_alloc = n;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct balai_http_conn *hc = p->data;

    if (hc->phase != PH_BODY)
        return 0;
    hc->event = EV_MESSAGE;
    http_parser_pause(p, 1);
    return 0;
}

/* ---- request head complete ---- */

static enum balai_http_method map_method(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return BALAI_HTTP_GET;
    case HTTP_POST:
        return BALAI_HTTP_POST;
    case HTTP_PUT:
        return BALAI_HTTP_PUT;
    case HTTP_DELETE:
        return BALAI_HTTP_DELETE;
    case HTTP_OPTIONS:
        return BALAI_HTTP_OPTIONS;
    case HTTP_HEAD:
        return BALAI_HTTP_HEAD;
    case HTTP_PATCH:
        return BALAI_HTTP_PATCH;
    default:
        return BALAI_HTTP_OTHER;
    }
}

/* Splits the URL into path and query and stores a NUL-terminated copy of
 * the path after the headers. */
static void split_url(struct http_req *r)
{
    const char *url = r->head;
    size_t ulen = r->url_len, ps = 0, pe, path_off, plen;

    if (ulen > 0 && url[0] != '/') {
        /* absolute-form "http://host/path"; anything else has no path */
        const char *sep = ulen >= 3 ? memmem(url, ulen, "://", 3) : NULL;
        ps = ulen;
        if (sep) {
            const char *slash = memchr(sep + 3, '/', ulen - (size_t)(sep + 3 - url));
            if (slash)
                ps = (size_t)(slash - url);
        }
    }
    pe = ps;
    while (pe < ulen && url[pe] != '?' && url[pe] != '#')
        pe++;
    if (pe < ulen && url[pe] == '?') {
        size_t qe = pe + 1;
        while (qe < ulen && url[qe] != '#')
            qe++;
        r->has_query = 1;
        r->query_off = (uint32_t)(pe + 1);
        r->query_len = (uint32_t)(qe - pe - 1);
    }
    /* then "\0" path "\0" after the headers */
    plen = pe - ps;
    head_reserve(r, plen + 2);
    r->head[r->head_len++] = '\0';
    path_off = r->head_len;
    memmove(r->head + path_off, r->head + ps, plen);
    r->head_len += (uint32_t)plen;
    r->head[r->head_len++] = '\0';
    r->pub.path = r->head + path_off;
    r->pub.path_len = plen;
}

static void send_continue(struct balai_http_conn *hc)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct balai_slice b = {cont, sizeof(cont) - 1};
    int w = hc->io->write(hc->io_arg, &b, 1);

    if (w == 0)
        hc->wpending++;
    else if (w < 0)
        conn_close(hc);
}

static void headers_done(struct balai_http_conn *hc, int more_data)
{
    struct http_req *r = hc->req;
    http_parser *p = &hc->parser;
    const struct balai_http_limits *lim = balai__http_limits(hc->srv);
    size_t limit = lim->max_body_default;
    int has_body;
    struct balai_slice expect;

    split_url(r);
    if (p->http_major != 1) {
        fail(hc, 400, "M_BAD_REQUEST", "Unsupported HTTP version");
        return;
    }
    /* RFC 9112 5.1: no whitespace inside or after a field name (the parser
     * tolerates it; a smuggled "Content-Length :" must not get through) */
    for (uint32_t i = 0; i < r->nhdrs; i++) {
        const char *n = r->head + r->hdrs[i].name_off;
        if (r->hdrs[i].name_len == 0 || memchr(n, ' ', r->hdrs[i].name_len) ||
            memchr(n, '\t', r->hdrs[i].name_len)) {
            fail(hc, 400, "M_BAD_REQUEST", "Malformed HTTP request: invalid header name");
            return;
        }
    }
    forwarded_for(hc, r);
    r->parser_method = p->method;
    r->pub.method = map_method(p->method);
    r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
    r->http10_keep_alive = r->keep_alive && p->http_major == 1 && p->http_minor == 0;
    if (r->pub.method != BALAI_HTTP_OPTIONS) {
        r->match_rc = balai_router_match(balai__http_router(hc->srv), r->pub.method, r->pub.path,
                                         r->pub.path_len, &r->match);
        if (r->match_rc == BALAI_OK && balai_route_max_body(r->match.route))
            limit = balai_route_max_body(r->match.route);
    }
    r->body_max = limit;
    hc->phase = PH_BODY;
    has_body = (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX &&
        p->content_length > limit) {
        fail_too_big(hc);
        return;
    }
    if (!has_body)
        return;
    expect = balai_http_req_header(&r->pub, "expect");
    if (expect.len && balai_slice_ieq(expect, "100-continue") && !more_data && p->http_major == 1 &&
        p->http_minor >= 1)
        send_continue(hc);
    if (!(p->flags & F_CHUNKED))
        r->body_expect = (size_t)p->content_length;
    balai__http_timed_set(hc->srv, hc, L_BODY);
}

/* ---- dispatch ---- */

static void dispatch(struct balai_http_conn *hc)
{
    struct http_req *r = hc->req;
    char allow[64];

    r->pub.body = r->body ? r->body : "";
    r->pub.body_len = r->body_len;
    r->pub.params = r->match.params;
    r->pub.nparams = r->match.nparams;
    r->pub.route = r->match.route;
    r->pub.route_data = r->match.route ? balai_route_data(r->match.route) : NULL;
    r->dispatched = 1;
    hc->phase = PH_HANDLER;
    balai__http_timed_set(hc->srv, hc, L_NONE);

    if (r->pub.method == BALAI_HTTP_OPTIONS) {
        balai_http_respond(&r->pub, 200, "application/json", "{}", 2);
        return;
    }
    switch (r->match_rc) {
    case BALAI_OK:
        balai_route_handler(r->match.route)(&r->pub);
        return;
    case BALAI_ESTATE:
        balai_router_allow_text(r->match.allow, allow, sizeof(allow));
        balai_http_add_header(&r->pub, "Allow", allow);
        balai_http_respond_error(&r->pub, 405, "M_UNRECOGNIZED", "Unrecognized request");
        return;
    default:
        balai_http_respond_error(&r->pub, 404, "M_UNRECOGNIZED", "Unrecognized request");
        return;
    }
}

/* ---- parsing ---- */

/* Parses from data until done, an error, or the connection is busy.
 * Returns the bytes consumed. */
static size_t run(struct balai_http_conn *hc, const char *data, size_t len)
{
    size_t limit = balai__http_limits(hc->srv)->max_header_bytes;
    size_t off = 0;

    hc->in_run++;
    while (off < len && !busy(hc)) {
        int counting = hc->phase == PH_IDLE || hc->phase == PH_HEAD;
        size_t chunk = len - off, k;
        enum http_errno e;

        if (counting && chunk > limit + 1 - hc->head_bytes)
            chunk = limit + 1 - hc->head_bytes;
        hc->event = EV_NONE;
        k = http_parser_execute(&hc->parser, &settings, data + off, chunk);
        off += k;
        e = HTTP_PARSER_ERRNO(&hc->parser);
        if (counting)
            hc->head_bytes += (uint32_t)k;
        if (e == HPE_PAUSED) {
            http_parser_pause(&hc->parser, 0);
            if (hc->event == EV_HEADERS) {
                /* k stops before the head's final LF */
                if (hc->head_bytes + 1 > limit) {
                    fail(hc, 431, "M_TOO_LARGE", "Request headers too large");
                    break;
                }
                hc->head_bytes = 0;
                headers_done(hc, off + 1 < len);
            } else if (hc->event == EV_MESSAGE) {
                hc->head_bytes = 0;
                dispatch(hc);
            }
            continue;
        }
        if (e != HPE_OK) {
            fail_parse(hc, e);
            break;
        }
        if (counting && hc->head_bytes > limit) {
            fail(hc, 431, "M_TOO_LARGE", "Request headers too large");
            break;
        }
        if (k == 0)
            break;
    }
    hc->in_run--;
    return off;
}

static void pend_append(struct balai_http_conn *hc, const char *data, size_t len)
{
    size_t live = hc->pend_len - hc->pend_off;

    if (hc->pend_off && hc->pend_len + len > hc->pend_alloc) {
        memmove(hc->pend, hc->pend + hc->pend_off, live);
        hc->pend_off = 0;
        hc->pend_len = (uint32_t)live;
    }
    if (hc->pend_len + len > hc->pend_alloc) {
        size_t n = hc->pend_alloc ? hc->pend_alloc : 1024;
        while (n < hc->pend_len + len)
            n *= 2;
        hc->pend = balai_realloc(hc->pend, n);
        hc->pend_alloc = (uint32_t)n;
    }
    memcpy(hc->pend + hc->pend_len, data, len);
    hc->pend_len += (uint32_t)len;
    if (hc->pend_len - hc->pend_off > pend_cap(hc))
        read_pause(hc, 1);
}

/* Parses what waits in pend, as far as the connection is free. */
static void process_pending(struct balai_http_conn *hc)
{
    while (hc->pend_off < hc->pend_len && !busy(hc)) {
        size_t k = run(hc, hc->pend + hc->pend_off, hc->pend_len - hc->pend_off);
        hc->pend_off += (uint32_t)k;
        if (k == 0)
            break;
    }
    if (hc->pend_off >= hc->pend_len || hc->phase >= PH_LINGER)
        pend_drop(hc);
    if (hc->phase < PH_LINGER && hc->pend_len - hc->pend_off <= pend_cap(hc))
        read_pause(hc, 0);
}

void balai_http_conn_feed(struct balai_http_conn *hc, const char *data, size_t len)
{
    size_t k;

    if (len == 0 || hc->phase >= PH_LINGER)
        return; /* lingering: input is drained and dropped */
    if (hc->pend_off < hc->pend_len || busy(hc) || hc->in_run) {
        pend_append(hc, data, len);
        if (!busy(hc) && !hc->in_run)
            process_pending(hc);
        return;
    }
    k = run(hc, data, len);
    if (k < len && hc->phase < PH_LINGER)
        pend_append(hc, data + k, len - k);
}

void balai_http_conn_eof(struct balai_http_conn *hc)
{
    conn_close(hc);
}

/* ---- answering ---- */

static void resume(struct balai_http_conn *hc)
{
    if (hc->pend_off < hc->pend_len)
        process_pending(hc);
    else
        read_pause(hc, 0);
}

static void response_done(struct balai_http_conn *hc, int may_resume)
{
    struct http_req *r = hc->req;
    int keep = r->keep_alive && !balai__http_shutting_down(hc->srv);

    hc->req = NULL;
    balai__http_req_free(r);
    if (!keep) {
        conn_linger(hc);
        return;
    }
    hc->phase = PH_IDLE;
    hc->head_bytes = 0;
    balai__http_timed_set(hc->srv, hc, L_IDLE);
    if (!hc->in_run && may_resume)
        resume(hc);
    else if (!hc->in_run && hc->pend_off < hc->pend_len)
        balai__http_defer_resume(hc->srv, hc);
}

void balai__http_conn_resume(struct balai_http_conn *hc)
{
    if (hc->phase == PH_IDLE && !hc->in_run)
        resume(hc);
}

void balai__http_conn_send(struct balai_http_conn *hc, const struct balai_slice *bufs,
                           unsigned nbufs)
{
    int w;

    hc->phase = PH_WRITING;
    w = hc->io->write(hc->io_arg, bufs, nbufs);
    if (w < 0) {
        conn_close(hc);
        return;
    }
    if (w == 0)
        hc->wpending++;
    if (hc->wpending == 0) {
        /* An answer given from inside another handler (a long-poll woken
         * by a send) must not run this connection's next request there:
         * pipelined input is parsed on a later loop turn. */
        response_done(hc, 0);
        return;
    }
    hc->wq_mark = hc->io->queued ? hc->io->queued(hc->io_arg) : 0;
    balai__http_timed_set(hc->srv, hc, L_WRITE);
}

void balai_http_conn_written(struct balai_http_conn *hc, int status)
{
    if (hc->wpending)
        hc->wpending--;
    if (hc->phase == PH_CLOSED)
        return;
    if (status < 0) {
        conn_close(hc);
        return;
    }
    if (hc->wpending == 0 && hc->phase == PH_WRITING)
        response_done(hc, 1);
}

/* ---- deadlines and shutdown ---- */

void balai__http_conn_expire(struct balai_http_conn *hc, int list)
{
    switch (list) {
    case L_HEAD:
    case L_BODY:
        fail(hc, 408, "M_UNKNOWN", "Request timed out");
        break;
    case L_WRITE:
        if (hc->io->queued) {
            size_t q = hc->io->queued(hc->io_arg);
            if (q < hc->wq_mark) {
                hc->wq_mark = q; /* progress: give it another period */
                balai__http_timed_set(hc->srv, hc, L_WRITE);
                break;
            }
        }
        conn_close(hc);
        break;
    default:
        conn_close(hc);
        break;
    }
}

void balai__http_conn_shutdown(struct balai_http_conn *hc)
{
    struct http_req *r = hc->req;

    if (hc->phase == PH_IDLE) {
        conn_close(hc);
    } else if (hc->phase == PH_HANDLER && r && !r->responded && r->pub.on_abort &&
               !r->abort_called) {
        r->abort_called = 1;
        r->pub.on_abort(&r->pub);
    }
}
