/* scim_filter.h: SCIM 2.0 filters and attribute paths (RFC 7644 §3.4.2.2,
 * §3.5.2), parsed and evaluated against a resource's JSON.
 *
 * Pure: no I/O, no global state. The grammar is RFC 7644's:
 *
 *     FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
 *     valuePath = attrPath "[" valFilter "]"
 *     attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
 *     logExp    = FILTER SP ("and" / "or") SP FILTER
 *     compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
 *     compValue = false / null / true / number / string (JSON, with escapes)
 *     attrPath  = [URI ":"] ATTRNAME *1subAttr
 *
 * with "not" binding tighter than "and", and "and" tighter than "or";
 * operators and attribute names are case-insensitive. A path may carry a
 * schema URN prefix ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:
 * User:employeeNumber"); the known URNs (core User and Group, enterprise
 * User) are recognised whole, others are split at their last ':'.
 *
 * Limits: BALAI_SCIM_FILTER_MAX_LEN bytes of text, BALAI_SCIM_FILTER_MAX_DEPTH
 * levels of nesting and BALAI_SCIM_FILTER_MAX_NODES nodes; beyond, the parse
 * fails like a syntax error. Errors name the byte offset ("at 12: ...").
 *
 * MATCHING. A resource is a JSON object. An attribute is looked up by name,
 * case-insensitively; a URN other than the resource's core schema selects
 * the extension object of that name first. On a multi-valued attribute a
 * comparison holds when it holds for one value; a complex value without a
 * sub-attribute compares its "value". Strings compare case-insensitively
 * (ASCII), except for the attributes id, externalId and value of members
 * (case-exact, as RFC 7643 declares). gt/ge/lt/le compare strings (ISO
 * dates order correctly) and numbers; on booleans and null they are false.
 * "pr" holds for a value that is not null, "" or []. */
#ifndef BALAI_GOV_SCIM_FILTER_H
#define BALAI_GOV_SCIM_FILTER_H

#include <stddef.h>

#include <jansson.h>

#define BALAI_SCIM_FILTER_MAX_LEN 8192
#define BALAI_SCIM_FILTER_MAX_DEPTH 32
#define BALAI_SCIM_FILTER_MAX_NODES 512

#define BALAI_SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define BALAI_SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define BALAI_SCIM_URN_ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

enum balai_scim_op {
    BALAI_SCIM_EQ,
    BALAI_SCIM_NE,
    BALAI_SCIM_CO,
    BALAI_SCIM_SW,
    BALAI_SCIM_EW,
    BALAI_SCIM_PR,
    BALAI_SCIM_GT,
    BALAI_SCIM_GE,
    BALAI_SCIM_LT,
    BALAI_SCIM_LE,
    BALAI_SCIM_AND,
    BALAI_SCIM_OR,
    BALAI_SCIM_NOT,
    BALAI_SCIM_VALUEPATH, /* attr[filter]: `sub` holds the inner filter */
};

/* An attribute path: [urn:]attr[.sub]. Strings owned by the node. */
struct balai_scim_attr {
    char *urn;  /* schema URN as written, or NULL */
    char *name; /* NULL only for a bare URN path (PATCH) */
    char *sub;  /* sub-attribute, or NULL */
};

/* A parsed filter: a tree of nodes (read-only for callers). */
struct balai_scim_filter {
    enum balai_scim_op op;
    struct balai_scim_attr attr;     /* comparisons, PR and VALUEPATH */
    json_t *value;                   /* comparisons (not PR): string, number, bool, null */
    struct balai_scim_filter *left;  /* AND, OR; NOT's operand */
    struct balai_scim_filter *right; /* AND, OR */
    struct balai_scim_filter *sub;   /* VALUEPATH's value filter */
};

/* Parses `text` (NUL-terminated). Returns 0 and *out (caller frees with
 * balai_scim_filter_free), or BALAI_EINVAL with a reason naming the offset
 * in err (also for an empty filter or one over the limits). */
int balai_scim_filter_parse(const char *text, struct balai_scim_filter **out, char *err,
                            size_t errlen);
/* NULL-safe. */
void balai_scim_filter_free(struct balai_scim_filter *f);
/* Non-zero when `resource` (a JSON object, borrowed) matches the filter.
 * core_urn is the resource's core schema (BALAI_SCIM_URN_USER, ...): a path
 * with that URN looks at the top level. */
int balai_scim_filter_match(const struct balai_scim_filter *f, const json_t *resource,
                            const char *core_urn);

/* A PATCH path (RFC 7644 §3.5.2): attrPath ["[" valFilter "]"] ["." subAttr]
 * (the sub-attribute after a filter goes in attr.sub), or a bare schema URN. */
struct balai_scim_path {
    struct balai_scim_attr attr;
    struct balai_scim_filter *filter; /* the value filter, or NULL */
};

/* Parses a PATCH path. Returns 0 and *out (caller frees with
 * balai_scim_path_free), or BALAI_EINVAL with the reason in err. */
int balai_scim_path_parse(const char *text, struct balai_scim_path **out, char *err,
                          size_t errlen);
void balai_scim_path_free(struct balai_scim_path *p);

/* The member `key` of `obj`, compared case-insensitively (ASCII); *real_key
 * (may be NULL) gets the key as stored. Borrowed, or NULL. */
json_t *balai_scim_json_get(const json_t *obj, const char *key, const char **real_key);
/* Whether `s` is one of the known schema URNs (case-insensitive). */
int balai_scim_urn_known(const char *s);

#endif
