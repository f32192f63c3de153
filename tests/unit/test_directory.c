/* test_directory.c: the organisation directory's domain logic
 * (gov/directory.h): roles, people, units, manager chains, search. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov/directory.h"

static struct balai_gov_person person(const char *uid)
{
    struct balai_gov_person p;
    memset(&p, 0, sizeof(p));
    p.user_id = uid;
    p.role = BALAI_ROLE_MEMBER;
    return p;
}

static void roles(void **state)
{
    enum balai_gov_role r;
    (void)state;
    for (int i = 0; i < BALAI_ROLE__COUNT; i++) {
        assert_int_equal(balai_gov_role_parse(balai_gov_role_name((enum balai_gov_role)i), &r),
                         BALAI_OK);
        assert_int_equal(r, i);
    }
    assert_int_equal(balai_gov_role_parse("Owner", &r), BALAI_EINVAL);
    assert_int_equal(balai_gov_role_parse("root", &r), BALAI_EINVAL);
    assert_int_equal(balai_gov_role_parse(NULL, &r), BALAI_EINVAL);
    /* the table of docs/directory.md */
    assert_true(balai_gov_role_may(BALAI_ROLE_OWNER, BALAI_GOV_ROLE_GRANT_OWNER));
    assert_false(balai_gov_role_may(BALAI_ROLE_ADMIN, BALAI_GOV_ROLE_GRANT_OWNER));
    assert_true(balai_gov_role_may(BALAI_ROLE_ADMIN, BALAI_GOV_USERS_MANAGE));
    assert_false(balai_gov_role_may(BALAI_ROLE_HR, BALAI_GOV_USERS_MANAGE));
    assert_true(balai_gov_role_may(BALAI_ROLE_HR, BALAI_GOV_DIRECTORY_EDIT));
    assert_true(balai_gov_role_may(BALAI_ROLE_COMPLIANCE, BALAI_GOV_AUDIT_READ));
    assert_false(balai_gov_role_may(BALAI_ROLE_ADMIN, BALAI_GOV_AUDIT_READ));
    assert_false(balai_gov_role_may(BALAI_ROLE_COMPLIANCE, BALAI_GOV_DIRECTORY_EDIT));
    assert_true(balai_gov_role_may(BALAI_ROLE_MODERATOR, BALAI_GOV_MODERATE));
    assert_false(balai_gov_role_may(BALAI_ROLE_MEMBER, BALAI_GOV_MODERATE));
    for (int i = 0; i < BALAI_ROLE__COUNT; i++)
        assert_true(balai_gov_role_may((enum balai_gov_role)i, BALAI_GOV_DIRECTORY_SEARCH));
    assert_false(balai_gov_role_may(BALAI_ROLE__COUNT, BALAI_GOV_DIRECTORY_SEARCH));
    assert_false(balai_gov_role_may(BALAI_ROLE_OWNER, BALAI_GOV__ACTION_COUNT));
    enum balai_gov_status st;
    assert_int_equal(balai_gov_status_parse("leave", &st), BALAI_OK);
    assert_int_equal(st, BALAI_STATUS_LEAVE);
    assert_int_equal(balai_gov_status_parse("fired", &st), BALAI_EINVAL);
}

static void people_and_employee_numbers(void **state)
{
    struct balai_gov_directory *d = balai_gov_directory_new();
    struct balai_gov_person a = person("@a:x"), b = person("@b:x");
    (void)state;
    a.employee_number = "E1";
    a.title = "Nurse";
    assert_int_equal(balai_gov_directory_put(d, &a), BALAI_OK);
    b.employee_number = "E1";
    assert_int_equal(balai_gov_directory_put(d, &b), BALAI_EEXIST);
    assert_null(balai_gov_directory_get(d, "@b:x"));
    b.employee_number = "E2";
    assert_int_equal(balai_gov_directory_put(d, &b), BALAI_OK);
    assert_string_equal(balai_gov_directory_by_employee_number(d, "E1")->user_id, "@a:x");
    /* renumbering frees the old number */
    a.employee_number = "E3";
    assert_int_equal(balai_gov_directory_put(d, &a), BALAI_OK);
    assert_null(balai_gov_directory_by_employee_number(d, "E1"));
    assert_string_equal(balai_gov_directory_get(d, "@a:x")->title, "Nurse");
    assert_int_equal(balai_gov_directory_count(d), 2);
    assert_int_equal(balai_gov_directory_role_count(d, BALAI_ROLE_MEMBER), 2);
    assert_int_equal(balai_gov_directory_remove(d, "@a:x"), BALAI_OK);
    assert_int_equal(balai_gov_directory_remove(d, "@a:x"), BALAI_ENOTFOUND);
    assert_null(balai_gov_directory_by_employee_number(d, "E3"));
    struct balai_gov_person *c = balai_gov_person_dup(&b);
    balai_gov_person_set(&c->title, "Doctor");
    assert_string_equal(c->title, "Doctor");
    balai_gov_person_free(c);
    balai_gov_person_free(NULL);
    balai_gov_directory_free(d);
    balai_gov_directory_free(NULL);
}

static void manager_chain_and_cycles(void **state)
{
    struct balai_gov_directory *d = balai_gov_directory_new();
    struct balai_gov_person p;
    const char *chain[8];
    (void)state;
    /* c -> b -> a */
    p = person("@a:x");
    balai_gov_directory_put(d, &p);
    p = person("@b:x");
    p.manager = "@a:x";
    balai_gov_directory_put(d, &p);
    p = person("@c:x");
    p.manager = "@b:x";
    balai_gov_directory_put(d, &p);
    assert_int_equal(balai_gov_directory_manager_chain(d, "@c:x", chain, 8), 2);
    assert_string_equal(chain[0], "@b:x");
    assert_string_equal(chain[1], "@a:x");
    assert_int_equal(balai_gov_directory_manager_chain(d, "@c:x", chain, 1), 1);
    assert_int_equal(balai_gov_directory_check_manager(d, "@a:x", "@c:x"), BALAI_EINVAL);
    assert_int_equal(balai_gov_directory_check_manager(d, "@a:x", "@a:x"), BALAI_EINVAL);
    assert_int_equal(balai_gov_directory_check_manager(d, "@c:x", "@a:x"), BALAI_OK);
    assert_int_equal(balai_gov_directory_check_manager(d, "@c:x", NULL), BALAI_OK);
    /* a cycle already stored (a -> c) does not loop forever */
    p = person("@a:x");
    p.manager = "@c:x";
    balai_gov_directory_put(d, &p);
    assert_int_equal(balai_gov_directory_manager_chain(d, "@c:x", chain, 8), 2);
    assert_int_equal(balai_gov_directory_manager_chain(d, "@a:x", chain, 8), 2);
    /* an unknown manager ends the chain */
    p = person("@z:x");
    p.manager = "@nobody:x";
    balai_gov_directory_put(d, &p);
    assert_int_equal(balai_gov_directory_manager_chain(d, "@z:x", chain, 8), 0);
    balai_gov_directory_free(d);
}

static void put_unit(struct balai_gov_directory *d, const char *id, const char *name,
                     const char *parent, int expect)
{
    const char *admins[] = {"@boss:x"};
    struct balai_gov_unit u = {id, name, parent, admins, 1, 0};
    assert_int_equal(balai_gov_unit_put(d, &u), expect);
}

static void units(void **state)
{
    struct balai_gov_directory *d = balai_gov_directory_new();
    struct balai_gov_person p = person("@n:x");
    char *s;
    (void)state;
    put_unit(d, "h", "Hospital", NULL, BALAI_OK);
    put_unit(d, "h.n", "Nursing", "h", BALAI_OK);
    put_unit(d, "h.n.icu", "ICU", "h.n", BALAI_OK);
    put_unit(d, "x", "Orphan", "missing", BALAI_ENOTFOUND);
    put_unit(d, "", "No id", NULL, BALAI_EINVAL);
    /* re-parenting under a descendant would make a cycle */
    put_unit(d, "h", "Hospital", "h.n.icu", BALAI_EINVAL);
    put_unit(d, "h.n", "Nursing", "h.n", BALAI_EINVAL);
    s = balai_gov_unit_path(d, "h.n.icu");
    assert_string_equal(s, "Hospital/Nursing/ICU");
    free(s);
    assert_null(balai_gov_unit_path(d, "nope"));
    assert_string_equal(balai_gov_unit_by_path(d, "hospital / nursing/icu")->unit_id, "h.n.icu");
    assert_null(balai_gov_unit_by_path(d, "Hospital/ICU"));
    assert_null(balai_gov_unit_by_path(d, "//"));
    assert_true(balai_gov_unit_within(d, "h.n.icu", "h"));
    assert_false(balai_gov_unit_within(d, "h", "h.n"));
    assert_true(balai_gov_unit_is_admin(d, "h.n.icu", "@boss:x"));
    assert_false(balai_gov_unit_is_admin(d, "h.n.icu", "@n:x"));
    s = balai_gov_unit_new_id(d, "h.n", "Intensive Care (Adult)");
    assert_string_equal(s, "h.n.intensive-care-adult");
    free(s);
    s = balai_gov_unit_new_id(d, "h", "Nursing");
    assert_string_equal(s, "h.nursing");
    free(s);
    s = balai_gov_unit_new_id(d, NULL, "Hospital");
    assert_string_equal(s, "hospital");
    free(s);
    put_unit(d, "hospital", "Hospital 2", NULL, BALAI_OK);
    s = balai_gov_unit_new_id(d, NULL, "HOSPITAL");
    assert_string_equal(s, "hospital-2");
    free(s);
    s = balai_gov_unit_new_id(d, NULL, "!!!");
    assert_string_equal(s, "unit");
    free(s);
    /* a unit with people or children cannot go */
    p.unit_id = "h.n.icu";
    balai_gov_directory_put(d, &p);
    assert_int_equal(balai_gov_unit_members(d, "h.n.icu"), 1);
    assert_int_equal(balai_gov_unit_children(d, "h"), 1);
    assert_int_equal(balai_gov_unit_remove(d, "h.n.icu"), BALAI_ESTATE);
    assert_int_equal(balai_gov_unit_remove(d, "h"), BALAI_ESTATE);
    assert_int_equal(balai_gov_unit_remove(d, "nope"), BALAI_ENOTFOUND);
    p.unit_id = NULL;
    balai_gov_directory_put(d, &p);
    assert_int_equal(balai_gov_unit_remove(d, "h.n.icu"), BALAI_OK);
    assert_null(balai_gov_unit_get(d, "h.n.icu"));
    /* a clone is deep */
    struct balai_gov_directory *c = balai_gov_directory_clone(d);
    put_unit(c, "h.n.icu", "ICU", "h.n", BALAI_OK);
    assert_null(balai_gov_unit_get(d, "h.n.icu"));
    assert_non_null(balai_gov_directory_get(c, "@n:x"));
    balai_gov_directory_free(c);
    balai_gov_directory_free(d);
}

static void search(void **state)
{
    struct balai_gov_directory *d = balai_gov_directory_new();
    struct balai_gov_person p = person("@siti.nur:x");
    struct balai_gov_query *q;
    (void)state;
    put_unit(d, "h", "Hospital", NULL, BALAI_OK);
    put_unit(d, "h.icu", "Intensive Care", "h", BALAI_OK);
    p.display_name = "Siti Rahayu";
    p.title = "Head Nurse";
    p.unit_id = "h.icu";
    p.employee_number = "NIP-7731";
    balai_gov_directory_put(d, &p);
    const struct balai_gov_person *sp = balai_gov_directory_get(d, "@siti.nur:x");

    static const struct {
        const char *q;
        int hit;
    } cases[] = {
        {"siti", 1},         {"SITI RAH", 1},    {"rahayu siti", 1}, {"head", 1},
        {"nur", 1},          {"intensive", 1},   {"care hosp", 1},   {"nip 77", 1},
        {"iti", 0},          {"siti doctor", 0}, {"", 1},            {"  ,, ", 1},
        {"hospitals", 0},    {"x", 0},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(cases); i++) {
        q = balai_gov_query_new(cases[i].q);
        assert_int_equal(balai_gov_directory_match(d, q, sp->user_id, sp, NULL), cases[i].hit);
        balai_gov_query_free(q);
    }
    /* a user without a record: the alt name and the localpart */
    q = balai_gov_query_new("budi");
    assert_true(balai_gov_directory_match(d, q, "@budi:x", NULL, NULL));
    assert_true(balai_gov_directory_match(d, q, "@b:x", NULL, "Budi Santoso"));
    assert_false(balai_gov_directory_match(d, q, "@b:x", NULL, NULL));
    balai_gov_query_free(q);
    const char *texts[] = {NULL, "Ünïcode Name"};
    q = balai_gov_query_new("Ünï"); /* case folding is ASCII only */
    assert_true(balai_gov_query_match(q, texts, 2));
    balai_gov_query_free(q);
    balai_gov_query_free(NULL);
    balai_gov_directory_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles),
        cmocka_unit_test(people_and_employee_numbers),
        cmocka_unit_test(manager_chain_and_cycles),
        cmocka_unit_test(units),
        cmocka_unit_test(search),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
