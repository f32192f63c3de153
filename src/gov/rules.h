/* rules.h: dynamic membership rules: which people belong in which rooms.
 *
 * Pure domain logic (DESIGN.md §5 "Dynamic membership"; api/rules.h runs it).
 * A RULE says: the people whose directory attributes match `match` belong
 * in `rooms`, and, when `mandatory`, may not leave them. Its JSON form:
 *
 *     {"name": "ICU staff",
 *      "match": {"unit": "hospital.icu", "subunits": true, "site": ["Jakarta"],
 *                "title": "Nurse", "status": "active", "guest": false,
 *                "role": ["member", "moderator"], "group": "icu-nurses"},
 *      "rooms": ["!abc:rs.example", "#announcements:rs.example"],
 *      "mandatory": true}
 *
 * MATCHING. Every condition of `match` must hold (AND); a condition with a
 * list holds when any of its values does (OR). `unit` is a unit id; with
 * `subunits` true the units below it count too. `site` and `title` compare
 * case-insensitively (ASCII). `status` is active, leave or terminated;
 * `role` an org role; `guest` a boolean; `group` a SCIM group (its id or
 * display name, case-insensitively). `{"everyone": true}` matches every
 * person and must stand alone. A person who is INACTIVE (account
 * deactivated, offboarded) or whose employment status is terminated matches
 * no rule at all. Rooms are kept as given (ids or aliases): resolving them
 * is the caller's.
 *
 * Not thread-safe; every pointer returned is borrowed from the rule or set. */
#ifndef BALAI_GOV_RULES_H
#define BALAI_GOV_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gov/directory.h"

#define BALAI_RULES_MAX 1000     /* rules in a set */
#define BALAI_RULE_MAX_ROOMS 50  /* rooms of one rule */
#define BALAI_RULE_MAX_VALUES 50 /* values of one condition */
#define BALAI_RULE_MAX_TEXT 256  /* a name or a value, in bytes */

/* The list-valued conditions. */
enum balai_gov_rule_attr {
    BALAI_RULE_UNIT = 0,
    BALAI_RULE_SITE,
    BALAI_RULE_TITLE,
    BALAI_RULE_STATUS,
    BALAI_RULE_ROLE,
    BALAI_RULE_GROUP,
    BALAI_RULE__ATTRS
};

struct balai_gov_rule {
    char *rule_id; /* set by the caller (api/); NULL until then */
    char *name;
    int everyone;                     /* matches every (active) person */
    char **values[BALAI_RULE__ATTRS]; /* NULL / 0: no condition on the attribute */
    size_t nvalues[BALAI_RULE__ATTRS];
    int subunits; /* unit: the units below count too */
    int guest;    /* -1: no condition, else 0/1 */
    char **rooms;
    size_t nrooms;
    int mandatory;
    int64_t created_ts, updated_ts;
};

/* Parses and validates the JSON form above (rule_id, created_ts and
 * updated_ts are ignored if present: they are the server's). Returns 0 and
 * *out (free with balai_gov_rule_free), or BALAI_EINVAL with a plain-language
 * reason in err naming the offending field (unknown fields included). */
int balai_gov_rule_parse(const json_t *j, struct balai_gov_rule **out, char *err, size_t errlen);
/* The JSON form, with rule_id, created_ts and updated_ts. New reference. */
json_t *balai_gov_rule_json(const struct balai_gov_rule *r);
/* A deep copy; free with balai_gov_rule_free. */
struct balai_gov_rule *balai_gov_rule_dup(const struct balai_gov_rule *r);
void balai_gov_rule_free(struct balai_gov_rule *r); /* NULL-safe */
/* Replaces the room at index i (a resolved room id for an alias). */
void balai_gov_rule_set_room(struct balai_gov_rule *r, size_t i, const char *room);

/* ---- sets of rules ---- */

struct balai_gov_ruleset;

struct balai_gov_ruleset *balai_gov_ruleset_new(void);
void balai_gov_ruleset_free(struct balai_gov_ruleset *rs); /* NULL-safe */
/* A deep copy (to plan a change on). */
struct balai_gov_ruleset *balai_gov_ruleset_clone(const struct balai_gov_ruleset *rs);
size_t balai_gov_ruleset_count(const struct balai_gov_ruleset *rs);
/* The i-th rule (in the order they were put), borrowed. */
const struct balai_gov_rule *balai_gov_ruleset_at(const struct balai_gov_ruleset *rs, size_t i);
/* Borrowed, or NULL. */
const struct balai_gov_rule *balai_gov_ruleset_get(const struct balai_gov_ruleset *rs,
                                                   const char *rule_id);
/* Adds r, or replaces the rule with the same rule_id (in place). TAKES
 * OWNERSHIP of r on success. BALAI_EINVAL when r has no rule_id,
 * BALAI_ETOOBIG when the set is full (r stays the caller's). */
int balai_gov_ruleset_put(struct balai_gov_ruleset *rs, struct balai_gov_rule *r);
/* Removes and frees the rule; 0 or BALAI_ENOTFOUND. */
int balai_gov_ruleset_remove(struct balai_gov_ruleset *rs, const char *rule_id);

/* ---- evaluation ---- */

/* The person a rule set is evaluated for. Everything borrowed. */
struct balai_gov_rule_subject {
    const char *user_id;
    const struct balai_gov_person *person; /* NULL: no directory record */
    enum balai_gov_role role;              /* the org role (a record's, or member/owner) */
    int inactive;                          /* account deactivated or offboarded */
    const char *const *groups;             /* SCIM group ids and display names */
    size_t ngroups;
};

/* Non-zero when r matches s. dir resolves sub-units (may be NULL: no
 * sub-unit matching). */
int balai_gov_rule_matches(const struct balai_gov_rule *r, const struct balai_gov_directory *dir,
                           const struct balai_gov_rule_subject *s);

/* One room a person belongs in. */
struct balai_gov_rule_want {
    const char *room;                  /* borrowed from the rule */
    int mandatory;                     /* some matching rule makes it mandatory */
    const struct balai_gov_rule *rule; /* the mandating rule, else the first matching */
};

/* Every room s belongs in under rs, each once, in rule order. Returns the
 * count and *out (caller frees the array with free(); NULL when 0). */
size_t balai_gov_rules_eval(const struct balai_gov_ruleset *rs,
                            const struct balai_gov_directory *dir,
                            const struct balai_gov_rule_subject *s,
                            struct balai_gov_rule_want **out);
/* The first rule of rs that makes `room` mandatory for s, or NULL. */
const struct balai_gov_rule *balai_gov_rules_mandating(const struct balai_gov_ruleset *rs,
                                                       const struct balai_gov_directory *dir,
                                                       const struct balai_gov_rule_subject *s,
                                                       const char *room);

#endif
