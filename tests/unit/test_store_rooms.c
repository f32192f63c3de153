/* test_store_rooms.c: unit tests for the rooms and events API of src/store/
 * (rooms, events and their positions, current state, txns, aliases,
 * forgotten rooms, the room directory) and a micro-benchmark of event inserts through the
 * writer, each on a fresh database in a temporary directory. */
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

/* --- rooms and events (migration 2) --- */

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

/* --- the room directory (migration 5) --- */

static int publish_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(insert_room_body(t, "!a:test"), 0);
    assert_int_equal(insert_room_body(t, "!b:test"), 0);
    assert_int_equal(balai_store_txn_room_publish(t, "!b:test", 1, 100), 0);
    assert_int_equal(balai_store_txn_room_publish(t, "!a:test", 1, 200), 0);
    /* idempotent: the first ts is kept */
    assert_int_equal(balai_store_txn_room_publish(t, "!a:test", 1, 300), 0);
    assert_int_equal(balai_store_txn_room_publish(t, "!nowhere:test", 1, 100), BALAI_ENOTFOUND);
    assert_int_equal(balai_store_txn_room_publish(t, NULL, 1, 100), BALAI_EINVAL);
    return 0;
}

static int unpublish_body(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    assert_int_equal(balai_store_txn_room_publish(t, "!a:test", 0, 0), 0);
    assert_int_equal(balai_store_txn_room_publish(t, "!a:test", 0, 0), 0); /* idempotent */
    assert_int_equal(balai_store_txn_room_publish(t, "!nowhere:test", 0, 0), 0);
    return 0;
}

static int collect_published(const char *room_id, int64_t ts, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);

    snprintf(out + len, 256 - len, "%s%s@%lld", len ? " " : "", room_id, (long long)ts);
    return 0;
}

static int stop_published(const char *room_id, int64_t ts, void *arg)
{
    (void)room_id;
    (void)ts;
    (void)arg;
    return 7;
}

static void test_room_directory(void **state)
{
    struct fixture *f = *state;
    char out[256] = "";

    assert_int_equal(balai_store_published_each(f->st, collect_published, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(run(f->st, publish_body, NULL), 0);
    assert_int_equal(balai_store_published_each(f->st, collect_published, out), 0);
    assert_string_equal(out, "!a:test@200 !b:test@100");
    assert_int_equal(balai_store_published_each(f->st, stop_published, NULL), 7);
    assert_int_equal(run(f->st, unpublish_body, NULL), 0);
    reopen(f);
    out[0] = 0;
    assert_int_equal(balai_store_published_each(f->st, collect_published, out), 0);
    assert_string_equal(out, "!b:test@100");
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
        cmocka_unit_test_setup_teardown(test_room_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_event_insert, setup, teardown),
    };

    balai_log_set_level(BALAI_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
