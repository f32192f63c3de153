/* schema.c: the numbered schema migrations of the PostgreSQL backend.
 *
 * They mirror the SQLite migrations (store/sqlite/schema.c) number for
 * number: the same tables, columns, keys and indexes, so that `balai db
 * migrate-to` copies table by table and both backends report the same
 * schema version. Types: BIGINT for numbers and timestamps (ms since the
 * epoch), INTEGER 0/1 for booleans, BYTEA for blobs, and text as
 * TEXT COLLATE "C" so that ORDER BY and ranges compare bytes as SQLite does,
 * whatever the database's locale. Applied in order at open (pg.c), each in
 * one transaction with its row in schema_migrations, under an advisory lock
 * (several nodes may start at once). Append only. */
#include "balai.h"

#include "store/postgres/pg_int.h"

#define T "TEXT COLLATE \"C\""

static const char migration_1[] =
    "CREATE TABLE meta (\n"
    "    key " T " PRIMARY KEY NOT NULL,\n"
    "    value " T " NOT NULL\n"
    ");\n"
    "CREATE TABLE users (\n"
    "    user_id " T " PRIMARY KEY NOT NULL,\n"
    "    password_hash " T ",\n"
    "    admin INTEGER NOT NULL DEFAULT 0,\n"
    "    deactivated INTEGER NOT NULL DEFAULT 0,\n"
    "    system INTEGER NOT NULL DEFAULT 0,\n"
    "    displayname " T ",\n"
    "    avatar_url " T ",\n"
    "    created_ts BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE devices (\n"
    "    user_id " T " NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,\n"
    "    device_id " T " NOT NULL,\n"
    "    display_name " T ",\n"
    "    created_ts BIGINT NOT NULL,\n"
    "    last_seen_ts BIGINT NOT NULL DEFAULT 0,\n"
    "    last_seen_ip " T ",\n"
    "    PRIMARY KEY (user_id, device_id)\n"
    ");\n"
    "CREATE TABLE access_tokens (\n"
    "    token_hash BYTEA PRIMARY KEY NOT NULL CHECK (octet_length(token_hash) = 32),\n"
    "    user_id " T " NOT NULL,\n"
    "    device_id " T " NOT NULL,\n"
    "    created_ts BIGINT NOT NULL,\n"
    "    FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id)\n"
    "        ON DELETE CASCADE\n"
    ");\n"
    "CREATE INDEX access_tokens_by_device ON access_tokens(user_id, device_id);\n"
    "CREATE TABLE stream_positions (\n"
    "    stream " T " PRIMARY KEY NOT NULL,\n"
    "    pos BIGINT NOT NULL\n"
    ");\n";

/* Rooms and events: see the SQLite migration 2. events.pos is the "events"
 * stream position, allocated by the inserting statement from the locked
 * stream_positions row. */
static const char migration_2[] =
    "CREATE TABLE rooms (\n"
    "    room_id " T " PRIMARY KEY NOT NULL,\n"
    "    room_version " T " NOT NULL,\n"
    "    creator " T " NOT NULL,\n"
    "    is_direct INTEGER NOT NULL DEFAULT 0,\n"
    "    created_ts BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE events (\n"
    "    pos BIGINT PRIMARY KEY,\n"
    "    event_id " T " UNIQUE NOT NULL,\n"
    "    room_id " T " NOT NULL REFERENCES rooms(room_id),\n"
    "    type " T " NOT NULL,\n"
    "    state_key " T ",\n"
    "    sender " T " NOT NULL,\n"
    "    origin_server_ts BIGINT NOT NULL,\n"
    "    depth BIGINT NOT NULL,\n"
    "    membership " T ",\n"
    "    aux " T ",\n"
    "    txn_user " T ",\n"
    "    key_name " T " NOT NULL,\n"
    "    redacted INTEGER NOT NULL DEFAULT 0,\n"
    "    blob BYTEA NOT NULL\n"
    ");\n"
    "CREATE INDEX events_by_room ON events(room_id, pos);\n"
    "CREATE INDEX events_policy ON events(pos)\n"
    "    WHERE membership IS NOT NULL OR aux IS NOT NULL;\n"
    "CREATE INDEX events_members ON events(room_id, type, state_key, pos)\n"
    "    WHERE membership IS NOT NULL OR aux IS NOT NULL;\n"
    "CREATE TABLE current_state (\n"
    "    room_id " T " NOT NULL,\n"
    "    type " T " NOT NULL,\n"
    "    state_key " T " NOT NULL,\n"
    "    event_pos BIGINT NOT NULL REFERENCES events(pos),\n"
    "    PRIMARY KEY (room_id, type, state_key)\n"
    ");\n"
    "CREATE TABLE txns (\n"
    "    user_id " T " NOT NULL,\n"
    "    device_id " T " NOT NULL,\n"
    "    txn_id " T " NOT NULL,\n"
    "    event_id " T " NOT NULL,\n"
    "    ts BIGINT NOT NULL,\n"
    "    PRIMARY KEY (user_id, device_id, txn_id)\n"
    ");\n"
    "CREATE INDEX txns_by_ts ON txns(ts);\n"
    "CREATE TABLE room_aliases (\n"
    "    alias " T " PRIMARY KEY NOT NULL,\n"
    "    room_id " T " NOT NULL REFERENCES rooms(room_id),\n"
    "    creator " T " NOT NULL\n"
    ");\n"
    "CREATE TABLE forgotten (\n"
    "    user_id " T " NOT NULL,\n"
    "    room_id " T " NOT NULL,\n"
    "    PRIMARY KEY (user_id, room_id)\n"
    ");\n";

static const char migration_3[] = "CREATE TABLE account_data (\n"
                                  "    user_id " T " NOT NULL,\n"
                                  "    room_id " T " NOT NULL DEFAULT '',\n"
                                  "    type " T " NOT NULL,\n"
                                  "    pos BIGINT NOT NULL,\n"
                                  "    key_name " T " NOT NULL,\n"
                                  "    content BYTEA NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, room_id, type)\n"
                                  ");\n";

static const char migration_4[] = "CREATE TABLE receipts (\n"
                                  "    room_id " T " NOT NULL,\n"
                                  "    user_id " T " NOT NULL,\n"
                                  "    type " T " NOT NULL,\n"
                                  "    thread_id " T " NOT NULL DEFAULT '',\n"
                                  "    event_id " T " NOT NULL,\n"
                                  "    ts BIGINT NOT NULL,\n"
                                  "    pos BIGINT NOT NULL,\n"
                                  "    PRIMARY KEY (room_id, user_id, type, thread_id)\n"
                                  ");\n";

static const char migration_5[] = "CREATE TABLE room_directory (\n"
                                  "    room_id " T " PRIMARY KEY REFERENCES rooms(room_id),\n"
                                  "    published_ts BIGINT NOT NULL\n"
                                  ");\n";

static const char migration_6[] = "CREATE TABLE e2e_keys (\n"
                                  "    user_id " T " NOT NULL,\n"
                                  "    device_id " T " NOT NULL,\n"
                                  "    kind " T " NOT NULL,\n"
                                  "    key_id " T " NOT NULL,\n"
                                  "    json " T " NOT NULL,\n"
                                  "    used INTEGER NOT NULL DEFAULT 0,\n"
                                  "    PRIMARY KEY (user_id, device_id, kind, key_id)\n"
                                  ");\n";

static const char migration_7[] = "CREATE TABLE to_device (\n"
                                  "    user_id " T " NOT NULL,\n"
                                  "    device_id " T " NOT NULL,\n"
                                  "    pos BIGINT NOT NULL,\n"
                                  "    sender " T " NOT NULL,\n"
                                  "    type " T " NOT NULL,\n"
                                  "    content " T " NOT NULL,\n"
                                  "    PRIMARY KEY (user_id, device_id, pos)\n"
                                  ");\n";

static const char migration_8[] = "CREATE TABLE event_relations (\n"
                                  "    event_id " T " PRIMARY KEY NOT NULL,\n"
                                  "    room_id " T " NOT NULL,\n"
                                  "    parent_id " T " NOT NULL,\n"
                                  "    rel_type " T " NOT NULL,\n"
                                  "    type " T " NOT NULL,\n"
                                  "    sender " T " NOT NULL,\n"
                                  "    pos BIGINT NOT NULL,\n"
                                  "    ts BIGINT NOT NULL,\n"
                                  "    agg_hash BYTEA\n"
                                  ");\n"
                                  "CREATE INDEX event_relations_by_parent\n"
                                  "    ON event_relations(room_id, parent_id, pos);\n"
                                  "CREATE TABLE event_redactions (\n"
                                  "    event_id " T " PRIMARY KEY NOT NULL,\n"
                                  "    redaction_id " T " NOT NULL\n"
                                  ");\n";

static const char migration_9[] =
    "CREATE TABLE device_list_changes (\n"
    "    pos BIGINT PRIMARY KEY,\n"
    "    user_id " T " NOT NULL\n"
    ");\n"
    "DELETE FROM e2e_keys WHERE device_id <> '' AND NOT EXISTS (SELECT 1 FROM devices d\n"
    "    WHERE d.user_id = e2e_keys.user_id AND d.device_id = e2e_keys.device_id);\n"
    "DELETE FROM to_device WHERE NOT EXISTS (SELECT 1 FROM devices d\n"
    "    WHERE d.user_id = to_device.user_id AND d.device_id = to_device.device_id);\n";

static const char migration_10[] =
    "CREATE TABLE org_units (\n"
    "    unit_id " T " PRIMARY KEY NOT NULL,\n"
    "    name " T " NOT NULL,\n"
    "    parent_id " T ",\n"
    "    admins " T " NOT NULL DEFAULT '[]',\n"
    "    created_ts BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE org_people (\n"
    "    user_id " T " PRIMARY KEY NOT NULL REFERENCES users(user_id),\n"
    "    role " T " NOT NULL DEFAULT 'member',\n"
    "    employee_number " T " UNIQUE,\n"
    "    display_name " T ",\n"
    "    unit_id " T ",\n"
    "    title " T ",\n"
    "    manager " T ",\n"
    "    site " T ",\n"
    "    status " T " NOT NULL DEFAULT 'active',\n"
    "    working_hours " T ",\n"
    "    email " T ",\n"
    "    guest INTEGER NOT NULL DEFAULT 0,\n"
    "    sponsor " T ",\n"
    "    guest_expires_ts BIGINT NOT NULL DEFAULT 0,\n"
    "    updated_ts BIGINT NOT NULL\n"
    ");\n"
    "INSERT INTO org_people (user_id, role, updated_ts)\n"
    "    SELECT user_id, 'owner', created_ts FROM users WHERE admin = 1 AND system = 0;\n";

/* The audit trail: append-only, a trigger refuses UPDATE and DELETE. */
static const char migration_11[] =
    "CREATE TABLE audit_log (\n"
    "    seq BIGINT PRIMARY KEY,\n"
    "    ts BIGINT NOT NULL,\n"
    "    actor " T " NOT NULL,\n"
    "    action " T " NOT NULL,\n"
    "    target " T ",\n"
    "    detail " T " NOT NULL,\n"
    "    prev BYTEA NOT NULL,\n"
    "    mac BYTEA NOT NULL\n"
    ");\n"
    "CREATE INDEX audit_log_actor ON audit_log (actor, seq);\n"
    "CREATE INDEX audit_log_action ON audit_log (action, seq);\n"
    "CREATE INDEX audit_log_target ON audit_log (target, seq);\n"
    "CREATE INDEX audit_log_ts ON audit_log (ts);\n"
    "CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS\n"
    "    'BEGIN RAISE EXCEPTION ''the audit trail is append-only''; END';\n"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
    "    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();\n"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n"
    "    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();\n";

static const char migration_12[] =
    "CREATE TABLE dlp_incidents (\n"
    "    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "    ts BIGINT NOT NULL,\n"
    "    room_id " T ",\n"
    "    event_id " T ",\n"
    "    user_id " T " NOT NULL,\n"
    "    label " T " NOT NULL,\n"
    "    action " T " NOT NULL,\n"
    "    outcome " T " NOT NULL,\n"
    "    types " T " NOT NULL,\n"
    "    findings " T " NOT NULL\n"
    ");\n"
    "CREATE INDEX dlp_incidents_ts ON dlp_incidents (ts);\n"
    "CREATE INDEX dlp_incidents_room ON dlp_incidents (room_id, id);\n"
    "CREATE INDEX dlp_incidents_user ON dlp_incidents (user_id, id);\n"
    "CREATE TABLE dlp_held (\n"
    "    held_id " T " PRIMARY KEY NOT NULL,\n"
    "    ts BIGINT NOT NULL,\n"
    "    room_id " T " NOT NULL,\n"
    "    user_id " T " NOT NULL,\n"
    "    type " T " NOT NULL,\n"
    "    label " T " NOT NULL,\n"
    "    findings " T " NOT NULL,\n"
    "    key_name " T " NOT NULL,\n"
    "    blob BYTEA NOT NULL\n"
    ");\n"
    "CREATE TABLE mod_reports (\n"
    "    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "    ts BIGINT NOT NULL,\n"
    "    room_id " T " NOT NULL,\n"
    "    event_id " T " NOT NULL,\n"
    "    reporter " T " NOT NULL,\n"
    "    reason " T ",\n"
    "    score BIGINT,\n"
    "    status " T " NOT NULL DEFAULT 'open',\n"
    "    resolved_by " T ",\n"
    "    resolved_ts BIGINT NOT NULL DEFAULT 0,\n"
    "    note " T "\n"
    ");\n"
    "CREATE INDEX mod_reports_status ON mod_reports (status, id);\n"
    "CREATE TABLE user_suspensions (\n"
    "    user_id " T " PRIMARY KEY NOT NULL,\n"
    "    ts BIGINT NOT NULL,\n"
    "    actor " T " NOT NULL\n"
    ");\n"
    "CREATE TABLE dlp_settings (\n"
    "    kind " T " NOT NULL,\n"
    "    name " T " NOT NULL,\n"
    "    value " T " NOT NULL,\n"
    "    updated_ts BIGINT NOT NULL,\n"
    "    PRIMARY KEY (kind, name)\n"
    ");\n";

static const char migration_13[] =
    "CREATE TABLE scim_tokens (\n"
    "    token_id " T " PRIMARY KEY NOT NULL,\n"
    "    name " T " NOT NULL,\n"
    "    hash BYTEA NOT NULL UNIQUE,\n"
    "    created_ts BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE scim_users (\n"
    "    user_id " T " PRIMARY KEY NOT NULL REFERENCES users (user_id),\n"
    "    scim_id " T " NOT NULL UNIQUE,\n"
    "    user_name " T " NOT NULL,\n"
    "    user_name_lc " T " NOT NULL,\n"
    "    external_id " T ",\n"
    "    attrs " T " NOT NULL,\n"
    "    created_ts BIGINT NOT NULL,\n"
    "    modified_ts BIGINT NOT NULL,\n"
    "    version BIGINT NOT NULL,\n"
    "    deleted_ts BIGINT NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE UNIQUE INDEX scim_users_user_name ON scim_users (user_name_lc) WHERE deleted_ts = 0;\n"
    "CREATE TABLE scim_groups (\n"
    "    scim_id " T " PRIMARY KEY NOT NULL,\n"
    "    display_name " T " NOT NULL,\n"
    "    external_id " T ",\n"
    "    created_ts BIGINT NOT NULL,\n"
    "    modified_ts BIGINT NOT NULL,\n"
    "    version BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE scim_group_members (\n"
    "    group_id " T " NOT NULL REFERENCES scim_groups (scim_id) ON DELETE CASCADE,\n"
    "    user_id " T " NOT NULL,\n"
    "    PRIMARY KEY (group_id, user_id)\n"
    ");\n"
    "CREATE INDEX scim_group_members_user ON scim_group_members (user_id);\n";

/* Organisation rooms and stewardship need no table (room state events), as
 * in SQLite. */
static const char migration_14[] = "-- org rooms\n";

/* Membership rules and offboarding records (append-only: a trigger refuses
 * a DELETE and a change of anything but `current`). */
static const char migration_15[] =
    "CREATE TABLE membership_rules (\n"
    "    rule_id " T " PRIMARY KEY NOT NULL,\n"
    "    rule " T " NOT NULL,\n"
    "    created_ts BIGINT NOT NULL,\n"
    "    updated_ts BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE rule_memberships (\n"
    "    user_id " T " NOT NULL,\n"
    "    room_id " T " NOT NULL,\n"
    "    state " T " NOT NULL CHECK (state IN ('owned', 'optout')),\n"
    "    rule_id " T ",\n"
    "    ts BIGINT NOT NULL,\n"
    "    PRIMARY KEY (user_id, room_id)\n"
    ");\n"
    "CREATE TABLE offboardings (\n"
    "    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
    "    user_id " T " NOT NULL,\n"
    "    ts BIGINT NOT NULL,\n"
    "    record " T " NOT NULL,\n"
    "    current INTEGER NOT NULL DEFAULT 1\n"
    ");\n"
    "CREATE INDEX offboardings_by_user ON offboardings (user_id, id);\n"
    "CREATE FUNCTION offboardings_guard() RETURNS trigger LANGUAGE plpgsql AS\n"
    "    'BEGIN\n"
    "       IF TG_OP = ''DELETE'' THEN RAISE EXCEPTION ''offboarding records are kept''; END IF;\n"
    "       IF NEW.id <> OLD.id OR NEW.user_id <> OLD.user_id OR NEW.ts <> OLD.ts\n"
    "          OR NEW.record <> OLD.record THEN\n"
    "           RAISE EXCEPTION ''offboarding records cannot be changed'';\n"
    "       END IF;\n"
    "       RETURN NEW;\n"
    "     END';\n"
    "CREATE TRIGGER offboardings_guard BEFORE UPDATE OR DELETE ON offboardings\n"
    "    FOR EACH ROW EXECUTE FUNCTION offboardings_guard();\n";

const struct balai_pg_migration balai_pg_migrations[] = {
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

const size_t balai_pg_migrations_len = BALAI_ARRAY_LEN(balai_pg_migrations);
