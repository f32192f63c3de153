/* test_store_dlp.c: the store functions of DLP and moderation (migration
 * 12): incidents with every filter, held messages, reports and their
 * closing, suspensions and settings, also after reopening the database. */
#include "balai.h"

#include "store_helpers.h"
#include "util/log.h"

/* ---- incidents ---- */

static const struct balai_dlp_incident_rec incs[] = {
    {0, 1000, "!a:x", "$e1", "@alice:x", "internal", "warn", "refused", ",nik,", "[1]"},
    {0, 2000, "!a:x", "$e2", "@bob:x", "internal", "audit", "stored", ",phone,", "[2]"},
    {0, 3000, "!b:x", NULL, "@alice:x", "confidential", "mask", "masked", ",card,nik,", "[3]"},
    {0, 4000, NULL, NULL, "@carol:x", "direct", "block", "refused", ",custom,proyek,", "[4]"},
};

static int add_incidents(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(incs); i++) {
        struct balai_dlp_incident_rec r = incs[i];
        int rc = balai_store_txn_dlp_incident_add(t, &r);
        if (rc != BALAI_OK)
            return rc;
        if (r.id != (int64_t)i + 1)
            return BALAI_ESTATE;
    }
    return BALAI_OK;
}

static int bad_incident(struct balai_store_txn *t, const void *ctx)
{
    struct balai_dlp_incident_rec r = incs[0];
    (void)ctx;
    r.user_id = NULL;
    return balai_store_txn_dlp_incident_add(t, &r);
}

struct ids {
    int64_t id[16];
    size_t n;
};

static int collect_inc(const struct balai_dlp_incident_rec *r, void *arg)
{
    struct ids *x = arg;
    x->id[x->n++] = r->id;
    return 0;
}

static size_t query(struct balai_store *st, struct balai_dlp_incident_query q, struct ids *out)
{
    memset(out, 0, sizeof(*out));
    assert_int_equal(balai_store_dlp_incidents_each(st, &q, collect_inc, out), BALAI_OK);
    return out->n;
}

static void test_incidents(void **state)
{
    struct fixture *f = *state;
    struct ids x;

    assert_int_equal(run(f->st, add_incidents, NULL), BALAI_OK);
    assert_int_equal(run(f->st, bad_incident, NULL), BALAI_EINVAL);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){0}, &x), 4);
        assert_int_equal(x.id[0], 4); /* newest first */
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.label = "internal"}, &x),
                         2);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.type = "nik"}, &x), 2);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.type = "ni"}, &x), 0);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.type = "proyek"}, &x), 1);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.room_id = "!a:x"}, &x), 2);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.user_id = "@alice:x"}, &x),
                         2);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.action = "block"}, &x), 1);
        assert_int_equal(
            query(f->st, (struct balai_dlp_incident_query){.since = 2000, .until = 3000}, &x), 2);
        assert_int_equal(query(f->st, (struct balai_dlp_incident_query){.from = 3, .limit = 1}, &x),
                         1);
        assert_int_equal(x.id[0], 2);
        reopen(f);
    }
}

/* ---- held messages ---- */

static const uint8_t blob[] = {1, 2, 3, 0, 5};

static int add_held(struct balai_store_txn *t, const void *ctx)
{
    const char *id = ctx;
    struct balai_dlp_held_rec h = {id,     42,   "!a:x",        "@alice:x", "m.room.message",
                                   "conf", "[]", "room:!a:x:0", blob,       sizeof(blob)};
    return balai_store_txn_dlp_held_add(t, &h);
}

static int del_held(struct balai_store_txn *t, const void *ctx)
{
    return balai_store_txn_dlp_held_delete(t, ctx);
}

static int held_count;

static int held_row(const struct balai_dlp_held_rec *r, void *arg)
{
    (void)arg;
    assert_int_equal(r->blob_len, sizeof(blob));
    assert_memory_equal(r->blob, blob, sizeof(blob));
    assert_string_equal(r->key_name, "room:!a:x:0");
    held_count++;
    return 0;
}

static void test_held(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(run(f->st, add_held, "h_1"), BALAI_OK);
    assert_int_equal(run(f->st, add_held, "h_2"), BALAI_OK);
    assert_int_equal(run(f->st, add_held, "h_1"), BALAI_EEXIST);
    reopen(f);
    held_count = 0;
    assert_int_equal(balai_store_dlp_held_each(f->st, NULL, held_row, NULL), BALAI_OK);
    assert_int_equal(held_count, 2);
    held_count = 0;
    assert_int_equal(balai_store_dlp_held_each(f->st, "h_2", held_row, NULL), BALAI_OK);
    assert_int_equal(held_count, 1);
    assert_int_equal(run(f->st, del_held, "h_2"), BALAI_OK);
    assert_int_equal(run(f->st, del_held, "h_2"), BALAI_ENOTFOUND);
    held_count = 0;
    assert_int_equal(balai_store_dlp_held_each(f->st, "h_2", held_row, NULL), BALAI_OK);
    assert_int_equal(held_count, 0);
}

/* ---- reports ---- */

static int add_reports(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    struct balai_report_rec r = {.ts = 1,
                                 .room_id = "!a:x",
                                 .event_id = "$e",
                                 .reporter = "@b:x",
                                 .reason = "spam",
                                 .has_score = 1,
                                 .score = -100};
    int rc = balai_store_txn_report_add(t, &r);
    if (rc == BALAI_OK && r.id != 1)
        rc = BALAI_ESTATE;
    r.reason = NULL;
    r.has_score = 0;
    if (rc == BALAI_OK)
        rc = balai_store_txn_report_add(t, &r);
    return rc;
}

static int close_report(struct balai_store_txn *t, const void *ctx)
{
    const char *status = ctx;
    return balai_store_txn_report_close(t, 1, status, "@mod:x", "ok", 5);
}

struct report_seen {
    int n;
    char status[2][16];
    int has_score[2];
};

static int report_row(const struct balai_report_rec *r, void *arg)
{
    struct report_seen *s = arg;
    snprintf(s->status[s->n], sizeof(s->status[0]), "%s", r->status);
    s->has_score[s->n] = r->has_score;
    s->n++;
    return 0;
}

static void test_reports(void **state)
{
    struct fixture *f = *state;
    struct report_seen s;

    assert_int_equal(run(f->st, add_reports, NULL), BALAI_OK);
    assert_int_equal(run(f->st, close_report, "weird"), BALAI_EINVAL);
    assert_int_equal(run(f->st, close_report, "resolved"), BALAI_OK);
    assert_int_equal(run(f->st, close_report, "dismissed"), BALAI_ENOTFOUND);
    reopen(f);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_reports_each(f->st, NULL, 0, 0, report_row, &s), BALAI_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.status[0], "open"); /* newest first */
    assert_int_equal(s.has_score[0], 0);
    assert_string_equal(s.status[1], "resolved");
    assert_int_equal(s.has_score[1], 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_reports_each(f->st, "open", 0, 0, report_row, &s), BALAI_OK);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_reports_each(f->st, NULL, 1, 0, report_row, &s), BALAI_OK);
    assert_int_equal(s.n, 1);
}

/* ---- suspensions and settings ---- */

static int suspend(struct balai_store_txn *t, const void *ctx)
{
    int rc = balai_store_txn_suspension_set(t, "@a:x", 1, "@mod:x", 1);
    if (rc == BALAI_OK)
        rc = balai_store_txn_suspension_set(t, "@a:x", 1, "@mod:x", 2); /* idempotent */
    if (rc == BALAI_OK)
        rc = balai_store_txn_suspension_set(t, "@b:x", 1, "cli", 3);
    if (rc == BALAI_OK && ctx)
        rc = balai_store_txn_suspension_set(t, "@b:x", 0, "cli", 4);
    return rc;
}

static int nsusp;

static int susp_row(const char *user_id, int64_t ts, const char *actor, void *arg)
{
    (void)arg;
    (void)ts;
    assert_true(strcmp(user_id, "@a:x") == 0 || strcmp(user_id, "@b:x") == 0);
    assert_non_null(actor);
    nsusp++;
    return 0;
}

static int settings(struct balai_store_txn *t, const void *ctx)
{
    int rc = balai_store_txn_dlp_setting_set(t, "policy", "rules", "a.b=c", 1);
    if (rc == BALAI_OK)
        rc = balai_store_txn_dlp_setting_set(t, "policy", "rules", "internal.card=block", 2);
    if (rc == BALAI_OK)
        rc = balai_store_txn_dlp_setting_set(t, "detector", "x", "{}", 3);
    if (rc == BALAI_OK && ctx)
        rc = balai_store_txn_dlp_setting_set(t, "detector", "x", NULL, 4);
    return rc;
}

static int nset;

static int set_row(const char *kind, const char *name, const char *value, int64_t ts, void *arg)
{
    (void)arg;
    (void)ts;
    if (strcmp(kind, "policy") == 0) {
        assert_string_equal(name, "rules");
        assert_string_equal(value, "internal.card=block");
    }
    nset++;
    return 0;
}

static void test_suspensions_settings(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(run(f->st, suspend, NULL), BALAI_OK);
    reopen(f);
    nsusp = 0;
    assert_int_equal(balai_store_suspensions_each(f->st, susp_row, NULL), BALAI_OK);
    assert_int_equal(nsusp, 2);
    assert_int_equal(run(f->st, suspend, "lift b"), BALAI_OK);
    nsusp = 0;
    assert_int_equal(balai_store_suspensions_each(f->st, susp_row, NULL), BALAI_OK);
    assert_int_equal(nsusp, 1);

    assert_int_equal(run(f->st, settings, NULL), BALAI_OK);
    reopen(f);
    nset = 0;
    assert_int_equal(balai_store_dlp_settings_each(f->st, set_row, NULL), BALAI_OK);
    assert_int_equal(nset, 2);
    assert_int_equal(run(f->st, settings, "delete"), BALAI_OK);
    nset = 0;
    assert_int_equal(balai_store_dlp_settings_each(f->st, set_row, NULL), BALAI_OK);
    assert_int_equal(nset, 1);
}

static int delete_missing(struct balai_store_txn *t, const void *ctx)
{
    (void)ctx;
    return balai_store_txn_dlp_setting_set(t, "detector", "nope", NULL, 1);
}

static void test_settings_missing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f->st, delete_missing, NULL), BALAI_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_incidents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspensions_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_missing, setup, teardown),
    };

    balai_log_set_level(BALAI_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
