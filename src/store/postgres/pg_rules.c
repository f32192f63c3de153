/* pg_rules.c: the PostgreSQL backend's functions for membership rules, the
 * rule-owned memberships and offboarding records: membership_rules,
 * rule_memberships and offboardings (see pg.c for the design, and
 * sqlite_rules.c for the reference behaviour). */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/log.h"

PG_STMT(
    s_rule_set, "rule_set",
    "INSERT INTO membership_rules (rule_id, rule, created_ts, updated_ts)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (rule_id) DO UPDATE SET rule = excluded.rule, updated_ts = excluded.updated_ts");
PG_STMT(s_rule_delete, "rule_delete", "DELETE FROM membership_rules WHERE rule_id = $1");
PG_STMT(s_rules, "rules_each",
        "SELECT rule_id, rule, created_ts, updated_ts FROM membership_rules"
        " ORDER BY created_ts, rule_id");
PG_STMT(s_member_set, "rule_member_set",
        "INSERT INTO rule_memberships (user_id, room_id, state, rule_id, ts)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id) DO UPDATE SET"
        " state = excluded.state, rule_id = excluded.rule_id, ts = excluded.ts");
PG_STMT(s_member_delete, "rule_member_delete",
        "DELETE FROM rule_memberships WHERE user_id = $1 AND room_id = $2");
PG_STMT(s_members, "rule_members_each",
        "SELECT user_id, room_id, state, rule_id, ts FROM rule_memberships"
        " ORDER BY user_id, room_id");
PG_STMT(s_offboarding_add, "offboarding_add",
        "INSERT INTO offboardings (user_id, ts, record, current) VALUES ($1, $2, $3, 1)");
PG_STMT(s_offboarding_close, "offboarding_close",
        "UPDATE offboardings SET current = 0 WHERE user_id = $1 AND current = 1");
PG_STMT(s_offboardings, "offboardings_each",
        "SELECT id, user_id, ts, record, current FROM offboardings ORDER BY id");

int balai__pg_rule_set(void *db, const char *rule_id, const char *rule, int64_t created_ts,
                       int64_t updated_ts)
{
    struct pg_args a = {0};

    if (!rule_id || !rule)
        return BALAI_EINVAL;
    pa_text(&a, rule_id);
    pa_text(&a, rule);
    pa_int(&a, created_ts);
    pa_int(&a, updated_ts);
    return balai__pg_wexec(db, &s_rule_set, &a, NULL, NULL);
}

int balai__pg_rule_delete(void *db, const char *rule_id)
{
    struct pg_args a = {0};

    if (!rule_id)
        return BALAI_EINVAL;
    pa_text(&a, rule_id);
    return balai__pg_wexec_one(db, &s_rule_delete, &a);
}

struct rules_ctx {
    int (*fn)(const char *, const char *, int64_t, int64_t, void *);
    void *arg;
};

static int rule_row(const PGresult *r, int i, void *p)
{
    struct rules_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), pc_int(r, i, 2), pc_int(r, i, 3), c->arg);
}

int balai__pg_rules_each(void *db, int (*fn)(const char *, const char *, int64_t, int64_t, void *),
                         void *arg)
{
    struct rules_ctx c = {fn, arg};

    return balai__pg_each(db, &s_rules, NULL, rule_row, &c);
}

int balai__pg_rule_member_set(void *db, const char *user_id, const char *room_id, const char *state,
                              const char *rule_id, int64_t ts)
{
    struct pg_args a = {0};

    if (!user_id || !room_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_text(&a, room_id);
    if (!state)
        return balai__pg_wexec(db, &s_member_delete, &a, NULL, NULL);
    pa_text(&a, state);
    pa_text(&a, rule_id);
    pa_int(&a, ts);
    return balai__pg_wexec(db, &s_member_set, &a, NULL, NULL);
}

struct members_ctx {
    int (*fn)(const char *, const char *, const char *, const char *, int64_t, void *);
    void *arg;
};

static int member_row(const PGresult *r, int i, void *p)
{
    struct members_ctx *c = p;

    return c->fn(pc_text(r, i, 0), pc_text(r, i, 1), pc_text(r, i, 2), pc_text(r, i, 3),
                 pc_int(r, i, 4), c->arg);
}

int balai__pg_rule_members_each(void *db,
                                int (*fn)(const char *, const char *, const char *, const char *,
                                          int64_t, void *),
                                void *arg)
{
    struct members_ctx c = {fn, arg};

    return balai__pg_each(db, &s_members, NULL, member_row, &c);
}

int balai__pg_offboarding_add(void *db, const char *user_id, int64_t ts, const char *record)
{
    struct pg_args a = {0};

    if (!user_id || !record)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    pa_int(&a, ts);
    pa_text(&a, record);
    return balai__pg_wexec(db, &s_offboarding_add, &a, NULL, NULL);
}

int balai__pg_offboarding_close(void *db, const char *user_id)
{
    struct pg_args a = {0};

    if (!user_id)
        return BALAI_EINVAL;
    pa_text(&a, user_id);
    return balai__pg_wexec(db, &s_offboarding_close, &a, NULL, NULL);
}

struct offb_ctx {
    int (*fn)(int64_t, const char *, int64_t, const char *, int, void *);
    void *arg;
};

static int offb_row(const PGresult *r, int i, void *p)
{
    struct offb_ctx *c = p;

    return c->fn(pc_int(r, i, 0), pc_text(r, i, 1), pc_int(r, i, 2), pc_text(r, i, 3),
                 (int)pc_int(r, i, 4), c->arg);
}

int balai__pg_offboardings_each(
    void *db, int (*fn)(int64_t, const char *, int64_t, const char *, int, void *), void *arg)
{
    struct offb_ctx c = {fn, arg};

    return balai__pg_each(db, &s_offboardings, NULL, offb_row, &c);
}
