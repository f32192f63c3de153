/* loop.h: the event loop (libuv) that runs the server's loop thread.
 *
 * Everything in net/ and http/ that takes a struct balai_loop must be used
 * from the thread that runs balai_loop_run(), except balai_async_send().
 * Other layers see the loop only through this header: uv.h stays inside
 * net/ and http/. */
#ifndef BALAI_NET_LOOP_H
#define BALAI_NET_LOOP_H

#include <stdint.h>

struct balai_loop;

/* Creates a loop (and sets SIGPIPE to ignored for the process: socket
 * writes report EPIPE instead). Returns 0 and sets *out (caller frees with
 * balai_loop_free), or BALAI_EIO. */
int balai_loop_init(struct balai_loop **out);
/* Runs the loop until balai_loop_stop() is called or nothing is left to do
 * (signal watchers alone do not keep it running). Returns 0. */
int balai_loop_run(struct balai_loop *loop);
/* Makes balai_loop_run() return after the current iteration. */
void balai_loop_stop(struct balai_loop *loop);
/* Closes whatever handles are still open, runs their close callbacks, and
 * frees the loop. Owners should have closed their objects first (server,
 * pools, timers); this only sweeps. NULL is fine. */
void balai_loop_free(struct balai_loop *loop);
/* The loop's cached time in milliseconds (monotonic, updated once per
 * iteration). */
uint64_t balai_loop_now_ms(const struct balai_loop *loop);
/* The underlying uv_loop_t, as void * so that callers need not include
 * uv.h. Borrowed, valid until balai_loop_free. For net/ and http/ only. */
void *balai_loop_uv(struct balai_loop *loop);
/* Calls cb(arg) on the loop thread each time signal `signum` arrives, until
 * balai_loop_free. Several callbacks may watch one signal. Returns 0 or
 * BALAI_EINVAL / BALAI_EIO. */
int balai_loop_on_signal(struct balai_loop *loop, int signum, void (*cb)(void *arg), void *arg);

#endif
