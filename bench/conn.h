/* conn.h: a small HTTP/1.1 keep-alive client connection on libuv.
 *
 * One request at a time per connection, as a Matrix client does on each of
 * its sockets: the caller issues the next request from the completion
 * callback (or later). Responses are parsed with http_parser; the server
 * always frames them with Content-Length. Thousands of connections share
 * one read buffer, so an idle connection costs only its libuv handle and
 * parser. Loop thread only. */
#ifndef BENCH_CONN_H
#define BENCH_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct bench_conn;

/* Called once when connecting finished: rc is 0 or a negative libuv error.
 * On error the caller still owns the connection and closes it. */
typedef void (*bench_conn_open_fn)(struct bench_conn *c, int rc, void *arg);

/* Called once per request: status is the HTTP status, or BALAI_ECLOSED when
 * the connection failed or the server closed it first. `body` is borrowed,
 * valid until the callback returns. The callback may issue the next request
 * on `c` or close it. */
typedef void (*bench_conn_done_fn)(struct bench_conn *c, int status, const char *body, size_t len,
                                   void *arg);

/* Starts a TCP connection to `dst`, bound to the address of `src` first
 * when it is non-NULL (port 0: the kernel picks one, per source address).
 * Returns the new connection (close it with bench_conn_close), or NULL when
 * the attempt failed at once (no socket, no port); then `cb` is not called. */
struct bench_conn *bench_conn_tcp(uv_loop_t *loop, const struct sockaddr_in *dst,
                                  const struct sockaddr_in *src, bench_conn_open_fn cb, void *arg);
/* The same over a Unix socket at `path`. */
struct bench_conn *bench_conn_unix(uv_loop_t *loop, const char *path, bench_conn_open_fn cb,
                                   void *arg);

/* Sends one request. `token` (may be NULL) becomes a Bearer Authorization
 * header; `body` (may be NULL) is sent as application/json. Returns 0, or
 * BALAI_EBUSY when a request is already outstanding, or BALAI_ECLOSED when
 * the connection is gone (then `cb` is never called). */
int bench_conn_request(struct bench_conn *c, const char *method, const char *target,
                       const char *token, const char *body, size_t body_len, bench_conn_done_fn cb,
                       void *arg);

/* Closes the connection; an outstanding request's callback is not called.
 * The memory is released once libuv has finished with it. NULL is fine. */
void bench_conn_close(struct bench_conn *c);

/* True while a request is outstanding. */
int bench_conn_busy(const struct bench_conn *c);
/* True when connected and not failed. */
int bench_conn_alive(const struct bench_conn *c);

/* One caller-owned pointer per connection. */
void bench_conn_set_data(struct bench_conn *c, void *data);
void *bench_conn_data(const struct bench_conn *c);

/* Connections opened and still open, and requests completed, process-wide. */
size_t bench_conn_open_count(void);
uint64_t bench_conn_completed(void);

#endif
