/* pg_rooms.c: the PostgreSQL backend's functions for the room tables: rooms,
 * events, current state, txns, aliases and forgotten rooms (see pg.c for
 * the design, and for the "events" position the event INSERT allocates). */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/log.h"

/* The columns of an event row, in the order event_row() reads them; the
 * blob comes last so that a metadata-only query can select NULL instead. */
#define EVENT_META_COLS                                                                            \
    "e.pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.origin_server_ts, e.depth,"    \
    " e.membership, e.aux, e.txn_user, e.key_name, e.redacted"
#define EVENT_COLS EVENT_META_COLS ", e.blob"

PG_STMT(s_room_insert, "room_insert",
        "INSERT INTO rooms (room_id, room_version, creator, is_direct, created_ts)"
        " VALUES ($1, $2, $3, $4, $5)");
/* The position comes from the locked counter row, in the same statement:
 * if the insert is refused, the statement (and the counter) rolls back. */
PG_STMT(s_event_insert, "event_insert",
        "WITH p AS (INSERT INTO stream_positions (stream, pos) VALUES ('events', 1)"
        " ON CONFLICT (stream) DO UPDATE SET pos = stream_positions.pos + 1 RETURNING pos)"
        " INSERT INTO events (pos, event_id, room_id, type, state_key, sender,"
        " origin_server_ts, depth, membership, aux, txn_user, key_name, redacted, blob)"
        " VALUES ((SELECT pos FROM p), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " RETURNING pos");
PG_STMT(s_state_set, "state_set",
        "INSERT INTO current_state (room_id, type, state_key, event_pos) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_pos = excluded.event_pos");
PG_STMT(s_txn_insert, "txn_insert",
        "INSERT INTO txns (user_id, device_id, txn_id, event_id, ts) VALUES ($1, $2, $3, $4, $5)");
PG_STMT(s_alias_insert, "alias_insert",
        "INSERT INTO room_aliases (alias, room_id, creator) VALUES ($1, $2, $3)");
PG_STMT(s_alias_delete, "alias_delete", "DELETE FROM room_aliases WHERE alias = $1");
PG_STMT(s_forget, "forget",
        "INSERT INTO forgotten (user_id, room_id) VALUES ($1, $2)"
        " ON CONFLICT (user_id, room_id) DO NOTHING");
PG_STMT(s_unforget, "unforget", "DELETE FROM forgotten WHERE user_id = $1 AND room_id = $2");
PG_STMT(s_event_set_blob, "event_set_blob",
        "UPDATE events SET blob = $2, redacted = $3 WHERE event_id = $1");

PG_STMT(s_rooms, "rooms_each",
        "SELECT room_id, room_version, creator, is_direct, created_ts FROM rooms ORDER BY room_id");
PG_STMT(s_state, "state_each",
        "SELECT " EVENT_COLS " FROM current_state c JOIN events e ON e.pos = c.event_pos"
        " ORDER BY c.room_id, c.type, c.state_key");
PG_STMT(s_room_events_f, "room_events_f",
        "SELECT " EVENT_COLS " FROM events e WHERE e.room_id = $1 AND e.pos > $2 AND e.pos <= $3"
        " ORDER BY e.pos LIMIT $4");
PG_STMT(s_room_events_b, "room_events_b",
        "SELECT " EVENT_COLS " FROM events e WHERE e.room_id = $1 AND e.pos < $2 AND e.pos >= $3"
        " ORDER BY e.pos DESC LIMIT $4");
PG_STMT(s_events_after, "events_after",
        "SELECT " EVENT_COLS " FROM events e WHERE e.pos > $1 ORDER BY e.pos LIMIT $2");
PG_STMT(s_policy_events, "policy_events_each",
        "SELECT " EVENT_META_COLS ", NULL::bytea FROM events e"
        " WHERE e.membership IS NOT NULL OR e.aux IS NOT NULL ORDER BY e.pos");
/* The latest member event of each user at `at` (members always have a
 * membership, so the partial index events_members serves it). */
PG_STMT(s_members_at, "room_members_at",
        "SELECT DISTINCT ON (e.state_key) " EVENT_COLS " FROM events e"
        " WHERE e.room_id = $1 AND e.type = 'm.room.member' AND e.pos <= $2"
        " AND (e.membership IS NOT NULL OR e.aux IS NOT NULL)"
        " ORDER BY e.state_key, e.pos DESC");
PG_STMT(s_event_get, "event_get", "SELECT " EVENT_COLS " FROM events e WHERE e.event_id = $1");
PG_STMT(s_txns, "txns_each",
        "SELECT user_id, device_id, txn_id, event_id, ts FROM txns WHERE ts >= $1 ORDER BY ts");
PG_STMT(s_aliases, "aliases_each",
        "SELECT alias, room_id, creator FROM room_aliases ORDER BY alias");
PG_STMT(s_forgotten, "forgotten_each",
        "SELECT user_id, room_id FROM forgotten ORDER BY user_id, room_id");

/* Writes. */

int balai__pg_room_insert(void *db, const struct balai_room_rec *r)
{
    struct pg_args a = {0};

    pa_text(&a, r->room_id);
    pa_text(&a, r->room_version);
    pa_text(&a, r->creator);
    pa_int(&a, r->is_direct != 0);
    pa_int(&a, r->created_ts);
    return balai__pg_wexec(db, &s_room_insert, &a, NULL, NULL);
}

int balai__pg_event_insert(void *db, struct balai_event_rec *e)
{
    struct pg_args a = {0};
    int64_t pos = 0;
    int rc;

    pa_text(&a, e->event_id);
    pa_text(&a, e->room_id);
    pa_text(&a, e->type);
    pa_text(&a, e->state_key);
    pa_text(&a, e->sender);
    pa_int(&a, e->origin_server_ts);
    pa_int(&a, e->depth);
    pa_text(&a, e->membership);
    pa_text(&a, e->aux);
    pa_text(&a, e->txn_user);
    pa_text(&a, e->key_name);
    pa_int(&a, e->redacted != 0);
    pa_bytea(&a, e->blob, e->blob_len);
    rc = balai__pg_wexec_int(db, &s_event_insert, &a, &pos);
    if (rc == BALAI_OK)
        e->pos = pos;
    return rc;
}

int balai__pg_state_set(void *db, const char *room_id, const char *type, const char *state_key,
                        int64_t event_pos)
{
    struct pg_args a = {0};

    pa_text(&a, room_id);
    pa_text(&a, type);
    pa_text(&a, state_key);
    pa_int(&a, event_pos);
    return balai__pg_wexec(db, &s_state_set, &a, NULL, NULL);
}

int balai__pg_txn_insert(void *db, const char *user_id, const char *device_id, const char *txn_id,
                         const char *event_id, int64_t ts)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_text(&a, device_id);
    pa_text(&a, txn_id);
    pa_text(&a, event_id);
    pa_int(&a, ts);
    return balai__pg_wexec(db, &s_txn_insert, &a, NULL, NULL);
}

int balai__pg_alias_insert(void *db, const char *alias, const char *room_id, const char *creator)
{
    struct pg_args a = {0};

    pa_text(&a, alias);
    pa_text(&a, room_id);
    pa_text(&a, creator);
    return balai__pg_wexec(db, &s_alias_insert, &a, NULL, NULL);
}

int balai__pg_alias_delete(void *db, const char *alias)
{
    struct pg_args a = {0};

    pa_text(&a, alias);
    return balai__pg_wexec_one(db, &s_alias_delete, &a);
}

int balai__pg_forget(void *db, const char *user_id, const char *room_id)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_text(&a, room_id);
    return balai__pg_wexec(db, &s_forget, &a, NULL, NULL);
}

int balai__pg_unforget(void *db, const char *user_id, const char *room_id)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_text(&a, room_id);
    return balai__pg_wexec(db, &s_unforget, &a, NULL, NULL);
}

int balai__pg_event_set_blob(void *db, const char *event_id, const uint8_t *blob, size_t len,
                             int redacted)
{
    struct pg_args a = {0};

    pa_text(&a, event_id);
    pa_bytea(&a, blob, len);
    pa_int(&a, redacted != 0);
    return balai__pg_wexec_one(db, &s_event_set_blob, &a);
}

/* Reads. */

struct rooms_ctx {
    int (*fn)(const struct balai_room_rec *, void *);
    void *arg;
};

static int room_row(const PGresult *r, int i, void *p)
{
    struct rooms_ctx *c = p;
    struct balai_room_rec rec = {
        .room_id = pc_text(r, i, 0),
        .room_version = pc_text(r, i, 1),
        .creator = pc_text(r, i, 2),
        .is_direct = (int)pc_int(r, i, 3),
        .created_ts = pc_int(r, i, 4),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_rooms_each(void *db, int (*fn)(const struct balai_room_rec *, void *), void *arg)
{
    struct rooms_ctx c = {fn, arg};

    return balai__pg_each(db, &s_rooms, NULL, room_row, &c);
}

struct events_ctx {
    int (*fn)(const struct balai_event_rec *, void *);
    void *arg;
    bool seen; /* a row was passed to fn */
};

/* Reads a row of EVENT_COLS. */
static int event_row(const PGresult *r, int i, void *p)
{
    struct events_ctx *c = p;
    struct balai_event_rec e = {
        .pos = pc_int(r, i, 0),
        .event_id = pc_text(r, i, 1),
        .room_id = pc_text(r, i, 2),
        .type = pc_text(r, i, 3),
        .state_key = pc_text(r, i, 4),
        .sender = pc_text(r, i, 5),
        .origin_server_ts = pc_int(r, i, 6),
        .depth = pc_int(r, i, 7),
        .membership = pc_text(r, i, 8),
        .aux = pc_text(r, i, 9),
        .txn_user = pc_text(r, i, 10),
        .key_name = pc_text(r, i, 11),
        .redacted = (int)pc_int(r, i, 12),
    };
    uint8_t *blob = balai__pg_bytea(r, i, 13, &e.blob_len);
    int rc;

    /* An empty blob reads as NULL, as with SQLite. */
    e.blob = e.blob_len ? blob : NULL;
    c->seen = true;
    rc = c->fn(&e, c->arg);
    free(blob);
    return rc;
}

int balai__pg_state_each(void *db, int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct events_ctx c = {fn, arg, false};

    return balai__pg_each(db, &s_state, NULL, event_row, &c);
}

int balai__pg_room_events(void *db, const char *room_id, int64_t from, int64_t to, char dir,
                          int limit, int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct events_ctx c = {fn, arg, false};
    struct pg_args a = {0};

    pa_text(&a, room_id);
    pa_int(&a, from);
    pa_int(&a, to);
    pa_int(&a, limit);
    return balai__pg_each(db, dir == 'b' ? &s_room_events_b : &s_room_events_f, &a, event_row, &c);
}

int balai__pg_events_after(void *db, int64_t after, int limit,
                           int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct events_ctx c = {fn, arg, false};
    struct pg_args a = {0};

    pa_int(&a, after);
    pa_int(&a, limit);
    return balai__pg_each(db, &s_events_after, &a, event_row, &c);
}

int balai__pg_policy_events_each(void *db, int (*fn)(const struct balai_event_rec *, void *),
                                 void *arg)
{
    struct events_ctx c = {fn, arg, false};

    return balai__pg_each(db, &s_policy_events, NULL, event_row, &c);
}

int balai__pg_room_members_at(void *db, const char *room_id, int64_t at,
                              int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct events_ctx c = {fn, arg, false};
    struct pg_args a = {0};

    pa_text(&a, room_id);
    pa_int(&a, at);
    return balai__pg_each(db, &s_members_at, &a, event_row, &c);
}

int balai__pg_event_get(void *db, const char *event_id,
                        int (*fn)(const struct balai_event_rec *, void *), void *arg)
{
    struct events_ctx c = {fn, arg, false};
    struct pg_args a = {0};
    int rc;

    pa_text(&a, event_id);
    rc = balai__pg_each(db, &s_event_get, &a, event_row, &c);
    if (rc == 0 && !c.seen)
        rc = BALAI_ENOTFOUND;
    return rc;
}

struct txns_ctx {
    int (*fn)(const char *, const char *, const char *, const char *, int64_t, void *);
    void *arg;
};

static int txn_row(const PGresult *r, int i, void *p)
{
    struct txns_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), pc_text(r, i, 2), pc_text(r, i, 3),
                 pc_int(r, i, 4), c->arg);
}

int balai__pg_txns_each(void *db, int64_t since_ts,
                        int (*fn)(const char *, const char *, const char *, const char *, int64_t,
                                  void *),
                        void *arg)
{
    struct txns_ctx c = {fn, arg};
    struct pg_args a = {0};

    pa_int(&a, since_ts);
    return balai__pg_each(db, &s_txns, &a, txn_row, &c);
}

struct aliases_ctx {
    int (*fn)(const char *, const char *, const char *, void *);
    void *arg;
};

static int alias_row(const PGresult *r, int i, void *p)
{
    struct aliases_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), pc_text(r, i, 2), c->arg);
}

int balai__pg_aliases_each(void *db, int (*fn)(const char *, const char *, const char *, void *),
                           void *arg)
{
    struct aliases_ctx c = {fn, arg};

    return balai__pg_each(db, &s_aliases, NULL, alias_row, &c);
}

struct forgotten_ctx {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int forgotten_row(const PGresult *r, int i, void *p)
{
    struct forgotten_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), c->arg);
}

int balai__pg_forgotten_each(void *db, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct forgotten_ctx c = {fn, arg};

    return balai__pg_each(db, &s_forgotten, NULL, forgotten_row, &c);
}
