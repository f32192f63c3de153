/* test_json.c: request-body parsing and typed field access. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/json.h"

static void parses_object(void **state)
{
    char err[BALAI_JSON_ERR_LEN];
    json_t *o = NULL;
    const char *s;
    int64_t i;
    int b;
    const char *body = "{\"a\":\"x\",\"n\":42,\"t\":true}";
    assert_int_equal(balai_json_parse_object(body, strlen(body), 0, &o, err, sizeof(err)),
                     BALAI_OK);
    assert_int_equal(balai_json_get_str(o, "a", &s, err, sizeof(err)), BALAI_OK);
    assert_string_equal(s, "x");
    assert_int_equal(balai_json_get_int(o, "n", &i, err, sizeof(err)), BALAI_OK);
    assert_int_equal(i, 42);
    assert_int_equal(balai_json_get_bool(o, "t", &b, err, sizeof(err)), BALAI_OK);
    assert_true(b);
    assert_int_equal(balai_json_get_str(o, "missing", &s, err, sizeof(err)), BALAI_ENOTFOUND);
    assert_int_equal(balai_json_get_str(o, "n", &s, err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "'n' must be a string"));
    assert_int_equal(balai_json_get_int(o, "a", &i, err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_json_get_bool(o, "n", &b, err, sizeof(err)), BALAI_EINVAL);
    json_decref(o);
}

static void rejects_bad_bodies(void **state)
{
    char err[BALAI_JSON_ERR_LEN];
    json_t *o = NULL;
    static const char *const bad[] = {
        "", "{", "[1,2]", "\"str\"", "42", "{\"a\":1,\"a\":2}", "{\"a\":1} trailing", "nul"};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(balai_json_parse_object(bad[i], strlen(bad[i]), 0, &o, err, sizeof(err)),
                         BALAI_EINVAL);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(balai_json_parse_object("", 0, 1, &o, err, sizeof(err)), BALAI_OK);
    assert_int_equal(json_object_size(o), 0);
    json_decref(o);
}

static void rejects_deep_nesting(void **state)
{
    char err[BALAI_JSON_ERR_LEN];
    char body[400];
    json_t *o = NULL;
    size_t n = 0;
    body[n++] = '{';
    body[n++] = '"';
    body[n++] = 'a';
    body[n++] = '"';
    body[n++] = ':';
    for (int i = 0; i < 100; i++)
        body[n++] = '[';
    for (int i = 0; i < 100; i++)
        body[n++] = ']';
    body[n++] = '}';
    assert_int_equal(balai_json_parse_object(body, n, 0, &o, err, sizeof(err)), BALAI_EINVAL);
}

static void dumps_sorted(void **state)
{
    json_t *o = json_pack("{s:i, s:i}", "b", 1, "a", 2);
    size_t len;
    char *s = balai_json_dump(o, 1, &len);
    assert_string_equal(s, "{\"a\":2,\"b\":1}");
    assert_int_equal(len, strlen(s));
    free(s);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_object),
        cmocka_unit_test(rejects_bad_bodies),
        cmocka_unit_test(rejects_deep_nesting),
        cmocka_unit_test(dumps_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
