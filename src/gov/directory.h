/* directory.h: the organisation directory: people, units and roles.
 *
 * Pure domain logic, kept in memory (api/directory.c loads it from the store
 * at start and changes it once a write committed; DESIGN.md §5):
 *
 *  - a PERSON is a user's org record: role, employee number (unique when
 *    set), display name, unit, title, manager, site, employment status,
 *    working hours, e-mail, and the guest flag with sponsor and expiry;
 *  - UNITS form a tree (id, name, parent) and each has unit admins;
 *  - ROLES (owner, admin, hr, compliance, moderator, member, guest) decide
 *    what a person may do: balai_gov_role_may(role, action).
 *
 * Strings in records are owned by the directory; every getter returns
 * borrowed pointers, valid until the record is next changed or removed.
 * Not thread-safe: one directory belongs to one thread (the loop thread). */
#ifndef BALAI_GOV_DIRECTORY_H
#define BALAI_GOV_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

/* Org roles, from least to most privileged (the order is not a hierarchy
 * for every action: compliance reads the audit trail, admin does not). */
enum balai_gov_role {
    BALAI_ROLE_GUEST = 0,
    BALAI_ROLE_MEMBER,
    BALAI_ROLE_MODERATOR,
    BALAI_ROLE_COMPLIANCE,
    BALAI_ROLE_HR,
    BALAI_ROLE_ADMIN,
    BALAI_ROLE_OWNER,
    BALAI_ROLE__COUNT
};

/* A set of roles, for balai_api_auth_role: BALAI_ROLE_BIT(A) | BALAI_ROLE_BIT(B). */
#define BALAI_ROLE_BIT(r) (1u << (unsigned)(r))
#define BALAI_ROLES_ALL ((1u << BALAI_ROLE__COUNT) - 1u)

/* "owner", "admin", ...; "member" for an out-of-range value. Static. */
const char *balai_gov_role_name(enum balai_gov_role r);
/* Parses a role name (exact, lower case). Returns 0 or BALAI_EINVAL. */
int balai_gov_role_parse(const char *s, enum balai_gov_role *out);

/* What a role may do. Each admin or org endpoint checks one action. */
enum balai_gov_action {
    BALAI_GOV_USERS_MANAGE,     /* admin users API: list, create, deactivate */
    BALAI_GOV_DIRECTORY_READ,   /* admin directory: every attribute of everyone */
    BALAI_GOV_DIRECTORY_EDIT,   /* set attributes, CSV import, units */
    BALAI_GOV_ROLE_GRANT,       /* set roles hr, compliance, moderator, member */
    BALAI_GOV_ROLE_GRANT_OWNER, /* grant or take away owner and admin */
    BALAI_GOV_AUDIT_READ,       /* read the audit trail */
    BALAI_GOV_MODERATE,         /* org moderation: remove content, reports */
    BALAI_GOV_POLICY_MANAGE,    /* membership rules, labels, policies */
    BALAI_GOV_DIRECTORY_SEARCH, /* the client directory (everyone logged in) */
    BALAI_GOV__ACTION_COUNT
};

/* Non-zero when `role` may do `action` (see docs/directory.md for the table). */
int balai_gov_role_may(enum balai_gov_role role, enum balai_gov_action action);
/* The set of roles that may do `action` (BALAI_ROLE_BIT mask). */
unsigned balai_gov_action_roles(enum balai_gov_action action);

/* Employment status. */
enum balai_gov_status {
    BALAI_STATUS_ACTIVE = 0,
    BALAI_STATUS_LEAVE,      /* on leave: still in the directory, still logs in */
    BALAI_STATUS_TERMINATED, /* left the organisation (offboarding acts on it) */
};
const char *balai_gov_status_name(enum balai_gov_status s);
int balai_gov_status_parse(const char *s, enum balai_gov_status *out);

/* One person's org record. In balai_gov_directory_put every pointer is
 * borrowed for the call (NULL = not set); the directory copies. */
struct balai_gov_person {
    const char *user_id; /* required */
    enum balai_gov_role role;
    const char *employee_number; /* unique among people when set */
    const char *display_name;
    const char *unit_id;
    const char *title;
    const char *manager; /* a user id */
    const char *site;
    enum balai_gov_status status;
    const char *working_hours; /* free text, e.g. "08:00-16:00 Mon-Fri" */
    const char *email;
    int guest;                /* 0/1: an external person */
    const char *sponsor;      /* the guest's sponsor, a user id */
    int64_t guest_expires_ts; /* ms since the epoch, 0 = none */
    int64_t updated_ts;
    int stored; /* 0/1: the record has a row in the store (api/ bookkeeping) */
};

struct balai_gov_unit {
    const char *unit_id; /* required */
    const char *name;    /* required */
    const char *parent_id;
    const char *const *admins; /* user ids */
    size_t n_admins;
    int64_t created_ts;
};

/* A copy of p owned by the caller (strings copied; free with
 * balai_gov_person_free, NULL-safe). For building a record to write. */
struct balai_gov_person *balai_gov_person_dup(const struct balai_gov_person *p);
void balai_gov_person_free(struct balai_gov_person *p);
/* Replaces *field (a string of a person made by balai_gov_person_dup) with a
 * copy of v (NULL clears). */
void balai_gov_person_set(const char **field, const char *v);

struct balai_gov_directory;

struct balai_gov_directory *balai_gov_directory_new(void);
/* NULL-safe. */
void balai_gov_directory_free(struct balai_gov_directory *d);
/* A deep copy (to plan changes on, e.g. a CSV import). Caller frees. */
struct balai_gov_directory *balai_gov_directory_clone(const struct balai_gov_directory *d);

/* ---- people ---- */

/* Adds or replaces the record of p->user_id (copied). BALAI_EINVAL when
 * user_id is NULL; BALAI_EEXIST when the employee number belongs to someone
 * else (nothing changes). Validation of references (unit, manager) is the
 * caller's: see balai_gov_directory_check_manager. */
int balai_gov_directory_put(struct balai_gov_directory *d, const struct balai_gov_person *p);
/* Borrowed record, or NULL. */
const struct balai_gov_person *balai_gov_directory_get(const struct balai_gov_directory *d,
                                                       const char *user_id);
const struct balai_gov_person *
balai_gov_directory_by_employee_number(const struct balai_gov_directory *d, const char *number);
/* Removes the record; 0 or BALAI_ENOTFOUND. */
int balai_gov_directory_remove(struct balai_gov_directory *d, const char *user_id);
size_t balai_gov_directory_count(const struct balai_gov_directory *d);
/* Calls fn for every person, in no particular order, until it returns
 * non-zero (returned). The directory must not change meanwhile. */
int balai_gov_directory_each(const struct balai_gov_directory *d,
                             int (*fn)(const struct balai_gov_person *p, void *arg), void *arg);
/* Number of people with role `r` (for "the last owner cannot be demoted"). */
size_t balai_gov_directory_role_count(const struct balai_gov_directory *d, enum balai_gov_role r);

/* The manager chain of user_id, nearest first, at most `max` ids (borrowed)
 * in out[]; stops at a person without a manager, at an unknown manager, and
 * at a cycle (a manager already visited). Returns the count. */
size_t balai_gov_directory_manager_chain(const struct balai_gov_directory *d, const char *user_id,
                                         const char **out, size_t max);
/* Whether user_id may have `manager`: BALAI_EINVAL when manager is user_id
 * or when user_id is already in manager's chain (a cycle); 0 otherwise
 * (also for manager NULL). */
int balai_gov_directory_check_manager(const struct balai_gov_directory *d, const char *user_id,
                                      const char *manager);

/* ---- units ---- */

/* Adds or replaces a unit (copied). BALAI_EINVAL when id or name is
 * missing or when the parent would make a cycle (itself or a descendant);
 * BALAI_ENOTFOUND when the parent does not exist. */
int balai_gov_unit_put(struct balai_gov_directory *d, const struct balai_gov_unit *u);
/* Borrowed, or NULL. */
const struct balai_gov_unit *balai_gov_unit_get(const struct balai_gov_directory *d,
                                                const char *unit_id);
/* Removes a unit: BALAI_ENOTFOUND, or BALAI_ESTATE when it has child units
 * or people in it (nothing changes). */
int balai_gov_unit_remove(struct balai_gov_directory *d, const char *unit_id);
size_t balai_gov_unit_children(const struct balai_gov_directory *d, const char *unit_id);
size_t balai_gov_unit_members(const struct balai_gov_directory *d, const char *unit_id);
/* Calls fn for every unit until it returns non-zero (returned). */
int balai_gov_unit_each(const struct balai_gov_directory *d,
                        int (*fn)(const struct balai_gov_unit *u, void *arg), void *arg);
/* Non-zero when `unit_id` is `ancestor` or lies below it. */
int balai_gov_unit_within(const struct balai_gov_directory *d, const char *unit_id,
                          const char *ancestor);
/* The names from the root down to the unit, joined by "/" ("Hospital/
 * Nursing/ICU"). New string, caller frees; NULL for an unknown unit. */
char *balai_gov_unit_path(const struct balai_gov_directory *d, const char *unit_id);
/* The unit reached by a "/"-separated path of names from a root (names
 * compared case-insensitively, empty segments ignored). Borrowed or NULL. */
const struct balai_gov_unit *balai_gov_unit_by_path(const struct balai_gov_directory *d,
                                                    const char *path);
/* A fresh unit id for a unit called `name` under `parent_id` (NULL = root):
 * the parent's id, ".", and the name made lower case with every run of
 * other characters than a-z0-9 turned into "-"; "-2", "-3"... appended when
 * taken. New string, caller frees. */
char *balai_gov_unit_new_id(const struct balai_gov_directory *d, const char *parent_id,
                            const char *name);
/* Whether user_id is an admin of the unit or of one of its ancestors. */
int balai_gov_unit_is_admin(const struct balai_gov_directory *d, const char *unit_id,
                            const char *user_id);

/* ---- search ---- */

/* A parsed search query: its words, lower-cased. */
struct balai_gov_query;

/* Splits q at spaces and punctuation into at most 8 words (bytes >= 0x80,
 * UTF-8, are word characters; case folding is ASCII only). Always returns a
 * query (caller frees with balai_gov_query_free); an empty query matches
 * everyone. */
struct balai_gov_query *balai_gov_query_new(const char *q);
void balai_gov_query_free(struct balai_gov_query *q);
/* Non-zero when every word of q is a case-insensitive prefix of some word
 * of one of the n texts (NULL texts are skipped). */
int balai_gov_query_match(const struct balai_gov_query *q, const char *const *texts, size_t n);
/* Matches a person's searchable attributes: display name, `alt_name` (e.g.
 * the Matrix display name, may be NULL), the user id's localpart, title,
 * employee number and the names of the unit and its ancestors. p may be
 * NULL (a user without a record: only alt_name and the localpart count). */
int balai_gov_directory_match(const struct balai_gov_directory *d, const struct balai_gov_query *q,
                              const char *user_id, const struct balai_gov_person *p,
                              const char *alt_name);

#endif
