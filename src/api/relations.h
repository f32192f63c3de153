/* relations.h: event relations (threads, annotations, edits, references)
 * and redactions, as an in-memory index over the whole database.
 *
 * Event content is sealed at rest, so the database cannot index it: the
 * write that inserts an event with content["m.relates_to"] (a rel_type and
 * an event_id; replies alone are not relations) records one row of its own
 * (store.h balai_store_txn_relation_insert), and a redaction records which
 * event redacted which and drops the redacted child's relation. At start the
 * rows are loaded into memory; commits and redactions keep the index
 * current. The index is per (room, parent): a relation pointing to an event
 * of another room is never aggregated.
 *
 * It serves the bundled aggregations (unsigned["m.relations"]: m.thread with
 * latest_event, count and current_user_participated; m.replace as the latest
 * valid edit (v1.12); m.reference as a chunk of event ids) and
 * unsigned.redacted_because through app->event_extra, so /sync, /messages,
 * /event, /relations and /context all bundle from memory: the bodies needed
 * (every edit, the latest event of each thread, every redaction event) are
 * held as refcounted events. Bundles nest one level (latest_event carries its
 * own m.replace; the bundled edit carries nothing).
 *
 * Loop thread only, except balai_api_relations_write (writer thread) and
 * the work job of balai_api_rel_fetch. */
#ifndef BALAI_API_RELATIONS_H
#define BALAI_API_RELATIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"

struct balai_api_write;
struct balai_store_txn;

/* Creates app->relations, loads every relation and redaction (and the bodies
 * the bundles need) from the store, and sets app->event_extra. At start,
 * after balai_api_rooms_load. */
int balai_api_relations_load(struct balai_app *app);
/* Frees app->relations and clears app->event_extra. NULL-safe. */
void balai_api_relations_free(struct balai_app *app);

/* The send path's check of a new event (loop thread): BALAI_OK; BALAI_ESTATE
 * when an m.thread relation targets an event that itself has a relation
 * (spec: 400 M_UNKNOWN); BALAI_EEXIST when the same sender already annotated
 * the target with the same type and key (400 M_DUPLICATE_ANNOTATION). A
 * reason is written for both. */
int balai_api_relations_check(struct balai_app *app, struct balai_room *room, const char *sender,
                              const char *type, const char *state_key, const json_t *content,
                              char *reason, size_t reasonlen);

/* Writer thread, inside the write's apply: records the relations of w's new
 * events (their positions set) and the redactions of w's targets. */
int balai_api_relations_write(struct balai_store_txn *t, struct balai_api_write *w);

/* Loop thread, when w committed: updates the index. */
void balai_api_relations_commit(struct balai_api_write *w);

/* One event of a listing: its id, position, and body when held in memory
 * (a reference, or NULL until fetched). */
struct balai_rel_item {
    char *event_id;
    int64_t pos;
    struct balai_ev *ev;
};

/* The children of (room, parent_id) with rel_type and event type (NULL =
 * any), and with max_depth > 1 also their children (to that depth), in
 * ascending position. *out: caller frees with balai_api_rel_items_free.
 * Returns the count. */
size_t balai_api_relations_list(struct balai_app *app, struct balai_room *room,
                                const char *parent_id, const char *rel_type, const char *event_type,
                                int max_depth, struct balai_rel_item **out);

/* The thread roots of room (events with at least one m.thread child), pos
 * being that of the thread's latest event, newest first. *out: caller frees
 * with balai_api_rel_items_free. Returns the count. */
size_t balai_api_relations_threads(struct balai_app *app, struct balai_room *room,
                                   struct balai_rel_item **out);
/* Did user_id take part in the thread of `root` (sent it, or an m.thread
 * reply to it)? */
int balai_api_relations_participated(struct balai_app *app, struct balai_room *room,
                                     struct balai_ev *root, const char *user_id);

void balai_api_rel_items_free(struct balai_rel_item *items, size_t n);

/* Fills item->ev of items that have none: from the room's cache, then from
 * the store on app->work_pool. Returns 0 when every body is there (done is
 * not called), 1 when done(arg) will run on the loop thread once the read
 * finished (items stay the caller's and must live until then; those that
 * could not be read keep ev NULL), or BALAI_EBUSY when the pool is full. */
int balai_api_rel_fetch(struct balai_app *app, struct balai_room *room,
                        struct balai_rel_item *items, size_t n, void (*done)(void *arg), void *arg);

/* Routes: GET /rooms/{roomId}/relations/... and /threads (client/relations.c),
 * GET /rooms/{roomId}/context/{eventId} (client/context.c). */
int balai_api_client_relations_routes(struct balai_app *app);
int balai_api_client_context_routes(struct balai_app *app);

#endif
