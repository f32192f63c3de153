/* test_store.c: unit tests for src/store/ (the store interface, the writer
 * thread with group commit, and the SQLite backend), each on a fresh
 * database in a temporary directory. */
#include "balai.h"

#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h> /* to build a schema-1 database for the migration test */

#include "store/sqlite/sqlite_int.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/log.h"

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

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
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

static int teardown(void **state)
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

static void reopen(struct fixture *f)
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

static int fn_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct fn_op *o = CONTAINER_OF(op, struct fn_op, op);

    return o->body(t, o->ctx);
}

static void fn_done(struct balai_store_op *op)
{
    struct fn_op *o = CONTAINER_OF(op, struct fn_op, op);

    o->done_rc = op->rc;
    o->done_calls++;
}

static int run(struct balai_store *st, int (*body)(struct balai_store_txn *, const void *),
               const void *ctx)
{
    struct fn_op o = {.op = {.apply = fn_apply, .done = fn_done}, .body = body, .ctx = ctx};
    int rc = balai_store_exec(st, &o.op);

    assert_int_equal(o.done_calls, 1);
    assert_int_equal(o.done_rc, rc);
    return rc;
}

static int insert_user_body(struct balai_store_txn *t, const void *ctx)
{
    struct balai_user_rec u = {.user_id = ctx, .password_hash = "$argon2id$x", .created_ts = 1000};

    return balai_store_txn_user_insert(t, &u);
}

static int count_user(const struct balai_user_rec *u, void *arg)
{
    (void)u;
    (*(int *)arg)++;
    return 0;
}

static int count_device(const struct balai_device_rec *d, void *arg)
{
    (void)d;
    (*(int *)arg)++;
    return 0;
}

static int count_token(const struct balai_token_rec *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

static int users_count(struct balai_store *st)
{
    int n = 0;

    assert_int_equal(balai_store_users_each(st, count_user, &n), 0);
    return n;
}

static int devices_count(struct balai_store *st)
{
    int n = 0;

    assert_int_equal(balai_store_devices_each(st, count_device, &n), 0);
    return n;
}

static int tokens_count(struct balai_store *st)
{
    int n = 0;

    assert_int_equal(balai_store_tokens_each(st, count_token, &n), 0);
    return n;
}

/* Copies out one user (NULL if absent) for inspection. */
struct user_find {
    const char *user_id;
    bool found;
    char *password_hash, *displayname, *avatar_url;
    int admin, deactivated, system;
    int64_t created_ts;
};

static int find_user_cb(const struct balai_user_rec *u, void *arg)
{
    struct user_find *q = arg;

    if (strcmp(u->user_id, q->user_id) != 0)
        return 0;
    q->found = true;
    q->password_hash = balai_strdup(u->password_hash);
    q->displayname = balai_strdup(u->displayname);
    q->avatar_url = balai_strdup(u->avatar_url);
    q->admin = u->admin;
    q->deactivated = u->deactivated;
    q->system = u->system;
    q->created_ts = u->created_ts;
    return 1;
}

static bool find_user(struct balai_store *st, const char *user_id, struct user_find *q)
{
    memset(q, 0, sizeof(*q));
    q->user_id = user_id;
    (void)balai_store_users_each(st, find_user_cb, q);
    return q->found;
}

static void user_find_release(struct user_find *q)
{
    free(q->password_hash);
    free(q->displayname);
    free(q->avatar_url);
}

/* --- open, schema, settings --- */

static void test_open_creates_schema_and_reopens(void **state)
{
    struct fixture *f = *state;
    int v = -1;

    assert_int_equal(balai_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(users_count(f->st), 0);
    assert_int_equal(run(f->st, insert_user_body, "@alice:test"), 0);

    /* Reopening must not re-apply migrations (CREATE TABLE would fail). */
    reopen(f);
    reopen(f);
    assert_int_equal(balai_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(users_count(f->st), 1);
}

static void test_settings_in_effect(void **state)
{
    struct fixture *f = *state;
    char *v = NULL;
    char *wal = balai_asprintf("%s-wal", f->path);

    assert_int_equal(balai_store_debug_setting(f->st, "journal_mode", &v), 0);
    assert_string_equal(v, "wal");
    free(v);
    assert_int_equal(balai_store_debug_setting(f->st, "synchronous", &v), 0);
    assert_string_equal(v, "2"); /* FULL */
    free(v);
    assert_int_equal(balai_store_debug_setting(f->st, "foreign_keys", &v), 0);
    assert_string_equal(v, "1");
    free(v);
    assert_int_equal(balai_store_debug_setting(f->st, "busy_timeout", &v), 0);
    assert_true(atoi(v) > 0);
    free(v);
    assert_int_equal(balai_store_debug_setting(f->st, "user_version; DROP TABLE users", &v),
                     BALAI_EINVAL);
    assert_null(v);
    assert_int_equal(access(wal, F_OK), 0);
    free(wal);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct balai_store *st = NULL;
    char *bad = balai_asprintf("%s/no/such/dir/db", f->dir);
    struct balai_store_config c1 = {.backend = "oracle", .path = f->path};
    struct balai_store_config c2 = {.backend = "sqlite", .path = NULL};
    struct balai_store_config c3 = {.backend = NULL, .path = bad};

    assert_int_equal(balai_store_open(&c1, &st), BALAI_ECONFIG);
    assert_null(st);
    assert_int_equal(balai_store_open(&c2, &st), BALAI_ECONFIG);
    assert_null(st);
    assert_int_equal(balai_store_open(&c3, &st), BALAI_ESTORE);
    assert_null(st);
    balai_store_close(NULL);
    free(bad);
}

/* --- synchronous ops --- */

static void test_user_insert_duplicate(void **state)
{
    struct fixture *f = *state;
    struct user_find q;

    assert_int_equal(run(f->st, insert_user_body, "@bob:test"), 0);
    assert_int_equal(run(f->st, insert_user_body, "@bob:test"), BALAI_EEXIST);
    assert_int_equal(run(f->st, insert_user_body, NULL), BALAI_EINVAL);
    assert_int_equal(users_count(f->st), 1);
    assert_true(find_user(f->st, "@bob:test", &q));
    assert_string_equal(q.password_hash, "$argon2id$x");
    assert_null(q.displayname);
    assert_int_equal(q.admin, 0);
    assert_int_equal(q.created_ts, 1000);
    user_find_release(&q);
}

static int insert_then_fail_body(struct balai_store_txn *t, const void *ctx)
{
    int64_t pos;

    assert_int_equal(insert_user_body(t, ctx), 0);
    assert_int_equal(balai_store_txn_next_pos(t, "events", &pos), 0);
    assert_int_equal(pos, 1);
    assert_int_equal(balai_store_txn_meta_set(t, "k", "v"), 0);
    return BALAI_EINVAL;
}

static void test_exec_failed_apply_records_nothing(void **state)
{
    struct fixture *f = *state;
    char *v = NULL;

    assert_int_equal(run(f->st, insert_then_fail_body, "@carol:test"), BALAI_EINVAL);
    assert_int_equal(users_count(f->st), 0);
    assert_int_equal(balai_store_pos_current(f->st, "events"), 0);
    assert_int_equal(balai_store_meta_get(f->st, "k", &v), BALAI_ENOTFOUND);
    assert_null(v);
}

static int user_updates_body(struct balai_store_txn *t, const void *ctx)
{
    const char *u = "@dave:test";

    (void)ctx;
    assert_int_equal(insert_user_body(t, u), 0);
    assert_int_equal(balai_store_txn_user_set_password(t, u, "$new"), 0);
    assert_int_equal(balai_store_txn_user_set_displayname(t, u, "Dave"), 0);
    assert_int_equal(balai_store_txn_user_set_avatar_url(t, u, "mxc://test/a"), 0);
    assert_int_equal(balai_store_txn_user_set_admin(t, u, 5), 0);
    assert_int_equal(balai_store_txn_user_set_password(t, "@nobody:test", "$x"), BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_user_set_displayname(t, "@nobody:test", "X"), BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_user_set_avatar_url(t, "@nobody:test", NULL), BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_user_set_admin(t, "@nobody:test", 1), BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_user_deactivate(t, "@nobody:test"), BALAI_ENOTFOUND);
    return 0;
}

static int clear_displayname_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    return balai_store_txn_user_set_displayname(t, "@dave:test", NULL);
}

static void test_user_updates(void **state)
{
    struct fixture *f = *state;
    struct user_find q;

    assert_int_equal(run(f->st, user_updates_body, NULL), 0);
    assert_true(find_user(f->st, "@dave:test", &q));
    assert_string_equal(q.password_hash, "$new");
    assert_string_equal(q.displayname, "Dave");
    assert_string_equal(q.avatar_url, "mxc://test/a");
    assert_int_equal(q.admin, 1);
    assert_int_equal(q.deactivated, 0);
    user_find_release(&q);

    assert_int_equal(run(f->st, clear_displayname_body, NULL), 0);
    assert_true(find_user(f->st, "@dave:test", &q));
    assert_null(q.displayname);
    user_find_release(&q);
}

static void fill_hash(uint8_t h[32], int seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed * 31 + i);
}

static int add_device(struct balai_store_txn *t, const char *user, const char *dev, int tokens,
                      int seed)
{
    struct balai_device_rec d = {.user_id = user,
                                 .device_id = dev,
                                 .display_name = "phone",
                                 .created_ts = 10,
                                 .last_seen_ts = 10,
                                 .last_seen_ip = "10.0.0.1"};
    int rc = balai_store_txn_device_upsert(t, &d);

    for (int i = 0; rc == 0 && i < tokens; i++) {
        struct balai_token_rec r = {.user_id = user, .device_id = dev, .created_ts = 11};

        fill_hash(r.hash, seed + i);
        rc = balai_store_txn_token_insert(t, &r);
    }
    return rc;
}

static int deactivate_setup_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(insert_user_body(t, "@a:test"), 0);
    assert_int_equal(insert_user_body(t, "@b:test"), 0);
    assert_int_equal(add_device(t, "@a:test", "D1", 2, 0), 0);
    assert_int_equal(add_device(t, "@a:test", "D2", 2, 10), 0);
    assert_int_equal(add_device(t, "@b:test", "D1", 1, 20), 0);
    return 0;
}

static int deactivate_body(struct balai_store_txn *t, const void *ctx)
{
    return balai_store_txn_user_deactivate(t, ctx);
}

static int check_not_a_device(const struct balai_device_rec *d, void *arg)
{
    (void)arg;
    assert_string_equal(d->user_id, "@b:test");
    return 0;
}

static int check_not_a_token(const struct balai_token_rec *r, void *arg)
{
    uint8_t h[32];

    (void)arg;
    assert_string_equal(r->user_id, "@b:test");
    fill_hash(h, 20);
    assert_memory_equal(r->hash, h, 32);
    return 0;
}

static void test_deactivate_removes_devices_and_tokens(void **state)
{
    struct fixture *f = *state;
    struct user_find q;

    assert_int_equal(run(f->st, deactivate_setup_body, NULL), 0);
    assert_int_equal(devices_count(f->st), 3);
    assert_int_equal(tokens_count(f->st), 5);

    assert_int_equal(run(f->st, deactivate_body, "@a:test"), 0);
    assert_int_equal(devices_count(f->st), 1);
    assert_int_equal(tokens_count(f->st), 1);
    assert_int_equal(balai_store_devices_each(f->st, check_not_a_device, NULL), 0);
    assert_int_equal(balai_store_tokens_each(f->st, check_not_a_token, NULL), 0);
    assert_true(find_user(f->st, "@a:test", &q));
    assert_int_equal(q.deactivated, 1);
    assert_null(q.password_hash);
    user_find_release(&q);
    assert_true(find_user(f->st, "@b:test", &q));
    assert_int_equal(q.deactivated, 0);
    assert_non_null(q.password_hash);
    user_find_release(&q);
    assert_int_equal(run(f->st, deactivate_body, "@ghost:test"), BALAI_ENOTFOUND);
}

static int devices_tokens_body(struct balai_store_txn *t, const void *ctx)
{
    struct balai_device_rec d = {.user_id = "@e:test", .device_id = "DEV"};
    struct balai_token_rec r = {.user_id = "@e:test", .device_id = "NODEV", .created_ts = 1};

    (void)ctx;
    assert_int_equal(insert_user_body(t, "@e:test"), 0);
    /* A device of a missing user, a token of a missing device. */
    d.user_id = "@ghost:test";
    assert_int_equal(balai_store_txn_device_upsert(t, &d), BALAI_ENOTFOUND);
    fill_hash(r.hash, 1);
    assert_int_equal(balai_store_txn_token_insert(t, &r), BALAI_ENOTFOUND);

    assert_int_equal(add_device(t, "@e:test", "DEV", 2, 1), 0);
    /* Same hash again. */
    r.device_id = "DEV";
    assert_int_equal(balai_store_txn_token_insert(t, &r), BALAI_EEXIST);

    /* Update: NULL display name and IP keep theirs, newer last_seen wins. */
    d = (struct balai_device_rec){.user_id = "@e:test", .device_id = "DEV", .last_seen_ts = 50};
    assert_int_equal(balai_store_txn_device_upsert(t, &d), 0);
    /* Older last_seen is ignored, a new display name is taken. */
    d = (struct balai_device_rec){.user_id = "@e:test",
                                  .device_id = "DEV",
                                  .display_name = "laptop",
                                  .last_seen_ts = 20,
                                  .last_seen_ip = "10.9.9.9"};
    assert_int_equal(balai_store_txn_device_upsert(t, &d), 0);

    assert_int_equal(add_device(t, "@e:test", "DEV2", 1, 7), 0);
    return 0;
}

static int check_device(const struct balai_device_rec *d, void *arg)
{
    (void)arg;
    if (strcmp(d->device_id, "DEV") != 0)
        return 0;
    assert_string_equal(d->display_name, "laptop");
    assert_int_equal(d->created_ts, 10);
    assert_int_equal(d->last_seen_ts, 50);
    assert_string_equal(d->last_seen_ip, "10.0.0.1");
    return 0;
}

static int collect_token(const struct balai_token_rec *r, void *arg)
{
    uint8_t(*seen)[32] = arg;
    uint8_t h[32];

    for (int seed = 0; seed < 8; seed++) {
        fill_hash(h, seed);
        if (memcmp(h, r->hash, 32) == 0) {
            assert_int_equal(seen[seed][0], 0);
            seen[seed][0] = 1;
            assert_string_equal(r->user_id, "@e:test");
            assert_int_equal(r->created_ts, 11);
            assert_string_equal(r->device_id, seed == 7 ? "DEV2" : "DEV");
        }
    }
    return 0;
}

static int token_delete_body(struct balai_store_txn *t, const void *ctx)
{
    uint8_t h[32];

    fill_hash(h, *(const int *)ctx);
    return balai_store_txn_token_delete(t, h);
}

static int device_delete_body(struct balai_store_txn *t, const void *ctx)
{
    return balai_store_txn_device_delete(t, "@e:test", ctx);
}

static void test_devices_and_tokens(void **state)
{
    struct fixture *f = *state;
    uint8_t seen[8][32];
    int seed;

    assert_int_equal(run(f->st, devices_tokens_body, NULL), 0);
    assert_int_equal(devices_count(f->st), 2);
    assert_int_equal(balai_store_devices_each(f->st, check_device, NULL), 0);

    memset(seen, 0, sizeof(seen));
    assert_int_equal(balai_store_tokens_each(f->st, collect_token, seen), 0);
    assert_int_equal(seen[1][0], 1);
    assert_int_equal(seen[2][0], 1);
    assert_int_equal(seen[7][0], 1);
    assert_int_equal(tokens_count(f->st), 3);

    seed = 1;
    assert_int_equal(run(f->st, token_delete_body, &seed), 0);
    assert_int_equal(run(f->st, token_delete_body, &seed), BALAI_ENOTFOUND);
    assert_int_equal(tokens_count(f->st), 2);

    /* Deleting a device takes its tokens along. */
    assert_int_equal(run(f->st, device_delete_body, "DEV"), 0);
    assert_int_equal(run(f->st, device_delete_body, "DEV"), BALAI_ENOTFOUND);
    assert_int_equal(devices_count(f->st), 1);
    assert_int_equal(tokens_count(f->st), 1);
}

static int stop_at_second(const struct balai_user_rec *u, void *arg)
{
    (void)u;
    return ++*(int *)arg == 2 ? 7 : 0;
}

static int two_users_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(insert_user_body(t, "@x:test"), 0);
    assert_int_equal(insert_user_body(t, "@y:test"), 0);
    assert_int_equal(insert_user_body(t, "@z:test"), 0);
    return 0;
}

static void test_each_stops_on_nonzero(void **state)
{
    struct fixture *f = *state;
    int n = 0;

    assert_int_equal(run(f->st, two_users_body, NULL), 0);
    assert_int_equal(balai_store_users_each(f->st, stop_at_second, &n), 7);
    assert_int_equal(n, 2);
    /* The statement was reset: a new iteration starts from the top. */
    assert_int_equal(users_count(f->st), 3);
}

static int meta_body(struct balai_store_txn *t, const void *ctx)
{
    const char *const *kv = ctx;

    return balai_store_txn_meta_set(t, kv[0], kv[1]);
}

static void test_meta_get_set(void **state)
{
    struct fixture *f = *state;
    const char *kv1[] = {"server_name", "example.org"};
    const char *kv2[] = {"server_name", "example.com"};
    const char *kv3[] = {"server_name", NULL};
    char *v = NULL;

    assert_int_equal(balai_store_meta_get(f->st, "server_name", &v), BALAI_ENOTFOUND);
    assert_int_equal(run(f->st, meta_body, kv1), 0);
    assert_int_equal(balai_store_meta_get(f->st, "server_name", &v), 0);
    assert_string_equal(v, "example.org");
    free(v);
    assert_int_equal(run(f->st, meta_body, kv2), 0);
    assert_int_equal(balai_store_meta_get(f->st, "server_name", &v), 0);
    assert_string_equal(v, "example.com");
    free(v);
    assert_int_equal(run(f->st, meta_body, kv3), 0);
    assert_int_equal(balai_store_meta_get(f->st, "server_name", &v), BALAI_ENOTFOUND);
    assert_int_equal(run(f->st, meta_body, kv3), 0); /* deleting an absent key is fine */
}

/* --- the writer thread --- */

struct user_op {
    struct balai_store_op op;
    char user_id[48];
    int fail; /* returned by apply after its writes, if non-zero */
    int64_t pos;
};

static int user_op_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct user_op *o = CONTAINER_OF(op, struct user_op, op);
    struct balai_user_rec u = {.user_id = o->user_id, .created_ts = 1};
    int rc;

    o->pos = -1;
    rc = balai_store_txn_user_insert(t, &u);
    if (rc != 0)
        return rc;
    rc = balai_store_txn_next_pos(t, "events", &o->pos);
    if (rc != 0)
        return rc;
    return o->fail;
}

static void user_op_done(struct balai_store_op *op)
{
    struct user_op *o = CONTAINER_OF(op, struct user_op, op);

    assert_true((size_t)fx->completed < fx->cap);
    fx->positions[fx->completed] = op->rc == 0 ? o->pos : -1;
    fx->rcs[fx->completed] = op->rc;
    fx->completed++;
}

static void init_user_op(struct user_op *o, int i)
{
    memset(o, 0, sizeof(*o));
    o->op.apply = user_op_apply;
    o->op.done = user_op_done;
    snprintf(o->user_id, sizeof(o->user_id), "@user%04d:test", i);
}

static void notify_cb(void *arg)
{
    struct fixture *f = arg;

    pthread_mutex_lock(&f->lock);
    f->notified = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Waits for notifications and drains until `n` ops have completed. */
static void wait_completed(struct fixture *f, int n)
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

#define N_THREADS 4
#define N_PER_THREAD 250

struct submitter {
    struct balai_store *st;
    pthread_barrier_t *go;
    struct user_op *ops;
    int first;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;

    pthread_barrier_wait(s->go);
    for (int i = 0; i < N_PER_THREAD; i++) {
        init_user_op(&s->ops[i], s->first + i);
        balai_store_submit(s->st, &s->ops[i].op);
    }
    return NULL;
}

struct watcher {
    struct balai_store *st;
    atomic_int stop;
    int64_t last;
    bool regressed;
};

/* Polls the committed position from another thread: it never goes back. */
static void *watcher_main(void *arg)
{
    struct watcher *w = arg;

    while (!w->stop) {
        int64_t p = balai_store_pos_current(w->st, "events");

        if (p < w->last)
            w->regressed = true;
        w->last = p;
    }
    return NULL;
}

static void test_writer_concurrent_group_commit(void **state)
{
    struct fixture *f = *state;
    const int total = N_THREADS * N_PER_THREAD;
    struct user_op *ops = balai_calloc((size_t)total, sizeof(*ops));
    struct submitter subs[N_THREADS];
    pthread_t threads[N_THREADS], wthread;
    pthread_barrier_t go;
    struct watcher w = {.st = f->st};
    struct balai_store_stats stats;

    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), BALAI_ESTATE);
    pthread_barrier_init(&go, NULL, N_THREADS);
    assert_int_equal(pthread_create(&wthread, NULL, watcher_main, &w), 0);
    for (int i = 0; i < N_THREADS; i++) {
        subs[i] = (struct submitter){f->st, &go, ops + i * N_PER_THREAD, i * N_PER_THREAD};
        assert_int_equal(pthread_create(&threads[i], NULL, submitter_main, &subs[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&go);

    wait_completed(f, total);
    w.stop = 1;
    pthread_join(wthread, NULL);
    assert_false(w.regressed);

    /* Positions follow completion (= commit) order: exactly 1..total. */
    for (int i = 0; i < total; i++) {
        assert_int_equal(f->rcs[i], 0);
        assert_int_equal(f->positions[i], i + 1);
    }
    assert_int_equal(users_count(f->st), total);
    assert_int_equal(balai_store_pos_current(f->st, "events"), total);
    assert_int_equal(balai_store_pos_current(f->st, "receipts"), 0);

    balai_store_stats(f->st, &stats);
    assert_int_equal(stats.ops, (uint64_t)total);
    assert_int_equal(stats.failed_ops, 0);
    assert_true(stats.batches < stats.ops); /* group commit happened */
    {
        uint64_t sum = 0;

        for (int i = 0; i < BALAI_STORE_BATCH_BUCKETS; i++)
            sum += stats.batch_size_buckets[i];
        assert_int_equal(sum, stats.batches);
        assert_true(stats.batch_size_buckets[0] < stats.batches);
    }

    /* exec is refused while the writer runs. */
    {
        struct user_op o;

        init_user_op(&o, 9999);
        assert_int_equal(balai_store_exec(f->st, &o.op), BALAI_ESTATE);
    }
    balai_store_writer_stop(f->st);
    balai_store_writer_stop(f->st); /* idempotent */
    free(ops);
}

static void test_failing_op_in_batch(void **state)
{
    struct fixture *f = *state;
    struct user_op ops[5];
    struct balai_store_stats stats;

    /* Submitted before the writer starts, so they form one batch. */
    for (int i = 0; i < 5; i++)
        init_user_op(&ops[i], i);
    ops[2].fail = BALAI_EINVAL; /* inserts, takes a position, then refuses */
    snprintf(ops[4].user_id, sizeof(ops[4].user_id), "%s", ops[0].user_id); /* EEXIST */
    for (int i = 0; i < 5; i++)
        balai_store_submit(f->st, &ops[i].op);
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    wait_completed(f, 5);
    balai_store_writer_stop(f->st);

    assert_int_equal(f->rcs[0], 0);
    assert_int_equal(f->rcs[1], 0);
    assert_int_equal(f->rcs[2], BALAI_EINVAL);
    assert_int_equal(f->rcs[3], 0);
    assert_int_equal(f->rcs[4], BALAI_EEXIST);
    assert_int_equal(f->positions[0], 1);
    assert_int_equal(f->positions[1], 2);
    assert_int_equal(f->positions[3], 3); /* the refused op consumed no position */
    assert_int_equal(balai_store_pos_current(f->st, "events"), 3);
    assert_int_equal(users_count(f->st), 3);
    {
        struct user_find q;

        assert_false(find_user(f->st, ops[2].user_id, &q));
    }

    balai_store_stats(f->st, &stats);
    assert_int_equal(stats.batches, 1);
    assert_int_equal(stats.ops, 5);
    assert_int_equal(stats.failed_ops, 2);
    for (int i = 0; i < BALAI_STORE_BATCH_BUCKETS; i++)
        assert_int_equal(stats.batch_size_buckets[i], i == 3 ? 1 : 0); /* 5..8 ops */
}

static void test_writer_stop_drains(void **state)
{
    struct fixture *f = *state;
    const int n = 300;
    struct user_op *ops = balai_calloc((size_t)n, sizeof(*ops));

    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    for (int i = 0; i < n; i++) {
        init_user_op(&ops[i], i);
        balai_store_submit(f->st, &ops[i].op);
    }
    balai_store_writer_stop(f->st);
    /* Everything is committed; completions wait for the drain. */
    assert_int_equal(f->completed, 0);
    assert_int_equal(users_count(f->st), n);
    balai_store_drain_completions(f->st);
    assert_int_equal(f->completed, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(f->positions[i], i + 1);

    /* The writer can start again. */
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    init_user_op(&ops[0], n);
    balai_store_submit(f->st, &ops[0].op);
    wait_completed(f, n + 1);
    assert_int_equal(f->positions[n], n + 1);
    free(ops);
}

static void test_close_commits_pending(void **state)
{
    struct fixture *f = *state;
    struct user_op ops[3];

    /* Submitted with no writer running: close commits them and calls done(). */
    for (int i = 0; i < 3; i++) {
        init_user_op(&ops[i], i);
        balai_store_submit(f->st, &ops[i].op);
    }
    reopen(f);
    assert_int_equal(f->completed, 3);
    assert_int_equal(f->positions[2], 3);
    assert_int_equal(users_count(f->st), 3);
    assert_int_equal(balai_store_pos_current(f->st, "events"), 3);
}

/* --- rooms and events (migration 2) --- */

static void sql_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static int insert_room_body(struct balai_store_txn *t, const void *ctx)
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

static void fill_blob(uint8_t *b, size_t len, const char *seed)
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

static void init_event(struct test_event *te, const char *id, const char *room, const char *type,
                       const char *state_key)
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
static int64_t add_message(struct balai_store_txn *t, const char *id, const char *room)
{
    struct test_event te;
    int rc;

    init_event(&te, id, room, "m.room.message", NULL);
    rc = balai_store_txn_event_insert(t, &te.e);
    return rc < 0 ? rc : te.e.pos;
}

/* Event reads are collected into copies for inspection. */
#define MAX_SEEN 64
struct seen_event {
    int64_t pos;
    char event_id[48], room_id[48], type[48];
    char state_key[48], membership[16], aux[16], txn_user[48], key_name[32];
    bool has_state_key, has_membership, has_aux, has_txn_user;
    int redacted;
    int64_t origin_server_ts, depth;
    bool has_blob;
    size_t blob_len;
    uint8_t blob[BLOB_LEN];
};

struct seen {
    int n;
    int stop_after; /* 0 = never */
    struct seen_event ev[MAX_SEEN];
};

static void copy_opt(char *dst, size_t cap, bool *has, const char *v)
{
    *has = v != NULL;
    snprintf(dst, cap, "%s", v ? v : "");
}

static int collect_event(const struct balai_event_rec *e, void *arg)
{
    struct seen *sn = arg;
    struct seen_event *v;

    assert_true(sn->n < MAX_SEEN);
    v = &sn->ev[sn->n++];
    memset(v, 0, sizeof(*v));
    v->pos = e->pos;
    snprintf(v->event_id, sizeof(v->event_id), "%s", e->event_id);
    snprintf(v->room_id, sizeof(v->room_id), "%s", e->room_id);
    snprintf(v->type, sizeof(v->type), "%s", e->type);
    copy_opt(v->state_key, sizeof(v->state_key), &v->has_state_key, e->state_key);
    copy_opt(v->membership, sizeof(v->membership), &v->has_membership, e->membership);
    copy_opt(v->aux, sizeof(v->aux), &v->has_aux, e->aux);
    copy_opt(v->txn_user, sizeof(v->txn_user), &v->has_txn_user, e->txn_user);
    assert_non_null(e->key_name);
    snprintf(v->key_name, sizeof(v->key_name), "%s", e->key_name);
    assert_string_equal(e->sender, "@alice:test");
    v->redacted = e->redacted;
    v->origin_server_ts = e->origin_server_ts;
    v->depth = e->depth;
    v->has_blob = e->blob != NULL;
    v->blob_len = e->blob_len;
    assert_true(e->blob_len <= BLOB_LEN);
    if (e->blob)
        memcpy(v->blob, e->blob, e->blob_len);
    return sn->stop_after && sn->n == sn->stop_after ? 42 : 0;
}

/* The positions seen, as "p1,p2,...", for compact assertions. */
static const char *seen_positions(const struct seen *sn)
{
    static char buf[512];
    size_t len = 0;

    buf[0] = 0;
    for (int i = 0; i < sn->n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? "," : "",
                                (long long)sn->ev[i].pos);
    return buf;
}

/* A schema-1 database, as the code before migration 2 created it, with one
 * user and an "events" counter already at 5. */
static void create_v1_database(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sql_ok(db, "PRAGMA journal_mode = WAL");
    sql_ok(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,"
               " name TEXT NOT NULL, applied_ts INTEGER NOT NULL)");
    assert_int_equal(balai_sqlite_migrations[0].version, 1);
    sql_ok(db, balai_sqlite_migrations[0].sql);
    sql_ok(db, "INSERT INTO schema_migrations VALUES (1, 'v1', 1)");
    sql_ok(db, "INSERT INTO users (user_id, created_ts) VALUES ('@old:test', 1)");
    sql_ok(db, "INSERT INTO stream_positions (stream, pos) VALUES ('events', 5)");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int first_event_body(struct balai_store_txn *t, const void *ctx)
{
    int64_t *pos = (int64_t *)(uintptr_t)ctx;

    assert_int_equal(insert_room_body(t, "!r:test"), 0);
    *pos = add_message(t, "$first", "!r:test");
    return *pos < 0 ? (int)*pos : 0;
}

static void test_migrate_from_v1(void **state)
{
    struct fixture *f = *state;
    struct balai_store_config cfg = {.backend = "sqlite"};
    char *path = balai_asprintf("%s/v1.db", f->dir);
    struct balai_store *st = NULL;
    int64_t pos = 0;
    int v = 0;

    create_v1_database(path);
    cfg.path = path;
    assert_int_equal(balai_store_open(&cfg, &st), 0);
    assert_int_equal(balai_store_schema_version(st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(users_count(st), 1);
    /* Events continue the stream counter of schema 1. */
    assert_int_equal(run(st, first_event_body, (const void *)(uintptr_t)&pos), 0);
    assert_int_equal(pos, 6);
    balai_store_close(st);

    st = NULL;
    assert_int_equal(balai_store_open(&cfg, &st), 0); /* idempotent */
    assert_int_equal(balai_store_schema_version(st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(balai_store_pos_current(st, "events"), 6);
    balai_store_close(st);
    free(path);
}

static int events_basic_body(struct balai_store_txn *t, const void *ctx)
{
    struct test_event te;
    int64_t pos;

    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    assert_int_equal(insert_room_body(t, "!a:test"), BALAI_EEXIST);
    assert_int_equal(add_message(t, "$1", "!a:test"), 1);
    assert_int_equal(add_message(t, "$2", "!a:test"), 2);
    /* Refused calls change nothing, not even the counter. */
    assert_int_equal(add_message(t, "$1", "!a:test"), BALAI_EEXIST);
    assert_int_equal(add_message(t, "$x", "!nowhere:test"), BALAI_ENOTFOUND);
    init_event(&te, "$nokey", "!a:test", "m.room.message", NULL);
    te.e.key_name = NULL;
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), BALAI_EINVAL);
    init_event(&te, "$noblob", "!a:test", "m.room.message", NULL);
    te.e.blob = NULL;
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), BALAI_EINVAL);
    /* The shared counter: next_pos("events") and event_insert interleave. */
    assert_int_equal(balai_store_txn_next_pos(t, "events", &pos), 0);
    assert_int_equal(pos, 3);
    assert_int_equal(add_message(t, "$3", "!a:test"), 4);
    return 0;
}

static int count_room(const struct balai_room_rec *r, void *arg)
{
    assert_string_equal(r->room_id, "!a:test");
    assert_string_equal(r->room_version, "10");
    assert_string_equal(r->creator, "@alice:test");
    assert_int_equal(r->is_direct, 1);
    assert_int_equal(r->created_ts, 77);
    (*(int *)arg)++;
    return 0;
}

static void test_event_insert_positions(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};
    int n = 0;

    assert_int_equal(run(f->st, events_basic_body, NULL), 0);
    assert_int_equal(balai_store_pos_current(f->st, "events"), 4);
    assert_int_equal(balai_store_rooms_each(f->st, count_room, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(balai_store_events_after(f->st, 0, 100, collect_event, &sn), 0);
    assert_string_equal(seen_positions(&sn), "1,2,4");
    assert_string_equal(sn.ev[0].event_id, "$1");
    assert_string_equal(sn.ev[2].event_id, "$3");
}

/* An op inserting one event; `fail` makes apply refuse after a successful
 * insert. */
struct event_op {
    struct balai_store_op op;
    struct test_event te;
    int fail;
};

static int event_op_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct event_op *o = CONTAINER_OF(op, struct event_op, op);
    int rc = balai_store_txn_event_insert(t, &o->te.e);

    if (rc != 0)
        return rc;
    return o->fail;
}

static void event_op_done(struct balai_store_op *op)
{
    struct event_op *o = CONTAINER_OF(op, struct event_op, op);

    assert_true((size_t)fx->completed < fx->cap);
    fx->positions[fx->completed] = op->rc == 0 ? o->te.e.pos : -1;
    fx->rcs[fx->completed] = op->rc;
    fx->completed++;
}

static void test_event_refused_in_batch_takes_no_position(void **state)
{
    struct fixture *f = *state;
    struct event_op ops[5];

    assert_int_equal(run(f->st, insert_room_body, "!a:test"), 0);
    for (int i = 0; i < 5; i++) {
        char id[16];

        memset(&ops[i], 0, sizeof(ops[i]));
        snprintf(id, sizeof(id), "$e%d", i);
        init_event(&ops[i].te, id, "!a:test", "m.room.message", NULL);
        ops[i].op.apply = event_op_apply;
        ops[i].op.done = event_op_done;
    }
    snprintf(ops[1].te.id, sizeof(ops[1].te.id), "$e0"); /* duplicate: EEXIST */
    ops[3].fail = BALAI_EINVAL;                          /* inserted, then refused */
    for (int i = 0; i < 5; i++)
        balai_store_submit(f->st, &ops[i].op);
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    wait_completed(f, 5);
    balai_store_writer_stop(f->st);

    assert_int_equal(f->rcs[0], 0);
    assert_int_equal(f->rcs[1], BALAI_EEXIST);
    assert_int_equal(f->rcs[2], 0);
    assert_int_equal(f->rcs[3], BALAI_EINVAL);
    assert_int_equal(f->rcs[4], 0);
    assert_int_equal(f->positions[0], 1);
    assert_int_equal(f->positions[2], 2);
    assert_int_equal(f->positions[4], 3);
    assert_int_equal(balai_store_pos_current(f->st, "events"), 3);
    {
        struct seen sn = {0};

        assert_int_equal(balai_store_events_after(f->st, 0, 10, collect_event, &sn), 0);
        assert_string_equal(seen_positions(&sn), "1,2,3");
        assert_string_equal(sn.ev[2].event_id, "$e4");
    }
}

static int state_body(struct balai_store_txn *t, const void *ctx)
{
    struct test_event te;

    (void)ctx;
    assert_int_equal(insert_room_body(t, "!b:test"), 0);
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    init_event(&te, "$create-b", "!b:test", "m.room.create", "");
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    assert_int_equal(balai_store_txn_state_set(t, "!b:test", "m.room.create", "", te.e.pos), 0);
    init_event(&te, "$join-a", "!a:test", "m.room.member", "@alice:test");
    te.e.membership = "join";
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    assert_int_equal(
        balai_store_txn_state_set(t, "!a:test", "m.room.member", "@alice:test", te.e.pos), 0);
    init_event(&te, "$leave-a", "!a:test", "m.room.member", "@alice:test");
    te.e.membership = "leave";
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    /* Upsert: the leave replaces the join. */
    assert_int_equal(
        balai_store_txn_state_set(t, "!a:test", "m.room.member", "@alice:test", te.e.pos), 0);
    assert_int_equal(balai_store_txn_state_set(t, "!a:test", "m.room.name", "", 999),
                     BALAI_ENOTFOUND);
    return 0;
}

static void test_state_set_upsert(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};
    uint8_t want[BLOB_LEN];

    assert_int_equal(run(f->st, state_body, NULL), 0);
    assert_int_equal(balai_store_state_each(f->st, collect_event, &sn), 0);
    assert_int_equal(sn.n, 2);
    /* Ordered by room. */
    assert_string_equal(sn.ev[0].event_id, "$leave-a");
    assert_int_equal(sn.ev[0].pos, 3);
    assert_string_equal(sn.ev[0].membership, "leave");
    assert_string_equal(sn.ev[0].state_key, "@alice:test");
    assert_true(sn.ev[0].has_blob);
    fill_blob(want, sizeof(want), "$leave-a");
    assert_int_equal(sn.ev[0].blob_len, BLOB_LEN);
    assert_memory_equal(sn.ev[0].blob, want, BLOB_LEN);
    assert_string_equal(sn.ev[1].event_id, "$create-b");
    assert_true(sn.ev[1].has_state_key);
    assert_string_equal(sn.ev[1].state_key, "");
    assert_false(sn.ev[1].has_membership);

    sn.n = 0;
    sn.stop_after = 1;
    assert_int_equal(balai_store_state_each(f->st, collect_event, &sn), 42);
    assert_int_equal(sn.n, 1);
}

/* Events 1..10: odd positions in !a, even ones in !b. */
static int two_rooms_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    assert_int_equal(insert_room_body(t, "!b:test"), 0);
    for (int i = 1; i <= 10; i++) {
        char id[16];

        snprintf(id, sizeof(id), "$%d", i);
        assert_int_equal(add_message(t, id, i % 2 ? "!a:test" : "!b:test"), i);
    }
    return 0;
}

static const char *room_events(struct balai_store *st, const char *room, int64_t from, int64_t to,
                               char dir, int limit)
{
    static struct seen sn;

    memset(&sn, 0, sizeof(sn));
    assert_int_equal(balai_store_room_events(st, room, from, to, dir, limit, collect_event, &sn),
                     0);
    for (int i = 0; i < sn.n; i++)
        assert_string_equal(sn.ev[i].room_id, room);
    return seen_positions(&sn);
}

static void test_room_events(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};

    assert_int_equal(run(f->st, two_rooms_body, NULL), 0);
    /* Forwards: from < pos <= to. */
    assert_string_equal(room_events(f->st, "!a:test", 0, INT64_MAX, 'f', 100), "1,3,5,7,9");
    assert_string_equal(room_events(f->st, "!a:test", 1, 7, 'f', 100), "3,5,7");
    assert_string_equal(room_events(f->st, "!a:test", 1, 6, 'f', 100), "3,5");
    assert_string_equal(room_events(f->st, "!a:test", 0, INT64_MAX, 'f', 2), "1,3");
    assert_string_equal(room_events(f->st, "!b:test", 2, 10, 'f', 3), "4,6,8");
    assert_string_equal(room_events(f->st, "!b:test", 10, INT64_MAX, 'f', 3), "");
    /* Backwards: to <= pos < from. */
    assert_string_equal(room_events(f->st, "!a:test", INT64_MAX, 0, 'b', 100), "9,7,5,3,1");
    assert_string_equal(room_events(f->st, "!a:test", INT64_MAX, 0, 'b', 2), "9,7");
    assert_string_equal(room_events(f->st, "!a:test", 9, 3, 'b', 100), "7,5,3");
    assert_string_equal(room_events(f->st, "!b:test", 8, 4, 'b', 1), "6");
    assert_string_equal(room_events(f->st, "!b:test", 2, 0, 'b', 10), "");
    assert_string_equal(room_events(f->st, "!nowhere:test", INT64_MAX, 0, 'b', 10), "");
    /* Bad arguments. */
    assert_int_equal(balai_store_room_events(f->st, "!a:test", 0, 9, 'x', 10, collect_event, &sn),
                     BALAI_EINVAL);
    assert_int_equal(balai_store_room_events(f->st, "!a:test", 0, 9, 'f', 0, collect_event, &sn),
                     BALAI_EINVAL);
    assert_int_equal(sn.n, 0);
    /* A callback's non-zero result stops and is returned. */
    sn.stop_after = 2;
    assert_int_equal(
        balai_store_room_events(f->st, "!a:test", 0, INT64_MAX, 'f', 10, collect_event, &sn), 42);
    assert_int_equal(sn.n, 2);
}

static void test_events_after(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};

    assert_int_equal(run(f->st, two_rooms_body, NULL), 0);
    assert_int_equal(balai_store_events_after(f->st, 0, 4, collect_event, &sn), 0);
    assert_string_equal(seen_positions(&sn), "1,2,3,4");
    assert_string_equal(sn.ev[1].room_id, "!b:test");
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(balai_store_events_after(f->st, 7, 100, collect_event, &sn), 0);
    assert_string_equal(seen_positions(&sn), "8,9,10");
    memset(&sn, 0, sizeof(sn));
    assert_int_equal(balai_store_events_after(f->st, 10, 100, collect_event, &sn), 0);
    assert_int_equal(sn.n, 0);
    assert_int_equal(balai_store_events_after(f->st, 0, 0, collect_event, &sn), BALAI_EINVAL);
}

static int policy_body(struct balai_store_txn *t, const void *ctx)
{
    struct test_event te;

    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    assert_int_equal(add_message(t, "$m1", "!a:test"), 1);
    init_event(&te, "$join", "!a:test", "m.room.member", "@alice:test");
    te.e.membership = "join";
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    assert_int_equal(add_message(t, "$m2", "!a:test"), 3);
    init_event(&te, "$hv", "!a:test", "m.room.history_visibility", "");
    te.e.aux = "joined";
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    init_event(&te, "$topic", "!a:test", "m.room.topic", ""); /* state, but no policy value */
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    return 0;
}

static void test_policy_events(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};

    assert_int_equal(run(f->st, policy_body, NULL), 0);
    assert_int_equal(balai_store_policy_events_each(f->st, collect_event, &sn), 0);
    assert_string_equal(seen_positions(&sn), "2,4");
    assert_string_equal(sn.ev[0].event_id, "$join");
    assert_string_equal(sn.ev[0].membership, "join");
    assert_false(sn.ev[0].has_aux);
    assert_string_equal(sn.ev[0].state_key, "@alice:test");
    assert_string_equal(sn.ev[1].type, "m.room.history_visibility");
    assert_string_equal(sn.ev[1].aux, "joined");
    assert_false(sn.ev[1].has_membership);
    for (int i = 0; i < sn.n; i++) {
        assert_false(sn.ev[i].has_blob);
        assert_int_equal(sn.ev[i].blob_len, 0);
        assert_string_equal(sn.ev[i].key_name, "room-key-1");
    }
}

static int get_body(struct balai_store_txn *t, const void *ctx)
{
    struct test_event te;
    static const uint8_t zero = 0;

    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    init_event(&te, "$full", "!a:test", "m.room.message", NULL);
    te.e.txn_user = "@alice:test";
    te.e.origin_server_ts = 1234;
    te.e.depth = 99;
    te.e.redacted = 7; /* stored as 1 */
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    /* An empty sealed blob is a blob, not a missing one. */
    init_event(&te, "$empty", "!a:test", "m.room.message", NULL);
    te.e.blob = &zero;
    te.e.blob_len = 0;
    assert_int_equal(balai_store_txn_event_insert(t, &te.e), 0);
    return 0;
}

static void test_event_get(void **state)
{
    struct fixture *f = *state;
    struct seen sn = {0};
    uint8_t want[BLOB_LEN];

    assert_int_equal(run(f->st, get_body, NULL), 0);
    assert_int_equal(balai_store_event_get(f->st, "$full", collect_event, &sn), 0);
    assert_int_equal(sn.n, 1);
    assert_int_equal(sn.ev[0].pos, 1);
    assert_string_equal(sn.ev[0].room_id, "!a:test");
    assert_string_equal(sn.ev[0].type, "m.room.message");
    assert_false(sn.ev[0].has_state_key);
    assert_false(sn.ev[0].has_membership);
    assert_string_equal(sn.ev[0].txn_user, "@alice:test");
    assert_string_equal(sn.ev[0].key_name, "room-key-1");
    assert_int_equal(sn.ev[0].origin_server_ts, 1234);
    assert_int_equal(sn.ev[0].depth, 99);
    assert_int_equal(sn.ev[0].redacted, 1);
    /* The sealed bytes round-trip exactly (they start with a NUL byte). */
    fill_blob(want, sizeof(want), "$full");
    assert_int_equal(sn.ev[0].blob_len, BLOB_LEN);
    assert_memory_equal(sn.ev[0].blob, want, BLOB_LEN);

    assert_int_equal(balai_store_event_get(f->st, "$empty", collect_event, &sn), 0);
    assert_int_equal(sn.ev[1].blob_len, 0);
    assert_int_equal(balai_store_event_get(f->st, "$nope", collect_event, &sn), BALAI_ENOTFOUND);
    assert_int_equal(sn.n, 2);
    sn.stop_after = 3;
    assert_int_equal(balai_store_event_get(f->st, "$full", collect_event, &sn), 42);
}

static int set_blob_body(struct balai_store_txn *t, const void *ctx)
{
    static const uint8_t redacted_pdu[] = {0xde, 0xad, 0x00, 0xbe, 0xef};

    (void)ctx;
    assert_int_equal(
        balai_store_txn_event_set_blob(t, "$nope", redacted_pdu, sizeof(redacted_pdu), 1),
        BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_event_set_blob(t, "$1", NULL, 0, 1), BALAI_EINVAL);
    return balai_store_txn_event_set_blob(t, "$1", redacted_pdu, sizeof(redacted_pdu), 1);
}

static void test_event_set_blob(void **state)
{
    struct fixture *f = *state;
    static const uint8_t redacted_pdu[] = {0xde, 0xad, 0x00, 0xbe, 0xef};
    struct seen sn = {0};

    assert_int_equal(run(f->st, two_rooms_body, NULL), 0);
    assert_int_equal(run(f->st, set_blob_body, NULL), 0);
    assert_int_equal(balai_store_event_get(f->st, "$1", collect_event, &sn), 0);
    assert_int_equal(sn.ev[0].pos, 1); /* position and metadata unchanged */
    assert_string_equal(sn.ev[0].type, "m.room.message");
    assert_string_equal(sn.ev[0].key_name, "room-key-1");
    assert_int_equal(sn.ev[0].redacted, 1);
    assert_int_equal(sn.ev[0].blob_len, sizeof(redacted_pdu));
    assert_memory_equal(sn.ev[0].blob, redacted_pdu, sizeof(redacted_pdu));
    assert_int_equal(balai_store_event_get(f->st, "$2", collect_event, &sn), 0);
    assert_int_equal(sn.ev[1].redacted, 0);
    assert_int_equal(sn.ev[1].blob_len, BLOB_LEN);
    assert_int_equal(balai_store_pos_current(f->st, "events"), 10);
}

static int txns_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(balai_store_txn_txn_insert(t, "@a:test", "DEV", "t1", "$1", 300), 0);
    assert_int_equal(balai_store_txn_txn_insert(t, "@a:test", "DEV", "t2", "$2", 100), 0);
    assert_int_equal(balai_store_txn_txn_insert(t, "@a:test", "DEV2", "t1", "$3", 200), 0);
    assert_int_equal(balai_store_txn_txn_insert(t, "@b:test", "DEV", "t1", "$4", 400), 0);
    assert_int_equal(balai_store_txn_txn_insert(t, "@a:test", "DEV", "t1", "$5", 500),
                     BALAI_EEXIST);
    assert_int_equal(balai_store_txn_txn_insert(t, "@a:test", "DEV", NULL, "$5", 500),
                     BALAI_EINVAL);
    return 0;
}

static int collect_txn(const char *user_id, const char *device_id, const char *txn_id,
                       const char *event_id, int64_t ts, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);

    snprintf(out + len, 256 - len, "%s%s/%s/%s=%s@%lld", len ? " " : "", user_id, device_id, txn_id,
             event_id, (long long)ts);
    return 0;
}

static void test_txns(void **state)
{
    struct fixture *f = *state;
    char out[256] = "";

    assert_int_equal(run(f->st, txns_body, NULL), 0);
    assert_int_equal(balai_store_txns_each(f->st, 0, collect_txn, out), 0);
    assert_string_equal(out, "@a:test/DEV/t2=$2@100 @a:test/DEV2/t1=$3@200 @a:test/DEV/t1=$1@300"
                             " @b:test/DEV/t1=$4@400");
    out[0] = 0;
    assert_int_equal(balai_store_txns_each(f->st, 300, collect_txn, out), 0);
    assert_string_equal(out, "@a:test/DEV/t1=$1@300 @b:test/DEV/t1=$4@400");
}

static int aliases_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    assert_int_equal(balai_store_txn_alias_insert(t, "#x:test", "!a:test", "@alice:test"), 0);
    assert_int_equal(balai_store_txn_alias_insert(t, "#y:test", "!a:test", "@bob:test"), 0);
    assert_int_equal(balai_store_txn_alias_insert(t, "#x:test", "!a:test", "@bob:test"),
                     BALAI_EEXIST);
    assert_int_equal(balai_store_txn_alias_insert(t, "#z:test", "!nowhere:test", "@bob:test"),
                     BALAI_ENOTFOUND);
    return 0;
}

static int alias_delete_body(struct balai_store_txn *t, const void *ctx)
{
    return balai_store_txn_alias_delete(t, ctx);
}

static int collect_alias(const char *alias, const char *room_id, const char *creator, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);

    snprintf(out + len, 256 - len, "%s%s>%s(%s)", len ? " " : "", alias, room_id, creator);
    return 0;
}

static void test_aliases(void **state)
{
    struct fixture *f = *state;
    char out[256] = "";

    assert_int_equal(run(f->st, aliases_body, NULL), 0);
    assert_int_equal(balai_store_aliases_each(f->st, collect_alias, out), 0);
    assert_string_equal(out, "#x:test>!a:test(@alice:test) #y:test>!a:test(@bob:test)");
    assert_int_equal(run(f->st, alias_delete_body, "#x:test"), 0);
    assert_int_equal(run(f->st, alias_delete_body, "#x:test"), BALAI_ENOTFOUND);
    out[0] = 0;
    assert_int_equal(balai_store_aliases_each(f->st, collect_alias, out), 0);
    assert_string_equal(out, "#y:test>!a:test(@bob:test)");
}

static int forget_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(balai_store_txn_forget(t, "@a:test", "!r1:test"), 0);
    assert_int_equal(balai_store_txn_forget(t, "@a:test", "!r1:test"), 0); /* idempotent */
    assert_int_equal(balai_store_txn_forget(t, "@a:test", "!r2:test"), 0);
    assert_int_equal(balai_store_txn_forget(t, "@b:test", "!r1:test"), 0);
    return 0;
}

static int unforget_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(balai_store_txn_unforget(t, "@a:test", "!r1:test"), 0);
    assert_int_equal(balai_store_txn_unforget(t, "@a:test", "!r1:test"), 0); /* idempotent */
    assert_int_equal(balai_store_txn_unforget(t, "@c:test", "!r9:test"), 0);
    return 0;
}

static int collect_forgotten(const char *user_id, const char *room_id, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);

    snprintf(out + len, 256 - len, "%s%s/%s", len ? " " : "", user_id, room_id);
    return 0;
}

static void test_forget(void **state)
{
    struct fixture *f = *state;
    char out[256] = "";

    assert_int_equal(run(f->st, forget_body, NULL), 0);
    assert_int_equal(balai_store_forgotten_each(f->st, collect_forgotten, out), 0);
    assert_string_equal(out, "@a:test/!r1:test @a:test/!r2:test @b:test/!r1:test");
    assert_int_equal(run(f->st, unforget_body, NULL), 0);
    out[0] = 0;
    assert_int_equal(balai_store_forgotten_each(f->st, collect_forgotten, out), 0);
    assert_string_equal(out, "@a:test/!r2:test @b:test/!r1:test");
}

/* --- micro-benchmark: printed figures, no timing assertion --- */

#define BENCH_THREADS 8
#define BENCH_PER_THREAD 2500

/* Submitters keep at most `window` ops in flight each (0 = no limit); done()
 * runs on the draining thread and frees a slot. */
struct bench {
    struct balai_store *st;
    pthread_barrier_t go;
    pthread_mutex_t lock;
    pthread_cond_t slot;
    int window;
    int inflight[BENCH_THREADS];
};

struct bench_op {
    struct event_op eo;
    struct bench *b;
    int thread;
};

struct bench_submitter {
    struct bench *b;
    struct bench_op *ops;
    int thread;
};

static void bench_op_done(struct balai_store_op *op)
{
    struct bench_op *o = CONTAINER_OF(op, struct bench_op, eo.op);

    assert_int_equal(op->rc, 0);
    fx->completed++;
    pthread_mutex_lock(&o->b->lock);
    o->b->inflight[o->thread]--;
    pthread_cond_broadcast(&o->b->slot);
    pthread_mutex_unlock(&o->b->lock);
}

static void *bench_submitter_main(void *arg)
{
    struct bench_submitter *s = arg;
    struct bench *b = s->b;

    pthread_barrier_wait(&b->go);
    for (int i = 0; i < BENCH_PER_THREAD; i++) {
        pthread_mutex_lock(&b->lock);
        while (b->window && b->inflight[s->thread] >= b->window)
            pthread_cond_wait(&b->slot, &b->lock);
        b->inflight[s->thread]++;
        pthread_mutex_unlock(&b->lock);
        balai_store_submit(b->st, &s->ops[i].eo.op);
    }
    return NULL;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Inserts BENCH_THREADS * BENCH_PER_THREAD events into a new room through
 * the writer and prints the rate and the number of batches. */
static void bench_run(struct fixture *f, const char *room, int window)
{
    const int total = BENCH_THREADS * BENCH_PER_THREAD;
    struct bench_op *ops = balai_calloc((size_t)total, sizeof(*ops));
    struct bench b = {.st = f->st, .window = window};
    struct bench_submitter subs[BENCH_THREADS];
    pthread_t threads[BENCH_THREADS];
    struct balai_store_stats before, after;
    int64_t pos0 = balai_store_pos_current(f->st, "events");
    uint64_t batches;
    double t0, dt;

    assert_int_equal(run(f->st, insert_room_body, room), 0);
    for (int i = 0; i < total; i++) {
        char id[48];

        snprintf(id, sizeof(id), "$bench-%s-%06d", room, i);
        init_event(&ops[i].eo.te, id, room, "m.room.message", NULL);
        ops[i].eo.op.apply = event_op_apply;
        ops[i].eo.op.done = bench_op_done;
        ops[i].b = &b;
        ops[i].thread = i / BENCH_PER_THREAD;
    }
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.slot, NULL);
    pthread_barrier_init(&b.go, NULL, BENCH_THREADS + 1);
    f->completed = 0;
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    for (int i = 0; i < BENCH_THREADS; i++) {
        subs[i] = (struct bench_submitter){&b, ops + i * BENCH_PER_THREAD, i};
        assert_int_equal(pthread_create(&threads[i], NULL, bench_submitter_main, &subs[i]), 0);
    }
    balai_store_stats(f->st, &before);
    pthread_barrier_wait(&b.go);
    t0 = mono_s();
    wait_completed(f, total);
    dt = mono_s() - t0;
    for (int i = 0; i < BENCH_THREADS; i++)
        pthread_join(threads[i], NULL);
    balai_store_writer_stop(f->st);
    balai_store_stats(f->st, &after);
    batches = after.batches - before.batches;

    printf("[ BENCH    ] event_insert, %d threads, %s: %d events of %d bytes in %.3f s:"
           " %.0f events/s, %llu batches (%.1f events/batch)\n",
           BENCH_THREADS, window ? "32 in flight each" : "all at once", total, BLOB_LEN, dt,
           total / dt, (unsigned long long)batches, (double)total / (double)batches);
    assert_int_equal(balai_store_pos_current(f->st, "events"), pos0 + total);
    pthread_barrier_destroy(&b.go);
    pthread_cond_destroy(&b.slot);
    pthread_mutex_destroy(&b.lock);
    free(ops);
}

static void test_bench_event_insert(void **state)
{
    struct fixture *f = *state;

    bench_run(f, "!burst:test", 0);
    bench_run(f, "!paced:test", 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_in_effect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_insert_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failed_apply_records_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deactivate_removes_devices_and_tokens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_devices_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_stops_on_nonzero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_concurrent_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_op_in_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_commits_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_insert_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_refused_in_batch_takes_no_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_state_set_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_set_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_event_insert, setup, teardown),
    };

    balai_log_set_level(BALAI_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
