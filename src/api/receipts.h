/* receipts.h: every room's read receipts in memory, loaded from the store at
 * start and updated when a write commits; /sync reads them from here.
 *
 * A receipt is (room, user, type, thread) -> (event id, ts), type "m.read"
 * or "m.read.private" (seen by its owner only), thread "" when unthreaded,
 * with the "receipts" stream position of its last change. The endpoints
 * are in api/client/receipts.c. Loop thread only. */
#ifndef BALAI_API_RECEIPTS_H
#define BALAI_API_RECEIPTS_H

#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "util/buf.h"

struct balai_receipts;

#define BALAI_RECEIPT_READ "m.read"
#define BALAI_RECEIPT_PRIVATE "m.read.private"

/* Adds the receipt and read marker routes (api/client/receipts.c). */
int balai_api_client_receipts_routes(struct balai_app *app);

/* A new, empty set (for tests; the server uses balai_api_receipts_load). */
struct balai_receipts *balai_api_receipts_new(void);
/* Creates app->receipts and loads every receipt from the store (at start,
 * before serving). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_receipts_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_receipts_free(struct balai_receipts *rs);

/* Records a committed receipt (strings are copied). An older pos than the
 * entry's is ignored. */
void balai_api_receipts_put(struct balai_receipts *rs, const char *room_id, const char *user_id,
                            const char *type, const char *thread_id, const char *event_id,
                            int64_t ts, int64_t pos);
/* The highest committed position (0 when none). */
int64_t balai_api_receipts_pos(const struct balai_receipts *rs);

/* A balai_sync_eph_fn with the struct balai_receipts as src: the room's
 * m.receipt event with the receipts changed after `after` (0: all) that
 * user_id may see (private ones only its own); nothing when there are none:
 *     {"type":"m.receipt","content":{event_id:{type:{user_id:{"ts":..,
 *      "thread_id"?:..}}}}} */
size_t balai_api_receipts_each(void *src, const char *user_id, const char *room_id, int64_t after,
                               struct balai_buf *b, int comma);

#endif
