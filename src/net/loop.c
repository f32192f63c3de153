/* loop.c: the libuv event loop, signal watchers and the shared read buffer. */
#include "balai.h"

#include <signal.h>
#include <stdlib.h>
#include <uv.h>

#define LOG_MODULE "net"
#include "net/loop.h"
#include "net/net_int.h"
#include "util/alloc.h"
#include "util/log.h"

struct sigwatch {
    uv_signal_t h;
    void (*cb)(void *arg);
    void *arg;
};

struct balai_loop {
    uv_loop_t uv;
    uv_check_t flush; /* writes the loop thread's buffered log lines once per iteration */
    char *readbuf;
};

static void on_flush(uv_check_t *h)
{
    (void)h;
    balai_log_flush();
}

int balai_loop_init(struct balai_loop **out)
{
    struct balai_loop *loop = balai_calloc(1, sizeof(*loop));
    int err = uv_loop_init(&loop->uv);

    if (err != 0) {
        LOG_ERROR("cannot create event loop: %s", uv_strerror(err));
        free(loop);
        return BALAI_EIO;
    }
    uv_loop_set_data(&loop->uv, loop);
    /* A peer that resets must give EPIPE on a write, not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    loop->readbuf = balai_malloc(BALAI_NET_READBUF);
    /* The loop thread logs into a buffer written once per loop iteration:
     * one request log line no longer costs one write(2). */
    uv_check_init(&loop->uv, &loop->flush);
    uv_check_start(&loop->flush, on_flush);
    uv_unref((uv_handle_t *)&loop->flush);
    balai_log_buffer(1);
    *out = loop;
    return BALAI_OK;
}

int balai_loop_run(struct balai_loop *loop)
{
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    return BALAI_OK;
}

void balai_loop_stop(struct balai_loop *loop)
{
    uv_stop(&loop->uv);
}

/* Close callback: struct sigwatch starts with its handle. */
static void free_sigwatch(uv_handle_t *h)
{
    free(h);
}

static void sweep_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_SIGNAL) {
        uv_close(h, free_sigwatch);
        return;
    }
    LOG_DEBUG("closing a handle left open (type %s)", uv_handle_type_name(h->type));
    uv_close(h, NULL);
}

void balai_loop_free(struct balai_loop *loop)
{
    if (!loop)
        return;
    uv_walk(&loop->uv, sweep_cb, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop->uv) != 0)
        LOG_WARN("event loop closed with handles still open");
    balai_log_buffer(0);
    free(loop->readbuf);
    free(loop);
}

uint64_t balai_loop_now_ms(const struct balai_loop *loop)
{
    return uv_now(&loop->uv);
}

void *balai_loop_uv(struct balai_loop *loop)
{
    return &loop->uv;
}

struct balai_loop *balai__loop_of(const uv_loop_t *uv)
{
    return uv_loop_get_data(uv);
}

char *balai__loop_readbuf(struct balai_loop *loop)
{
    return loop->readbuf;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct sigwatch *w = (struct sigwatch *)h;
    (void)signum;
    w->cb(w->arg);
}

int balai_loop_on_signal(struct balai_loop *loop, int signum, void (*cb)(void *arg), void *arg)
{
    struct sigwatch *w;
    int err;

    if (!cb || signum <= 0)
        return BALAI_EINVAL;
    w = balai_calloc(1, sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    err = uv_signal_init(&loop->uv, &w->h);
    if (err != 0) {
        free(w);
        goto fail;
    }
    err = uv_signal_start(&w->h, on_signal, signum);
    if (err != 0) {
        uv_close((uv_handle_t *)&w->h, free_sigwatch);
        goto fail;
    }
    /* A signal watcher alone must not keep balai_loop_run() going. */
    uv_unref((uv_handle_t *)&w->h);
    return BALAI_OK;
fail:
    LOG_ERROR("cannot watch signal %d: %s", signum, uv_strerror(err));
    return err == UV_EINVAL ? BALAI_EINVAL : BALAI_EIO;
}
