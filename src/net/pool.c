/* pool.c: bounded worker pool: plain threads, a job queue, and completions
 * delivered back on the loop through an async wake-up.
 *
 * DESIGN: one mutex guards both the waiting queue and the done list. A
 * worker takes the oldest waiting job, runs it unlocked, appends it to the
 * done list and wakes the loop; the loop's async callback takes the whole
 * done list at once and runs each `done` outside the lock. */
#include "balai.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define LOG_MODULE "pool"
#include "net/loop.h"
#include "net/pool.h"
#include "util/alloc.h"
#include "util/log.h"

struct job {
    struct job *next;
    void (*work)(void *arg);
    void (*done)(void *arg);
    void *arg;
};

struct pool_async {
    uv_async_t h; /* first: freed through it by the close callback */
    struct balai_pool *pool;
};

struct balai_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *wait_head, *wait_tail; /* waiting jobs, oldest first */
    struct job *done_head, *done_tail; /* finished jobs for the loop */
    unsigned nwaiting;
    unsigned max_queue;
    int stopping;
    unsigned nthreads;
    pthread_t *threads;
    struct pool_async *async;
    char name[11];
};

static void run_done_list(struct job *j)
{
    while (j) {
        struct job *next = j->next;
        if (j->done)
            j->done(j->arg);
        free(j);
        j = next;
    }
}

static struct job *take_done(struct balai_pool *pool)
{
    struct job *j;

    pthread_mutex_lock(&pool->mu);
    j = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    pthread_mutex_unlock(&pool->mu);
    return j;
}

static void on_async(uv_async_t *h)
{
    struct pool_async *pa = (struct pool_async *)h;
    if (pa->pool)
        run_done_list(take_done(pa->pool));
}

static void free_async(uv_handle_t *h)
{
    free(h);
}

static void *worker_main(void *arg)
{
    struct balai_pool *pool = arg;

    pthread_mutex_lock(&pool->mu);
    for (;;) {
        struct job *j;

        while (!pool->wait_head && !pool->stopping)
            pthread_cond_wait(&pool->cv, &pool->mu);
        j = pool->wait_head;
        if (!j)
            break; /* stopping and drained */
        pool->wait_head = j->next;
        if (!pool->wait_head)
            pool->wait_tail = NULL;
        pool->nwaiting--;
        pthread_mutex_unlock(&pool->mu);

        j->work(j->arg);

        pthread_mutex_lock(&pool->mu);
        j->next = NULL;
        if (pool->done_tail)
            pool->done_tail->next = j;
        else
            pool->done_head = j;
        pool->done_tail = j;
        uv_async_send(&pool->async->h);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

struct balai_pool *balai_pool_new(struct balai_loop *loop, const char *name, unsigned nthreads,
                                  unsigned max_queue)
{
    struct balai_pool *pool = balai_calloc(1, sizeof(*pool));
    int err;

    if (nthreads == 0)
        nthreads = 1;
    snprintf(pool->name, sizeof(pool->name), "%s", name ? name : "pool");
    pool->max_queue = max_queue;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pool->async = balai_calloc(1, sizeof(*pool->async));
    pool->async->pool = pool;
    err = uv_async_init(balai_loop_uv(loop), &pool->async->h, on_async);
    if (err != 0) {
        LOG_ERROR("pool '%s': cannot create async: %s", pool->name, uv_strerror(err));
        free(pool->async);
        pool->async = NULL;
        goto fail;
    }
    pool->threads = balai_calloc(nthreads, sizeof(*pool->threads));
    for (unsigned i = 0; i < nthreads; i++) {
        char tname[32];

        err = pthread_create(&pool->threads[i], NULL, worker_main, pool);
        if (err != 0) {
            LOG_ERROR("pool '%s': cannot start thread: %s", pool->name, strerror(err));
            goto fail;
        }
        pool->nthreads++;
        snprintf(tname, sizeof(tname), "%s-%u", pool->name, i);
        tname[15] = '\0'; /* the kernel's limit */
        pthread_setname_np(pool->threads[i], tname);
    }
    return pool;
fail:
    balai_pool_free(pool);
    return NULL;
}

int balai_pool_submit(struct balai_pool *pool, void (*work)(void *arg), void (*done)(void *arg),
                      void *arg)
{
    struct job *j;

    pthread_mutex_lock(&pool->mu);
    if (pool->nwaiting >= pool->max_queue || pool->stopping) {
        pthread_mutex_unlock(&pool->mu);
        return BALAI_EBUSY;
    }
    j = balai_malloc(sizeof(*j));
    j->next = NULL;
    j->work = work;
    j->done = done;
    j->arg = arg;
    if (pool->wait_tail)
        pool->wait_tail->next = j;
    else
        pool->wait_head = j;
    pool->wait_tail = j;
    pool->nwaiting++;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    return BALAI_OK;
}

unsigned balai_pool_waiting(struct balai_pool *pool)
{
    unsigned n;

    pthread_mutex_lock(&pool->mu);
    n = pool->nwaiting;
    pthread_mutex_unlock(&pool->mu);
    return n;
}

void balai_pool_free(struct balai_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    run_done_list(take_done(pool));
    if (pool->async) {
        pool->async->pool = NULL;
        uv_close((uv_handle_t *)&pool->async->h, free_async);
    }
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool);
}
