/* async.c: cross-thread wake-up over uv_async_t. */
#include "balai.h"

#include <stdlib.h>
#include <uv.h>

#define LOG_MODULE "net"
#include "net/async.h"
#include "net/loop.h"
#include "util/alloc.h"
#include "util/log.h"

struct balai_async {
    uv_async_t h; /* first: the close callback frees through it */
    void (*cb)(void *arg);
    void *arg;
};

static void on_async(uv_async_t *h)
{
    struct balai_async *a = (struct balai_async *)h;
    if (a->cb)
        a->cb(a->arg);
}

static void free_async(uv_handle_t *h)
{
    free(h);
}

struct balai_async *balai_async_new(struct balai_loop *loop, void (*cb)(void *arg), void *arg)
{
    struct balai_async *a = balai_calloc(1, sizeof(*a));
    int err = uv_async_init(balai_loop_uv(loop), &a->h, on_async);

    if (err != 0) {
        LOG_ERROR("cannot create async wake-up: %s", uv_strerror(err));
        free(a);
        return NULL;
    }
    a->cb = cb;
    a->arg = arg;
    return a;
}

void balai_async_send(struct balai_async *a)
{
    uv_async_send(&a->h);
}

void balai_async_close(struct balai_async *a)
{
    if (!a)
        return;
    a->cb = NULL;
    uv_close((uv_handle_t *)&a->h, free_async);
}
