/* store.c: backend dispatch, the writer thread with group commit, and stats.
 *
 * DESIGN. One writer thread owns the backend's write connection. Submitters
 * append ops to `queue` under `lock` and signal `wake`. The writer swaps the
 * whole queue out, runs it as one batch (BEGIN IMMEDIATE; per op SAVEPOINT,
 * apply, ROLLBACK TO if refused, RELEASE; COMMIT), appends the batch to the
 * completion queue under `done_lock` and calls notify(). While it commits,
 * new submissions pile up and become the next batch: that is the group
 * commit, and the batch size follows the load by itself. Batches run one
 * after another in submit order, so completions and stream positions follow
 * submit order too.
 *
 * If a control statement fails (BEGIN, a savepoint, COMMIT), the batch is
 * rolled back whole and every op of it completes with BALAI_ESTORE; ops not
 * yet applied are never applied, so nothing can run outside a transaction. */
#define LOG_MODULE "store"
#include "balai.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

struct balai_store_txn {
    struct balai_store *st;
};

struct balai_store {
    const struct balai_store_backend *be;
    void *db;

    /* Submit queue, writer state: guarded by `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct balai_store_op *queue, *queue_tail;
    bool stop;
    bool running; /* writer thread exists (also read unlocked by its owner thread) */
    pthread_t thread;
    balai_store_notify_fn notify;
    void *notify_arg;

    /* Completion queue: guarded by `done_lock`. */
    pthread_mutex_t done_lock;
    struct balai_store_op *done, *done_tail;

    /* Statistics: guarded by `stats_lock`. */
    pthread_mutex_t stats_lock;
    struct balai_store_stats stats;
};

static const struct balai_store_backend *const backends[] = {
    &balai_store_sqlite_backend,
    &balai_store_postgres_backend,
};

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int balai_store_open(const struct balai_store_config *cfg, struct balai_store **out)
{
    const struct balai_store_backend *be = NULL;
    const char *name = cfg->backend ? cfg->backend : "sqlite";
    struct balai_store *st;
    void *db = NULL;
    int rc;

    *out = NULL;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(backends); i++) {
        if (strcmp(backends[i]->name, name) == 0)
            be = backends[i];
    }
    if (!be) {
        LOG_ERROR("unknown store backend '%s'", name);
        return BALAI_ECONFIG;
    }
    if (!cfg->path || !cfg->path[0]) {
        LOG_ERROR("no database path given");
        return BALAI_ECONFIG;
    }
    if (be->abi != BALAI_STORE_BACKEND_ABI) {
        LOG_ERROR("store backend '%s' has ABI %d, expected %d", name, be->abi,
                  BALAI_STORE_BACKEND_ABI);
        return BALAI_ESTORE;
    }
    rc = be->open(cfg->path, &db);
    if (rc != BALAI_OK)
        return rc;

    st = balai_calloc(1, sizeof(*st));
    st->be = be;
    st->db = db;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->wake, NULL);
    pthread_mutex_init(&st->done_lock, NULL);
    pthread_mutex_init(&st->stats_lock, NULL);
    *out = st;
    return BALAI_OK;
}

/* Moves a finished batch (a `next`-linked list) to the completion queue. */
static void complete(struct balai_store *st, struct balai_store_op *head)
{
    struct balai_store_op *tail = head;

    if (!head)
        return;
    while (tail->next)
        tail = tail->next;
    pthread_mutex_lock(&st->done_lock);
    if (st->done_tail)
        st->done_tail->next = head;
    else
        st->done = head;
    st->done_tail = tail;
    pthread_mutex_unlock(&st->done_lock);
}

static void record_stats(struct balai_store *st, struct balai_store_op *head, uint64_t us)
{
    uint64_t n = 0, failed = 0;
    size_t bucket = 0;

    for (struct balai_store_op *op = head; op; op = op->next) {
        n++;
        if (op->rc < 0)
            failed++;
    }
    while (bucket < BALAI_STORE_BATCH_BUCKETS - 1 && ((uint64_t)1 << bucket) < n)
        bucket++;
    pthread_mutex_lock(&st->stats_lock);
    st->stats.batches++;
    st->stats.ops += n;
    st->stats.failed_ops += failed;
    st->stats.batch_size_buckets[bucket]++;
    st->stats.commit_us_total += us;
    pthread_mutex_unlock(&st->stats_lock);
}

/* Fails every op from `op` on, without applying the ones not yet applied. */
static void fail_from(struct balai_store_op *op)
{
    for (; op; op = op->next)
        op->rc = BALAI_ESTORE;
}

/* Runs a batch as one transaction on the write connection; sets each op's rc.
 * Calls no done(). */
static void run_batch(struct balai_store *st, struct balai_store_op *head)
{
    const struct balai_store_backend *be = st->be;
    struct balai_store_txn txn = {.st = st};
    uint64_t t0 = now_us();
    int rc;

    rc = be->begin(st->db);
    if (rc != BALAI_OK) {
        LOG_ERROR("cannot begin a batch transaction: %s", balai_strerror(rc));
        fail_from(head);
        goto out;
    }
    for (struct balai_store_op *op = head; op; op = op->next) {
        if (be->savepoint(st->db) != BALAI_OK) {
            fail_from(head);
            goto abort;
        }
        op->rc = op->apply(&txn, op);
        if (op->rc < 0 && be->rollback_to(st->db) != BALAI_OK) {
            fail_from(head);
            goto abort;
        }
        if (be->release(st->db) != BALAI_OK) {
            fail_from(head);
            goto abort;
        }
    }
    if (be->commit(st->db) != BALAI_OK) {
        LOG_ERROR("batch commit failed, failing its ops");
        fail_from(head);
        goto abort;
    }
    goto out;
abort:
    (void)be->rollback(st->db);
out:
    record_stats(st, head, now_us() - t0);
}

static void *writer_main(void *arg)
{
    struct balai_store *st = arg;
    struct balai_store_op *batch;

    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!st->queue && !st->stop)
            pthread_cond_wait(&st->wake, &st->lock);
        if (!st->queue)
            break; /* stop requested and nothing left */
        batch = st->queue;
        st->queue = st->queue_tail = NULL;
        pthread_mutex_unlock(&st->lock);

        run_batch(st, batch);
        complete(st, batch);
        if (st->notify)
            st->notify(st->notify_arg);

        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

int balai_store_writer_start(struct balai_store *st, balai_store_notify_fn notify, void *arg)
{
    sigset_t all, old;
    int err;

    if (st->running)
        return BALAI_ESTATE;
    st->notify = notify;
    st->notify_arg = arg;
    st->stop = false;
    /* The writer inherits a mask blocking every signal: they go to the loop. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&st->thread, NULL, writer_main, st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        LOG_ERROR("cannot start the writer thread: %s", strerror(err));
        return BALAI_ESTORE;
    }
    pthread_setname_np(st->thread, "balai-writer");
    st->running = true;
    return BALAI_OK;
}

void balai_store_writer_stop(struct balai_store *st)
{
    if (!st->running)
        return;
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->thread, NULL);
    st->running = false;
    st->stop = false;
}

void balai_store_submit(struct balai_store *st, struct balai_store_op *op)
{
    op->next = NULL;
    op->rc = 0;
    pthread_mutex_lock(&st->lock);
    if (st->queue_tail)
        st->queue_tail->next = op;
    else
        st->queue = op;
    st->queue_tail = op;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
}

void balai_store_drain_completions(struct balai_store *st)
{
    struct balai_store_op *op, *next;

    pthread_mutex_lock(&st->done_lock);
    op = st->done;
    st->done = st->done_tail = NULL;
    pthread_mutex_unlock(&st->done_lock);
    for (; op; op = next) {
        next = op->next; /* done() may free or resubmit the op */
        op->next = NULL;
        if (op->done)
            op->done(op);
    }
}

int balai_store_exec(struct balai_store *st, struct balai_store_op *op)
{
    int rc;

    if (st->running) {
        LOG_ERROR("balai_store_exec called while the writer runs");
        return BALAI_ESTATE;
    }
    op->next = NULL;
    op->rc = 0;
    run_batch(st, op);
    rc = op->rc; /* done() may free the op */
    if (op->done)
        op->done(op);
    return rc;
}

void balai_store_close(struct balai_store *st)
{
    struct balai_store_op *left;

    if (!st)
        return;
    balai_store_writer_stop(st);
    /* Ops submitted while no writer ran are still owed a commit. */
    pthread_mutex_lock(&st->lock);
    left = st->queue;
    st->queue = st->queue_tail = NULL;
    pthread_mutex_unlock(&st->lock);
    if (left) {
        run_batch(st, left);
        complete(st, left);
    }
    balai_store_drain_completions(st);

    st->be->close(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->done_lock);
    pthread_mutex_destroy(&st->stats_lock);
    free(st);
}

int balai_store_events_per_day(struct balai_store *st, const char *type, int64_t since_ts,
                               int (*fn)(int64_t, int64_t, int64_t, void *), void *arg)
{
    return st->be->events_per_day(st->db, type, since_ts, fn, arg);
}

bool balai_store_unavailable(struct balai_store *st)
{
    return st && st->be->unavailable(st->db) != 0;
}

const struct balai_store_backend *balai__store_backend(struct balai_store *st, void **db)
{
    if (st->running)
        return NULL;
    *db = st->db;
    return st->be;
}

void balai_store_stats(struct balai_store *st, struct balai_store_stats *out)
{
    pthread_mutex_lock(&st->stats_lock);
    *out = st->stats;
    pthread_mutex_unlock(&st->stats_lock);
}

/* Transaction functions: dispatch to the backend's write connection. */

int balai_store_txn_user_insert(struct balai_store_txn *t, const struct balai_user_rec *u)
{
    return t->st->be->user_insert(t->st->db, u);
}

int balai_store_txn_user_set_password(struct balai_store_txn *t, const char *user_id,
                                      const char *hash)
{
    return t->st->be->user_set_password(t->st->db, user_id, hash);
}

int balai_store_txn_user_set_displayname(struct balai_store_txn *t, const char *user_id,
                                         const char *v)
{
    return t->st->be->user_set_displayname(t->st->db, user_id, v);
}

int balai_store_txn_user_set_avatar_url(struct balai_store_txn *t, const char *user_id,
                                        const char *v)
{
    return t->st->be->user_set_avatar_url(t->st->db, user_id, v);
}

int balai_store_txn_user_set_admin(struct balai_store_txn *t, const char *user_id, int admin)
{
    return t->st->be->user_set_admin(t->st->db, user_id, admin);
}

int balai_store_txn_user_deactivate(struct balai_store_txn *t, const char *user_id)
{
    return t->st->be->user_deactivate(t->st->db, user_id);
}

int balai_store_txn_device_upsert(struct balai_store_txn *t, const struct balai_device_rec *d)
{
    return t->st->be->device_upsert(t->st->db, d);
}

int balai_store_txn_device_delete(struct balai_store_txn *t, const char *user_id,
                                  const char *device_id)
{
    return t->st->be->device_delete(t->st->db, user_id, device_id);
}

int balai_store_txn_token_insert(struct balai_store_txn *t, const struct balai_token_rec *r)
{
    return t->st->be->token_insert(t->st->db, r);
}

int balai_store_txn_token_delete(struct balai_store_txn *t, const uint8_t hash[32])
{
    return t->st->be->token_delete(t->st->db, hash);
}

int balai_store_txn_meta_set(struct balai_store_txn *t, const char *key, const char *value)
{
    return t->st->be->meta_set(t->st->db, key, value);
}

int balai_store_txn_next_pos(struct balai_store_txn *t, const char *stream, int64_t *out)
{
    return t->st->be->next_pos(t->st->db, stream, out);
}

int balai_store_txn_room_insert(struct balai_store_txn *t, const struct balai_room_rec *r)
{
    return t->st->be->room_insert(t->st->db, r);
}

int balai_store_txn_event_insert(struct balai_store_txn *t, struct balai_event_rec *e)
{
    return t->st->be->event_insert(t->st->db, e);
}

int balai_store_txn_state_set(struct balai_store_txn *t, const char *room_id, const char *type,
                              const char *state_key, int64_t event_pos)
{
    return t->st->be->state_set(t->st->db, room_id, type, state_key, event_pos);
}

int balai_store_txn_txn_insert(struct balai_store_txn *t, const char *user_id,
                               const char *device_id, const char *txn_id, const char *event_id,
                               int64_t ts)
{
    return t->st->be->txn_insert(t->st->db, user_id, device_id, txn_id, event_id, ts);
}

int balai_store_txn_alias_insert(struct balai_store_txn *t, const char *alias, const char *room_id,
                                 const char *creator)
{
    return t->st->be->alias_insert(t->st->db, alias, room_id, creator);
}

int balai_store_txn_alias_delete(struct balai_store_txn *t, const char *alias)
{
    return t->st->be->alias_delete(t->st->db, alias);
}

int balai_store_txn_forget(struct balai_store_txn *t, const char *user_id, const char *room_id)
{
    return t->st->be->forget(t->st->db, user_id, room_id);
}

int balai_store_txn_unforget(struct balai_store_txn *t, const char *user_id, const char *room_id)
{
    return t->st->be->unforget(t->st->db, user_id, room_id);
}

int balai_store_txn_event_set_blob(struct balai_store_txn *t, const char *event_id,
                                   const uint8_t *blob, size_t len, int redacted)
{
    return t->st->be->event_set_blob(t->st->db, event_id, blob, len, redacted);
}

int balai_store_txn_account_data_set(struct balai_store_txn *t, const char *user_id,
                                     const char *room_id, const char *type, const uint8_t *blob,
                                     size_t len, const char *key_name, int64_t *pos)
{
    return t->st->be->account_data_set(t->st->db, user_id, room_id, type, blob, len, key_name, pos);
}

int balai_store_txn_receipt_set(struct balai_store_txn *t, const char *room_id, const char *user_id,
                                const char *type, const char *thread_id, const char *event_id,
                                int64_t ts, int64_t *pos)
{
    return t->st->be->receipt_set(t->st->db, room_id, user_id, type, thread_id, event_id, ts, pos);
}

int balai_store_txn_room_publish(struct balai_store_txn *t, const char *room_id, int published,
                                 int64_t ts)
{
    return t->st->be->room_publish(t->st->db, room_id, published, ts);
}

/* Reads: dispatch to the backend's read side. */

int balai_store_users_each(struct balai_store *st, int (*fn)(const struct balai_user_rec *, void *),
                           void *arg)
{
    return st->be->users_each(st->db, fn, arg);
}

int balai_store_devices_each(struct balai_store *st,
                             int (*fn)(const struct balai_device_rec *, void *), void *arg)
{
    return st->be->devices_each(st->db, fn, arg);
}

int balai_store_tokens_each(struct balai_store *st,
                            int (*fn)(const struct balai_token_rec *, void *), void *arg)
{
    return st->be->tokens_each(st->db, fn, arg);
}

int balai_store_meta_get(struct balai_store *st, const char *key, char **out)
{
    return st->be->meta_get(st->db, key, out);
}

int64_t balai_store_pos_current(struct balai_store *st, const char *stream)
{
    return st->be->pos_current(st->db, stream);
}

int balai_store_schema_version(struct balai_store *st, int *out)
{
    return st->be->schema_version(st->db, out);
}

int balai_store_rooms_each(struct balai_store *st, int (*fn)(const struct balai_room_rec *, void *),
                           void *arg)
{
    return st->be->rooms_each(st->db, fn, arg);
}

int balai_store_state_each(struct balai_store *st,
                           int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    return st->be->state_each(st->db, fn, arg);
}

int balai_store_room_events(struct balai_store *st, const char *room_id, int64_t from, int64_t to,
                            char dir, int limit, int (*fn)(const struct balai_event_rec *, void *),
                            void *arg)
{
    if ((dir != 'f' && dir != 'b') || limit <= 0)
        return BALAI_EINVAL;
    return st->be->room_events(st->db, room_id, from, to, dir, limit, fn, arg);
}

int balai_store_events_after(struct balai_store *st, int64_t after, int limit,
                             int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    if (limit <= 0)
        return BALAI_EINVAL;
    return st->be->events_after(st->db, after, limit, fn, arg);
}

int balai_store_room_members_at(struct balai_store *st, const char *room_id, int64_t at,
                                int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    return st->be->room_members_at(st->db, room_id, at, fn, arg);
}

int balai_store_policy_events_each(struct balai_store *st,
                                   int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    return st->be->policy_events_each(st->db, fn, arg);
}

int balai_store_event_get(struct balai_store *st, const char *event_id,
                          int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    return st->be->event_get(st->db, event_id, fn, arg);
}

int balai_store_txns_each(struct balai_store *st, int64_t since_ts,
                          int (*fn)(const char *user_id, const char *device_id, const char *txn_id,
                                    const char *event_id, int64_t ts, void *),
                          void *arg)
{
    return st->be->txns_each(st->db, since_ts, fn, arg);
}

int balai_store_aliases_each(struct balai_store *st,
                             int (*fn)(const char *alias, const char *room_id, const char *creator,
                                       void *),
                             void *arg)
{
    return st->be->aliases_each(st->db, fn, arg);
}

int balai_store_forgotten_each(struct balai_store *st,
                               int (*fn)(const char *user_id, const char *room_id, void *),
                               void *arg)
{
    return st->be->forgotten_each(st->db, fn, arg);
}

int balai_store_debug_setting(struct balai_store *st, const char *name, char **out)
{
    *out = NULL;
    if (st->running)
        return BALAI_ESTATE;
    return st->be->debug_setting(st->db, name, out);
}

int balai_store_txn_e2e_key_set(struct balai_store_txn *t, const char *user_id,
                                const char *device_id, const char *kind, const char *key_id,
                                const char *json, int used)
{
    return t->st->be->e2e_key_set(t->st->db, user_id, device_id, kind, key_id, json, used);
}

int balai_store_txn_e2e_key_delete(struct balai_store_txn *t, const char *user_id,
                                   const char *device_id, const char *kind, const char *key_id)
{
    return t->st->be->e2e_key_delete(t->st->db, user_id, device_id, kind, key_id);
}

int balai_store_txn_to_device_add(struct balai_store_txn *t, const char *user_id,
                                  const char *device_id, const char *sender, const char *type,
                                  const char *content, int64_t *pos)
{
    return t->st->be->to_device_add(t->st->db, user_id, device_id, sender, type, content, pos);
}

int balai_store_txn_to_device_delete(struct balai_store_txn *t, const char *user_id,
                                     const char *device_id, int64_t upto)
{
    return t->st->be->to_device_delete(t->st->db, user_id, device_id, upto);
}

int balai_store_to_device_each(struct balai_store *st,
                               int (*fn)(const struct balai_to_device_rec *, void *), void *arg)
{
    return st->be->to_device_each(st->db, fn, arg);
}

int balai_store_e2e_keys_each(struct balai_store *st,
                              int (*fn)(const struct balai_e2e_key_rec *, void *), void *arg)
{
    return st->be->e2e_keys_each(st->db, fn, arg);
}

int balai_store_account_data_each(struct balai_store *st,
                                  int (*fn)(const struct balai_account_data_rec *, void *),
                                  void *arg)
{
    return st->be->account_data_each(st->db, fn, arg);
}

int balai_store_receipts_each(struct balai_store *st,
                              int (*fn)(const struct balai_receipt_rec *, void *), void *arg)
{
    return st->be->receipts_each(st->db, fn, arg);
}

int balai_store_published_each(struct balai_store *st,
                               int (*fn)(const char *room_id, int64_t ts, void *), void *arg)
{
    return st->be->published_each(st->db, fn, arg);
}

int balai_store_txn_device_list_add(struct balai_store_txn *t, const char *user_id, int64_t *pos)
{
    return t->st->be->device_list_add(t->st->db, user_id, pos);
}

int balai_store_txn_device_data_delete(struct balai_store_txn *t, const char *user_id,
                                       const char *device_id)
{
    return t->st->be->device_data_delete(t->st->db, user_id, device_id);
}

int balai_store_device_list_changes(struct balai_store *st, int64_t after,
                                    int (*fn)(int64_t pos, const char *user_id, void *), void *arg)
{
    return st->be->device_list_changes(st->db, after, fn, arg);
}

int balai_store_txn_relation_insert(struct balai_store_txn *t, const struct balai_relation_rec *r)
{
    return t->st->be->relation_insert(t->st->db, r);
}

int balai_store_txn_relation_delete(struct balai_store_txn *t, const char *event_id)
{
    return t->st->be->relation_delete(t->st->db, event_id);
}

int balai_store_txn_redaction_set(struct balai_store_txn *t, const char *event_id,
                                  const char *redaction_id)
{
    return t->st->be->redaction_set(t->st->db, event_id, redaction_id);
}

int balai_store_relations_each(struct balai_store *st,
                               int (*fn)(const struct balai_relation_rec *, void *), void *arg)
{
    return st->be->relations_each(st->db, fn, arg);
}

int balai_store_redactions_each(struct balai_store *st,
                                int (*fn)(const char *event_id, const char *redaction_id, void *),
                                void *arg)
{
    return st->be->redactions_each(st->db, fn, arg);
}

int balai_store_txn_org_person_set(struct balai_store_txn *t, const struct balai_org_person_rec *p)
{
    return t->st->be->org_person_set(t->st->db, p);
}

int balai_store_txn_org_unit_set(struct balai_store_txn *t, const struct balai_org_unit_rec *u)
{
    return t->st->be->org_unit_set(t->st->db, u);
}

int balai_store_txn_org_unit_delete(struct balai_store_txn *t, const char *unit_id)
{
    return t->st->be->org_unit_delete(t->st->db, unit_id);
}

int balai_store_org_people_each(struct balai_store *st,
                                int (*fn)(const struct balai_org_person_rec *, void *), void *arg)
{
    return st->be->org_people_each(st->db, fn, arg);
}

int balai_store_org_units_each(struct balai_store *st,
                               int (*fn)(const struct balai_org_unit_rec *, void *), void *arg)
{
    return st->be->org_units_each(st->db, fn, arg);
}

int balai_store_txn_audit_append(struct balai_store_txn *t, const struct balai_audit_rec *r)
{
    return t->st->be->audit_append(t->st->db, r);
}

int balai_store_txn_audit_tail(struct balai_store_txn *t, int64_t *seq, uint8_t mac[32])
{
    return t->st->be->audit_tail(t->st->db, seq, mac);
}

int balai_store_audit_each(struct balai_store *st, const struct balai_audit_query *q,
                           int (*fn)(const struct balai_audit_rec *, void *), void *arg)
{
    if (q->dir != 'f' && q->dir != 'b')
        return BALAI_EINVAL;
    return st->be->audit_each(st->db, q, fn, arg);
}

/* ---- DLP and moderation ---- */

int balai_store_txn_dlp_incident_add(struct balai_store_txn *t, struct balai_dlp_incident_rec *r)
{
    return t->st->be->dlp_incident_add(t->st->db, r);
}

int balai_store_dlp_incidents_each(struct balai_store *st, const struct balai_dlp_incident_query *q,
                                   int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                   void *arg)
{
    return st->be->dlp_incidents_each(st->db, q, fn, arg);
}

int balai_store_txn_dlp_held_add(struct balai_store_txn *t, const struct balai_dlp_held_rec *r)
{
    return t->st->be->dlp_held_add(t->st->db, r);
}

int balai_store_txn_dlp_held_delete(struct balai_store_txn *t, const char *held_id)
{
    return t->st->be->dlp_held_delete(t->st->db, held_id);
}

int balai_store_dlp_held_each(struct balai_store *st, const char *held_id,
                              int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg)
{
    return st->be->dlp_held_each(st->db, held_id, fn, arg);
}

int balai_store_txn_report_add(struct balai_store_txn *t, struct balai_report_rec *r)
{
    return t->st->be->report_add(t->st->db, r);
}

int balai_store_txn_report_close(struct balai_store_txn *t, int64_t id, const char *status,
                                 const char *by, const char *note, int64_t ts)
{
    if (!status || (strcmp(status, "resolved") != 0 && strcmp(status, "dismissed") != 0))
        return BALAI_EINVAL;
    return t->st->be->report_close(t->st->db, id, status, by, note, ts);
}

int balai_store_reports_each(struct balai_store *st, const char *status, int64_t id, int limit,
                             int (*fn)(const struct balai_report_rec *, void *), void *arg)
{
    return st->be->reports_each(st->db, status, id, limit, fn, arg);
}

int balai_store_txn_suspension_set(struct balai_store_txn *t, const char *user_id, int suspended,
                                   const char *actor, int64_t ts)
{
    return t->st->be->suspension_set(t->st->db, user_id, suspended, actor, ts);
}

int balai_store_suspensions_each(struct balai_store *st,
                                 int (*fn)(const char *user_id, int64_t ts, const char *actor,
                                           void *),
                                 void *arg)
{
    return st->be->suspensions_each(st->db, fn, arg);
}

int balai_store_txn_dlp_setting_set(struct balai_store_txn *t, const char *kind, const char *name,
                                    const char *value, int64_t ts)
{
    return t->st->be->dlp_setting_set(t->st->db, kind, name, value, ts);
}

int balai_store_dlp_settings_each(struct balai_store *st,
                                  int (*fn)(const char *kind, const char *name, const char *value,
                                            int64_t ts, void *),
                                  void *arg)
{
    return st->be->dlp_settings_each(st->db, fn, arg);
}

/* ---- SCIM provisioning ---- */

int balai_store_txn_scim_token_add(struct balai_store_txn *t, const struct balai_scim_token_rec *r)
{
    return t->st->be->scim_token_add(t->st->db, r);
}

int balai_store_txn_scim_token_delete(struct balai_store_txn *t, const char *token_id)
{
    return t->st->be->scim_token_delete(t->st->db, token_id);
}

int balai_store_txn_scim_user_set(struct balai_store_txn *t, const struct balai_scim_user_rec *r)
{
    return t->st->be->scim_user_set(t->st->db, r);
}

int balai_store_txn_scim_group_set(struct balai_store_txn *t, const struct balai_scim_group_rec *r)
{
    return t->st->be->scim_group_set(t->st->db, r);
}

int balai_store_txn_scim_group_delete(struct balai_store_txn *t, const char *scim_id)
{
    return t->st->be->scim_group_delete(t->st->db, scim_id);
}

int balai_store_txn_scim_member_set(struct balai_store_txn *t, const char *group_id,
                                    const char *user_id, int member)
{
    return t->st->be->scim_member_set(t->st->db, group_id, user_id, member);
}

int balai_store_txn_scim_member_remove_all(struct balai_store_txn *t, const char *user_id)
{
    return t->st->be->scim_member_remove_all(t->st->db, user_id);
}

int balai_store_scim_tokens_each(struct balai_store *st,
                                 int (*fn)(const struct balai_scim_token_rec *, void *), void *arg)
{
    return st->be->scim_tokens_each(st->db, fn, arg);
}

int balai_store_scim_users_each(struct balai_store *st,
                                int (*fn)(const struct balai_scim_user_rec *, void *), void *arg)
{
    return st->be->scim_users_each(st->db, fn, arg);
}

int balai_store_scim_groups_each(struct balai_store *st,
                                 int (*fn)(const struct balai_scim_group_rec *, void *), void *arg)
{
    return st->be->scim_groups_each(st->db, fn, arg);
}

int balai_store_scim_members_each(struct balai_store *st,
                                  int (*fn)(const char *group_id, const char *user_id, void *),
                                  void *arg)
{
    return st->be->scim_members_each(st->db, fn, arg);
}

/* ---- membership rules and offboarding ---- */

int balai_store_txn_rule_set(struct balai_store_txn *t, const char *rule_id, const char *rule,
                             int64_t created_ts, int64_t updated_ts)
{
    return t->st->be->rule_set(t->st->db, rule_id, rule, created_ts, updated_ts);
}

int balai_store_txn_rule_delete(struct balai_store_txn *t, const char *rule_id)
{
    return t->st->be->rule_delete(t->st->db, rule_id);
}

int balai_store_rules_each(struct balai_store *st,
                           int (*fn)(const char *rule_id, const char *rule, int64_t created_ts,
                                     int64_t updated_ts, void *),
                           void *arg)
{
    return st->be->rules_each(st->db, fn, arg);
}

int balai_store_txn_rule_member_set(struct balai_store_txn *t, const char *user_id,
                                    const char *room_id, const char *state, const char *rule_id,
                                    int64_t ts)
{
    return t->st->be->rule_member_set(t->st->db, user_id, room_id, state, rule_id, ts);
}

int balai_store_rule_members_each(struct balai_store *st,
                                  int (*fn)(const char *user_id, const char *room_id,
                                            const char *state, const char *rule_id, int64_t ts,
                                            void *),
                                  void *arg)
{
    return st->be->rule_members_each(st->db, fn, arg);
}

int balai_store_txn_offboarding_add(struct balai_store_txn *t, const char *user_id, int64_t ts,
                                    const char *record)
{
    return t->st->be->offboarding_add(t->st->db, user_id, ts, record);
}

int balai_store_txn_offboarding_close(struct balai_store_txn *t, const char *user_id)
{
    return t->st->be->offboarding_close(t->st->db, user_id);
}

int balai_store_offboardings_each(struct balai_store *st,
                                  int (*fn)(int64_t id, const char *user_id, int64_t ts,
                                            const char *record, int current, void *),
                                  void *arg)
{
    return st->be->offboardings_each(st->db, fn, arg);
}

int balai_store_txn_user_reactivate(struct balai_store_txn *t, const char *user_id)
{
    return t->st->be->user_reactivate(t->st->db, user_id);
}

/* ---- op groups ---- */

struct balai_store_group {
    struct balai_store_op op; /* first: the store hands it back */
    struct balai_store_op **ops;
    size_t n, cap;
};

static int group_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct balai_store_group *g = (struct balai_store_group *)op;
    for (size_t i = 0; i < g->n; i++) {
        int rc = g->ops[i]->apply ? g->ops[i]->apply(t, g->ops[i]) : BALAI_OK;
        if (rc < 0)
            return rc;
    }
    return BALAI_OK;
}

static void group_done(struct balai_store_op *op)
{
    struct balai_store_group *g = (struct balai_store_group *)op;
    for (size_t i = 0; i < g->n; i++) {
        g->ops[i]->rc = op->rc;
        if (g->ops[i]->done)
            g->ops[i]->done(g->ops[i]);
    }
    free(g->ops);
    free(g);
}

struct balai_store_group *balai_store_group_new(void)
{
    struct balai_store_group *g = balai_calloc(1, sizeof(*g));
    g->op.apply = group_apply;
    g->op.done = group_done;
    return g;
}

void balai_store_group_add(struct balai_store_group *g, struct balai_store_op *op)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->ops = balai_realloc(g->ops, g->cap * sizeof(*g->ops));
    }
    g->ops[g->n++] = op;
}

void balai_store_submit_group(struct balai_store *st, struct balai_store_group *g)
{
    balai_store_submit(st, &g->op);
}
