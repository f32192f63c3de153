/* sqlite_directory_org.c: the SQLite backend's functions for the
 * organisation directory, tables org_people and org_units (migration 10;
 * see sqlite.c for the design). Not to be confused with sqlite_directory.c,
 * the public ROOM directory. Directory writes are rare (an admin edit, an
 * import), so the statements are prepared per call instead of living in
 * the statement tables of sqlite.c. */
#define LOG_MODULE "sqlite"
#include "balai.h"

#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"
#include "util/log.h"

static const char sql_person_set[] =
    "INSERT INTO org_people (user_id, role, employee_number, display_name, unit_id, title,"
    " manager, site, status, working_hours, email, guest, sponsor, guest_expires_ts, updated_ts)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    " ON CONFLICT (user_id) DO UPDATE SET role = excluded.role,"
    " employee_number = excluded.employee_number, display_name = excluded.display_name,"
    " unit_id = excluded.unit_id, title = excluded.title, manager = excluded.manager,"
    " site = excluded.site, status = excluded.status, working_hours = excluded.working_hours,"
    " email = excluded.email, guest = excluded.guest, sponsor = excluded.sponsor,"
    " guest_expires_ts = excluded.guest_expires_ts, updated_ts = excluded.updated_ts";

static const char sql_unit_set[] =
    "INSERT INTO org_units (unit_id, name, parent_id, admins, created_ts)"
    " VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (unit_id) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id,"
    " admins = excluded.admins";

static const char sql_unit_delete[] = "DELETE FROM org_units WHERE unit_id = ?1";

static const char sql_people[] =
    "SELECT user_id, role, employee_number, display_name, unit_id, title, manager, site, status,"
    " working_hours, email, guest, sponsor, guest_expires_ts, updated_ts"
    " FROM org_people ORDER BY user_id";

static const char sql_units[] =
    "SELECT unit_id, name, parent_id, admins, created_ts FROM org_units ORDER BY unit_id";
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

int balai__sqlite_org_person_set(void *p, const struct balai_org_person_rec *r)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int b, rc;

    if (!r || !r->user_id || !r->role || !r->status)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_person_set, "org_person_set", &s);
    if (rc != BALAI_OK)
        return rc;
    b = bind_text(s, 1, r->user_id) | bind_text(s, 2, r->role) |
        bind_text(s, 3, r->employee_number) | bind_text(s, 4, r->display_name) |
        bind_text(s, 5, r->unit_id) | bind_text(s, 6, r->title) | bind_text(s, 7, r->manager) |
        bind_text(s, 8, r->site) | bind_text(s, 9, r->status) | bind_text(s, 10, r->working_hours) |
        bind_text(s, 11, r->email) | sqlite3_bind_int(s, 12, r->guest ? 1 : 0) |
        bind_text(s, 13, r->sponsor) | sqlite3_bind_int64(s, 14, r->guest_expires_ts) |
        sqlite3_bind_int64(s, 15, r->updated_ts);
    return wstep(db, s, b, "org_person_set", NULL);
}

int balai__sqlite_org_unit_set(void *p, const struct balai_org_unit_rec *u)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int b, rc;

    if (!u || !u->unit_id || !u->name || !u->admins)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_unit_set, "org_unit_set", &s);
    if (rc != BALAI_OK)
        return rc;
    b = bind_text(s, 1, u->unit_id) | bind_text(s, 2, u->name) | bind_text(s, 3, u->parent_id) |
        bind_text(s, 4, u->admins) | sqlite3_bind_int64(s, 5, u->created_ts);
    return wstep(db, s, b, "org_unit_set", NULL);
}

int balai__sqlite_org_unit_delete(void *p, const char *unit_id)
{
    struct sqlite_db *db = p;
    sqlite3_stmt *s;
    int rc, changes = 0;

    if (!unit_id)
        return BALAI_EINVAL;
    rc = balai__sqlite_prepare_sql(db->w, sql_unit_delete, "org_unit_delete", &s);
    if (rc != BALAI_OK)
        return rc;
    rc = wstep(db, s, bind_text(s, 1, unit_id), "org_unit_delete", &changes);
    if (rc == BALAI_OK && changes == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}
struct people_ctx {
    int (*fn)(const struct balai_org_person_rec *, void *);
    void *arg;
};

static int person_row(sqlite3_stmt *s, void *p)
{
    struct people_ctx *c = p;
    struct balai_org_person_rec r = {
        .user_id = col_text(s, 0),
        .role = col_text(s, 1),
        .employee_number = col_text(s, 2),
        .display_name = col_text(s, 3),
        .unit_id = col_text(s, 4),
        .title = col_text(s, 5),
        .manager = col_text(s, 6),
        .site = col_text(s, 7),
        .status = col_text(s, 8),
        .working_hours = col_text(s, 9),
        .email = col_text(s, 10),
        .guest = sqlite3_column_int(s, 11),
        .sponsor = col_text(s, 12),
        .guest_expires_ts = sqlite3_column_int64(s, 13),
        .updated_ts = sqlite3_column_int64(s, 14),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_org_people_each(void *p, int (*fn)(const struct balai_org_person_rec *, void *),
                                  void *arg)
{
    struct people_ctx c = {fn, arg};

    return balai__sqlite_riterate_sql(p, sql_people, "org_people_each", person_row, &c);
}

struct units_ctx {
    int (*fn)(const struct balai_org_unit_rec *, void *);
    void *arg;
};

static int unit_row(sqlite3_stmt *s, void *p)
{
    struct units_ctx *c = p;
    struct balai_org_unit_rec r = {
        .unit_id = col_text(s, 0),
        .name = col_text(s, 1),
        .parent_id = col_text(s, 2),
        .admins = col_text(s, 3),
        .created_ts = sqlite3_column_int64(s, 4),
    };

    return c->fn(&r, c->arg);
}

int balai__sqlite_org_units_each(void *p, int (*fn)(const struct balai_org_unit_rec *, void *),
                                 void *arg)
{
    struct units_ctx c = {fn, arg};

    return balai__sqlite_riterate_sql(p, sql_units, "org_units_each", unit_row, &c);
}
