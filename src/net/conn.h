/* conn.h: stream listeners (TCP, unix socket) and their connections.
 *
 * A listener accepts connections and hands each to its owner (http/), which
 * sets the connection's handler. A connection delivers what it reads to
 * the handler through the loop's shared read buffer (borrowed for the call
 * only: the handler copies what it keeps), writes with a synchronous first
 * attempt, and is freed after its close completes. The owner may have
 * `ext_size` bytes of its own state allocated with each connection (see
 * balai_conn_ext), so a connection is one allocation. Loop thread only. */
#ifndef BALAI_NET_CONN_H
#define BALAI_NET_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

struct balai_loop;
struct balai_listener;
struct balai_conn;

struct balai_conn_handler {
    /* n > 0: `data` (borrowed, valid during the call) holds n new bytes.
     * n < 0: the peer closed (BALAI_ECLOSED) or the socket failed
     * (BALAI_EIO); reading has stopped and the owner should close. */
    void (*on_read)(struct balai_conn *c, const char *data, ssize_t n);
    /* Last call for this connection, from its close completing; the
     * connection (and its ext) is freed when this returns. */
    void (*on_close)(struct balai_conn *c);
};

/* Write completion: status 0, or negative (BALAI_EIO, BALAI_ECLOSED when the
 * connection closed first). */
typedef void (*balai_conn_write_cb)(struct balai_conn *c, int status, void *arg);

struct balai_listen_opts {
    /* Called for each accepted connection, before reading starts. Return 0
     * to keep it (after calling balai_conn_set_handler) or nonzero to have
     * it closed at once (no handler callback follows). */
    int (*on_accept)(struct balai_conn *c, void *arg);
    void *arg;
    size_t ext_size; /* owner bytes allocated with each connection */
    int backlog;     /* 0 = 1024 */
};

/* Listens on "ADDR:PORT": "127.0.0.1:8008", "[::1]:8008", "0.0.0.0:0",
 * "localhost:8008". Port 0 picks a free port. When `bound` is not NULL it
 * receives the bound address ("127.0.0.1:34567", "[::1]:34567").
 * Returns 0 and sets *out, or BALAI_EINVAL (bad address), BALAI_EEXIST
 * (address already in use), BALAI_EFORBIDDEN (permission denied) or
 * BALAI_EIO. The caller reports the failure (details are logged at
 * debug level). */
int balai_listen_tcp(struct balai_loop *loop, const char *addr_port,
                     const struct balai_listen_opts *opts, struct balai_listener **out, char *bound,
                     size_t boundlen);
/* Listens on a unix-domain socket at `path`, mode 0600. A stale socket file
 * (nothing answers on it) is replaced; a live one gives BALAI_EEXIST
 * ("already in use"); a non-socket file at the path gives BALAI_EIO. The
 * file is removed again by balai_listener_close. The caller reports
 * failures (details at debug level). */
int balai_listen_unix(struct balai_loop *loop, const char *path,
                      const struct balai_listen_opts *opts, struct balai_listener **out);
/* Stops accepting and frees the listener (open connections stay). NULL is
 * fine. */
void balai_listener_close(struct balai_listener *l);

void balai_conn_set_handler(struct balai_conn *c, const struct balai_conn_handler *h);
/* The owner's ext_size bytes (zeroed at accept, max_align_t aligned). */
void *balai_conn_ext(struct balai_conn *c);
/* The connection of an ext pointer returned by balai_conn_ext. */
struct balai_conn *balai_conn_of_ext(void *ext);
/* 1 for a unix-socket connection. */
int balai_conn_is_local(const struct balai_conn *c);
/* Writes the peer's address as text into out ("203.0.113.7", "2001:db8::1",
 * "unix"); IPv4-mapped IPv6 addresses are shown as IPv4. */
void balai_conn_peer(const struct balai_conn *c, char *out, size_t outlen);

int balai_conn_read_start(struct balai_conn *c);
void balai_conn_read_stop(struct balai_conn *c);
/* Writes the buffers (at most 8), which stay borrowed until the write ends.
 * Returns 1 when everything was written at once (cb is not called), 0 when
 * the rest is queued (cb is called later, also when the connection closes
 * first), or BALAI_EIO (cb is not called). */
int balai_conn_write(struct balai_conn *c, const struct balai_slice *bufs, unsigned nbufs,
                     balai_conn_write_cb cb, void *arg);
/* Best-effort non-blocking write that never queues; returns the bytes
 * written (possibly 0) or BALAI_EIO. */
ssize_t balai_conn_try_write(struct balai_conn *c, const char *data, size_t len);
/* Bytes queued and not yet handed to the kernel. */
size_t balai_conn_write_queue_size(const struct balai_conn *c);
/* Sends FIN once queued writes are flushed; reading goes on. */
void balai_conn_shutdown(struct balai_conn *c);
/* Closes the connection (idempotent). Pending writes end with
 * BALAI_ECLOSED, then on_close is called and the connection is freed. */
void balai_conn_close(struct balai_conn *c);

#endif
