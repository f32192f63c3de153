/* test_device_lists.c: unit tests for the device-list store functions
 * (migration 9: changes at "device_lists" positions, what a device that goes
 * leaves behind) and the in-memory forgetting of a device's keys and
 * to-device messages (api/e2e_keys.h, api/to_device.h). */
#include "balai.h"

#include "store_helpers.h"

#include "api/e2e_keys.h"
#include "api/to_device.h"

/* ---- store ---- */

struct add_ctx {
    const char *user;
    int64_t pos;
};

static int add_body(struct balai_store_txn *t, const void *ctx)
{
    struct add_ctx *c = (struct add_ctx *)(uintptr_t)ctx;
    return balai_store_txn_device_list_add(t, c->user, &c->pos);
}

static int add_then_fail_body(struct balai_store_txn *t, const void *ctx)
{
    int64_t pos;
    int rc = balai_store_txn_device_list_add(t, (const char *)ctx, &pos);
    return rc == BALAI_OK ? BALAI_EINVAL : rc;
}

static int null_body(struct balai_store_txn *t, const void *ctx)
{
    int64_t pos;
    (void)ctx;
    return balai_store_txn_device_list_add(t, NULL, &pos);
}

struct seen {
    char line[512];
};

static int collect(int64_t pos, const char *user_id, void *arg)
{
    struct seen *s = arg;
    size_t n = strlen(s->line);
    snprintf(s->line + n, sizeof(s->line) - n, "%s%lld:%s", n ? "," : "", (long long)pos,
             user_id);
    return 0;
}

static void test_changes(void **state)
{
    struct fixture *f = *state;
    struct add_ctx a = {"@a:x", 0}, b = {"@b:x", 0}, c = {"@a:x", 0};
    struct seen s;

    assert_int_equal(balai_store_pos_current(f->st, "device_lists"), 0);
    assert_int_equal(run(f->st, add_body, &a), BALAI_OK);
    assert_int_equal(run(f->st, add_body, &b), BALAI_OK);
    /* a refused op takes no position */
    assert_int_equal(run(f->st, add_then_fail_body, "@z:x"), BALAI_EINVAL);
    assert_int_equal(run(f->st, null_body, NULL), BALAI_EINVAL);
    assert_int_equal(run(f->st, add_body, &c), BALAI_OK);
    assert_int_equal(a.pos, 1);
    assert_int_equal(b.pos, 2);
    assert_int_equal(c.pos, 3);
    assert_int_equal(balai_store_pos_current(f->st, "device_lists"), 3);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_device_list_changes(f->st, 1, collect, &s), BALAI_OK);
    assert_string_equal(s.line, "2:@b:x,3:@a:x");
    /* durable */
    reopen(f);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_device_list_changes(f->st, 0, collect, &s), BALAI_OK);
    assert_string_equal(s.line, "1:@a:x,2:@b:x,3:@a:x");
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_device_list_changes(f->st, 3, collect, &s), BALAI_OK);
    assert_string_equal(s.line, "");
}

static int fill_body(struct balai_store_txn *t, const void *ctx)
{
    static const char *const users[] = {"@a:x", "@b:x"};
    static const char *const devs[] = {"D1", "D2"};
    int64_t pos;
    int rc = BALAI_OK;
    (void)ctx;

    for (size_t u = 0; u < 2; u++) {
        for (size_t d = 0; d < 2 && rc == BALAI_OK; d++) {
            rc = balai_store_txn_e2e_key_set(t, users[u], devs[d], "device", "", "{}", 0);
            if (rc == BALAI_OK)
                rc = balai_store_txn_e2e_key_set(t, users[u], devs[d], "otk", "c:1", "\"k\"", 0);
            if (rc == BALAI_OK)
                rc = balai_store_txn_to_device_add(t, users[u], devs[d], "@s:x", "m.t", "{}",
                                                   &pos);
        }
        if (rc == BALAI_OK)
            rc = balai_store_txn_e2e_key_set(t, users[u], "", "xsign", "master", "{}", 0);
    }
    return rc;
}

static int gone_body(struct balai_store_txn *t, const void *ctx)
{
    const char *const *ud = ctx;
    return balai_store_txn_device_data_delete(t, ud[0], ud[1]);
}

static int count_key(const struct balai_e2e_key_rec *r, void *arg)
{
    struct seen *s = arg;
    size_t n = strlen(s->line);
    snprintf(s->line + n, sizeof(s->line) - n, "%s%s/%s/%s", n ? "," : "", r->user_id,
             r->device_id, r->kind);
    return 0;
}

static int count_td(const struct balai_to_device_rec *r, void *arg)
{
    struct seen *s = arg;
    size_t n = strlen(s->line);
    snprintf(s->line + n, sizeof(s->line) - n, "%s%s/%s", n ? "," : "", r->user_id, r->device_id);
    return 0;
}

static void test_device_data_delete(void **state)
{
    struct fixture *f = *state;
    const char *one[] = {"@a:x", "D1"};
    const char *all[] = {"@b:x", NULL};
    const char *none[] = {NULL, "D1"};
    struct seen s;

    assert_int_equal(run(f->st, fill_body, NULL), BALAI_OK);
    assert_int_equal(run(f->st, gone_body, one), BALAI_OK);
    assert_int_equal(run(f->st, gone_body, one), BALAI_OK); /* idempotent */
    assert_int_equal(run(f->st, gone_body, all), BALAI_OK);
    assert_int_equal(run(f->st, gone_body, none), BALAI_EINVAL);
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_e2e_keys_each(f->st, count_key, &s), BALAI_OK);
    assert_string_equal(s.line, "@a:x//xsign,@a:x/D2/device,@a:x/D2/otk,@b:x//xsign");
    memset(&s, 0, sizeof(s));
    assert_int_equal(balai_store_to_device_each(f->st, count_td, &s), BALAI_OK);
    assert_string_equal(s.line, "@a:x/D2");
}

/* ---- memory ---- */

static void test_memory(void **state)
{
    struct balai_e2e_keys *k = balai_api_e2e_keys_new();
    struct balai_to_device *td = balai_api_to_device_new();
    (void)state;

    balai_api_e2e_keys_put(k, "@a:x", "D1", BALAI_E2E_DEVICE, "", "{}", 0);
    balai_api_e2e_keys_put(k, "@a:x", "D2", BALAI_E2E_DEVICE, "", "{}", 0);
    balai_api_e2e_keys_put(k, "@a:x", "", BALAI_E2E_XSIGN, "master", "{}", 0);
    balai_api_e2e_keys_put(k, "@a:xy", "D1", BALAI_E2E_DEVICE, "", "{}", 0);
    balai_api_e2e_keys_del_device(k, "@a:x", "D1");
    assert_null(balai_api_e2e_keys_get(k, "@a:x", "D1", BALAI_E2E_DEVICE, "", NULL));
    assert_non_null(balai_api_e2e_keys_get(k, "@a:x", "D2", BALAI_E2E_DEVICE, "", NULL));
    balai_api_e2e_keys_del_device(k, "@a:x", NULL);
    assert_null(balai_api_e2e_keys_get(k, "@a:x", "D2", BALAI_E2E_DEVICE, "", NULL));
    assert_non_null(balai_api_e2e_keys_get(k, "@a:x", "", BALAI_E2E_XSIGN, "master", NULL));
    assert_non_null(balai_api_e2e_keys_get(k, "@a:xy", "D1", BALAI_E2E_DEVICE, "", NULL));

    balai_api_to_device_add(td, "@a:x", "D1", 1, "@s:x", "m.t", "{}");
    balai_api_to_device_add(td, "@a:x", "D2", 2, "@s:x", "m.t", "{}");
    balai_api_to_device_add(td, "@a:xy", "D1", 3, "@s:x", "m.t", "{}");
    balai_api_to_device_drop_user(td, "@a:x");
    assert_int_equal(balai_api_to_device_device_pos(td, "@a:x", "D1"), 0);
    assert_int_equal(balai_api_to_device_device_pos(td, "@a:x", "D2"), 0);
    assert_int_equal(balai_api_to_device_device_pos(td, "@a:xy", "D1"), 3);
    balai_api_e2e_keys_free(k);
    balai_api_to_device_free(td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_data_delete, setup, teardown),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
