/* directory_import.c: POST /_balai/admin/v1/directory/import — the
 * directory from a CSV file (docs/directory.md "CSV import").
 *
 * The body is the CSV itself (Content-Type text/csv) or a JSON object
 * {"csv": "...", "deactivate_missing": bool}. Query: dry_run=true,
 * deactivate_missing=true. The whole file is PLANNED first, on a copy of
 * the directory: every row is checked (line numbers reported), units named
 * by path are created in the plan, manager cycles are looked for once all
 * rows are in. If any row is bad the answer is 400 with every bad line and
 * nothing changes. A dry run answers the diff (added, changed field by
 * field, deactivated, units created). A real run writes everything as ONE
 * store op, so one savepoint of one transaction: all of it or none of it.
 * New users get no password (they cannot log in until an admin sets one or
 * SSO signs them in). Needs BALAI_GOV_DIRECTORY_EDIT; rows that change roles
 * need the role-granting rights too. */
#include "balai.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/rules.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "admin"
#include "util/log.h"

#define IMPORT_MAX_BODY (16u << 20)
#define MAX_ERRORS 200

enum col {
    C_USERNAME,
    C_DISPLAY_NAME,
    C_EMAIL,
    C_EMPLOYEE_NUMBER,
    C_UNIT,
    C_TITLE,
    C_MANAGER,
    C_SITE,
    C_STATUS,
    C_WORKING_HOURS,
    C_GUEST,
    C_SPONSOR,
    C_EXPIRY,
    C_ROLE,
    C__COUNT
};

static const char *const col_names[C__COUNT] = {
    "username", "display_name", "email",         "employee_number", "unit",    "title",  "manager",
    "site",     "status",       "working_hours", "guest",           "sponsor", "expiry", "role",
};

struct row {
    size_t line;
    char *user_id;
    char *cells[C__COUNT];        /* NULL when the column is absent */
    struct balai_gov_person *old; /* NULL for a new user */
    struct balai_gov_person *p;   /* the planned record */
    int is_new;
    int changed;
};

struct new_unit {
    char *unit_id, *name, *parent_id, *path;
};

struct plan {
    struct balai_app *app;
    enum balai_gov_role actor_role;
    int dry_run, deactivate_missing;
    struct balai_gov_directory *scratch;
    struct balai_map *in_file; /* user_id -> struct row * */
    struct row *rows;
    size_t n_rows, cap_rows;
    struct new_unit *units;
    size_t n_units, cap_units;
    char **deact;
    size_t n_deact, cap_deact;
    json_t *errors;
    int64_t now;
};

static void row_error(struct plan *pl, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void row_error(struct plan *pl, size_t line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    if (json_array_size(pl->errors) >= MAX_ERRORS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(pl->errors,
                          json_pack("{s:I, s:s}", "line", (json_int_t)line, "error", msg));
}

static void plan_release(struct plan *pl)
{
    for (size_t i = 0; i < pl->n_rows; i++) {
        free(pl->rows[i].user_id);
        for (int c = 0; c < C__COUNT; c++)
            free(pl->rows[i].cells[c]);
        balai_gov_person_free(pl->rows[i].old);
        balai_gov_person_free(pl->rows[i].p);
    }
    free(pl->rows);
    for (size_t i = 0; i < pl->n_units; i++) {
        free(pl->units[i].unit_id);
        free(pl->units[i].name);
        free(pl->units[i].parent_id);
        free(pl->units[i].path);
    }
    free(pl->units);
    for (size_t i = 0; i < pl->n_deact; i++)
        free(pl->deact[i]);
    free(pl->deact);
    balai_map_free(pl->in_file);
    balai_gov_directory_free(pl->scratch);
    json_decref(pl->errors);
}

/* Trims ASCII spaces and tabs in place. */
static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* An expiry: ms since the epoch (digits only), or YYYY-MM-DD (00:00 UTC of
 * that day), or YYYY-MM-DDTHH:MM[:SS][Z]. */
static int parse_expiry(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    size_t l = strlen(s);
    int digits = l > 0;

    for (size_t i = 0; i < l; i++)
        digits &= isdigit((unsigned char)s[i]) != 0;
    if (digits && l > 8) {
        if (l > 15)
            return BALAI_EINVAL;
        *out = strtoll(s, NULL, 10);
        return BALAI_OK;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return BALAI_EINVAL;
    if (s[n] == 'T' || s[n] == ' ') {
        int m2 = 0;
        if (sscanf(s + n + 1, "%2d:%2d%n", &h, &mi, &m2) != 2)
            return BALAI_EINVAL;
        n += 1 + m2;
        if (s[n] == ':') {
            int m3 = 0;
            if (sscanf(s + n + 1, "%2d%n", &sec, &m3) != 1)
                return BALAI_EINVAL;
            n += 1 + m3;
        }
        if (s[n] == 'Z')
            n++;
    }
    if (s[n] != '\0' || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60)
        return BALAI_EINVAL;
    *out =
        (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) * 1000;
    return BALAI_OK;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "y", "1"};
    static const char *const no[] = {"false", "no", "n", "0", ""};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return BALAI_OK;
        }
    }
    for (size_t i = 0; i < BALAI_ARRAY_LEN(no); i++) {
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return BALAI_OK;
        }
    }
    return BALAI_EINVAL;
}

static int text_ok(const char *v, size_t max)
{
    if (strlen(v) > max)
        return 0;
    for (const char *c = v; *c; c++) {
        if ((unsigned char)*c < 0x20)
            return 0;
    }
    return 1;
}

/* A unit cell: an existing unit id, else a path of names; missing units of
 * the path are created in the plan. Sets *out (borrowed from the scratch
 * directory) or reports the row. */
static int resolve_unit(struct plan *pl, size_t line, const char *v, const char **out)
{
    const struct balai_gov_unit *u = balai_gov_unit_get(pl->scratch, v);
    const char *parent = NULL;
    char *copy, *seg, *save = NULL;
    int rc = BALAI_OK;

    if (!u)
        u = balai_gov_unit_by_path(pl->scratch, v);
    if (u) {
        *out = u->unit_id;
        return BALAI_OK;
    }
    copy = balai_strdup(v);
    for (seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        seg = trim(seg);
        if (!*seg)
            continue;
        if (!text_ok(seg, 256)) {
            row_error(pl, line, "unit: a unit name is too long or has control characters");
            rc = BALAI_EINVAL;
            break;
        }
        const struct balai_gov_unit *child = NULL;
        {
            /* look for the child by name under parent */
            char *path_so_far = parent ? balai_gov_unit_path(pl->scratch, parent) : NULL;
            char *p2 = path_so_far ? balai_asprintf("%s/%s", path_so_far, seg) : balai_strdup(seg);
            child = balai_gov_unit_by_path(pl->scratch, p2);
            free(path_so_far);
            free(p2);
        }
        if (!child) {
            struct balai_gov_unit nu;
            char *id = balai_gov_unit_new_id(pl->scratch, parent, seg);
            memset(&nu, 0, sizeof(nu));
            nu.unit_id = id;
            nu.name = seg;
            nu.parent_id = parent;
            nu.created_ts = pl->now;
            if (balai_gov_unit_put(pl->scratch, &nu) != BALAI_OK) {
                free(id);
                row_error(pl, line, "unit: cannot create '%s'", seg);
                rc = BALAI_EINVAL;
                break;
            }
            if (pl->n_units == pl->cap_units) {
                pl->cap_units = pl->cap_units ? pl->cap_units * 2 : 8;
                pl->units = balai_realloc(pl->units, pl->cap_units * sizeof(*pl->units));
            }
            struct new_unit *n = &pl->units[pl->n_units++];
            n->unit_id = id;
            n->name = balai_strdup(seg);
            n->parent_id = parent ? balai_strdup(parent) : NULL;
            n->path = balai_gov_unit_path(pl->scratch, id);
            child = balai_gov_unit_get(pl->scratch, id);
        }
        parent = child->unit_id;
    }
    free(copy);
    if (rc == BALAI_OK && !parent) {
        row_error(pl, line, "unit: '%s' names no unit", v);
        rc = BALAI_EINVAL;
    }
    if (rc == BALAI_OK)
        *out = parent;
    return rc;
}

/* A user cell (manager, sponsor): a name or id of an existing user or of a
 * row of the file. Returns a new id (caller frees) or NULL (reported). */
static char *resolve_user(struct plan *pl, size_t line, const char *col, const char *v)
{
    char *uid = NULL;
    struct balai_user *u;

    if (balai_id_user_normalise(v, pl->app->server_name, &uid) != BALAI_OK) {
        row_error(pl, line, "%s: '%s' is not a user name", col, v);
        return NULL;
    }
    u = balai_accounts_user(pl->app->accounts, uid);
    if ((!u || u->system) && !balai_map_get_str(pl->in_file, uid)) {
        row_error(pl, line, "%s: unknown user %s", col, uid);
        free(uid);
        return NULL;
    }
    return uid;
}

/* The record's field a plain text column sets. */
static const char **text_field(struct balai_gov_person *p, enum col c)
{
    switch (c) {
    case C_DISPLAY_NAME:
        return &p->display_name;
    case C_EMPLOYEE_NUMBER:
        return &p->employee_number;
    case C_TITLE:
        return &p->title;
    case C_SITE:
        return &p->site;
    case C_WORKING_HOURS:
        return &p->working_hours;
    case C_EMAIL:
        return &p->email;
    default:
        return NULL;
    }
}

/* Builds the planned record of one row (pass 2). */
static void plan_row(struct plan *pl, struct row *r)
{
    struct balai_gov_person *p = r->p;
    const char *v;
    int bad = (int)json_array_size(pl->errors);

    static const struct {
        enum col c;
        size_t max;
    } texts[] = {
        {C_DISPLAY_NAME, 256}, {C_EMPLOYEE_NUMBER, 64}, {C_TITLE, 256},
        {C_SITE, 256},         {C_WORKING_HOURS, 100},  {C_EMAIL, 254},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(texts); i++) {
        v = r->cells[texts[i].c];
        if (!v)
            continue;
        if (!text_ok(v, texts[i].max)) {
            row_error(pl, r->line, "%s: longer than %zu bytes or has control characters",
                      col_names[texts[i].c], texts[i].max);
            continue;
        }
        if (texts[i].c == C_EMAIL && *v && (!strchr(v, '@') || strchr(v, ' ') || *v == '@')) {
            row_error(pl, r->line, "email: '%s' is not an e-mail address", v);
            continue;
        }
        balai_gov_person_set(text_field(p, texts[i].c), *v ? v : NULL);
    }
    if ((v = r->cells[C_UNIT])) {
        const char *uid = NULL;
        if (!*v)
            balai_gov_person_set(&p->unit_id, NULL);
        else if (resolve_unit(pl, r->line, v, &uid) == BALAI_OK)
            balai_gov_person_set(&p->unit_id, uid);
    }
    if ((v = r->cells[C_MANAGER])) {
        char *m = *v ? resolve_user(pl, r->line, "manager", v) : NULL;
        if (!*v || m)
            balai_gov_person_set(&p->manager, m);
        if (m && strcmp(m, r->user_id) == 0)
            row_error(pl, r->line, "manager: a person cannot be their own manager");
        free(m);
    }
    if ((v = r->cells[C_SPONSOR])) {
        char *m = *v ? resolve_user(pl, r->line, "sponsor", v) : NULL;
        if (!*v || m)
            balai_gov_person_set(&p->sponsor, m);
        free(m);
    }
    if ((v = r->cells[C_STATUS])) {
        if (!*v)
            p->status = BALAI_STATUS_ACTIVE;
        else if (balai_gov_status_parse(v, &p->status) != BALAI_OK)
            row_error(pl, r->line, "status: '%s' is not active, leave or terminated", v);
    }
    if ((v = r->cells[C_EXPIRY])) {
        if (!*v)
            p->guest_expires_ts = 0;
        else if (parse_expiry(v, &p->guest_expires_ts) != BALAI_OK)
            row_error(pl, r->line, "expiry: '%s' is not a date (YYYY-MM-DD) or a time in ms", v);
    }
    if ((v = r->cells[C_GUEST])) {
        if (parse_bool(v, &p->guest) != BALAI_OK)
            row_error(pl, r->line, "guest: '%s' is not true or false", v);
    }
    if ((v = r->cells[C_ROLE]) && *v) {
        enum balai_gov_role role;
        if (balai_gov_role_parse(v, &role) != BALAI_OK) {
            row_error(pl, r->line,
                      "role: unknown role '%s' (owner, admin, hr, compliance, moderator, member)",
                      v);
        } else if (role == BALAI_ROLE_GUEST) {
            if (!p->guest)
                row_error(pl, r->line, "role: guests are made with the guest column");
        } else if (role != p->role) {
            int privileged = role == BALAI_ROLE_OWNER || role == BALAI_ROLE_ADMIN ||
                             p->role == BALAI_ROLE_OWNER || p->role == BALAI_ROLE_ADMIN;
            if (!balai_gov_role_may(pl->actor_role, BALAI_GOV_ROLE_GRANT) ||
                (privileged && !balai_gov_role_may(pl->actor_role, BALAI_GOV_ROLE_GRANT_OWNER)))
                row_error(pl, r->line, "role: your role (%s) may not make %s %s",
                          balai_gov_role_name(pl->actor_role), r->user_id,
                          balai_gov_role_name(role));
            else
                p->role = role;
        }
    }
    /* the guest rules */
    if (p->guest) {
        if (!p->sponsor || p->guest_expires_ts <= 0)
            row_error(pl, r->line, "a guest needs a sponsor and an expiry");
        else if (strcmp(p->sponsor, r->user_id) == 0)
            row_error(pl, r->line, "sponsor: a guest cannot sponsor themselves");
        if (p->role == BALAI_ROLE_OWNER || p->role == BALAI_ROLE_ADMIN)
            row_error(pl, r->line, "an %s cannot be a guest", balai_gov_role_name(p->role));
        p->role = BALAI_ROLE_GUEST;
    } else {
        if (p->role == BALAI_ROLE_GUEST)
            p->role = BALAI_ROLE_MEMBER;
        if ((int)json_array_size(pl->errors) == bad) {
            if ((r->cells[C_SPONSOR] && *r->cells[C_SPONSOR]) ||
                (r->cells[C_EXPIRY] && *r->cells[C_EXPIRY]))
                row_error(pl, r->line, "sponsor and expiry are for guests only");
        }
        balai_gov_person_set(&p->sponsor, NULL);
        p->guest_expires_ts = 0;
    }
    if ((int)json_array_size(pl->errors) != bad)
        return;
    p->updated_ts = pl->now;
    int rc = balai_gov_directory_put(pl->scratch, p);
    if (rc == BALAI_EEXIST) {
        const struct balai_gov_person *o =
            balai_gov_directory_by_employee_number(pl->scratch, p->employee_number);
        row_error(pl, r->line, "employee_number: %s also belongs to %s", p->employee_number,
                  o ? o->user_id : "someone else");
    }
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Field-by-field differences between old and new (old NULL: every set
 * field of new). Returns a new object, empty when nothing differs. */
static json_t *diff(const struct balai_gov_person *o, const struct balai_gov_person *n)
{
    json_t *d = json_object();
    struct {
        const char *name;
        const char *a, *b;
    } t[] = {
        {"display_name", o ? o->display_name : NULL, n->display_name},
        {"email", o ? o->email : NULL, n->email},
        {"employee_number", o ? o->employee_number : NULL, n->employee_number},
        {"unit", o ? o->unit_id : NULL, n->unit_id},
        {"title", o ? o->title : NULL, n->title},
        {"manager", o ? o->manager : NULL, n->manager},
        {"site", o ? o->site : NULL, n->site},
        {"working_hours", o ? o->working_hours : NULL, n->working_hours},
        {"sponsor", o ? o->sponsor : NULL, n->sponsor},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(t); i++) {
        if (!str_eq(t[i].a, t[i].b))
            json_object_set_new(
                d, t[i].name,
                o ? json_pack("{s:o, s:o}", "old", jstr(t[i].a), "new", jstr(t[i].b))
                  : jstr(t[i].b));
    }
    if (o ? o->status != n->status : n->status != BALAI_STATUS_ACTIVE)
        json_object_set_new(d, "status",
                            o ? json_pack("{s:s, s:s}", "old", balai_gov_status_name(o->status),
                                          "new", balai_gov_status_name(n->status))
                              : json_string(balai_gov_status_name(n->status)));
    if (o ? o->role != n->role : n->role != BALAI_ROLE_MEMBER)
        json_object_set_new(d, "role",
                            o ? json_pack("{s:s, s:s}", "old", balai_gov_role_name(o->role), "new",
                                          balai_gov_role_name(n->role))
                              : json_string(balai_gov_role_name(n->role)));
    if (o ? o->guest != n->guest : n->guest)
        json_object_set_new(d, "guest",
                            o ? json_pack("{s:b, s:b}", "old", o->guest, "new", n->guest)
                              : json_boolean(n->guest));
    if (o ? o->guest_expires_ts != n->guest_expires_ts : n->guest_expires_ts != 0)
        json_object_set_new(d, "expiry",
                            o ? json_pack("{s:I, s:I}", "old", (json_int_t)o->guest_expires_ts,
                                          "new", (json_int_t)n->guest_expires_ts)
                              : json_integer(n->guest_expires_ts));
    return d;
}

struct missing_ctx {
    struct plan *pl;
    const char *actor;
};

static int find_missing(struct balai_user *u, void *arg)
{
    struct missing_ctx *m = arg;
    struct plan *pl = m->pl;

    if (u->system || u->deactivated || balai_map_get_str(pl->in_file, u->user_id))
        return 0;
    if (balai_api_role(pl->app, u->user_id) == BALAI_ROLE_OWNER)
        return 0; /* owners are never deactivated by an import */
    if (m->actor && strcmp(m->actor, u->user_id) == 0)
        return 0;
    const struct balai_gov_person *p = balai_gov_directory_get(pl->app->directory->dir, u->user_id);
    if (p && p->status == BALAI_STATUS_TERMINATED)
        return 0;
    if (pl->n_deact == pl->cap_deact) {
        pl->cap_deact = pl->cap_deact ? pl->cap_deact * 2 : 16;
        pl->deact = balai_realloc(pl->deact, pl->cap_deact * sizeof(*pl->deact));
    }
    pl->deact[pl->n_deact++] = balai_strdup(u->user_id);
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the CSV into rows (pass 1): header, user names, duplicates.
 * Returns 0 when the header is usable (rows may still be bad). */
static int read_csv(struct plan *pl, const char *data, size_t len)
{
    struct balai_csv r;
    char **f, err[200];
    size_t n, line;
    int cols[BALAI_CSV_MAX_FIELDS];
    int rc, have_header = 0;

    balai_csv_init(&r, data, len);
    while ((rc = balai_csv_next(&r, &f, &n, &line, err, sizeof(err))) == 1) {
        if (!have_header) {
            int seen[C__COUNT] = {0};
            have_header = 1;
            for (size_t i = 0; i < n; i++) {
                char *name = trim(f[i]);
                cols[i] = -1;
                for (int c = 0; c < C__COUNT; c++) {
                    if (strcasecmp(name, col_names[c]) == 0)
                        cols[i] = c;
                }
                if (cols[i] < 0)
                    row_error(pl, line, "unknown column '%s'", name);
                else if (seen[cols[i]]++)
                    row_error(pl, line, "column '%s' appears twice", name);
            }
            if (!seen[C_USERNAME])
                row_error(pl, line, "the header has no 'username' column");
            if (json_array_size(pl->errors)) {
                balai_csv_release(&r);
                return BALAI_EINVAL;
            }
            continue;
        }
        if (n == 1 && !*trim(f[0]))
            continue; /* a line of spaces */
        struct row row;
        memset(&row, 0, sizeof(row));
        row.line = line;
        for (size_t i = 0; i < n; i++) {
            if (i >= BALAI_CSV_MAX_FIELDS || cols[i] < 0)
                break;
            row.cells[cols[i]] = balai_strdup(trim(f[i]));
        }
        const char *uname = row.cells[C_USERNAME];
        if (!uname || !*uname) {
            row_error(pl, line, "username is empty");
        } else if (balai_id_user_normalise(uname, pl->app->server_name, &row.user_id) != BALAI_OK) {
            row_error(pl, line,
                      "username: '%s' is not a valid user name (a-z, 0-9 and . _ = - / +)", uname);
        } else if (balai_map_get_str(pl->in_file, row.user_id)) {
            struct row *first = balai_map_get_str(pl->in_file, row.user_id);
            row_error(pl, line, "username: %s is also on line %zu", row.user_id, first->line);
            BALAI_FREE(row.user_id);
        }
        if (pl->n_rows == pl->cap_rows) {
            pl->cap_rows = pl->cap_rows ? pl->cap_rows * 2 : 64;
            pl->rows = balai_realloc(pl->rows, pl->cap_rows * sizeof(*pl->rows));
            /* the map points into rows: re-point it */
            for (size_t i = 0; i < pl->n_rows; i++) {
                if (pl->rows[i].user_id)
                    balai_map_put_str(pl->in_file, pl->rows[i].user_id, &pl->rows[i]);
            }
        }
        pl->rows[pl->n_rows] = row;
        if (row.user_id)
            balai_map_put_str(pl->in_file, row.user_id, &pl->rows[pl->n_rows]);
        pl->n_rows++;
    }
    if (rc < 0)
        json_array_append_new(
            pl->errors, json_pack("{s:I, s:s}", "line", (json_int_t)r.err_line, "error", err));
    else if (!have_header)
        row_error(pl, 1, "the file is empty (a header line is needed)");
    balai_csv_release(&r);
    return have_header ? BALAI_OK : BALAI_EINVAL;
}

struct owners_outside {
    struct plan *pl;
    size_t n;
};

static int count_outside(struct balai_user *u, void *arg)
{
    struct owners_outside *o = arg;
    if (!u->system && !u->deactivated && !balai_map_get_str(o->pl->in_file, u->user_id) &&
        balai_api_role(o->pl->app, u->user_id) == BALAI_ROLE_OWNER)
        o->n++;
    return 0;
}

/* The last owner must stay: after the plan at least one owner remains. */
static void check_owners(struct plan *pl)
{
    struct owners_outside o = {pl, 0};
    size_t inside = 0, demoted_line = 0;

    for (size_t i = 0; i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        if (!r->p)
            continue;
        if (r->p->role == BALAI_ROLE_OWNER)
            inside++;
        else if (r->old && r->old->role == BALAI_ROLE_OWNER && !demoted_line)
            demoted_line = r->line;
    }
    if (!demoted_line)
        return;
    balai_accounts_each(pl->app->accounts, count_outside, &o);
    if (inside + o.n == 0)
        row_error(pl, demoted_line, "role: this would leave the organisation without an owner");
}

static void plan_build(struct plan *pl, const char *data, size_t len, const char *actor)
{
    struct balai_app *app = pl->app;

    if (read_csv(pl, data, len) != BALAI_OK)
        return;
    /* every row with a usable user name is checked, so that one answer
     * lists every bad line */
    for (size_t i = 0; i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        if (!r->user_id)
            continue;
        struct balai_user *u = balai_accounts_user(app->accounts, r->user_id);
        if (u && u->system) {
            row_error(pl, r->line, "%s is the system user", r->user_id);
            continue;
        }
        if (u && u->deactivated) {
            row_error(pl, r->line, "%s is deactivated", r->user_id);
            continue;
        }
        if (u) {
            r->old = balai_api_directory_person(app, r->user_id);
            r->p = balai_gov_person_dup(r->old);
        } else {
            struct balai_gov_person blank;
            memset(&blank, 0, sizeof(blank));
            blank.user_id = r->user_id;
            blank.role = BALAI_ROLE_MEMBER;
            r->p = balai_gov_person_dup(&blank);
            r->is_new = 1;
        }
        plan_row(pl, r);
    }
    if (json_array_size(pl->errors))
        return;
    /* manager cycles once every row is in */
    for (size_t i = 0; i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        if (!r->p)
            continue;
        if (balai_gov_directory_check_manager(pl->scratch, r->user_id, r->p->manager) != BALAI_OK)
            row_error(pl, r->line, "manager: %s would make a cycle in the manager chain",
                      r->p->manager);
    }
    check_owners(pl);
    /* accounts absent from the file: listed as missing, deactivated only
     * with deactivate_missing */
    struct missing_ctx m = {pl, actor};
    balai_accounts_each(app->accounts, find_missing, &m);
    if (pl->n_deact)
        qsort(pl->deact, pl->n_deact, sizeof(*pl->deact), by_str);
}

static int by_line(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t lx = json_integer_value(json_object_get(x, "line"));
    json_int_t ly = json_integer_value(json_object_get(y, "line"));
    /* ties keep their order: compare the positions stored in "seq" */
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return (int)(json_integer_value(json_object_get(x, "seq")) -
                 json_integer_value(json_object_get(y, "seq")));
}

/* The errors ordered by line (new reference). */
static json_t *sorted_errors(json_t *errors)
{
    size_t n = json_array_size(errors);
    json_t **v = balai_calloc(n ? n : 1, sizeof(*v));
    json_t *out = json_array();

    for (size_t i = 0; i < n; i++) {
        v[i] = json_array_get(errors, i);
        json_object_set_new(v[i], "seq", json_integer((json_int_t)i));
    }
    qsort(v, n, sizeof(*v), by_line);
    for (size_t i = 0; i < n; i++) {
        json_object_del(v[i], "seq");
        json_array_append(out, v[i]);
    }
    free(v);
    return out;
}

/* The diff of the plan as JSON. New reference. */
static json_t *plan_json(struct plan *pl, int applied)
{
    json_t *added = json_array(), *changed = json_array(), *deact = json_array();
    json_t *missing = json_array(), *units = json_array();
    size_t unchanged = 0;

    for (size_t i = 0; i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        json_t *d = diff(r->old, r->p);
        if (r->is_new) {
            json_array_append_new(added, json_pack("{s:I, s:s, s:o}", "line", (json_int_t)r->line,
                                                   "user_id", r->user_id, "attributes", d));
        } else if (json_object_size(d)) {
            json_array_append_new(changed, json_pack("{s:I, s:s, s:o}", "line", (json_int_t)r->line,
                                                     "user_id", r->user_id, "changes", d));
        } else {
            unchanged++;
            json_decref(d);
        }
    }
    for (size_t i = 0; i < pl->n_deact; i++)
        json_array_append_new(pl->deactivate_missing ? deact : missing, json_string(pl->deact[i]));
    for (size_t i = 0; i < pl->n_units; i++)
        json_array_append_new(units, json_pack("{s:s, s:s}", "unit_id", pl->units[i].unit_id,
                                               "path", pl->units[i].path));
    return json_pack("{s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:I}", "dry_run", pl->dry_run, "applied",
                     applied, "added", added, "changed", changed, "deactivated", deact, "missing",
                     missing, "units_created", units, "unchanged", (json_int_t)unchanged);
}

/* ---- apply: one op, one savepoint ---- */

struct import_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    struct plan pl;
    char *actor;
    json_t *answer;
    struct balai_api_audit_entry *audit; /* committed with the import */
};

static int import_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct import_op *x = (struct import_op *)op;
    struct plan *pl = &x->pl;
    int rc = BALAI_OK;

    for (size_t i = 0; rc == BALAI_OK && i < pl->n_units; i++) {
        struct balai_org_unit_rec u = {pl->units[i].unit_id, pl->units[i].name,
                                       pl->units[i].parent_id, "[]", pl->now};
        rc = balai_store_txn_org_unit_set(t, &u);
    }
    for (size_t i = 0; rc == BALAI_OK && i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        if (!r->changed)
            continue;
        if (r->is_new) {
            struct balai_user_rec u = {r->user_id,         NULL, 0,      0, 0,
                                       r->p->display_name, NULL, pl->now};
            rc = balai_store_txn_user_insert(t, &u);
        }
        if (rc == BALAI_OK)
            rc = balai_api_directory_txn_person(t, r->p);
    }
    for (size_t i = 0; rc == BALAI_OK && pl->deactivate_missing && i < pl->n_deact; i++)
        rc = balai_store_txn_user_deactivate(t, pl->deact[i]);
    return rc == BALAI_OK ? balai_api_audit_entry_append(t, x->audit) : rc;
}

static void import_done(struct balai_store_op *op)
{
    struct import_op *x = (struct import_op *)op;
    struct balai_app *app = x->app;
    struct plan *pl = &x->pl;
    size_t added = 0, changed = 0;

    if (op->rc == BALAI_EEXIST || op->rc == BALAI_ENOTFOUND) {
        balai_api_error(x->req, 409, "M_UNKNOWN",
                        "The directory changed while the import ran; nothing was applied, try "
                        "again");
        goto out;
    }
    if (op->rc != BALAI_OK) {
        balai_api_error(x->req, 500, "M_UNKNOWN",
                        "Could not store the import; nothing was "
                        "applied");
        goto out;
    }
    for (size_t i = 0; i < pl->n_units; i++) {
        struct balai_gov_unit u = {
            pl->units[i].unit_id, pl->units[i].name, pl->units[i].parent_id, NULL, 0, pl->now};
        if (balai_gov_unit_put(app->directory->dir, &u) != BALAI_OK)
            LOG_ERROR("import: unit %s stored but refused in memory", u.unit_id);
    }
    for (size_t i = 0; i < pl->n_rows; i++) {
        struct row *r = &pl->rows[i];
        if (!r->changed)
            continue;
        if (r->is_new) {
            struct balai_user *u =
                balai_accounts_add_user(app->accounts, r->user_id, NULL, 0, 0, pl->now);
            if (u && r->p->display_name)
                balai_user_set_displayname(u, r->p->display_name);
            added++;
        } else {
            changed++;
        }
        balai_api_directory_committed(app, r->p);
    }
    for (size_t i = 0; pl->deactivate_missing && i < pl->n_deact; i++) {
        struct balai_user *u = balai_accounts_user(app->accounts, pl->deact[i]);
        if (u)
            balai_accounts_deactivate(app->accounts, u);
        balai_api_rules_on_person_changed(app, pl->deact[i]); /* rule rooms go */
    }
    LOG_INFO("directory import by %s: %zu added, %zu changed, %zu deactivated, %zu units", x->actor,
             added, changed, pl->deactivate_missing ? pl->n_deact : 0, pl->n_units);
    balai_api_json(x->req, 200, x->answer);
    x->answer = NULL;
out:
    balai_api_audit_entry_done(app, x->audit, op->rc);
    json_decref(x->answer);
    plan_release(pl);
    free(x->actor);
    free(x);
}

static int query_flag(struct balai_http_req *req, const char *name, int *out)
{
    const char *v = balai_http_req_query(req, name);
    if (!v)
        return BALAI_OK;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
    } else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
    } else {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' must be true or false", name);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static void post_import(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct import_op *x = NULL;
    json_t *body = NULL;
    const char *csv;
    size_t csv_len;
    int dry = 0, deact = 0;
    struct balai_slice ct = balai_http_req_header(req, "content-type");

    if (balai_api_auth_may(req, &s, BALAI_GOV_DIRECTORY_EDIT) < 0 ||
        query_flag(req, "dry_run", &dry) < 0 || query_flag(req, "deactivate_missing", &deact) < 0)
        return;
    if (ct.ptr && ct.len >= 8 && strncasecmp(ct.ptr, "text/csv", 8) == 0) {
        csv = req->body ? req->body : "";
        csv_len = req->body_len;
    } else {
        json_t *v;
        if (balai_api_body(req, 0, &body) < 0)
            return;
        v = json_object_get(body, "csv");
        if (!json_is_string(v)) {
            balai_api_error(req, 400, v ? "M_BAD_JSON" : "M_MISSING_PARAM",
                            "'csv' must be the CSV text");
            goto out;
        }
        csv = json_string_value(v);
        csv_len = json_string_length(v);
        v = json_object_get(body, "deactivate_missing");
        if (v && !json_is_boolean(v)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'deactivate_missing' must be a boolean");
            goto out;
        }
        if (json_is_true(v))
            deact = 1;
        v = json_object_get(body, "dry_run");
        if (v && !json_is_boolean(v)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'dry_run' must be a boolean");
            goto out;
        }
        if (json_is_true(v))
            dry = 1;
    }
    if (deact && !balai_gov_role_may(balai_api_caller_role(app, s), BALAI_GOV_USERS_MANAGE)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "deactivate_missing deactivates accounts: only an owner or admin may");
        goto out;
    }
    x = balai_calloc(1, sizeof(*x));
    x->pl.app = app;
    x->pl.actor_role = balai_api_caller_role(app, s);
    x->pl.dry_run = dry;
    x->pl.deactivate_missing = deact;
    x->pl.scratch = balai_gov_directory_clone(app->directory->dir);
    x->pl.in_file = balai_map_new();
    x->pl.errors = json_array();
    x->pl.now = balai_now_ms();
    plan_build(&x->pl, csv, csv_len, s ? s->device->user->user_id : NULL);
    if (json_array_size(x->pl.errors)) {
        size_t n = json_array_size(x->pl.errors);
        json_t *e = json_pack("{s:s, s:s, s:o}", "errcode", "M_INVALID_PARAM", "error", "",
                              "errors", sorted_errors(x->pl.errors));
        char msg[200];
        snprintf(msg, sizeof(msg), "%zu bad %s%s; nothing was applied", n,
                 n == 1 ? "line" : "lines", n >= MAX_ERRORS ? " (and maybe more)" : "");
        json_object_set_new(e, "error", json_string(msg));
        balai_api_json(req, 400, e);
        goto out;
    }
    for (size_t i = 0; i < x->pl.n_rows; i++) {
        json_t *d = diff(x->pl.rows[i].old, x->pl.rows[i].p);
        x->pl.rows[i].changed = x->pl.rows[i].is_new || json_object_size(d) > 0;
        json_decref(d);
    }
    x->answer = plan_json(&x->pl, !dry);
    if (dry) {
        balai_api_json(req, 200, x->answer);
        x->answer = NULL;
        goto out;
    }
    x->app = app;
    x->req = req;
    x->actor = balai_strdup(balai_api_audit_actor(s));
    x->op.apply = import_apply;
    x->op.done = import_done;
    {
        size_t n_add = json_array_size(json_object_get(x->answer, "added"));
        size_t n_chg = json_array_size(json_object_get(x->answer, "changed"));
        x->audit = balai_api_audit_entry_new(
            app, x->actor, "directory.import", NULL,
            json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)n_add, "changed",
                      (json_int_t)n_chg, "deactivated",
                      (json_int_t)(x->pl.deactivate_missing ? x->pl.n_deact : 0), "units_created",
                      (json_int_t)x->pl.n_units));
    }
    balai_store_submit(app->store, &x->op);
    x = NULL;
out:
    if (x) {
        json_decref(x->answer);
        plan_release(&x->pl);
        free(x->actor);
        free(x);
    }
    json_decref(body);
}

int balai_api_admin_directory_import_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_POST, "/_balai/admin/v1/directory/import", post_import,
                           IMPORT_MAX_BODY);
}
