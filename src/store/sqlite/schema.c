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

/* Event relations (m.relates_to), recorded by the write that inserts the
 * child event, since sealed content cannot be indexed: one row per relating
 * event (child), with its parent, rel_type, its own type, sender and
 * position. agg_hash is, for an m.annotation, a keyed hash of (type, key)
 * under a key derived from the room's data key (never the key in clear), so
 * duplicate annotations are found after a restart; NULL otherwise. A row is
 * deleted when its child is redacted. event_redactions names, for each
 * redacted event, the m.room.redaction event that redacted it
 * (unsigned.redacted_because). */
static const char migration_8[] = "CREATE TABLE event_relations (\n"
                                  "    event_id TEXT PRIMARY KEY NOT NULL,\n"
                                  "    room_id TEXT NOT NULL,\n"
                                  "    parent_id TEXT NOT NULL,\n"
                                  "    rel_type TEXT NOT NULL,\n"
                                  "    type TEXT NOT NULL,\n"
                                  "    sender TEXT NOT NULL,\n"
                                  "    pos INTEGER NOT NULL,\n"
                                  "    ts INTEGER NOT NULL,\n"
                                  "    agg_hash BLOB\n"
                                  ");\n"
                                  "CREATE INDEX event_relations_by_parent\n"
                                  "    ON event_relations(room_id, parent_id, pos);\n"
                                  "CREATE TABLE event_redactions (\n"
                                  "    event_id TEXT PRIMARY KEY NOT NULL,\n"
                                  "    redaction_id TEXT NOT NULL\n"
                                  ");\n";

/* Device-list changes: one row per change of a user's device list (a device
 * added or gone, device or cross-signing keys changed) at its "device_lists"
 * stream position. Keys and to-device messages of devices already gone
 * are deleted (since this version, balai_store_txn_device_data_delete goes
 * with every device deletion). */
static const char migration_9[] =
    "CREATE TABLE device_list_changes (\n"
    "    pos INTEGER PRIMARY KEY,\n"
    "    user_id TEXT NOT NULL\n"
    ");\n"
    "DELETE FROM e2e_keys WHERE device_id <> '' AND NOT EXISTS (SELECT 1 FROM devices d\n"
    "    WHERE d.user_id = e2e_keys.user_id AND d.device_id = e2e_keys.device_id);\n"
    "DELETE FROM to_device WHERE NOT EXISTS (SELECT 1 FROM devices d\n"
    "    WHERE d.user_id = to_device.user_id AND d.device_id = to_device.device_id);\n";

/* The organisation directory and roles (gov/directory.h). org_people has a
 * row per user with a role or org attributes (a user without a row is a
 * member, or an owner when users.admin is set: that is how `balai init`
 * and the offline CLI make the first administrators); role is owner,
 * admin, hr, compliance, moderator, member or guest; status is active,
 * leave or terminated; guest_expires_ts is ms since the epoch, 0 = none.
 * org_units is the unit tree; admins is a JSON array of user ids. Existing
 * administrators become owners. */
static const char migration_10[] =
    "CREATE TABLE org_units (\n"
    "    unit_id TEXT PRIMARY KEY NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    parent_id TEXT,\n"
    "    admins TEXT NOT NULL DEFAULT '[]',\n"
    "    created_ts INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE org_people (\n"
    "    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(user_id),\n"
    "    role TEXT NOT NULL DEFAULT 'member',\n"
    "    employee_number TEXT UNIQUE,\n"
    "    display_name TEXT,\n"
    "    unit_id TEXT,\n"
    "    title TEXT,\n"
    "    manager TEXT,\n"
    "    site TEXT,\n"
    "    status TEXT NOT NULL DEFAULT 'active',\n"
    "    working_hours TEXT,\n"
    "    email TEXT,\n"
    "    guest INTEGER NOT NULL DEFAULT 0,\n"
    "    sponsor TEXT,\n"
    "    guest_expires_ts INTEGER NOT NULL DEFAULT 0,\n"
    "    updated_ts INTEGER NOT NULL\n"
    ");\n"
    "INSERT INTO org_people (user_id, role, updated_ts)\n"
    "    SELECT user_id, 'owner', created_ts FROM users WHERE admin = 1 AND system = 0;\n";

/* The audit trail (gov/audit.h): one row per entry, seq assigned by the
 * chain (not AUTOINCREMENT), prev and mac the 32-byte chain links. Append-only:
 * the triggers refuse any UPDATE or DELETE (defence in depth; the chain's MACs
 * and the signed head outside the database are what detect tampering). */
static const char migration_11[] =
    "CREATE TABLE audit_log (\n"
    "    seq INTEGER PRIMARY KEY,\n"
    "    ts INTEGER NOT NULL,\n"
    "    actor TEXT NOT NULL,\n"
    "    action TEXT NOT NULL,\n"
    "    target TEXT,\n"
    "    detail TEXT NOT NULL,\n"
    "    prev BLOB NOT NULL,\n"
    "    mac BLOB NOT NULL\n"
    ");\n"
    "CREATE INDEX audit_log_actor ON audit_log (actor, seq);\n"
    "CREATE INDEX audit_log_action ON audit_log (action, seq);\n"
    "CREATE INDEX audit_log_target ON audit_log (target, seq);\n"
    "CREATE INDEX audit_log_ts ON audit_log (ts);\n"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN\n"
    "    SELECT RAISE(ABORT, 'the audit trail is append-only');\n"
    "END;\n"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN\n"
    "    SELECT RAISE(ABORT, 'the audit trail is append-only');\n"
    "END;\n";

/* DLP and moderation (api/dlp.h): incidents (findings as JSON with masked
 * values and keyed hashes only, never a matched value), held messages (the
 * event sealed with the room's data key, outside the event graph), the
 * report queue, suspended users, and the organisation's DLP settings (policy
 * rules, custom detectors, word lists: one row per (kind, name), value JSON
 * or text). */
static const char migration_12[] =
    "CREATE TABLE dlp_incidents (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    ts INTEGER NOT NULL,\n"
    "    room_id TEXT,\n"
    "    event_id TEXT,\n"
    "    user_id TEXT NOT NULL,\n"
    "    label TEXT NOT NULL,\n"
    "    action TEXT NOT NULL,\n"
    "    outcome TEXT NOT NULL,\n"
    "    types TEXT NOT NULL,\n"
    "    findings TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX dlp_incidents_ts ON dlp_incidents (ts);\n"
    "CREATE INDEX dlp_incidents_room ON dlp_incidents (room_id, id);\n"
    "CREATE INDEX dlp_incidents_user ON dlp_incidents (user_id, id);\n"
    "CREATE TABLE dlp_held (\n"
    "    held_id TEXT PRIMARY KEY NOT NULL,\n"
    "    ts INTEGER NOT NULL,\n"
    "    room_id TEXT NOT NULL,\n"
    "    user_id TEXT NOT NULL,\n"
    "    type TEXT NOT NULL,\n"
    "    label TEXT NOT NULL,\n"
    "    findings TEXT NOT NULL,\n"
    "    key_name TEXT NOT NULL,\n"
    "    blob BLOB NOT NULL\n"
    ");\n"
    "CREATE TABLE mod_reports (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    ts INTEGER NOT NULL,\n"
    "    room_id TEXT NOT NULL,\n"
    "    event_id TEXT NOT NULL,\n"
    "    reporter TEXT NOT NULL,\n"
    "    reason TEXT,\n"
    "    score INTEGER,\n"
    "    status TEXT NOT NULL DEFAULT 'open',\n"
    "    resolved_by TEXT,\n"
    "    resolved_ts INTEGER NOT NULL DEFAULT 0,\n"
    "    note TEXT\n"
    ");\n"
    "CREATE INDEX mod_reports_status ON mod_reports (status, id);\n"
    "CREATE TABLE user_suspensions (\n"
    "    user_id TEXT PRIMARY KEY NOT NULL,\n"
    "    ts INTEGER NOT NULL,\n"
    "    actor TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE dlp_settings (\n"
    "    kind TEXT NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    value TEXT NOT NULL,\n"
    "    updated_ts INTEGER NOT NULL,\n"
    "    PRIMARY KEY (kind, name)\n"
    ");\n";

/* SCIM provisioning (api/scim/): provisioning tokens (SHA-256 only, never
 * the token), the SCIM view of provisioned users (scim_id <-> Matrix user
 * id, userName and its lower-case key, externalId, the provisioned
 * attributes as JSON, SCIM meta: created, lastModified, version; deleted_ts
 * > 0 once DELETEd, kept so that a re-provisioned person gets the same
 * Matrix id), and SCIM groups with their members (Matrix user ids). */
static const char migration_13[] =
    "CREATE TABLE scim_tokens (\n"
    "    token_id TEXT PRIMARY KEY NOT NULL,\n"
    "    name TEXT NOT NULL,\n"
    "    hash BLOB NOT NULL UNIQUE,\n"
    "    created_ts INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE scim_users (\n"
    "    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (user_id),\n"
    "    scim_id TEXT NOT NULL UNIQUE,\n"
    "    user_name TEXT NOT NULL,\n"
    "    user_name_lc TEXT NOT NULL,\n"
    "    external_id TEXT,\n"
    "    attrs TEXT NOT NULL,\n"
    "    created_ts INTEGER NOT NULL,\n"
    "    modified_ts INTEGER NOT NULL,\n"
    "    version INTEGER NOT NULL,\n"
    "    deleted_ts INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE UNIQUE INDEX scim_users_user_name ON scim_users (user_name_lc) WHERE deleted_ts = 0;\n"
    "CREATE TABLE scim_groups (\n"
    "    scim_id TEXT PRIMARY KEY NOT NULL,\n"
    "    display_name TEXT NOT NULL,\n"
    "    external_id TEXT,\n"
    "    created_ts INTEGER NOT NULL,\n"
    "    modified_ts INTEGER NOT NULL,\n"
    "    version INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE scim_group_members (\n"
    "    group_id TEXT NOT NULL REFERENCES scim_groups (scim_id) ON DELETE CASCADE,\n"
    "    user_id TEXT NOT NULL,\n"
    "    PRIMARY KEY (group_id, user_id)\n"
    ");\n"
    "CREATE INDEX scim_group_members_user ON scim_group_members (user_id);\n";

/* Organisation rooms and stewardship need no table: room metadata and
 * stewards live in the rooms' state events. The number is kept so that both
 * backends stay in step. */
static const char migration_14[] = "-- org rooms\n";

/* Membership rules (their JSON form, gov/rules.h), the memberships a rule
 * made ("owned": a rule removal takes only these away) or that the person
 * declined ("optout": not re-added while the rule matches), and offboarding
 * records: the signed record as text, append-only (no delete, no change of
 * the record; only `current` is cleared at reactivation). */
static const char migration_15[] =
    "CREATE TABLE membership_rules (\n"
    "    rule_id TEXT PRIMARY KEY NOT NULL,\n"
    "    rule TEXT NOT NULL,\n"
    "    created_ts INTEGER NOT NULL,\n"
    "    updated_ts INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE rule_memberships (\n"
    "    user_id TEXT NOT NULL,\n"
    "    room_id TEXT NOT NULL,\n"
    "    state TEXT NOT NULL CHECK (state IN ('owned', 'optout')),\n"
    "    rule_id TEXT,\n"
    "    ts INTEGER NOT NULL,\n"
    "    PRIMARY KEY (user_id, room_id)\n"
    ");\n"
    "CREATE TABLE offboardings (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    user_id TEXT NOT NULL,\n"
    "    ts INTEGER NOT NULL,\n"
    "    record TEXT NOT NULL,\n"
    "    current INTEGER NOT NULL DEFAULT 1\n"
    ");\n"
    "CREATE INDEX offboardings_by_user ON offboardings (user_id, id);\n"
    "CREATE TRIGGER offboardings_no_delete BEFORE DELETE ON offboardings\n"
    "BEGIN SELECT RAISE(ABORT, 'offboarding records are kept'); END;\n"
    "CREATE TRIGGER offboardings_no_change\n"
    "BEFORE UPDATE OF id, user_id, ts, record ON offboardings\n"
    "BEGIN SELECT RAISE(ABORT, 'offboarding records cannot be changed'); END;\n";

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
    {12, "DLP and moderation", migration_12},
    {13, "SCIM provisioning", migration_13},
    {14, "organisation rooms and stewardship", migration_14},
    {15, "membership rules and offboarding", migration_15},
};

const size_t balai_sqlite_migrations_len = BALAI_ARRAY_LEN(balai_sqlite_migrations);
