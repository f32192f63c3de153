/* pg.c: the PostgreSQL backend of the store (libpq), for deployments that
 * outgrow one machine (DESIGN.md §3 Storage).
 *
 * DESIGN. The `path` given to open is a libpq connection string or URI
 * (postgres://user@host:port/db?sslmode=verify-full...), passed through as
 * is: TLS, passwords (or a ~/.pgpass / PGPASSFILE) and timeouts are libpq's.
 *  - The WRITE connection is used by one thread at a time (the writer
 *    thread, or the owner thread at open and in exec). A batch is one
 *    transaction (READ COMMITTED); BEGIN, each op's SAVEPOINT and RELEASE
 *    are deferred and sent in the same round trip as the next statement
 *    (libpq pipeline mode). A refused statement (a unique violation) must
 *    leave the transaction usable, as with SQLite: the first statement of
 *    an op is undone by ROLLBACK TO the op's savepoint, a later one runs in
 *    a savepoint of its own ("fn", in the same pipeline).
 *  - The database is marked unreachable (balai_store_unavailable) while a
 *    connection is found lost, so that the HTTP edge answers 503.
 *  - The READ side is a pool of up to READ_CONNS connections opened on
 *    demand; a reader borrows one for one statement and returns it before
 *    its rows are handed to the callback.
 * A connection found broken is reset (reconnected) before its next use, so
 * Balai rides out a database restart: the batch or read in flight fails
 * with BALAI_ESTORE, the next one reconnects. Reads are retried once on a
 * fresh connection.
 *
 * Stream positions live in the stream_positions table and are allocated
 * inside the committing transaction by an UPDATE of the stream's row
 * (INSERT ... ON CONFLICT DO UPDATE ... RETURNING): the row stays locked
 * until COMMIT, so positions commit in order, even from several nodes, and
 * a reader never skips a position that commits late. The events INSERT
 * allocates its position in the same statement.
 *
 * Statements are prepared once per connection, at first use (pg_int.h). */
#define LOG_MODULE "postgres"
#include "balai.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "store/postgres/pg_int.h"
#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define READ_CONNS 4
/* Serialises migrations of several nodes opening one database at once. */
#define MIGRATION_LOCK_KEY 0x62616c6169LL /* "balai" */

static atomic_int next_stmt_id;

/* ---- connections ---- */

static void notice_quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

static struct pg_conn *conn_open(const char *conninfo)
{
    /* Defaults the URL may override (expand_dbname: its values win). */
    static const char *const keys[] = {"connect_timeout", "application_name", "client_encoding",
                                       "dbname", NULL};
    const char *vals[] = {"10", "balai", "UTF8", conninfo, NULL};
    struct pg_conn *pc;
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (!c || PQstatus(c) != CONNECTION_OK) {
        LOG_ERROR("cannot connect to PostgreSQL: %s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeReceiver(c, notice_quiet, NULL);
    pc = balai_calloc(1, sizeof(*pc));
    pc->c = c;
    return pc;
}

static void conn_close(struct pg_conn *pc)
{
    if (!pc)
        return;
    PQfinish(pc->c);
    free(pc);
}

/* Reconnects a broken connection; its prepared statements are gone.
 * Keeps db->down up to date. */
static int conn_heal(struct pg_db *db, struct pg_conn *pc)
{
    if (PQstatus(pc->c) == CONNECTION_OK)
        return BALAI_OK;
    atomic_store(&db->down, true);
    LOG_WARN("the PostgreSQL connection was lost; reconnecting");
    memset(pc->prepared, 0, sizeof(pc->prepared));
    PQreset(pc->c);
    if (PQstatus(pc->c) != CONNECTION_OK) {
        LOG_ERROR("cannot reconnect to PostgreSQL: %s", PQerrorMessage(pc->c));
        return BALAI_ESTORE;
    }
    LOG_INFO("reconnected to PostgreSQL");
    return BALAI_OK;
}

/* After a statement: a lost connection marks the database unreachable, a
 * completed statement reachable again. */
static void note_health(struct pg_db *db, PGconn *c, bool ok)
{
    if (ok) {
        if (atomic_load(&db->down))
            atomic_store(&db->down, false);
    } else if (PQstatus(c) != CONNECTION_OK) {
        atomic_store(&db->down, true);
    }
}

static int pg_unavailable(void *p)
{
    struct pg_db *db = p;

    return atomic_load(&db->down) ? 1 : 0;
}

static int stmt_id(struct pg_stmt *s)
{
    int id = atomic_load(&s->id);

    if (id < 0) {
        int want = atomic_fetch_add(&next_stmt_id, 1), expect = -1;

        if (want >= PG_MAX_STMTS)
            abort(); /* programmer error: raise PG_MAX_STMTS */
        if (!atomic_compare_exchange_strong(&s->id, &expect, want))
            want = expect;
        id = want;
    }
    return id;
}

static void stmt_name(struct pg_stmt *s, char out[16])
{
    snprintf(out, 16, "b%d", stmt_id(s));
}

/* Prepares `s` on pc unless it is already. */
static int ensure_prepared(struct pg_conn *pc, struct pg_stmt *s, char name[16])
{
    int id = stmt_id(s);
    PGresult *r;
    int rc = BALAI_OK;

    stmt_name(s, name);
    if (pc->prepared[id])
        return BALAI_OK;
    r = PQprepare(pc->c, name, s->sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        LOG_ERROR("%s: cannot prepare: %s", s->name, PQerrorMessage(pc->c));
        rc = BALAI_ESTORE;
    } else {
        pc->prepared[id] = true;
    }
    PQclear(r);
    return rc;
}

/* ---- errors and values ---- */

int balai__pg_map_err(const PGresult *res, PGconn *c, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

    if (state && strncmp(state, "23", 2) == 0) {
        LOG_DEBUG("%s: constraint %s (%s)", what, cons ? cons : "?", state);
        if (strcmp(state, "23505") == 0)
            return BALAI_EEXIST;
        if (strcmp(state, "23503") == 0)
            return BALAI_ENOTFOUND;
        return BALAI_EINVAL;
    }
    LOG_ERROR("%s: %s", what,
              res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(c));
    return BALAI_ESTORE;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

uint8_t *balai__pg_bytea(const PGresult *r, int row, int col, size_t *len)
{
    const char *v;
    size_t n;
    uint8_t *out;

    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    v = PQgetvalue(r, row, col);
    n = strlen(v);
    if (n < 2 || v[0] != '\\' || v[1] != 'x') {
        LOG_ERROR("a BYTEA value is not in hex format (set bytea_output = hex)");
        return balai_calloc(1, 1);
    }
    v += 2;
    n = (n - 2) / 2;
    out = balai_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

        out[i] = (uint8_t)((hi < 0 ? 0 : hi) << 4 | (lo < 0 ? 0 : lo));
    }
    *len = n;
    return out;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Runs simple-protocol SQL (one or more statements) on a connection. */
static int exec_simple(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    int rc = BALAI_OK;

    if (!result_ok(r) && PQresultStatus(r) != PGRES_EMPTY_QUERY)
        rc = balai__pg_map_err(r, c, what);
    PQclear(r);
    return rc;
}

/* ---- the write connection ---- */

/* Collects the control statements to send before the next statement. */
static int pending_prefix(struct pg_db *db, const char *pre[4])
{
    int n = 0;

    if (db->begin_pending)
        pre[n++] = "BEGIN";
    if (db->release_pending)
        pre[n++] = "RELEASE SAVEPOINT op";
    if (db->op_sp == OP_SP_PENDING)
        pre[n++] = "SAVEPOINT op";
    return n;
}

static void pending_sent(struct pg_db *db)
{
    db->begin_pending = false;
    db->release_pending = false;
    if (db->op_sp == OP_SP_PENDING)
        db->op_sp = OP_SP_LIVE;
}

/* Sends pre[0..npre), then the prepared statement (if pname) wrapped in
 * "SAVEPOINT fn" / "RELEASE SAVEPOINT fn" when `wrap`, in one pipeline, and
 * reads the results. *out gets the statement's result on success; if the
 * statement fails, `undo` (if set) makes the transaction usable again. */
static int run_pipeline(struct pg_db *db, const char *const *pre, int npre, const char *pname,
                        const struct pg_args *a, bool wrap, const char *undo, PGresult **out,
                        const char *what)
{
    PGconn *c = db->w->c;
    const char *cmds[8];
    PGresult *res[8] = {0}, *r;
    int ncmd = 0, stmt_at = -1, rc = BALAI_OK;
    bool sent = true, recover = false;

    *out = NULL;
    for (int i = 0; i < npre; i++)
        cmds[ncmd++] = pre[i];
    if (pname) {
        if (wrap)
            cmds[ncmd++] = "SAVEPOINT fn";
        stmt_at = ncmd;
        cmds[ncmd++] = NULL; /* the statement */
        if (wrap)
            cmds[ncmd++] = "RELEASE SAVEPOINT fn";
    }
    if (!PQenterPipelineMode(c)) {
        LOG_ERROR("%s: cannot enter pipeline mode: %s", what, PQerrorMessage(c));
        return BALAI_ESTORE;
    }
    for (int i = 0; i < ncmd && sent; i++) {
        if (i == stmt_at)
            sent = PQsendQueryPrepared(c, pname, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                                       a ? a->fmt : NULL, 0);
        else
            sent = PQsendQueryParams(c, cmds[i], 0, NULL, NULL, NULL, NULL, 0);
    }
    if (sent)
        sent = PQpipelineSync(c);
    if (!sent) {
        LOG_ERROR("%s: cannot send: %s", what, PQerrorMessage(c));
        rc = BALAI_ESTORE;
        goto out;
    }
    for (int i = 0; i < ncmd; i++) {
        res[i] = PQgetResult(c);
        if (!res[i])
            break; /* the connection broke */
        while ((r = PQgetResult(c)) != NULL)
            PQclear(r);
    }
    r = PQgetResult(c);
    if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        LOG_WARN("%s: unexpected result after the pipeline", what);
    PQclear(r);
    for (int i = 0; i < ncmd; i++) {
        if (res[i] && result_ok(res[i]))
            continue;
        if (res[i] && PQresultStatus(res[i]) == PGRES_PIPELINE_ABORTED)
            continue; /* after the failure reported below */
        rc = balai__pg_map_err(res[i], c, i == stmt_at ? what : cmds[i]);
        if (i != stmt_at)
            rc = BALAI_ESTORE;
        else
            recover = undo != NULL;
        break;
    }
    if (rc == BALAI_OK && stmt_at >= 0) {
        *out = res[stmt_at];
        res[stmt_at] = NULL;
    }
out:
    if (!PQexitPipelineMode(c))
        LOG_DEBUG("%s: leaving pipeline mode: %s", what, PQerrorMessage(c));
    for (int i = 0; i < ncmd; i++)
        PQclear(res[i]);
    if (recover && exec_simple(c, undo, "statement rollback") != BALAI_OK)
        rc = BALAI_ESTORE;
    return rc;
}

int balai__pg_wexec(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, int *changes,
                    PGresult **res)
{
    const char *pre[4], *undo = NULL;
    char name[16];
    PGresult *r = NULL;
    int npre, rc;
    bool guard = db->in_txn && db->fn_depth == 0, in_op = db->op_sp != OP_SP_NONE;
    /* A refused statement must leave the transaction usable (as SQLite
     * does): the first statement of an op falls back to the op's own
     * savepoint, a later one gets a savepoint of its own. */
    bool wrap = guard && (!in_op || db->op_dirty);

    if (wrap)
        undo = "ROLLBACK TO SAVEPOINT fn; RELEASE SAVEPOINT fn";
    else if (guard)
        undo = "ROLLBACK TO SAVEPOINT op";

    if (res)
        *res = NULL;
    rc = ensure_prepared(db->w, s, name);
    if (rc != BALAI_OK)
        return rc;
    npre = pending_prefix(db, pre);
    if (npre == 0 && !wrap) {
        r = PQexecPrepared(db->w->c, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                           a ? a->fmt : NULL, 0);
        note_health(db, db->w->c, result_ok(r));
        if (!result_ok(r)) {
            rc = balai__pg_map_err(r, db->w->c, s->name);
            PQclear(r);
            if (undo && exec_simple(db->w->c, undo, "statement rollback") != BALAI_OK)
                rc = BALAI_ESTORE;
            return rc;
        }
    } else {
        rc = run_pipeline(db, pre, npre, name, a, wrap, undo, &r, s->name);
        note_health(db, db->w->c, rc == BALAI_OK);
        if (rc == BALAI_OK || r || db->in_txn)
            pending_sent(db); /* sent, even if the statement failed */
        if (rc != BALAI_OK)
            return rc;
    }
    if (in_op)
        db->op_dirty = true;
    if (changes) {
        const char *t = PQcmdTuples(r);
        *changes = t && t[0] ? atoi(t) : 0;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return BALAI_OK;
}

int balai__pg_wexec_one(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a)
{
    int n = 0;
    int rc = balai__pg_wexec(db, s, a, &n, NULL);

    if (rc == BALAI_OK && n == 0)
        rc = BALAI_ENOTFOUND;
    return rc;
}

int balai__pg_wexec_int(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, int64_t *out)
{
    PGresult *r = NULL;
    int rc = balai__pg_wexec(db, s, a, NULL, &r);

    if (rc != BALAI_OK)
        return rc;
    if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0)) {
        LOG_ERROR("%s: no value returned", s->name);
        rc = BALAI_ESTORE;
    } else {
        *out = pc_int(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

/* Sends the pending control statements (and `extra`, if set) now. */
static int flush_pending(struct pg_db *db, const char *extra, const char *what)
{
    const char *pre[5];
    int n = pending_prefix(db, pre);
    PGresult *r = NULL;
    int rc;

    if (extra)
        pre[n++] = extra;
    if (n == 0)
        return BALAI_OK;
    rc = run_pipeline(db, pre, n, NULL, NULL, false, NULL, &r, what);
    pending_sent(db);
    return rc;
}

int balai__pg_fn_begin(struct pg_db *db)
{
    int rc = BALAI_OK;

    if (db->fn_depth == 0 && db->in_txn) {
        rc = flush_pending(db, "SAVEPOINT fnx", "fn savepoint");
        if (rc != BALAI_OK)
            return rc;
        db->fn_sp = true;
    }
    db->fn_depth++;
    return rc;
}

int balai__pg_fn_end(struct pg_db *db, int rc)
{
    if (--db->fn_depth > 0 || !db->fn_sp)
        return rc;
    db->fn_sp = false;
    if (rc != BALAI_OK) {
        if (exec_simple(db->w->c, "ROLLBACK TO SAVEPOINT fnx; RELEASE SAVEPOINT fnx",
                        "fn rollback") != BALAI_OK)
            return BALAI_ESTORE;
        return rc;
    }
    if (exec_simple(db->w->c, "RELEASE SAVEPOINT fnx", "fn release") != BALAI_OK)
        return BALAI_ESTORE;
    return rc;
}

static struct pg_conn *racquire(struct pg_db *db);
static void rrelease(struct pg_db *db, struct pg_conn *pc);

int balai__pg_wsql(struct pg_db *db, const char *sql, const struct pg_args *a, PGresult **out)
{
    PGresult *r;
    int rc = flush_pending(db, NULL, "pending control");

    *out = NULL;
    if (rc != BALAI_OK)
        return rc;
    r = PQexecParams(db->w->c, sql, a ? a->n : 0, NULL, a ? a->v : NULL, a ? a->len : NULL,
                     a ? a->fmt : NULL, 0);
    if (!result_ok(r)) {
        rc = balai__pg_map_err(r, db->w->c, "statement");
        PQclear(r);
        return rc;
    }
    *out = r;
    return BALAI_OK;
}

int balai__pg_rsql(struct pg_db *db, const char *sql, PGresult **out)
{
    struct pg_conn *pc = racquire(db);
    PGresult *r;
    int rc = BALAI_OK;

    *out = NULL;
    if (!pc)
        return BALAI_ESTORE;
    if (conn_heal(db, pc) != BALAI_OK) {
        rrelease(db, pc);
        return BALAI_ESTORE;
    }
    r = PQexec(pc->c, sql);
    if (!result_ok(r)) {
        rc = balai__pg_map_err(r, pc->c, "query");
        PQclear(r);
        r = NULL;
    }
    rrelease(db, pc);
    *out = r;
    return rc;
}

/* ---- the read side ---- */

static struct pg_conn *racquire(struct pg_db *db)
{
    struct pg_conn *pc = NULL;

    pthread_mutex_lock(&db->rlock);
    while (!db->rfree && db->ropen >= READ_CONNS)
        pthread_cond_wait(&db->rfree_cond, &db->rlock);
    if (db->rfree) {
        pc = db->rfree;
        db->rfree = pc->next;
        pc->next = NULL;
        pthread_mutex_unlock(&db->rlock);
        return pc;
    }
    db->ropen++;
    pthread_mutex_unlock(&db->rlock);
    pc = conn_open(db->conninfo);
    if (!pc) {
        atomic_store(&db->down, true);
        pthread_mutex_lock(&db->rlock);
        db->ropen--;
        pthread_cond_signal(&db->rfree_cond);
        pthread_mutex_unlock(&db->rlock);
    }
    return pc;
}

static void rrelease(struct pg_db *db, struct pg_conn *pc)
{
    pthread_mutex_lock(&db->rlock);
    pc->next = db->rfree;
    db->rfree = pc;
    pthread_cond_signal(&db->rfree_cond);
    pthread_mutex_unlock(&db->rlock);
}

int balai__pg_read(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, PGresult **out)
{
    struct pg_conn *pc = racquire(db);
    PGresult *r = NULL;
    char name[16];
    int rc = BALAI_ESTORE;

    *out = NULL;
    if (!pc)
        return BALAI_ESTORE;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (conn_heal(db, pc) != BALAI_OK)
            break;
        rc = ensure_prepared(pc, s, name);
        if (rc == BALAI_OK) {
            r = PQexecPrepared(pc->c, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                               a ? a->fmt : NULL, 0);
            note_health(db, pc->c, result_ok(r));
            if (result_ok(r)) {
                rc = BALAI_OK;
                break;
            }
            rc = balai__pg_map_err(r, pc->c, s->name);
            PQclear(r);
            r = NULL;
        }
        if (PQstatus(pc->c) == CONNECTION_OK)
            break; /* a real error, not a lost connection: no retry */
    }
    rrelease(db, pc);
    *out = r;
    return rc;
}

int balai__pg_each(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a,
                   int (*row)(const PGresult *, int, void *), void *ctx)
{
    PGresult *r;
    int rc = balai__pg_read(db, s, a, &r);

    if (rc != BALAI_OK)
        return rc;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
        rc = row(r, i, ctx);
        if (rc != 0)
            break;
    }
    PQclear(r);
    return rc;
}

/* ---- migrations ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int query_int(PGconn *c, const char *sql, int64_t *out)
{
    PGresult *r = PQexec(c, sql);
    int rc = BALAI_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        LOG_ERROR("'%s' failed: %s", sql, PQerrorMessage(c));
        rc = BALAI_ESTORE;
    } else {
        *out = pc_int(r, 0, 0);
    }
    PQclear(r);
    return rc;
}

static int apply_migration(PGconn *c, const struct balai_pg_migration *m)
{
    const char *vals[3];
    char vbuf[24], tbuf[24];
    PGresult *r = NULL;
    int rc;

    rc = exec_simple(c, "BEGIN", "migration begin");
    if (rc != BALAI_OK)
        return rc;
    rc = exec_simple(c, m->sql, m->name);
    if (rc != BALAI_OK)
        goto out;
    snprintf(vbuf, sizeof(vbuf), "%d", m->version);
    snprintf(tbuf, sizeof(tbuf), "%lld", (long long)now_ms());
    vals[0] = vbuf;
    vals[1] = m->name;
    vals[2] = tbuf;
    r = PQexecParams(c,
                     "INSERT INTO schema_migrations (version, name, applied_ts)"
                     " VALUES ($1, $2, $3)",
                     3, NULL, vals, NULL, NULL, 0);
    if (!result_ok(r)) {
        rc = balai__pg_map_err(r, c, "record migration");
        goto out;
    }
    rc = exec_simple(c, "COMMIT", "migration commit");
    if (rc == BALAI_OK)
        LOG_INFO("applied schema migration %d: %s", m->version, m->name);
out:
    PQclear(r);
    if (rc != BALAI_OK) {
        (void)exec_simple(c, "ROLLBACK", "migration rollback");
        LOG_ERROR("schema migration %d (%s) failed", m->version, m->name);
    }
    return rc;
}

static int migrate(PGconn *c)
{
    const size_t n = balai_pg_migrations_len;
    int64_t have = 0, locked = 0;
    char sql[96];
    int rc;

    snprintf(sql, sizeof(sql), "SELECT 1 FROM (SELECT pg_advisory_lock(%lld)) x",
             MIGRATION_LOCK_KEY);
    rc = query_int(c, sql, &locked);
    if (rc != BALAI_OK)
        return rc;
    rc = exec_simple(c,
                     "SET client_min_messages = warning;"
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version INTEGER PRIMARY KEY NOT NULL,"
                     " name TEXT NOT NULL,"
                     " applied_ts BIGINT NOT NULL)",
                     "create schema_migrations");
    if (rc != BALAI_OK)
        goto out;
    rc = query_int(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", &have);
    if (rc != BALAI_OK)
        goto out;
    if (have > balai_pg_migrations[n - 1].version) {
        LOG_ERROR("database schema version %lld is newer than this build's %d; refusing to open",
                  (long long)have, balai_pg_migrations[n - 1].version);
        rc = BALAI_ESTORE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct balai_pg_migration *m = &balai_pg_migrations[i];

        if (m->version != (int)i + 1) {
            LOG_ERROR("schema migration %zu is numbered %d", i + 1, m->version);
            rc = BALAI_ESTORE;
            goto out;
        }
        if (m->version <= have)
            continue;
        rc = apply_migration(c, m);
        if (rc != BALAI_OK)
            goto out;
    }
out:
    snprintf(sql, sizeof(sql), "SELECT 1 FROM (SELECT pg_advisory_unlock(%lld)) x",
             MIGRATION_LOCK_KEY);
    (void)query_int(c, sql, &locked);
    return rc;
}

/* ---- open, close ---- */

static void pg_close(void *p)
{
    struct pg_db *db = p;

    if (!db)
        return;
    while (db->rfree) {
        struct pg_conn *pc = db->rfree;

        db->rfree = pc->next;
        conn_close(pc);
    }
    conn_close(db->w);
    pthread_mutex_destroy(&db->rlock);
    pthread_cond_destroy(&db->rfree_cond);
    free(db->conninfo);
    free(db);
}

static int pg_open(const char *conninfo, void **out)
{
    struct pg_db *db;
    const char *enc;
    int rc;

    *out = NULL;
    if (!PQisthreadsafe()) {
        LOG_ERROR("the libpq library is built without thread support");
        return BALAI_ESTORE;
    }
    db = balai_calloc(1, sizeof(*db));
    db->conninfo = balai_strdup(conninfo);
    pthread_mutex_init(&db->rlock, NULL);
    pthread_cond_init(&db->rfree_cond, NULL);
    db->w = conn_open(conninfo);
    if (!db->w) {
        rc = BALAI_ESTORE;
        goto out;
    }
    rc = exec_simple(db->w->c,
                     "SET client_min_messages = warning; SET bytea_output = hex;"
                     " SET synchronous_commit = on",
                     "session settings");
    if (rc != BALAI_OK)
        goto out;
    enc = PQparameterStatus(db->w->c, "server_encoding");
    if (!enc || strcmp(enc, "UTF8") != 0) {
        LOG_ERROR("the database's encoding is %s; Balai needs UTF8 (CREATE DATABASE ... "
                  "ENCODING 'UTF8' TEMPLATE template0)",
                  enc ? enc : "unknown");
        rc = BALAI_ESTORE;
        goto out;
    }
    rc = migrate(db->w->c);
    if (rc != BALAI_OK)
        goto out;
    *out = db;
    db = NULL;
out:
    pg_close(db);
    return rc;
}

/* ---- transaction control ---- */

static int pg_begin(void *p)
{
    struct pg_db *db = p;

    if (db->in_txn) {
        LOG_ERROR("begin: a transaction is already open");
        return BALAI_ESTORE;
    }
    if (conn_heal(db, db->w) != BALAI_OK)
        return BALAI_ESTORE;
    db->in_txn = true;
    db->begin_pending = true;
    db->release_pending = false;
    db->op_sp = OP_SP_NONE;
    return BALAI_OK;
}

static int pg_savepoint(void *p)
{
    struct pg_db *db = p;

    if (!db->in_txn) {
        LOG_ERROR("savepoint: no transaction is open");
        return BALAI_ESTORE;
    }
    if (db->op_sp != OP_SP_NONE) {
        LOG_ERROR("savepoint: the previous op's savepoint is still open");
        return BALAI_ESTORE;
    }
    db->op_sp = OP_SP_PENDING;
    db->op_dirty = false;
    return BALAI_OK;
}

static int pg_release(void *p)
{
    struct pg_db *db = p;

    if (!db->in_txn)
        return BALAI_ESTORE;
    if (db->op_sp == OP_SP_LIVE)
        db->release_pending = true;
    db->op_sp = OP_SP_NONE;
    return BALAI_OK;
}

static int pg_rollback_to(void *p)
{
    struct pg_db *db = p;

    if (!db->in_txn)
        return BALAI_ESTORE;
    if (db->op_sp != OP_SP_LIVE)
        return BALAI_OK; /* nothing was sent since the savepoint */
    return exec_simple(db->w->c, "ROLLBACK TO SAVEPOINT op", "rollback to");
}

static int pg_commit(void *p)
{
    struct pg_db *db = p;
    PGresult *r;
    int rc = BALAI_OK;

    if (!db->in_txn)
        return BALAI_ESTORE;
    if (db->begin_pending) {
        db->in_txn = false; /* nothing was sent: nothing to commit */
        db->begin_pending = false;
        db->op_sp = OP_SP_NONE;
        return BALAI_OK;
    }
    if (PQtransactionStatus(db->w->c) != PQTRANS_INTRANS) {
        LOG_ERROR("commit: the transaction is not usable");
        return BALAI_ESTORE; /* the caller rolls back */
    }
    r = PQexec(db->w->c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = balai__pg_map_err(r, db->w->c, "commit");
    note_health(db, db->w->c, rc == BALAI_OK);
    PQclear(r);
    if (rc == BALAI_OK) {
        db->in_txn = false;
        db->release_pending = false;
        db->op_sp = OP_SP_NONE;
    }
    return rc;
}

static int pg_rollback(void *p)
{
    struct pg_db *db = p;
    int rc = BALAI_OK;

    db->in_txn = false;
    db->begin_pending = false;
    db->release_pending = false;
    db->op_sp = OP_SP_NONE;
    db->fn_depth = 0;
    db->fn_sp = false;
    if (PQstatus(db->w->c) != CONNECTION_OK)
        return BALAI_OK; /* the server rolled it back */
    if (PQtransactionStatus(db->w->c) != PQTRANS_IDLE)
        rc = exec_simple(db->w->c, "ROLLBACK", "rollback");
    return rc;
}

/* ---- stream positions ---- */

PG_STMT(s_next_pos, "next_pos",
        "INSERT INTO stream_positions (stream, pos) VALUES ($1, 1)"
        " ON CONFLICT (stream) DO UPDATE SET pos = stream_positions.pos + 1 RETURNING pos");
PG_STMT(s_pos_current, "pos_current", "SELECT pos FROM stream_positions WHERE stream = $1");
PG_STMT(s_schema_version, "schema_version",
        "SELECT coalesce(max(version), 0) FROM schema_migrations");

int balai__pg_next_pos(void *p, const char *stream, int64_t *out)
{
    struct pg_args a = {0};

    if (!stream)
        return BALAI_EINVAL;
    pa_text(&a, stream);
    return balai__pg_wexec_int(p, &s_next_pos, &a, out);
}

static int64_t pg_pos_current(void *p, const char *stream)
{
    struct pg_args a = {0};
    PGresult *r;
    int64_t pos = 0;
    int rc;

    pa_text(&a, stream);
    rc = balai__pg_read(p, &s_pos_current, &a, &r);
    if (rc != BALAI_OK)
        return rc;
    if (PQntuples(r) > 0)
        pos = pc_int(r, 0, 0);
    PQclear(r);
    return pos;
}

static int pg_schema_version(void *p, int *out)
{
    PGresult *r;
    int rc = balai__pg_read(p, &s_schema_version, NULL, &r);

    if (rc != BALAI_OK)
        return rc;
    *out = PQntuples(r) > 0 ? (int)pc_int(r, 0, 0) : 0;
    PQclear(r);
    return BALAI_OK;
}

/* Settings, for tests and diagnostics: server settings by SHOW. */
static int pg_debug_setting(void *p, const char *name, char **out)
{
    static const char *const allowed[] = {"synchronous_commit", "transaction_isolation",
                                          "server_version", "ssl", "fsync"};
    struct pg_db *db = p;
    PGresult *r;
    char *sql;
    int rc = BALAI_OK;

    *out = NULL;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(allowed); i++) {
        if (strcmp(name, allowed[i]) == 0)
            goto found;
    }
    if (strcmp(name, "ssl_in_use") == 0) {
        *out = balai_strdup(PQsslInUse(db->w->c) ? "1" : "0");
        return BALAI_OK;
    }
    return BALAI_EINVAL;
found:
    sql = balai_asprintf("SHOW %s", name);
    r = PQexec(db->w->c, sql);
    free(sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *out = balai_strdup(PQgetvalue(r, 0, 0));
    else
        rc = balai__pg_map_err(r, db->w->c, "debug_setting");
    PQclear(r);
    return rc;
}

const struct balai_store_backend balai_store_postgres_backend = {
    .abi = BALAI_STORE_BACKEND_ABI,
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .user_insert = balai__pg_user_insert,
    .user_set_password = balai__pg_user_set_password,
    .user_set_displayname = balai__pg_user_set_displayname,
    .user_set_avatar_url = balai__pg_user_set_avatar_url,
    .user_set_admin = balai__pg_user_set_admin,
    .user_deactivate = balai__pg_user_deactivate,
    .device_upsert = balai__pg_device_upsert,
    .device_delete = balai__pg_device_delete,
    .token_insert = balai__pg_token_insert,
    .token_delete = balai__pg_token_delete,
    .meta_set = balai__pg_meta_set,
    .next_pos = balai__pg_next_pos,
    .room_insert = balai__pg_room_insert,
    .event_insert = balai__pg_event_insert,
    .state_set = balai__pg_state_set,
    .txn_insert = balai__pg_txn_insert,
    .alias_insert = balai__pg_alias_insert,
    .alias_delete = balai__pg_alias_delete,
    .forget = balai__pg_forget,
    .unforget = balai__pg_unforget,
    .event_set_blob = balai__pg_event_set_blob,
    .users_each = balai__pg_users_each,
    .devices_each = balai__pg_devices_each,
    .tokens_each = balai__pg_tokens_each,
    .meta_get = balai__pg_meta_get,
    .pos_current = pg_pos_current,
    .schema_version = pg_schema_version,
    .rooms_each = balai__pg_rooms_each,
    .state_each = balai__pg_state_each,
    .room_events = balai__pg_room_events,
    .events_after = balai__pg_events_after,
    .policy_events_each = balai__pg_policy_events_each,
    .room_members_at = balai__pg_room_members_at,
    .event_get = balai__pg_event_get,
    .txns_each = balai__pg_txns_each,
    .aliases_each = balai__pg_aliases_each,
    .forgotten_each = balai__pg_forgotten_each,
    .account_data_set = balai__pg_account_data_set,
    .account_data_each = balai__pg_account_data_each,
    .receipt_set = balai__pg_receipt_set,
    .receipts_each = balai__pg_receipts_each,
    .room_publish = balai__pg_room_publish,
    .published_each = balai__pg_published_each,
    .e2e_key_set = balai__pg_e2e_key_set,
    .e2e_key_delete = balai__pg_e2e_key_delete,
    .e2e_keys_each = balai__pg_e2e_keys_each,
    .to_device_add = balai__pg_to_device_add,
    .to_device_delete = balai__pg_to_device_delete,
    .to_device_each = balai__pg_to_device_each,
    .device_list_add = balai__pg_device_list_add,
    .device_data_delete = balai__pg_device_data_delete,
    .device_list_changes = balai__pg_device_list_changes,
    .relation_insert = balai__pg_relation_insert,
    .relation_delete = balai__pg_relation_delete,
    .redaction_set = balai__pg_redaction_set,
    .relations_each = balai__pg_relations_each,
    .redactions_each = balai__pg_redactions_each,
    .org_person_set = balai__pg_org_person_set,
    .org_unit_set = balai__pg_org_unit_set,
    .org_unit_delete = balai__pg_org_unit_delete,
    .org_people_each = balai__pg_org_people_each,
    .org_units_each = balai__pg_org_units_each,
    .audit_append = balai__pg_audit_append,
    .audit_tail = balai__pg_audit_tail,
    .audit_each = balai__pg_audit_each,
    .dlp_incident_add = balai__pg_dlp_incident_add,
    .dlp_incidents_each = balai__pg_dlp_incidents_each,
    .dlp_held_add = balai__pg_dlp_held_add,
    .dlp_held_delete = balai__pg_dlp_held_delete,
    .dlp_held_each = balai__pg_dlp_held_each,
    .report_add = balai__pg_report_add,
    .report_close = balai__pg_report_close,
    .reports_each = balai__pg_reports_each,
    .suspension_set = balai__pg_suspension_set,
    .suspensions_each = balai__pg_suspensions_each,
    .dlp_setting_set = balai__pg_dlp_setting_set,
    .dlp_settings_each = balai__pg_dlp_settings_each,
    .scim_token_add = balai__pg_scim_token_add,
    .scim_token_delete = balai__pg_scim_token_delete,
    .scim_user_set = balai__pg_scim_user_set,
    .scim_group_set = balai__pg_scim_group_set,
    .scim_group_delete = balai__pg_scim_group_delete,
    .scim_member_set = balai__pg_scim_member_set,
    .scim_member_remove_all = balai__pg_scim_member_remove_all,
    .scim_tokens_each = balai__pg_scim_tokens_each,
    .scim_users_each = balai__pg_scim_users_each,
    .scim_groups_each = balai__pg_scim_groups_each,
    .scim_members_each = balai__pg_scim_members_each,
    .rule_set = balai__pg_rule_set,
    .rule_delete = balai__pg_rule_delete,
    .rules_each = balai__pg_rules_each,
    .rule_member_set = balai__pg_rule_member_set,
    .rule_members_each = balai__pg_rule_members_each,
    .offboarding_add = balai__pg_offboarding_add,
    .offboarding_close = balai__pg_offboarding_close,
    .offboardings_each = balai__pg_offboardings_each,
    .user_reactivate = balai__pg_user_reactivate,
    .copy_tables = balai__pg_copy_tables,
    .copy_rows = balai__pg_copy_rows,
    .copy_load = balai__pg_copy_load,
    .copy_finish = balai__pg_copy_finish,
    .unavailable = pg_unavailable,
    .debug_setting = pg_debug_setting,
    .events_per_day = balai__pg_events_per_day,
};
