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

const struct balai_sqlite_migration balai_sqlite_migrations[] = {
    {1, "users, devices, access tokens, meta, stream positions", migration_1},
};

const size_t balai_sqlite_migrations_len = BALAI_ARRAY_LEN(balai_sqlite_migrations);
