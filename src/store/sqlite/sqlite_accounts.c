/* sqlite_accounts.c: the SQLite backend's functions for the account tables:
 * users, devices, access tokens and meta (see sqlite.c for the design). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* Writes. */

int balai__sqlite_user_insert(void *p, const struct balai_user_rec *u)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_USER_INSERT];
    int b;

    b = bind_text(s, 1, u->user_id) | bind_text(s, 2, u->password_hash) |
        sqlite3_bind_int(s, 3, u->admin != 0) | sqlite3_bind_int(s, 4, u->deactivated != 0) |
        sqlite3_bind_int(s, 5, u->system != 0) | bind_text(s, 6, u->displayname) |
        bind_text(s, 7, u->avatar_url) | sqlite3_bind_int64(s, 8, u->created_ts);
    return balai__sqlite_wrun(db, W_USER_INSERT, b, NULL);
}

static int update_user_text(struct sqlite_db *db, enum wstmt id, const char *user_id, const char *v)
{
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, v);

    return balai__sqlite_wrun_one(db, id, b);
}

int balai__sqlite_user_set_password(void *p, const char *user_id, const char *hash)
{
    return update_user_text(p, W_USER_SET_PASSWORD, user_id, hash);
}

int balai__sqlite_user_set_displayname(void *p, const char *user_id, const char *v)
{
    return update_user_text(p, W_USER_SET_DISPLAYNAME, user_id, v);
}

int balai__sqlite_user_set_avatar_url(void *p, const char *user_id, const char *v)
{
    return update_user_text(p, W_USER_SET_AVATAR_URL, user_id, v);
}

int balai__sqlite_user_set_admin(void *p, const char *user_id, int admin)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_USER_SET_ADMIN];
    int b = bind_text(s, 1, user_id) | sqlite3_bind_int(s, 2, admin != 0);

    return balai__sqlite_wrun_one(db, W_USER_SET_ADMIN, b);
}

int balai__sqlite_user_deactivate(void *p, const char *user_id)
{
    struct sqlite_db *db = p;
    int rc;

    /* Three statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai__sqlite_wrun_one(db, W_USER_DEACTIVATE,
                                bind_text(db->ws[W_USER_DEACTIVATE], 1, user_id));
    if (rc != BALAI_OK)
        goto out;
    rc = balai__sqlite_wrun(db, W_USER_TOKENS_DELETE,
                            bind_text(db->ws[W_USER_TOKENS_DELETE], 1, user_id), NULL);
    if (rc != BALAI_OK)
        goto out;
    rc = balai__sqlite_wrun(db, W_USER_DEVICES_DELETE,
                            bind_text(db->ws[W_USER_DEVICES_DELETE], 1, user_id), NULL);
out:
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    return rc;
}

int balai__sqlite_device_upsert(void *p, const struct balai_device_rec *d)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_DEVICE_UPSERT];
    int b;

    b = bind_text(s, 1, d->user_id) | bind_text(s, 2, d->device_id) |
        bind_text(s, 3, d->display_name) | sqlite3_bind_int64(s, 4, d->created_ts) |
        sqlite3_bind_int64(s, 5, d->last_seen_ts) | bind_text(s, 6, d->last_seen_ip);
    return balai__sqlite_wrun(db, W_DEVICE_UPSERT, b, NULL);
}

int balai__sqlite_device_delete(void *p, const char *user_id, const char *device_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_DEVICE_DELETE];
    int b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id);

    /* Its tokens go with it: ON DELETE CASCADE. */
    return balai__sqlite_wrun_one(db, W_DEVICE_DELETE, b);
}

int balai__sqlite_token_insert(void *p, const struct balai_token_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TOKEN_INSERT];
    int b;

    b = sqlite3_bind_blob(s, 1, r->hash, (int)sizeof(r->hash), SQLITE_STATIC) |
        bind_text(s, 2, r->user_id) | bind_text(s, 3, r->device_id) |
        sqlite3_bind_int64(s, 4, r->created_ts);
    return balai__sqlite_wrun(db, W_TOKEN_INSERT, b, NULL);
}

int balai__sqlite_token_delete(void *p, const uint8_t hash[32])
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TOKEN_DELETE];
    int b = sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);

    return balai__sqlite_wrun_one(db, W_TOKEN_DELETE, b);
}

int balai__sqlite_meta_set(void *p, const char *key, const char *value)
{
    struct sqlite_db *db = p;
    enum wstmt id = value ? W_META_SET : W_META_DELETE;
    sqlite3_stmt *s = db->ws[id];
    int b = bind_text(s, 1, key);

    if (value)
        b |= bind_text(s, 2, value);
    return balai__sqlite_wrun(db, id, b, NULL);
}

/* Reads. */

struct users_ctx {
    int (*fn)(const struct balai_user_rec *, void *);
    void *arg;
};

static int user_row(sqlite3_stmt *s, void *p)
{
    struct users_ctx *c = p;
    struct balai_user_rec u = {
        .user_id = col_text(s, 0),
        .password_hash = col_text(s, 1),
        .admin = sqlite3_column_int(s, 2),
        .deactivated = sqlite3_column_int(s, 3),
        .system = sqlite3_column_int(s, 4),
        .displayname = col_text(s, 5),
        .avatar_url = col_text(s, 6),
        .created_ts = sqlite3_column_int64(s, 7),
    };

    return c->fn(&u, c->arg);
}

int balai__sqlite_users_each(void *p, int (*fn)(const struct balai_user_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct users_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_USERS, user_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct devices_ctx {
    int (*fn)(const struct balai_device_rec *, void *);
    void *arg;
};

static int device_row(sqlite3_stmt *s, void *p)
{
    struct devices_ctx *c = p;
    struct balai_device_rec d = {
        .user_id = col_text(s, 0),
        .device_id = col_text(s, 1),
        .display_name = col_text(s, 2),
        .created_ts = sqlite3_column_int64(s, 3),
        .last_seen_ts = sqlite3_column_int64(s, 4),
        .last_seen_ip = col_text(s, 5),
    };

    return c->fn(&d, c->arg);
}

int balai__sqlite_devices_each(void *p, int (*fn)(const struct balai_device_rec *, void *),
                               void *arg)
{
    struct sqlite_db *db = p;
    struct devices_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_DEVICES, device_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct tokens_ctx {
    int (*fn)(const struct balai_token_rec *, void *);
    void *arg;
};

static int token_row(sqlite3_stmt *s, void *p)
{
    struct tokens_ctx *c = p;
    struct balai_token_rec r = {
        .user_id = col_text(s, 1),
        .device_id = col_text(s, 2),
        .created_ts = sqlite3_column_int64(s, 3),
    };
    const void *hash = sqlite3_column_blob(s, 0);

    if (!hash || sqlite3_column_bytes(s, 0) != (int)sizeof(r.hash)) {
        LOG_WARN("skipping an access token row with a malformed hash");
        return 0;
    }
    memcpy(r.hash, hash, sizeof(r.hash));
    return c->fn(&r, c->arg);
}

int balai__sqlite_tokens_each(void *p, int (*fn)(const struct balai_token_rec *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct tokens_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_TOKENS, token_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int balai__sqlite_meta_get(void *p, const char *key, char **out)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->rs[R_META_GET];
    int src, rc = BALAI_OK;

    *out = NULL;
    pthread_mutex_lock(&db->rlock);
    if (bind_text(s, 1, key) != SQLITE_OK) {
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src == SQLITE_ROW)
        *out = balai_strdup(col_text(s, 0));
    else if (src == SQLITE_DONE)
        rc = BALAI_ENOTFOUND;
    else
        rc = balai__sqlite_map_err(db->r, src, balai__sqlite_rdefs[R_META_GET].name);
out:
    stmt_done(s);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
