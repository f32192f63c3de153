/* pg_scim.c: the PostgreSQL backend's functions for SCIM provisioning:
 * scim_tokens, scim_users, scim_groups and scim_group_members (see pg.c for
 * the design, and sqlite_scim.c for the reference behaviour). */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

PG_STMT(s_token_add, "scim_token_add",
        "INSERT INTO scim_tokens (token_id, name, hash, created_ts) VALUES ($1, $2, $3, $4)");
PG_STMT(s_token_delete, "scim_token_delete", "DELETE FROM scim_tokens WHERE token_id = $1");
PG_STMT(s_user_set, "scim_user_set",
        "INSERT INTO scim_users (user_id, scim_id, user_name, user_name_lc, external_id, attrs,"
        " created_ts, modified_ts, version, deleted_ts)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (user_id) DO UPDATE SET scim_id = excluded.scim_id,"
        " user_name = excluded.user_name, user_name_lc = excluded.user_name_lc,"
        " external_id = excluded.external_id, attrs = excluded.attrs,"
        " created_ts = excluded.created_ts, modified_ts = excluded.modified_ts,"
        " version = excluded.version, deleted_ts = excluded.deleted_ts");
PG_STMT(s_group_set, "scim_group_set",
        "INSERT INTO scim_groups (scim_id, display_name, external_id, created_ts, modified_ts,"
        " version) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (scim_id) DO UPDATE SET display_name = excluded.display_name,"
        " external_id = excluded.external_id, modified_ts = excluded.modified_ts,"
        " version = excluded.version");
/* The members go by ON DELETE CASCADE. */
PG_STMT(s_group_delete, "scim_group_delete", "DELETE FROM scim_groups WHERE scim_id = $1");
PG_STMT(s_member_add, "scim_member_add",
        "INSERT INTO scim_group_members (group_id, user_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING");
PG_STMT(s_member_remove, "scim_member_remove",
        "DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2");
PG_STMT(s_members_clear, "scim_members_clear",
        "DELETE FROM scim_group_members WHERE group_id = $1");
PG_STMT(s_member_remove_all, "scim_member_remove_all",
        "DELETE FROM scim_group_members WHERE user_id = $1");
PG_STMT(s_tokens, "scim_tokens_each",
        "SELECT token_id, name, hash, created_ts FROM scim_tokens ORDER BY token_id");
PG_STMT(s_users, "scim_users_each",
        "SELECT user_id, scim_id, user_name, external_id, attrs, created_ts, modified_ts, version,"
        " deleted_ts FROM scim_users ORDER BY user_id");
PG_STMT(s_groups, "scim_groups_each",
        "SELECT scim_id, display_name, external_id, created_ts, modified_ts, version"
        " FROM scim_groups ORDER BY scim_id");
PG_STMT(s_members, "scim_members_each",
        "SELECT group_id, user_id FROM scim_group_members ORDER BY group_id, user_id");

/* Runs a statement with one or two text parameters (b NULL: one). */
static int wtext(void *db, struct pg_stmt *s, const char *a1, const char *b, int must_change)
{
    struct pg_args a = {0};

    pa_text(&a, a1);
    if (b)
        pa_text(&a, b);
    return must_change ? balai__pg_wexec_one(db, s, &a) : balai__pg_wexec(db, s, &a, NULL, NULL);
}

int balai__pg_scim_token_add(void *db, const struct balai_scim_token_rec *r)
{
    struct pg_args a = {0};

    if (!r || !r->token_id || !r->name)
        return BALAI_EINVAL;
    pa_text(&a, r->token_id);
    pa_text(&a, r->name);
    pa_bytea(&a, r->hash, 32);
    pa_int(&a, r->created_ts);
    return balai__pg_wexec(db, &s_token_add, &a, NULL, NULL);
}

int balai__pg_scim_token_delete(void *db, const char *token_id)
{
    if (!token_id)
        return BALAI_EINVAL;
    return wtext(db, &s_token_delete, token_id, NULL, 1);
}

int balai__pg_scim_user_set(void *db, const struct balai_scim_user_rec *r)
{
    struct pg_args a = {0};
    char *lc;
    int rc;

    if (!r || !r->user_id || !r->scim_id || !r->user_name || !r->attrs)
        return BALAI_EINVAL;
    lc = balai_strdup(r->user_name);
    for (char *c = lc; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    pa_text(&a, r->user_id);
    pa_text(&a, r->scim_id);
    pa_text(&a, r->user_name);
    pa_text(&a, lc);
    pa_text(&a, r->external_id);
    pa_text(&a, r->attrs);
    pa_int(&a, r->created_ts);
    pa_int(&a, r->modified_ts);
    pa_int(&a, r->version);
    pa_int(&a, r->deleted_ts);
    rc = balai__pg_wexec(db, &s_user_set, &a, NULL, NULL);
    free(lc);
    return rc;
}

int balai__pg_scim_group_set(void *db, const struct balai_scim_group_rec *r)
{
    struct pg_args a = {0};

    if (!r || !r->scim_id || !r->display_name)
        return BALAI_EINVAL;
    pa_text(&a, r->scim_id);
    pa_text(&a, r->display_name);
    pa_text(&a, r->external_id);
    pa_int(&a, r->created_ts);
    pa_int(&a, r->modified_ts);
    pa_int(&a, r->version);
    return balai__pg_wexec(db, &s_group_set, &a, NULL, NULL);
}

int balai__pg_scim_group_delete(void *db, const char *scim_id)
{
    if (!scim_id)
        return BALAI_EINVAL;
    return wtext(db, &s_group_delete, scim_id, NULL, 1);
}

int balai__pg_scim_member_set(void *db, const char *group_id, const char *user_id, int member)
{
    if (!group_id || (!user_id && member))
        return BALAI_EINVAL;
    if (!user_id)
        return wtext(db, &s_members_clear, group_id, NULL, 0);
    if (member)
        return wtext(db, &s_member_add, group_id, user_id, 0);
    return wtext(db, &s_member_remove, group_id, user_id, 0);
}

int balai__pg_scim_member_remove_all(void *db, const char *user_id)
{
    if (!user_id)
        return BALAI_EINVAL;
    return wtext(db, &s_member_remove_all, user_id, NULL, 0);
}

struct each_ctx {
    void *fn;
    void *arg;
};

static int token_row(const PGresult *r, int i, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_token_rec *, void *) = c->fn;
    struct balai_scim_token_rec t;
    size_t len;
    uint8_t *hash = balai__pg_bytea(r, i, 2, &len);
    int rc = 0;

    memset(&t, 0, sizeof(t));
    t.token_id = pc_text(r, i, 0);
    t.name = pc_text(r, i, 1);
    t.created_ts = pc_int(r, i, 3);
    if (!hash || len != 32) {
        LOG_WARN("scim token %s: bad hash length, skipped", t.token_id);
        goto out;
    }
    memcpy(t.hash, hash, 32);
    rc = fn(&t, c->arg);
out:
    free(hash);
    return rc;
}

int balai__pg_scim_tokens_each(void *db, int (*fn)(const struct balai_scim_token_rec *, void *),
                               void *arg)
{
    struct each_ctx c = {(void *)fn, arg};

    return balai__pg_each(db, &s_tokens, NULL, token_row, &c);
}

static int user_row(const PGresult *r, int i, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_user_rec *, void *) = c->fn;
    struct balai_scim_user_rec u = {
        .user_id = pc_text(r, i, 0),
        .scim_id = pc_text(r, i, 1),
        .user_name = pc_text(r, i, 2),
        .external_id = pc_text(r, i, 3),
        .attrs = pc_text(r, i, 4),
        .created_ts = pc_int(r, i, 5),
        .modified_ts = pc_int(r, i, 6),
        .version = pc_int(r, i, 7),
        .deleted_ts = pc_int(r, i, 8),
    };

    return fn(&u, c->arg);
}

int balai__pg_scim_users_each(void *db, int (*fn)(const struct balai_scim_user_rec *, void *),
                              void *arg)
{
    struct each_ctx c = {(void *)fn, arg};

    return balai__pg_each(db, &s_users, NULL, user_row, &c);
}

static int group_row(const PGresult *r, int i, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const struct balai_scim_group_rec *, void *) = c->fn;
    struct balai_scim_group_rec g = {
        .scim_id = pc_text(r, i, 0),
        .display_name = pc_text(r, i, 1),
        .external_id = pc_text(r, i, 2),
        .created_ts = pc_int(r, i, 3),
        .modified_ts = pc_int(r, i, 4),
        .version = pc_int(r, i, 5),
    };

    return fn(&g, c->arg);
}

int balai__pg_scim_groups_each(void *db, int (*fn)(const struct balai_scim_group_rec *, void *),
                               void *arg)
{
    struct each_ctx c = {(void *)fn, arg};

    return balai__pg_each(db, &s_groups, NULL, group_row, &c);
}

static int member_row(const PGresult *r, int i, void *p)
{
    struct each_ctx *c = p;
    int (*fn)(const char *, const char *, void *) = c->fn;

    return fn(pc_text(r, i, 0), pc_text(r, i, 1), c->arg);
}

int balai__pg_scim_members_each(void *db, int (*fn)(const char *, const char *, void *), void *arg)
{
    struct each_ctx c = {(void *)fn, arg};

    return balai__pg_each(db, &s_members, NULL, member_row, &c);
}
