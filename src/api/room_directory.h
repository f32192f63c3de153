/* room_directory.h: which rooms are published in the public room directory,
 * in memory: loaded from the store at start and updated when a write
 * commits; GET /publicRooms reads it.
 *
 * A room is published by createRoom with visibility "public" or by PUT
 * /directory/list/room/{roomId} (api/client/public_rooms.c). Loop thread
 * only. */
#ifndef BALAI_API_ROOM_DIRECTORY_H
#define BALAI_API_ROOM_DIRECTORY_H

#include <stddef.h>

#include "api/app.h"

struct balai_room_directory;

/* A new, empty set (for tests; the server uses balai_api_room_directory_load). */
struct balai_room_directory *balai_api_room_directory_new(void);
/* Creates app->room_directory and loads the published rooms from the store
 * (at start, before serving). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_room_directory_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_room_directory_free(struct balai_room_directory *d);

/* Records a committed change: publishes (published != 0) or removes room_id
 * (copied). */
void balai_api_room_directory_set(struct balai_room_directory *d, const char *room_id,
                                  int published);
/* Is room_id published? 0 for a NULL set. */
int balai_api_room_directory_has(const struct balai_room_directory *d, const char *room_id);
/* Calls fn for every published room id (borrowed), in no particular order.
 * The set must not change during the iteration. */
void balai_api_room_directory_each(const struct balai_room_directory *d,
                                   void (*fn)(const char *room_id, void *arg), void *arg);
size_t balai_api_room_directory_count(const struct balai_room_directory *d);

#endif
