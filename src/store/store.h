/* store.h: the storage interface, the only one the rest of Balai sees.
 *
 * A store is one database reached through a backend (a table of functions,
 * see store_int.h; today "sqlite"). Writes never run on the loop thread:
 * callers wrap each write in a struct balai_store_op and submit it to the
 * WRITER THREAD, which commits everything submitted so far as one
 * transaction (group commit), with a savepoint per op so that a refused op
 * is rolled back alone and records nothing. Completed ops are queued and
 * handed back, in submit order, by balai_store_drain_completions() on the
 * thread that owns the ops (the loop thread; main wires `notify` to a
 * uv_async). The store knows nothing of the event loop.
 *
 * Stream positions are allocated inside the committing transaction
 * (balai_store_txn_next_pos), so a position becomes visible only with the
 * data it numbers and a refused op consumes none.
 *
 * Threads:
 *  - balai_store_open/close, writer_start/stop, exec, debug_setting: one
 *    owner thread (never while another store call is in flight).
 *  - balai_store_submit, balai_store_stats: any thread.
 *  - balai_store_drain_completions: the thread that owns the ops.
 *  - balai_store_txn_*: the writer thread, inside an op's apply() only.
 *  - reads (balai_store_*_each, meta_get, pos_current, schema_version,
 *    room_events, events_after, event_get): any
 *    thread; they use their own connection, serialised by a mutex, and see
 *    only committed data. A read callback must not call another store read
 *    (the read connection is held for the iteration).
 */
#ifndef BALAI_STORE_STORE_H
#define BALAI_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct balai_store;     /* opaque */
struct balai_store_txn; /* opaque: the transaction an op runs in, writer thread only */

struct balai_store_config {
    const char *backend; /* "sqlite" (NULL means "sqlite") */
    const char *path;    /* database file; created (mode 0600) if absent */
};

/* Opens the database, applies pending migrations (numbered, each in its own
 * transaction, recorded in a schema_migrations table) and prepares the
 * statements. The SQLite backend runs in WAL mode with synchronous=FULL,
 * foreign_keys=ON and a busy timeout, and refuses a database whose schema is
 * newer than this binary. `cfg` is borrowed (the path is copied).
 * Returns 0 and *out (caller frees with balai_store_close), BALAI_ECONFIG for
 * an unknown backend or a missing path, or BALAI_ESTORE (logged) on failure. */
int balai_store_open(const struct balai_store_config *cfg, struct balai_store **out);

/* Stops the writer if running (after committing every submitted op), commits
 * ops submitted while no writer ran, calls done() of every completion not yet
 * drained on the calling thread, and closes. NULL-safe. */
void balai_store_close(struct balai_store *st);

/* A write op. The caller allocates it (usually embedded in a larger struct,
 * reached back with a container_of-style cast) and keeps it alive, untouched,
 * from submit until its done() runs. An op is in at most one queue at once. */
struct balai_store_op {
    /* Runs on the WRITER thread inside a savepoint: may only touch the op's
     * own data and call balai_store_txn_* functions. Returns 0 to keep its
     * changes, or a negative BALAI_E* to roll back its savepoint (its changes,
     * positions included, vanish; the rest of the batch still commits). */
    int (*apply)(struct balai_store_txn *txn, struct balai_store_op *op);
    /* Runs on the thread that calls balai_store_drain_completions, once the
     * batch COMMITTED (rc = apply's result) or failed to commit (rc =
     * BALAI_ESTORE for every op of the batch, apply's changes are gone).
     * May free the op and may submit new ops. NULL = nothing to do. */
    void (*done)(struct balai_store_op *op);
    int rc;                      /* set before done() runs */
    struct balai_store_op *next; /* private */
};

/* A group of ops that commit or fail together: they apply in the order added,
 * under ONE savepoint, so the first refusal rolls back every one of them.
 * Then each op's done runs in order with the group's rc. Build it on the
 * submitting thread; the group frees itself after the last done. */
struct balai_store_group;
struct balai_store_group *balai_store_group_new(void);
/* Adds op (see struct balai_store_op; its next field is not used here). */
void balai_store_group_add(struct balai_store_group *g, struct balai_store_op *op);
/* Submits the group as one op (balai_store_submit). An empty group completes
 * with nothing written. */
void balai_store_submit_group(struct balai_store *st, struct balai_store_group *g);

typedef void (*balai_store_notify_fn)(void *arg);

/* Starts the writer thread. notify(arg) is called from the writer thread,
 * with no store lock held, each time completions are ready; it must be
 * thread-safe and cheap (uv_async_send). Keep `arg` valid until
 * balai_store_writer_stop returns. Returns 0, BALAI_ESTATE if already
 * running, or BALAI_ESTORE if the thread cannot be created. */
int balai_store_writer_start(struct balai_store *st, balai_store_notify_fn notify, void *arg);

/* Commits every op submitted so far, then joins the thread. Completions are
 * still delivered via balai_store_drain_completions. No-op when not running. */
void balai_store_writer_stop(struct balai_store *st);

/* Thread-safe, never blocks on I/O: queues `op` for the next batch. Ops
 * submitted while a batch commits form the next batch. */
void balai_store_submit(struct balai_store *st, struct balai_store_op *op);

/* Calls done() of every completed op, in submit order. Call on the loop
 * thread when notified. */
void balai_store_drain_completions(struct balai_store *st);

/* Runs one op synchronously in its own transaction on the calling thread,
 * then calls done() if set (for init, the offline CLI and tests). Returns
 * op->rc, or BALAI_ESTATE without running the op or calling done() if the
 * writer is running. */
int balai_store_exec(struct balai_store *st, struct balai_store_op *op);

/* Writer statistics for /metrics, as a consistent snapshot (thread-safe).
 * Counts every batch transaction, of the writer thread and of exec.
 * batch_size_buckets are PER BUCKET, not cumulative (sum them for Prometheus
 * "le" buckets): [0] counts batches of 1 op, [i] (i = 1..10) batches of
 * 2^(i-1)+1 .. 2^i ops (2, 3-4, 5-8, ..., 513-1024), [11] batches of more
 * than 1024 ops; the buckets sum to `batches`. commit_us_total is the
 * wall time spent in batch transactions, BEGIN through COMMIT. failed_ops
 * counts ops that completed with rc < 0. */
#define BALAI_STORE_BATCH_BUCKETS 12
struct balai_store_stats {
    uint64_t batches, ops, failed_ops;
    uint64_t batch_size_buckets[BALAI_STORE_BATCH_BUCKETS];
    uint64_t commit_us_total;
};
void balai_store_stats(struct balai_store *st, struct balai_store_stats *out);

/* Records. In the txn functions, every pointer is borrowed for the call; in
 * read callbacks, the record and its strings are borrowed for the callback's
 * duration. */
struct balai_user_rec {
    const char *user_id;       /* "@local:server" */
    const char *password_hash; /* NULL = cannot log in */
    int admin;
    int deactivated;
    int system;
    const char *displayname; /* NULL = none */
    const char *avatar_url;  /* NULL = none */
    int64_t created_ts;      /* ms since the epoch, like every *_ts here */
};

struct balai_device_rec {
    const char *user_id;
    const char *device_id;
    const char *display_name; /* NULL = none */
    int64_t created_ts;
    int64_t last_seen_ts;
    const char *last_seen_ip; /* NULL = unknown */
};

struct balai_token_rec {
    uint8_t hash[32]; /* SHA-256 of the access token; the token itself is never stored */
    const char *user_id;
    const char *device_id;
    int64_t created_ts;
};

/* A room. is_direct is 0/1. */
struct balai_room_rec {
    const char *room_id;
    const char *room_version;
    const char *creator;
    int is_direct;
    int64_t created_ts;
};

/* A persisted event. Its content is SEALED by the caller: `blob` is opaque to
 * the store (never plaintext, DESIGN.md §3); only the routing metadata below
 * is stored in clear. Required: event_id, room_id, type, sender, blob,
 * key_name. */
struct balai_event_rec {
    int64_t pos;          /* "events" stream position: set by event_insert; read back */
    const char *event_id; /* unique */
    const char *room_id;  /* the room must exist */
    const char *type;
    const char *state_key; /* NULL for a non-state event */
    const char *sender;
    int64_t origin_server_ts;
    int64_t depth;
    const char *membership; /* m.room.member: join/invite/leave/ban/knock; else NULL */
    const char *aux;        /* a short clear policy value the caller chooses (e.g. the
                               history_visibility or join_rule), else NULL */
    const char *txn_user;   /* the user whose transaction ID sent it, or NULL */
    const uint8_t *blob;    /* the sealed PDU (NULL in policy_events_each rows) */
    size_t blob_len;
    const char *key_name; /* the keystore key that sealed blob */
    int redacted;         /* 0/1 */
};

/* A user's account data entry: global when room_id is "", else of that room.
 * Its content is SEALED by the caller like an event's (`blob` is opaque,
 * key_name names the keystore key). pos is the "account_data" stream
 * position of its last change. */
struct balai_account_data_rec {
    const char *user_id;
    const char *room_id; /* "" = global */
    const char *type;
    int64_t pos;
    const uint8_t *blob;
    size_t blob_len;
    const char *key_name;
};

/* An end-to-end encryption key (public key material, clear JSON text). kind
 * is "device" (the device keys, key_id ""), "otk" (a one-time key, key_id
 * "<algorithm>:<id>"), "fallback" (a fallback key, same key_id form; used is
 * 1 once claimed) or "xsign" (a cross-signing key, device_id "" and key_id
 * its usage). */
struct balai_e2e_key_rec {
    const char *user_id;
    const char *device_id;
    const char *kind;
    const char *key_id;
    const char *json;
    int used;
};

/* A to-device message waiting for its target (user_id, device_id); pos is
 * its "to_device" stream position, content serialised JSON text. */
struct balai_to_device_rec {
    const char *user_id;
    const char *device_id;
    int64_t pos;
    const char *sender;
    const char *type;
    const char *content;
};

/* A read receipt: type "m.read" or "m.read.private", thread_id "" when
 * unthreaded. ts is when it was sent (ms since the epoch), pos the
 * "receipts" stream position of its last change. */
struct balai_receipt_rec {
    const char *room_id;
    const char *user_id;
    const char *type;
    const char *thread_id;
    const char *event_id;
    int64_t ts;
    int64_t pos;
};

/* Transaction functions: writer thread, inside apply() only (or inside an
 * op run by balai_store_exec). Each returns 0 or a negative BALAI_E*:
 * BALAI_EEXIST on a unique conflict, BALAI_ENOTFOUND when the row to change
 * (or a row it must refer to: the user of a device, the device of a token)
 * is missing, BALAI_EINVAL for a missing required field, BALAI_ESTORE
 * (logged) for a database error. A failed call changes nothing. */
int balai_store_txn_user_insert(struct balai_store_txn *t, const struct balai_user_rec *u);
/* `hash` NULL = the user can no longer log in with a password. */
int balai_store_txn_user_set_password(struct balai_store_txn *t, const char *user_id,
                                      const char *hash);
/* `v` NULL clears the displayname. */
int balai_store_txn_user_set_displayname(struct balai_store_txn *t, const char *user_id,
                                         const char *v);
/* `v` NULL clears the avatar URL. */
int balai_store_txn_user_set_avatar_url(struct balai_store_txn *t, const char *user_id,
                                        const char *v);
int balai_store_txn_user_set_admin(struct balai_store_txn *t, const char *user_id, int admin);
/* Sets deactivated, clears the password hash, deletes all the user's devices
 * and tokens. The user row itself stays (user IDs are never reused). */
int balai_store_txn_user_deactivate(struct balai_store_txn *t, const char *user_id);
/* Inserts the device, or updates an existing one: display_name if non-NULL;
 * last_seen_ts if newer than the stored one, and then last_seen_ip if
 * non-NULL. created_ts is kept. BALAI_ENOTFOUND if the user does not exist. */
int balai_store_txn_device_upsert(struct balai_store_txn *t, const struct balai_device_rec *d);
/* Deletes the device and its tokens. */
int balai_store_txn_device_delete(struct balai_store_txn *t, const char *user_id,
                                  const char *device_id);
/* BALAI_ENOTFOUND if the device does not exist. */
int balai_store_txn_token_insert(struct balai_store_txn *t, const struct balai_token_rec *r);
int balai_store_txn_token_delete(struct balai_store_txn *t, const uint8_t hash[32]);
/* Sets a server-wide key/value (e.g. "server_name", "epoch"); `value` NULL
 * deletes the key (no error if absent). */
int balai_store_txn_meta_set(struct balai_store_txn *t, const char *key, const char *value);
/* Allocates the next value (1, 2, ...) of a named stream position counter
 * (e.g. "events") inside this transaction; rolled back with the savepoint if
 * the op fails, so committed positions have no gaps. */
int balai_store_txn_next_pos(struct balai_store_txn *t, const char *stream, int64_t *out);

/* BALAI_EEXIST if the room exists. */
int balai_store_txn_room_insert(struct balai_store_txn *t, const struct balai_room_rec *r);
/* Inserts the event at the next "events" stream position, allocated by the
 * same statement (the same counter as balai_store_txn_next_pos(t, "events")),
 * and sets e->pos. BALAI_EEXIST if the event_id is taken, BALAI_ENOTFOUND if
 * the room is missing; a refused insert consumes no position. */
int balai_store_txn_event_insert(struct balai_store_txn *t, struct balai_event_rec *e);
/* Sets the current state entry (room_id, type, state_key) to the event at
 * `event_pos` (inserting or replacing). The caller ensures that event is the
 * matching state event of that room. BALAI_ENOTFOUND if no event has that
 * position. */
int balai_store_txn_state_set(struct balai_store_txn *t, const char *room_id, const char *type,
                              const char *state_key, int64_t event_pos);
/* Records a client transaction ID. BALAI_EEXIST if (user, device, txn_id)
 * was recorded already. The device need not exist (no foreign key: devices
 * go at logout, their transaction IDs stay). */
int balai_store_txn_txn_insert(struct balai_store_txn *t, const char *user_id,
                               const char *device_id, const char *txn_id, const char *event_id,
                               int64_t ts);
/* BALAI_EEXIST if the alias is taken, BALAI_ENOTFOUND if the room is missing. */
int balai_store_txn_alias_insert(struct balai_store_txn *t, const char *alias, const char *room_id,
                                 const char *creator);
/* BALAI_ENOTFOUND if the alias does not exist. */
int balai_store_txn_alias_delete(struct balai_store_txn *t, const char *alias);
/* Marks the room forgotten by the user; idempotent. */
int balai_store_txn_forget(struct balai_store_txn *t, const char *user_id, const char *room_id);
/* Clears the mark (on re-join); idempotent. */
int balai_store_txn_unforget(struct balai_store_txn *t, const char *user_id, const char *room_id);
/* Replaces the sealed PDU of an event (redaction) and sets its redacted flag;
 * key_name is kept, so seal the new blob with the event's key. Position and
 * metadata are unchanged. BALAI_ENOTFOUND if the event does not exist,
 * BALAI_EINVAL if blob is NULL. */
int balai_store_txn_event_set_blob(struct balai_store_txn *t, const char *event_id,
                                   const uint8_t *blob, size_t len, int redacted);
/* Sets (inserts or replaces) the account data (user_id, room_id, type),
 * room_id "" for global data, at the next "account_data" stream position,
 * stored in *pos. BALAI_EINVAL if a string, blob or key_name is NULL. */
int balai_store_txn_account_data_set(struct balai_store_txn *t, const char *user_id,
                                     const char *room_id, const char *type, const uint8_t *blob,
                                     size_t len, const char *key_name, int64_t *pos);
/* Sets (inserts or replaces) the receipt (room_id, user_id, type, thread_id)
 * to event_id and ts, at the next "receipts" stream position, stored in
 * *pos. BALAI_EINVAL if a string is NULL. */
int balai_store_txn_receipt_set(struct balai_store_txn *t, const char *room_id, const char *user_id,
                                const char *type, const char *thread_id, const char *event_id,
                                int64_t ts, int64_t *pos);
/* Publishes (published != 0) the room in the public room directory at ts
 * (ms), or removes it; idempotent (republishing keeps the first ts).
 * BALAI_ENOTFOUND if publishing a room that does not exist, BALAI_EINVAL if
 * room_id is NULL. */
int balai_store_txn_room_publish(struct balai_store_txn *t, const char *room_id, int published,
                                 int64_t ts);
/* Sets (inserts or replaces) the key (user_id, device_id, kind, key_id) to
 * json and used (see struct balai_e2e_key_rec). BALAI_EINVAL if a string is
 * NULL. */
int balai_store_txn_e2e_key_set(struct balai_store_txn *t, const char *user_id,
                                const char *device_id, const char *kind, const char *key_id,
                                const char *json, int used);
/* Deletes the key (user_id, device_id, kind, key_id); idempotent.
 * BALAI_EINVAL if a string is NULL. */
int balai_store_txn_e2e_key_delete(struct balai_store_txn *t, const char *user_id,
                                   const char *device_id, const char *kind, const char *key_id);
/* Adds a to-device message for (user_id, device_id) at the next "to_device"
 * stream position, stored in *pos. BALAI_EINVAL if a string is NULL. */
int balai_store_txn_to_device_add(struct balai_store_txn *t, const char *user_id,
                                  const char *device_id, const char *sender, const char *type,
                                  const char *content, int64_t *pos);
/* Deletes the to-device messages of (user_id, device_id) at positions <=
 * upto; idempotent. BALAI_EINVAL if a string is NULL. */
int balai_store_txn_to_device_delete(struct balai_store_txn *t, const char *user_id,
                                     const char *device_id, int64_t upto);

/* Reads (any thread, committed data only, separate connection). Rows come in
 * primary-key order. A callback returning non-zero stops the iteration and
 * that value is returned; otherwise 0, or BALAI_ESTORE (logged). */
int balai_store_users_each(struct balai_store *st, int (*fn)(const struct balai_user_rec *, void *),
                           void *arg);
int balai_store_devices_each(struct balai_store *st,
                             int (*fn)(const struct balai_device_rec *, void *), void *arg);
int balai_store_tokens_each(struct balai_store *st,
                            int (*fn)(const struct balai_token_rec *, void *), void *arg);
/* Returns 0 and *out (caller frees), BALAI_ENOTFOUND, or BALAI_ESTORE. */
int balai_store_meta_get(struct balai_store *st, const char *key, char **out);
/* Returns the last committed position of `stream` (0 if none was ever
 * allocated), or a negative BALAI_E* on error. */
int64_t balai_store_pos_current(struct balai_store *st, const char *stream);

/* Rooms and events. Iterations follow the same rules as above; the event
 * record's strings and blob are borrowed for the callback. */
int balai_store_rooms_each(struct balai_store *st, int (*fn)(const struct balai_room_rec *, void *),
                           void *arg);
/* The current state of every room, ordered by (room_id, type, state_key):
 * each row is the full state event, blob included. */
int balai_store_state_each(struct balai_store *st,
                           int (*fn)(const struct balai_event_rec *, void *), void *arg);
/* At most `limit` (> 0) events of one room: with dir 'f', from < pos <= to in
 * ascending order; with dir 'b', to <= pos < from in descending order (from =
 * INT64_MAX for the latest). BALAI_EINVAL for another dir or limit <= 0. */
int balai_store_room_events(struct balai_store *st, const char *room_id, int64_t from, int64_t to,
                            char dir, int limit, int (*fn)(const struct balai_event_rec *, void *),
                            void *arg);
/* At most `limit` (> 0) events of all rooms with pos > after, ascending
 * (to rebuild caches). BALAI_EINVAL if limit <= 0. */
int balai_store_events_after(struct balai_store *st, int64_t after, int limit,
                             int (*fn)(const struct balai_event_rec *, void *), void *arg);
/* Every event whose membership or aux is non-NULL, ascending pos, metadata
 * only (blob NULL, blob_len 0): membership and visibility history at start. */
/* The member event of each user of a room as it was at position `at`: for
 * every state_key, the latest m.room.member event with pos <= at (full rows). */
int balai_store_room_members_at(struct balai_store *st, const char *room_id, int64_t at,
                                int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai_store_policy_events_each(struct balai_store *st,
                                   int (*fn)(const struct balai_event_rec *, void *), void *arg);
/* Calls fn once with the event and returns its result, or BALAI_ENOTFOUND. */
int balai_store_event_get(struct balai_store *st, const char *event_id,
                          int (*fn)(const struct balai_event_rec *, void *), void *arg);
/* Client transaction IDs recorded with ts >= since_ts, ascending ts. */
int balai_store_txns_each(struct balai_store *st, int64_t since_ts,
                          int (*fn)(const char *user_id, const char *device_id, const char *txn_id,
                                    const char *event_id, int64_t ts, void *),
                          void *arg);
int balai_store_aliases_each(struct balai_store *st,
                             int (*fn)(const char *alias, const char *room_id, const char *creator,
                                       void *),
                             void *arg);
int balai_store_forgotten_each(struct balai_store *st,
                               int (*fn)(const char *user_id, const char *room_id, void *),
                               void *arg);
/* Every account data entry, ordered by (user_id, room_id, type). */
int balai_store_account_data_each(struct balai_store *st,
                                  int (*fn)(const struct balai_account_data_rec *, void *),
                                  void *arg);
/* Every receipt, ordered by (room_id, user_id, type, thread_id). */
int balai_store_receipts_each(struct balai_store *st,
                              int (*fn)(const struct balai_receipt_rec *, void *), void *arg);
/* Every room published in the room directory, ordered by room_id, with the
 * time it was published. */
int balai_store_published_each(struct balai_store *st,
                               int (*fn)(const char *room_id, int64_t ts, void *), void *arg);

/* Every waiting to-device message, ordered by (user_id, device_id, pos). */
int balai_store_to_device_each(struct balai_store *st,
                               int (*fn)(const struct balai_to_device_rec *, void *), void *arg);
/* Every end-to-end encryption key, ordered by (user_id, device_id, kind,
 * key_id). */
int balai_store_e2e_keys_each(struct balai_store *st,
                              int (*fn)(const struct balai_e2e_key_rec *, void *), void *arg);

/* ---- device-list changes ----
 * One row per change of a user's device list (a device added or gone, device
 * or cross-signing keys changed), at a "device_lists" stream position. */
/* Records a change of user_id's device list at the next "device_lists"
 * stream position, stored in *pos. BALAI_EINVAL if user_id is NULL. */
int balai_store_txn_device_list_add(struct balai_store_txn *t, const char *user_id, int64_t *pos);
/* Deletes what a device that goes leaves behind: its end-to-end keys and
 * its waiting to-device messages; device_id NULL: those of every device of
 * the user (cross-signing keys stay). Idempotent. BALAI_EINVAL if user_id is
 * NULL. */
int balai_store_txn_device_data_delete(struct balai_store_txn *t, const char *user_id,
                                       const char *device_id);
/* Every change with pos > after, ascending pos. */
int balai_store_device_list_changes(struct balai_store *st, int64_t after,
                                    int (*fn)(int64_t pos, const char *user_id, void *), void *arg);

/* ---- Event relations and redactions (api/relations.h) ----
 *
 * A relation: the relating event (event_id, a child) of room_id points at
 * parent_id with rel_type; type, sender, pos and ts are the child's.
 * agg_hash (agg_hash_len bytes, NULL = none) is the annotation's keyed hash
 * (never its key in clear). */
struct balai_relation_rec {
    const char *event_id;
    const char *room_id;
    const char *parent_id;
    const char *rel_type;
    const char *type;
    const char *sender;
    int64_t pos;
    int64_t ts;
    const uint8_t *agg_hash;
    size_t agg_hash_len;
};
/* Records a relation (writer thread). BALAI_EEXIST if the child is recorded,
 * BALAI_EINVAL if a string is NULL. */
int balai_store_txn_relation_insert(struct balai_store_txn *t, const struct balai_relation_rec *r);
/* Forgets the relation of child event_id (it was redacted); idempotent. */
int balai_store_txn_relation_delete(struct balai_store_txn *t, const char *event_id);
/* Records that event_id was redacted by redaction_id (inserting or
 * replacing). BALAI_EINVAL if a string is NULL. */
int balai_store_txn_redaction_set(struct balai_store_txn *t, const char *event_id,
                                  const char *redaction_id);
/* Every relation, ascending pos. */
int balai_store_relations_each(struct balai_store *st,
                               int (*fn)(const struct balai_relation_rec *, void *), void *arg);
/* Every redacted event with its redaction, ordered by event_id. */
int balai_store_redactions_each(struct balai_store *st,
                                int (*fn)(const char *event_id, const char *redaction_id, void *),
                                void *arg);

/* ---- Audit trail (gov/audit.h, api/audit.h) ----
 *
 * Append-only: entries are added, never changed or deleted (there is no
 * function for either, and the SQLite table refuses both with triggers).
 * prev and mac are the 32-byte chain links computed by the caller; detail is
 * canonical JSON text. In read callbacks the strings are borrowed. */
struct balai_audit_rec {
    int64_t seq; /* 1, 2, ... (the primary key) */
    int64_t ts;  /* ms since the epoch */
    const char *actor;
    const char *action;
    const char *target; /* NULL = none */
    const char *detail;
    uint8_t prev[32];
    uint8_t mac[32];
};
/* Appends an entry. BALAI_EEXIST if seq is taken, BALAI_EINVAL if a required
 * field is NULL or seq < 1. */
int balai_store_txn_audit_append(struct balai_store_txn *t, const struct balai_audit_rec *r);
/* The last entry's seq and mac as of this transaction (earlier ops of the
 * batch included): *seq 0 and mac zeroed when the trail is empty. */
int balai_store_txn_audit_tail(struct balai_store_txn *t, int64_t *seq, uint8_t mac[32]);
/* A filtered read. NULL strings and 0 numbers are "no filter". action ending
 * in '*' matches by prefix ("user.*"). dir 'f': seq > from, ascending; dir
 * 'b': seq < from (from 0 = the newest), descending. limit <= 0: no limit. */
struct balai_audit_query {
    const char *actor, *action, *target;
    int64_t since, until; /* ts bounds, inclusive */
    int64_t from;
    char dir;
    int limit;
};
int balai_store_audit_each(struct balai_store *st, const struct balai_audit_query *q,
                           int (*fn)(const struct balai_audit_rec *, void *), void *arg);

/* ---- The organisation directory and roles (api/directory.h) ----
 *
 * A person: one user's org record (role and attributes, see
 * gov/directory.h); strings NULL = not set; guest_expires_ts 0 = none.
 * A unit of the unit tree: admins is a JSON array of user ids as text
 * (the store does not look inside). */
struct balai_org_person_rec {
    const char *user_id;
    const char *role;
    const char *employee_number;
    const char *display_name;
    const char *unit_id;
    const char *title;
    const char *manager;
    const char *site;
    const char *status;
    const char *working_hours;
    const char *email;
    int guest;
    const char *sponsor;
    int64_t guest_expires_ts;
    int64_t updated_ts;
};
struct balai_org_unit_rec {
    const char *unit_id;
    const char *name;
    const char *parent_id;
    const char *admins;
    int64_t created_ts;
};
/* Sets (inserts or replaces) the person's row. BALAI_EINVAL if user_id,
 * role or status is NULL, BALAI_ENOTFOUND if the user does not exist,
 * BALAI_EEXIST if the employee number belongs to another person. */
int balai_store_txn_org_person_set(struct balai_store_txn *t, const struct balai_org_person_rec *p);
/* Sets (inserts or replaces) the unit. BALAI_EINVAL if unit_id, name or
 * admins is NULL. */
int balai_store_txn_org_unit_set(struct balai_store_txn *t, const struct balai_org_unit_rec *u);
/* Deletes the unit. BALAI_ENOTFOUND if it does not exist. */
int balai_store_txn_org_unit_delete(struct balai_store_txn *t, const char *unit_id);
/* Every person, ordered by user_id; every unit, ordered by unit_id. */
int balai_store_org_people_each(struct balai_store *st,
                                int (*fn)(const struct balai_org_person_rec *, void *), void *arg);
int balai_store_org_units_each(struct balai_store *st,
                               int (*fn)(const struct balai_org_unit_rec *, void *), void *arg);

/* ---- DLP and moderation (api/dlp.h) ----
 *
 * Incidents: one row per message a DLP rule acted on. findings is a JSON
 * array text holding masked values and keyed hashes only; types is
 * ",type,...,name," (detector types and custom names, lower case) for the
 * detector filter. Held messages: the event (type, state key, content) as a
 * blob sealed by the caller with the room's data key under key_name.
 * Reports: the Matrix report queue, status "open", "resolved" or
 * "dismissed". Suspensions: one row per suspended user. Settings: the
 * organisation's DLP configuration, one value per (kind, name): kinds
 * "policy", "detector", "wordlist". In read callbacks strings are borrowed. */
struct balai_dlp_incident_rec {
    int64_t id; /* assigned on insert */
    int64_t ts;
    const char *room_id;  /* NULL: a room being created */
    const char *event_id; /* NULL: no event (refused, held) */
    const char *user_id;
    const char *label;
    const char *action;  /* the policy's action: audit, warn, mask, block, hold */
    const char *outcome; /* what happened: stored, confirmed, masked, refused, held */
    const char *types;
    const char *findings;
};
/* Appends an incident; sets r->id. BALAI_EINVAL if a required string is NULL. */
int balai_store_txn_dlp_incident_add(struct balai_store_txn *t, struct balai_dlp_incident_rec *r);
/* A filtered read, newest first (id < from when from > 0). NULL strings and
 * 0 numbers are "no filter"; type matches one of the row's types. limit <= 0:
 * no limit. */
struct balai_dlp_incident_query {
    const char *label, *type, *room_id, *user_id, *action;
    int64_t since, until; /* ts bounds, inclusive */
    int64_t from;
    int limit;
};
int balai_store_dlp_incidents_each(struct balai_store *st, const struct balai_dlp_incident_query *q,
                                   int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                   void *arg);

struct balai_dlp_held_rec {
    const char *held_id;
    int64_t ts;
    const char *room_id;
    const char *user_id;
    const char *type;
    const char *label;
    const char *findings; /* JSON array text, masked values only */
    const char *key_name;
    const uint8_t *blob;
    size_t blob_len;
};
/* Inserts a held message. BALAI_EEXIST if the id is taken. */
int balai_store_txn_dlp_held_add(struct balai_store_txn *t, const struct balai_dlp_held_rec *r);
/* Deletes it. BALAI_ENOTFOUND if absent. */
int balai_store_txn_dlp_held_delete(struct balai_store_txn *t, const char *held_id);
/* Every held message (held_id NULL), oldest first, or the one with held_id. */
int balai_store_dlp_held_each(struct balai_store *st, const char *held_id,
                              int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg);

struct balai_report_rec {
    int64_t id; /* assigned on insert */
    int64_t ts;
    const char *room_id;
    const char *event_id;
    const char *reporter;
    const char *reason; /* NULL = none */
    int has_score;
    int64_t score;
    const char *status;
    const char *resolved_by; /* NULL while open */
    int64_t resolved_ts;
    const char *note;
};
/* Inserts an open report; sets r->id. */
int balai_store_txn_report_add(struct balai_store_txn *t, struct balai_report_rec *r);
/* Closes an OPEN report with status "resolved" or "dismissed". BALAI_ENOTFOUND
 * if there is no open report with that id. */
int balai_store_txn_report_close(struct balai_store_txn *t, int64_t id, const char *status,
                                 const char *by, const char *note, int64_t ts);
/* Reports, newest first; status NULL = all; id > 0: only that report. */
int balai_store_reports_each(struct balai_store *st, const char *status, int64_t id, int limit,
                             int (*fn)(const struct balai_report_rec *, void *), void *arg);

/* Suspends (suspended 1, idempotent) or lifts the suspension (0, idempotent). */
int balai_store_txn_suspension_set(struct balai_store_txn *t, const char *user_id, int suspended,
                                   const char *actor, int64_t ts);
int balai_store_suspensions_each(struct balai_store *st,
                                 int (*fn)(const char *user_id, int64_t ts, const char *actor,
                                           void *),
                                 void *arg);

/* Sets (value not NULL) or deletes (NULL; BALAI_ENOTFOUND if absent) a setting. */
int balai_store_txn_dlp_setting_set(struct balai_store_txn *t, const char *kind, const char *name,
                                    const char *value, int64_t ts);
/* Every setting, by kind then name. */
int balai_store_dlp_settings_each(struct balai_store *st,
                                  int (*fn)(const char *kind, const char *name, const char *value,
                                            int64_t ts, void *),
                                  void *arg);

/* ---- SCIM provisioning (api/scim/scim.h) ----
 *
 * Provisioning tokens (only their SHA-256 is stored), the SCIM view of
 * provisioned users (one row per Matrix user: scim_id, userName, externalId,
 * the provisioned attributes as JSON text, SCIM meta; deleted_ts > 0 once
 * DELETEd), SCIM groups and their members (Matrix user ids). In read
 * callbacks the strings are borrowed. */
struct balai_scim_token_rec {
    const char *token_id;
    const char *name;
    uint8_t hash[32];
    int64_t created_ts;
};
struct balai_scim_user_rec {
    const char *user_id; /* Matrix user id (the key) */
    const char *scim_id;
    const char *user_name;   /* as provisioned; unique case-insensitively (ASCII) among
                                rows not deleted */
    const char *external_id; /* NULL = none */
    const char *attrs;       /* JSON object text */
    int64_t created_ts, modified_ts, version, deleted_ts;
};
struct balai_scim_group_rec {
    const char *scim_id;
    const char *display_name;
    const char *external_id; /* NULL = none */
    int64_t created_ts, modified_ts, version;
};
/* Adds a token. BALAI_EEXIST if the id or hash is taken. */
int balai_store_txn_scim_token_add(struct balai_store_txn *t, const struct balai_scim_token_rec *r);
/* Deletes a token. BALAI_ENOTFOUND if absent. */
int balai_store_txn_scim_token_delete(struct balai_store_txn *t, const char *token_id);
/* Sets (inserts or replaces) the row of r->user_id. BALAI_EEXIST when the
 * userName (case-insensitive) or scim_id belongs to another live row,
 * BALAI_ENOTFOUND when the user does not exist, BALAI_EINVAL for a NULL
 * required string. */
int balai_store_txn_scim_user_set(struct balai_store_txn *t, const struct balai_scim_user_rec *r);
/* Sets (inserts or replaces) a group. */
int balai_store_txn_scim_group_set(struct balai_store_txn *t, const struct balai_scim_group_rec *r);
/* Deletes a group and its members. BALAI_ENOTFOUND if absent. */
int balai_store_txn_scim_group_delete(struct balai_store_txn *t, const char *scim_id);
/* Adds (member != 0) or removes user_id in the group; idempotent. user_id
 * NULL with member 0 removes every member. */
int balai_store_txn_scim_member_set(struct balai_store_txn *t, const char *group_id,
                                    const char *user_id, int member);
/* Removes user_id from every group; idempotent. */
int balai_store_txn_scim_member_remove_all(struct balai_store_txn *t, const char *user_id);
/* Every token by token_id; every SCIM user row by user_id (deleted ones
 * included); every group by scim_id; every membership by (group, user). */
int balai_store_scim_tokens_each(struct balai_store *st,
                                 int (*fn)(const struct balai_scim_token_rec *, void *), void *arg);
int balai_store_scim_users_each(struct balai_store *st,
                                int (*fn)(const struct balai_scim_user_rec *, void *), void *arg);
int balai_store_scim_groups_each(struct balai_store *st,
                                 int (*fn)(const struct balai_scim_group_rec *, void *), void *arg);
int balai_store_scim_members_each(struct balai_store *st,
                                  int (*fn)(const char *group_id, const char *user_id, void *),
                                  void *arg);

/* ---- Membership rules and offboarding (api/rules.h, api/offboard.h) ----
 *
 * Rules: one row per rule, its JSON form as text (gov/rules.h). Rule-owned
 * memberships: (user_id, room_id) with state "owned" (a rule put the person
 * in the room) or "optout" (they left a rule's room by themselves, or were
 * removed by someone else: not re-added while the rule keeps matching).
 * Offboarding records: the signed record as canonical JSON text, append-only
 * (the SQLite table refuses deletes and changes of a record); `current` is 1
 * until the person is reactivated. In read callbacks strings are borrowed. */
/* Sets (inserts or replaces) a rule. BALAI_EINVAL if a string is NULL. */
int balai_store_txn_rule_set(struct balai_store_txn *t, const char *rule_id, const char *rule,
                             int64_t created_ts, int64_t updated_ts);
/* Deletes a rule. BALAI_ENOTFOUND if absent. */
int balai_store_txn_rule_delete(struct balai_store_txn *t, const char *rule_id);
/* Every rule, by creation time. */
int balai_store_rules_each(struct balai_store *st,
                           int (*fn)(const char *rule_id, const char *rule, int64_t created_ts,
                                     int64_t updated_ts, void *),
                           void *arg);
/* Sets the (user, room) row to state "owned" or "optout" (rule_id may be
 * NULL), or deletes it (state NULL; idempotent). */
int balai_store_txn_rule_member_set(struct balai_store_txn *t, const char *user_id,
                                    const char *room_id, const char *state, const char *rule_id,
                                    int64_t ts);
/* Every rule-owned membership row, ordered by (user_id, room_id). */
int balai_store_rule_members_each(struct balai_store *st,
                                  int (*fn)(const char *user_id, const char *room_id,
                                            const char *state, const char *rule_id, int64_t ts,
                                            void *),
                                  void *arg);
/* Appends an offboarding record (current). BALAI_EINVAL if a string is NULL. */
int balai_store_txn_offboarding_add(struct balai_store_txn *t, const char *user_id, int64_t ts,
                                    const char *record);
/* Marks the user's current record as no longer current (reactivation); idempotent. */
int balai_store_txn_offboarding_close(struct balai_store_txn *t, const char *user_id);
/* Every offboarding record, oldest first. */
int balai_store_offboardings_each(struct balai_store *st,
                                  int (*fn)(int64_t id, const char *user_id, int64_t ts,
                                            const char *record, int current, void *),
                                  void *arg);
/* Clears the user's deactivated flag (the password stays cleared: set a new
 * one with balai_store_txn_user_set_password). BALAI_ENOTFOUND if no user. */
int balai_store_txn_user_reactivate(struct balai_store_txn *t, const char *user_id);

/* Sets *out to the highest applied migration number. Returns 0 or BALAI_ESTORE. */
int balai_store_schema_version(struct balai_store *st, int *out);

/* Diagnostics and tests: reads a connection setting of the writer connection
 * as text. SQLite names: "journal_mode" ("wal"), "synchronous" ("2" = FULL),
 * "foreign_keys" ("1"), "busy_timeout" (ms). Owner thread, not while the
 * writer runs. Returns 0 and *out (caller frees), BALAI_EINVAL for an unknown
 * name, BALAI_ESTATE if the writer runs, or BALAI_ESTORE. */
int balai_store_debug_setting(struct balai_store *st, const char *name, char **out);

/* ---- Bulk copy between backends (balai db migrate-to, store/copy.c) ----
 *
 * Copies every table of `src` into `dst`, which must hold no data (a fresh
 * schema), table by table in ONE transaction of dst, then verifies it
 * before committing: per table, the row count and a content hash (over
 * every column of every row, order-independent) must match the source's;
 * after the commit it verifies again from dst's read side. report(), if
 * set, is called once per table with its row count and hash (32 hex
 * digits). Neither store's writer may run (owner thread). `src` is only
 * read. Returns 0; BALAI_EEXIST if dst holds data; BALAI_ESTATE if dst
 * lacks a table of src or the backend cannot be a target; BALAI_ESTORE
 * (logged, naming the table) on a database error or a verification
 * mismatch, and then dst is rolled back (nothing committed), except for a
 * mismatch found only after the commit. */
int balai_store_copy(struct balai_store *src, struct balai_store *dst,
                     void (*report)(const char *table, int64_t rows, const char *hash, void *),
                     void *arg);

/* True while the database is known unreachable (a client/server backend
 * lost its connection and has not re-established it; the next batch or
 * read retries). The HTTP edge answers 503 with retry_after_ms then,
 * instead of 500. Any thread, cheap; always false for SQLite. */
bool balai_store_unavailable(struct balai_store *st);

/* ---- Admin statistics (GET /_balai/admin/v1/stats) ----
 *
 * Non-state events of `type` with origin_server_ts >= since_ts, grouped by
 * UTC day: fn(day_start_ts, events, distinct_senders, arg) once per day
 * that has any, ascending, until fn returns non-zero (which is returned).
 * Any thread; scans the events table, so run it on the work pool. */
int balai_store_events_per_day(struct balai_store *st, const char *type, int64_t since_ts,
                               int (*fn)(int64_t, int64_t, int64_t, void *), void *arg);

#endif
