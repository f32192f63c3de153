/* schema.c: the numbered schema migrations of the SQLite backend.
 *
 * Applied in order at open, each in its own transaction together with its
 * row in schema_migrations (sqlite.c). Append only: never edit or renumber a
 * released migration. Timestamps are milliseconds since the epoch; booleans
 * are 0/1 integers. */
#include "balai.h"

#include "store/sqlite/sqlite_int.h"

static const char migration_1[] =
    "CREATE TABLE meta (\n"
    "    key TEXT PRIMARY KEY NOT NULL,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE users (\n"
    "    user_id TEXT PRIMARY KEY NOT NULL,\n"
    "    password_hash TEXT,\n"
    "    admin INTEGER NOT NULL DEFAULT 0,\n"
    "    deactivated INTEGER NOT NULL DEFAULT 0,\n"
    "    system INTEGER NOT NULL DEFAULT 0,\n"
    "    displayname TEXT,\n"
    "    avatar_url TEXT,\n"
    "    created_ts INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE devices (\n"
    "    user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,\n"
    "    device_id TEXT NOT NULL,\n"
    "    display_name TEXT,\n"
    "    created_ts INTEGER NOT NULL,\n"
    "    last_seen_ts INTEGER NOT NULL DEFAULT 0,\n"
    "    last_seen_ip TEXT,\n"
    "    PRIMARY KEY (user_id, device_id)\n"
    ");\n"
    "CREATE TABLE access_tokens (\n"
    "    token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),\n"
    "    user_id TEXT NOT NULL,\n"
    "    device_id TEXT NOT NULL,\n"
    "    created_ts INTEGER NOT NULL,\n"
    "    FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id)\n"
    "        ON DELETE CASCADE\n"
    ");\n"
    "CREATE INDEX access_tokens_by_device ON access_tokens(user_id, device_id);\n"
    "CREATE TABLE stream_positions (\n"
    "    stream TEXT PRIMARY KEY NOT NULL,\n"
    "    pos INTEGER NOT NULL\n"
    ");\n";

/* Rooms and their events. Event content is sealed by the caller (an opaque
 * blob, key_name names the keystore key): only the metadata needed for
 * routing is clear, never content nor a hash of it (DESIGN.md §3).
 * events.pos is the "events" stream position (stream_positions), allocated
 * by the backend inside the inserting transaction. txns refer to device IDs
 * without a foreign key: devices are deleted at logout while their
 * transaction IDs must still deduplicate. */
static const char migration_2[] = "CREATE TABLE rooms (\n"
                                  "    room_id TEXT PRIMARY KEY NOT NULL,\n"
                                  "    room_version TEXT NOT NULL,\n"
                                  "    creator TEXT NOT NULL,\n"
                                  "    is_direct INTEGER NOT NULL DEFAULT 0,\n"
                                  "    created_ts INTEGER NOT NULL\n"
                                  ");\n"
                                  "CREATE TABLE events (\n"
                                  "    pos INTEGER PRIMARY KEY,\n"
                                  "    event_id TEXT UNIQUE NOT NULL,\n"
                                  "    room_id TEXT NOT NULL REFERENCES rooms(room_id),\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    state_key TEXT,\n"
                                  "    sender TEXT NOT NULL,\n"
                                  "    origin_server_ts INTEGER NOT NULL,\n"
                                  "    depth INTEGER NOT NULL,\n"
                                  "    membership TEXT,\n"
                                  "    aux TEXT,\n"
                                  "    txn_user TEXT,\n"
                                  "    key_name TEXT NOT NULL,\n"
                                  "    redacted INTEGER NOT NULL DEFAULT 0,\n"
                                  "    blob BLOB NOT NULL\n"
                                  ");\n"
                                  "CREATE INDEX events_by_room ON events(room_id, pos);\n"
                                  "CREATE INDEX events_policy ON events(pos)\n"
                                  "    WHERE membership IS NOT NULL OR aux IS NOT NULL;\n"
                                  "CREATE TABLE current_state (\n"
                                  "    room_id TEXT NOT NULL,\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    state_key TEXT NOT NULL,\n"
                                  "    event_pos INTEGER NOT NULL REFERENCES events(pos),\n"
                                  "    PRIMARY KEY (room_id, type, state_key)\n"
                                  ");\n"
                                  "CREATE TABLE txns (\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    device_id TEXT NOT NULL,\n"
                                  "    txn_id TEXT NOT NULL,\n"
                                  "    event_id TEXT NOT NULL,\n"
                                  "    ts INTEGER NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, device_id, txn_id)\n"
                                  ");\n"
                                  "CREATE INDEX txns_by_ts ON txns(ts);\n"
                                  "CREATE TABLE room_aliases (\n"
                                  "    alias TEXT PRIMARY KEY NOT NULL,\n"
                                  "    room_id TEXT NOT NULL REFERENCES rooms(room_id),\n"
                                  "    creator TEXT NOT NULL\n"
                                  ");\n"
                                  "CREATE TABLE forgotten (\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    room_id TEXT NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, room_id)\n"
                                  ");\n";

/* Account data (global when room_id is '', else of that room), one row per
 * (user, room, type). The content is sealed by the caller with the user's
 * key (key_name); pos is the "account_data" stream position of the last
 * change. */
static const char migration_3[] = "CREATE TABLE account_data (\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    room_id TEXT NOT NULL DEFAULT '',\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    pos INTEGER NOT NULL,\n"
                                  "    key_name TEXT NOT NULL,\n"
                                  "    content BLOB NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, room_id, type)\n"
                                  ");\n";

/* Read receipts (type m.read or m.read.private), one row per (room, user,
 * type, thread); thread_id '' is the unthreaded receipt. ts is when it was
 * sent (ms), pos the "receipts" stream position of the last change. */
static const char migration_4[] = "CREATE TABLE receipts (\n"
                                  "    room_id TEXT NOT NULL,\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    thread_id TEXT NOT NULL DEFAULT '',\n"
                                  "    event_id TEXT NOT NULL,\n"
                                  "    ts INTEGER NOT NULL,\n"
                                  "    pos INTEGER NOT NULL,\n"
                                  "    PRIMARY KEY (room_id, user_id, type, thread_id)\n"
                                  ");\n";

/* The public room directory: one row per published room; published_ts is
 * when it was published (ms). */
static const char migration_5[] = "CREATE TABLE room_directory (\n"
                                  "    room_id TEXT PRIMARY KEY REFERENCES rooms(room_id),\n"
                                  "    published_ts INTEGER NOT NULL\n"
                                  ");\n";

/* End-to-end encryption keys, public key material kept as clear JSON text:
 * one row per (user, device, kind, key_id). kind is "device" (the device
 * keys, key_id ''), "otk" (a one-time key), "fallback" (a fallback key; used
 * is 1 once claimed) or "xsign" (a cross-signing key of the user, device_id
 * '' and key_id its usage: master, self_signing, user_signing). */
static const char migration_6[] = "CREATE TABLE e2e_keys (\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    device_id TEXT NOT NULL,\n"
                                  "    kind TEXT NOT NULL,\n"
                                  "    key_id TEXT NOT NULL,\n"
                                  "    json TEXT NOT NULL,\n"
                                  "    used INTEGER NOT NULL DEFAULT 0,\n"
                                  "    PRIMARY KEY (user_id, device_id, kind, key_id)\n"
                                  ");\n";

/* To-device messages waiting for their target device, one row per (user,
 * device, pos); pos is the "to_device" stream position. Rows are deleted
 * once the device has synced past them. */
static const char migration_7[] = "CREATE TABLE to_device (\n"
                                  "    user_id TEXT NOT NULL,\n"
                                  "    device_id TEXT NOT NULL,\n"
                                  "    pos INTEGER NOT NULL,\n"
                                  "    sender TEXT NOT NULL,\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    content TEXT NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, device_id, pos)\n"
                                  ");\n";

/* Event relations (m.relates_to): PLACEHOLDER, the relations work fills it. */
static const char migration_8[] = "-- relations\n";

/* Device-list changes: PLACEHOLDER, the device-lists work fills it. */
static const char migration_9[] = "-- device lists\n";

/* The organisation directory and roles: PLACEHOLDER, the directory work fills it. */
static const char migration_10[] = "-- org directory\n";

/* The audit trail: PLACEHOLDER, the audit work fills it. */
static const char migration_11[] = "-- audit trail\n";

const struct balai_sqlite_migration balai_sqlite_migrations[] = {
    {1, "users, devices, access tokens, meta, stream positions", migration_1},
    {2, "rooms, events, state, txns, aliases", migration_2},
    {3, "account data", migration_3},
    {4, "receipts", migration_4},
    {5, "room directory", migration_5},
    {6, "end-to-end encryption keys", migration_6},
    {7, "to-device messages", migration_7},
    {8, "event relations", migration_8},
    {9, "device-list changes", migration_9},
    {10, "organisation directory and roles", migration_10},
    {11, "audit trail", migration_11},
};

const size_t balai_sqlite_migrations_len = BALAI_ARRAY_LEN(balai_sqlite_migrations);
