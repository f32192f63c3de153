/* test_store_pg.c: the PostgreSQL backend (store/postgres/) through store.h:
 * migrations, transaction control (a refused statement leaves the batch's
 * transaction usable, a refused op rolls back alone), the error mapping
 * (unique violation -> BALAI_EEXIST, missing referenced row ->
 * BALAI_ENOTFOUND), stream positions (gap-free, allocated in the committing
 * transaction), the writer thread's group commit and the read pool.
 *
 * Needs BALAI_TEST_PG (a libpq URL of a cluster where it may create
 * databases; scripts/run-tests starts one): every test skips without it.
 * Each test runs in a fresh database, dropped afterwards. */
#include "balai.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/store.h"
#include "util/alloc.h"

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

struct fixture {
    char *admin_url; /* the "postgres" database of the cluster */
    char *url;       /* this test's database */
    char dbname[64];
    struct balai_store *st;
};

/* `url` with its database name replaced by `db` (caller frees). */
static char *url_for(const char *url, const char *db)
{
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    size_t slash = base;

    while (slash > 0 && url[slash - 1] != '/')
        slash--;
    return balai_asprintf("%.*s%s%s", (int)slash, url, db, q ? q : "");
}

static void quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

static void admin_sql(const char *admin_url, const char *sql)
{
    PGconn *c = PQconnectdb(admin_url);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeReceiver(c, quiet, NULL);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static int setup(void **state)
{
    const char *base = getenv("BALAI_TEST_PG");
    struct fixture *f;
    struct balai_store_config cfg = {.backend = "postgres"};
    static int seq;
    char *sql;

    if (!base || !base[0]) {
        *state = NULL;
        return 0;
    }
    f = balai_calloc(1, sizeof(*f));
    f->admin_url = url_for(base, "postgres");
    snprintf(f->dbname, sizeof(f->dbname), "balai_unit_%d_%d", (int)getpid(), ++seq);
    sql = balai_asprintf("DROP DATABASE IF EXISTS %s; ", f->dbname);
    admin_sql(f->admin_url, sql);
    free(sql);
    sql = balai_asprintf("CREATE DATABASE %s", f->dbname);
    admin_sql(f->admin_url, sql);
    free(sql);
    f->url = url_for(base, f->dbname);
    cfg.path = f->url;
    if (balai_store_open(&cfg, &f->st) != BALAI_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *sql;

    if (!f)
        return 0;
    balai_store_close(f->st);
    sql = balai_asprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
    admin_sql(f->admin_url, sql);
    free(sql);
    free(f->url);
    free(f->admin_url);
    free(f);
    return 0;
}

#define NEED_PG(state)                                                                             \
    do {                                                                                           \
        if (!*(state))                                                                             \
            skip();                                                                                \
    } while (0)

/* ---- ops ---- */

static int64_t now_ms(void)
{
    return 1700000000000LL;
}

static struct balai_user_rec user(const char *id)
{
    struct balai_user_rec u = {.user_id = id, .password_hash = "h", .created_ts = now_ms()};
    return u;
}

struct fn_op {
    struct balai_store_op op;
    int (*fn)(struct balai_store_txn *, struct fn_op *);
    int step;   /* how far fn got */
    int rcs[8]; /* results of its calls */
    int64_t pos[4];
};

static int fn_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct fn_op *o = CONTAINER_OF(op, struct fn_op, op);
    return o->fn(t, o);
}

static int run(struct fixture *f, int (*fn)(struct balai_store_txn *, struct fn_op *),
               struct fn_op *o)
{
    memset(o, 0, sizeof(*o));
    o->fn = fn;
    o->op.apply = fn_apply;
    return balai_store_exec(f->st, &o->op);
}

struct count_ctx {
    int n;
    const char *want;
    bool found;
};

static int count_user(const struct balai_user_rec *u, void *arg)
{
    struct count_ctx *c = arg;

    c->n++;
    if (c->want && strcmp(u->user_id, c->want) == 0)
        c->found = true;
    return 0;
}

static bool user_exists(struct fixture *f, const char *id)
{
    struct count_ctx c = {.want = id};

    assert_int_equal(balai_store_users_each(f->st, count_user, &c), 0);
    return c.found;
}

/* ---- tests ---- */

static void test_open_and_reopen(void **state)
{
    struct fixture *f = *state;
    struct balai_store_config cfg = {.backend = "postgres"};
    int v1 = 0, v2 = 0;
    char *ssl = NULL;

    NEED_PG(state);
    assert_int_equal(balai_store_schema_version(f->st, &v1), 0);
    assert_true(v1 >= 15);
    balai_store_close(f->st);
    cfg.path = f->url;
    assert_int_equal(balai_store_open(&cfg, &f->st), 0);
    assert_int_equal(balai_store_schema_version(f->st, &v2), 0);
    assert_int_equal(v1, v2);
    assert_int_equal(balai_store_debug_setting(f->st, "ssl_in_use", &ssl), 0);
    assert_string_equal(ssl, "0"); /* a unix socket */
    free(ssl);
    assert_int_equal(balai_store_debug_setting(f->st, "journal_mode", &ssl), BALAI_EINVAL);
}

static void test_open_errors(void **state)
{
    struct balai_store_config cfg = {.backend = "postgres",
                                     .path = "postgresql:///no_such_db?host=/nonexistent"};
    struct balai_store *st = NULL;

    NEED_PG(state);
    assert_int_equal(balai_store_open(&cfg, &st), BALAI_ESTORE);
    assert_null(st);
}

/* A refused statement leaves the transaction usable (as with SQLite). */
static int dup_then_go_on(struct balai_store_txn *t, struct fn_op *o)
{
    struct balai_user_rec a = user("@a:x"), b = user("@b:x");

    o->rcs[0] = balai_store_txn_user_insert(t, &a);
    o->rcs[1] = balai_store_txn_user_insert(t, &a);
    o->rcs[2] = balai_store_txn_user_insert(t, &b);
    return 0;
}

/* The same when the refused statement is the op's first. */
static int first_refused(struct balai_store_txn *t, struct fn_op *o)
{
    struct balai_user_rec a = user("@a:x"), d = user("@d:x");

    o->rcs[0] = balai_store_txn_user_insert(t, &a);
    o->rcs[1] = balai_store_txn_user_insert(t, &d);
    o->rcs[2] = balai_store_txn_user_insert(t, &d);
    return 0;
}

static void test_refused_statement_keeps_txn(void **state)
{
    struct fixture *f = *state;
    struct fn_op o;

    NEED_PG(state);
    assert_int_equal(run(f, dup_then_go_on, &o), 0);
    assert_int_equal(o.rcs[0], 0);
    assert_int_equal(o.rcs[1], BALAI_EEXIST);
    assert_int_equal(o.rcs[2], 0);
    assert_true(user_exists(f, "@a:x"));
    assert_true(user_exists(f, "@b:x"));
    assert_int_equal(run(f, first_refused, &o), 0);
    assert_int_equal(o.rcs[0], BALAI_EEXIST);
    assert_int_equal(o.rcs[1], 0);
    assert_int_equal(o.rcs[2], BALAI_EEXIST);
    assert_true(user_exists(f, "@d:x"));
}

/* A failing apply rolls its savepoint back: nothing recorded, no position. */
static int insert_then_fail(struct balai_store_txn *t, struct fn_op *o)
{
    struct balai_user_rec c = user("@c:x");

    o->rcs[0] = balai_store_txn_user_insert(t, &c);
    o->rcs[1] = balai_store_txn_next_pos(t, "test", &o->pos[0]);
    return BALAI_EFORBIDDEN;
}

static int take_pos(struct balai_store_txn *t, struct fn_op *o)
{
    return balai_store_txn_next_pos(t, "test", &o->pos[0]);
}

static void test_failed_apply_records_nothing(void **state)
{
    struct fixture *f = *state;
    struct fn_op o;

    NEED_PG(state);
    assert_int_equal(run(f, take_pos, &o), 0);
    assert_int_equal(o.pos[0], 1);
    assert_int_equal(run(f, insert_then_fail, &o), BALAI_EFORBIDDEN);
    assert_int_equal(o.rcs[0], 0);
    assert_int_equal(o.pos[0], 2);
    assert_false(user_exists(f, "@c:x"));
    assert_int_equal(balai_store_pos_current(f->st, "test"), 1);
    assert_int_equal(run(f, take_pos, &o), 0);
    assert_int_equal(o.pos[0], 2); /* the refused op consumed none */
}

/* The error mapping of store.h. */
static int errors(struct balai_store_txn *t, struct fn_op *o)
{
    struct balai_room_rec r = {"!r:x", "10", "@a:x", 0, now_ms()};
    struct balai_token_rec tok = {.user_id = "@a:x", .device_id = "NODEV"};
    struct balai_user_rec a = user("@a:x");
    static const uint8_t blob[] = {1, 2, 3};
    struct balai_event_rec e = {.event_id = "$e1",
                                .room_id = "!r:x",
                                .type = "m.room.message",
                                .sender = "@a:x",
                                .blob = blob,
                                .blob_len = sizeof(blob),
                                .key_name = "k"};
    struct balai_event_rec lost = e;

    lost.event_id = "$e2";
    lost.room_id = "!nope:x";
    o->rcs[0] = balai_store_txn_user_insert(t, &a) | balai_store_txn_room_insert(t, &r);
    o->rcs[1] = balai_store_txn_room_insert(t, &r);
    o->rcs[2] = balai_store_txn_token_insert(t, &tok);
    o->rcs[3] = balai_store_txn_alias_delete(t, "#nope:x");
    o->rcs[4] = balai_store_txn_event_insert(t, &e);
    o->pos[0] = e.pos;
    o->rcs[5] = balai_store_txn_event_insert(t, &e);
    o->rcs[6] = balai_store_txn_event_insert(t, &lost);
    e.event_id = "$e3";
    o->rcs[7] = balai_store_txn_event_insert(t, &e);
    o->pos[1] = e.pos;
    return 0;
}

static void test_error_mapping_and_positions(void **state)
{
    struct fixture *f = *state;
    struct fn_op o;

    NEED_PG(state);
    assert_int_equal(run(f, errors, &o), 0);
    assert_int_equal(o.rcs[0], 0);
    assert_int_equal(o.rcs[1], BALAI_EEXIST);
    assert_int_equal(o.rcs[2], BALAI_ENOTFOUND);
    assert_int_equal(o.rcs[3], BALAI_ENOTFOUND);
    assert_int_equal(o.rcs[4], 0);
    assert_int_equal(o.rcs[5], BALAI_EEXIST);
    assert_int_equal(o.rcs[6], BALAI_ENOTFOUND);
    assert_int_equal(o.rcs[7], 0);
    assert_int_equal(o.pos[0], 1);
    assert_int_equal(o.pos[1], 2); /* refused inserts consumed no position */
    assert_int_equal(balai_store_pos_current(f->st, "events"), 2);
}

/* ---- the writer thread: a refused op in a batch rolls back alone ---- */

struct batch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static struct batch *the_batch;

static void notify(void *arg)
{
    struct batch *b = arg;

    pthread_mutex_lock(&b->lock);
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void op_done(struct balai_store_op *op)
{
    (void)op;
    the_batch->done++;
}

static int batch_op(struct balai_store_txn *t, struct fn_op *o)
{
    int rc = balai_store_txn_next_pos(t, "batch", &o->pos[0]);

    if (rc == BALAI_OK && o->step == 1)
        return BALAI_EINVAL; /* this op is refused */
    return rc;
}

static void test_writer_batch(void **state)
{
    struct fixture *f = *state;
    struct batch b = {.done = 0};
    struct fn_op ops[16];

    NEED_PG(state);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    the_batch = &b;
    assert_int_equal(balai_store_writer_start(f->st, notify, &b), 0);
    for (int i = 0; i < 16; i++) {
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].fn = batch_op;
        ops[i].step = i % 3 == 1; /* every third op refused */
        ops[i].op.apply = fn_apply;
        ops[i].op.done = op_done;
        balai_store_submit(f->st, &ops[i].op);
    }
    while (b.done < 16) {
        pthread_mutex_lock(&b.lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b.cond, &b.lock, &ts);
        pthread_mutex_unlock(&b.lock);
        balai_store_drain_completions(f->st);
    }
    balai_store_writer_stop(f->st);
    int64_t want = 1;
    for (int i = 0; i < 16; i++) {
        if (i % 3 == 1) {
            assert_int_equal(ops[i].op.rc, BALAI_EINVAL);
            continue;
        }
        assert_int_equal(ops[i].op.rc, 0);
        assert_int_equal(ops[i].pos[0], want); /* in submit order, no gaps */
        want++;
    }
    assert_int_equal(balai_store_pos_current(f->st, "batch"), want - 1);
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.cond);
}

/* ---- the read pool ---- */

struct reader {
    struct fixture *f;
    int rounds;
    int errors;
};

static int nested_read(const struct balai_user_rec *u, void *arg)
{
    struct reader *r = arg;
    char *v = NULL;

    (void)u;
    /* A callback may read again: the connection is back in the pool. */
    if (balai_store_meta_get(r->f->st, "k", &v) != BALAI_OK)
        r->errors++;
    free(v);
    return 0;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;

    for (int i = 0; i < r->rounds; i++) {
        if (balai_store_users_each(r->f->st, nested_read, r) != 0)
            r->errors++;
    }
    return NULL;
}

static int meta_and_users(struct balai_store_txn *t, struct fn_op *o)
{
    struct balai_user_rec a = user("@r1:x"), b = user("@r2:x");

    (void)o;
    return balai_store_txn_meta_set(t, "k", "v") | balai_store_txn_user_insert(t, &a) |
           balai_store_txn_user_insert(t, &b);
}

static void test_read_pool(void **state)
{
    struct fixture *f = *state;
    struct reader r[8];
    pthread_t th[8];
    struct fn_op o;

    NEED_PG(state);
    assert_int_equal(run(f, meta_and_users, &o), 0);
    for (int i = 0; i < 8; i++) {
        r[i] = (struct reader){f, 20, 0};
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_statement_keeps_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_apply_records_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping_and_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_pool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
