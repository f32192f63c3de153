/* store_helpers.h: the fixture and helpers shared by the store unit tests
 * (test_store.c, test_store_rooms.c): each test runs on a fresh database in a
 * temporary directory; ops run synchronously through balai_store_exec or
 * through the writer thread; test events carry sealed-like blobs. Include it
 * after balai.h. */
#ifndef BALAI_TESTS_UNIT_STORE_HELPERS_H
#define BALAI_TESTS_UNIT_STORE_HELPERS_H

#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/store.h"
#include "util/alloc.h"

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

struct fixture {
    char dir[64];
    char *path;
    struct balai_store *st;

    /* Writer notifications. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;

    /* Completions seen by done(), on the draining thread. */
    int completed;
    int64_t *positions; /* position of the i-th completion, or -1 */
    int *rcs;           /* rc of the i-th completion */
    size_t cap;
};

static struct fixture *fx; /* done() callbacks reach the fixture through it */

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline int setup(void **state)
{
    struct fixture *f = balai_calloc(1, sizeof(*f));
    struct balai_store_config cfg = {.backend = "sqlite"};

    snprintf(f->dir, sizeof(f->dir), "/tmp/balai-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->path = balai_asprintf("%s/balai.db", f->dir);
    cfg.path = f->path;
    if (balai_store_open(&cfg, &f->st) != BALAI_OK)
        return -1;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->cap = 4096;
    f->positions = balai_calloc(f->cap, sizeof(*f->positions));
    f->rcs = balai_calloc(f->cap, sizeof(*f->rcs));
    fx = f;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fixture *f = *state;

    balai_store_close(f->st);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f->positions);
    free(f->rcs);
    free(f->path);
    free(f);
    fx = NULL;
    return 0;
}

static inline void reopen(struct fixture *f)
{
    struct balai_store_config cfg = {.backend = "sqlite", .path = f->path};

    balai_store_close(f->st);
    f->st = NULL;
    assert_int_equal(balai_store_open(&cfg, &f->st), BALAI_OK);
}

/* An op running a test-supplied body, for balai_store_exec. */
struct fn_op {
    struct balai_store_op op;
    int (*body)(struct balai_store_txn *t, const void *ctx);
    const void *ctx;
    int done_rc;
    int done_calls;
};

static inline int fn_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct fn_op *o = CONTAINER_OF(op, struct fn_op, op);

    return o->body(t, o->ctx);
}

static inline void fn_done(struct balai_store_op *op)
{
    struct fn_op *o = CONTAINER_OF(op, struct fn_op, op);

    o->done_rc = op->rc;
    o->done_calls++;
}

static inline int run(struct balai_store *st, int (*body)(struct balai_store_txn *, const void *),
                      const void *ctx)
{
    struct fn_op o = {.op = {.apply = fn_apply, .done = fn_done}, .body = body, .ctx = ctx};
    int rc = balai_store_exec(st, &o.op);

    assert_int_equal(o.done_calls, 1);
    assert_int_equal(o.done_rc, rc);
    return rc;
}

static inline void notify_cb(void *arg)
{
    struct fixture *f = arg;

    pthread_mutex_lock(&f->lock);
    f->notified = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Waits for notifications and drains until `n` ops have completed. */
static inline void wait_completed(struct fixture *f, int n)
{
    while (f->completed < n) {
        struct timespec deadline;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 60;
        pthread_mutex_lock(&f->lock);
        while (!f->notified) {
            if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) != 0)
                break;
        }
        assert_true(f->notified);
        f->notified = 0;
        pthread_mutex_unlock(&f->lock);
        balai_store_drain_completions(f->st);
    }
    assert_int_equal(f->completed, n);
}

/* --- rooms and events --- */

static inline int insert_room_body(struct balai_store_txn *t, const void *ctx)
{
    struct balai_room_rec r = {.room_id = ctx,
                               .room_version = "10",
                               .creator = "@alice:test",
                               .is_direct = 1,
                               .created_ts = 77};

    return balai_store_txn_room_insert(t, &r);
}

#define BLOB_LEN 200

/* A test event: sealed bytes derived from the event ID (so that each blob
 * differs, NUL bytes included). */
struct test_event {
    struct balai_event_rec e;
    uint8_t blob[BLOB_LEN];
    char id[48];
};

static inline void fill_blob(uint8_t *b, size_t len, const char *seed)
{
    uint32_t h = 2166136261u;

    for (const char *c = seed; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    for (size_t i = 0; i < len; i++) {
        h = h * 1103515245u + 12345u;
        b[i] = (uint8_t)(h >> 16);
    }
    b[0] = 0;
}

static inline void init_event(struct test_event *te, const char *id, const char *room,
                              const char *type, const char *state_key)
{
    memset(te, 0, sizeof(*te));
    snprintf(te->id, sizeof(te->id), "%s", id);
    fill_blob(te->blob, sizeof(te->blob), te->id);
    te->e = (struct balai_event_rec){.event_id = te->id,
                                     .room_id = room,
                                     .type = type,
                                     .state_key = state_key,
                                     .sender = "@alice:test",
                                     .origin_server_ts = 1700000000000,
                                     .depth = 3,
                                     .blob = te->blob,
                                     .blob_len = sizeof(te->blob),
                                     .key_name = "room-key-1"};
}

/* Inserts a message event into `room`; returns its position or a negative error. */
static inline int64_t add_message(struct balai_store_txn *t, const char *id, const char *room)
{
    struct test_event te;
    int rc;

    init_event(&te, id, room, "m.room.message", NULL);
    rc = balai_store_txn_event_insert(t, &te.e);
    return rc < 0 ? rc : te.e.pos;
}

#endif
