/* server.h: the HTTP/1.1 server over net/, and the request handlers see.
 *
 * One loop thread; requests on a connection are handled one at a time and
 * answered in order (keep-alive and pipelining). Handlers are asynchronous:
 * a handler may answer before it returns, or park the request and answer
 * later from the loop thread (a long-poll, a job on a worker pool, a write
 * waiting for group commit). Every request is answered exactly once with
 * balai_http_respond*(); the server never frees a request its handler has
 * not answered.
 *
 * The server itself answers: OPTIONS to any path (200 "{}", CORS), no route
 * (404 M_UNRECOGNIZED), wrong method (405 M_UNRECOGNIZED + Allow),
 * malformed HTTP (400 M_BAD_REQUEST, then close), headers over the limit
 * (431 M_TOO_LARGE), body over the limit (413 M_TOO_LARGE, checked against
 * Content-Length before the body is read, and while a chunked body
 * arrives), and slow clients (408 M_UNKNOWN, then close). Every response
 * carries the Matrix CORS headers. One INFO log line per answered request:
 * method, path with secret query values redacted, status, duration, peer. */
#ifndef BALAI_HTTP_SERVER_H
#define BALAI_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "util/buf.h"

struct balai_loop;
struct balai_http_server;

struct balai_http_limits {
    size_t max_header_bytes;    /* default 16 KiB: request line + headers; over -> 431 */
    size_t max_body_default;    /* default 64 KiB, per-route override; over -> 413 */
    uint32_t header_timeout_ms; /* default 10 s from a request's first byte to its headers' end */
    uint32_t body_timeout_ms;   /* default 30 s for the whole body after the headers */
    uint32_t idle_timeout_ms;   /* default 60 s: keep-alive connection without a request */
    uint32_t max_connections;   /* default 10000: beyond, accept, answer 503 and close */
};

struct balai_http_server_config {
    struct balai_http_limits limits; /* zero fields take the defaults */
    struct balai_router *router;     /* borrowed; must outlive the server */
    const char *server_header;       /* "Balai/0.1.0" when NULL; copied */
    /* Comma-separated peer addresses (reverse proxies) whose X-Forwarded-For
     * header is believed: a request from one of them gets, as peer_ip, the
     * right-most forwarded address that is not itself a trusted proxy.
     * NULL or empty: the header is ignored. Copied. */
    const char *trusted_proxies;
};

/* Creates a server. `loop` may be NULL for tests and fuzzing (no listening,
 * no timer: see http/conn.h). Returns 0 and *out, or BALAI_EINVAL (no
 * router). */
int balai_http_server_new(struct balai_loop *loop, const struct balai_http_server_config *cfg,
                          struct balai_http_server **out);
/* Listens on "ADDR:PORT" (IPv4, [IPv6], port 0 = any free port). `bound`
 * (may be NULL) receives the bound address, e.g. "127.0.0.1:41234".
 * Returns 0, BALAI_EINVAL (bad address), BALAI_EEXIST (address already in
 * use), BALAI_EFORBIDDEN (permission denied) or BALAI_EIO; the caller
 * reports it (details are logged at debug level). */
int balai_http_server_listen_tcp(struct balai_http_server *s, const char *addr_port, char *bound,
                                 size_t boundlen);
/* Listens on a unix socket (mode 0600; a stale socket file is replaced).
 * Requests from it have req->local = 1 and peer_ip "unix". Returns 0,
 * BALAI_EINVAL (path too long), BALAI_EEXIST (a server answers on it),
 * BALAI_EFORBIDDEN or BALAI_EIO. */
int balai_http_server_listen_unix(struct balai_http_server *s, const char *path);
/* Graceful stop: stops accepting, closes idle connections, lets requests in
 * progress finish, and closes each connection after its response. Parked
 * requests get on_abort (their later answer is still sent). Calls done(arg)
 * once every connection is closed (possibly before this returns). */
void balai_http_server_shutdown(struct balai_http_server *s, void (*done)(void *arg), void *arg);
/* Closes everything at once and frees the server. Parked requests get
 * on_abort before this returns; no handler callback comes afterwards (their
 * answers are discarded). The memory goes when the last connection's close
 * completes, so let the loop run afterwards (balai_loop_free does). NULL is
 * fine. */
void balai_http_server_free(struct balai_http_server *s);
/* Appends Prometheus text: balai_http_requests_total{route,method,code},
 * balai_http_request_duration_seconds (histogram),
 * balai_http_connections_open, balai_http_connections_total. */
void balai_http_server_metrics(struct balai_http_server *s, struct balai_buf *out);

/* A request. Everything is borrowed and valid until the request is
 * answered; handlers read the fields and may set udata and on_abort.
 * Requests are allocated by the server only. */
struct balai_http_req {
    enum balai_http_method method;
    const char *path; /* raw path without the query, NUL-terminated */
    size_t path_len;
    const char *body; /* complete de-chunked body, NUL-terminated ("" when none) */
    size_t body_len;
    char **params; /* decoded placeholder values, in pattern order */
    int nparams;
    void *route_data; /* from balai_router_add */
    const struct balai_route *route;
    int local;        /* arrived on the unix socket (admin CLI) */
    char peer_ip[46]; /* client address text, "unix" for the socket */
    void *udata;      /* free for the handler */
    /* Set by a handler that parks: called once if the client goes away (or
     * the server shuts down) before the answer. The handler must still
     * answer afterwards (perhaps from inside on_abort); when the client is
     * gone that answer is discarded and frees the request. */
    void (*on_abort)(struct balai_http_req *req);
};

/* A header's value (case-insensitive name; the first one if repeated), or
 * {NULL, 0}. Borrowed from the request. */
struct balai_slice balai_http_req_header(const struct balai_http_req *req, const char *name);
/* The percent-decoded value ('+' is a space) of the first query parameter
 * `name`, or NULL (also when the value decodes to a NUL byte). Borrowed
 * from the request. */
const char *balai_http_req_query(const struct balai_http_req *req, const char *name);
/* The raw query string after '?' (may be empty), without the '?'. */
struct balai_slice balai_http_req_query_string(const struct balai_http_req *req);
/* Adds a response header (copied) before balai_http_respond*. Names or
 * values with CR, LF or NUL are dropped (logged). */
void balai_http_add_header(struct balai_http_req *req, const char *name, const char *value);
/* Answers the request (exactly once). Copies `body`; content_type may be
 * NULL (no Content-Type). Adds Content-Length, Server, Date, the CORS
 * headers and "Connection: close" when the connection will close. HEAD
 * gets the headers only. After this call `req` is gone. */
void balai_http_respond(struct balai_http_req *req, int status, const char *content_type,
                        const void *body, size_t len);
/* The same, taking ownership of the malloc'd `body` (no copy). */
void balai_http_respond_take(struct balai_http_req *req, int status, const char *content_type,
                             char *body, size_t len);
/* Answers {"errcode":errcode,"error":error} (JSON-escaped). */
void balai_http_respond_error(struct balai_http_req *req, int status, const char *errcode,
                              const char *error);
/* Milliseconds since the request's first byte arrived. */
double balai_http_req_elapsed_ms(const struct balai_http_req *req);

#endif
