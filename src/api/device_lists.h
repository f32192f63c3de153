/* device_lists.h: changes of users' device lists, for /sync
 * (device_lists.changed/left) and GET /keys/changes.
 *
 * A user's device list changes when a device logs in, goes away (deleted,
 * logged out, its user deactivated), or its device keys or the user's
 * cross-signing keys are uploaded or signed. Each change is stored (table
 * device_list_changes) at a "device_lists" stream position allocated in the
 * committing transaction; the most recent DEVICE_LISTS_KEEP changes are also
 * kept in memory, which is all /sync reads. A token older than memory gets
 * every user sharing a room with the syncing user as `changed` (the spec
 * allows it).
 *
 * Besides those changes, `changed` lists a user who came to share a room
 * with the syncing user since the token (a join of either side, read from the
 * rooms' cached timelines after the token's events position), and `left` one
 * who no longer shares any room. Only users sharing a room with the syncing
 * user (and the user itself) are ever named. Loop thread only. */
#ifndef BALAI_API_DEVICE_LISTS_H
#define BALAI_API_DEVICE_LISTS_H

#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "store/store.h"
#include "util/buf.h"

struct balai_device_lists;

/* Creates app->device_lists and loads the recent changes from the store (at
 * start, before serving). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_device_lists_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_device_lists_free(struct balai_device_lists *dl);

/* user_id's device list changed (a new device, keys uploaded): records the
 * change with a store write of its own and, once committed, wakes the /sync
 * of user_id and of every user sharing a room with it. Call after the change
 * itself committed. A failed write is logged. */
void balai_api_device_lists_changed(struct balai_app *app, const char *user_id);
/* The same in two steps, for a write that changes the device list itself
 * (a login, a key upload), so that the change commits with it: _txn records
 * it inside the write's transaction (writer thread; stores its position in
 * *pos), _note, on the loop thread once that write committed, keeps it in
 * memory and wakes the same users. */
int balai_api_device_lists_txn(struct balai_store_txn *t, const char *user_id, int64_t *pos);
void balai_api_device_lists_note(struct balai_app *app, const char *user_id, int64_t pos);
/* A device went away (its deletion committed, with
 * balai_store_txn_device_data_delete in the same transaction): forgets its
 * keys and waiting to-device messages in memory too, and records the change
 * as balai_api_device_lists_changed does. device_id NULL: every device of
 * the user (a deactivation). */
void balai_api_device_lists_device_gone(struct balai_app *app, const char *user_id,
                                        const char *device_id);

/* The current device_lists position (0 when none; NULL-safe). */
int64_t balai_api_device_lists_pos(const struct balai_device_lists *dl);

/* The /sync source (a balai_sync_devlists_fn): src is a struct
 * balai_api_device_lists_src living for the build, naming the app and the
 * token's events position (memberships are read after it). */
struct balai_api_device_lists_src {
    struct balai_app *app;
    int64_t events_after;
};
size_t balai_api_device_lists_write(void *src, const char *user_id, int64_t after,
                                    struct balai_buf *changed, struct balai_buf *left);

/* Adds GET /_matrix/client/v3/keys/changes. Returns 0 or a negative BALAI_E*. */
int balai_api_client_device_lists_routes(struct balai_app *app);

#endif
