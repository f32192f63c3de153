/* sqlite_rules.c: the SQLite backend's functions for membership rules, the
 * rule-owned memberships, offboarding records and reactivation (migration
 * 15: tables membership_rules, rule_memberships, offboardings). These writes
 * and reads are rare (an admin's rule change, a rule-driven join, an
 * offboarding), so the statements are prepared per call. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

static const char sql_rule_set[] =
    "INSERT INTO membership_rules (rule_id, rule, created_ts, updated_ts) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (rule_id) DO UPDATE SET rule = excluded.rule, updated_ts = excluded.updated_ts";
static const char sql_rule_delete[] = "DELETE FROM membership_rules WHERE rule_id = ?1";
static const char sql_rules[] = "SELECT rule_id, rule, created_ts, updated_ts FROM "
                                "membership_rules ORDER BY created_ts, rule_id";
static const char sql_member_set[] =
    "INSERT INTO rule_memberships (user_id, room_id, state, rule_id, ts) VALUES (?1, ?2, ?3, ?4, "
    "?5)"
    " ON CONFLICT (user_id, room_id) DO UPDATE SET state = excluded.state,"
    " rule_id = excluded.rule_id, ts = excluded.ts";
static const char sql_member_delete[] =
    "DELETE FROM rule_memberships WHERE user_id = ?1 AND room_id = ?2";
static const char sql_members[] =
    "SELECT user_id, room_id, state, rule_id, ts FROM rule_memberships ORDER BY user_id, room_id";
static const char sql_offboarding_add[] =
    "INSERT INTO offboardings (user_id, ts, record, current) VALUES (?1, ?2, ?3, 1)";
static const char sql_offboarding_close[] =
    "UPDATE offboardings SET current = 0 WHERE user_id = ?1 AND current = 1";
static const char sql_offboardings[] =
    "SELECT id, user_id, ts, record, current FROM offboardings ORDER BY id";
static const char sql_user_reactivate[] = "UPDATE users SET deactivated = 0 WHERE user_id = ?1";

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
            db->w, src == SQLITE_ERROR ? sqlite3_extended_errcode(db->w) : src, what);
        goto out;
    }
    if (changes)
        *changes = sqlite3_changes(db->w);
out:
    sqlite3_finalize(s);
    return rc;
}

int balai__sqlite_rule_set(void *p, const char *rule_id, const char *rule, int64_t created_ts,
                           int64_t updated_ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc;

    if (!rule_id || !rule)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_rule_set, "rule_set", &s);
    if (rc != BALAI_OK)
        return rc;
    return wstep(db, s,
                 bind_text(s, 1, rule_id) | bind_text(s, 2, rule) |
                     sqlite3_bind_int64(s, 3, created_ts) | sqlite3_bind_int64(s, 4, updated_ts),
                 "rule_set", NULL);
}

/* Runs a one-text-parameter write; BALAI_ENOTFOUND when it changed nothing. */
static int write_one(struct sqlite_db *db, const char *sql, const char *what, const char *v)
{
    sqlite3_stmt *s;
    int rc, changes = 0;

    if (!v)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql, what, &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s, bind_text(s, 1, v), what, &changes);
    if (rc == BALAI_OK && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__sqlite_rule_delete(void *p, const char *rule_id)
{
    return write_one(p, sql_rule_delete, "rule_delete", rule_id);
}

struct rules_ctx {
    int (*fn)(const char *, const char *, int64_t, int64_t, void *);
    void *arg;
};

static int rule_row(sqlite3_stmt *s, void *p)
{
    struct rules_ctx *c = p;
    return c->fn(col_text(s, 0), col_text(s, 1), sqlite3_column_int64(s, 2),
                 sqlite3_column_int64(s, 3), c->arg);
}

int balai__sqlite_rules_each(void *p,
                             int (*fn)(const char *, const char *, int64_t, int64_t, void *),
                             void *arg)
{
    struct rules_ctx c = {fn, arg};
    return balai__sqlite_riterate_sql(p, sql_rules, "rules_each", rule_row, &c);
}

int balai__sqlite_rule_member_set(void *p, const char *user_id, const char *room_id,
                                  const char *state, const char *rule_id, int64_t ts)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc;

    if (!user_id || !room_id)
        return BALAI_EINVAL;
    if (!state) {
        rc = balai__sqlite_prepare_sql(db->w, sql_member_delete, "rule_member_delete", &s);
        if (rc != BALAI_OK)
            return rc;
        return wstep(db, s, bind_text(s, 1, user_id) | bind_text(s, 2, room_id),
                     "rule_member_delete", NULL);
    }
    rc = balai__sqlite_prepare_sql(db->w, sql_member_set, "rule_member_set", &s);
    if (rc != BALAI_OK)
        return rc;
    return wstep(db, s,
                 bind_text(s, 1, user_id) | bind_text(s, 2, room_id) | bind_text(s, 3, state) |
                     bind_text(s, 4, rule_id) | sqlite3_bind_int64(s, 5, ts),
                 "rule_member_set", NULL);
}

struct members_ctx {
    int (*fn)(const char *, const char *, const char *, const char *, int64_t, void *);
    void *arg;
};

static int member_row(sqlite3_stmt *s, void *p)
{
    struct members_ctx *c = p;
    return c->fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3),
                 sqlite3_column_int64(s, 4), c->arg);
}

int balai__sqlite_rule_members_each(void *p,
                                    int (*fn)(const char *, const char *, const char *,
                                              const char *, int64_t, void *),
                                    void *arg)
{
    struct members_ctx c = {fn, arg};
    return balai__sqlite_riterate_sql(p, sql_members, "rule_members_each", member_row, &c);
}

int balai__sqlite_offboarding_add(void *p, const char *user_id, int64_t ts, const char *record)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc;

    if (!user_id || !record)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_offboarding_add, "offboarding_add", &s);
    if (rc != BALAI_OK)
        return rc;
    return wstep(db, s,
                 bind_text(s, 1, user_id) | sqlite3_bind_int64(s, 2, ts) | bind_text(s, 3, record),
                 "offboarding_add", NULL);
}

int balai__sqlite_offboarding_close(void *p, const char *user_id)
{
    int rc = write_one(p, sql_offboarding_close, "offboarding_close", user_id);
    return rc == BALAI_ENOTFOUND ? BALAI_OK : rc;
}

struct offb_ctx {
    int (*fn)(int64_t, const char *, int64_t, const char *, int, void *);
    void *arg;
};

static int offb_row(sqlite3_stmt *s, void *p)
{
    struct offb_ctx *c = p;
    return c->fn(sqlite3_column_int64(s, 0), col_text(s, 1), sqlite3_column_int64(s, 2),
                 col_text(s, 3), sqlite3_column_int(s, 4), c->arg);
}

int balai__sqlite_offboardings_each(
    void *p, int (*fn)(int64_t, const char *, int64_t, const char *, int, void *), void *arg)
{
    struct offb_ctx c = {fn, arg};
    return balai__sqlite_riterate_sql(p, sql_offboardings, "offboardings_each", offb_row, &c);
}

int balai__sqlite_user_reactivate(void *p, const char *user_id)
{
    return write_one(p, sql_user_reactivate, "user_reactivate", user_id);
}
