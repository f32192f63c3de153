/* sqlite_scim.c: the SQLite backend's functions for SCIM provisioning,
 * tables scim_tokens, scim_users, scim_groups and scim_group_members
 * (migration 13). Provisioning writes are
 * rare and its tables are read once at start, so the statements are
 * prepared per call instead of living in the statement tables of sqlite.c. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

static const char sql_token_add[] =
    "INSERT INTO scim_tokens (token_id, name, hash, created_ts) VALUES (?1, ?2, ?3, ?4)";
static const char sql_token_delete[] = "DELETE FROM scim_tokens WHERE token_id = ?1";
static const char sql_user_set[] =
    "INSERT INTO scim_users (user_id, scim_id, user_name, user_name_lc, external_id, attrs,"
    " created_ts, modified_ts, version, deleted_ts)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT (user_id) DO UPDATE SET scim_id = excluded.scim_id,"
    " user_name = excluded.user_name, user_name_lc = excluded.user_name_lc,"
    " external_id = excluded.external_id, attrs = excluded.attrs,"
    " created_ts = excluded.created_ts, modified_ts = excluded.modified_ts,"
    " version = excluded.version, deleted_ts = excluded.deleted_ts";
static const char sql_group_set[] =
    "INSERT INTO scim_groups (scim_id, display_name, external_id, created_ts, modified_ts,"
    " version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (scim_id) DO UPDATE SET display_name = excluded.display_name,"
    " external_id = excluded.external_id, modified_ts = excluded.modified_ts,"
    " version = excluded.version";
static const char sql_group_delete[] = "DELETE FROM scim_groups WHERE scim_id = ?1";
static const char sql_member_add[] =
    "INSERT OR IGNORE INTO scim_group_members (group_id, user_id) VALUES (?1, ?2)";
static const char sql_member_remove[] =
    "DELETE FROM scim_group_members WHERE group_id = ?1 AND user_id = ?2";
static const char sql_members_clear[] = "DELETE FROM scim_group_members WHERE group_id = ?1";
static const char sql_member_remove_all[] = "DELETE FROM scim_group_members WHERE user_id = ?1";
static const char sql_tokens[] =
    "SELECT token_id, name, hash, created_ts FROM scim_tokens ORDER BY token_id";
static const char sql_users[] =
    "SELECT user_id, scim_id, user_name, external_id, attrs, created_ts, modified_ts, version,"
    " deleted_ts FROM scim_users ORDER BY user_id";
static const char sql_groups[] =
    "SELECT scim_id, display_name, external_id, created_ts, modified_ts, version"
    " FROM scim_groups ORDER BY scim_id";
static const char sql_members[] =
    "SELECT group_id, user_id FROM scim_group_members ORDER BY group_id, user_id";
/* Steps a bound write statement to completion and finalizes it; *changes
 * gets the number of rows changed when set. */
static int wstep(struct sqlite_db *db, sqlite3_stmt *s, int bind, const char *what, int *changes)
{
    int rc = BALAI_OK, src;

    if (bind != SQLITE_OK) {
        LOG_ERROR("%s: cannot bind: %s", what, sqlite3_errmsg(db->w));
        rc = BALAI_ESTORE;
        goto out;
    }
    src = sqlite3_step(s);
    if (src != SQLITE_DONE) {
        rc = balai__sqlite_map_err(
            db->w,
            src == SQLITE_ERROR || src == SQLITE_CONSTRAINT ? sqlite3_extended_errcode(db->w) : src,
            what);
        goto out;
    }
    if (changes)
        *changes = sqlite3_changes(db->w);
out:
    sqlite3_finalize(s);
    return rc;
}

/* Runs `sql` with up to two text parameters; BALAI_ENOTFOUND when
 * must_change and no row changed. */
static int wtext(struct sqlite_db *db, const char *sql, const char *what, const char *a,
                 const char *b, int must_change)
{
    sqlite3_stmt *s;
    int rc, changes = 0, bind;

    rc = balai__sqlite_prepare_sql(db->w, sql, what, &s);
    if (rc != BALAI_OK)
        return rc;
    bind = bind_text(s, 1, a);
    if (b)
        bind |= bind_text(s, 2, b);
    rc = wstep(db, s, bind, what, &changes);
    if (rc == BALAI_OK && must_change && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__sqlite_scim_token_add(void *p, const struct balai_scim_token_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc, b;

    if (!r || !r->token_id || !r->name)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_token_add, "scim_token_add", &s);
    if (rc != BALAI_OK)
        return rc;
    b = bind_text(s, 1, r->token_id) | bind_text(s, 2, r->name) |
        sqlite3_bind_blob(s, 3, r->hash, 32, SQLITE_STATIC) |
        sqlite3_bind_int64(s, 4, r->created_ts);
    return wstep(db, s, b, "scim_token_add", NULL);
}

int balai__sqlite_scim_token_delete(void *p, const char *token_id)
{
    if (!token_id)
        return BALAI_EINVAL;
    return wtext(p, sql_token_delete, "scim_token_delete", token_id, NULL, 1);
}

int balai__sqlite_scim_user_set(void *p, const struct balai_scim_user_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    char *lc;
    int rc, b;

    if (!r || !r->user_id || !r->scim_id || !r->user_name || !r->attrs)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_user_set, "scim_user_set", &s);
    if (rc != BALAI_OK)
        return rc;
    lc = balai_strdup(r->user_name);
    for (char *c = lc; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    b = bind_text(s, 1, r->user_id) | bind_text(s, 2, r->scim_id) | bind_text(s, 3, r->user_name) |
        bind_text(s, 4, lc) | bind_text(s, 5, r->external_id) | bind_text(s, 6, r->attrs) |
        sqlite3_bind_int64(s, 7, r->created_ts) | sqlite3_bind_int64(s, 8, r->modified_ts) |
        sqlite3_bind_int64(s, 9, r->version) | sqlite3_bind_int64(s, 10, r->deleted_ts);
    rc = wstep(db, s, b, "scim_user_set", NULL);
    free(lc);
    return rc;
}

int balai__sqlite_scim_group_set(void *p, const struct balai_scim_group_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc, b;

    if (!r || !r->scim_id || !r->display_name)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_group_set, "scim_group_set", &s);
    if (rc != BALAI_OK)
        return rc;
    b = bind_text(s, 1, r->scim_id) | bind_text(s, 2, r->display_name) |
        bind_text(s, 3, r->external_id) | sqlite3_bind_int64(s, 4, r->created_ts) |
        sqlite3_bind_int64(s, 5, r->modified_ts) | sqlite3_bind_int64(s, 6, r->version);
    return wstep(db, s, b, "scim_group_set", NULL);
}

int balai__sqlite_scim_group_delete(void *p, const char *scim_id)
{
    int rc;

    if (!scim_id)
        return BALAI_EINVAL;
    /* members first: the foreign key cascades too, but not without foreign_keys */
    rc = wtext(p, sql_members_clear, "scim_members_clear", scim_id, NULL, 0);
    if (rc == BALAI_OK)
        rc = wtext(p, sql_group_delete, "scim_group_delete", scim_id, NULL, 1);
    return rc;
}

int balai__sqlite_scim_member_set(void *p, const char *group_id, const char *user_id, int member)
{
    if (!group_id || (!user_id && member))
        return BALAI_EINVAL;
    if (!user_id)
        return wtext(p, sql_members_clear, "scim_members_clear", group_id, NULL, 0);
    if (member)
        return wtext(p, sql_member_add, "scim_member_add", group_id, user_id, 0);
    return wtext(p, sql_member_remove, "scim_member_remove", group_id, user_id, 0);
}

int balai__sqlite_scim_member_remove_all(void *p, const char *user_id)
{
    if (!user_id)
        return BALAI_EINVAL;
    return wtext(p, sql_member_remove_all, "scim_member_remove_all", user_id, NULL, 0);
}
struct each_ctx {
    void *fn;
    void *arg;
};

static int token_row(sqlite3_stmt *s, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_token_rec *, void *) = c->fn;
    struct balai_scim_token_rec r;

    memset(&r, 0, sizeof(r));
    r.token_id = col_text(s, 0);
    r.name = col_text(s, 1);
    if (sqlite3_column_bytes(s, 2) != 32) {
        LOG_WARN("scim token %s: bad hash length, skipped", r.token_id);
        return 0;
    }
    memcpy(r.hash, sqlite3_column_blob(s, 2), 32);
    r.created_ts = sqlite3_column_int64(s, 3);
    return fn(&r, c->arg);
}

int balai__sqlite_scim_tokens_each(void *p, int (*fn)(const struct balai_scim_token_rec *, void *),
                                   void *arg)
{
    struct each_ctx c = {(void *)fn, arg};
    return balai__sqlite_riterate_sql(p, sql_tokens, "scim_tokens_each", token_row, &c);
}

static int user_row(sqlite3_stmt *s, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_user_rec *, void *) = c->fn;
    struct balai_scim_user_rec r = {
        .user_id = col_text(s, 0),
        .scim_id = col_text(s, 1),
        .user_name = col_text(s, 2),
        .external_id = col_text(s, 3),
        .attrs = col_text(s, 4),
        .created_ts = sqlite3_column_int64(s, 5),
        .modified_ts = sqlite3_column_int64(s, 6),
        .version = sqlite3_column_int64(s, 7),
        .deleted_ts = sqlite3_column_int64(s, 8),
    };
    return fn(&r, c->arg);
}

int balai__sqlite_scim_users_each(void *p, int (*fn)(const struct balai_scim_user_rec *, void *),
                                  void *arg)
{
    struct each_ctx c = {(void *)fn, arg};
    return balai__sqlite_riterate_sql(p, sql_users, "scim_users_each", user_row, &c);
}

static int group_row(sqlite3_stmt *s, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_group_rec *, void *) = c->fn;
    struct balai_scim_group_rec r = {
        .scim_id = col_text(s, 0),
        .display_name = col_text(s, 1),
        .external_id = col_text(s, 2),
        .created_ts = sqlite3_column_int64(s, 3),
        .modified_ts = sqlite3_column_int64(s, 4),
        .version = sqlite3_column_int64(s, 5),
    };
    return fn(&r, c->arg);
}

int balai__sqlite_scim_groups_each(void *p, int (*fn)(const struct balai_scim_group_rec *, void *),
                                   void *arg)
{
    struct each_ctx c = {(void *)fn, arg};
    return balai__sqlite_riterate_sql(p, sql_groups, "scim_groups_each", group_row, &c);
}

static int member_row(sqlite3_stmt *s, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const char *, const char *, void *) = c->fn;
    return fn(col_text(s, 0), col_text(s, 1), c->arg);
}

int balai__sqlite_scim_members_each(void *p, int (*fn)(const char *, const char *, void *),
                                    void *arg)
{
    struct each_ctx c = {(void *)fn, arg};
    return balai__sqlite_riterate_sql(p, sql_members, "scim_members_each", member_row, &c);
}
