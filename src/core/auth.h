/* auth.h: the authorization rules: may this event enter the room?
 *
 * SPEC: Matrix v1.12, Room version 10 and 11 "Authorization rules". The
 * rules are applied against the room's CURRENT state, read through a
 * struct balai_state_lookup (core/state.h), which is how a local server
 * checks the events its own users send.
 *
 * Not covered here, by design:
 * - signatures (events must be signed by the sender's server; rule 4.2,
 *   join_authorised_via_users_server's signature): the caller verifies;
 * - rule 2 (the event's own auth_events are well chosen): a local event
 *   gets them from balai_auth_select, a remote one is checked by the
 *   federation layer;
 * - which events a user may redact beyond the m.room.redaction level: see
 *   balai_auth_check_redaction, called by the redaction path.
 * Refused with a reason, as not supported: third-party invites (rule
 * 4.4.1) and restricted joins without a prior invite (rule 4.3.5). */
#ifndef BALAI_CORE_AUTH_H
#define BALAI_CORE_AUTH_H

#include <stddef.h>

#include <jansson.h>

#include "core/powerlevels.h"
#include "core/room_version.h"
#include "core/state.h"

/* Decides whether `pdu` (borrowed) is allowed in a room of `room_version`
 * whose current state `state` reads. The lookup must report the event id of
 * the m.room.create event (rule 4.3.1 compares it with prev_events).
 * Returns BALAI_OK; BALAI_EFORBIDDEN with a plain-language reason in
 * `reason` (e.g. "You must be invited to join this room"); or BALAI_EINVAL
 * with a reason when the event is malformed (no string type, sender or
 * room_id, no content object, a non-string state_key) or the room version
 * is unsupported. `reason` may be NULL when reasonlen is 0. */
int balai_auth_check(const char *room_version, const json_t *pdu,
                     const struct balai_state_lookup *state, char *reason, size_t reasonlen);

/* The extra check for redacting an event sent by `original_sender`:
 * allowed for one's own events, otherwise only with the `redact` level.
 * (The sender must also pass balai_auth_check with the redaction event.)
 * BALAI_OK, BALAI_EFORBIDDEN with a reason, or BALAI_EINVAL (version). */
int balai_auth_check_redaction(const char *room_version, const char *sender,
                               const char *original_sender, const struct balai_state_lookup *state,
                               char *reason, size_t reasonlen);

/* The auth events a new event should cite (Server-Server API "Auth events
 * selection"): the create event, the power levels, the sender's member
 * event and, for a member event, the target's member event, the join rules
 * (join, invite, knock) and the authorising user's member event
 * (join_authorised_via_users_server) and the third-party invite being
 * redeemed, each when present in `state`.
 * `content` may be NULL for non-member events. Returns a new array of event
 * id strings (caller decrefs); empty for m.room.create. */
json_t *balai_auth_select(const char *type, const char *state_key, const char *sender,
                          const json_t *content, const struct balai_state_lookup *state);

/* The room creator named by `create` (borrowed from it): v10 the content's
 * creator, v11 the sender. NULL if absent. */
const char *balai_auth_creator(const struct balai_room_version *rv, const json_t *create);

/* Fills `pl` from the state's power levels (or the creator's 100 when the
 * room has none). The view borrows from events held by the state source.
 * BALAI_EINVAL for an unsupported version. */
int balai_auth_power_levels(const char *room_version, const struct balai_state_lookup *state,
                            struct balai_powerlevels *pl);

#endif
