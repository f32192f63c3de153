/* test_typing.c: the in-memory typing state (sync/typing.h). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sync/typing.h"

/* The room's typists as "a,b," in start order. */
struct list {
    char s[256];
};

static void add(const char *user_id, void *arg)
{
    struct list *l = arg;
    strncat(l->s, user_id, sizeof(l->s) - strlen(l->s) - 2);
    strcat(l->s, ",");
}

static int64_t room(const struct balai_typing *t, const char *room_id, struct list *l)
{
    l->s[0] = '\0';
    return balai_typing_room(t, room_id, add, l);
}

static void count_changed(const char *room_id, void *arg)
{
    (void)room_id;
    (*(int *)arg)++;
}

static void start_stop(void **state)
{
    struct balai_typing *t = balai_typing_new(1000);
    struct list l;
    (void)state;

    assert_int_equal(balai_typing_pos(t), 1000);
    assert_int_equal(balai_typing_next_expiry(t), -1);
    assert_int_equal(room(t, "!r:x", &l), 0);
    /* stopping in an unknown room changes nothing */
    assert_int_equal(balai_typing_set(t, "!r:x", "@a:x", 0, 0), 0);
    assert_int_equal(balai_typing_pos(t), 1000);

    assert_int_equal(balai_typing_set(t, "!r:x", "@a:x", 1, 500), 1);
    assert_int_equal(balai_typing_pos(t), 1001);
    assert_int_equal(balai_typing_set(t, "!r:x", "@b:x", 1, 300), 1);
    assert_int_equal(room(t, "!r:x", &l), 1002);
    assert_string_equal(l.s, "@a:x,@b:x,");
    assert_int_equal(balai_typing_next_expiry(t), 300);
    /* a refresh moves the expiry only */
    assert_int_equal(balai_typing_set(t, "!r:x", "@b:x", 1, 900), 0);
    assert_int_equal(balai_typing_pos(t), 1002);
    assert_int_equal(balai_typing_next_expiry(t), 500);
    /* another room has its own set and position */
    assert_int_equal(balai_typing_set(t, "!s:x", "@a:x", 1, 700), 1);
    assert_int_equal(room(t, "!s:x", &l), 1003);
    assert_string_equal(l.s, "@a:x,");
    assert_int_equal(room(t, "!r:x", &l), 1002);

    assert_int_equal(balai_typing_set(t, "!r:x", "@a:x", 0, 0), 1);
    assert_int_equal(room(t, "!r:x", &l), 1004);
    assert_string_equal(l.s, "@b:x,");
    assert_int_equal(balai_typing_set(t, "!r:x", "@a:x", 0, 0), 0);
    assert_int_equal(balai_typing_set(t, "!r:x", "@b:x", 0, 0), 1);
    /* an emptied room keeps its position */
    assert_int_equal(room(t, "!r:x", &l), 1005);
    assert_string_equal(l.s, "");
    assert_int_equal(balai_typing_room(t, "!r:x", NULL, NULL), 1005);
    balai_typing_free(t);
    balai_typing_free(NULL);
}

static void expiry(void **state)
{
    struct balai_typing *t = balai_typing_new(0);
    struct list l;
    int changed = 0;
    (void)state;

    balai_typing_set(t, "!r:x", "@a:x", 1, 100);
    balai_typing_set(t, "!r:x", "@b:x", 1, 200);
    balai_typing_set(t, "!r:x", "@c:x", 1, 100);
    balai_typing_set(t, "!s:x", "@a:x", 1, 300);
    assert_int_equal(balai_typing_pos(t), 4);

    balai_typing_expire(t, 99, count_changed, &changed);
    assert_int_equal(changed, 0);
    assert_int_equal(balai_typing_pos(t), 4);

    balai_typing_expire(t, 100, count_changed, &changed);
    assert_int_equal(changed, 1);
    assert_int_equal(room(t, "!r:x", &l), 5);
    assert_string_equal(l.s, "@b:x,");
    assert_int_equal(balai_typing_next_expiry(t), 200);

    changed = 0;
    balai_typing_expire(t, 1000, count_changed, &changed);
    assert_int_equal(changed, 2);
    assert_int_equal(balai_typing_pos(t), 7);
    assert_int_equal(balai_typing_next_expiry(t), -1);
    /* each changed room took its own position, in the map's order */
    int64_t pr = room(t, "!r:x", &l), ps;
    assert_string_equal(l.s, "");
    ps = room(t, "!s:x", &l);
    assert_string_equal(l.s, "");
    assert_true((pr == 6 && ps == 7) || (pr == 7 && ps == 6));
    balai_typing_expire(t, 2000, NULL, NULL);
    assert_int_equal(balai_typing_pos(t), 7);
    balai_typing_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_stop),
        cmocka_unit_test(expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
