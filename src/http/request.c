/* request.c: the request object handlers see: header and query access,
 * building and sending the answer, the request log line. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MODULE "http"
#include "http/http_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define XHDR_CAP 16384
#define LOG_URL_MAX 400

/* Every response carries these (Matrix CS API, "Web Browser Clients"). */
static const char cors_headers[] =
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS\r\n"
    "Access-Control-Allow-Headers: X-Requested-With, Content-Type, Authorization\r\n";

/* Query parameters whose values never reach the log. */
static const char *const secret_params[] = {"access_token", "token", "password", "login_token",
                                            "refresh_token"};

uint64_t balai__http_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct http_req *balai__http_req_new(struct balai_http_conn *hc)
{
    struct http_req *r = balai_calloc(1, sizeof(*r));

    r->conn = hc;
    r->start_ns = balai__http_mono_ns();
    r->parser_method = 0xff; /* not known yet */
    r->pub.method = BALAI_HTTP_OTHER;
    r->pub.path = "";
    r->pub.body = "";
    r->pub.local = hc->local;
    if (hc->io->peer)
        hc->io->peer(hc->io_arg, r->pub.peer_ip, sizeof(r->pub.peer_ip));
    else
        memcpy(r->pub.peer_ip, "-", 2);
    balai_buf_init(&r->xhdr, XHDR_CAP);
    return r;
}

void balai__http_req_free(struct http_req *r)
{
    if (!r)
        return;
    while (r->scratch) {
        struct http_scratch *next = r->scratch->next;
        free(r->scratch);
        r->scratch = next;
    }
    balai_route_match_release(&r->match);
    balai_buf_release(&r->xhdr);
    free(r->head);
    free(r->hdrs);
    free(r->body);
    free(r->out);
    free(r->out_body);
    free(r);
}

/* ---- reading the request ---- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

struct balai_slice balai_http_req_header(const struct balai_http_req *req, const char *name)
{
    const struct http_req *r = (const struct http_req *)req;
    size_t nlen = strlen(name);

    for (uint32_t i = 0; i < r->nhdrs; i++) {
        const struct http_hdr *h = &r->hdrs[i];
        if (h->name_len == nlen && strncasecmp(r->head + h->name_off, name, nlen) == 0) {
            struct balai_slice v = {r->head + h->val_off, h->val_len};
            while (v.len && is_ws(v.ptr[v.len - 1]))
                v.len--;
            if (!v.len)
                v.ptr = "";
            return v;
        }
    }
    return balai_slice_make(NULL, 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long balai__http_pct_decode(const char *s, size_t len, char *out, int plus_space)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return (long)n;
}

struct balai_slice balai_http_req_query_string(const struct balai_http_req *req)
{
    const struct http_req *r = (const struct http_req *)req;
    if (!r->has_query)
        return balai_slice_make("", 0);
    return balai_slice_make(r->head + r->query_off, r->query_len);
}

static char *scratch_alloc(struct http_req *r, size_t n)
{
    struct http_scratch *s = balai_malloc(sizeof(*s) + n);
    s->next = r->scratch;
    r->scratch = s;
    return s->data;
}

/* True when the raw query key k[0..klen) decodes to `name`. */
static int key_is(const char *k, size_t klen, const char *name, size_t nlen)
{
    char tmp[256];
    long n;

    if (!memchr(k, '%', klen) && !memchr(k, '+', klen))
        return klen == nlen && memcmp(k, name, nlen) == 0;
    if (klen >= sizeof(tmp))
        return 0;
    n = balai__http_pct_decode(k, klen, tmp, 1);
    return n == (long)nlen && memcmp(tmp, name, nlen) == 0;
}

const char *balai_http_req_query(const struct balai_http_req *req, const char *name)
{
    struct http_req *r = (struct http_req *)req;
    struct balai_slice q = balai_http_req_query_string(req);
    size_t nlen = strlen(name), i = 0;

    while (i < q.len) {
        size_t end = i, eq;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        eq = i;
        while (eq < end && q.ptr[eq] != '=')
            eq++;
        if (key_is(q.ptr + i, eq - i, name, nlen)) {
            const char *v = eq < end ? q.ptr + eq + 1 : q.ptr + end;
            size_t vlen = eq < end ? end - eq - 1 : 0;
            char *out = scratch_alloc(r, vlen + 1);
            if (balai__http_pct_decode(v, vlen, out, 1) < 0)
                return NULL;
            return out;
        }
        i = end + 1;
    }
    return NULL;
}

double balai_http_req_elapsed_ms(const struct balai_http_req *req)
{
    const struct http_req *r = (const struct http_req *)req;
    return (double)(balai__http_mono_ns() - r->start_ns) / 1e6;
}

/* ---- answering ---- */

static int header_text_ok(const char *s, int is_name)
{
    if (is_name && !*s)
        return 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n' || (is_name && (*s == ':' || *s == ' ')))
            return 0;
    }
    return 1;
}

void balai_http_add_header(struct balai_http_req *req, const char *name, const char *value)
{
    struct http_req *r = (struct http_req *)req;

    if (r->responded)
        return;
    if (!header_text_ok(name, 1) || !header_text_ok(value, 0)) {
        LOG_WARN("dropped a response header with a bad name or value");
        return;
    }
    if (balai_buf_printf(&r->xhdr, "%s: %s\r\n", name, value) != BALAI_OK)
        LOG_WARN("dropped response header '%s': too many headers", name);
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static int is_secret(const char *k, size_t klen)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(secret_params); i++) {
        if (strlen(secret_params[i]) == klen && memcmp(secret_params[i], k, klen) == 0)
            return 1;
    }
    return 0;
}

/* Copies s[0..n) into out for the log, replacing control bytes. */
static size_t put_clean(char *out, size_t room, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < room; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    return i;
}

/* The request's URL with secret query values replaced, for the log. */
static void log_url(const struct http_req *r, char *out, size_t outlen)
{
    const char *url = r->head ? r->head : "";
    size_t ulen = r->url_len, n = 0, room = outlen - 4, qs, i;

    qs = r->has_query ? r->query_off : ulen;
    n += put_clean(out + n, room - n, url, r->has_query ? qs : ulen);
    i = qs;
    while (r->has_query && i < qs + r->query_len && n < room) {
        size_t end = i, eq;
        while (end < qs + r->query_len && url[end] != '&')
            end++;
        eq = i;
        while (eq < end && url[eq] != '=')
            eq++;
        if (i > qs && n < room)
            out[n++] = '&';
        n += put_clean(out + n, room - n, url + i, eq - i);
        if (eq < end && n < room) {
            if (is_secret(url + i, eq - i))
                n += put_clean(out + n, room - n, "=<redacted>", 11);
            else
                n += put_clean(out + n, room - n, url + eq, end - eq);
        }
        i = end + 1;
    }
    if (n >= room && ulen > n)
        n += put_clean(out + n, 3, "...", 3);
    out[n] = '\0';
}

static void log_request(const struct http_req *r, int status, double ms)
{
    char url[LOG_URL_MAX + 8];
    const char *method = r->parser_method == 0xff ? "-" : http_method_str(r->parser_method);

    log_url(r, url, sizeof(url));
    LOG_INFO("%s %s %d %.1fms %s", method, url[0] ? url : "-", status, ms, r->pub.peer_ip);
}

static void respond_common(struct http_req *r, int status, const char *ctype, const char *body,
                           size_t len, char *owned)
{
    struct balai_http_conn *hc = r->conn;
    struct balai_http_server *s;
    struct balai_slice bufs[2];
    unsigned nbufs = 1;
    const char *server;
    size_t est;
    int no_body, send_body;
    double secs;
    char *p;

    if (r->responded) {
        LOG_ERROR("a request was answered twice (status %d); the second answer is dropped", status);
        free(owned);
        return;
    }
    r->responded = 1;
    if (!hc) {
        /* The client is gone: discard the answer, the request is ours now. */
        free(owned);
        balai__http_req_free(r);
        return;
    }
    s = hc->srv;
    if (status < 100 || status > 999)
        status = 500;
    if (ctype && !header_text_ok(ctype, 0))
        ctype = NULL;
    r->status = status;
    r->keep_alive = r->keep_alive && !balai__http_shutting_down(s);
    no_body = status < 200 || status == 204 || status == 304;
    send_body = !no_body && r->pub.method != BALAI_HTTP_HEAD && len > 0;
    server = balai__http_server_header(s);

    est = 256 + strlen(server) + (ctype ? strlen(ctype) : 0) + sizeof(cors_headers) + r->xhdr.len +
          (send_body && !owned ? len : 0);
    p = r->out = balai_malloc(est);
    p = put(p, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put_str(p, reason(status));
    p = put(p, "\r\nServer: ", 10);
    p = put_str(p, server);
    p = put(p, "\r\nDate: ", 8);
    p = put_str(p, balai__http_date(s));
    p = put(p, "\r\n", 2);
    if (ctype) {
        p = put(p, "Content-Type: ", 14);
        p = put_str(p, ctype);
        p = put(p, "\r\n", 2);
    }
    if (!no_body) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, len);
        p = put(p, "\r\n", 2);
    }
    p = put(p, cors_headers, sizeof(cors_headers) - 1);
    if (r->xhdr.len)
        p = put(p, r->xhdr.data, r->xhdr.len);
    if (!r->keep_alive)
        p = put_str(p, "Connection: close\r\n");
    else if (r->http10_keep_alive)
        p = put_str(p, "Connection: keep-alive\r\n");
    p = put(p, "\r\n", 2);
    if (send_body && !owned)
        p = put(p, body, len);
    r->out_len = (size_t)(p - r->out);
    bufs[0] = balai_slice_make(r->out, r->out_len);
    if (owned) {
        r->out_body = owned;
        r->out_body_len = len;
        if (send_body)
            bufs[nbufs++] = balai_slice_make(owned, len);
    }

    secs = (double)(balai__http_mono_ns() - r->start_ns) / 1e9;
    balai__http_record(s, r->match.route, r->parser_method, status, secs);
    if (balai_log_min_level <= BALAI_LOG_INFO)
        log_request(r, status, secs * 1e3);
    balai__http_conn_send(hc, bufs, nbufs);
}

void balai_http_respond(struct balai_http_req *req, int status, const char *content_type,
                        const void *body, size_t len)
{
    respond_common((struct http_req *)req, status, content_type, body, len, NULL);
}

void balai_http_respond_take(struct balai_http_req *req, int status, const char *content_type,
                             char *body, size_t len)
{
    if (!body) {
        respond_common((struct http_req *)req, status, content_type, "", 0, NULL);
        return;
    }
    respond_common((struct http_req *)req, status, content_type, body, len, body);
}

/* Appends s as a JSON string body (without quotes): escapes quotes,
 * backslashes and control characters, and replaces invalid UTF-8. */
static void json_escape(struct balai_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned char c = *p;
        size_t n = 0;

        if (c == '"' || c == '\\') {
            balai_buf_append_char(b, '\\');
            balai_buf_append_char(b, (char)c);
            p++;
            continue;
        }
        if (c < 0x20) {
            balai_buf_printf(b, "\\u%04x", c);
            p++;
            continue;
        }
        if (c < 0x80) {
            balai_buf_append_char(b, (char)c);
            p++;
            continue;
        }
        /* a UTF-8 sequence: copy it if well-formed */
        if (c >= 0xc2 && c <= 0xdf)
            n = 2;
        else if (c >= 0xe0 && c <= 0xef)
            n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 4;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                n = 0;
        }
        if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)))
            n = 0;
        if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)))
            n = 0;
        if (n == 0) {
            balai_buf_append_str(b, "\\ufffd");
            p++;
        } else {
            balai_buf_append(b, p, n);
            p += n;
        }
    }
}

void balai_http_respond_error(struct balai_http_req *req, int status, const char *errcode,
                              const char *error)
{
    struct balai_buf b;
    size_t len;
    char *body;

    balai_buf_init(&b, 0);
    balai_buf_append_str(&b, "{\"errcode\":\"");
    json_escape(&b, errcode ? errcode : "M_UNKNOWN");
    balai_buf_append_str(&b, "\",\"error\":\"");
    json_escape(&b, error ? error : "");
    balai_buf_append_str(&b, "\"}");
    body = balai_buf_detach(&b, &len);
    balai_http_respond_take(req, status, "application/json", body, len);
}

void balai__http_req_fail(struct http_req *r, int status, const char *errcode, const char *error)
{
    r->keep_alive = 0;
    balai_http_respond_error(&r->pub, status, errcode, error);
}
