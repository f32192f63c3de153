/* events.h: the path of one event, shared by every endpoint that writes to rooms.
 *
 *   prepare: build the PDU on the room's head (including pending events),
 *            apply the e2ee policy and the auth rules, add it as pending;
 *   write:   one store op seals each event's PDU with the room's data key
 *            (on the writer thread), inserts events, current state, the
 *            transaction id, and for a new room the room and its key;
 *   commit:  back on the loop thread, positions go into the events, rooms
 *            see them as committed, and every member's parked /sync wakes.
 *
 * A refused event changes nothing; a failed write withdraws its pending
 * events. */
#ifndef BALAI_API_EVENTS_H
#define BALAI_API_EVENTS_H

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"
#include "store/store.h"

#define BALAI_WRITE_MAX_EVENTS 128
#define BALAI_WRITE_MAX_REDACTS 8

struct balai_api_write;
typedef void (*balai_write_done_fn)(struct balai_api_write *w);

struct balai_api_write {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_room *room;
    struct balai_ev *evs[BALAI_WRITE_MAX_EVENTS];
    char *plain[BALAI_WRITE_MAX_EVENTS]; /* serialised PDUs, sealed by the writer */
    size_t plain_len[BALAI_WRITE_MAX_EVENTS];
    int64_t pos[BALAI_WRITE_MAX_EVENTS];
    size_t nevs;
    /* a new room: inserted with its data key before the events */
    int new_room;
    /* idempotency: recorded with the first event */
    char *txn_user, *txn_device, *txn_id;
    /* an alias to insert with the events (createRoom room_alias_name) */
    char *alias;
    /* a forget flag change of forget_user for this room: 1 forget, -1 unforget, 0 none */
    int forget;
    char *forget_user;
    /* publish the room in the room directory (createRoom visibility "public") */
    int publish;
    /* redaction targets: each stored event's sealed PDU is replaced by its
     * redacted form (sealed by the writer), and the cached event by `redacted` */
    struct balai_ev *redacted[BALAI_WRITE_MAX_REDACTS];
    char *redacted_plain[BALAI_WRITE_MAX_REDACTS];
    size_t redacted_len[BALAI_WRITE_MAX_REDACTS];
    size_t nredacted;
    int submitted;
    balai_write_done_fn done; /* loop thread, after memory is updated; rc in op.rc */
    void *arg;
};

/* A new write for `room` (which must stay alive: rooms are never freed while serving). */
struct balai_api_write *balai_api_write_new(struct balai_app *app, struct balai_room *room);
/* Withdraws pending events (if not submitted) and frees. NULL-safe. */
void balai_api_write_free(struct balai_api_write *w);

/* Builds, checks and adds one event as pending to w. Returns BALAI_OK;
 * BALAI_EFORBIDDEN with a plain-language reason (auth rules, e2ee policy);
 * BALAI_EINVAL with a reason (malformed content); BALAI_ETOOBIG (over 65,536
 * bytes); BALAI_EBUSY when the write is full. */
int balai_api_event_add(struct balai_api_write *w, const char *sender, const char *type,
                        const char *state_key, const json_t *content, char *reason,
                        size_t reasonlen);

/* The same for an m.room.redaction event of `redacts_event_id` (in the
 * content or at the top level, as the room version wants). */
int balai_api_event_add_redaction(struct balai_api_write *w, const char *sender,
                                  const char *redacts_event_id, const json_t *content, char *reason,
                                  size_t reasonlen);

/* Adds `target` (borrowed; a committed event of w's room, pos set) as a
 * redaction target: the write replaces its stored PDU with the redacted form
 * (redacted flag set), and on commit the room's cached copies too. Returns
 * BALAI_OK, BALAI_EBUSY when the write holds too many targets, BALAI_EINVAL
 * when the event cannot be redacted (unsupported version). */
int balai_api_write_redact_target(struct balai_api_write *w, const struct balai_ev *target);

/* Queues the write. w->done runs when it committed or failed; then w is freed. */
void balai_api_write_submit(struct balai_api_write *w);
/* The same, as one op of a group that commits or fails as a whole
 * (store.h balai_store_group); the group's submit queues it. */
void balai_api_write_add_to_group(struct balai_api_write *w, struct balai_store_group *g);

/* Transaction-id idempotency for endpoints that write events (send, redact):
 * answers the request and returns 1 when the transaction id is too long,
 * already answered (the same event id again) or still in flight (retry
 * shortly); returns 0 when the caller should go on. */
struct balai_http_req;
int balai_api_txn_answered(struct balai_http_req *req, const char *user_id, const char *device_id,
                           const char *txn_id);

/* Answers the HTTP error for a code from balai_api_event_add. */
struct balai_http_req;
void balai_api_event_error(struct balai_http_req *req, int rc, const char *reason);

/* The keystore name of a room's data key. Writes into out. */
void balai_api_room_key_name(const char *room_id, char *out, size_t outlen);

/* Loads rooms, state, history, recent timelines, aliases and recent
 * transaction ids from the store into app (at start, before serving). */
int balai_api_rooms_load(struct balai_app *app);

/* Unseals one stored event into a new struct balai_ev (pos set). NULL on failure. */
struct balai_ev *balai_api_event_unseal(struct balai_app *app, const struct balai_event_rec *r);

/* Wakes the parked /sync of every user who sees `ev` (members, and the target of a membership
 * change). */
void balai_api_notify_event(struct balai_app *app, struct balai_room *room, struct balai_ev *ev);

/* Committed writes do not wake readers one by one: the rooms and users they
 * touch are gathered while the writer's completions drain, and every parked
 * /sync concerned wakes once afterwards, with everything that committed. */
void balai_api_wakes_init(struct balai_app *app);
void balai_api_wakes_release(struct balai_app *app);
/* Call after balai_store_drain_completions. */
void balai_api_wakes_flush(struct balai_app *app);

#endif
