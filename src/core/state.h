/* state.h: a room's current state, and the lookup the auth rules read it through.
 *
 * The auth rules (core/auth.h) see state only through struct
 * balai_state_lookup, a callback, so a caller can answer from whatever it
 * holds (a cache, a snapshot, a store). struct balai_room_state is a plain
 * in-memory map from (type, state_key) to the event, usable as such a
 * source; it belongs to one thread. */
#ifndef BALAI_CORE_STATE_H
#define BALAI_CORE_STATE_H

#include <stddef.h>

#include <jansson.h>

/* Read access to current room state. */
struct balai_state_lookup {
    /* Returns the current state event (a PDU, borrowed, valid for the
     * duration of the call that asked) for (type, state_key), or NULL.
     * When event_id is not NULL, *event_id is set to its id (borrowed). */
    const json_t *(*get)(void *arg, const char *type, const char *state_key, const char **event_id);
    void *arg;
};

/* Looks up through `l`; NULL when absent. event_id may be NULL. */
const json_t *balai_state_lookup_get(const struct balai_state_lookup *l, const char *type,
                                     const char *state_key, const char **event_id);
/* The content.membership of `user_id`'s member event, or "leave" when the
 * user has none (borrowed). */
const char *balai_state_membership(const struct balai_state_lookup *l, const char *user_id);

struct balai_room_state;

struct balai_room_state *balai_state_new(void);
/* NULL-safe. Releases the events it holds. */
void balai_state_free(struct balai_room_state *s);
/* Sets the state entry for pdu's (type, state_key) to (event_id, pdu),
 * replacing any previous one. Takes a new reference to pdu (the caller
 * keeps its own); copies event_id. BALAI_EINVAL if pdu has no string type
 * or state_key, or event_id is NULL. */
int balai_state_set(struct balai_room_state *s, const char *event_id, json_t *pdu);
/* Removes the entry; BALAI_ENOTFOUND if there was none. */
int balai_state_remove(struct balai_room_state *s, const char *type, const char *state_key);
/* The event for (type, state_key), borrowed (valid until the entry is
 * replaced or removed), or NULL; *event_id likewise when not NULL. */
const json_t *balai_state_get(const struct balai_room_state *s, const char *type,
                              const char *state_key, const char **event_id);
size_t balai_state_count(const struct balai_room_state *s);
/* Iteration: *it starts at 0; returns 1 and fills the borrowed outputs
 * while entries remain, in no particular order. No changes meanwhile. */
int balai_state_next(const struct balai_room_state *s, size_t *it, const char **event_id,
                     const json_t **pdu);
/* A lookup reading `s` (borrowed: s must outlive its use). */
struct balai_state_lookup balai_state_lookup_of(const struct balai_room_state *s);

#endif
