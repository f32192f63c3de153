/* push.h: push rules: the server-default rule set, editing a user's rule set,
 * and evaluating the rules against an event.
 *
 * SPEC: Matrix v1.12, Client-Server API "Push Notifications": "Push Rules"
 * (kinds and their order, actions, conditions), "Predefined Rules", the
 * /pushrules endpoints (rule ids, before/after), and Appendices
 * "Dot-separated property paths" and "Glob-style matching".
 *
 * A rule set is kept in its client form, a JSON object
 *     {"global": {"override": [...], "content": [...], "room": [...],
 *                 "sender": [...], "underride": [...]}}
 * (what GET /pushrules/ answers and what m.push_rules account data holds).
 * A user's stored rule set is merged with the current server defaults each
 * time it is read (balai_push_merge), so that new server defaults appear
 * and a user keeps only their own rules plus their changes to the defaults'
 * `enabled` and `actions`.
 *
 * For evaluation a rule set is compiled once (balai_push_compile) into a
 * flat list in priority order; an event is prepared once
 * (balai_push_event_init) and then evaluated for each member cheaply.
 *
 * As the spec asks since v1.7, the deprecated .m.rule.contains_display_name,
 * .m.rule.roomnotif and .m.rule.contains_user_name apply only to events
 * without an m.mentions property.
 *
 * Matching is case-insensitive for ASCII letters only; `?` matches one
 * byte. Historical actions (dont_notify, coalesce) are accepted and ignored.
 * Pure functions: no I/O; the only global is the parsed default-rule
 * template, made once (thread-safe) and kept for the process. */
#ifndef BALAI_CORE_PUSH_H
#define BALAI_CORE_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/powerlevels.h"

enum balai_push_kind {
    BALAI_PUSH_OVERRIDE = 0,
    BALAI_PUSH_CONTENT,
    BALAI_PUSH_ROOM,
    BALAI_PUSH_SENDER,
    BALAI_PUSH_UNDERRIDE,
    BALAI_PUSH_NKINDS,
};

/* "override", "content", ...; the kind for a name, or -1 when unknown. */
const char *balai_push_kind_name(enum balai_push_kind k);
int balai_push_kind_parse(const char *name);

/* The server-default rule set of user_id (a new reference). */
json_t *balai_push_defaults(const char *user_id);

/* The full rule set of user_id: the user's own rules from `stored` (a rule
 * set as above, may be NULL or malformed: bad entries are dropped) in their
 * stored order, and the current server defaults with the `enabled` and
 * `actions` stored for them. Order within a kind: .m.rule.master first (in
 * override), then the user's rules, then the other server defaults. A new
 * reference. */
json_t *balai_push_merge(const json_t *stored, const char *user_id);

/* The rule (borrowed from ruleset) of kind with rule_id, or NULL. */
json_t *balai_push_find(const json_t *ruleset, enum balai_push_kind kind, const char *rule_id);

/* Checks an actions array: strings "notify", "dont_notify", "coalesce";
 * objects with a string "set_tweak" ("highlight" with a boolean value or
 * none, "sound" with a string value). BALAI_EINVAL with a reason. */
int balai_push_check_actions(const json_t *actions, char *reason, size_t reasonlen);

/* Adds or replaces the user rule rule_id of `kind` in ruleset (a merged
 * set) from a PUT body ({actions, conditions?, pattern?}), placed before
 * or after another user rule of the kind when asked, else first among the
 * user rules when new and where it was when replaced. The rule id must not
 * start with '.' nor contain '/' or '\\'; room rules' ids are room ids and
 * sender rules' ids user ids. A replaced rule keeps its `enabled`.
 * Returns BALAI_OK; BALAI_EINVAL (bad rule id or body, with a reason);
 * BALAI_ENOTFOUND (before/after names no user rule of the kind). */
int balai_push_put(json_t *ruleset, enum balai_push_kind kind, const char *rule_id,
                   const json_t *body, const char *before, const char *after, char *reason,
                   size_t reasonlen);

/* Removes the user rule; BALAI_ENOTFOUND when there is none, BALAI_EINVAL
 * for a server-default rule (they cannot be removed). */
int balai_push_delete(json_t *ruleset, enum balai_push_kind kind, const char *rule_id);

/* ---- evaluation ---- */

struct balai_push_rules;

/* Compiles a (merged) rule set; disabled rules and rules whose conditions
 * cannot be understood are left out. Never NULL. */
struct balai_push_rules *balai_push_compile(const json_t *ruleset);
/* The same as balai_push_compile(balai_push_defaults(user_id)), faster
 * (no JSON copy): for users who never changed their rules. */
struct balai_push_rules *balai_push_compile_defaults(const char *user_id);
/* NULL-safe. */
void balai_push_rules_free(struct balai_push_rules *r);
/* How many rules were compiled. */
size_t balai_push_rules_count(const struct balai_push_rules *r);

/* One event prepared for evaluation against many users' rules. Fill with
 * balai_push_event_init; the sender's level, the lowercased body and the
 * results of member-independent conditions are computed lazily and cached
 * in it, so it is not const during evaluation, and every evaluation with
 * it must pass the same member_count. Release with
 * balai_push_event_release. */
#define BALAI_PUSH_MEMO 128 /* a power of two */
#define BALAI_PUSH_PATHS 16 /* likewise */
struct balai_push_event {
    const json_t *pdu; /* borrowed */
    const char *body;  /* content.body, borrowed; NULL when absent */
    size_t body_len;
    char *body_lower; /* made on first use: the body, ASCII-lowercased */
    uint32_t *starts; /* with it: the offsets where a word-bounded match may start */
    size_t nstarts;
    const struct balai_powerlevels *pl; /* borrowed, for sender_notification_permission */
    const char *sender;
    int has_mentions; /* content has m.mentions: the legacy mention rules are skipped */
    int64_t sender_level;
    int sender_level_known;
    size_t member_count; /* of the first evaluation: memoised results assume it stays */
    /* results of the conditions that do not depend on the member, by the
     * condition's hash: most members' rules share them */
    uint64_t memo_key[BALAI_PUSH_MEMO];
    signed char memo_val[BALAI_PUSH_MEMO];
    /* values found at property paths, by the path's hash */
    uint64_t path_key[BALAI_PUSH_PATHS];
    const json_t *path_val[BALAI_PUSH_PATHS];
};

/* The room's current power levels are needed only for
 * sender_notification_permission: pl may be NULL (then such conditions do
 * not match). pdu and pl are borrowed and must outlive e. */
void balai_push_event_init(struct balai_push_event *e, const json_t *pdu,
                           const struct balai_powerlevels *pl);
void balai_push_event_release(struct balai_push_event *e);

/* The member-specific context of one evaluation. */
struct balai_push_ctx {
    const char *display_name; /* the member's name in the room, or NULL */
    size_t member_count;      /* joined members */
};

struct balai_push_result {
    int notify;
    int highlight;
    const char *rule_id; /* the matching rule (borrowed from r), NULL when none */
    const char *sound;   /* borrowed from r, NULL when none */
};

/* Evaluates the rules in priority order; the first that matches decides.
 * No match: all zero. */
void balai_push_eval(const struct balai_push_rules *r, struct balai_push_event *e,
                     const struct balai_push_ctx *c, struct balai_push_result *out);

/* ---- matching primitives (exposed for tests) ---- */

/* Glob match of pattern (* and ?) against the whole of s (len bytes),
 * ASCII case-insensitive. */
int balai_push_glob(const char *pattern, const char *s, size_t len);
/* Glob match against any substring of s that starts and ends at a word
 * boundary (spec: content.body matching), ASCII case-insensitive. */
int balai_push_glob_words(const char *pattern, const char *s, size_t len);
/* Walks a dot-separated property path ("content.m\\.relates_to.rel_type")
 * from obj; the value (borrowed) or NULL. */
const json_t *balai_push_path_get(const json_t *obj, const char *path);

#endif
