/* directory.h: the organisation directory and roles in the running server.
 *
 * The glue between gov/directory.h (the in-memory directory, app->directory
 * ->dir) and the rest: loading it at start, role checks for every admin and
 * org endpoint, writing changes through the writer thread, and guest expiry.
 *
 * ROLES. A user's role is their directory record's; a user without a record
 * is a member, or an owner when the legacy users.admin flag is set (how
 * `balai init` users and `balai user add --admin` offline make the first
 * administrators). The unix socket (the CLI) counts as an owner. users.admin
 * is kept equal to "role is owner or admin" on every role change, so code
 * that tests balai_user.admin stays right.
 *
 * WRITES. Other modules (SCIM, rules, offboarding) change the directory the
 * same way the admin API does:
 *     1. build the new record: p = balai_gov_person_dup(current or blank),
 *        or balai_api_directory_merge() from JSON attributes (validates);
 *     2. in an op's apply() (writer thread):
 *        balai_api_directory_txn_person(t, p) (and, for a role change,
 *        balai_store_txn_user_set_admin);
 *     3. in done(), when op->rc == 0 (loop thread):
 *        balai_api_directory_committed(app, p): updates memory, the admin
 *        flag, and the guest-expiry timer (revoking access at once when a
 *        guest's expiry has passed).
 *
 * GUESTS. A person with guest = 1 has a sponsor and an expiry (ms). Once
 * the expiry passes, every device and token of theirs is removed (parked
 * /sync requests end with M_UNKNOWN_TOKEN) and login is refused until the
 * expiry is moved on. One timer waits for the EARLIEST expiry; it is re-armed
 * when a guest record changes (no polling of users).
 *
 * Loop thread only, except the *_txn_* functions (writer thread). */
#ifndef BALAI_API_DIRECTORY_H
#define BALAI_API_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/app.h"
#include "gov/directory.h"
#include "http/server.h"

struct balai_session;
struct balai_store_txn;
struct balai_timer;

struct balai_api_directory {
    struct balai_gov_directory *dir;
    struct balai_timer *guest_timer;
    int64_t guest_swept_ts;   /* guests expiring at or before this were handled */
    size_t owner_demotions;   /* role writes in flight that take away an owner */
};

/* ---- life cycle ---- */

/* Creates app->directory and loads units and people from the store (at
 * start, before serving; app->accounts must be loaded). Returns 0 or a
 * store error. */
int balai_api_directory_load(struct balai_app *app);
/* Arms the guest-expiry timer (needs app->loop); from balai_api_init. */
int balai_api_directory_start(struct balai_app *app);
/* Stops and frees the timer (balai_api_release, before the loop is freed). */
void balai_api_directory_stop(struct balai_app *app);
/* Frees app->directory. NULL-safe. */
void balai_api_directory_free(struct balai_app *app);

/* Route registration: api/admin/directory.c and api/client/org_directory.c. */
int balai_api_admin_directory_routes(struct balai_app *app);
int balai_api_client_org_directory_routes(struct balai_app *app);
/* POST /_balai/admin/v1/directory/import (api/admin/directory_import.c). */
int balai_api_admin_directory_import_routes(struct balai_app *app);

/* ---- roles ---- */

/* The role of a user (see ROLES above); member for an unknown user. */
enum balai_gov_role balai_api_role(struct balai_app *app, const char *user_id);
/* Authenticates the request and checks the caller's role is in roles_mask
 * (BALAI_ROLE_BIT(...) | ...). The unix socket passes as owner with *out
 * NULL. Answers 401 (M_MISSING_TOKEN / M_UNKNOWN_TOKEN) or 403 M_FORBIDDEN
 * itself and returns a negative code otherwise. */
int balai_api_auth_role(struct balai_http_req *req, struct balai_session **out,
                        unsigned roles_mask);
/* balai_api_auth_role with the roles that may do `action`. */
int balai_api_auth_may(struct balai_http_req *req, struct balai_session **out,
                       enum balai_gov_action action);
/* The role of the caller of an authenticated request: owner for the unix
 * socket (s NULL). */
enum balai_gov_role balai_api_caller_role(struct balai_app *app, const struct balai_session *s);

/* ---- guests ---- */

/* Non-zero when user_id must not get access now (a guest whose expiry has
 * passed). Cheap: one hash lookup. Used by login and token checks. */
int balai_api_directory_access_refused(struct balai_app *app, const char *user_id);

/* ---- records ---- */

/* The record of user_id as it stands (a blank member/owner record, not
 * stored, for a user without one), as a new copy: caller frees with
 * balai_gov_person_free. NULL for an unknown user. */
struct balai_gov_person *balai_api_directory_person(struct balai_app *app, const char *user_id);

/* Applies JSON attributes (the PUT body of docs/directory.md: display_name,
 * employee_number, unit, title, manager, site, status, working_hours, email,
 * guest, sponsor, guest_expires_ts; null clears) to *p (from
 * balai_api_directory_person). Returns 0, or with a reason in err:
 * BALAI_EINVAL for an unknown attribute (named) or a wrong type or value,
 * BALAI_ENOTFOUND for an unknown unit, manager or sponsor, BALAI_ESTATE for
 * a manager cycle or a broken guest rule (a guest needs a sponsor and an
 * expiry; owners and admins cannot be guests), BALAI_EEXIST for an employee
 * number that is someone else's. Setting guest makes the role guest;
 * clearing it makes a guest a member. *p is partly changed on error:
 * discard it. */
int balai_api_directory_merge(struct balai_app *app, struct balai_gov_person *p, json_t *attrs,
                              char *err, size_t errlen);

/* Writer thread, inside apply(): writes p's row (role and attributes). */
int balai_api_directory_txn_person(struct balai_store_txn *t, const struct balai_gov_person *p);
/* Writer thread: writes a unit's row. */
int balai_api_directory_txn_unit(struct balai_store_txn *t, const struct balai_gov_unit *u);
/* Loop thread, after the commit: puts p in memory (copied; p->stored set),
 * syncs the user's admin flag with the role, re-arms the guest timer and
 * revokes access at once if p is an expired guest. */
void balai_api_directory_committed(struct balai_app *app, const struct balai_gov_person *p);

/* JSON of a person for the admin API (every attribute, role, deactivated,
 * unit_path). New reference. p NULL = a user without a record. */
json_t *balai_api_directory_person_json(struct balai_app *app, const char *user_id,
                                        const struct balai_gov_person *p);
/* JSON of a unit (unit_id, name, parent, path, admins, created_ts,
 * members, children). New reference. */
json_t *balai_api_directory_unit_json(struct balai_app *app, const struct balai_gov_unit *u);
/* The admins array of a unit as JSON text, for its store row. Caller frees. */
char *balai_api_directory_admins_text(const struct balai_gov_unit *u);

/* Whether `viewer` may see `target` in the client directory (guests see
 * only their sponsor and the people of their own unit; nobody sees
 * deactivated, terminated or system users). */
int balai_api_directory_visible(struct balai_app *app, const char *viewer, const char *target);

#endif
