/* test_rules.c: dynamic membership rules' domain logic (gov/rules.h):
 * parsing and validation, matching on each attribute, evaluation into
 * (room, mandatory) and the rule sets. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov/directory.h"
#include "gov/rules.h"

static struct balai_gov_rule *parse(const char *text, char *err, size_t errlen)
{
    json_t *j = json_loads(text, 0, NULL);
    struct balai_gov_rule *r = NULL;

    assert_non_null(j);
    if (balai_gov_rule_parse(j, &r, err, errlen) != BALAI_OK)
        r = NULL;
    json_decref(j);
    return r;
}

static struct balai_gov_rule *must(const char *id, const char *text)
{
    char err[300] = "";
    struct balai_gov_rule *r = parse(text, err, sizeof(err));
    if (!r)
        fail_msg("rule refused: %s", err);
    r->rule_id = strdup(id);
    return r;
}

static void parse_and_validate(void **state)
{
    static const struct {
        const char *text;
        const char *err; /* a part of the reason */
    } bad[] = {
        {"[]", "JSON object"},
        {"{\"match\": {\"unit\": \"icu\"}, \"rooms\": [\"!a:x\"]}", "'name'"},
        {"{\"name\": \"n\", \"rooms\": [\"!a:x\"]}", "'match'"},
        {"{\"name\": \"n\", \"match\": {\"unit\": \"icu\"}}", "'rooms'"},
        {"{\"name\": \"\", \"match\": {\"unit\": \"icu\"}, \"rooms\": [\"!a:x\"]}", "'name'"},
        {"{\"name\": 5, \"match\": {\"unit\": \"icu\"}, \"rooms\": [\"!a:x\"]}", "'name'"},
        {"{\"name\": \"n\", \"match\": {}, \"rooms\": [\"!a:x\"]}", "at least one condition"},
        {"{\"name\": \"n\", \"match\": {\"colour\": \"red\"}, \"rooms\": [\"!a:x\"]}",
         "match.colour"},
        {"{\"name\": \"n\", \"match\": {\"unit\": []}, \"rooms\": [\"!a:x\"]}", "match.unit"},
        {"{\"name\": \"n\", \"match\": {\"unit\": [1]}, \"rooms\": [\"!a:x\"]}", "match.unit[0]"},
        {"{\"name\": \"n\", \"match\": {\"status\": \"fired\"}, \"rooms\": [\"!a:x\"]}",
         "match.status"},
        {"{\"name\": \"n\", \"match\": {\"role\": [\"member\", \"king\"]}, \"rooms\": [\"!a:x\"]}",
         "match.role"},
        {"{\"name\": \"n\", \"match\": {\"guest\": \"yes\"}, \"rooms\": [\"!a:x\"]}",
         "match.guest"},
        {"{\"name\": \"n\", \"match\": {\"subunits\": true}, \"rooms\": [\"!a:x\"]}", "subunits"},
        {"{\"name\": \"n\", \"match\": {\"everyone\": true, \"site\": \"J\"}, \"rooms\": "
         "[\"!a:x\"]}",
         "stand alone"},
        {"{\"name\": \"n\", \"match\": {\"everyone\": false}, \"rooms\": [\"!a:x\"]}", "everyone"},
        {"{\"name\": \"n\", \"match\": {\"site\": \"J\"}, \"rooms\": []}", "'rooms'"},
        {"{\"name\": \"n\", \"match\": {\"site\": \"J\"}, \"rooms\": [\"icu\"]}", "rooms[0]"},
        {"{\"name\": \"n\", \"match\": {\"site\": \"J\"}, \"rooms\": [\"!a:x\", \"!a:x\"]}",
         "twice"},
        {"{\"name\": \"n\", \"match\": {\"site\": \"J\"}, \"rooms\": [\"!a:x\"], \"mandatory\": "
         "1}",
         "mandatory"},
        {"{\"name\": \"n\", \"match\": {\"site\": \"J\"}, \"rooms\": [\"!a:x\"], \"extra\": 1}",
         "unknown field"},
    };
    char err[300];
    (void)state;

    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        struct balai_gov_rule *r = parse(bad[i].text, err, sizeof(err));
        if (r)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].err))
            fail_msg("%s: reason '%s' does not mention '%s'", bad[i].text, err, bad[i].err);
    }

    /* a good rule round-trips through its JSON form */
    struct balai_gov_rule *r = must(
        "r1", "{\"name\": \"ICU\", \"match\": {\"unit\": \"h.icu\", \"subunits\": true, \"site\": "
              "[\"Jakarta\", \"Bogor\"], \"guest\": false}, \"rooms\": [\"!a:x\", \"#b:x\"], "
              "\"mandatory\": true, \"rule_id\": \"ignored\", \"created_ts\": 5}");
    assert_int_equal(r->nrooms, 2);
    assert_int_equal(r->mandatory, 1);
    assert_int_equal(r->guest, 0);
    assert_int_equal(r->subunits, 1);
    assert_int_equal(r->nvalues[BALAI_RULE_SITE], 2);
    assert_int_equal(r->created_ts, 0); /* the server's, not the body's */
    json_t *j = balai_gov_rule_json(r);
    struct balai_gov_rule *r2 = NULL;
    assert_int_equal(balai_gov_rule_parse(j, &r2, err, sizeof(err)), BALAI_OK);
    json_t *j2 = balai_gov_rule_json(r2);
    json_object_set_new(j2, "rule_id", json_string("r1"));
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    balai_gov_rule_free(r2);
    balai_gov_rule_set_room(r, 1, "!b:x");
    assert_string_equal(r->rooms[1], "!b:x");
    struct balai_gov_rule *c = balai_gov_rule_dup(r);
    assert_string_equal(c->rooms[1], "!b:x");
    assert_string_equal(c->values[BALAI_RULE_SITE][1], "Bogor");
    balai_gov_rule_free(c);
    balai_gov_rule_free(r);
    balai_gov_rule_free(NULL);
}

static struct balai_gov_directory *hospital(void)
{
    struct balai_gov_directory *d = balai_gov_directory_new();
    struct balai_gov_unit u = {"h", "Hospital", NULL, NULL, 0, 0};
    assert_int_equal(balai_gov_unit_put(d, &u), BALAI_OK);
    u = (struct balai_gov_unit){"h.icu", "ICU", "h", NULL, 0, 0};
    assert_int_equal(balai_gov_unit_put(d, &u), BALAI_OK);
    u = (struct balai_gov_unit){"h.icu.night", "Night", "h.icu", NULL, 0, 0};
    assert_int_equal(balai_gov_unit_put(d, &u), BALAI_OK);
    u = (struct balai_gov_unit){"h.er", "ER", "h", NULL, 0, 0};
    assert_int_equal(balai_gov_unit_put(d, &u), BALAI_OK);
    return d;
}

static struct balai_gov_rule_subject subject(const struct balai_gov_person *p)
{
    struct balai_gov_rule_subject s;
    memset(&s, 0, sizeof(s));
    s.user_id = p->user_id;
    s.person = p;
    s.role = p->role;
    return s;
}

static void matching(void **state)
{
    struct balai_gov_directory *d = hospital();
    struct balai_gov_person p;
    struct balai_gov_rule_subject s;
    const char *groups[] = {"g-123", "ICU Nurses"};
    (void)state;

    memset(&p, 0, sizeof(p));
    p.user_id = "@siti:x";
    p.role = BALAI_ROLE_MEMBER;
    p.unit_id = "h.icu.night";
    p.site = "Jakarta";
    p.title = "Head Nurse";
    s = subject(&p);

    struct balai_gov_rule *unit =
        must("u", "{\"name\": \"u\", \"match\": {\"unit\": \"h.icu\"}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *sub = must(
        "s", "{\"name\": \"s\", \"match\": {\"unit\": [\"h.er\", \"h.icu\"], \"subunits\": true}, "
             "\"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *site_title =
        must("st", "{\"name\": \"st\", \"match\": {\"site\": \"JAKARTA\", \"title\": [\"head "
                   "nurse\"]}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *status =
        must("st2", "{\"name\": \"x\", \"match\": {\"status\": \"leave\"}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *role = must(
        "ro",
        "{\"name\": \"x\", \"match\": {\"role\": [\"hr\", \"member\"]}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *guest =
        must("g", "{\"name\": \"x\", \"match\": {\"guest\": true}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *group = must(
        "gr", "{\"name\": \"x\", \"match\": {\"group\": \"icu nurses\"}, \"rooms\": [\"!a:x\"]}");
    struct balai_gov_rule *all =
        must("all", "{\"name\": \"x\", \"match\": {\"everyone\": true}, \"rooms\": [\"!a:x\"]}");

    assert_false(balai_gov_rule_matches(unit, d, &s)); /* exact unit only */
    assert_true(balai_gov_rule_matches(sub, d, &s));   /* a sub-unit of h.icu */
    assert_false(balai_gov_rule_matches(sub, NULL, &s));
    assert_true(balai_gov_rule_matches(site_title, d, &s)); /* case-insensitive */
    assert_false(balai_gov_rule_matches(status, d, &s));
    assert_true(balai_gov_rule_matches(role, d, &s));
    assert_false(balai_gov_rule_matches(guest, d, &s));
    assert_false(balai_gov_rule_matches(group, d, &s));
    assert_true(balai_gov_rule_matches(all, d, &s));
    s.groups = groups;
    s.ngroups = 2;
    assert_true(balai_gov_rule_matches(group, d, &s));
    p.unit_id = "h.icu";
    p.status = BALAI_STATUS_LEAVE;
    p.guest = 1;
    s.role = BALAI_ROLE_GUEST;
    assert_true(balai_gov_rule_matches(unit, d, &s));
    assert_true(balai_gov_rule_matches(status, d, &s));
    assert_true(balai_gov_rule_matches(guest, d, &s));
    assert_false(balai_gov_rule_matches(role, d, &s));
    /* inactive or terminated people match nothing, not even everyone */
    s.inactive = 1;
    assert_false(balai_gov_rule_matches(all, d, &s));
    assert_false(balai_gov_rule_matches(unit, d, &s));
    s.inactive = 0;
    p.status = BALAI_STATUS_TERMINATED;
    assert_false(balai_gov_rule_matches(all, d, &s));
    /* a person without a record: active, member, no unit */
    struct balai_gov_rule_subject bare;
    memset(&bare, 0, sizeof(bare));
    bare.user_id = "@new:x";
    bare.role = BALAI_ROLE_MEMBER;
    assert_true(balai_gov_rule_matches(all, d, &bare));
    assert_true(balai_gov_rule_matches(role, d, &bare));
    assert_false(balai_gov_rule_matches(unit, d, &bare));
    assert_false(balai_gov_rule_matches(guest, d, &bare));

    struct balai_gov_rule *rules[] = {unit, sub, site_title, status, role, guest, group, all};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(rules); i++)
        balai_gov_rule_free(rules[i]);
    balai_gov_directory_free(d);
}

static void evaluation_and_sets(void **state)
{
    struct balai_gov_directory *d = hospital();
    struct balai_gov_ruleset *rs = balai_gov_ruleset_new();
    struct balai_gov_rule_want *w = NULL;
    struct balai_gov_person p;
    struct balai_gov_rule_subject s;
    size_t n;
    (void)state;

    assert_int_equal(balai_gov_ruleset_put(rs, must("icu", "{\"name\": \"ICU staff\", \"match\": "
                                                           "{\"unit\": \"h.icu\", \"subunits\": "
                                                           "true}, \"rooms\": [\"!icu:x\", "
                                                           "\"!ann:x\"], \"mandatory\": true}")),
                     BALAI_OK);
    assert_int_equal(balai_gov_ruleset_put(rs, must("all", "{\"name\": \"Everyone\", \"match\": "
                                                           "{\"everyone\": true}, \"rooms\": "
                                                           "[\"!ann:x\", \"!lobby:x\"]}")),
                     BALAI_OK);
    struct balai_gov_rule *noid = must("x", "{\"name\": \"n\", \"match\": {\"site\": \"J\"}, "
                                            "\"rooms\": [\"!a:x\"]}");
    free(noid->rule_id);
    noid->rule_id = NULL;
    assert_int_equal(balai_gov_ruleset_put(rs, noid), BALAI_EINVAL);
    balai_gov_rule_free(noid);
    assert_int_equal(balai_gov_ruleset_count(rs), 2);

    memset(&p, 0, sizeof(p));
    p.user_id = "@budi:x";
    p.role = BALAI_ROLE_MEMBER;
    p.unit_id = "h.icu.night";
    s = subject(&p);
    n = balai_gov_rules_eval(rs, d, &s, &w);
    assert_int_equal(n, 3); /* !icu, !ann once (mandatory through ICU), !lobby */
    assert_string_equal(w[0].room, "!icu:x");
    assert_true(w[0].mandatory);
    assert_string_equal(w[1].room, "!ann:x");
    assert_true(w[1].mandatory);
    assert_string_equal(w[1].rule->rule_id, "icu");
    assert_string_equal(w[2].room, "!lobby:x");
    assert_false(w[2].mandatory);
    assert_string_equal(w[2].rule->rule_id, "all");
    free(w);
    assert_string_equal(balai_gov_rules_mandating(rs, d, &s, "!ann:x")->name, "ICU staff");
    assert_null(balai_gov_rules_mandating(rs, d, &s, "!lobby:x"));

    /* moving to the ER leaves only the everyone rule */
    p.unit_id = "h.er";
    n = balai_gov_rules_eval(rs, d, &s, &w);
    assert_int_equal(n, 2);
    assert_false(w[0].mandatory);
    free(w);
    assert_null(balai_gov_rules_mandating(rs, d, &s, "!ann:x"));
    s.inactive = 1;
    assert_int_equal(balai_gov_rules_eval(rs, d, &s, &w), 0);
    assert_null(w);

    /* replace in place, clone, remove */
    assert_int_equal(balai_gov_ruleset_put(rs, must("icu", "{\"name\": \"ICU v2\", \"match\": "
                                                           "{\"unit\": \"h.icu\"}, \"rooms\": "
                                                           "[\"!icu:x\"]}")),
                     BALAI_OK);
    assert_int_equal(balai_gov_ruleset_count(rs), 2);
    assert_string_equal(balai_gov_ruleset_at(rs, 0)->name, "ICU v2");
    struct balai_gov_ruleset *c = balai_gov_ruleset_clone(rs);
    assert_int_equal(balai_gov_ruleset_remove(rs, "icu"), BALAI_OK);
    assert_int_equal(balai_gov_ruleset_remove(rs, "icu"), BALAI_ENOTFOUND);
    assert_null(balai_gov_ruleset_get(rs, "icu"));
    assert_non_null(balai_gov_ruleset_get(c, "icu"));
    assert_int_equal(balai_gov_ruleset_count(rs), 1);
    assert_string_equal(balai_gov_ruleset_at(rs, 0)->rule_id, "all");
    assert_null(balai_gov_ruleset_at(rs, 1));
    balai_gov_ruleset_free(c);
    balai_gov_ruleset_free(rs);
    balai_gov_ruleset_free(NULL);
    balai_gov_directory_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_validate),
        cmocka_unit_test(matching),
        cmocka_unit_test(evaluation_and_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
