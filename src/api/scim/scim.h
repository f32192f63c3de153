/* scim.h: SCIM 2.0 provisioning (RFC 7643/7644) under /scim/v2, and what
 * other modules (membership rules) read from it.
 *
 * The organisation's identity provider (Okta, Microsoft Entra ID, ...)
 * creates, changes and deactivates people and groups here; docs/scim.md says
 * how to connect one. A SCIM User is a Matrix account plus its directory
 * record (api/directory.h): the SCIM attributes that the directory has are
 * written to it, the rest is kept as provisioned. A SCIM Group is a set of
 * users that membership rules can use.
 *
 * STATE. Tokens, users and groups are loaded at start and kept in memory
 * (loop thread); every write goes through the writer thread and changes the
 * memory once committed. SCIM writes are handled one at a time, in arrival
 * order (provisioning is rare; this makes uniqueness checks exact).
 *
 * AUTH. `Authorization: Bearer <provisioning token>`; a provisioning token is
 * not an access token (it gets 401 from the Matrix API, and an access token
 * gets 401 here). Tokens are made with `balai scim token create` or POST
 * /_balai/admin/v1/scim/tokens and stored as SHA-256 only.
 *
 * Loop thread only. */
#ifndef BALAI_API_SCIM_SCIM_H
#define BALAI_API_SCIM_SCIM_H

#include "api/app.h"

struct balai_api_scim;

/* ---- life cycle ---- */

/* Creates app->scim and loads tokens, users and groups (at start, after
 * balai_api_directory_load). Returns 0 or a store error. */
int balai_api_scim_load(struct balai_app *app);
/* Frees app->scim. NULL-safe. */
void balai_api_scim_free(struct balai_app *app);
/* Registers /scim/v2/... and /_balai/admin/v1/scim/tokens (balai_api_init). */
int balai_api_scim_routes(struct balai_app *app);

/* ---- groups, for membership rules ----
 *
 * Group ids are SCIM ids (docs/scim.md); users are Matrix user ids. A
 * deleted (DELETE /Users) user is in no group; a deactivated one keeps their
 * groups. Borrowed strings are valid until the next SCIM write. */

/* Calls fn(user_id, arg) for every member of the group, sorted by user id,
 * until it returns non-zero (returned). BALAI_ENOTFOUND for an unknown
 * group. */
int balai_api_scim_group_members(struct balai_app *app, const char *group_id,
                                 int (*fn)(const char *user_id, void *arg), void *arg);
/* Calls fn(group_id, display_name, arg) for every group user_id is in, until
 * it returns non-zero (returned); 0 when none. */
int balai_api_scim_user_groups(struct balai_app *app, const char *user_id,
                               int (*fn)(const char *group_id, const char *display_name,
                                         void *arg),
                               void *arg);
/* Non-zero when user_id is a member of the group. */
int balai_api_scim_is_member(struct balai_app *app, const char *group_id, const char *user_id);
/* The id of the group called display_name (case-insensitive ASCII; the
 * oldest when several are), or NULL. Borrowed. */
const char *balai_api_scim_group_by_name(struct balai_app *app, const char *display_name);
/* The display name of a group, or NULL. Borrowed. */
const char *balai_api_scim_group_name(struct balai_app *app, const char *group_id);

/* ---- change notification ----
 *
 * After a SCIM write committed (and memory reflects it), every listener is
 * called, on the loop thread:
 *   USER:          (NULL, user_id): the person's account or directory
 *                  record changed through SCIM (created, updated,
 *                  deactivated, reactivated, deleted); read the directory;
 *   GROUP_MEMBER:  (group_id, user_id): user_id joined or left the group
 *                  (also when a group is created with members or deleted);
 *   GROUP:         (group_id, NULL): a group was created, renamed or deleted.
 * A listener must not start a SCIM write itself. */
enum balai_api_scim_change {
    BALAI_API_SCIM_USER,
    BALAI_API_SCIM_GROUP_MEMBER,
    BALAI_API_SCIM_GROUP,
};
typedef void (*balai_api_scim_change_fn)(struct balai_app *app, enum balai_api_scim_change what,
                                         const char *group_id, const char *user_id, void *arg);
/* Adds a listener (at most 8). Call after balai_api_scim_load (e.g. from
 * balai_api_init). Returns 0, BALAI_ESTATE before the load, BALAI_ETOOBIG
 * when full. */
int balai_api_scim_on_change(struct balai_app *app, balai_api_scim_change_fn fn, void *arg);

#endif
