/* gov_hooks.h: the named points where governance policies hook into the
 * event path (DESIGN.md §3: "core never tests a policy inline").
 *
 *   before_persist  balai_api_gov_before_event(): every event built by
 *                   balai_api_event_add (client sends, state, membership,
 *                   createRoom's events, the system user's own writes),
 *                   after the auth rules passed and before it is added as
 *                   pending. A policy refuses with BALAI_EFORBIDDEN (403
 *                   M_FORBIDDEN) or BALAI_EINVAL (400) and a plain-language
 *                   reason; nothing is written then.
 *   after_persist   balai_api_gov_after_event(): every committed event, on
 *                   the loop thread, in commit order (audit of metadata
 *                   changes).
 *
 * Policies plugged in today: organisation rooms (api/org_rooms.h: archived
 * rooms are read-only, id.balai.room.* metadata is validated and kept to
 * stewards) and the stewardship invariant (api/stewardship.h). Direct
 * messages are not organisation rooms: no policy applies to them here. To
 * add a policy, call it from gov_hooks.c; keep the per-event cost small (a
 * plain message costs one state lookup here). Loop thread only. */
#ifndef BALAI_API_GOV_HOOKS_H
#define BALAI_API_GOV_HOOKS_H

#include <stddef.h>

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"
#include "core/state.h"

/* before_persist. `view` is the room's auth view (committed state overlaid
 * by pending events). Returns BALAI_OK, or BALAI_EFORBIDDEN / BALAI_EINVAL
 * with a reason. A no-op when app has no org rooms state (tools, benches). */
int balai_api_gov_before_event(struct balai_app *app, struct balai_room *room,
                               const struct balai_state_lookup *view, const char *sender,
                               const char *type, const char *state_key, const json_t *content,
                               char *reason, size_t reasonlen);

/* after_persist: `ev` committed in `room` (borrowed). */
void balai_api_gov_after_event(struct balai_app *app, struct balai_room *room,
                               const struct balai_ev *ev);

#endif
