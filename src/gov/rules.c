/* rules.c: dynamic membership rules: parsing, matching, evaluation (rules.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gov/rules.h"
#include "util/alloc.h"

static const char *const attr_names[BALAI_RULE__ATTRS] = {
    [BALAI_RULE_UNIT] = "unit",     [BALAI_RULE_SITE] = "site", [BALAI_RULE_TITLE] = "title",
    [BALAI_RULE_STATUS] = "status", [BALAI_RULE_ROLE] = "role", [BALAI_RULE_GROUP] = "group",
};

/* ---- rules ---- */

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void balai_gov_rule_free(struct balai_gov_rule *r)
{
    if (!r)
        return;
    free(r->rule_id);
    free(r->name);
    for (int a = 0; a < BALAI_RULE__ATTRS; a++)
        free_list(r->values[a], r->nvalues[a]);
    free_list(r->rooms, r->nrooms);
    free(r);
}

static char **dup_list(char *const *v, size_t n)
{
    char **o;

    if (!n)
        return NULL;
    o = balai_calloc(n, sizeof(*o));
    for (size_t i = 0; i < n; i++)
        o[i] = balai_strdup(v[i]);
    return o;
}

struct balai_gov_rule *balai_gov_rule_dup(const struct balai_gov_rule *r)
{
    struct balai_gov_rule *c = balai_calloc(1, sizeof(*c));

    *c = *r;
    c->rule_id = r->rule_id ? balai_strdup(r->rule_id) : NULL;
    c->name = balai_strdup(r->name);
    for (int a = 0; a < BALAI_RULE__ATTRS; a++)
        c->values[a] = dup_list(r->values[a], r->nvalues[a]);
    c->rooms = dup_list(r->rooms, r->nrooms);
    return c;
}

void balai_gov_rule_set_room(struct balai_gov_rule *r, size_t i, const char *room)
{
    if (i >= r->nrooms)
        return;
    free(r->rooms[i]);
    r->rooms[i] = balai_strdup(room);
}

/* A text value: a non-empty string of at most BALAI_RULE_MAX_TEXT bytes
 * without control characters. */
static int text_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > BALAI_RULE_MAX_TEXT)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20)
            return 0;
    }
    return 1;
}

/* A condition's values: a string or a non-empty array of strings. */
static int parse_values(const char *key, const json_t *v, char ***out, size_t *nout, char *err,
                        size_t errlen)
{
    size_t n, i;
    const json_t *e;

    if (json_is_string(v)) {
        if (!text_ok(json_string_value(v))) {
            snprintf(err, errlen, "'match.%s' must be a non-empty text of at most %d bytes", key,
                     BALAI_RULE_MAX_TEXT);
            return BALAI_EINVAL;
        }
        *out = balai_calloc(1, sizeof(**out));
        (*out)[0] = balai_strdup(json_string_value(v));
        *nout = 1;
        return BALAI_OK;
    }
    n = json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0 || n > BALAI_RULE_MAX_VALUES) {
        snprintf(err, errlen, "'match.%s' must be a string or an array of 1 to %d strings", key,
                 BALAI_RULE_MAX_VALUES);
        return BALAI_EINVAL;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !text_ok(json_string_value(e))) {
            snprintf(err, errlen, "'match.%s[%zu]' must be a non-empty text of at most %d bytes",
                     key, i, BALAI_RULE_MAX_TEXT);
            return BALAI_EINVAL;
        }
    }
    *out = balai_calloc(n, sizeof(**out));
    for (i = 0; i < n; i++)
        (*out)[i] = balai_strdup(json_string_value(json_array_get(v, i)));
    *nout = n;
    return BALAI_OK;
}

static int parse_match(struct balai_gov_rule *r, const json_t *m, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    int conds = 0, a, rc;

    if (!json_is_object(m)) {
        snprintf(err, errlen, "'match' must be an object of conditions");
        return BALAI_EINVAL;
    }
    json_object_foreach((json_t *)m, key, v)
    {
        if (strcmp(key, "everyone") == 0) {
            if (!json_is_true(v)) {
                snprintf(err, errlen, "'match.everyone' can only be true");
                return BALAI_EINVAL;
            }
            r->everyone = 1;
            continue;
        }
        if (strcmp(key, "subunits") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "'match.subunits' must be true or false");
                return BALAI_EINVAL;
            }
            r->subunits = json_is_true(v);
            continue;
        }
        if (strcmp(key, "guest") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "'match.guest' must be true or false");
                return BALAI_EINVAL;
            }
            r->guest = json_is_true(v);
            conds++;
            continue;
        }
        for (a = 0; a < BALAI_RULE__ATTRS; a++) {
            if (strcmp(key, attr_names[a]) == 0)
                break;
        }
        if (a == BALAI_RULE__ATTRS) {
            snprintf(err, errlen,
                     "unknown condition 'match.%.60s' (known: everyone, unit, subunits, site, "
                     "title, status, role, guest, group)",
                     key);
            return BALAI_EINVAL;
        }
        rc = parse_values(key, v, &r->values[a], &r->nvalues[a], err, errlen);
        if (rc != BALAI_OK)
            return rc;
        conds++;
    }
    for (size_t i = 0; i < r->nvalues[BALAI_RULE_STATUS]; i++) {
        enum balai_gov_status st;
        if (balai_gov_status_parse(r->values[BALAI_RULE_STATUS][i], &st) != BALAI_OK) {
            snprintf(err, errlen, "'match.status': '%.60s' is not active, leave or terminated",
                     r->values[BALAI_RULE_STATUS][i]);
            return BALAI_EINVAL;
        }
    }
    for (size_t i = 0; i < r->nvalues[BALAI_RULE_ROLE]; i++) {
        enum balai_gov_role role;
        if (balai_gov_role_parse(r->values[BALAI_RULE_ROLE][i], &role) != BALAI_OK) {
            snprintf(err, errlen, "'match.role': '%.60s' is not an org role",
                     r->values[BALAI_RULE_ROLE][i]);
            return BALAI_EINVAL;
        }
    }
    if (r->subunits && !r->nvalues[BALAI_RULE_UNIT]) {
        snprintf(err, errlen, "'match.subunits' needs a 'match.unit'");
        return BALAI_EINVAL;
    }
    if (r->everyone && conds) {
        snprintf(err, errlen, "'match.everyone' must stand alone");
        return BALAI_EINVAL;
    }
    if (!r->everyone && !conds) {
        snprintf(err, errlen,
                 "'match' needs at least one condition (or \"everyone\": true for everybody)");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static int parse_rooms(struct balai_gov_rule *r, const json_t *v, char *err, size_t errlen)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 0, i;
    const json_t *e;

    if (n == 0 || n > BALAI_RULE_MAX_ROOMS) {
        snprintf(err, errlen, "'rooms' must be an array of 1 to %d room ids or aliases",
                 BALAI_RULE_MAX_ROOMS);
        return BALAI_EINVAL;
    }
    r->rooms = balai_calloc(n, sizeof(*r->rooms));
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (!s || !text_ok(s) || (s[0] != '!' && s[0] != '#') || !strchr(s, ':')) {
            snprintf(err, errlen,
                     "'rooms[%zu]' must be a room id (!id:server) or alias "
                     "(#name:server)",
                     i);
            return BALAI_EINVAL;
        }
        for (size_t k = 0; k < r->nrooms; k++) {
            if (strcmp(r->rooms[k], s) == 0) {
                snprintf(err, errlen, "'rooms' names %.200s twice", s);
                return BALAI_EINVAL;
            }
        }
        r->rooms[r->nrooms++] = balai_strdup(s);
    }
    return BALAI_OK;
}

int balai_gov_rule_parse(const json_t *j, struct balai_gov_rule **out, char *err, size_t errlen)
{
    struct balai_gov_rule *r = NULL;
    const char *key;
    json_t *v;
    int rc = BALAI_EINVAL, seen_match = 0, seen_rooms = 0;

    if (!json_is_object(j)) {
        snprintf(err, errlen, "a rule must be a JSON object");
        goto out;
    }
    r = balai_calloc(1, sizeof(*r));
    r->guest = -1;
    json_object_foreach((json_t *)j, key, v)
    {
        if (strcmp(key, "rule_id") == 0 || strcmp(key, "created_ts") == 0 ||
            strcmp(key, "updated_ts") == 0)
            continue;
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || !text_ok(json_string_value(v))) {
                snprintf(err, errlen, "'name' must be a non-empty text of at most %d bytes",
                         BALAI_RULE_MAX_TEXT);
                goto out;
            }
            r->name = balai_strdup(json_string_value(v));
        } else if (strcmp(key, "mandatory") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "'mandatory' must be true or false");
                goto out;
            }
            r->mandatory = json_is_true(v);
        } else if (strcmp(key, "match") == 0) {
            seen_match = 1;
            if (parse_match(r, v, err, errlen) != BALAI_OK)
                goto out;
        } else if (strcmp(key, "rooms") == 0) {
            seen_rooms = 1;
            if (parse_rooms(r, v, err, errlen) != BALAI_OK)
                goto out;
        } else {
            snprintf(err, errlen, "unknown field '%.60s' (known: name, match, rooms, mandatory)",
                     key);
            goto out;
        }
    }
    if (!r->name) {
        snprintf(err, errlen, "a rule needs a 'name'");
        goto out;
    }
    if (!seen_match) {
        snprintf(err, errlen, "a rule needs a 'match' object");
        goto out;
    }
    if (!seen_rooms) {
        snprintf(err, errlen, "a rule needs 'rooms'");
        goto out;
    }
    *out = r;
    r = NULL;
    rc = BALAI_OK;
out:
    balai_gov_rule_free(r);
    return rc;
}

static json_t *list_json(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *balai_gov_rule_json(const struct balai_gov_rule *r)
{
    json_t *m = json_object(), *o;

    if (r->everyone)
        json_object_set_new(m, "everyone", json_true());
    for (int a = 0; a < BALAI_RULE__ATTRS; a++) {
        if (r->nvalues[a])
            json_object_set_new(m, attr_names[a], list_json(r->values[a], r->nvalues[a]));
    }
    if (r->nvalues[BALAI_RULE_UNIT])
        json_object_set_new(m, "subunits", json_boolean(r->subunits));
    if (r->guest >= 0)
        json_object_set_new(m, "guest", json_boolean(r->guest));
    o = json_pack("{s:s, s:o, s:o, s:b, s:I, s:I}", "name", r->name, "match", m, "rooms",
                  list_json(r->rooms, r->nrooms), "mandatory", r->mandatory, "created_ts",
                  (json_int_t)r->created_ts, "updated_ts", (json_int_t)r->updated_ts);
    if (r->rule_id)
        json_object_set_new(o, "rule_id", json_string(r->rule_id));
    return o;
}

/* ---- sets ---- */

struct balai_gov_ruleset {
    struct balai_gov_rule **v;
    size_t n, cap;
};

struct balai_gov_ruleset *balai_gov_ruleset_new(void)
{
    return balai_calloc(1, sizeof(struct balai_gov_ruleset));
}

void balai_gov_ruleset_free(struct balai_gov_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        balai_gov_rule_free(rs->v[i]);
    free(rs->v);
    free(rs);
}

struct balai_gov_ruleset *balai_gov_ruleset_clone(const struct balai_gov_ruleset *rs)
{
    struct balai_gov_ruleset *c = balai_gov_ruleset_new();

    c->cap = rs->n;
    c->v = rs->n ? balai_calloc(rs->n, sizeof(*c->v)) : NULL;
    for (size_t i = 0; i < rs->n; i++)
        c->v[c->n++] = balai_gov_rule_dup(rs->v[i]);
    return c;
}

size_t balai_gov_ruleset_count(const struct balai_gov_ruleset *rs)
{
    return rs->n;
}

const struct balai_gov_rule *balai_gov_ruleset_at(const struct balai_gov_ruleset *rs, size_t i)
{
    return i < rs->n ? rs->v[i] : NULL;
}

static size_t find(const struct balai_gov_ruleset *rs, const char *rule_id)
{
    for (size_t i = 0; i < rs->n; i++) {
        if (strcmp(rs->v[i]->rule_id, rule_id) == 0)
            return i;
    }
    return rs->n;
}

const struct balai_gov_rule *balai_gov_ruleset_get(const struct balai_gov_ruleset *rs,
                                                   const char *rule_id)
{
    size_t i = rule_id ? find(rs, rule_id) : rs->n;
    return i < rs->n ? rs->v[i] : NULL;
}

int balai_gov_ruleset_put(struct balai_gov_ruleset *rs, struct balai_gov_rule *r)
{
    size_t i;

    if (!r || !r->rule_id)
        return BALAI_EINVAL;
    i = find(rs, r->rule_id);
    if (i < rs->n) {
        balai_gov_rule_free(rs->v[i]);
        rs->v[i] = r;
        return BALAI_OK;
    }
    if (rs->n >= BALAI_RULES_MAX)
        return BALAI_ETOOBIG;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 8;
        rs->v = balai_realloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    rs->v[rs->n++] = r;
    return BALAI_OK;
}

int balai_gov_ruleset_remove(struct balai_gov_ruleset *rs, const char *rule_id)
{
    size_t i = find(rs, rule_id);

    if (i == rs->n)
        return BALAI_ENOTFOUND;
    balai_gov_rule_free(rs->v[i]);
    memmove(&rs->v[i], &rs->v[i + 1], (rs->n - i - 1) * sizeof(*rs->v));
    rs->n--;
    return BALAI_OK;
}

/* ---- matching ---- */

static int any_equal(char *const *v, size_t n, const char *s, int nocase)
{
    if (!s)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (nocase ? strcasecmp(v[i], s) == 0 : strcmp(v[i], s) == 0)
            return 1;
    }
    return 0;
}

static int unit_matches(const struct balai_gov_rule *r, const struct balai_gov_directory *dir,
                        const char *unit_id)
{
    if (!unit_id)
        return 0;
    for (size_t i = 0; i < r->nvalues[BALAI_RULE_UNIT]; i++) {
        const char *want = r->values[BALAI_RULE_UNIT][i];
        if (strcmp(unit_id, want) == 0)
            return 1;
        if (r->subunits && dir && balai_gov_unit_within(dir, unit_id, want))
            return 1;
    }
    return 0;
}

int balai_gov_rule_matches(const struct balai_gov_rule *r, const struct balai_gov_directory *dir,
                           const struct balai_gov_rule_subject *s)
{
    const struct balai_gov_person *p = s->person;
    enum balai_gov_status status = p ? p->status : BALAI_STATUS_ACTIVE;

    if (s->inactive || status == BALAI_STATUS_TERMINATED)
        return 0;
    if (r->everyone)
        return 1;
    if (r->nvalues[BALAI_RULE_UNIT] && !unit_matches(r, dir, p ? p->unit_id : NULL))
        return 0;
    if (r->nvalues[BALAI_RULE_SITE] &&
        !any_equal(r->values[BALAI_RULE_SITE], r->nvalues[BALAI_RULE_SITE], p ? p->site : NULL, 1))
        return 0;
    if (r->nvalues[BALAI_RULE_TITLE] &&
        !any_equal(r->values[BALAI_RULE_TITLE], r->nvalues[BALAI_RULE_TITLE], p ? p->title : NULL,
                   1))
        return 0;
    if (r->nvalues[BALAI_RULE_STATUS] &&
        !any_equal(r->values[BALAI_RULE_STATUS], r->nvalues[BALAI_RULE_STATUS],
                   balai_gov_status_name(status), 0))
        return 0;
    if (r->nvalues[BALAI_RULE_ROLE] &&
        !any_equal(r->values[BALAI_RULE_ROLE], r->nvalues[BALAI_RULE_ROLE],
                   balai_gov_role_name(s->role), 0))
        return 0;
    if (r->guest >= 0 && (p ? !!p->guest : 0) != r->guest)
        return 0;
    if (r->nvalues[BALAI_RULE_GROUP]) {
        size_t i;
        for (i = 0; i < s->ngroups; i++) {
            if (any_equal(r->values[BALAI_RULE_GROUP], r->nvalues[BALAI_RULE_GROUP], s->groups[i],
                          1))
                break;
        }
        if (i == s->ngroups)
            return 0;
    }
    return 1;
}

size_t balai_gov_rules_eval(const struct balai_gov_ruleset *rs,
                            const struct balai_gov_directory *dir,
                            const struct balai_gov_rule_subject *s,
                            struct balai_gov_rule_want **out)
{
    struct balai_gov_rule_want *w = NULL;
    size_t n = 0, cap = 0;

    for (size_t i = 0; i < rs->n; i++) {
        const struct balai_gov_rule *r = rs->v[i];
        if (!balai_gov_rule_matches(r, dir, s))
            continue;
        for (size_t k = 0; k < r->nrooms; k++) {
            size_t j;
            for (j = 0; j < n; j++) {
                if (strcmp(w[j].room, r->rooms[k]) == 0)
                    break;
            }
            if (j < n) {
                if (r->mandatory && !w[j].mandatory) {
                    w[j].mandatory = 1;
                    w[j].rule = r;
                }
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                w = balai_realloc(w, cap * sizeof(*w));
            }
            w[n].room = r->rooms[k];
            w[n].mandatory = r->mandatory;
            w[n].rule = r;
            n++;
        }
    }
    *out = w;
    return n;
}

const struct balai_gov_rule *balai_gov_rules_mandating(const struct balai_gov_ruleset *rs,
                                                       const struct balai_gov_directory *dir,
                                                       const struct balai_gov_rule_subject *s,
                                                       const char *room)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct balai_gov_rule *r = rs->v[i];
        if (!r->mandatory || !any_equal(r->rooms, r->nrooms, room, 0))
            continue;
        if (balai_gov_rule_matches(r, dir, s))
            return r;
    }
    return NULL;
}
