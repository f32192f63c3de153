/* conn.h: the HTTP/1.1 connection engine, without sockets.
 *
 * server.c drives one engine per socket; unit tests and the fuzzer drive it
 * directly: bytes go in with balai_http_conn_feed(), responses come out
 * through the struct balai_http_io callbacks. A server made with a NULL loop
 * has no timer; tests move its clock with balai_http_server_set_clock() and
 * run balai_http_server_run_timeouts(). Loop thread only. */
#ifndef BALAI_HTTP_CONN_H
#define BALAI_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct balai_http_server;
struct balai_http_conn;

/* The transport under one connection. `arg` is the io_arg given at init. */
struct balai_http_io {
    /* Writes the buffers (borrowed until written). Returns 1 when all was
     * written at once, 0 when queued (the transport then calls
     * balai_http_conn_written once), negative on error. */
    int (*write)(void *arg, const struct balai_slice *bufs, unsigned nbufs);
    /* Half-closes after queued writes (FIN) and keeps reading; may be NULL
     * (then the engine closes at once). */
    void (*shutdown)(void *arg);
    /* Starts closing; the owner calls balai_http_conn_release once the
     * transport is closed (never from inside this call). */
    void (*close)(void *arg);
    /* Stops (1) or resumes (0) reading; may be NULL. */
    void (*read_pause)(void *arg, int pause);
    /* Bytes still queued for writing; may be NULL. */
    size_t (*queued)(void *arg);
    /* Peer address text; may be NULL ("-"). */
    void (*peer)(void *arg, char *out, size_t outlen);
};

/* Size of struct balai_http_conn, for embedding. */
size_t balai_http_conn_size(void);
/* Sets up an engine in caller memory of balai_http_conn_size() bytes and
 * registers it with the server. `io` is borrowed (must outlive the conn). */
void balai_http_conn_init(struct balai_http_conn *hc, struct balai_http_server *s,
                          const struct balai_http_io *io, void *io_arg, int local);
/* balai_http_conn_init in fresh memory; free with balai_http_conn_free. */
struct balai_http_conn *balai_http_conn_new(struct balai_http_server *s,
                                            const struct balai_http_io *io, void *io_arg,
                                            int local);
/* Bytes from the peer (borrowed for the call). */
void balai_http_conn_feed(struct balai_http_conn *hc, const char *data, size_t len);
/* The peer closed or the transport failed: the engine closes. */
void balai_http_conn_eof(struct balai_http_conn *hc);
/* A queued write finished (status 0) or failed (negative). */
void balai_http_conn_written(struct balai_http_conn *hc, int status);
/* 1 once the engine has asked to close or half-close (io->close or
 * io->shutdown called). */
int balai_http_conn_closing(const struct balai_http_conn *hc);
/* Unregisters the engine; a parked request gets on_abort and is left to
 * its handler. Call once the transport is closed. */
void balai_http_conn_release(struct balai_http_conn *hc);
/* balai_http_conn_release + free, for balai_http_conn_new. NULL is fine. */
void balai_http_conn_free(struct balai_http_conn *hc);

/* Tests: the clock of a server without a loop, and running its deadlines. */
void balai_http_server_set_clock(struct balai_http_server *s, uint64_t now_ms);
void balai_http_server_run_timeouts(struct balai_http_server *s);
/* Number of connections registered (open). */
unsigned balai_http_server_connections(const struct balai_http_server *s);

#endif
