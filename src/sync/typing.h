/* typing.h: who is typing in which room, in memory only.
 *
 * Per room, the set of typing users, each with the (monotonic) time its
 * notice expires, and the "typing" stream position of the set's last change.
 * Every change (start, stop, expiry) takes the next position of one counter
 * shared by all rooms. Nothing is stored: after a restart nobody types, and
 * the counter starts from the value given to balai_typing_new (the caller
 * passes the wall clock in ms, so that positions of a new run lie past the
 * old run's tokens). Time is passed in by the caller. Loop thread only. */
#ifndef BALAI_SYNC_TYPING_H
#define BALAI_SYNC_TYPING_H

#include <stdint.h>

struct balai_typing;

/* A new, empty state whose first change takes position start_pos + 1. */
struct balai_typing *balai_typing_new(int64_t start_pos);
/* NULL-safe. */
void balai_typing_free(struct balai_typing *t);

/* Starts (typing, until expires_ms) or stops user_id's typing in room_id
 * (strings are copied). Returns 1 when the room's set changed (a new
 * position was taken), 0 when it did not (a refresh only moves the expiry;
 * stopping a user who does not type is a no-op). */
int balai_typing_set(struct balai_typing *t, const char *room_id, const char *user_id, int typing,
                     int64_t expires_ms);
/* Removes every notice with expiry <= now_ms; calls changed(room_id, arg)
 * (room_id borrowed for the call) once for each room whose set changed. */
void balai_typing_expire(struct balai_typing *t, int64_t now_ms,
                         void (*changed)(const char *room_id, void *arg), void *arg);
/* The earliest expiry of all notices, or -1 when nobody types. */
int64_t balai_typing_next_expiry(const struct balai_typing *t);
/* The position of the last change in any room (start_pos when none). */
int64_t balai_typing_pos(const struct balai_typing *t);
/* Calls visit(user_id, arg) (borrowed for the call) for each user typing in
 * room_id, in the order they started; returns the position of the room's
 * last change, 0 when it never changed. visit may be NULL. */
int64_t balai_typing_room(const struct balai_typing *t, const char *room_id,
                          void (*visit)(const char *user_id, void *arg), void *arg);

#endif
