/* rooms_report.c: the room inventory of the organisation, as JSON, CSV and XLSX.
 *
 *   GET /_balai/admin/v1/rooms?format=json|csv|xlsx&stale_days=N&only=stale|orphaned|understaffed
 *
 * For org admins, owners and compliance (and the CLI). Every organisation
 * room (direct messages are not), sorted by room id: members, stewards,
 * label, owning unit, purpose, created, last activity, archived, and the
 * flags orphan (no steward: must never happen), understaffed (fewer than
 * rooms.min_stewards) and stale (no activity in stale_days, default
 * rooms.stale_days). The JSON answer also lists the stale, orphaned and
 * understaffed room ids. Rows are built from memory on the loop thread; the
 * XLSX workbook (libxlsxwriter, this file only) is written on
 * app->work_pool. Each export is audited ("room.inventory.export"). */
#include "balai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/directory.h"
#include "api/org_rooms.h"
#include "net/pool.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/time.h"

#define LOG_MODULE "rooms_report"
#include "util/log.h"

#define DAY_MS (24LL * 3600 * 1000)

/* ---- rows ---- */

struct room_list {
    struct balai_room **v;
    size_t n, cap;
};

static void collect(struct balai_room *r, void *arg)
{
    struct room_list *l = arg;
    if (balai_room_is_direct(r))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = balai_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = r;
}

static int cmp_room(const void *a, const void *b)
{
    return strcmp(balai_room_id(*(struct balai_room *const *)a),
                  balai_room_id(*(struct balai_room *const *)b));
}

json_t *balai_api_org_rooms_inventory(struct balai_app *app, int64_t stale_days)
{
    /* stale_days 0: every room counts as stale (an activity in this very
     * millisecond aside); the flag is always present in the inventory */
    struct room_list l = {NULL, 0, 0};
    json_t *rows = json_array();
    int64_t now = balai_now_ms();

    /* the system user is a member of every organisation room */
    if (app->system_user_id)
        balai_rooms_of_user(app->rooms, app->system_user_id, collect, &l);
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(*l.v), cmp_room);
    for (size_t i = 0; i < l.n; i++)
        json_array_append_new(rows, balai_api_org_rooms_json(
                                        app, l.v[i], now, stale_days ? stale_days * DAY_MS : -1));
    free(l.v);
    return rows;
}

/* ---- cells shared by CSV and XLSX ---- */

enum col_kind { C_TEXT, C_INT, C_BOOL, C_TIME, C_LIST };

static const struct col {
    const char *head, *key;
    enum col_kind kind;
} cols[] = {
    {"room_id", "room_id", C_TEXT},
    {"name", "name", C_TEXT},
    {"members", "members", C_INT},
    {"invited", "invited", C_INT},
    {"stewards", "stewards", C_LIST},
    {"steward_count", "steward_count", C_INT},
    {"classification", "classification", C_TEXT},
    {"owner_unit", "owner_unit", C_TEXT},
    {"owner_unit_name", "owner_unit_name", C_TEXT},
    {"purpose", "purpose", C_TEXT},
    {"created", "created_ts", C_TIME},
    {"last_activity", "last_activity_ts", C_TIME},
    {"archived", "archived", C_BOOL},
    {"orphan", "orphan", C_BOOL},
    {"understaffed", "understaffed", C_BOOL},
    {"stale", "stale", C_BOOL},
};

/* The text of one cell (ISO 8601 UTC for times, "; "-joined lists). Caller frees. */
static char *cell_text(const json_t *row, const struct col *c)
{
    const json_t *v = json_object_get(row, c->key);
    switch (c->kind) {
    case C_INT:
        return balai_asprintf("%lld", (long long)json_integer_value(v));
    case C_BOOL:
        return balai_strdup(json_is_true(v) ? "true" : "false");
    case C_TIME: {
        time_t t = (time_t)(json_integer_value(v) / 1000);
        struct tm tm;
        char buf[32];
        if (!json_integer_value(v) || !gmtime_r(&t, &tm) ||
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
            return balai_strdup("");
        return balai_strdup(buf);
    }
    case C_LIST: {
        struct balai_buf b;
        size_t i;
        json_t *e;
        balai_buf_init(&b, 0);
        json_array_foreach(v, i, e)
        {
            if (i)
                balai_buf_append_str(&b, "; ");
            balai_buf_append_str(&b, json_string_value(e) ? json_string_value(e) : "");
        }
        char *s = balai_buf_detach(&b, NULL);
        return s ? s : balai_strdup("");
    }
    case C_TEXT:
        break;
    }
    return balai_strdup(json_string_value(v) ? json_string_value(v) : "");
}

/* ---- CSV (RFC 4180) ---- */

static void csv_field(struct balai_buf *b, const char *s, int text)
{
    /* a spreadsheet reads =, +, - and @ at the start of a cell as a formula */
    int guard = text && (*s == '=' || *s == '+' || *s == '-' || *s == '@');
    if (!guard && !strpbrk(s, ",\"\r\n")) {
        balai_buf_append_str(b, s);
        return;
    }
    balai_buf_append_char(b, '"');
    if (guard)
        balai_buf_append_char(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            balai_buf_append_char(b, '"');
        balai_buf_append_char(b, *s);
    }
    balai_buf_append_char(b, '"');
}

char *balai_api_rooms_csv(const json_t *rows, size_t *len)
{
    struct balai_buf b;
    size_t i;
    json_t *row;

    balai_buf_init(&b, 0);
    for (size_t c = 0; c < BALAI_ARRAY_LEN(cols); c++) {
        if (c)
            balai_buf_append_char(&b, ',');
        balai_buf_append_str(&b, cols[c].head);
    }
    balai_buf_append_str(&b, "\r\n");
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < BALAI_ARRAY_LEN(cols); c++) {
            char *t = cell_text(row, &cols[c]);
            if (c)
                balai_buf_append_char(&b, ',');
            /* names and purposes are free text; ids never start with a formula sign */
            int text = cols[c].kind == C_TEXT && strcmp(cols[c].key, "room_id") != 0 &&
                       strcmp(cols[c].key, "owner_unit") != 0;
            csv_field(&b, t, text);
            free(t);
        }
        balai_buf_append_str(&b, "\r\n");
    }
    return balai_buf_detach(&b, len);
}

/* ---- XLSX ---- */

int balai_api_rooms_xlsx_write(const json_t *rows, const char *path)
{
    lxw_workbook *wb = workbook_new(path);
    size_t i;
    json_t *row;

    if (!wb)
        return BALAI_EIO;
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Rooms");
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    for (size_t c = 0; c < BALAI_ARRAY_LEN(cols); c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, cols[c].head, bold);
    json_array_foreach(rows, i, row)
    {
        lxw_row_t r = (lxw_row_t)(i + 1);
        for (size_t c = 0; c < BALAI_ARRAY_LEN(cols); c++) {
            const json_t *v = json_object_get(row, cols[c].key);
            if (cols[c].kind == C_INT) {
                worksheet_write_number(ws, r, (lxw_col_t)c, (double)json_integer_value(v), NULL);
            } else if (cols[c].kind == C_BOOL) {
                worksheet_write_boolean(ws, r, (lxw_col_t)c, json_is_true(v), NULL);
            } else {
                char *t = cell_text(row, &cols[c]);
                if (*t)
                    worksheet_write_string(ws, r, (lxw_col_t)c, t, NULL);
                free(t);
            }
        }
    }
    worksheet_freeze_panes(ws, 1, 0);
    return workbook_close(wb) == LXW_NO_ERROR ? BALAI_OK : BALAI_EIO;
}

struct xlsx_job {
    struct balai_http_req *req;
    json_t *rows; /* a deep copy, touched only by the worker until done */
    char *dir;
    char *data;
    size_t len;
    int rc;
};

static void xlsx_work(void *arg)
{
    struct xlsx_job *j = arg;
    char *path = balai_asprintf("%s/rooms-XXXXXX", j->dir);
    int fd = mkstemp(path);
    FILE *f = NULL;

    j->rc = BALAI_EIO;
    if (fd < 0)
        goto out;
    close(fd);
    if (balai_api_rooms_xlsx_write(j->rows, path) != BALAI_OK)
        goto out;
    f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        goto out;
    long n = ftell(f);
    if (n <= 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    j->data = balai_malloc((size_t)n);
    if (fread(j->data, 1, (size_t)n, f) != (size_t)n)
        goto out;
    j->len = (size_t)n;
    j->rc = BALAI_OK;
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        unlink(path);
    free(path);
}

static void xlsx_done(void *arg)
{
    struct xlsx_job *j = arg;
    if (j->rc != BALAI_OK) {
        balai_api_error(j->req, 500, "M_UNKNOWN", "Could not write the XLSX report");
        free(j->data);
    } else {
        balai_http_add_header(j->req, "Content-Disposition",
                              "attachment; filename=\"balai-rooms.xlsx\"");
        balai_http_respond_take(j->req, 200,
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                j->data, j->len);
    }
    json_decref(j->rows);
    free(j->dir);
    free(j);
}

/* ---- the endpoint ---- */

static json_t *ids_where(const json_t *rows, const char *flag)
{
    json_t *arr = json_array(), *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        if (json_is_true(json_object_get(row, flag)))
            json_array_append(arr, json_object_get(row, "room_id"));
    }
    return arr;
}

static json_t *filter_rows(json_t *rows, const char *flag)
{
    json_t *out = json_array(), *row;
    size_t i;
    json_array_foreach(rows, i, row)
    {
        if (json_is_true(json_object_get(row, flag)))
            json_array_append(out, row);
    }
    json_decref(rows);
    return out;
}

static void list_rooms(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *format = balai_http_req_query(req, "format");
    const char *sd = balai_http_req_query(req, "stale_days");
    const char *only = balai_http_req_query(req, "only");
    int64_t stale_days = app->cfg->rooms_stale_days;

    if (balai_api_auth_role(req, &s,
                            BALAI_ROLE_BIT(BALAI_ROLE_ADMIN) | BALAI_ROLE_BIT(BALAI_ROLE_OWNER) |
                                BALAI_ROLE_BIT(BALAI_ROLE_COMPLIANCE)) < 0)
        return;
    if (!format || !*format)
        format = "json";
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "xlsx") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'format' must be json, csv or xlsx");
        return;
    }
    if (sd) {
        char *end;
        errno = 0;
        long long v = strtoll(sd, &end, 10);
        if (!*sd || *end || errno || v < 0 || v > 36500) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'stale_days' must be a whole number of days from 0 to 36500");
            return;
        }
        stale_days = v;
    }
    if (only && strcmp(only, "stale") != 0 && strcmp(only, "orphaned") != 0 &&
        strcmp(only, "understaffed") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'only' must be stale, orphaned or understaffed");
        return;
    }
    json_t *rows = balai_api_org_rooms_inventory(app, stale_days);
    if (only)
        rows = filter_rows(rows, strcmp(only, "orphaned") == 0 ? "orphan" : only);
    balai_api_audit_log(app, balai_api_audit_actor(s), "room.inventory.export", NULL,
                        json_pack("{s:s, s:I, s:I, s:s?}", "format", format, "rooms",
                                  (json_int_t)json_array_size(rows), "stale_days",
                                  (json_int_t)stale_days, "only", only));
    if (strcmp(format, "csv") == 0) {
        size_t len;
        char *csv = balai_api_rooms_csv(rows, &len);
        json_decref(rows);
        balai_http_add_header(req, "Content-Disposition",
                              "attachment; filename=\"balai-rooms.csv\"");
        balai_http_respond_take(req, 200, "text/csv; charset=utf-8; header=present", csv, len);
        return;
    }
    if (strcmp(format, "xlsx") == 0) {
        struct xlsx_job *j = balai_calloc(1, sizeof(*j));
        j->req = req;
        j->rows = json_deep_copy(rows);
        j->dir = balai_strdup(app->cfg->data_dir);
        json_decref(rows);
        if (balai_pool_submit(app->work_pool, xlsx_work, xlsx_done, j) != BALAI_OK) {
            balai_api_limit(req, 1000);
            json_decref(j->rows);
            free(j->dir);
            free(j);
        }
        return;
    }
    json_t *o =
        json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t)json_array_size(rows), "stale_days",
                  (json_int_t)stale_days, "min_stewards", (json_int_t)app->cfg->rooms_min_stewards,
                  "max_stewards", (json_int_t)app->cfg->rooms_max_stewards);
    json_object_set_new(o, "stale", ids_where(rows, "stale"));
    json_object_set_new(o, "orphaned", ids_where(rows, "orphan"));
    json_object_set_new(o, "understaffed", ids_where(rows, "understaffed"));
    json_object_set_new(o, "rooms", rows);
    balai_api_json(req, 200, o);
}

int balai_api_admin_rooms_report_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET, "/_balai/admin/v1/rooms", list_rooms, 0)
               ? BALAI_EINVAL
               : BALAI_OK;
}
