/* filter.h: Matrix event filters (Client-Server API "Filtering"): a filter's
 * JSON parsed and validated into a struct, and events matched against it.
 *
 * Matching rules (spec): a list that is absent allows everything; a list
 * that is present (even empty) allows only what it names; a not_* list
 * excludes what it names and wins over the positive list. Event types may
 * hold '*', which matches any run of characters; senders and room ids are
 * compared exactly. `event_fields` is validated and ignored; `event_format`
 * "federation" is refused (BALAI_EINVAL) since only the client format is
 * served. Pure: no I/O, no globals; any thread. */
#ifndef BALAI_SYNC_FILTER_H
#define BALAI_SYNC_FILTER_H

#include <stddef.h>

#include <jansson.h>

#include "core/room.h"

/* A list of strings; `set` when the list was given (an empty list then
 * allows nothing). */
struct balai_filter_strs {
    char **v;
    size_t n;
    int set;
};

/* An EventFilter, RoomEventFilter or StateFilter. */
struct balai_event_filter {
    int limit; /* > 0; 0: not given */
    struct balai_filter_strs types, not_types, senders, not_senders, rooms, not_rooms;
    int contains_url; /* -1: not considered; 0: only events without content.url; 1: only with */
    int lazy_load_members;
    int include_redundant_members;
    int unread_thread_notifications;
    int trivial; /* no list and no contains_url: every event matches */
};

/* A whole filter (the body of POST /user/{userId}/filter). */
struct balai_filter {
    int refs;
    struct balai_event_filter presence;        /* top-level presence */
    struct balai_event_filter account_data;    /* top-level (global) account data */
    struct balai_filter_strs rooms, not_rooms; /* room.rooms, room.not_rooms */
    struct balai_event_filter timeline, state, ephemeral, room_account_data;
    int include_leave;
    /* Changes nothing in /sync beyond room.timeline.limit and
     * room.timeline.unread_thread_notifications (so /sync may take its
     * unfiltered path). */
    int is_default;
};

/* Parses a Filter JSON object into *out (refs 1; caller drops it with
 * balai_filter_unref). BALAI_EINVAL with a message in err when it is not an
 * object, a member has the wrong type, a limit is not a positive integer, a
 * sender is not a user id or a room not a room id, or event_format is not
 * "client". */
int balai_filter_parse(const json_t *j, struct balai_filter **out, char *err, size_t errlen);

/* Parses a RoomEventFilter (the `filter` of /messages) into *out (cleared
 * first; release with balai_event_filter_clear). Errors as above. */
int balai_filter_parse_room_event(const json_t *j, struct balai_event_filter *out, char *err,
                                  size_t errlen);

struct balai_filter *balai_filter_ref(struct balai_filter *f);
/* Drops a reference; frees at zero. NULL-safe. */
void balai_filter_unref(struct balai_filter *f);
/* Frees the lists of an event filter (not the struct). NULL-safe. */
void balai_event_filter_clear(struct balai_event_filter *f);

/* Does the event type match the pattern ('*' matches any run of characters)? */
int balai_filter_type_match(const char *pattern, const char *type);
/* Does the list of patterns hold one matching type? */
int balai_filter_types_have(const struct balai_filter_strs *l, const char *type);
/* Is the room allowed by room.rooms / room.not_rooms? f NULL: yes. */
int balai_filter_room_ok(const struct balai_filter *f, const char *room_id);
/* Is the room allowed by this event filter's rooms / not_rooms? */
int balai_event_filter_room_ok(const struct balai_event_filter *f, const char *room_id);
/* Does an event pass? room_id, sender and content may be NULL (not
 * considered: an ephemeral or account data event has no sender, a filter on
 * senders then lets it pass); content NULL counts as having no url. */
int balai_event_filter_match(const struct balai_event_filter *f, const char *room_id,
                             const char *sender, const char *type, const json_t *content);
/* The same for a room event. */
int balai_event_filter_match_ev(const struct balai_event_filter *f, const char *room_id,
                                const struct balai_ev *ev);

#endif
