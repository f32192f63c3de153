/* unread.h: unread notification counts per (room, user) and per thread,
 * driven by each user's push rules (api/push_rules.h, core/push.h).
 *
 * SPEC: Matrix v1.12, Client-Server API "Push Notifications": "Receiving
 * notifications", "Marking notifications as read" (m.read and
 * m.read.private both count, the one further ahead wins; threaded receipts
 * clear only their thread, unthreaded ones everything), /sync
 * `unread_notifications` and `unread_thread_notifications`.
 *
 * When an event commits, the rules of every joined member but the sender
 * are evaluated once; an event whose actions notify counts towards
 * notification_count (and highlight_count when they highlight) in the
 * event's thread (the root of its m.thread relation, else "main"). A
 * member's own event marks its thread as read up to it. A receipt moving
 * forward recounts the member's affected threads from the events after it,
 * which are all in the room's recent-event cache since the receipt's event
 * is (a receipt for an event older than the cache changes nothing).
 *
 * Counts are in memory. At start they are rebuilt from the stored receipts
 * and the events in each room's recent-event cache, that is at most the
 * last BALAI_ROOM_CACHE (64) events of each room: after a restart a count
 * never exceeds what those events give. Loop thread only. */
#ifndef BALAI_API_UNREAD_H
#define BALAI_API_UNREAD_H

#include <stdint.h>

#include "api/app.h"
#include "core/room.h"
#include "util/buf.h"

struct balai_unread;

/* Creates app->unread, empty (for tests; the server uses balai_api_unread_load). */
void balai_api_unread_init(struct balai_app *app);
/* Creates app->unread and rebuilds the counts (at start, before serving,
 * after the rooms, receipts and account data are loaded; reads the stored
 * receipts). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_unread_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_unread_free(struct balai_unread *u);

/* A committed event of room (call once per event, after balai_room_commit). */
void balai_api_unread_event(struct balai_app *app, struct balai_room *room, struct balai_ev *ev);
/* A committed receipt of user_id (type m.read or m.read.private; thread_id
 * "" or NULL when unthreaded). */
void balai_api_unread_receipt(struct balai_app *app, const char *room_id, const char *user_id,
                              const char *type, const char *thread_id, const char *event_id);

/* The counts of user_id in room_id: of one thread ("main" or a root event
 * id), or of all threads when thread_id is NULL. */
void balai_api_unread_get(struct balai_app *app, const char *room_id, const char *user_id,
                          const char *thread_id, uint32_t *notifications, uint32_t *highlights);

/* A balai_sync_unread_fn with the struct balai_app as src. Without threads
 * unread_notifications sums every thread; with threads it holds the main
 * timeline's and unread_thread_notifications the threads' with counts. */
void balai_api_unread_write(void *src, const char *user_id, const char *room_id, int threads,
                            struct balai_buf *b);

#endif
