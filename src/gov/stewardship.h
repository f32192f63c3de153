/* stewardship.h: the stewardship invariant of organisation rooms, as pure logic.
 *
 * DESIGN.md §5: every organisation room (not a direct message) keeps at
 * least `min` and at most `max` active human STEWARDS. A steward is a user
 * whose power level in the room is at least BALAI_GOV_STEWARD_LEVEL (the
 * room admin level), whose membership is "join" or "invite" (an appointed
 * steward who has not accepted yet still counts), who is not the system user
 * and who is active (an existing, not deactivated, not departing human; the
 * caller decides through a callback). Only users named in the power levels'
 * `users` map count (a users_default of 100 makes nobody a steward).
 *
 * The api layer (api/stewardship.h) feeds the views from room state and the
 * directory; nothing here touches a room, the store or the network. */
#ifndef BALAI_GOV_STEWARDSHIP_H
#define BALAI_GOV_STEWARDSHIP_H

#include <stddef.h>

#include <jansson.h>

#define BALAI_GOV_STEWARD_LEVEL 100

/* How the steward count sees one room. Everything borrowed. */
struct balai_gov_steward_view {
    /* m.room.power_levels content, or NULL when the room has none (then
     * only `creator` has the steward level) */
    const json_t *power_levels;
    const char *creator;
    const char *system_user; /* never a steward; may be NULL */
    /* the current membership of user_id ("join", "invite", "leave", "ban",
     * ...), or NULL when none */
    const char *(*membership)(void *arg, const char *user_id);
    /* non-zero when user_id is an active human (exists, not deactivated,
     * not departing) */
    int (*active)(void *arg, const char *user_id);
    void *arg;
};

/* Non-zero when user_id is a steward in v. */
int balai_gov_steward_is(const struct balai_gov_steward_view *v, const char *user_id);

/* Counts the stewards of v and writes at most `max` of their ids (borrowed
 * from v->power_levels or v->creator) to out (may be NULL when max is 0).
 * Returns the full count. Order: as in the power levels' users map. */
size_t balai_gov_stewards(const struct balai_gov_steward_view *v, const char **out, size_t max);

enum balai_gov_steward_verdict {
    BALAI_STEWARD_OK = 0,
    BALAI_STEWARD_TOO_FEW,  /* the change loses a steward and leaves fewer than min */
    BALAI_STEWARD_TOO_MANY, /* the change adds a steward and leaves more than max */
};

/* Judges a change that takes a room from `before` to `after` stewards. A
 * change never makes things worse: losing stewards is refused only when the
 * result is below min, gaining only when the result is above max (a room
 * that is already out of bounds may move towards them). */
enum balai_gov_steward_verdict balai_gov_stewardship_judge(size_t before, size_t after, size_t min,
                                                           size_t max);

/* The successor of a departing steward: the first id, tier by tier (e.g.
 * the manager chain nearest first, then the owning unit's admins, then the
 * organisation's admins and owners), for which eligible(arg, id) is
 * non-zero. `tiers` holds ntiers arrays of ids; `counts` their lengths.
 * Returns a borrowed id or NULL when nobody qualifies. */
const char *balai_gov_stewardship_successor(const char *const *const *tiers, const size_t *counts,
                                            size_t ntiers,
                                            int (*eligible)(void *arg, const char *user_id),
                                            void *arg);

#endif
