/* test_stewardship.c: the stewardship invariant's pure logic (gov/stewardship.h):
 * who counts as a steward, judging changes, choosing successors. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov/stewardship.h"

/* A tiny world: memberships and inactive users by name. */
struct world {
    const char *members[8][2]; /* {user, membership} */
    const char *inactive[4];
};

static const char *w_membership(void *arg, const char *user_id)
{
    struct world *w = arg;
    for (size_t i = 0; i < 8 && w->members[i][0]; i++) {
        if (strcmp(w->members[i][0], user_id) == 0)
            return w->members[i][1];
    }
    return NULL;
}

static int w_active(void *arg, const char *user_id)
{
    struct world *w = arg;
    for (size_t i = 0; i < 4 && w->inactive[i]; i++) {
        if (strcmp(w->inactive[i], user_id) == 0)
            return 0;
    }
    return 1;
}

static struct balai_gov_steward_view view(struct world *w, const json_t *pl)
{
    struct balai_gov_steward_view v = {pl, "@c:x", "@balai:x", w_membership, w_active, w};
    return v;
}

static void counting(void **state)
{
    (void)state;
    struct world w = {{{"@c:x", "join"},
                       {"@m:x", "invite"},
                       {"@balai:x", "join"},
                       {"@d:x", "join"},
                       {"@gone:x", "leave"},
                       {"@ban:x", "ban"},
                       {"@low:x", "join"}},
                      {"@d:x"}};
    json_t *pl = json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i}", "users", "@c:x", 100,
                           "@m:x", 100, "@balai:x", 100, "@d:x", 100, "@gone:x", 100, "@ban:x", 150,
                           "@low:x", 99, "users_default", 100);
    struct balai_gov_steward_view v = view(&w, pl);
    const char *out[8];
    /* c (joined) and m (invited) count; the system user, the inactive d,
     * those who left or are banned, and levels below 100 do not; nor does
     * users_default */
    assert_int_equal(balai_gov_stewards(&v, out, 8), 2);
    assert_string_equal(out[0], "@c:x");
    assert_string_equal(out[1], "@m:x");
    assert_int_equal(balai_gov_stewards(&v, out, 1), 2); /* full count, one written */
    assert_int_equal(balai_gov_stewards(&v, NULL, 0), 2);
    assert_true(balai_gov_steward_is(&v, "@m:x"));
    assert_false(balai_gov_steward_is(&v, "@balai:x"));
    assert_false(balai_gov_steward_is(&v, "@d:x"));
    assert_false(balai_gov_steward_is(&v, "@gone:x"));
    assert_false(balai_gov_steward_is(&v, "@low:x"));
    assert_false(balai_gov_steward_is(&v, "@nobody:x"));
    /* a non-integer level never counts */
    json_object_set_new(json_object_get(pl, "users"), "@low:x", json_string("100"));
    assert_false(balai_gov_steward_is(&v, "@low:x"));
    /* no power levels yet: the creator alone */
    struct balai_gov_steward_view v0 = view(&w, NULL);
    assert_int_equal(balai_gov_stewards(&v0, out, 8), 1);
    assert_string_equal(out[0], "@c:x");
    assert_true(balai_gov_steward_is(&v0, "@c:x"));
    assert_false(balai_gov_steward_is(&v0, "@m:x"));
    json_decref(pl);
}

static void judging(void **state)
{
    (void)state;
    /* min 2, max 3 */
    assert_int_equal(balai_gov_stewardship_judge(2, 1, 2, 3), BALAI_STEWARD_TOO_FEW);
    assert_int_equal(balai_gov_stewardship_judge(1, 0, 2, 3), BALAI_STEWARD_TOO_FEW);
    assert_int_equal(balai_gov_stewardship_judge(3, 2, 2, 3), BALAI_STEWARD_OK);
    assert_int_equal(balai_gov_stewardship_judge(2, 2, 2, 3), BALAI_STEWARD_OK);
    assert_int_equal(balai_gov_stewardship_judge(3, 4, 2, 3), BALAI_STEWARD_TOO_MANY);
    assert_int_equal(balai_gov_stewardship_judge(2, 3, 2, 3), BALAI_STEWARD_OK);
    /* out of bounds already: moving towards them is fine */
    assert_int_equal(balai_gov_stewardship_judge(0, 1, 2, 3), BALAI_STEWARD_OK);
    assert_int_equal(balai_gov_stewardship_judge(5, 4, 2, 3), BALAI_STEWARD_OK);
    assert_int_equal(balai_gov_stewardship_judge(1, 1, 2, 3), BALAI_STEWARD_OK);
}

static int not_in(void *arg, const char *id)
{
    const char *const *skip = arg;
    for (size_t i = 0; skip[i]; i++) {
        if (strcmp(skip[i], id) == 0)
            return 0;
    }
    return 1;
}

static void successors(void **state)
{
    (void)state;
    const char *chain[] = {"@mgr:x", "@director:x"};
    const char *unit[] = {"@ua:x"};
    const char *org[] = {"@admin:x", "@owner:x"};
    const char *const *tiers[] = {chain, unit, org};
    size_t counts[] = {2, 1, 2};
    const char *none[] = {NULL};
    const char *skip1[] = {"@mgr:x", NULL};
    const char *skip_chain[] = {"@mgr:x", "@director:x", NULL};
    const char *skip_all_but_owner[] = {"@mgr:x", "@director:x", "@ua:x", "@admin:x", NULL};
    const char *skip_all[] = {"@mgr:x", "@director:x", "@ua:x", "@admin:x", "@owner:x", NULL};

    assert_string_equal(balai_gov_stewardship_successor(tiers, counts, 3, not_in, none), "@mgr:x");
    assert_string_equal(balai_gov_stewardship_successor(tiers, counts, 3, not_in, skip1),
                        "@director:x");
    assert_string_equal(balai_gov_stewardship_successor(tiers, counts, 3, not_in, skip_chain),
                        "@ua:x");
    assert_string_equal(
        balai_gov_stewardship_successor(tiers, counts, 3, not_in, skip_all_but_owner), "@owner:x");
    assert_null(balai_gov_stewardship_successor(tiers, counts, 3, not_in, skip_all));
    /* no filter: the first of the first non-empty tier */
    size_t empty_first[] = {0, 1, 2};
    assert_string_equal(balai_gov_stewardship_successor(tiers, empty_first, 3, NULL, NULL),
                        "@ua:x");
    assert_null(balai_gov_stewardship_successor(tiers, counts, 0, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counting),
        cmocka_unit_test(judging),
        cmocka_unit_test(successors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
