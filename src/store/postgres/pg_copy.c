/* pg_copy.c: the PostgreSQL backend's bulk copy functions (store_int.h,
 * store/copy.c): the target side of `balai db migrate-to`, and a source
 * for verification. Table and column names come from the schema, never
 * from outside, and are quoted anyway. Rows are loaded with one INSERT
 * each on the write connection, inside the caller's transaction. */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* Type OIDs (pg_type.h) of the columns the schema uses. */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

int balai__pg_copy_tables(void *p, int (*fn)(const char *table, void *), void *arg)
{
    PGresult *r;
    int rc = balai__pg_rsql(p,
                            "SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                            " AND table_name <> 'schema_migrations' ORDER BY table_name",
                            &r);

    if (rc != BALAI_OK)
        return rc;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        rc = fn(PQgetvalue(r, i, 0), arg);
        if (rc != 0)
            break;
    }
    PQclear(r);
    return rc;
}

int balai__pg_copy_rows(void *p, int writer, const char *table,
                        int (*fn)(const struct balai_store_row *, void *), void *arg)
{
    char *sql = balai_asprintf("SELECT * FROM \"%s\"", table);
    PGresult *r = NULL;
    const char **cols = NULL;
    struct balai_store_value *vals = NULL;
    uint8_t **blobs = NULL;
    int rc, n;

    rc = writer ? balai__pg_wsql(p, sql, NULL, &r) : balai__pg_rsql(p, sql, &r);
    free(sql);
    if (rc != BALAI_OK)
        return rc;
    n = PQnfields(r);
    cols = balai_calloc((size_t)n + 1, sizeof(*cols));
    vals = balai_calloc((size_t)n + 1, sizeof(*vals));
    blobs = balai_calloc((size_t)n + 1, sizeof(*blobs));
    for (int c = 0; c < n; c++)
        cols[c] = PQfname(r, c);
    for (int i = 0, rows = PQntuples(r); i < rows && rc == 0; i++) {
        struct balai_store_row row = {table, (size_t)n, cols, vals};

        for (int c = 0; c < n; c++) {
            struct balai_store_value *v = &vals[c];
            Oid t = PQftype(r, c);

            memset(v, 0, sizeof(*v));
            free(blobs[c]);
            blobs[c] = NULL;
            if (PQgetisnull(r, i, c)) {
                v->kind = BALAI_STORE_NULL;
            } else if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2) {
                v->kind = BALAI_STORE_INT;
                v->i = pc_int(r, i, c);
            } else if (t == OID_BYTEA) {
                v->kind = BALAI_STORE_BLOB;
                blobs[c] = balai__pg_bytea(r, i, c, &v->len);
                v->p = blobs[c];
            } else {
                v->kind = BALAI_STORE_TEXT;
                v->p = (const uint8_t *)PQgetvalue(r, i, c);
                v->len = (size_t)PQgetlength(r, i, c);
            }
        }
        rc = fn(&row, arg);
    }
    for (int c = 0; c < n; c++)
        free(blobs[c]);
    free(blobs);
    free(vals);
    free(cols);
    PQclear(r);
    return rc;
}

int balai__pg_copy_load(void *p, const struct balai_store_row *row)
{
    struct balai_buf sql;
    struct pg_args a = {0};
    PGresult *r = NULL;
    int rc;

    if (row->ncols > PG_MAX_PARAMS) {
        LOG_ERROR("copy: table %s has too many columns", row->table);
        return BALAI_EINVAL;
    }
    balai_buf_init(&sql, 0);
    balai_buf_append_str(&sql, "INSERT INTO \"");
    balai_buf_append_str(&sql, row->table);
    balai_buf_append_str(&sql, "\" (");
    for (size_t i = 0; i < row->ncols; i++) {
        balai_buf_append_str(&sql, i ? ", \"" : "\"");
        balai_buf_append_str(&sql, row->cols[i]);
        balai_buf_append_str(&sql, "\"");
    }
    balai_buf_append_str(&sql, ") VALUES (");
    for (size_t i = 0; i < row->ncols; i++) {
        char num[32];
        const struct balai_store_value *v = &row->vals[i];

        snprintf(num, sizeof(num), "%s$%zu", i ? ", " : "", i + 1);
        balai_buf_append_str(&sql, num);
        switch (v->kind) {
        case BALAI_STORE_NULL:
            pa_text(&a, NULL);
            break;
        case BALAI_STORE_INT:
            pa_int(&a, v->i);
            break;
        case BALAI_STORE_BLOB:
            pa_bytea(&a, v->p, v->len);
            break;
        default:
            pa_text(&a, (const char *)v->p);
            break;
        }
    }
    balai_buf_append_str(&sql, ")");
    rc = balai__pg_wsql(p, (const char *)sql.data, &a, &r);
    PQclear(r);
    balai_buf_release(&sql);
    return rc;
}

/* Moves each identity counter past the highest id loaded. */
int balai__pg_copy_finish(void *p)
{
    PGresult *r = NULL;
    int rc = balai__pg_wsql(p,
                            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                            " WHERE c.table_schema = current_schema() AND c.is_identity = 'YES'",
                            NULL, &r);

    if (rc != BALAI_OK)
        return rc;
    for (int i = 0, n = PQntuples(r); i < n && rc == BALAI_OK; i++) {
        char *sql = balai_asprintf("SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'),"
                                   " coalesce((SELECT max(\"%s\") FROM \"%s\"), 0) + 1, false)",
                                   PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 1),
                                   PQgetvalue(r, i, 0));
        PGresult *s = NULL;

        rc = balai__pg_wsql(p, sql, NULL, &s);
        PQclear(s);
        free(sql);
    }
    PQclear(r);
    return rc;
}
