/* typing.h: typing notices of the running server (PUT
 * /rooms/{roomId}/typing/{userId}) and their delivery through /sync.
 *
 * The state (sync/typing.h) lives in app->typing, in memory only; one loop
 * timer (app->typing_timer) expires notices, and every change wakes the
 * parked /sync of the room's joined members. Loop thread only. */
#ifndef BALAI_API_TYPING_H
#define BALAI_API_TYPING_H

#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "util/buf.h"

/* Creates app->typing and its timer and adds the typing route. Returns 0 or
 * a negative BALAI_E*. */
int balai_api_client_typing_routes(struct balai_app *app);
/* Frees app->typing and its timer (before the loop is freed). NULL-safe
 * fields. */
void balai_api_typing_release(struct balai_app *app);

/* A balai_sync_eph_fn with the struct balai_app as src: the room's m.typing
 * event, when its set changed after `after` (after 0: when non-empty). Only
 * users still joined to the room are listed. */
size_t balai_api_typing_each(void *src, const char *user_id, const char *room_id, int64_t after,
                             struct balai_buf *b, int comma);
/* The current typing position (0 before init). */
int64_t balai_api_typing_pos(const struct balai_app *app);

#endif
