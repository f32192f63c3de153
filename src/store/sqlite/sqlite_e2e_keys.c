/* sqlite_e2e_keys.c: the SQLite backend's functions for the e2e_keys table
 * (end-to-end encryption public keys) and the to_device table (to-device
 * messages waiting for their device); see sqlite.c for the design. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"

int balai__sqlite_e2e_key_set(void *p, const char *user_id, const char *device_id, const char *kind,
                              const char *key_id, const char *json, int used)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_E2E_KEY_SET];
    int b;

    if (!user_id || !device_id || !kind || !key_id || !json)
        return BALAI_EINVAL;
    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | bind_text(s, 3, kind) |
        bind_text(s, 4, key_id) | bind_text(s, 5, json) | sqlite3_bind_int(s, 6, used ? 1 : 0);
    return balai__sqlite_wrun(db, W_E2E_KEY_SET, b, NULL);
}

int balai__sqlite_e2e_key_delete(void *p, const char *user_id, const char *device_id,
                                 const char *kind, const char *key_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_E2E_KEY_DELETE];
    int b;

    if (!user_id || !device_id || !kind || !key_id)
        return BALAI_EINVAL;
    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | bind_text(s, 3, kind) |
        bind_text(s, 4, key_id);
    return balai__sqlite_wrun(db, W_E2E_KEY_DELETE, b, NULL);
}

struct e2e_ctx {
    int (*fn)(const struct balai_e2e_key_rec *, void *);
    void *arg;
};

static int e2e_row(sqlite3_stmt *s, void *p)
{
    struct e2e_ctx *c = p;
    struct balai_e2e_key_rec r = {
        .user_id = col_text(s, 0),
        .device_id = col_text(s, 1),
        .kind = col_text(s, 2),
        .key_id = col_text(s, 3),
        .json = col_text(s, 4),
        .used = sqlite3_column_int(s, 5),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_e2e_keys_each(void *p, int (*fn)(const struct balai_e2e_key_rec *, void *),
                                void *arg)
{
    struct sqlite_db *db = p;
    struct e2e_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_E2E_KEYS, e2e_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

/* ---- to-device messages ---- */

#define TO_DEVICE_STREAM "to_device"

int balai__sqlite_to_device_add(void *p, const char *user_id, const char *device_id,
                                const char *sender, const char *type, const char *content,
                                int64_t *pos)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TO_DEVICE_ADD];
    int64_t next = 0;
    int rc, b;

    if (!user_id || !device_id || !sender || !type || !content)
        return BALAI_EINVAL;
    /* Two statements: a nested savepoint keeps the call all-or-nothing. */
    rc = balai__sqlite_wrun(db, W_FN_SAVEPOINT, SQLITE_OK, NULL);
    if (rc != BALAI_OK)
        return rc;
    rc = balai_store_sqlite_backend.next_pos(db, TO_DEVICE_STREAM, &next);
    if (rc != BALAI_OK)
        goto out;
    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | sqlite3_bind_int64(s, 3, next) |
        bind_text(s, 4, sender) | bind_text(s, 5, type) | bind_text(s, 6, content);
    rc = balai__sqlite_wrun(db, W_TO_DEVICE_ADD, b, NULL);
out:
    if (rc != BALAI_OK && balai__sqlite_wrun(db, W_FN_ROLLBACK_TO, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (balai__sqlite_wrun(db, W_FN_RELEASE, SQLITE_OK, NULL) != BALAI_OK)
        rc = BALAI_ESTORE;
    if (rc == BALAI_OK)
        *pos = next;
    return rc;
}

int balai__sqlite_to_device_delete(void *p, const char *user_id, const char *device_id,
                                   int64_t upto)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_TO_DEVICE_DELETE];
    int b;

    if (!user_id || !device_id)
        return BALAI_EINVAL;
    b = bind_text(s, 1, user_id) | bind_text(s, 2, device_id) | sqlite3_bind_int64(s, 3, upto);
    return balai__sqlite_wrun(db, W_TO_DEVICE_DELETE, b, NULL);
}

struct td_ctx {
    int (*fn)(const struct balai_to_device_rec *, void *);
    void *arg;
};

static int td_row(sqlite3_stmt *s, void *p)
{
    struct td_ctx *c = p;
    struct balai_to_device_rec r = {
        .user_id = col_text(s, 0),
        .device_id = col_text(s, 1),
        .pos = sqlite3_column_int64(s, 2),
        .sender = col_text(s, 3),
        .type = col_text(s, 4),
        .content = col_text(s, 5),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_to_device_each(void *p, int (*fn)(const struct balai_to_device_rec *, void *),
                                 void *arg)
{
    struct sqlite_db *db = p;
    struct td_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_TO_DEVICE, td_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
