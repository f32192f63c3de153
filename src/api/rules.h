/* rules.h: dynamic membership rules in the running server (DESIGN.md §5).
 *
 * gov/rules.h decides who belongs where; this module keeps the rules
 * (migration 15), serves the admin API (docs/rules.md) and carries the
 * decisions out as Matrix membership events:
 *
 *  - JOIN: the system user invites the person, and the server adds the
 *    person's own join event, in one write (reason "membership rule NAME");
 *  - LEAVE: the system user kicks the person (reason "membership rule
 *    NAME"); when the auth rules do not let it (the person's power level is
 *    not below the system user's), the person's leave is written on their
 *    behalf with the same reason.
 *
 * OWNERSHIP. A membership a rule made is OWNED (a row in rule_memberships).
 * When no rule wants the person in that room any more, only owned
 * memberships are taken away: people who joined by themselves stay. When
 * someone leaves an owned room by themselves, or is kicked or banned by
 * someone else, the row becomes OPTOUT and no rule puts them back while a
 * rule keeps matching; once no rule wants them there the row is dropped (so
 * a move back re-adds them). Mandatory rooms cannot be left (below).
 *
 * WHEN. A person is RE-EVALUATED when their directory record commits
 * (balai_api_directory_committed calls balai_api_rules_on_person_changed:
 * admin edits, CSV import, SCIM), when an account is created, deactivated
 * or reactivated, when their SCIM groups change, and everybody when a rule
 * is created, changed or deleted, and at start. Deactivated, offboarded and
 * terminated people match no rule: their owned memberships go.
 *
 * APPLYING. Re-evaluations wait in a queue of user ids (each once) and run
 * on the loop thread in bounded batches: a timer takes people off the queue
 * until BALAI_RULES_EVALS people were evaluated or BALAI_RULES_BATCH writes
 * were submitted in the tick, or BALAI_RULES_IN_FLIGHT writes are in
 * flight, then yields to the loop. The
 * queue is not persisted: it is recomputed at start by re-evaluating
 * everyone (the decision depends only on the rules, the directory, the room
 * state and the ownership rows, all durable). A preview computes, for
 * every person, exactly the plan the queue would carry out.
 *
 * MANDATORY. A rule with "mandatory": true makes its rooms mandatory for
 * the people it matches: leaving answers 403 M_FORBIDDEN naming the rule.
 * A kick or ban of such a member is allowed for the system user, the
 * organisation's owners and admins, and the room's stewards (power level
 * 100); for anyone else (e.g. a moderator at 50) it is refused the same way.
 *
 * Loop thread only, except where said. */
#ifndef BALAI_API_RULES_H
#define BALAI_API_RULES_H

#include <stddef.h>

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"
#include "core/state.h"

#define BALAI_RULES_BATCH 32      /* writes submitted per loop tick */
#define BALAI_RULES_IN_FLIGHT 128 /* writes in flight at most */
#define BALAI_RULES_EVALS 256     /* people evaluated per loop tick */

struct balai_api_rules;

/* Loads the rules and ownership rows into app->rules (at start, in
 * load_messaging, after the rooms and the directory). 0 or a store error. */
int balai_api_rules_load(struct balai_app *app);
/* Registers the admin routes and starts the engine (needs app->loop); queues
 * everyone for a first evaluation. From balai_api_init. */
int balai_api_rules_routes(struct balai_app *app);
/* Stops the engine's timer (balai_api_release). */
void balai_api_rules_stop(struct balai_app *app);
/* Frees app->rules. NULL-safe (and app->rules NULL is fine). */
void balai_api_rules_free(struct balai_app *app);

/* Queues user_id for re-evaluation (cheap; once per user however often it
 * is called before the evaluation runs). No-op before load. */
void balai_api_rules_on_person_changed(struct balai_app *app, const char *user_id);

/* Offboarding: forgets every ownership row of user_id (memory and store),
 * so that no rule-driven leave competes with the offboarding's own. */
void balai_api_rules_forget_user(struct balai_app *app, const char *user_id);

/* People queued plus writes in flight (0 when everything is applied). */
size_t balai_api_rules_pending(struct balai_app *app);

/* The name of the rule that makes room_id mandatory for user_id (borrowed,
 * valid until the rules change), or NULL. */
const char *balai_api_rules_mandatory(struct balai_app *app, const char *user_id,
                                      const char *room_id);

/* before_persist for m.room.member events (api/gov_hooks.c): refuses
 * leaving a mandatory room, and kicks or bans of its mandatory members by
 * people who may not (see MANDATORY). BALAI_OK or BALAI_EFORBIDDEN with a
 * reason naming the rule. */
int balai_api_rules_check_member(struct balai_app *app, struct balai_room *room,
                                 const struct balai_state_lookup *view, const char *sender,
                                 const char *state_key, const json_t *content, char *reason,
                                 size_t reasonlen);
/* after_persist for m.room.member events: an owned membership that ended
 * otherwise than through a rule becomes OPTOUT. */
void balai_api_rules_member_committed(struct balai_app *app, struct balai_room *room,
                                      const struct balai_ev *ev);

#endif
