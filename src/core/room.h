/* room.h: the in-memory model of rooms: current state, membership, the
 * recent timeline, and the history needed to decide who may see what.
 *
 * Events pass through two steps. An event that passed the auth rules is
 * added as PENDING (balai_room_add_pending): its state applies at once to
 * the auth view, so the next event in the same room is checked and chained
 * against it, but readers do not see it. When the writer committed it, it is
 * COMMITTED (balai_room_commit) with its stream position: it joins the
 * timeline cache, the readers' state, the membership index and the
 * visibility history. Committed events are immutable and refcounted.
 *
 * The timeline cache of each room is a bounded ring of the most recent
 * committed events; it holds every event of the room from its oldest entry
 * on, so a reader asking for events after a position at or past
 * balai_room_cache_floor() is served from memory. Loop thread only. */
#ifndef BALAI_CORE_ROOM_H
#define BALAI_CORE_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/room_version.h"
#include "core/state.h"

/* One event as the server holds it. */
struct balai_ev {
    int refs;
    int64_t pos; /* stream position; 0 while pending */
    char *event_id;
    json_t *pdu;            /* federation format, owned reference */
    const char *type;       /* borrowed from pdu */
    const char *sender;     /* borrowed from pdu */
    const char *state_key;  /* borrowed from pdu; NULL for a message event */
    const char *membership; /* m.room.member: content.membership (borrowed), else NULL */
    int64_t ts;
    int64_t depth;
    /* The sender's device and transaction id, for unsigned.transaction_id. */
    char *txn_device;
    char *txn_id;
    /* Client format without `unsigned`, serialised once on demand. */
    char *client_json;
    size_t client_len;
};

/* Makes an event from a PDU (takes the reference) and its id (copied). */
struct balai_ev *balai_ev_new(json_t *pdu, const char *event_id);
struct balai_ev *balai_ev_ref(struct balai_ev *ev);
/* Drops a reference; frees at zero. NULL-safe. */
void balai_ev_unref(struct balai_ev *ev);
/* The client-format JSON of the event (without `unsigned`), built on first use; borrowed. */
const char *balai_ev_client_json(struct balai_ev *ev, size_t *len);

enum balai_visibility {
    BALAI_VIS_SHARED = 0,
    BALAI_VIS_INVITED,
    BALAI_VIS_JOINED,
    BALAI_VIS_WORLD_READABLE,
};

struct balai_room;

/* A new room; strings copied. The ring keeps `cache_size` recent events. */
struct balai_room *balai_room_new(const char *room_id, const struct balai_room_version *rv,
                                  const char *creator, int is_direct, size_t cache_size);
void balai_room_free(struct balai_room *r);

const char *balai_room_id(const struct balai_room *r);
const struct balai_room_version *balai_room_version(const struct balai_room *r);
const char *balai_room_creator(const struct balai_room *r);
int balai_room_is_direct(const struct balai_room *r);

/* The view the auth rules read: committed state overlaid by pending state. */
struct balai_state_lookup balai_room_auth_view(struct balai_room *r);
/* Committed current state (what readers see). */
const struct balai_room_state *balai_room_state(const struct balai_room *r);
/* Calls fn for every committed current state event (borrowed). */
void balai_room_state_each(const struct balai_room *r, void (*fn)(struct balai_ev *ev, void *arg),
                           void *arg);
/* The committed state event for (type, state_key), borrowed, or NULL. */
struct balai_ev *balai_room_state_ev(const struct balai_room *r, const char *type,
                                     const char *state_key);
/* Position of the room's m.room.create event (its first event). */
int64_t balai_room_first_pos(const struct balai_room *r);

/* Head of the event graph including pending events: the last event id
 * (borrowed, NULL for an empty room) and its depth. */
const char *balai_room_head(const struct balai_room *r, int64_t *depth);

/* Adds an event that passed the auth rules and is on its way to the
 * writer. Takes a reference. */
void balai_room_add_pending(struct balai_room *r, struct balai_ev *ev);
/* The writer committed `ev` at ev->pos (set by the caller). Positions must
 * arrive in increasing order. Drops the pending reference, takes a
 * committed one. */
void balai_room_commit(struct balai_room *r, struct balai_ev *ev);
/* A committed event was redacted: `redacted` (same event_id and pos, the
 * redacted PDU) replaces the event in the cache ring and, when it is the
 * current state for its (type, state_key), in the state. Takes references
 * as needed (the caller keeps its own). An event not held is ignored. */
void balai_room_replace(struct balai_room *r, struct balai_ev *redacted);
/* The writer refused `ev`: its pending state is withdrawn. */
void balai_room_abort(struct balai_room *r, struct balai_ev *ev);
/* Calls fn for every pending event (borrowed), oldest first, until fn
 * returns non-zero; returns that value or 0. */
int balai_room_pending_each(const struct balai_room *r, int (*fn)(struct balai_ev *ev, void *arg),
                            void *arg);
/* Loads a committed event at start (state events through balai_room_load_state,
 * then the recent timeline in ascending order through this). */
void balai_room_load_timeline(struct balai_room *r, struct balai_ev *ev);
/* Loads a current state event at start. */
void balai_room_load_state(struct balai_room *r, struct balai_ev *ev);
/* Loads one entry of membership/visibility history at start, ascending pos.
 * For m.room.member: user = state_key, value = membership; for
 * m.room.history_visibility: user = NULL, value = the visibility. */
void balai_room_load_history(struct balai_room *r, int64_t pos, const char *user,
                             const char *value);

/* Position of the newest committed event (0 if none). */
int64_t balai_room_last_pos(const struct balai_room *r);
/* Every committed event with pos >= floor is in the cache (INT64_MAX when empty and unknown). */
int64_t balai_room_cache_floor(const struct balai_room *r);
/* Calls fn for cached events with after < pos <= upto, ascending. Stops when fn returns non-zero.
 */
int balai_room_cached_each(const struct balai_room *r, int64_t after, int64_t upto,
                           int (*fn)(struct balai_ev *ev, void *arg), void *arg);
/* Cached events with pos <= upto, newest first, at most `max`: fills out[] (borrowed) and
 * returns the count. */
size_t balai_room_cached_latest(const struct balai_room *r, int64_t upto, size_t max,
                                struct balai_ev **out);
/* Finds a cached event by id (borrowed), or NULL. */
struct balai_ev *balai_room_cached_event(const struct balai_room *r, const char *event_id);

/* Current (committed) membership of a user: "join", "invite", "leave",
 * "ban", "knock", or NULL when the user never had one. */
const char *balai_room_membership(const struct balai_room *r, const char *user_id);
/* The user's membership just after position `pos` (NULL if none then). */
const char *balai_room_membership_at(const struct balai_room *r, const char *user_id, int64_t pos);
/* The position of the user's latest membership change (0 if none). */
int64_t balai_room_membership_pos(const struct balai_room *r, const char *user_id);
size_t balai_room_joined_count(const struct balai_room *r);
size_t balai_room_invited_count(const struct balai_room *r);
/* Calls fn for every user whose current membership is `membership` (NULL: any). */
void balai_room_members_each(const struct balai_room *r, const char *membership,
                             void (*fn)(const char *user_id, const char *membership, void *arg),
                             void *arg);
/* May `user_id` see the event at `pos` sent by `sender` of type/state_key?
 * (spec "History visibility"; a user always sees their own membership events) */
int balai_room_visible(const struct balai_room *r, const char *user_id, const struct balai_ev *ev);

/* ---- the set of rooms ---- */

struct balai_rooms;

/* Recent events kept in memory per room. */
#define BALAI_ROOM_CACHE 64

struct balai_rooms *balai_rooms_new(size_t cache_size);
void balai_rooms_free(struct balai_rooms *rs);
/* The room, or NULL. */
struct balai_room *balai_rooms_get(const struct balai_rooms *rs, const char *room_id);
/* Adds a room (strings copied). NULL if it exists. */
struct balai_room *balai_rooms_add(struct balai_rooms *rs, const char *room_id,
                                   const struct balai_room_version *rv, const char *creator,
                                   int is_direct);
size_t balai_rooms_count(const struct balai_rooms *rs);
/* Removes and frees a room that never committed an event (a creation that
 * failed). BALAI_ESTATE if it has committed or pending events. */
int balai_rooms_remove_unborn(struct balai_rooms *rs, struct balai_room *r);
/* Calls fn for every room in which the user has or had a membership. */
void balai_rooms_of_user(const struct balai_rooms *rs, const char *user_id,
                         void (*fn)(struct balai_room *r, void *arg), void *arg);
/* Records that user has a membership in room (called by commit/load paths). */
void balai_rooms_note_member(struct balai_rooms *rs, struct balai_room *r, const char *user_id);
/* Highest committed stream position of any event. */
int64_t balai_rooms_max_pos(const struct balai_rooms *rs);
void balai_rooms_set_max_pos(struct balai_rooms *rs, int64_t pos);
/* Room aliases: alias -> room id (copied). */
int balai_rooms_alias_set(struct balai_rooms *rs, const char *alias, const char *room_id,
                          const char *creator);
const char *balai_rooms_alias_get(const struct balai_rooms *rs, const char *alias,
                                  const char **creator);
int balai_rooms_alias_del(struct balai_rooms *rs, const char *alias);
/* Forgotten rooms per user. */
void balai_rooms_forget(struct balai_rooms *rs, const char *user_id, const char *room_id,
                        int forgotten);
int balai_rooms_forgotten(const struct balai_rooms *rs, const char *user_id, const char *room_id);

#endif
