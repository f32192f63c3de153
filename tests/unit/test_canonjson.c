/* test_canonjson.c: canonical JSON (spec appendix vectors, escapes, numbers, limits). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/canonjson.h"
#include "util/buf.h"

/* Parses `in` (any JSON value) and checks its canonical form is `want`. */
static void expect(const char *in, const char *want)
{
    json_error_t err;
    json_t *v = json_loads(in, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    size_t len = 0;
    char *out;

    if (!v)
        fail_msg("bad test input %s: %s", in, err.text);
    out = balai_canonjson(v, &len);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(balai_canonjson_check(v), BALAI_OK);
    free(out);
    json_decref(v);
}

static void refuse(json_t *v)
{
    assert_null(balai_canonjson(v, NULL));
    assert_int_equal(balai_canonjson_check(v), BALAI_EINVAL);
    json_decref(v);
}

/* SPEC: Appendices, Canonical JSON, "Examples". */
static void spec_examples(void **state)
{
    expect("{}", "{}");
    expect("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", "{\"one\":1,\"two\":\"Two\"}");
    expect("{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", "{\"a\":\"1\",\"b\":\"2\"}");
    expect("{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
    expect("{\"auth\": {\"success\": true, \"mxid\": \"@john.doe:example.com\", \"profile\": "
           "{\"display_name\": \"John Doe\", \"three_pids\": [{\"medium\": \"email\", "
           "\"address\": \"john.doe@example.org\"}, {\"medium\": \"msisdn\", \"address\": "
           "\"123456789\"}]}}}",
           "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":\"John "
           "Doe\",\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":\"email\"},{"
           "\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":true}}");
    expect("{\"a\": \"日本語\"}", "{\"a\":\"日本語\"}");
    expect("{\"本\": 2, \"日\": 1}", "{\"日\":1,\"本\":2}");
    expect("{\"a\": \"\\u65E5\"}", "{\"a\":\"日\"}");
    expect("{\"a\": null}", "{\"a\":null}");
    expect("{\"a\": -0, \"b\": 1e10}", "{\"a\":0,\"b\":10000000000}");
}

static void escapes(void **state)
{
    /* Only " \ and the control characters are escaped; \u00xx in lower case. */
    expect("\"\\u0000\\u0001\\u001f\\b\\t\\n\\u000b\\f\\r\\u001b\"",
           "\"\\u0000\\u0001\\u001f\\b\\t\\n\\u000b\\f\\r\\u001b\"");
    expect("\"quote \\\" backslash \\\\ slash \\/ del \\u007f\"",
           "\"quote \\\" backslash \\\\ slash / del \x7f\"");
    /* Non-ASCII is written as UTF-8, never escaped, including astral planes. */
    expect("\"\\u00e9\\ud83d\\ude00\"", "\"é😀\"");
    /* Keys are escaped the same way. */
    expect("{\"a\\nb\": 1}", "{\"a\\nb\":1}");
}

static void key_order(void **state)
{
    /* Byte order of UTF-8 is codepoint order (not UTF-16 order). */
    expect("{\"😀\": 1, \"\\uffff\": 2, \"é\": 3, \"a\": 4, \"B\": 5, \"\": 6, \"ab\": 7}",
           "{\"\":6,\"B\":5,\"a\":4,\"ab\":7,\"é\":3,\"\xef\xbf\xbf\":2,\"😀\":1}");
    expect("[3, {\"z\": [], \"y\": {}}, \"x\", true, false, null]",
           "[3,{\"y\":{},\"z\":[]},\"x\",true,false,null]");
}

static void numbers(void **state)
{
    expect("[9007199254740991, -9007199254740991, 0, -1]",
           "[9007199254740991,-9007199254740991,0,-1]");
    refuse(json_integer(9007199254740992LL));
    refuse(json_integer(-9007199254740992LL));
    refuse(json_real(1.5));
    refuse(json_real(9007199254740992.0));
    refuse(json_pack("{s:[f]}", "a", 0.1));
    expect("[1.0, -0.0, 2E3]", "[1,0,2000]");
}

static void bad_input(void **state)
{
    json_t *deep, *v;
    int i;

    assert_int_equal(balai_canonjson_check(NULL), BALAI_EINVAL);
    refuse(json_stringn_nocheck("\xff", 1));
    refuse(json_stringn_nocheck("\xc0\x80", 2));         /* overlong NUL */
    refuse(json_stringn_nocheck("\xed\xa0\x80", 3));     /* surrogate */
    refuse(json_stringn_nocheck("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    refuse(json_stringn_nocheck("\xe6\x97", 2));         /* truncated */
    v = json_object();
    json_object_set_new_nocheck(v, "\xfe", json_null());
    refuse(v);

    deep = json_array();
    v = deep;
    for (i = 0; i < BALAI_CANONJSON_MAX_DEPTH; i++) {
        json_t *inner = json_array();
        json_array_append_new(v, inner);
        v = inner;
    }
    assert_int_equal(balai_canonjson_check(deep), BALAI_OK);
    json_array_append_new(v, json_array());
    refuse(deep);
}

static void buffer_cap(void **state)
{
    struct balai_buf b;
    json_t *v = json_pack("{s:s}", "key", "a value that does not fit");

    balai_buf_init(&b, 10);
    assert_int_equal(balai_canonjson_write(&b, v), BALAI_ETOOBIG);
    balai_buf_release(&b);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_canonjson_write(&b, v), BALAI_OK);
    assert_string_equal(b.data, "{\"key\":\"a value that does not fit\"}");
    balai_buf_release(&b);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_examples), cmocka_unit_test(escapes),   cmocka_unit_test(key_order),
        cmocka_unit_test(numbers),       cmocka_unit_test(bad_input), cmocka_unit_test(buffer_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
