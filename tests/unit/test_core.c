/* test_core.c: user ids, the password policy, throttling, the accounts registry, the map. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/accounts.h"
#include "core/ids.h"
#include "core/password.h"
#include "core/throttle.h"
#include "crypto/crypto.h"
#include "util/map.h"

static void user_ids(void **state)
{
    char *out = NULL;
    assert_int_equal(balai_id_user_normalise("Alice", "example.org", &out), BALAI_OK);
    assert_string_equal(out, "@alice:example.org");
    free(out);
    assert_int_equal(balai_id_user_normalise("@bob:example.org", "example.org", &out), BALAI_OK);
    assert_string_equal(out, "@bob:example.org");
    free(out);
    assert_int_equal(balai_id_user_normalise("@bob:other.org", "example.org", &out), BALAI_EINVAL);
    assert_int_equal(balai_id_user_normalise("", "example.org", &out), BALAI_EINVAL);
    assert_int_equal(balai_id_user_normalise("a b", "example.org", &out), BALAI_EINVAL);
    assert_int_equal(balai_id_user_normalise("@:example.org", "example.org", &out), BALAI_EINVAL);
    assert_int_equal(balai_id_user_normalise("émile", "example.org", &out), BALAI_EINVAL);
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(balai_id_user_normalise(big, "example.org", &out), BALAI_EINVAL);
    char *lp = balai_id_localpart("@carol:x");
    assert_string_equal(lp, "carol");
    free(lp);
    assert_null(balai_id_localpart("carol"));
}

static void password_policy(void **state)
{
    char err[200];
    assert_int_equal(balai_password_check("correct horse", "@alice:x", 10, err, sizeof(err)),
                     BALAI_OK);
    assert_int_equal(balai_password_check("short", NULL, 10, err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "at least 10"));
    assert_int_equal(balai_password_check("aaaaaaaaaaaa", NULL, 10, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_password_check("AliceAlice", "@alicealice:x", 10, err, sizeof(err)),
                     BALAI_EINVAL);
}

static void throttling(void **state)
{
    struct balai_throttle *t = balai_throttle_new(3, 1000);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(balai_throttle_check(t, "k", 0, &retry), BALAI_OK);
        balai_throttle_hit(t, "k", 0);
    }
    assert_int_equal(balai_throttle_check(t, "k", 0, &retry), BALAI_ELIMIT);
    assert_true(retry > 0 && retry <= 400);
    assert_int_equal(balai_throttle_check(t, "other", 0, &retry), BALAI_OK);
    assert_int_equal(balai_throttle_check(t, "k", 400, &retry), BALAI_OK);
    balai_throttle_reset(t, "k");
    assert_int_equal(balai_throttle_check(t, "k", 0, &retry), BALAI_OK);
    /* many keys: pruning keeps the table bounded and working */
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "ip%d", i);
        balai_throttle_hit(t, key, (int64_t)i * 1000);
    }
    balai_throttle_free(t);
}

static int revoked;
static void on_revoke(struct balai_session *s, void *arg)
{
    (void)s;
    (void)arg;
    revoked++;
}

static void accounts_registry(void **state)
{
    struct balai_accounts *a = balai_accounts_new();
    uint8_t h1[32], h2[32], h3[32];
    balai_sha256("tok1", 4, h1);
    balai_sha256("tok2", 4, h2);
    balai_sha256("tok3", 4, h3);
    balai_accounts_set_revoke_hook(a, on_revoke, NULL);
    struct balai_user *u = balai_accounts_add_user(a, "@a:x", "hash", 0, 0, 1);
    assert_non_null(u);
    assert_null(balai_accounts_add_user(a, "@a:x", "hash", 0, 0, 1));
    struct balai_device *d1 = balai_accounts_add_device(a, u, "D1", "phone", 1);
    struct balai_device *d2 = balai_accounts_add_device(a, u, "D2", NULL, 1);
    assert_ptr_equal(balai_accounts_add_device(a, u, "D1", "renamed", 1), d1);
    assert_string_equal(d1->display_name, "renamed");
    balai_accounts_add_session(a, d1, h1);
    balai_accounts_add_session(a, d2, h2);
    balai_accounts_add_session(a, d2, h3);
    assert_ptr_equal(balai_accounts_session(a, h1)->device, d1);
    assert_ptr_equal(balai_accounts_session(a, h3)->device, d2);

    revoked = 0;
    balai_accounts_revoke_user(a, u, d1);
    assert_int_equal(revoked, 2);
    assert_null(balai_accounts_session(a, h2));
    assert_non_null(balai_accounts_session(a, h1));

    balai_accounts_remove_device(a, d1);
    assert_null(balai_accounts_session(a, h1));
    assert_null(balai_user_device(u, "D1"));

    balai_accounts_add_user(a, "@c:x", NULL, 1, 0, 1);
    balai_accounts_add_user(a, "@b:x", NULL, 0, 0, 1);
    struct balai_user *page[3];
    size_t n = balai_accounts_list(a, NULL, 2, page);
    assert_int_equal(n, 2);
    assert_string_equal(page[0]->user_id, "@a:x");
    assert_string_equal(page[1]->user_id, "@b:x");
    n = balai_accounts_list(a, "@b:x", 3, page);
    assert_int_equal(n, 1);
    assert_string_equal(page[0]->user_id, "@c:x");

    balai_accounts_deactivate(a, u);
    assert_true(u->deactivated);
    assert_null(u->password_hash);
    assert_null(u->devices);
    balai_accounts_free(a);
}

static void map_basics(void **state)
{
    struct balai_map *m = balai_map_new();
    char key[32];
    static int vals[2000];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_null(balai_map_put_str(m, key, &vals[i]));
    }
    assert_int_equal(balai_map_count(m), 2000);
    assert_ptr_equal(balai_map_get_str(m, "k1234"), &vals[1234]);
    assert_ptr_equal(balai_map_put_str(m, "k1", &vals[5]), &vals[1]);
    assert_ptr_equal(balai_map_del_str(m, "k1"), &vals[5]);
    assert_null(balai_map_get_str(m, "k1"));
    size_t it = 0, kl, seen = 0;
    const void *k;
    void *v;
    while (balai_map_next(m, &it, &k, &kl, &v))
        seen++;
    assert_int_equal(seen, 1999);
    /* binary keys with NUL bytes */
    assert_null(balai_map_put(m, "a\0b", 3, &vals[0]));
    assert_null(balai_map_get(m, "a\0c", 3));
    assert_ptr_equal(balai_map_get(m, "a\0b", 3), &vals[0]);
    balai_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_ids),   cmocka_unit_test(password_policy),
        cmocka_unit_test(throttling), cmocka_unit_test(accounts_registry),
        cmocka_unit_test(map_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
