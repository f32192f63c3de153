/* timer.c: timers over uv_timer_t. */
#include "balai.h"

#include <stdlib.h>
#include <uv.h>

#define LOG_MODULE "net"
#include "net/loop.h"
#include "net/timer.h"
#include "util/alloc.h"
#include "util/log.h"

struct balai_timer {
    uv_timer_t h; /* first: the close callback frees through it */
    void (*cb)(void *arg);
    void *arg;
};

static void on_timer(uv_timer_t *h)
{
    struct balai_timer *t = (struct balai_timer *)h;
    t->cb(t->arg);
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

struct balai_timer *balai_timer_new(struct balai_loop *loop, void (*cb)(void *arg), void *arg)
{
    struct balai_timer *t = balai_calloc(1, sizeof(*t));
    int err = uv_timer_init(balai_loop_uv(loop), &t->h);

    if (err != 0) {
        LOG_ERROR("cannot create timer: %s", uv_strerror(err));
        free(t);
        return NULL;
    }
    t->cb = cb;
    t->arg = arg;
    return t;
}

void balai_timer_start(struct balai_timer *t, uint64_t ms, uint64_t repeat_ms)
{
    uv_timer_start(&t->h, on_timer, ms, repeat_ms);
}

void balai_timer_stop(struct balai_timer *t)
{
    uv_timer_stop(&t->h);
}

void balai_timer_set_ref(struct balai_timer *t, int ref)
{
    if (ref)
        uv_ref((uv_handle_t *)&t->h);
    else
        uv_unref((uv_handle_t *)&t->h);
}

void balai_timer_free(struct balai_timer *t)
{
    if (!t)
        return;
    uv_timer_stop(&t->h);
    uv_close((uv_handle_t *)&t->h, free_timer);
}
