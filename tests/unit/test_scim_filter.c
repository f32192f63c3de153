/* test_scim_filter.c: SCIM filters and PATCH paths (gov/scim_filter.h):
 * the grammar, precedence, escapes, limits, error offsets and matching. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gov/scim_filter.h"
#include "util/alloc.h"

static const char user_json[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
    "\"id\":\"2819c223-7f76-453a-919d-413861904646\",\"externalId\":\"Budi01\","
    "\"userName\":\"Budi.Santoso@RS.Example\",\"active\":true,"
    "\"name\":{\"givenName\":\"Budi\",\"familyName\":\"Santoso\"},"
    "\"emails\":[{\"value\":\"budi@rs.example\",\"type\":\"work\",\"primary\":true},"
    "{\"value\":\"budi@home.example\",\"type\":\"home\"}],"
    "\"meta\":{\"lastModified\":\"2026-11-25T10:00:00.000Z\",\"version\":\"W/\\\"3\\\"\"},"
    "\"x\":{\"n\":42},"
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
    "{\"employeeNumber\":\"E200\",\"department\":\"ICU\",\"manager\":{\"value\":\"m-1\"}}}";

/* Parses f and matches it against the user; -1 when it does not parse. */
static int m(const char *f)
{
    struct balai_scim_filter *flt;
    char err[200];
    json_t *u = json_loads(user_json, 0, NULL);
    int r;

    assert_non_null(u);
    if (balai_scim_filter_parse(f, &flt, err, sizeof(err)) != BALAI_OK) {
        json_decref(u);
        return -1;
    }
    r = balai_scim_filter_match(flt, u, BALAI_SCIM_URN_USER) ? 1 : 0;
    balai_scim_filter_free(flt);
    json_decref(u);
    return r;
}

static void operators(void **state)
{
    (void)state;
    assert_int_equal(m("userName eq \"budi.santoso@rs.example\""), 1); /* case-insensitive */
    assert_int_equal(m("USERNAME EQ \"Budi.Santoso@RS.Example\""), 1);
    assert_int_equal(m("userName ne \"x\""), 1);
    assert_int_equal(m("userName co \"SANTOSO\""), 1);
    assert_int_equal(m("userName sw \"budi.\""), 1);
    assert_int_equal(m("userName ew \"@rs.example\""), 1);
    assert_int_equal(m("userName ew \"@rs.exampl\""), 0);
    assert_int_equal(m("title pr"), 0);
    assert_int_equal(m("name pr"), 1);
    assert_int_equal(m("active eq true"), 1);
    assert_int_equal(m("active eq false"), 0);
    assert_int_equal(m("x.n gt 41"), 1);
    assert_int_equal(m("x.n ge 42.0"), 1);
    assert_int_equal(m("x.n lt 42"), 0);
    assert_int_equal(m("x.n le 4.2e1"), 1);
    assert_int_equal(m("meta.lastModified gt \"2026-01-01T00:00:00Z\""), 1);
    assert_int_equal(m("meta.lastModified lt \"2026-01-01T00:00:00Z\""), 0);
    /* id and externalId compare case-exactly */
    assert_int_equal(m("externalId eq \"budi01\""), 0);
    assert_int_equal(m("externalId eq \"Budi01\""), 1);
}

static void attribute_paths(void **state)
{
    (void)state;
    assert_int_equal(m("emails.value eq \"budi@home.example\""), 1);
    assert_int_equal(m("emails eq \"budi@rs.example\""), 1); /* "value" of a complex value */
    assert_int_equal(m("emails.type eq \"other\""), 0);
    assert_int_equal(m("emails.value ne \"budi@rs.example\""), 0);
    assert_int_equal(m("name.givenName eq \"budi\""), 1);
    assert_int_equal(
        m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"E200\""),
        1);
    assert_int_equal(
        m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m-1\""),
        1);
    assert_int_equal(m("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"b\""), 1);
    assert_int_equal(m("emails[type eq \"work\" and value co \"@rs.\"]"), 1);
    assert_int_equal(m("emails[type eq \"home\" and primary eq true]"), 0);
    assert_int_equal(m("emails[not (type eq \"work\")]"), 1);
}

static void logic_and_precedence(void **state)
{
    (void)state;
    assert_int_equal(m("userName eq \"x\" or active eq true and title pr"), 0);
    assert_int_equal(m("(userName eq \"x\" or active eq true) and name pr"), 1);
    assert_int_equal(m("userName eq \"x\" or active eq true and name pr"), 1);
    assert_int_equal(m("not (active eq true)"), 0);
    assert_int_equal(m("not(active eq false) AND NOT (title pr)"), 1);
    assert_int_equal(m("  userName  pr  "), 1);
    assert_int_equal(m("((((name.familyName eq \"santoso\"))))"), 1);
}

static void escapes(void **state)
{
    struct balai_scim_filter *f;
    char err[200];

    (void)state;
    assert_int_equal(balai_scim_filter_parse("title eq \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"", &f,
                                             err, sizeof(err)),
                     BALAI_OK);
    assert_string_equal(json_string_value(f->value), "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
    balai_scim_filter_free(f);
    assert_int_equal(balai_scim_filter_parse("title eq \"\\ud83d\"", &f, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_scim_filter_parse("title eq \"\\u0000\"", &f, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_scim_filter_parse("title eq \"\\q\"", &f, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_scim_filter_parse("title eq \"\xff\"", &f, err, sizeof(err)),
                     BALAI_EINVAL);
}

static void errors_name_the_offset(void **state)
{
    static const struct {
        const char *f;
        const char *at;
    } cases[] = {
        {"", "at 0:"},
        {"userName", "at 8:"},
        {"userName eq", "at 11:"},
        {"userName xx \"a\"", "at 9:"},
        {"userName eq \"a\" or", "at 18:"},
        {"(userName eq \"a\"", "at 16:"},
        {"userName eq \"a\")", "at 15:"},
        {"userName eq \"abc", "at 12:"},
        {"emails[type eq \"w\"", "at 18:"},
        {"emails[type[x eq 1]]", "at 11:"},
        {"userName co 5", "at 0:"},
        {"1abc eq 1", "at 0:"},
        {"a:b eq 1", "at 0:"},
        {"userName eq tru", "at 12:"},
        {"not userName pr", "at 4:"},
    };
    char err[200];

    (void)state;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(cases); i++) {
        struct balai_scim_filter *f = (void *)1;
        int rc = balai_scim_filter_parse(cases[i].f, &f, err, sizeof(err));
        if (rc != BALAI_EINVAL || f != NULL || strncmp(err, cases[i].at, strlen(cases[i].at)) != 0)
            fail_msg("'%s': rc %d, error '%s', expected '%s...'", cases[i].f, rc, err,
                     cases[i].at);
    }
}

static void limits(void **state)
{
    struct balai_scim_filter *f;
    char err[200], *deep, *wide;
    size_t k = 0;

    (void)state;
    /* nesting beyond the limit */
    deep = balai_malloc(200);
    for (int i = 0; i < 40; i++)
        deep[k++] = '(';
    memcpy(deep + k, "a pr", 4);
    k += 4;
    for (int i = 0; i < 40; i++)
        deep[k++] = ')';
    deep[k] = '\0';
    assert_int_equal(balai_scim_filter_parse(deep, &f, err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "deeply"));
    free(deep);
    /* too many terms */
    wide = balai_malloc(BALAI_SCIM_FILTER_MAX_LEN + 100);
    k = 0;
    for (int i = 0; i < 600 && k < BALAI_SCIM_FILTER_MAX_LEN - 20; i++)
        k += (size_t)sprintf(wide + k, "%sa pr", i ? " or " : "");
    wide[k] = '\0';
    assert_int_equal(balai_scim_filter_parse(wide, &f, err, sizeof(err)), BALAI_EINVAL);
    free(wide);
    /* too long */
    wide = balai_malloc(BALAI_SCIM_FILTER_MAX_LEN + 20);
    memset(wide, 'a', BALAI_SCIM_FILTER_MAX_LEN + 10);
    wide[BALAI_SCIM_FILTER_MAX_LEN + 10] = '\0';
    assert_int_equal(balai_scim_filter_parse(wide, &f, err, sizeof(err)), BALAI_EINVAL);
    free(wide);
    assert_int_equal(balai_scim_filter_parse(NULL, &f, err, sizeof(err)), BALAI_EINVAL);
}

static void patch_paths(void **state)
{
    struct balai_scim_path *p;
    char err[200];

    (void)state;
    assert_int_equal(balai_scim_path_parse("emails[type eq \"work\"].value", &p, err, sizeof(err)),
                     BALAI_OK);
    assert_string_equal(p->attr.name, "emails");
    assert_string_equal(p->attr.sub, "value");
    assert_non_null(p->filter);
    balai_scim_path_free(p);
    assert_int_equal(balai_scim_path_parse("members[value eq \"2819c223\"]", &p, err, sizeof(err)),
                     BALAI_OK);
    assert_null(p->attr.sub);
    balai_scim_path_free(p);
    assert_int_equal(
        balai_scim_path_parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                              &p, err, sizeof(err)),
        BALAI_OK);
    assert_string_equal(p->attr.urn, BALAI_SCIM_URN_ENTERPRISE);
    assert_string_equal(p->attr.name, "manager");
    balai_scim_path_free(p);
    assert_int_equal(balai_scim_path_parse(BALAI_SCIM_URN_ENTERPRISE, &p, err, sizeof(err)),
                     BALAI_OK);
    assert_null(p->attr.name);
    balai_scim_path_free(p);
    assert_int_equal(balai_scim_path_parse("name.givenName", &p, err, sizeof(err)), BALAI_OK);
    assert_string_equal(p->attr.sub, "givenName");
    balai_scim_path_free(p);
    assert_int_equal(balai_scim_path_parse("emails[type eq", &p, err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_scim_path_parse("emails[]", &p, err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_scim_path_parse("emails]", &p, err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_scim_path_parse("name.given.x", &p, err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_scim_path_parse("", &p, err, sizeof(err)), BALAI_EINVAL);
}

static void json_get(void **state)
{
    json_t *o = json_pack("{s:i}", "displayName", 1);
    const char *k = NULL;

    (void)state;
    assert_non_null(balai_scim_json_get(o, "DISPLAYNAME", &k));
    assert_string_equal(k, "displayName");
    assert_null(balai_scim_json_get(o, "display", NULL));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operators),     cmocka_unit_test(attribute_paths),
        cmocka_unit_test(logic_and_precedence), cmocka_unit_test(escapes),
        cmocka_unit_test(errors_name_the_offset), cmocka_unit_test(limits),
        cmocka_unit_test(patch_paths),   cmocka_unit_test(json_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
