/* sync.h: assembling a /sync response from the in-memory rooms.
 *
 * Everything comes from memory (core/room.h): the recent timeline of each
 * room is cached, and a timeline that reaches past the cache is returned as
 * `limited` with a prev_batch token from which /messages pages back through
 * the store. The JSON text is written directly, splicing each event's
 * serialised client form, so that fan-out to many parked clients costs
 * little. Loop thread only. */
#ifndef BALAI_SYNC_SYNC_H
#define BALAI_SYNC_SYNC_H

#include <stdint.h>

#include "core/room.h"
#include "sync/token.h"
#include "util/buf.h"

struct balai_sync_params {
    const char *user_id;
    const char *device_id;
    const char *epoch;
    struct balai_sync_token since; /* all zero: initial sync */
    int initial;
    int full_state;
    int timeline_limit; /* per room, >= 1 */
};

/* Writes the response for events up to `upto` into out. *has_updates is set
 * when the response carries anything for the user (always for an initial
 * sync), so a long-poll knows whether to answer or keep waiting. */
int balai_sync_build(struct balai_rooms *rs, const struct balai_sync_params *p, int64_t upto,
                     struct balai_buf *out, int *has_updates);

/* Appends the client form of `ev` for user/device: the cached JSON plus
 * unsigned.transaction_id for the sender's own device. */
int balai_sync_write_event(struct balai_buf *b, struct balai_ev *ev, const char *user_id,
                           const char *device_id);

#endif
