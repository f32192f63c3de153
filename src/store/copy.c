/* copy.c: bulk copy of a whole database from one backend to another
 * (balai db migrate-to: SQLite into PostgreSQL), with verification.
 *
 * The tables come from the backends themselves (copy_tables) and must be
 * the same on both sides (both schemas are migrated to this build's
 * version). Parents go first so that foreign keys hold while loading.
 * Each row's hash covers its columns sorted by name, each as name, kind
 * and value; a table's hash combines its rows' hashes order-independently
 * (a sum and a XOR of two differently seeded FNV-1a hashes), so the two
 * sides may list rows in any order. Integers hash as their decimal text,
 * so an INTEGER and a BIGINT compare equal. */
#define LOG_MODULE "store"
#include "balai.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_TABLES 128

/* Tables others refer to, in load order; every other table follows. */
static const char *const parents[] = {"meta",  "users",  "devices",    "access_tokens",
                                      "rooms", "events", "scim_groups"};

struct table {
    char *name;
    int64_t rows;
    uint64_t sum, xr;
};

struct tables {
    struct table t[MAX_TABLES];
    size_t n;
};

static int add_table(const char *name, void *arg)
{
    struct tables *ts = arg;

    if (ts->n >= MAX_TABLES)
        return BALAI_ETOOBIG;
    ts->t[ts->n++].name = balai_strdup(name);
    return 0;
}

static void tables_free(struct tables *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        free(ts->t[i].name);
    ts->n = 0;
}

static int rank(const char *name)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(parents); i++) {
        if (strcmp(parents[i], name) == 0)
            return (int)i;
    }
    return (int)BALAI_ARRAY_LEN(parents);
}

static int table_cmp(const void *a, const void *b)
{
    const struct table *x = a, *y = b;
    int rx = rank(x->name), ry = rank(y->name);

    return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static const struct balai_store_row *sort_row; /* for col_cmp (one thread) */

static int col_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return strcmp(sort_row->cols[x], sort_row->cols[y]);
}

/* Adds one row to a table's count and hash. */
static void hash_row(struct table *t, const struct balai_store_row *row)
{
    size_t idx[64], n = row->ncols < 64 ? row->ncols : 64;
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;

    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_row = row;
    qsort(idx, n, sizeof(idx[0]), col_cmp);
    for (size_t k = 0; k < n; k++) {
        const struct balai_store_value *v = &row->vals[idx[k]];
        const char *name = row->cols[idx[k]];
        char tag = "nitb"[v->kind], num[24];

        h1 = fnv(h1, name, strlen(name) + 1);
        h2 = fnv(h2, name, strlen(name) + 1);
        h1 = fnv(h1, &tag, 1);
        h2 = fnv(h2, &tag, 1);
        if (v->kind == BALAI_STORE_INT) {
            int len = snprintf(num, sizeof(num), "%" PRId64, v->i);
            h1 = fnv(h1, num, (size_t)len);
            h2 = fnv(h2, num, (size_t)len);
        } else if (v->kind != BALAI_STORE_NULL) {
            uint64_t len = v->len;
            h1 = fnv(h1, &len, sizeof(len));
            h2 = fnv(h2, &len, sizeof(len));
            h1 = fnv(h1, v->p, v->len);
            h2 = fnv(h2, v->p, v->len);
        }
    }
    t->rows++;
    t->sum += h1;
    t->xr ^= h2;
}

struct load_ctx {
    const struct balai_store_backend *be;
    void *db;
    struct table *t;
};

static int load_row(const struct balai_store_row *row, void *arg)
{
    struct load_ctx *c = arg;

    hash_row(c->t, row);
    return c->be->copy_load(c->db, row);
}

static int count_row(const struct balai_store_row *row, void *arg)
{
    hash_row(arg, row);
    return 0;
}

static int any_row(const struct balai_store_row *row, void *arg)
{
    (void)row;
    (void)arg;
    return 1;
}

/* Hashes table `name` of a backend into *out. */
static int hash_table(const struct balai_store_backend *be, void *db, int writer, const char *name,
                      struct table *out)
{
    memset(out, 0, sizeof(*out));
    return be->copy_rows(db, writer, name, count_row, out);
}

static bool same(const struct table *a, const struct table *b)
{
    return a->rows == b->rows && a->sum == b->sum && a->xr == b->xr;
}

static int verify(const struct balai_store_backend *be, void *db, int writer,
                  const struct tables *src, const char *when)
{
    for (size_t i = 0; i < src->n; i++) {
        struct table got;
        int rc = hash_table(be, db, writer, src->t[i].name, &got);

        if (rc != BALAI_OK)
            return rc;
        if (!same(&got, &src->t[i])) {
            LOG_ERROR("copy: table %s differs %s: %lld rows copied, %lld found", src->t[i].name,
                      when, (long long)src->t[i].rows, (long long)got.rows);
            return BALAI_ESTORE;
        }
    }
    return BALAI_OK;
}

int balai_store_copy(struct balai_store *src, struct balai_store *dst,
                     void (*report)(const char *table, int64_t rows, const char *hash, void *),
                     void *arg)
{
    void *sdb = NULL, *ddb = NULL;
    const struct balai_store_backend *sbe = balai__store_backend(src, &sdb);
    const struct balai_store_backend *dbe = balai__store_backend(dst, &ddb);
    struct tables *st = balai_calloc(1, sizeof(*st)), *dt = balai_calloc(1, sizeof(*dt));
    bool open = false;
    int rc;

    if (!sbe || !dbe) {
        rc = BALAI_ESTATE;
        goto out;
    }
    rc = sbe->copy_tables(sdb, add_table, st);
    if (rc == BALAI_OK)
        rc = dbe->copy_tables(ddb, add_table, dt);
    if (rc != BALAI_OK)
        goto out;
    qsort(st->t, st->n, sizeof(st->t[0]), table_cmp);
    for (size_t i = 0; i < st->n; i++) {
        bool found = false;

        for (size_t j = 0; j < dt->n && !found; j++)
            found = strcmp(st->t[i].name, dt->t[j].name) == 0;
        if (!found) {
            LOG_ERROR("copy: the target has no table %s", st->t[i].name);
            rc = BALAI_ESTATE;
            goto out;
        }
    }
    for (size_t j = 0; j < dt->n; j++) {
        rc = dbe->copy_rows(ddb, 0, dt->t[j].name, any_row, NULL);
        if (rc == 1) {
            LOG_ERROR("copy: the target already holds data (table %s)", dt->t[j].name);
            rc = BALAI_EEXIST;
            goto out;
        }
        if (rc != BALAI_OK)
            goto out;
    }

    rc = dbe->begin(ddb);
    if (rc != BALAI_OK)
        goto out;
    open = true;
    for (size_t i = 0; i < st->n; i++) {
        struct load_ctx c = {dbe, ddb, &st->t[i]};

        rc = sbe->copy_rows(sdb, 0, st->t[i].name, load_row, &c);
        if (rc != BALAI_OK) {
            LOG_ERROR("copy: table %s: %s", st->t[i].name, balai_strerror(rc));
            goto out;
        }
        LOG_INFO("copy: table %s: %lld rows", st->t[i].name, (long long)st->t[i].rows);
    }
    rc = dbe->copy_finish(ddb);
    if (rc == BALAI_OK)
        rc = verify(dbe, ddb, 1, st, "before the commit");
    if (rc != BALAI_OK)
        goto out;
    rc = dbe->commit(ddb);
    if (rc != BALAI_OK)
        goto out;
    open = false;
    rc = verify(dbe, ddb, 0, st, "after the commit");
    if (rc != BALAI_OK)
        goto out;
    for (size_t i = 0; report && i < st->n; i++) {
        char hash[33];

        snprintf(hash, sizeof(hash), "%016llx%016llx", (unsigned long long)st->t[i].sum,
                 (unsigned long long)st->t[i].xr);
        report(st->t[i].name, st->t[i].rows, hash, arg);
    }
out:
    if (open)
        (void)dbe->rollback(ddb);
    tables_free(st);
    tables_free(dt);
    free(st);
    free(dt);
    return rc;
}
