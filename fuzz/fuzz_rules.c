/* fuzz_rules.c: arbitrary bytes as a membership rule (gov/rules.h), the
 * body of POST /_balai/admin/v1/rules. A rule that parses must survive the
 * round trip through its JSON form unchanged, and evaluating it must name
 * only its own rooms. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gov/directory.h"
#include "gov/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    struct balai_gov_rule *r = NULL, *r2 = NULL;
    struct balai_gov_ruleset *rs = NULL;
    struct balai_gov_rule_want *w = NULL;
    char err[300];

    if (!j || balai_gov_rule_parse(j, &r, err, sizeof(err)) != BALAI_OK)
        goto out;
    json_t *out = balai_gov_rule_json(r);
    if (balai_gov_rule_parse(out, &r2, err, sizeof(err)) != BALAI_OK)
        abort();
    json_t *out2 = balai_gov_rule_json(r2);
    if (!json_equal(out, out2))
        abort();
    json_decref(out);
    json_decref(out2);
    r->rule_id = strdup("fuzz");
    rs = balai_gov_ruleset_new();
    if (balai_gov_ruleset_put(rs, r) != BALAI_OK)
        abort();
    const struct balai_gov_rule *held = r;
    r = NULL;
    struct balai_gov_person p = {
        .user_id = "@f:x", .role = BALAI_ROLE_MEMBER, .unit_id = "u", .site = "s", .title = "t"};
    const char *groups[] = {"g"};
    struct balai_gov_rule_subject s = {
        .user_id = "@f:x", .person = &p, .role = p.role, .groups = groups, .ngroups = 1};
    size_t n = balai_gov_rules_eval(rs, NULL, &s, &w);
    if (n > held->nrooms)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!w[i].room || w[i].rule != held)
            abort();
    }
out:
    free(w);
    balai_gov_ruleset_free(rs);
    balai_gov_rule_free(r);
    balai_gov_rule_free(r2);
    json_decref(j);
    return 0;
}
