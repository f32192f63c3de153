/* timer.h: one-shot and repeating timers on the loop (loop thread only). */
#ifndef BALAI_NET_TIMER_H
#define BALAI_NET_TIMER_H

#include <stdint.h>

struct balai_loop;
struct balai_timer;

/* Creates a stopped timer that calls cb(arg) when it fires. Returns NULL on
 * failure (logged). Free with balai_timer_free. */
struct balai_timer *balai_timer_new(struct balai_loop *loop, void (*cb)(void *arg), void *arg);
/* (Re)starts the timer: first call after `ms`, then every `repeat_ms` (0 =
 * once). Restarting a running timer replaces its schedule. */
void balai_timer_start(struct balai_timer *t, uint64_t ms, uint64_t repeat_ms);
void balai_timer_stop(struct balai_timer *t);
/* Keeps (1, the default) or stops (0) the timer from holding
 * balai_loop_run() open while it runs. */
void balai_timer_set_ref(struct balai_timer *t, int ref);
/* Stops, closes and frees the timer; safe inside its own callback. NULL is
 * fine. */
void balai_timer_free(struct balai_timer *t);

#endif
