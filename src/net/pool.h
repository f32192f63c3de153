/* pool.h: a bounded pool of worker threads for blocking work.
 *
 * The loop thread never blocks: password hashing (Argon2id), cold database
 * reads, media and exports run here. Each job's `work` runs on a worker
 * thread; its `done` runs afterwards on the loop thread. The queue is
 * bounded so that a storm of one kind of job (a login storm) is refused
 * quickly instead of starving everything else: the caller answers "try
 * later". */
#ifndef BALAI_NET_POOL_H
#define BALAI_NET_POOL_H

struct balai_loop;
struct balai_pool;

/* Creates a pool of `nthreads` workers (at least 1) named "<name>-N" (name
 * up to 10 characters) that holds at most `max_queue` waiting jobs. Loop
 * thread only. Returns NULL on failure (logged). Free with balai_pool_free.
 * The pool keeps balai_loop_run() going while it exists. */
struct balai_pool *balai_pool_new(struct balai_loop *loop, const char *name, unsigned nthreads,
                                  unsigned max_queue);
/* Queues a job: work(arg) on a worker thread, then done(arg) on the loop
 * thread (done may be NULL). Loop thread only. Returns 0, or BALAI_EBUSY
 * when max_queue jobs are already waiting (nothing is called then). `arg`
 * stays the caller's; it must live until done runs. */
int balai_pool_submit(struct balai_pool *pool, void (*work)(void *arg), void (*done)(void *arg),
                      void *arg);
/* Number of jobs waiting (not yet started). */
unsigned balai_pool_waiting(struct balai_pool *pool);
/* Stops the pool: lets the workers finish every queued and running job,
 * joins them, runs the remaining `done` callbacks here, and frees the pool.
 * Loop thread only, not from inside a `done`. NULL is fine. */
void balai_pool_free(struct balai_pool *pool);

#endif
