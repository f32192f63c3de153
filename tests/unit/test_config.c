/* test_config.c: INI parsing, defaults, environment overrides, validation. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util/ini.h"

struct seen {
    int n;
    char last[3][64];
};

static int collect(const char *section, const char *key, const char *value, int line, void *arg)
{
    struct seen *s = arg;
    snprintf(s->last[0], 64, "%s", section);
    snprintf(s->last[1], 64, "%s", key);
    snprintf(s->last[2], 64, "%s", value);
    s->n++;
    return 0;
}

static void ini_basics(void **state)
{
    const char *text = "# comment\n; other\n\n[server]\n  name =  \" spaced \"  \n";
    struct seen s = {0};
    char err[200];
    assert_int_equal(balai_ini_parse(text, strlen(text), collect, &s, err, sizeof(err)), BALAI_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.last[0], "server");
    assert_string_equal(s.last[1], "name");
    assert_string_equal(s.last[2], " spaced ");
}

static void ini_errors(void **state)
{
    static const char *const bad[] = {"[server\n", "novalue\n", "[bad section!]\n", " = x\n",
                                      "[s]\nk y = 1\n"};
    char err[200];
    struct seen s = {0};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(balai_ini_parse(bad[i], strlen(bad[i]), collect, &s, err, sizeof(err)),
                         BALAI_EINVAL);
        assert_non_null(strstr(err, "line"));
    }
}

static void defaults_and_overrides(void **state)
{
    struct balai_config c;
    char err[300];
    char path[] = "/tmp/balai-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[server]\nserver_name = example.org\nlisten = 0.0.0.0:9000\n"
                       "[limits]\nmax_body = 2048\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    balai_config_init(&c, "/data");
    assert_string_equal(c.listen, "127.0.0.1:8008");
    assert_int_equal(c.max_body, 65536);
    assert_string_equal(c.e2ee, "deny");
    assert_int_equal(balai_config_load_file(&c, path, err, sizeof(err)), BALAI_OK);
    assert_string_equal(c.server_name, "example.org");
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.max_body, 2048);

    char *env[] = {(char *)"BALAI_LIMITS_MAX_BODY=4096", (char *)"BALAI_SERVER_LISTEN=127.0.0.2:1",
                   (char *)"OTHER=1", NULL};
    assert_int_equal(balai_config_load_env(&c, env, err, sizeof(err)), BALAI_OK);
    assert_int_equal(c.max_body, 4096);
    assert_string_equal(c.listen, "127.0.0.2:1");
    assert_int_equal(balai_config_validate(&c, err, sizeof(err)), BALAI_OK);

    char *p = balai_config_path(&c, "balai.db");
    assert_string_equal(p, "/data/balai.db");
    free(p);
    balai_config_release(&c);
    unlink(path);
}

static void bad_values(void **state)
{
    struct balai_config c;
    char err[300];
    balai_config_init(&c, "/d");
    assert_int_equal(balai_config_set(&c, "limits", "max_body", "abc", err, sizeof(err)),
                     BALAI_EINVAL);
    assert_non_null(strstr(err, "integer"));
    assert_int_equal(balai_config_set(&c, "limits", "max_body", "1", err, sizeof(err)),
                     BALAI_EINVAL);
    assert_non_null(strstr(err, "between"));
    assert_int_equal(balai_config_set(&c, "nope", "key", "1", err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "unknown"));
    assert_int_equal(balai_config_set(&c, "security", "e2ee", "maybe", err, sizeof(err)), BALAI_OK);
    assert_int_equal(balai_config_validate(&c, err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "e2ee"));
    balai_config_set(&c, "security", "e2ee", "deny", err, sizeof(err));
    balai_config_set(&c, "server", "server_name", "bad name", err, sizeof(err));
    assert_int_equal(balai_config_validate(&c, err, sizeof(err)), BALAI_EINVAL);
    char *env[] = {(char *)"BALAI_LIMITS_MAX_BODY=x", NULL};
    assert_int_equal(balai_config_load_env(&c, env, err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "BALAI_LIMITS_MAX_BODY"));
    balai_config_release(&c);
}

static void every_key_documented(void **state)
{
    int n = 0;
    for (const struct balai_config_key *k = balai_config_keys(); k->section; k++) {
        assert_true(strlen(k->help) > 10);
        n++;
    }
    assert_true(n > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ini_basics),
        cmocka_unit_test(ini_errors),
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(every_key_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
