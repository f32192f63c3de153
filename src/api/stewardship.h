/* stewardship.h: the stewardship invariant in the running server.
 *
 * DESIGN.md §5, docs/rooms.md. Every organisation room (not a direct
 * message) keeps at least rooms.min_stewards (2) and at most
 * rooms.max_stewards (3) active human stewards: members (joined or invited)
 * with power level >= 100, not the system user, not deactivated, not
 * terminated in the directory, not departing (below). The counting is
 * gov/stewardship.h.
 *
 * ENFORCED on the event path (before_persist, api/gov_hooks.h) for every
 * sender but the system user: a power-levels change, a leave (also
 * declining an invitation), a kick or a ban that would leave a room with
 * fewer stewards than the minimum is refused with 403 M_FORBIDDEN "This
 * room needs at least N stewards; name another steward first"; a
 * power-levels change that would make more than the maximum is refused too.
 * A room already below the minimum (e.g. no manager was known when it was
 * created) may only gain stewards.
 *
 * SUCCESSION for people who leave the organisation (deactivation,
 * offboarding): balai_api_stewardship_on_departure() hands their rooms on
 * first. The successor is the first eligible person (active, not yet a
 * steward, not banned from the room) along the departing steward's manager
 * chain, then among the admins of the room's owning unit (and its parent
 * units), then among the organisation's admins and owners. The system user
 * raises the successor to 100 (m.room.power_levels) and invites them when
 * they are not in the room. Each succession is audited
 * ("room.steward.succession"); a room for which nobody qualified is logged
 * and audited ("room.steward.none") and shows in the inventory.
 *
 * Loop thread only. */
#ifndef BALAI_API_STEWARDSHIP_H
#define BALAI_API_STEWARDSHIP_H

#include <stddef.h>

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"
#include "core/state.h"

/* before_persist for m.room.power_levels and m.room.member events of an
 * organisation room (api/gov_hooks.c). BALAI_OK or BALAI_EFORBIDDEN with a
 * reason. */
int balai_api_stewardship_check(struct balai_app *app, struct balai_room *room,
                                const struct balai_state_lookup *view, const char *sender,
                                const char *type, const char *state_key, const json_t *content,
                                char *reason, size_t reasonlen);

/* FOR OFFBOARDING AND DEACTIVATION. Call for a person who leaves the
 * organisation BEFORE removing them from rooms (and before or after
 * revoking their access, in the same loop tick or earlier):
 *
 *   1. marks user_id as departing: from now on they never count as a
 *      steward (their own leave events then pass the invariant);
 *   2. for every organisation room where they were a steward and the room
 *      would be left with fewer than min_stewards, appoints successors (see
 *      SUCCESSION) in one write per room, sent by the system user and
 *      submitted at once. The writes' events are pending in the rooms when
 *      this returns, so leave events added afterwards are judged against the
 *      successors already.
 *
 * `actor` (borrowed) is recorded in the audit entries ("cli", an admin's
 * user id, "scim", "system"). Writes still to commit finish on their own.
 * Returns the number of rooms in which the person was a steward; *unfilled
 * (may be NULL) gets the number of rooms for which not enough successors
 * were found (they stay below the minimum; never zero stewards if anyone
 * eligible exists). */
size_t balai_api_stewardship_on_departure(struct balai_app *app, const char *user_id,
                                          const char *actor, size_t *unfilled);

/* The manager chain of user_id, nearest first, at most max ids (borrowed
 * from the directory, valid until it changes): unlike
 * balai_gov_directory_manager_chain it includes a manager who has no
 * directory record of their own (the chain ends there), and stops at a
 * cycle. */
size_t balai_api_manager_chain(struct balai_app *app, const char *user_id, const char **out,
                               size_t max);

/* Undoes the departing mark (a rehired or reactivated person). */
void balai_api_stewardship_on_return(struct balai_app *app, const char *user_id);

/* The active stewards of a room, as a JSON array of user ids (new
 * reference); *count gets their number (may be NULL). */
json_t *balai_api_stewards_json(struct balai_app *app, struct balai_room *room, size_t *count);
/* Non-zero when user_id is an active steward of the room (committed state). */
int balai_api_stewardship_is_steward(struct balai_app *app, struct balai_room *room,
                                     const char *user_id);

#endif
