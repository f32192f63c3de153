/* test_router.c: unit tests for src/http/router.c (precedence, 404 vs 405,
 * percent-decoding, bad patterns, duplicates). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h_a(struct balai_http_req *req)
{
    (void)req;
}

static void h_b(struct balai_http_req *req)
{
    (void)req;
}

static int match(const struct balai_router *r, enum balai_http_method m, const char *path,
                 struct balai_route_match *out)
{
    return balai_router_match(r, m, path, strlen(path), out);
}

static void test_literal_beats_placeholder(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;

    (void)state;
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/{x}/c", h_a, 0, NULL), BALAI_OK);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/b/c", h_b, 0, NULL), BALAI_OK);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/b/d", h_b, 0, NULL), BALAI_OK);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/a/b/c", &m), BALAI_OK);
    assert_string_equal(balai_route_pattern(m.route), "/a/b/c");
    assert_int_equal(m.nparams, 0);
    balai_route_match_release(&m);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/a/zz/c", &m), BALAI_OK);
    assert_string_equal(balai_route_pattern(m.route), "/a/{x}/c");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "zz");
    assert_string_equal(balai_route_param_name(m.route, 0), "x");
    balai_route_match_release(&m);

    /* the literal branch dead-ends: fall back to the placeholder */
    balai_router_free(r);
    r = balai_router_new();
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/b/d", h_b, 0, NULL), BALAI_OK);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/{x}/c", h_a, 0, NULL), BALAI_OK);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/a/b/c", &m), BALAI_OK);
    assert_string_equal(balai_route_pattern(m.route), "/a/{x}/c");
    assert_string_equal(m.params[0], "b");
    balai_route_match_release(&m);
    balai_router_free(r);
}

static void test_not_found_vs_method(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;
    char allow[64];

    (void)state;
    assert_int_equal(balai_router_add(r, BALAI_HTTP_PUT,
                                      "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}",
                                      h_a, 0, NULL),
                     BALAI_OK);
    assert_int_equal(
        balai_router_add(r, BALAI_HTTP_GET, "/_matrix/client/v3/profile/{userId}", h_a, 0, NULL),
        BALAI_OK);
    assert_int_equal(
        balai_router_add(r, BALAI_HTTP_DELETE, "/_matrix/client/v3/profile/{userId}", h_b, 0, NULL),
        BALAI_OK);

    assert_int_equal(match(r, BALAI_HTTP_PUT, "/_matrix/client/v3/rooms/!r:x/send/m.text/t1", &m),
                     BALAI_OK);
    assert_int_equal(m.nparams, 3);
    assert_string_equal(m.params[0], "!r:x");
    assert_string_equal(m.params[1], "m.text");
    assert_string_equal(m.params[2], "t1");
    balai_route_match_release(&m);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/rooms/!r:x/send/m.text/t1", &m),
                     BALAI_ESTATE);
    assert_int_equal(m.allow, 1u << BALAI_HTTP_PUT);
    assert_int_equal(match(r, BALAI_HTTP_POST, "/_matrix/client/v3/profile/@a:x", &m),
                     BALAI_ESTATE);
    balai_router_allow_text(m.allow, allow, sizeof(allow));
    assert_string_equal(allow, "GET, DELETE");

    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/nothing", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/profile", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/profile/a/b", &m),
                     BALAI_ENOTFOUND);
    /* a placeholder needs a non-empty segment */
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/profile/", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "*", &m), BALAI_ENOTFOUND);
    /* OTHER never matches a route, but the path exists */
    assert_int_equal(match(r, BALAI_HTTP_OTHER, "/_matrix/client/v3/profile/@a:x", &m),
                     BALAI_ESTATE);

    /* HEAD falls back to GET */
    assert_int_equal(match(r, BALAI_HTTP_HEAD, "/_matrix/client/v3/profile/@a:x", &m), BALAI_OK);
    assert_string_equal(balai_route_pattern(m.route), "/_matrix/client/v3/profile/{userId}");
    balai_route_match_release(&m);
    balai_router_free(r);
}

static void test_percent_decoding(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;

    (void)state;
    assert_int_equal(
        balai_router_add(r, BALAI_HTTP_GET, "/rooms/{roomId}/state/{type}", h_a, 0, NULL),
        BALAI_OK);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/%21abc%3Aexample.org/state/m.room.name", &m),
                     BALAI_OK);
    assert_string_equal(m.params[0], "!abc:example.org");
    assert_string_equal(m.params[1], "m.room.name");
    balai_route_match_release(&m);

    /* an encoded slash stays inside the value */
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/a%2Fb/state/x%2fy%20z", &m), BALAI_OK);
    assert_string_equal(m.params[0], "a/b");
    assert_string_equal(m.params[1], "x/y z");
    balai_route_match_release(&m);

    /* '+' is not a space in a path */
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/a+b/state/t", &m), BALAI_OK);
    assert_string_equal(m.params[0], "a+b");
    balai_route_match_release(&m);

    /* UTF-8 */
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/%E2%9C%93/state/t", &m), BALAI_OK);
    assert_string_equal(m.params[0], "\xe2\x9c\x93");
    balai_route_match_release(&m);

    /* bad escapes and NUL do not match */
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/%zz/state/t", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/%4/state/t", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/abc%/state/t", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/a%00b/state/t", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/rooms/ok/state/%0", &m), BALAI_ENOTFOUND);

    /* the length is honoured (no NUL terminator needed) */
    assert_int_equal(balai_router_match(r, BALAI_HTTP_GET, "/rooms/x/state/yJUNK", 16, &m),
                     BALAI_OK);
    assert_string_equal(m.params[1], "y");
    balai_route_match_release(&m);
    balai_router_free(r);
}

static void test_bad_patterns(void **state)
{
    struct balai_router *r = balai_router_new();
    static const char *const bad[] = {
        "",     "a/b",     "/a//b",    "//",     "/{",         "/{}",    "/a{b}",
        "/{x",  "/x}",     "/{x}/{x}", "/a?b",   "/a#b",       "/a%20b", "/{a-b}",
        "/a b", "/{x}{y}", "/{x}}",    "/{{x}}", "/a/{x}/b//",
    };
    char many[256];

    (void)state;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        if (balai_router_add(r, BALAI_HTTP_GET, bad[i], h_a, 0, NULL) != BALAI_EINVAL)
            fail_msg("pattern '%s' was accepted", bad[i]);
    }
    assert_int_equal(balai_router_add(r, BALAI_HTTP_OTHER, "/ok", h_a, 0, NULL), BALAI_EINVAL);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/ok", NULL, 0, NULL), BALAI_EINVAL);

    /* eight placeholders are fine, nine are not */
    snprintf(many, sizeof(many), "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}");
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, many, h_a, 0, NULL), BALAI_OK);
    snprintf(many, sizeof(many), "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}");
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, many, h_a, 0, NULL), BALAI_EINVAL);
    /* a failed add leaves nothing behind */
    {
        struct balai_route_match m;
        assert_int_equal(match(r, BALAI_HTTP_GET, "/1/2/3/4/5/6/7/8/9", &m), BALAI_ENOTFOUND);
        assert_int_equal(match(r, BALAI_HTTP_GET, "/1/2/3/4/5/6/7/8", &m), BALAI_OK);
        assert_string_equal(m.params[7], "8");
        balai_route_match_release(&m);
    }
    balai_router_free(r);
}

static void test_duplicates_and_shapes(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;
    int data = 7;

    (void)state;
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/{x}", h_a, 100, &data), BALAI_OK);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/{x}", h_b, 0, NULL), BALAI_EEXIST);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/a/{y}", h_b, 0, NULL), BALAI_EEXIST);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_PUT, "/a/{y}", h_b, 0, NULL), BALAI_OK);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/a/1", &m), BALAI_OK);
    assert_ptr_equal(balai_route_handler(m.route), h_a);
    assert_int_equal(balai_route_max_body(m.route), 100);
    assert_ptr_equal(balai_route_data(m.route), &data);
    balai_route_match_release(&m);
    assert_int_equal(match(r, BALAI_HTTP_PUT, "/a/1", &m), BALAI_OK);
    assert_string_equal(balai_route_param_name(m.route, 0), "y");
    assert_null(balai_route_param_name(m.route, 1));
    balai_route_match_release(&m);
    balai_router_free(r);
}

static void test_root_and_trailing_slash(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;

    (void)state;
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/", h_a, 0, NULL), BALAI_OK);
    assert_int_equal(
        balai_router_add(r, BALAI_HTTP_GET, "/_matrix/client/v3/pushrules/", h_a, 0, NULL),
        BALAI_OK);
    assert_int_equal(balai_router_add(r, BALAI_HTTP_GET, "/_matrix/client/versions", h_b, 0, NULL),
                     BALAI_OK);

    assert_int_equal(match(r, BALAI_HTTP_GET, "/", &m), BALAI_OK);
    assert_string_equal(balai_route_pattern(m.route), "/");
    balai_route_match_release(&m);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/pushrules/", &m), BALAI_OK);
    balai_route_match_release(&m);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/v3/pushrules", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "/_matrix/client/versions/", &m), BALAI_ENOTFOUND);
    assert_int_equal(match(r, BALAI_HTTP_GET, "//", &m), BALAI_ENOTFOUND);
    balai_router_free(r);
}

static void test_many_routes(void **state)
{
    struct balai_router *r = balai_router_new();
    struct balai_route_match m;
    char pat[128], path[128];

    (void)state;
    for (int i = 0; i < 150; i++) {
        snprintf(pat, sizeof(pat), "/_matrix/client/v3/area%d/{id}/thing%d", i % 40, i);
        assert_int_equal(balai_router_add(r, (enum balai_http_method)(i % 4), pat, h_a, 0, NULL),
                         BALAI_OK);
    }
    /* a segment count far over the limit does not match and does not crash */
    memset(path, 0, sizeof(path));
    for (int i = 0; i < 60; i++)
        memcpy(path + 2 * i, "/x", 2);
    assert_int_equal(match(r, BALAI_HTTP_GET, path, &m), BALAI_ENOTFOUND);
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 150; i++) {
            snprintf(path, sizeof(path), "/_matrix/client/v3/area%d/id%d/thing%d", i % 40, round,
                     i);
            assert_int_equal(match(r, (enum balai_http_method)(i % 4), path, &m), BALAI_OK);
            balai_route_match_release(&m);
        }
    }
    balai_router_free(r);
    balai_router_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_beats_placeholder),
        cmocka_unit_test(test_not_found_vs_method),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_duplicates_and_shapes),
        cmocka_unit_test(test_root_and_trailing_slash),
        cmocka_unit_test(test_many_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
