/* sync.h: assembling a /sync response from the in-memory rooms.
 *
 * Everything comes from memory (core/room.h): the recent timeline of each
 * room is cached, and a timeline that reaches past the cache is returned as
 * `limited` with a prev_batch token from which /messages pages back through
 * the store. The JSON text is written directly, splicing each event's
 * serialised client form, so that fan-out to many parked clients costs
 * little. Loop thread only. */
#ifndef BALAI_SYNC_SYNC_H
#define BALAI_SYNC_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "core/room.h"
#include "sync/filter.h"
#include "sync/token.h"
#include "util/buf.h"

/* Visits one account data entry: its type and content (a serialised JSON
 * object of len bytes), both borrowed for the call. */
typedef void (*balai_sync_ad_visit_fn)(const char *type, const char *json, size_t len, void *arg);
/* A source of account data: calls visit for every entry of user_id in room_id
 * (NULL = global data) whose position is > after. */
typedef void (*balai_sync_ad_each_fn)(void *src, const char *user_id, const char *room_id,
                                      int64_t after, balai_sync_ad_visit_fn visit, void *arg);

/* A source of ephemeral events (typing, receipts) of one room: appends to b
 * those user_id may see that changed after `after` (0: everything current,
 * for a room new to the sync), each preceded by a comma when `comma` or when
 * not the first, and returns how many it wrote. With b NULL it only counts. */
typedef size_t (*balai_sync_eph_fn)(void *src, const char *user_id, const char *room_id,
                                    int64_t after, struct balai_buf *b, int comma);

/* A source of the device's end-to-end encryption key state: appends
 * ,"device_one_time_keys_count":{...},"device_unused_fallback_key_types":[...]
 * (leading comma included) for user_id's device_id to b. */
typedef void (*balai_sync_keys_fn)(void *src, const char *user_id, const char *device_id,
                                   struct balai_buf *b);

/* A source of to-device messages: appends those of user_id's device_id after
 * `after` to b (comma-separated objects) and returns how many; *upto gets
 * the position the next token may carry. */
typedef size_t (*balai_sync_td_fn)(void *src, const char *user_id, const char *device_id,
                                   int64_t after, struct balai_buf *b, int64_t *upto);

/* A source of one room's unread counts for user_id: appends
 * ,"unread_notifications":{"notification_count":N,"highlight_count":M}
 * and, when `threads`, ,"unread_thread_notifications":{...} (leading commas
 * included) to b. */
typedef void (*balai_sync_unread_fn)(void *src, const char *user_id, const char *room_id,
                                     int threads, struct balai_buf *b);

/* A source of presence: appends the m.presence events user_id may see that
 * changed after `after` (comma-separated objects) and returns how many. */
typedef size_t (*balai_sync_presence_fn)(void *src, const char *user_id, int64_t after,
                                         struct balai_buf *b);

/* A source of device-list changes: appends to `changed` the users (JSON
 * strings, comma-separated) sharing a room with user_id whose devices or keys
 * changed after `after`, or who came to share a room since, and to `left`
 * those who no longer share any; returns how many in all. */
typedef size_t (*balai_sync_devlists_fn)(void *src, const char *user_id, int64_t after,
                                         struct balai_buf *changed, struct balai_buf *left);

/* A source of the extra members of an event's `unsigned` for user_id (the
 * bundled aggregations "m.relations", "redacted_because"): appends each
 * member preceded by a comma to b and returns how many. */
typedef size_t (*balai_sync_unsigned_fn)(void *src, struct balai_ev *ev, const char *user_id,
                                         struct balai_buf *b);

struct balai_sync_extra {
    balai_sync_unsigned_fn fn; /* NULL: none */
    void *src;
};

struct balai_sync_params {
    const char *user_id;
    const char *device_id;
    const char *epoch;
    struct balai_sync_token since; /* all zero: initial sync */
    int initial;
    int full_state;
    int timeline_limit; /* per room, >= 1 */
    /* account data: NULL each = none; pos is the current account data
     * position, written into next_batch */
    balai_sync_ad_each_fn account_data_each;
    void *account_data_src;
    int64_t account_data_pos;
    /* typing notices and receipts: NULL fn = none; pos is the stream's
     * current position, written into next_batch */
    balai_sync_eph_fn typing_each;
    void *typing_src;
    int64_t typing_pos;
    balai_sync_eph_fn receipts_each;
    void *receipts_src;
    int64_t receipts_pos;
    /* one-time and fallback key state: NULL fn = zero counts, none unused */
    balai_sync_keys_fn keys_write;
    void *keys_src;
    /* to-device messages: NULL fn = none */
    balai_sync_td_fn to_device_write;
    void *to_device_src;
    /* unread counts per joined room: NULL fn = zero counts; unread_threads
     * asks for the per-thread counts too */
    balai_sync_unread_fn unread_write;
    void *unread_src;
    int unread_threads;
    /* presence: NULL fn = none; pos as for typing */
    balai_sync_presence_fn presence_write;
    void *presence_src;
    int64_t presence_pos;
    /* device-list changes: NULL fn = none; pos as for typing */
    balai_sync_devlists_fn device_lists_write;
    void *device_lists_src;
    int64_t device_lists_pos;
    /* extra `unsigned` members of every event written */
    struct balai_sync_extra extra;
    /* the client's filter, borrowed; NULL: none (or one that changes nothing
     * but timeline_limit and unread_threads, which the caller then set) */
    const struct balai_filter *filter;
    /* lazy-loaded members already sent to each device (used when the filter
     * asks for lazy loading without redundant members); NULL: every
     * relevant member event is sent each time */
    struct balai_sync_lazy *lazy;
};

/* The memory of which m.room.member events each device was sent under
 * lazy loading, so that later syncs skip them (spec "Lazy-loading room
 * members": the server MAY assume the client remembers them). An entry
 * counts as received only once the client syncs from a token at or past
 * the response that carried it, so a lost response is made good. At most
 * max_entries entries in all: past that everything is forgotten (the next
 * syncs are then redundant, which the spec allows). Loop thread only. */
struct balai_sync_lazy;
struct balai_sync_lazy *balai_sync_lazy_new(size_t max_entries);
/* NULL-safe. */
void balai_sync_lazy_free(struct balai_sync_lazy *l);

/* Writes the response for events up to `upto` into out. *has_updates is set
 * when the response carries anything for the user (always for an initial
 * sync), so a long-poll knows whether to answer or keep waiting. */
int balai_sync_build(struct balai_rooms *rs, const struct balai_sync_params *p, int64_t upto,
                     struct balai_buf *out, int *has_updates);

/* Appends the client form of `ev` for user/device: the cached JSON plus
 * unsigned.transaction_id for the sender's own device and the members the
 * extra source adds (x NULL or x->fn NULL: none). */
int balai_sync_write_event(struct balai_buf *b, struct balai_ev *ev, const char *user_id,
                           const char *device_id, const struct balai_sync_extra *x);

#endif
