/* pg_accounts.c: the PostgreSQL backend's functions for the account tables:
 * users, devices, access tokens and meta (see pg.c for the design). */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <string.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

PG_STMT(s_user_insert, "user_insert",
        "INSERT INTO users (user_id, password_hash, admin, deactivated, system, displayname,"
        " avatar_url, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
PG_STMT(s_user_set_password, "user_set_password",
        "UPDATE users SET password_hash = $2 WHERE user_id = $1");
PG_STMT(s_user_set_displayname, "user_set_displayname",
        "UPDATE users SET displayname = $2 WHERE user_id = $1");
PG_STMT(s_user_set_avatar_url, "user_set_avatar_url",
        "UPDATE users SET avatar_url = $2 WHERE user_id = $1");
PG_STMT(s_user_set_admin, "user_set_admin", "UPDATE users SET admin = $2 WHERE user_id = $1");
/* Deactivation in one statement: the user row, then (by cascade from the
 * devices) the tokens. */
PG_STMT(s_user_deactivate, "user_deactivate",
        "WITH u AS (UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = $1"
        " RETURNING user_id),"
        " t AS (DELETE FROM access_tokens WHERE user_id IN (SELECT user_id FROM u)),"
        " d AS (DELETE FROM devices WHERE user_id IN (SELECT user_id FROM u))"
        " SELECT count(*) FROM u");
PG_STMT(s_user_reactivate, "user_reactivate",
        "UPDATE users SET deactivated = 0 WHERE user_id = $1");
PG_STMT(s_device_upsert, "device_upsert",
        "INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts,"
        " last_seen_ip) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (user_id, device_id) DO UPDATE SET"
        " display_name = coalesce(excluded.display_name, devices.display_name),"
        " last_seen_ip = CASE WHEN excluded.last_seen_ts > devices.last_seen_ts"
        " THEN coalesce(excluded.last_seen_ip, devices.last_seen_ip)"
        " ELSE devices.last_seen_ip END,"
        " last_seen_ts = greatest(devices.last_seen_ts, excluded.last_seen_ts)");
PG_STMT(s_device_delete, "device_delete",
        "DELETE FROM devices WHERE user_id = $1 AND device_id = $2");
PG_STMT(s_token_insert, "token_insert",
        "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts)"
        " VALUES ($1, $2, $3, $4)");
PG_STMT(s_token_delete, "token_delete", "DELETE FROM access_tokens WHERE token_hash = $1");
PG_STMT(s_meta_set, "meta_set",
        "INSERT INTO meta (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
PG_STMT(s_meta_delete, "meta_delete", "DELETE FROM meta WHERE key = $1");
PG_STMT(s_users, "users_each",
        "SELECT user_id, password_hash, admin, deactivated, system, displayname, avatar_url,"
        " created_ts FROM users ORDER BY user_id");
PG_STMT(s_devices, "devices_each",
        "SELECT user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip"
        " FROM devices ORDER BY user_id, device_id");
PG_STMT(s_tokens, "tokens_each",
        "SELECT token_hash, user_id, device_id, created_ts FROM access_tokens"
        " ORDER BY token_hash");
PG_STMT(s_meta_get, "meta_get", "SELECT value FROM meta WHERE key = $1");

/* Writes. */

int balai__pg_user_insert(void *db, const struct balai_user_rec *u)
{
    struct pg_args a = {0};

    pa_text(&a, u->user_id);
    pa_text(&a, u->password_hash);
    pa_int(&a, u->admin != 0);
    pa_int(&a, u->deactivated != 0);
    pa_int(&a, u->system != 0);
    pa_text(&a, u->displayname);
    pa_text(&a, u->avatar_url);
    pa_int(&a, u->created_ts);
    return balai__pg_wexec(db, &s_user_insert, &a, NULL, NULL);
}

static int update_user_text(void *db, struct pg_stmt *s, const char *user_id, const char *v)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_text(&a, v);
    return balai__pg_wexec_one(db, s, &a);
}

int balai__pg_user_set_password(void *db, const char *user_id, const char *hash)
{
    return update_user_text(db, &s_user_set_password, user_id, hash);
}

int balai__pg_user_set_displayname(void *db, const char *user_id, const char *v)
{
    return update_user_text(db, &s_user_set_displayname, user_id, v);
}

int balai__pg_user_set_avatar_url(void *db, const char *user_id, const char *v)
{
    return update_user_text(db, &s_user_set_avatar_url, user_id, v);
}

int balai__pg_user_set_admin(void *db, const char *user_id, int admin)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_int(&a, admin != 0);
    return balai__pg_wexec_one(db, &s_user_set_admin, &a);
}

int balai__pg_user_deactivate(void *db, const char *user_id)
{
    struct pg_args a = {0};
    int64_t n = 0;
    int rc;

    pa_text(&a, user_id);
    rc = balai__pg_wexec_int(db, &s_user_deactivate, &a, &n);
    if (rc == BALAI_OK && n == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__pg_user_reactivate(void *db, const char *user_id)
{
    struct pg_args a = {0};

    if (!user_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    return balai__pg_wexec_one(db, &s_user_reactivate, &a);
}

int balai__pg_device_upsert(void *db, const struct balai_device_rec *d)
{
    struct pg_args a = {0};

    pa_text(&a, d->user_id);
    pa_text(&a, d->device_id);
    pa_text(&a, d->display_name);
    pa_int(&a, d->created_ts);
    pa_int(&a, d->last_seen_ts);
    pa_text(&a, d->last_seen_ip);
    return balai__pg_wexec(db, &s_device_upsert, &a, NULL, NULL);
}

int balai__pg_device_delete(void *db, const char *user_id, const char *device_id)
{
    struct pg_args a = {0};

    pa_text(&a, user_id);
    pa_text(&a, device_id);
    /* Its tokens go with it: ON DELETE CASCADE. */
    return balai__pg_wexec_one(db, &s_device_delete, &a);
}

int balai__pg_token_insert(void *db, const struct balai_token_rec *r)
{
    struct pg_args a = {0};

    pa_bytea(&a, r->hash, sizeof(r->hash));
    pa_text(&a, r->user_id);
    pa_text(&a, r->device_id);
    pa_int(&a, r->created_ts);
    return balai__pg_wexec(db, &s_token_insert, &a, NULL, NULL);
}

int balai__pg_token_delete(void *db, const uint8_t hash[32])
{
    struct pg_args a = {0};

    pa_bytea(&a, hash, 32);
    return balai__pg_wexec_one(db, &s_token_delete, &a);
}

int balai__pg_meta_set(void *db, const char *key, const char *value)
{
    struct pg_args a = {0};

    pa_text(&a, key);
    if (!value)
        return balai__pg_wexec(db, &s_meta_delete, &a, NULL, NULL);
    pa_text(&a, value);
    return balai__pg_wexec(db, &s_meta_set, &a, NULL, NULL);
}

/* Reads. */

struct users_ctx {
    int (*fn)(const struct balai_user_rec *, void *);
    void *arg;
};

static int user_row(const PGresult *r, int i, void *p)
{
    struct users_ctx *c = p;
    struct balai_user_rec u = {
        .user_id = pc_text(r, i, 0),
        .password_hash = pc_text(r, i, 1),
        .admin = (int)pc_int(r, i, 2),
        .deactivated = (int)pc_int(r, i, 3),
        .system = (int)pc_int(r, i, 4),
        .displayname = pc_text(r, i, 5),
        .avatar_url = pc_text(r, i, 6),
        .created_ts = pc_int(r, i, 7),
    };

    return c->fn(&u, c->arg);
}

int balai__pg_users_each(void *db, int (*fn)(const struct balai_user_rec *, void *), void *arg)
{
    struct users_ctx c = {fn, arg};

    return balai__pg_each(db, &s_users, NULL, user_row, &c);
}

struct devices_ctx {
    int (*fn)(const struct balai_device_rec *, void *);
    void *arg;
};

static int device_row(const PGresult *r, int i, void *p)
{
    struct devices_ctx *c = p;
    struct balai_device_rec d = {
        .user_id = pc_text(r, i, 0),
        .device_id = pc_text(r, i, 1),
        .display_name = pc_text(r, i, 2),
        .created_ts = pc_int(r, i, 3),
        .last_seen_ts = pc_int(r, i, 4),
        .last_seen_ip = pc_text(r, i, 5),
    };

    return c->fn(&d, c->arg);
}

int balai__pg_devices_each(void *db, int (*fn)(const struct balai_device_rec *, void *), void *arg)
{
    struct devices_ctx c = {fn, arg};

    return balai__pg_each(db, &s_devices, NULL, device_row, &c);
}

struct tokens_ctx {
    int (*fn)(const struct balai_token_rec *, void *);
    void *arg;
};

static int token_row(const PGresult *r, int i, void *p)
{
    struct tokens_ctx *c = p;
    struct balai_token_rec t = {
        .user_id = pc_text(r, i, 1),
        .device_id = pc_text(r, i, 2),
        .created_ts = pc_int(r, i, 3),
    };
    size_t len;
    uint8_t *hash = balai__pg_bytea(r, i, 0, &len);
    int rc = 0;

    if (!hash || len != sizeof(t.hash)) {
        LOG_WARN("skipping an access token row with a malformed hash");
        goto out;
    }
    memcpy(t.hash, hash, sizeof(t.hash));
    rc = c->fn(&t, c->arg);
out:
    free(hash);
    return rc;
}

int balai__pg_tokens_each(void *db, int (*fn)(const struct balai_token_rec *, void *), void *arg)
{
    struct tokens_ctx c = {fn, arg};

    return balai__pg_each(db, &s_tokens, NULL, token_row, &c);
}

int balai__pg_meta_get(void *db, const char *key, char **out)
{
    struct pg_args a = {0};
    PGresult *r;
    int rc;

    *out = NULL;
    pa_text(&a, key);
    rc = balai__pg_read(db, &s_meta_get, &a, &r);
    if (rc != BALAI_OK)
        return rc;
    if (PQntuples(r) > 0)
        *out = balai_strdup(PQgetvalue(r, 0, 0));
    else
        rc = BALAI_ENOTFOUND;
    PQclear(r);
    return rc;
}
