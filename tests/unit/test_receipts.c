/* test_receipts.c: read receipts in memory (api/receipts.h) and their m.receipt
 * event for /sync. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/receipts.h"
#include "util/buf.h"

/* The text of b, "" when empty. */
static const char *text(const struct balai_buf *b)
{
    return b->data ? b->data : "";
}

/* Writes into b the m.receipt event of !r:x for user after `after` (empty
 * when none). */
static void event_of(struct balai_receipts *rs, const char *user, int64_t after,
                     struct balai_buf *b)
{
    balai_buf_release(b);
    balai_buf_init(b, 0);
    size_t n = balai_api_receipts_each(rs, user, "!r:x", after, b, 0);
    assert_int_equal(n, b->len ? 1 : 0);
    /* counting agrees with writing */
    assert_int_equal(balai_api_receipts_each(rs, user, "!r:x", after, NULL, 0), n);
}

static void receipts(void **state)
{
    struct balai_receipts *rs = balai_api_receipts_new();
    struct balai_buf b;
    (void)state;

    balai_buf_init(&b, 0);
    assert_int_equal(balai_api_receipts_pos(rs), 0);
    event_of(rs, "@a:x", 0, &b);
    assert_string_equal(text(&b), "");

    balai_api_receipts_put(rs, "!r:x", "@a:x", BALAI_RECEIPT_READ, "", "$1", 100, 1);
    balai_api_receipts_put(rs, "!r:x", "@b:x", BALAI_RECEIPT_READ, "main", "$1", 200, 2);
    balai_api_receipts_put(rs, "!r:x", "@b:x", BALAI_RECEIPT_PRIVATE, "", "$2", 300, 3);
    balai_api_receipts_put(rs, "!s:x", "@a:x", BALAI_RECEIPT_READ, "", "$9", 400, 4);
    assert_int_equal(balai_api_receipts_pos(rs), 4);

    /* a's view: b's private receipt is hidden */
    event_of(rs, "@a:x", 0, &b);
    assert_string_equal(text(&b), "{\"type\":\"m.receipt\",\"content\":{\"$1\":{\"m.read\":{"
                                  "\"@a:x\":{\"ts\":100},"
                                  "\"@b:x\":{\"thread_id\":\"main\",\"ts\":200}}}}}");
    /* b sees its own */
    event_of(rs, "@b:x", 2, &b);
    assert_string_equal(text(&b), "{\"type\":\"m.receipt\",\"content\":{\"$2\":{\"m.read.private\":"
                                  "{\"@b:x\":{\"ts\":300}}}}}");
    /* after 2, a sees nothing in !r:x */
    event_of(rs, "@a:x", 2, &b);
    assert_string_equal(text(&b), "");

    /* a replacement moves the receipt; an older position is ignored */
    balai_api_receipts_put(rs, "!r:x", "@a:x", BALAI_RECEIPT_READ, "", "$3", 500, 5);
    balai_api_receipts_put(rs, "!r:x", "@a:x", BALAI_RECEIPT_READ, "", "$0", 50, 1);
    event_of(rs, "@b:x", 4, &b);
    assert_string_equal(text(&b),
                        "{\"type\":\"m.receipt\",\"content\":{\"$3\":{\"m.read\":{\"@a:x\":{\"ts\":"
                        "500}}}}}");
    /* comma when asked */
    balai_buf_release(&b);
    balai_buf_init(&b, 0);
    assert_int_equal(balai_api_receipts_each(rs, "@b:x", "!r:x", 4, &b, 1), 1);
    assert_true(b.data[0] == ',');
    assert_int_equal(balai_api_receipts_each(rs, "@b:x", "!none:x", 0, &b, 1), 0);

    balai_buf_release(&b);
    balai_api_receipts_free(rs);
    balai_api_receipts_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receipts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
