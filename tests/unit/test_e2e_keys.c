/* test_e2e_keys.c: end-to-end encryption keys in memory (api/e2e_keys.h):
 * counts, claiming one-time then fallback keys, and the /sync fields. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/e2e_keys.h"
#include "util/buf.h"

/* The /sync fields of @a:x's device D. */
static char *sync_text(struct balai_e2e_keys *k)
{
    struct balai_buf b;
    balai_buf_init(&b, 0);
    balai_api_e2e_keys_sync_write(k, "@a:x", "D", &b);
    balai_buf_append_char(&b, '\0');
    return balai_buf_detach(&b, NULL);
}

static void counts_and_claims(void **state)
{
    struct balai_e2e_keys *k = balai_api_e2e_keys_new();
    char *key_id = NULL, *json = NULL, *s;
    int fb = -1, used = -1;
    (void)state;

    s = sync_text(k);
    assert_string_equal(s, ",\"device_one_time_keys_count\":{\"signed_curve25519\":0},"
                           "\"device_unused_fallback_key_types\":[]");
    free(s);

    balai_api_e2e_keys_put(k, "@a:x", "D", BALAI_E2E_DEVICE, "", "{\"d\":1}", 0);
    balai_api_e2e_keys_put(k, "@a:x", "D", BALAI_E2E_OTK, "signed_curve25519:1", "\"k1\"", 0);
    balai_api_e2e_keys_put(k, "@a:x", "D", BALAI_E2E_OTK, "curve25519:2", "\"k2\"", 0);
    balai_api_e2e_keys_put(k, "@a:x", "D", BALAI_E2E_FALLBACK, "signed_curve25519:F", "\"f\"", 0);
    balai_api_e2e_keys_put(k, "@b:x", "D", BALAI_E2E_OTK, "signed_curve25519:9", "\"b\"", 0);
    assert_int_equal(balai_api_e2e_keys_otk_total(k, "@a:x", "D"), 2);
    assert_string_equal(balai_api_e2e_keys_get(k, "@a:x", "D", BALAI_E2E_DEVICE, "", NULL),
                        "{\"d\":1}");
    s = sync_text(k);
    assert_string_equal(s, ",\"device_one_time_keys_count\":{\"curve25519\":1,"
                           "\"signed_curve25519\":1},"
                           "\"device_unused_fallback_key_types\":[\"signed_curve25519\"]");
    free(s);

    /* the one-time key first, then the fallback key (again and again) */
    assert_int_equal(
        balai_api_e2e_keys_claim(k, "@a:x", "D", "signed_curve25519", &key_id, &json, &fb), 0);
    assert_string_equal(key_id, "signed_curve25519:1");
    assert_string_equal(json, "\"k1\"");
    assert_int_equal(fb, 0);
    free(key_id);
    free(json);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            balai_api_e2e_keys_claim(k, "@a:x", "D", "signed_curve25519", &key_id, &json, &fb), 0);
        assert_string_equal(key_id, "signed_curve25519:F");
        assert_int_equal(fb, 1);
        free(key_id);
        free(json);
    }
    assert_non_null(
        balai_api_e2e_keys_get(k, "@a:x", "D", BALAI_E2E_FALLBACK, "signed_curve25519:F", &used));
    assert_int_equal(used, 1);
    assert_int_equal(balai_api_e2e_keys_claim(k, "@a:x", "D", "signed", &key_id, &json, &fb),
                     BALAI_ENOTFOUND);
    assert_int_equal(balai_api_e2e_keys_claim(k, "@a:x", "E", "curve25519", &key_id, &json, &fb),
                     BALAI_ENOTFOUND);
    s = sync_text(k);
    assert_string_equal(s, ",\"device_one_time_keys_count\":{\"curve25519\":1,"
                           "\"signed_curve25519\":0},"
                           "\"device_unused_fallback_key_types\":[]");
    free(s);

    balai_api_e2e_keys_del(k, "@a:x", "D", BALAI_E2E_OTK, "curve25519:2");
    balai_api_e2e_keys_del(k, "@a:x", "D", BALAI_E2E_OTK, "absent:1");
    assert_int_equal(balai_api_e2e_keys_otk_total(k, "@a:x", "D"), 0);
    assert_int_equal(balai_api_e2e_keys_otk_total(k, "@b:x", "D"), 1);
    balai_api_e2e_keys_free(k);
    balai_api_e2e_keys_free(NULL);
}

static void algorithm(void **state)
{
    char *a;
    (void)state;

    a = balai_api_e2e_key_algorithm("signed_curve25519:AAA");
    assert_string_equal(a, "signed_curve25519");
    free(a);
    assert_null(balai_api_e2e_key_algorithm("nocolon"));
    assert_null(balai_api_e2e_key_algorithm(":x"));
    assert_null(balai_api_e2e_key_algorithm("x:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_and_claims),
        cmocka_unit_test(algorithm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
