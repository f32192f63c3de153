/* pg_sync.c: the PostgreSQL backend's functions for what /sync streams
 * besides events: account data, receipts, end-to-end keys, to-device
 * messages and device-list changes; and for the room directory and the
 * event relations and redactions (see pg.c for the design).
 *
 * A write that takes a stream position does it in the same statement (a
 * CTE on the stream's counter row), so a refused write consumes none and
 * needs no savepoint of its own. */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdint.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/log.h"

#define NEXT_POS(stream)                                                                           \
    "WITH p AS (INSERT INTO stream_positions (stream, pos) VALUES ('" stream "', 1)"               \
    " ON CONFLICT (stream) DO UPDATE SET pos = stream_positions.pos + 1 RETURNING pos) "

PG_STMT(s_account_data_set, "account_data_set",
        NEXT_POS("account_data") "INSERT INTO account_data (user_id, room_id, type, pos, key_name,"
                                 " content) VALUES ($1, $2, $3, (SELECT pos FROM p), $4, $5)"
                                 " ON CONFLICT (user_id, room_id, type) DO UPDATE SET"
                                 " pos = excluded.pos, key_name = excluded.key_name,"
                                 " content = excluded.content RETURNING pos");
PG_STMT(s_account_data, "account_data_each",
        "SELECT user_id, room_id, type, pos, key_name, content FROM account_data"
        " ORDER BY user_id, room_id, type");
PG_STMT(s_receipt_set, "receipt_set",
        NEXT_POS("receipts") "INSERT INTO receipts (room_id, user_id, type, thread_id, event_id,"
                             " ts, pos) VALUES ($1, $2, $3, $4, $5, $6, (SELECT pos FROM p))"
                             " ON CONFLICT (room_id, user_id, type, thread_id) DO UPDATE SET"
                             " event_id = excluded.event_id, ts = excluded.ts, pos = excluded.pos"
                             " RETURNING pos");
PG_STMT(s_receipts, "receipts_each",
        "SELECT room_id, user_id, type, thread_id, event_id, ts, pos FROM receipts"
        " ORDER BY room_id, user_id, type, thread_id");
PG_STMT(s_room_publish, "room_publish",
        "INSERT INTO room_directory (room_id, published_ts) VALUES ($1, $2)"
        " ON CONFLICT (room_id) DO NOTHING");
PG_STMT(s_room_unpublish, "room_unpublish", "DELETE FROM room_directory WHERE room_id = $1");
PG_STMT(s_published, "published_each",
        "SELECT room_id, published_ts FROM room_directory ORDER BY room_id");
PG_STMT(s_e2e_key_set, "e2e_key_set",
        "INSERT INTO e2e_keys (user_id, device_id, kind, key_id, json, used)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id, kind, key_id)"
        " DO UPDATE SET json = excluded.json, used = excluded.used");
PG_STMT(s_e2e_key_delete, "e2e_key_delete",
        "DELETE FROM e2e_keys WHERE user_id = $1 AND device_id = $2 AND kind = $3"
        " AND key_id = $4");
PG_STMT(s_e2e_keys, "e2e_keys_each",
        "SELECT user_id, device_id, kind, key_id, json, used FROM e2e_keys"
        " ORDER BY user_id, device_id, kind, key_id");
PG_STMT(s_to_device_add, "to_device_add",
        NEXT_POS("to_device") "INSERT INTO to_device (user_id, device_id, pos, sender, type,"
                              " content) VALUES ($1, $2, (SELECT pos FROM p), $3, $4, $5)"
                              " RETURNING pos");
PG_STMT(s_to_device_delete, "to_device_delete",
        "DELETE FROM to_device WHERE user_id = $1 AND device_id = $2 AND pos <= $3");
PG_STMT(s_to_device, "to_device_each",
        "SELECT user_id, device_id, pos, sender, type, content FROM to_device"
        " ORDER BY user_id, device_id, pos");
PG_STMT(s_device_list_add, "device_list_add",
        NEXT_POS("device_lists") "INSERT INTO device_list_changes (pos, user_id)"
                                 " VALUES ((SELECT pos FROM p), $1) RETURNING pos");
PG_STMT(s_device_data_delete, "device_data_delete",
        "WITH k AS (DELETE FROM e2e_keys WHERE user_id = $1"
        " AND (device_id = $2 OR ($2::text IS NULL AND device_id <> '')))"
        " DELETE FROM to_device WHERE user_id = $1 AND (device_id = $2 OR $2::text IS NULL)");
PG_STMT(s_device_list_changes, "device_list_changes",
        "SELECT pos, user_id FROM device_list_changes WHERE pos > $1 ORDER BY pos");
PG_STMT(s_relation_insert, "relation_insert",
        "INSERT INTO event_relations (event_id, room_id, parent_id, rel_type, type, sender, pos,"
        " ts, agg_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
PG_STMT(s_relation_delete, "relation_delete", "DELETE FROM event_relations WHERE event_id = $1");
PG_STMT(s_redaction_set, "redaction_set",
        "INSERT INTO event_redactions (event_id, redaction_id) VALUES ($1, $2)"
        " ON CONFLICT (event_id) DO UPDATE SET redaction_id = excluded.redaction_id");
PG_STMT(s_relations, "relations_each",
        "SELECT event_id, room_id, parent_id, rel_type, type, sender, pos, ts, agg_hash"
        " FROM event_relations ORDER BY pos");
PG_STMT(s_redactions, "redactions_each",
        "SELECT event_id, redaction_id FROM event_redactions ORDER BY event_id");

/* ---- account data ---- */

int balai__pg_account_data_set(void *db, const char *user_id, const char *room_id, const char *type,
                               const uint8_t *blob, size_t len, const char *key_name, int64_t *pos)
{
    struct pg_args a = {0};

    if (!user_id || !room_id || !type || !blob || !key_name || len > INT32_MAX)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, room_id);
    pa_text(&a, type);
    pa_text(&a, key_name);
    pa_bytea(&a, blob, len);
    return balai__pg_wexec_int(db, &s_account_data_set, &a, pos);
}

struct account_data_ctx {
    int (*fn)(const struct balai_account_data_rec *, void *);
    void *arg;
};

static int account_data_row(const PGresult *r, int i, void *p)
{
    struct account_data_ctx *c = p;
    struct balai_account_data_rec rec = {
        .user_id = pc_text(r, i, 0),
        .room_id = pc_text(r, i, 1),
        .type = pc_text(r, i, 2),
        .pos = pc_int(r, i, 3),
        .key_name = pc_text(r, i, 4),
    };
    uint8_t *blob = balai__pg_bytea(r, i, 5, &rec.blob_len);
    int rc;

    rec.blob = blob;
    rc = c->fn(&rec, c->arg);
    free(blob);
    return rc;
}

int balai__pg_account_data_each(void *db, int (*fn)(const struct balai_account_data_rec *, void *),
                                void *arg)
{
    struct account_data_ctx c = {fn, arg};

    return balai__pg_each(db, &s_account_data, NULL, account_data_row, &c);
}

/* ---- receipts ---- */

int balai__pg_receipt_set(void *db, const char *room_id, const char *user_id, const char *type,
                          const char *thread_id, const char *event_id, int64_t ts, int64_t *pos)
{
    struct pg_args a = {0};

    if (!room_id || !user_id || !type || !thread_id || !event_id)
        return BALAI_EINVAL;
    pa_text(&a, room_id);
    pa_text(&a, user_id);
    pa_text(&a, type);
    pa_text(&a, thread_id);
    pa_text(&a, event_id);
    pa_int(&a, ts);
    return balai__pg_wexec_int(db, &s_receipt_set, &a, pos);
}

struct receipts_ctx {
    int (*fn)(const struct balai_receipt_rec *, void *);
    void *arg;
};

static int receipt_row(const PGresult *r, int i, void *p)
{
    struct receipts_ctx *c = p;
    struct balai_receipt_rec rec = {
        .room_id = pc_text(r, i, 0),
        .user_id = pc_text(r, i, 1),
        .type = pc_text(r, i, 2),
        .thread_id = pc_text(r, i, 3),
        .event_id = pc_text(r, i, 4),
        .ts = pc_int(r, i, 5),
        .pos = pc_int(r, i, 6),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_receipts_each(void *db, int (*fn)(const struct balai_receipt_rec *, void *),
                            void *arg)
{
    struct receipts_ctx c = {fn, arg};

    return balai__pg_each(db, &s_receipts, NULL, receipt_row, &c);
}

/* ---- the room directory ---- */

int balai__pg_room_publish(void *db, const char *room_id, int published, int64_t ts)
{
    struct pg_args a = {0};

    if (!room_id)
        return BALAI_EINVAL;
    pa_text(&a, room_id);
    if (!published)
        return balai__pg_wexec(db, &s_room_unpublish, &a, NULL, NULL);
    pa_int(&a, ts);
    return balai__pg_wexec(db, &s_room_publish, &a, NULL, NULL);
}

struct published_ctx {
    int (*fn)(const char *, int64_t, void *);
    void *arg;
};

static int published_row(const PGresult *r, int i, void *p)
{
    struct published_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_int(r, i, 1), c->arg);
}

int balai__pg_published_each(void *db, int (*fn)(const char *, int64_t, void *), void *arg)
{
    struct published_ctx c = {fn, arg};

    return balai__pg_each(db, &s_published, NULL, published_row, &c);
}

/* ---- end-to-end keys ---- */

int balai__pg_e2e_key_set(void *db, const char *user_id, const char *device_id, const char *kind,
                          const char *key_id, const char *json, int used)
{
    struct pg_args a = {0};

    if (!user_id || !device_id || !kind || !key_id || !json)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, device_id);
    pa_text(&a, kind);
    pa_text(&a, key_id);
    pa_text(&a, json);
    pa_int(&a, used ? 1 : 0);
    return balai__pg_wexec(db, &s_e2e_key_set, &a, NULL, NULL);
}

int balai__pg_e2e_key_delete(void *db, const char *user_id, const char *device_id, const char *kind,
                             const char *key_id)
{
    struct pg_args a = {0};

    if (!user_id || !device_id || !kind || !key_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, device_id);
    pa_text(&a, kind);
    pa_text(&a, key_id);
    return balai__pg_wexec(db, &s_e2e_key_delete, &a, NULL, NULL);
}

struct e2e_ctx {
    int (*fn)(const struct balai_e2e_key_rec *, void *);
    void *arg;
};

static int e2e_row(const PGresult *r, int i, void *p)
{
    struct e2e_ctx *c = p;
    struct balai_e2e_key_rec rec = {
        .user_id = pc_text(r, i, 0),
        .device_id = pc_text(r, i, 1),
        .kind = pc_text(r, i, 2),
        .key_id = pc_text(r, i, 3),
        .json = pc_text(r, i, 4),
        .used = (int)pc_int(r, i, 5),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_e2e_keys_each(void *db, int (*fn)(const struct balai_e2e_key_rec *, void *),
                            void *arg)
{
    struct e2e_ctx c = {fn, arg};

    return balai__pg_each(db, &s_e2e_keys, NULL, e2e_row, &c);
}

/* ---- to-device messages ---- */

int balai__pg_to_device_add(void *db, const char *user_id, const char *device_id,
                            const char *sender, const char *type, const char *content, int64_t *pos)
{
    struct pg_args a = {0};

    if (!user_id || !device_id || !sender || !type || !content)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, device_id);
    pa_text(&a, sender);
    pa_text(&a, type);
    pa_text(&a, content);
    return balai__pg_wexec_int(db, &s_to_device_add, &a, pos);
}

int balai__pg_to_device_delete(void *db, const char *user_id, const char *device_id, int64_t upto)
{
    struct pg_args a = {0};

    if (!user_id || !device_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, device_id);
    pa_int(&a, upto);
    return balai__pg_wexec(db, &s_to_device_delete, &a, NULL, NULL);
}

struct td_ctx {
    int (*fn)(const struct balai_to_device_rec *, void *);
    void *arg;
};

static int td_row(const PGresult *r, int i, void *p)
{
    struct td_ctx *c = p;
    struct balai_to_device_rec rec = {
        .user_id = pc_text(r, i, 0),
        .device_id = pc_text(r, i, 1),
        .pos = pc_int(r, i, 2),
        .sender = pc_text(r, i, 3),
        .type = pc_text(r, i, 4),
        .content = pc_text(r, i, 5),
    };

    return c->fn(&rec, c->arg);
}

int balai__pg_to_device_each(void *db, int (*fn)(const struct balai_to_device_rec *, void *),
                             void *arg)
{
    struct td_ctx c = {fn, arg};

    return balai__pg_each(db, &s_to_device, NULL, td_row, &c);
}

/* ---- device-list changes ---- */

int balai__pg_device_list_add(void *db, const char *user_id, int64_t *pos)
{
    struct pg_args a = {0};

    if (!user_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    return balai__pg_wexec_int(db, &s_device_list_add, &a, pos);
}

int balai__pg_device_data_delete(void *db, const char *user_id, const char *device_id)
{
    struct pg_args a = {0};

    if (!user_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, device_id);
    return balai__pg_wexec(db, &s_device_data_delete, &a, NULL, NULL);
}

struct dl_ctx {
    int (*fn)(int64_t pos, const char *user_id, void *);
    void *arg;
};

static int dl_row(const PGresult *r, int i, void *p)
{
    struct dl_ctx *c = p;

    return c->fn(pc_int(r, i, 0), pc_text(r, i, 1), c->arg);
}

int balai__pg_device_list_changes(void *db, int64_t after,
                                  int (*fn)(int64_t pos, const char *user_id, void *), void *arg)
{
    struct dl_ctx c = {fn, arg};
    struct pg_args a = {0};

    pa_int(&a, after);
    return balai__pg_each(db, &s_device_list_changes, &a, dl_row, &c);
}

/* ---- relations and redactions ---- */

int balai__pg_relation_insert(void *db, const struct balai_relation_rec *r)
{
    struct pg_args a = {0};

    if (!r->event_id || !r->room_id || !r->parent_id || !r->rel_type || !r->type || !r->sender)
        return BALAI_EINVAL;
    pa_text(&a, r->event_id);
    pa_text(&a, r->room_id);
    pa_text(&a, r->parent_id);
    pa_text(&a, r->rel_type);
    pa_text(&a, r->type);
    pa_text(&a, r->sender);
    pa_int(&a, r->pos);
    pa_int(&a, r->ts);
    pa_bytea(&a, r->agg_hash, r->agg_hash ? r->agg_hash_len : 0);
    return balai__pg_wexec(db, &s_relation_insert, &a, NULL, NULL);
}

int balai__pg_relation_delete(void *db, const char *event_id)
{
    struct pg_args a = {0};

    if (!event_id)
        return BALAI_EINVAL;
    pa_text(&a, event_id);
    return balai__pg_wexec(db, &s_relation_delete, &a, NULL, NULL);
}

int balai__pg_redaction_set(void *db, const char *event_id, const char *redaction_id)
{
    struct pg_args a = {0};

    if (!event_id || !redaction_id)
        return BALAI_EINVAL;
    pa_text(&a, event_id);
    pa_text(&a, redaction_id);
    return balai__pg_wexec(db, &s_redaction_set, &a, NULL, NULL);
}

struct relations_ctx {
    int (*fn)(const struct balai_relation_rec *, void *);
    void *arg;
};

static int relation_row(const PGresult *r, int i, void *p)
{
    struct relations_ctx *c = p;
    struct balai_relation_rec rec = {
        .event_id = pc_text(r, i, 0),
        .room_id = pc_text(r, i, 1),
        .parent_id = pc_text(r, i, 2),
        .rel_type = pc_text(r, i, 3),
        .type = pc_text(r, i, 4),
        .sender = pc_text(r, i, 5),
        .pos = pc_int(r, i, 6),
        .ts = pc_int(r, i, 7),
    };
    uint8_t *hash = balai__pg_bytea(r, i, 8, &rec.agg_hash_len);
    int rc;

    rec.agg_hash = rec.agg_hash_len ? hash : NULL;
    if (!rec.agg_hash)
        rec.agg_hash_len = 0;
    rc = c->fn(&rec, c->arg);
    free(hash);
    return rc;
}

int balai__pg_relations_each(void *db, int (*fn)(const struct balai_relation_rec *, void *),
                             void *arg)
{
    struct relations_ctx c = {fn, arg};

    return balai__pg_each(db, &s_relations, NULL, relation_row, &c);
}

struct redactions_ctx {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int redaction_row(const PGresult *r, int i, void *p)
{
    struct redactions_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), c->arg);
}

int balai__pg_redactions_each(void *db, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct redactions_ctx c = {fn, arg};

    return balai__pg_each(db, &s_redactions, NULL, redaction_row, &c);
}
