/* sqlite_relations.c: the SQLite backend's functions for the event_relations
 * and event_redactions tables (see sqlite.c for the design). */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

int balai__sqlite_relation_insert(void *p, const struct balai_relation_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_RELATION_INSERT];
    int b;

    if (!r->event_id || !r->room_id || !r->parent_id || !r->rel_type || !r->type || !r->sender)
        return BALAI_EINVAL;
    b = bind_text(s, 1, r->event_id) | bind_text(s, 2, r->room_id) | bind_text(s, 3, r->parent_id) |
        bind_text(s, 4, r->rel_type) | bind_text(s, 5, r->type) | bind_text(s, 6, r->sender) |
        sqlite3_bind_int64(s, 7, r->pos) | sqlite3_bind_int64(s, 8, r->ts);
    if (r->agg_hash)
        b |= sqlite3_bind_blob(s, 9, r->agg_hash, (int)r->agg_hash_len, SQLITE_STATIC);
    else
        b |= sqlite3_bind_null(s, 9);
    return balai__sqlite_wrun(db, W_RELATION_INSERT, b, NULL);
}

int balai__sqlite_relation_delete(void *p, const char *event_id)
{
    struct sqlite_db *db = p;
    if (!event_id)
        return BALAI_EINVAL;
    return balai__sqlite_wrun(db, W_RELATION_DELETE,
                              bind_text(db->ws[W_RELATION_DELETE], 1, event_id), NULL);
}

int balai__sqlite_redaction_set(void *p, const char *event_id, const char *redaction_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s = db->ws[W_REDACTION_SET];
    if (!event_id || !redaction_id)
        return BALAI_EINVAL;
    return balai__sqlite_wrun(db, W_REDACTION_SET,
                              bind_text(s, 1, event_id) | bind_text(s, 2, redaction_id), NULL);
}

struct relations_ctx {
    int (*fn)(const struct balai_relation_rec *, void *);
    void *arg;
};

static int relation_row(sqlite3_stmt *s, void *p)
{
    struct relations_ctx *c = p;
    struct balai_relation_rec r = {
        .event_id = col_text(s, 0),
        .room_id = col_text(s, 1),
        .parent_id = col_text(s, 2),
        .rel_type = col_text(s, 3),
        .type = col_text(s, 4),
        .sender = col_text(s, 5),
        .pos = sqlite3_column_int64(s, 6),
        .ts = sqlite3_column_int64(s, 7),
        .agg_hash = sqlite3_column_blob(s, 8),
        .agg_hash_len = (size_t)sqlite3_column_bytes(s, 8),
    };
    if (!r.agg_hash)
        r.agg_hash_len = 0;
    return c->fn(&r, c->arg);
}

int balai__sqlite_relations_each(void *p, int (*fn)(const struct balai_relation_rec *, void *),
                                 void *arg)
{
    struct sqlite_db *db = p;
    struct relations_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_RELATIONS, relation_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

struct redactions_ctx {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int redaction_row(sqlite3_stmt *s, void *p)
{
    struct redactions_ctx *c = p;
    return c->fn(col_text(s, 0), col_text(s, 1), c->arg);
}

int balai__sqlite_redactions_each(void *p, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct sqlite_db *db = p;
    struct redactions_ctx c = {fn, arg};
    int rc;

    pthread_mutex_lock(&db->rlock);
    rc = balai__sqlite_riterate(db, R_REDACTIONS, redaction_row, &c);
    pthread_mutex_unlock(&db->rlock);
    return rc;
}
