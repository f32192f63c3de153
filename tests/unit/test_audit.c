/* test_audit.c: the audit trail's hash chain (gov/audit.h): a valid chain
 * verifies; an edited field, a removed, reordered or swapped entry, a cut
 * tail, a missing or forged head are each detected with the right seq and
 * reason. Then the store (append, tail, filtered reads, the append-only
 * triggers) and the verifier over a real database and head file
 * (api/audit.h), tampered with through SQL as an attacker would. */
#include "balai.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "api/audit.h"
#include "crypto/crypto.h"
#include "gov/audit.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"

#define N 8

static struct balai_audit_key key;
static uint8_t sign_pk[32], sign_sk[64];

/* A chain of n entries: strings live in static storage per index. */
struct chain {
    struct balai_audit_entry e[N];
    char actor[N][32], action[N][32], target[N][32], detail[N][64];
};

static void build(struct chain *c, int n)
{
    uint8_t prev[32] = {0};

    memset(c, 0, sizeof(*c));
    for (int i = 0; i < n; i++) {
        struct balai_audit_entry *e = &c->e[i];
        snprintf(c->actor[i], sizeof(c->actor[i]), "@user%d:t.test", i % 3);
        snprintf(c->action[i], sizeof(c->action[i]), i % 2 ? "user.login" : "admin.user.create");
        snprintf(c->target[i], sizeof(c->target[i]), "@target%d:t.test", i);
        snprintf(c->detail[i], sizeof(c->detail[i]), "{\"address\":\"10.0.0.%d\",\"n\":%d}", i, i);
        e->seq = i + 1;
        e->ts = 1700000000000 + i;
        e->actor = c->actor[i];
        e->action = c->action[i];
        e->target = i == 2 ? NULL : c->target[i];
        e->detail = c->detail[i];
        memcpy(e->prev, prev, 32);
        assert_int_equal(balai_audit_entry_seal(&key, e), BALAI_OK);
        memcpy(prev, e->mac, 32);
    }
}

static struct balai_audit_head head_of(const struct balai_audit_entry *e)
{
    struct balai_audit_head h = {.seq = e->seq, .ts = 1800000000000};
    memcpy(h.mac, e->mac, 32);
    return h;
}

/* Verifies the entries at the given indexes (-1 ends the list). */
static int run(const struct chain *c, const int *order, const struct balai_audit_head *h,
               enum balai_audit_head_state hs, struct balai_audit_verify *v)
{
    balai_audit_verify_init(v, &key, h, hs);
    for (int i = 0; order[i] >= 0; i++)
        balai_audit_verify_entry(v, &c->e[order[i]]);
    return balai_audit_verify_end(v);
}

static const int all[] = {0, 1, 2, 3, 4, 5, 6, 7, -1};

static void test_valid_chain(void **state)
{
    struct chain c;
    struct balai_audit_verify v;
    (void)state;

    build(&c, N);
    struct balai_audit_head h = head_of(&c.e[N - 1]);
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_OK);
    assert_true(v.ok);
    assert_int_equal(v.entries, N);
    assert_int_equal(v.last_seq, N);
    /* entries newer than the head are fine (not yet covered) */
    h = head_of(&c.e[4]);
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_OK);
    /* an empty trail needs no head */
    static const int none[] = {-1};
    assert_int_equal(run(&c, none, NULL, BALAI_AUDIT_HEAD_MISSING, &v), BALAI_OK);
}

static void test_edited_field(void **state)
{
    struct chain c;
    struct balai_audit_verify v;
    (void)state;

    build(&c, N);
    struct balai_audit_head h = head_of(&c.e[N - 1]);
    c.e[3].actor = "@eve:t.test";
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 4);
    assert_non_null(strstr(v.reason, "altered"));

    build(&c, N);
    c.e[5].ts++;
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 6);

    build(&c, N);
    c.e[2].target = "@someone:t.test"; /* NULL -> a value */
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 3);

    build(&c, N);
    c.e[1].detail = "{\"address\":\"10.0.0.9\",\"n\":1}";
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 2);

    /* the same detail, not in canonical form: malformed, not silently equal */
    build(&c, N);
    c.e[1].detail = "{ \"n\":1, \"address\":\"10.0.0.1\"}";
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 2);
    assert_non_null(strstr(v.reason, "malformed"));

    /* the MAC recomputed with another key (the attacker's) */
    build(&c, N);
    struct balai_audit_key other = key;
    other.key[0] ^= 1;
    c.e[6].action = "user.logout";
    assert_int_equal(balai_audit_entry_seal(&other, &c.e[6]), BALAI_OK);
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 7);
}

static void test_removed_entry(void **state)
{
    struct chain c;
    struct balai_audit_verify v;
    static const int gap[] = {0, 1, 2, 4, 5, 6, 7, -1};
    static const int gap2[] = {0, 1, 4, 5, 6, 7, -1};
    static const int first[] = {1, 2, 3, 4, 5, 6, 7, -1};
    (void)state;

    build(&c, N);
    struct balai_audit_head h = head_of(&c.e[N - 1]);
    assert_int_equal(run(&c, gap, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 4);
    assert_non_null(strstr(v.reason, "missing"));
    assert_int_equal(v.entries, N - 1);
    assert_int_equal(run(&c, gap2, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 3);
    assert_non_null(strstr(v.reason, "entries 3 to 4"));
    assert_int_equal(run(&c, first, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 1);

    /* removed and the rest renumbered to close the gap: entry 4 fails */
    build(&c, N);
    for (int i = 3; i < N - 1; i++)
        c.e[i] = c.e[i + 1];
    for (int i = 3; i < N - 1; i++)
        c.e[i].seq = i + 1;
    static const int seven[] = {0, 1, 2, 3, 4, 5, 6, -1};
    assert_int_equal(run(&c, seven, NULL, BALAI_AUDIT_HEAD_MISSING, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 4);
}

static void test_reordered(void **state)
{
    struct chain c;
    struct balai_audit_verify v;
    static const int swapped[] = {0, 1, 3, 2, 4, 5, 6, 7, -1};
    (void)state;

    build(&c, N);
    struct balai_audit_head h = head_of(&c.e[N - 1]);
    /* delivered out of order */
    assert_int_equal(run(&c, swapped, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 3);
    /* two rows' contents swapped, seq numbers kept in place */
    struct balai_audit_entry t = c.e[2];
    c.e[2] = c.e[3];
    c.e[3] = t;
    c.e[2].seq = 3;
    c.e[3].seq = 4;
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 3);
    assert_non_null(strstr(v.reason, "altered"));
    /* swapped together with their prev links and MACs intact: the links break */
    build(&c, N);
    t = c.e[2];
    c.e[2] = c.e[3];
    c.e[3] = t;
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 3);
}

static void test_cut_tail(void **state)
{
    struct chain c;
    struct balai_audit_verify v;
    static const int cut[] = {0, 1, 2, 3, 4, -1};
    (void)state;

    build(&c, N);
    struct balai_audit_head h = head_of(&c.e[6]);
    assert_int_equal(run(&c, cut, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 6);
    assert_non_null(strstr(v.reason, "removed from the end"));
    /* without the chain head a cut tail cannot be ruled out */
    assert_int_equal(run(&c, cut, NULL, BALAI_AUDIT_HEAD_MISSING, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 0);
    assert_non_null(strstr(v.reason, "missing"));
    assert_int_equal(run(&c, cut, NULL, BALAI_AUDIT_HEAD_INVALID, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 0);
    /* a head whose MAC is not the entry's */
    h = head_of(&c.e[3]);
    h.mac[0] ^= 1;
    assert_int_equal(run(&c, all, &h, BALAI_AUDIT_HEAD_OK, &v), BALAI_ECRYPTO);
    assert_int_equal(v.bad_seq, 4);
    assert_non_null(strstr(v.reason, "signed chain head"));
}

static void test_bytes_and_head_format(void **state)
{
    struct chain c;
    struct balai_buf b;
    struct balai_audit_head h, back;
    (void)state;

    build(&c, 2);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_audit_entry_bytes(&c.e[1], &b), BALAI_OK);
    assert_non_null(strstr(b.data, "balai-audit-v1\n{\"action\":\"user.login\",\"actor\":"));
    assert_non_null(strstr(b.data, "\"detail\":{\"address\":\"10.0.0.1\",\"n\":1},\"prev\":\""));
    balai_buf_release(&b);
    /* required fields */
    struct balai_audit_entry e = c.e[0];
    e.actor = NULL;
    balai_buf_init(&b, 0);
    assert_int_equal(balai_audit_entry_bytes(&e, &b), BALAI_EINVAL);
    e = c.e[0];
    e.seq = 0;
    assert_int_equal(balai_audit_entry_bytes(&e, &b), BALAI_EINVAL);
    e = c.e[0];
    e.detail = "[1]";
    assert_int_equal(balai_audit_entry_bytes(&e, &b), BALAI_EINVAL);
    balai_buf_release(&b);

    char *t = balai_audit_detail_text(NULL);
    assert_string_equal(t, "{}");
    free(t);
    json_t *arr = json_array();
    assert_null(balai_audit_detail_text(arr));
    json_decref(arr);
    json_t *o = json_pack("{s:i, s:s}", "z", 1, "a", "x");
    t = balai_audit_detail_text(o);
    assert_string_equal(t, "{\"a\":\"x\",\"z\":1}");
    free(t);
    json_decref(o);

    /* head: sign, format, parse, verify */
    h = head_of(&c.e[1]);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_audit_head_bytes(&h, &b), BALAI_OK);
    balai_sign(sign_sk, b.data, b.len, h.sig);
    char *text = balai_audit_head_format(&h, "ed25519:abcd");
    assert_int_equal(balai_audit_head_parse(text, &back), BALAI_OK);
    assert_int_equal(back.seq, 2);
    assert_memory_equal(back.mac, h.mac, 32);
    assert_memory_equal(back.sig, h.sig, 64);
    assert_int_equal(balai_sign_verify(sign_pk, b.data, b.len, back.sig), BALAI_OK);
    balai_buf_release(&b);
    free(text);
    assert_int_equal(balai_audit_head_parse("{\"v\":1,\"seq\":1}", &back), BALAI_EINVAL);
    assert_int_equal(balai_audit_head_parse("nonsense", &back), BALAI_EINVAL);
    assert_int_equal(balai_audit_head_parse(NULL, &back), BALAI_EINVAL);
}

/* ---- Store and verifier over a real database ---- */

struct db {
    char dir[64];
    char *path, *head;
    struct balai_store *st;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int db_setup(void **state)
{
    struct db *d = balai_calloc(1, sizeof(*d));
    struct balai_store_config cfg = {.backend = "sqlite"};

    snprintf(d->dir, sizeof(d->dir), "/tmp/balai-test-audit-XXXXXX");
    if (!mkdtemp(d->dir))
        return -1;
    d->path = balai_asprintf("%s/balai.db", d->dir);
    d->head = balai_asprintf("%s/audit.head", d->dir);
    cfg.path = d->path;
    if (balai_store_open(&cfg, &d->st) != BALAI_OK)
        return -1;
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    struct db *d = *state;

    balai_store_close(d->st);
    nftw(d->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(d->path);
    free(d->head);
    free(d);
    return 0;
}

struct append_op {
    struct balai_store_op op;
    const struct balai_audit_entry *e;
    int64_t tail_seq;
    uint8_t tail_mac[32];
};

static int append_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct append_op *a = (struct append_op *)op;
    struct balai_audit_rec r = {
        .seq = a->e->seq,
        .ts = a->e->ts,
        .actor = a->e->actor,
        .action = a->e->action,
        .target = a->e->target,
        .detail = a->e->detail,
    };
    int rc = balai_store_txn_audit_tail(t, &a->tail_seq, a->tail_mac);

    if (rc != BALAI_OK)
        return rc;
    memcpy(r.prev, a->e->prev, 32);
    memcpy(r.mac, a->e->mac, 32);
    return balai_store_txn_audit_append(t, &r);
}

static int append(struct db *d, const struct balai_audit_entry *e, struct append_op *a)
{
    memset(a, 0, sizeof(*a));
    a->e = e;
    a->op.apply = append_apply;
    return balai_store_exec(d->st, &a->op);
}

static void write_head_file(const char *path, const struct balai_audit_entry *e)
{
    struct balai_audit_head h = head_of(e);
    struct balai_buf b;
    FILE *f;

    balai_buf_init(&b, 0);
    assert_int_equal(balai_audit_head_bytes(&h, &b), BALAI_OK);
    balai_sign(sign_sk, b.data, b.len, h.sig);
    balai_buf_release(&b);
    char *text = balai_audit_head_format(&h, NULL);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

static void sql(const struct db *d, const char *stmt)
{
    sqlite3 *conn;
    char *err = NULL;

    assert_int_equal(sqlite3_open(d->path, &conn), SQLITE_OK);
    sqlite3_busy_timeout(conn, 2000);
    if (sqlite3_exec(conn, stmt, NULL, NULL, &err) != SQLITE_OK) {
        sqlite3_close(conn);
        fail_msg("%s: %s", stmt, err);
    }
    sqlite3_close(conn);
}

static int sql_refused(const struct db *d, const char *stmt)
{
    sqlite3 *conn;
    int src;

    assert_int_equal(sqlite3_open(d->path, &conn), SQLITE_OK);
    src = sqlite3_exec(conn, stmt, NULL, NULL, NULL);
    sqlite3_close(conn);
    return src != SQLITE_OK;
}

struct collect {
    int64_t seqs[16];
    int n;
};

static int collect_row(const struct balai_audit_rec *r, void *arg)
{
    struct collect *c = arg;
    c->seqs[c->n++] = r->seq;
    return 0;
}

static void query(struct db *d, struct balai_audit_query q, struct collect *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(balai_store_audit_each(d->st, &q, collect_row, c), 0);
}

static void test_store(void **state)
{
    struct db *d = *state;
    struct chain c;
    struct append_op a;
    struct collect got;

    build(&c, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(append(d, &c.e[i], &a), BALAI_OK);
        assert_int_equal(a.tail_seq, i);
        if (i > 0)
            assert_memory_equal(a.tail_mac, c.e[i - 1].mac, 32);
    }
    /* a taken seq is refused */
    assert_int_equal(append(d, &c.e[3], &a), BALAI_EEXIST);

    query(d, (struct balai_audit_query){.dir = 'b'}, &got);
    assert_int_equal(got.n, N);
    assert_int_equal(got.seqs[0], N);
    query(d, (struct balai_audit_query){.dir = 'f', .limit = 3}, &got);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.seqs[2], 3);
    query(d, (struct balai_audit_query){.dir = 'f', .from = 3, .limit = 3}, &got);
    assert_int_equal(got.seqs[0], 4);
    query(d, (struct balai_audit_query){.dir = 'b', .from = 3}, &got);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.seqs[0], 2);
    query(d, (struct balai_audit_query){.dir = 'f', .actor = "@user1:t.test"}, &got);
    assert_int_equal(got.n, 3); /* entries 2, 5, 8 */
    assert_int_equal(got.seqs[1], 5);
    query(d, (struct balai_audit_query){.dir = 'f', .action = "user.*"}, &got);
    assert_int_equal(got.n, 4);
    query(d, (struct balai_audit_query){.dir = 'f', .action = "admin.*"}, &got);
    assert_int_equal(got.n, 4);
    query(d, (struct balai_audit_query){.dir = 'f', .action = "admin.user.create"}, &got);
    assert_int_equal(got.n, 4);
    query(d, (struct balai_audit_query){.dir = 'f', .action = "user"}, &got);
    assert_int_equal(got.n, 0);
    query(d, (struct balai_audit_query){.dir = 'f', .target = "@target4:t.test"}, &got);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.seqs[0], 5);
    query(d, (struct balai_audit_query){.dir = 'f', .since = 1700000000002, .until = 1700000000004},
          &got);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.seqs[0], 3);
    struct balai_audit_query bad = {.dir = 'x'};
    assert_int_equal(balai_store_audit_each(d->st, &bad, collect_row, &got), BALAI_EINVAL);

    /* append-only: the triggers refuse UPDATE and DELETE */
    assert_true(sql_refused(d, "UPDATE audit_log SET actor = 'x' WHERE seq = 2"));
    assert_true(sql_refused(d, "DELETE FROM audit_log WHERE seq = 8"));
}

static void verify_db(struct db *d, struct balai_api_audit_report *r)
{
    assert_int_equal(balai_api_audit_verify(d->st, key.key, sign_pk, d->head, r), BALAI_OK);
}

static void test_verify_database(void **state)
{
    struct db *d = *state;
    struct chain c;
    struct append_op a;
    struct balai_api_audit_report r;

    build(&c, N);
    /* no entries, no head: intact */
    verify_db(d, &r);
    assert_true(r.ok);
    assert_int_equal(r.head_seq, -1);
    for (int i = 0; i < N; i++)
        assert_int_equal(append(d, &c.e[i], &a), BALAI_OK);
    verify_db(d, &r);
    assert_false(r.ok); /* entries but no head */
    write_head_file(d->head, &c.e[N - 1]);
    verify_db(d, &r);
    assert_true(r.ok);
    assert_int_equal(r.entries, N);
    assert_int_equal(r.head_seq, N);
    json_t *j = balai_api_audit_report_json(&r);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_true(json_is_null(json_object_get(j, "first_bad")));
    json_decref(j);

    /* a head signed by another key */
    uint8_t pk2[32], sk2[64];
    balai_sign_keypair(pk2, sk2);
    assert_int_equal(balai_api_audit_verify(d->st, key.key, pk2, d->head, &r), BALAI_OK);
    assert_false(r.ok);
    assert_int_equal(r.head_seq, -1);

    /* the attacker drops the triggers and edits a row */
    sql(d, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
           " UPDATE audit_log SET target = '@eve:t.test' WHERE seq = 5");
    verify_db(d, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 5);
    j = balai_api_audit_report_json(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "first_bad"), "seq")),
                     5);
    json_decref(j);
    sql(d, "UPDATE audit_log SET target = '@target4:t.test' WHERE seq = 5");
    verify_db(d, &r);
    assert_true(r.ok);
    /* a truncated MAC blob */
    sql(d, "UPDATE audit_log SET mac = x'00' WHERE seq = 2");
    verify_db(d, &r);
    assert_int_equal(r.bad_seq, 2);
    sql(d, "DELETE FROM audit_log WHERE seq = 2");
    verify_db(d, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 2);
    assert_int_equal(append(d, &c.e[1], &a), BALAI_OK); /* put back */
    verify_db(d, &r);
    assert_true(r.ok);
    /* cut tail */
    sql(d, "DELETE FROM audit_log WHERE seq >= 7");
    verify_db(d, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 7);
    assert_non_null(strstr(r.reason, "removed from the end"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_chain),
        cmocka_unit_test(test_edited_field),
        cmocka_unit_test(test_removed_entry),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_cut_tail),
        cmocka_unit_test(test_bytes_and_head_format),
        cmocka_unit_test_setup_teardown(test_store, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_verify_database, db_setup, db_teardown),
    };

    if (balai_crypto_init() != BALAI_OK)
        return 1;
    balai_random_bytes(key.key, sizeof(key.key));
    key.mac = balai_hmac_sha256;
    balai_sign_keypair(sign_pk, sign_sk);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
