/* test_csv.c: the RFC 4180 reader (util/csv.h). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/csv.h"

/* Reads every record of s into a "|"-joined, ";"-separated text with line
 * numbers ("2:a|b;3:c"); returns the reader's last result. */
static int read_all(const char *s, size_t len, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    struct balai_csv r;
    char **f;
    size_t n, line, o = 0;
    int rc;

    out[0] = '\0';
    balai_csv_init(&r, s, len);
    while ((rc = balai_csv_next(&r, &f, &n, &line, err, errlen)) == 1) {
        o += (size_t)snprintf(out + o, outlen - o, "%s%zu:", o ? ";" : "", line);
        for (size_t i = 0; i < n; i++)
            o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "|" : "", f[i]);
    }
    balai_csv_release(&r);
    return rc;
}

static void plain_records(void **state)
{
    char out[512], err[200];
    const char *s = "a,b,c\n1,2,3\n";
    (void)state;
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "1:a|b|c;2:1|2|3");
    /* no final newline, empty fields, CRLF and a lone CR */
    s = "x,,z\r\n,\rlast";
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "1:x||z;2:|;3:last");
}

static void quoting(void **state)
{
    char out[512], err[200];
    const char *s = "name,title\n\"Budi, S.Kep\",\"Nurse \"\"senior\"\"\"\n\"multi\nline\",x\nnext,1\n";
    (void)state;
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "1:name|title;2:Budi, S.Kep|Nurse \"senior\";3:multi\nline|x;5:next|1");
    s = "\"\",\"\"\"\"";
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "1:|\"");
}

static void bom_and_blank_lines(void **state)
{
    char out[512], err[200];
    const char *s = "\xEF\xBB\xBFusername\r\n\r\n\r\nsiti\r\n\r\n";
    (void)state;
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "1:username;4:siti");
    assert_int_equal(read_all("", 0, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "");
}

static void errors_name_the_line(void **state)
{
    char out[512], err[200];
    const char *s = "a,b\nok,1\n\"open,2\nmore\n";
    (void)state;
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), BALAI_EINVAL);
    assert_string_equal(out, "1:a|b;2:ok|1");
    assert_non_null(strstr(err, "line 3"));
    s = "a\nx\"y\n";
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "line 2"));
    s = "a\n\n\"q\"x\n";
    assert_int_equal(read_all(s, strlen(s), out, sizeof(out), err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "line 3"));
    const char nul[] = {'a', ',', '\0', 'b'};
    assert_int_equal(read_all(nul, sizeof(nul), out, sizeof(out), err, sizeof(err)), BALAI_EINVAL);
}

static void limits(void **state)
{
    char out[4096], err[200];
    char many[BALAI_CSV_MAX_FIELDS * 2 + 8];
    static char big[BALAI_CSV_MAX_FIELD + 10];
    (void)state;
    size_t n = 0;
    for (int i = 0; i <= BALAI_CSV_MAX_FIELDS; i++) {
        many[n++] = 'x';
        many[n++] = ',';
    }
    many[n - 1] = '\n';
    assert_int_equal(read_all(many, n, out, sizeof(out), err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "too many"));
    memset(big, 'y', sizeof(big));
    assert_int_equal(read_all(big, sizeof(big), out, sizeof(out), err, sizeof(err)),
                     BALAI_EINVAL);
    assert_non_null(strstr(err, "too long"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_records),
        cmocka_unit_test(quoting),
        cmocka_unit_test(bom_and_blank_lines),
        cmocka_unit_test(errors_name_the_line),
        cmocka_unit_test(limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
