/* test_store.c: unit tests for src/store/ (the store interface, the writer
 * thread with group commit, and the SQLite backend): open, settings, schema
 * migrations, the account tables and the writer, each on a fresh database in
 * a temporary directory. The rooms and events API: test_store_rooms.c. */
#include "balai.h"

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
#include "store_helpers.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

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
    assert_int_equal(v, 15);
    assert_int_equal(users_count(f->st), 0);
    assert_int_equal(run(f->st, insert_user_body, "@alice:test"), 0);

    /* Reopening must not re-apply migrations (CREATE TABLE would fail). */
    reopen(f);
    reopen(f);
    assert_int_equal(balai_store_schema_version(f->st, &v), 0);
    assert_int_equal(v, 15);
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
    assert_int_equal(balai_store_debug_setting(f->st, "secure_delete", &v), 0);
    assert_string_equal(v, "1");
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

/* --- migration 1 to 2 (rooms and events) --- */

static void sql_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
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
    assert_int_equal(v, 15);
    assert_int_equal(users_count(st), 1);
    /* Events continue the stream counter of schema 1. */
    assert_int_equal(run(st, first_event_body, (const void *)(uintptr_t)&pos), 0);
    assert_int_equal(pos, 6);
    balai_store_close(st);

    st = NULL;
    assert_int_equal(balai_store_open(&cfg, &st), 0); /* idempotent */
    assert_int_equal(balai_store_schema_version(st, &v), 0);
    assert_int_equal(v, 15);
    assert_int_equal(balai_store_pos_current(st, "events"), 6);
    balai_store_close(st);
    free(path);
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

/* --- account data --- */

static int account_data_body(struct balai_store_txn *t, const void *ctx)
{
    const char *const *a = ctx; /* user, room, type, content */
    int64_t pos = 0;
    int rc = balai_store_txn_account_data_set(t, a[0], a[1], a[2], (const uint8_t *)a[3],
                                              strlen(a[3]), "user:x:0", &pos);

    return rc == 0 ? (int)pos : rc;
}

static int collect_account_data(const struct balai_account_data_rec *r, void *arg)
{
    struct balai_buf *b = arg;

    balai_buf_printf(b, "%s|%s|%s|%lld|%.*s|%s;", r->user_id, r->room_id, r->type,
                     (long long)r->pos, (int)r->blob_len, (const char *)r->blob, r->key_name);
    return 0;
}

static void test_account_data(void **state)
{
    struct fixture *f = *state;
    const char *g1[] = {"@a:test", "", "m.direct", "one"};
    const char *r1[] = {"@a:test", "!r:test", "m.tag", "two"};
    const char *g2[] = {"@a:test", "", "m.direct", "three"};
    const char *bad[] = {"@a:test", NULL, "m.direct", "x"};
    struct balai_buf b;

    assert_int_equal(run(f->st, account_data_body, g1), 1);
    assert_int_equal(run(f->st, account_data_body, r1), 2);
    assert_int_equal(run(f->st, account_data_body, g2), 3); /* replaces */
    assert_int_equal(run(f->st, account_data_body, bad), BALAI_EINVAL);
    assert_int_equal(balai_store_pos_current(f->st, "account_data"), 3);
    reopen(f);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_store_account_data_each(f->st, collect_account_data, &b), 0);
    assert_string_equal(b.data, "@a:test||m.direct|3|three|user:x:0;"
                                "@a:test|!r:test|m.tag|2|two|user:x:0;");
    balai_buf_release(&b);
}

/* --- receipts --- */

static int receipt_body(struct balai_store_txn *t, const void *ctx)
{
    const char *const *a = ctx; /* room, user, type, thread, event */
    int64_t pos = 0;
    int rc = balai_store_txn_receipt_set(t, a[0], a[1], a[2], a[3], a[4], 1234, &pos);

    return rc == 0 ? (int)pos : rc;
}

static int collect_receipt(const struct balai_receipt_rec *r, void *arg)
{
    struct balai_buf *b = arg;

    balai_buf_printf(b, "%s|%s|%s|%s|%s|%lld|%lld;", r->room_id, r->user_id, r->type, r->thread_id,
                     r->event_id, (long long)r->ts, (long long)r->pos);
    return 0;
}

static void test_receipts(void **state)
{
    struct fixture *f = *state;
    const char *a1[] = {"!r:test", "@a:test", "m.read", "", "$1"};
    const char *a2[] = {"!r:test", "@a:test", "m.read", "main", "$2"};
    const char *a3[] = {"!r:test", "@a:test", "m.read", "", "$3"};
    const char *p1[] = {"!r:test", "@a:test", "m.read.private", "", "$4"};
    const char *bad[] = {"!r:test", "@a:test", "m.read", NULL, "$5"};
    struct balai_buf b;

    assert_int_equal(run(f->st, receipt_body, a1), 1);
    assert_int_equal(run(f->st, receipt_body, a2), 2);
    assert_int_equal(run(f->st, receipt_body, a3), 3); /* replaces */
    assert_int_equal(run(f->st, receipt_body, p1), 4);
    assert_int_equal(run(f->st, receipt_body, bad), BALAI_EINVAL);
    assert_int_equal(balai_store_pos_current(f->st, "receipts"), 4);
    reopen(f);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_store_receipts_each(f->st, collect_receipt, &b), 0);
    assert_string_equal(b.data, "!r:test|@a:test|m.read||$3|1234|3;"
                                "!r:test|@a:test|m.read|main|$2|1234|2;"
                                "!r:test|@a:test|m.read.private||$4|1234|4;");
    balai_buf_release(&b);
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

static void test_group_commits_or_fails_whole(void **state)
{
    struct fixture *f = *state;
    struct user_op ops[5];

    for (int i = 0; i < 5; i++)
        init_user_op(&ops[i], i);
    /* a group of three whose last op refuses: none of the three is kept */
    struct balai_store_group *bad = balai_store_group_new();
    ops[2].fail = BALAI_EINVAL;
    for (int i = 0; i < 3; i++)
        balai_store_group_add(bad, &ops[i].op);
    /* a good group of two, submitted after it in the same batch */
    struct balai_store_group *good = balai_store_group_new();
    for (int i = 3; i < 5; i++)
        balai_store_group_add(good, &ops[i].op);
    balai_store_submit_group(f->st, bad);
    balai_store_submit_group(f->st, good);
    assert_int_equal(balai_store_writer_start(f->st, notify_cb, f), 0);
    wait_completed(f, 5);
    balai_store_writer_stop(f->st);

    for (int i = 0; i < 3; i++)
        assert_int_equal(f->rcs[i], BALAI_EINVAL); /* every op hears the group's result */
    assert_int_equal(f->rcs[3], 0);
    assert_int_equal(f->rcs[4], 0);
    assert_int_equal(users_count(f->st), 2);
    {
        struct user_find q;
        assert_false(find_user(f->st, ops[0].user_id, &q));
        assert_true(find_user(f->st, ops[3].user_id, &q));
        user_find_release(&q);
    }
    /* the refused group's positions vanished with it */
    assert_int_equal(f->positions[3], 1);
    assert_int_equal(f->positions[4], 2);
    /* an empty group completes and writes nothing */
    balai_store_submit_group(f->st, balai_store_group_new());
    balai_store_drain_completions(f->st);
    reopen(f);
    assert_int_equal(users_count(f->st), 2);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commits_or_fails_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_in_effect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_insert_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failed_apply_records_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deactivate_removes_devices_and_tokens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_devices_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_stops_on_nonzero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_concurrent_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_op_in_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_commits_pending, setup, teardown),
    };

    balai_log_set_level(BALAI_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
