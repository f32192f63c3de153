/* async.h: wake the loop thread from any thread.
 *
 * Used to hand completions from other threads (the store's writer, the
 * worker pools) back to the loop. Sends coalesce: several sends before the
 * loop wakes give one callback, so the callback must drain its queue. */
#ifndef BALAI_NET_ASYNC_H
#define BALAI_NET_ASYNC_H

struct balai_loop;
struct balai_async;

/* Creates a wake-up that calls cb(arg) on the loop thread. Loop thread only.
 * Returns NULL on failure (logged). Free with balai_async_close. An open
 * async keeps balai_loop_run() going. */
struct balai_async *balai_async_new(struct balai_loop *loop, void (*cb)(void *arg), void *arg);
/* Wakes the loop; callable from any thread, also from signal handlers. */
void balai_async_send(struct balai_async *a);
/* Closes and frees the wake-up (loop thread; no send may race with it).
 * The callback is not called afterwards. NULL is fine. */
void balai_async_close(struct balai_async *a);

#endif
