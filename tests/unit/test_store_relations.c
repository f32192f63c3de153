/* test_store_relations.c: unit tests for the event relations and redactions
 * of src/store/ (migration 8): insert, delete, iteration order, the
 * annotation hash, redaction records, and that they survive a reopen. */
#include "balai.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/store.h"
#include "store_helpers.h"
#include "util/alloc.h"
#include "util/log.h"

struct seen_rel {
    char ids[8][48];
    char parents[8][48];
    char rel_types[8][32];
    int64_t pos[8];
    int hashed[8];
    int n;
};

static int collect_rel(const struct balai_relation_rec *r, void *arg)
{
    struct seen_rel *s = arg;
    assert_true(s->n < 8);
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", r->event_id);
    snprintf(s->parents[s->n], sizeof(s->parents[0]), "%s", r->parent_id);
    snprintf(s->rel_types[s->n], sizeof(s->rel_types[0]), "%s", r->rel_type);
    assert_string_equal(r->room_id, "!r:test");
    assert_string_equal(r->sender, "@bob:test");
    s->pos[s->n] = r->pos;
    s->hashed[s->n] = r->agg_hash != NULL;
    if (r->agg_hash) {
        assert_int_equal(r->agg_hash_len, 16);
        for (size_t i = 0; i < 16; i++)
            assert_int_equal(r->agg_hash[i], (uint8_t)(i * 7));
    }
    s->n++;
    return 0;
}

static int rel_body(struct balai_store_txn *t, const void *ctx)
{
    uint8_t h[16];
    (void)ctx;
    for (size_t i = 0; i < 16; i++)
        h[i] = (uint8_t)(i * 7);
    struct balai_relation_rec r = {"$c2",       "!r:test", "$p", "m.thread", "m.room.message",
                                   "@bob:test", 20,        1000, NULL,       0};
    assert_int_equal(balai_store_txn_relation_insert(t, &r), 0);
    r.event_id = "$c1";
    r.rel_type = "m.annotation";
    r.type = "m.reaction";
    r.pos = 10;
    r.agg_hash = h;
    r.agg_hash_len = sizeof(h);
    assert_int_equal(balai_store_txn_relation_insert(t, &r), 0);
    assert_int_equal(balai_store_txn_relation_insert(t, &r), BALAI_EEXIST);
    r.event_id = "$c3";
    r.parent_id = "$c2";
    r.rel_type = "m.replace";
    r.type = "m.room.message";
    r.pos = 30;
    r.agg_hash = NULL;
    assert_int_equal(balai_store_txn_relation_insert(t, &r), 0);
    r.event_id = NULL;
    assert_int_equal(balai_store_txn_relation_insert(t, &r), BALAI_EINVAL);
    return 0;
}

static int delete_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(balai_store_txn_relation_delete(t, "$c2"), 0);
    assert_int_equal(balai_store_txn_relation_delete(t, "$c2"), 0); /* idempotent */
    assert_int_equal(balai_store_txn_redaction_set(t, "$c2", "$red1"), 0);
    assert_int_equal(balai_store_txn_redaction_set(t, "$c2", "$red2"), 0); /* replaces */
    assert_int_equal(balai_store_txn_redaction_set(t, "$a", "$red3"), 0);
    assert_int_equal(balai_store_txn_redaction_set(t, NULL, "$x"), BALAI_EINVAL);
    return 0;
}

struct seen_red {
    char s[256];
};

static int collect_red(const char *event_id, const char *redaction_id, void *arg)
{
    struct seen_red *r = arg;
    size_t l = strlen(r->s);
    snprintf(r->s + l, sizeof(r->s) - l, "%s=%s;", event_id, redaction_id);
    return 0;
}

static void test_relations(void **state)
{
    struct fixture *f = *state;
    struct seen_rel s;
    struct seen_red red;

    assert_int_equal(run(f->st, rel_body, NULL), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_relations_each(f->st, collect_rel, &s), 0);
    assert_int_equal(s.n, 3);
    /* ascending pos */
    assert_string_equal(s.ids[0], "$c1");
    assert_string_equal(s.ids[1], "$c2");
    assert_string_equal(s.ids[2], "$c3");
    assert_string_equal(s.rel_types[0], "m.annotation");
    assert_int_equal(s.hashed[0], 1);
    assert_int_equal(s.hashed[1], 0);
    assert_string_equal(s.parents[2], "$c2");
    assert_int_equal(s.pos[2], 30);

    assert_int_equal(run(f->st, delete_body, NULL), 0);
    reopen(f);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_relations_each(f->st, collect_rel, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "$c1");
    assert_string_equal(s.ids[1], "$c3");
    memset(&red, 0, sizeof(red));
    assert_int_equal(balai_store_redactions_each(f->st, collect_red, &red), 0);
    assert_string_equal(red.s, "$a=$red3;$c2=$red2;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relations, setup, teardown),
    };

    balai_log_set_level(BALAI_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
