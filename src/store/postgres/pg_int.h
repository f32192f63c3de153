/* pg_int.h: what the PostgreSQL backend's files share (store/postgres/ only).
 *
 * The backend is these files: pg.c (connections, the read pool, statement
 * execution, transaction control, stream positions and the backend table),
 * schema.c (the migrations), pg_accounts.c (users, devices, tokens, meta),
 * pg_rooms.c (rooms, events, state, txns, aliases, forgotten), pg_sync.c
 * (account data, receipts, the room directory, end-to-end keys, to-device
 * messages, device-list changes, relations and redactions), pg_org.c (the
 * organisation directory and the audit trail), pg_dlp.c (DLP and
 * moderation), pg_scim.c (SCIM provisioning), pg_rules.c (membership
 * rules and offboarding) and pg_copy.c (bulk copy, balai db migrate-to). The backend functions
 * follow the contracts of store_int.h, with the SQLite backend as the reference.
 *
 * Statements are `struct pg_stmt` objects defined next to the function that
 * runs them (PG_STMT); each connection prepares a statement once, at its
 * first use there (PQprepare), under a name derived from the statement's id.
 * Parameters go as text (numbers formatted here) or binary (BYTEA); results
 * come back as text. */
#ifndef BALAI_STORE_POSTGRES_PG_INT_H
#define BALAI_STORE_POSTGRES_PG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "store/store_int.h"

/* One schema migration, as for SQLite: numbered from 1, append only. */
struct balai_pg_migration {
    int version;
    const char *name;
    const char *sql; /* one or more statements, run in one transaction */
};

extern const struct balai_pg_migration balai_pg_migrations[];
extern const size_t balai_pg_migrations_len;

/* A statement. `id` is assigned at first use (an index into each
 * connection's prepared[] table); never share one between two SQL texts. */
struct pg_stmt {
    const char *name; /* for logs */
    const char *sql;  /* $1, $2, ... parameters */
    _Atomic int id;   /* -1 until first use */
};

#define PG_STMT(var, nm, q) static struct pg_stmt var = {nm, q, -1}
#define PG_MAX_STMTS 512
#define PG_MAX_PARAMS 32

/* One connection and the statements prepared on it. */
struct pg_conn {
    PGconn *c;
    bool prepared[PG_MAX_STMTS];
    struct pg_conn *next; /* the read pool's free list */
};

/* The backend's state: the `db` of store_int.h. */
struct pg_db {
    char *conninfo;
    /* The write connection: one thread at a time (writer or owner). */
    struct pg_conn *w;
    /* Transaction control is deferred: BEGIN, the op savepoint and its
     * RELEASE are sent in the same round trip as the next statement. */
    bool in_txn;          /* begin() ran, commit()/rollback() not yet */
    bool begin_pending;   /* BEGIN not yet sent */
    bool release_pending; /* RELEASE SAVEPOINT op not yet sent */
    enum { OP_SP_NONE, OP_SP_PENDING, OP_SP_LIVE } op_sp;
    bool op_dirty; /* a statement of the current op succeeded */
    int fn_depth;  /* nesting of balai__pg_fn_begin */
    bool fn_sp;    /* the outermost fn_begin made a savepoint */
    /* The read side: a pool of connections opened on demand, guarded by rlock. */
    pthread_mutex_t rlock;
    pthread_cond_t rfree_cond;
    struct pg_conn *rfree;
    int ropen;        /* read connections open (free or lent) */
    atomic_bool down; /* a connection was found lost and not yet re-established */
};

/* Statement parameters. Strings are borrowed until the statement has run. */
struct pg_args {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
};

/* Appends a text parameter; NULL is SQL NULL. */
static inline void pa_text(struct pg_args *a, const char *s)
{
    if (a->n >= PG_MAX_PARAMS)
        abort(); /* programmer error: raise PG_MAX_PARAMS */
    a->v[a->n] = s;
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

/* Appends an integer parameter. */
static inline void pa_int(struct pg_args *a, int64_t v)
{
    if (a->n >= PG_MAX_PARAMS)
        abort();
    snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)v);
    a->v[a->n] = a->num[a->n];
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

/* Appends a BYTEA parameter (binary); NULL is SQL NULL. */
static inline void pa_bytea(struct pg_args *a, const void *b, size_t len)
{
    if (a->n >= PG_MAX_PARAMS)
        abort();
    a->v[a->n] = b ? (len ? (const char *)b : "") : NULL; /* "": empty, not NULL */
    a->len[a->n] = (int)len;
    a->fmt[a->n] = 1;
    a->n++;
}

/* Result columns (text format). */
static inline const char *pc_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static inline int64_t pc_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Decodes a BYTEA column into a new buffer (caller frees; NULL and *len 0
 * for SQL NULL; an empty value gives a non-NULL buffer and *len 0). */
uint8_t *balai__pg_bytea(const PGresult *r, int row, int col, size_t *len);

/* Maps a failed result to a BALAI_E* (logged: constraint failures at debug
 * level, naming the constraint, never values). */
int balai__pg_map_err(const PGresult *res, PGconn *c, const char *what);

/* Runs write statement `s` on the write connection. Inside a transaction
 * and outside balai__pg_fn_begin, the statement runs in a savepoint of its
 * own (pipelined: one round trip), so that a refused statement leaves the
 * transaction usable, as with SQLite. *changes (if set) gets the rows
 * affected, *res (if set) the result (caller PQclear). */
int balai__pg_wexec(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, int *changes,
                    PGresult **res);
/* Like balai__pg_wexec, then BALAI_ENOTFOUND if no row was affected. */
int balai__pg_wexec_one(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a);
/* Runs a statement returning one integer in its first row (RETURNING). */
int balai__pg_wexec_int(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, int64_t *out);
/* Brackets several write statements that must apply all or nothing: a
 * nested savepoint. fn_end returns rc, or BALAI_ESTORE if it cannot close
 * the savepoint; on rc != 0 it rolls the bracket back. */
int balai__pg_fn_begin(struct pg_db *db);
int balai__pg_fn_end(struct pg_db *db, int rc);

/* Runs read statement `s` on a pooled read connection and calls row() for
 * each row until it returns non-zero, which it returns. The connection is
 * back in the pool before the first row() call, so row() may read again. */
int balai__pg_each(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a,
                   int (*row)(const PGresult *, int, void *), void *ctx);
/* Runs read statement `s` and returns its result (caller PQclear). */
int balai__pg_read(struct pg_db *db, struct pg_stmt *s, const struct pg_args *a, PGresult **out);

/* Runs SQL that is not a prepared statement (bulk copy, diagnostics): on
 * the write connection inside its transaction (no savepoint of its own:
 * a failure leaves the transaction aborted), or on a read connection. */
int balai__pg_wsql(struct pg_db *db, const char *sql, const struct pg_args *a, PGresult **out);
int balai__pg_rsql(struct pg_db *db, const char *sql, PGresult **out);

/* Allocates the next position of a stream in the write transaction. */
int balai__pg_next_pos(void *db, const char *stream, int64_t *out);

/* Backend functions of pg_accounts.c. */
int balai__pg_user_insert(void *db, const struct balai_user_rec *u);
int balai__pg_user_set_password(void *db, const char *user_id, const char *hash);
int balai__pg_user_set_displayname(void *db, const char *user_id, const char *v);
int balai__pg_user_set_avatar_url(void *db, const char *user_id, const char *v);
int balai__pg_user_set_admin(void *db, const char *user_id, int admin);
int balai__pg_user_deactivate(void *db, const char *user_id);
int balai__pg_user_reactivate(void *db, const char *user_id);
int balai__pg_device_upsert(void *db, const struct balai_device_rec *d);
int balai__pg_device_delete(void *db, const char *user_id, const char *device_id);
int balai__pg_token_insert(void *db, const struct balai_token_rec *r);
int balai__pg_token_delete(void *db, const uint8_t hash[32]);
int balai__pg_meta_set(void *db, const char *key, const char *value);
int balai__pg_users_each(void *db, int (*fn)(const struct balai_user_rec *, void *), void *arg);
int balai__pg_devices_each(void *db, int (*fn)(const struct balai_device_rec *, void *), void *arg);
int balai__pg_tokens_each(void *db, int (*fn)(const struct balai_token_rec *, void *), void *arg);
int balai__pg_meta_get(void *db, const char *key, char **out);

/* Backend functions of pg_rooms.c. */
int balai__pg_room_insert(void *db, const struct balai_room_rec *r);
int balai__pg_event_insert(void *db, struct balai_event_rec *e);
int balai__pg_state_set(void *db, const char *room_id, const char *type, const char *state_key,
                        int64_t event_pos);
int balai__pg_txn_insert(void *db, const char *user_id, const char *device_id, const char *txn_id,
                         const char *event_id, int64_t ts);
int balai__pg_alias_insert(void *db, const char *alias, const char *room_id, const char *creator);
int balai__pg_alias_delete(void *db, const char *alias);
int balai__pg_forget(void *db, const char *user_id, const char *room_id);
int balai__pg_unforget(void *db, const char *user_id, const char *room_id);
int balai__pg_event_set_blob(void *db, const char *event_id, const uint8_t *blob, size_t len,
                             int redacted);
int balai__pg_rooms_each(void *db, int (*fn)(const struct balai_room_rec *, void *), void *arg);
int balai__pg_state_each(void *db, int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__pg_room_events(void *db, const char *room_id, int64_t from, int64_t to, char dir,
                          int limit, int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__pg_events_after(void *db, int64_t after, int limit,
                           int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__pg_policy_events_each(void *db, int (*fn)(const struct balai_event_rec *, void *),
                                 void *arg);
int balai__pg_room_members_at(void *db, const char *room_id, int64_t at,
                              int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__pg_event_get(void *db, const char *event_id,
                        int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__pg_txns_each(void *db, int64_t since_ts,
                        int (*fn)(const char *, const char *, const char *, const char *, int64_t,
                                  void *),
                        void *arg);
int balai__pg_aliases_each(void *db, int (*fn)(const char *, const char *, const char *, void *),
                           void *arg);
int balai__pg_forgotten_each(void *db, int (*fn)(const char *, const char *, void *), void *arg);

/* Backend functions of pg_sync.c. */
int balai__pg_account_data_set(void *db, const char *user_id, const char *room_id, const char *type,
                               const uint8_t *blob, size_t len, const char *key_name, int64_t *pos);
int balai__pg_account_data_each(void *db, int (*fn)(const struct balai_account_data_rec *, void *),
                                void *arg);
int balai__pg_receipt_set(void *db, const char *room_id, const char *user_id, const char *type,
                          const char *thread_id, const char *event_id, int64_t ts, int64_t *pos);
int balai__pg_receipts_each(void *db, int (*fn)(const struct balai_receipt_rec *, void *),
                            void *arg);
int balai__pg_room_publish(void *db, const char *room_id, int published, int64_t ts);
int balai__pg_published_each(void *db, int (*fn)(const char *, int64_t, void *), void *arg);
int balai__pg_e2e_key_set(void *db, const char *user_id, const char *device_id, const char *kind,
                          const char *key_id, const char *json, int used);
int balai__pg_e2e_key_delete(void *db, const char *user_id, const char *device_id, const char *kind,
                             const char *key_id);
int balai__pg_e2e_keys_each(void *db, int (*fn)(const struct balai_e2e_key_rec *, void *),
                            void *arg);
int balai__pg_to_device_add(void *db, const char *user_id, const char *device_id,
                            const char *sender, const char *type, const char *content,
                            int64_t *pos);
int balai__pg_to_device_delete(void *db, const char *user_id, const char *device_id, int64_t upto);
int balai__pg_to_device_each(void *db, int (*fn)(const struct balai_to_device_rec *, void *),
                             void *arg);
int balai__pg_device_list_add(void *db, const char *user_id, int64_t *pos);
int balai__pg_device_data_delete(void *db, const char *user_id, const char *device_id);
int balai__pg_device_list_changes(void *db, int64_t after,
                                  int (*fn)(int64_t pos, const char *user_id, void *), void *arg);
int balai__pg_relation_insert(void *db, const struct balai_relation_rec *r);
int balai__pg_relation_delete(void *db, const char *event_id);
int balai__pg_redaction_set(void *db, const char *event_id, const char *redaction_id);
int balai__pg_relations_each(void *db, int (*fn)(const struct balai_relation_rec *, void *),
                             void *arg);
int balai__pg_redactions_each(void *db, int (*fn)(const char *, const char *, void *), void *arg);

/* Backend functions of pg_org.c. */
int balai__pg_org_person_set(void *db, const struct balai_org_person_rec *p);
int balai__pg_org_unit_set(void *db, const struct balai_org_unit_rec *u);
int balai__pg_org_unit_delete(void *db, const char *unit_id);
int balai__pg_org_people_each(void *db, int (*fn)(const struct balai_org_person_rec *, void *),
                              void *arg);
int balai__pg_org_units_each(void *db, int (*fn)(const struct balai_org_unit_rec *, void *),
                             void *arg);
int balai__pg_audit_append(void *db, const struct balai_audit_rec *r);
int balai__pg_audit_tail(void *db, int64_t *seq, uint8_t mac[32]);
int balai__pg_audit_each(void *db, const struct balai_audit_query *q,
                         int (*fn)(const struct balai_audit_rec *, void *), void *arg);

/* Backend functions of pg_dlp.c. */
int balai__pg_dlp_incident_add(void *db, struct balai_dlp_incident_rec *r);
int balai__pg_dlp_incidents_each(void *db, const struct balai_dlp_incident_query *q,
                                 int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                 void *arg);
int balai__pg_dlp_held_add(void *db, const struct balai_dlp_held_rec *r);
int balai__pg_dlp_held_delete(void *db, const char *held_id);
int balai__pg_dlp_held_each(void *db, const char *held_id,
                            int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg);
int balai__pg_report_add(void *db, struct balai_report_rec *r);
int balai__pg_report_close(void *db, int64_t id, const char *status, const char *by,
                           const char *note, int64_t ts);
int balai__pg_reports_each(void *db, const char *status, int64_t id, int limit,
                           int (*fn)(const struct balai_report_rec *, void *), void *arg);
int balai__pg_suspension_set(void *db, const char *user_id, int suspended, const char *actor,
                             int64_t ts);
int balai__pg_suspensions_each(void *db, int (*fn)(const char *, int64_t, const char *, void *),
                               void *arg);
int balai__pg_dlp_setting_set(void *db, const char *kind, const char *name, const char *value,
                              int64_t ts);
int balai__pg_dlp_settings_each(
    void *db, int (*fn)(const char *, const char *, const char *, int64_t, void *), void *arg);

/* Backend functions of pg_copy.c. */
int balai__pg_copy_tables(void *db, int (*fn)(const char *table, void *), void *arg);
int balai__pg_copy_rows(void *db, int writer, const char *table,
                        int (*fn)(const struct balai_store_row *, void *), void *arg);
int balai__pg_copy_load(void *db, const struct balai_store_row *row);
int balai__pg_copy_finish(void *db);

/* Backend functions of pg_scim.c. */
int balai__pg_scim_token_add(void *db, const struct balai_scim_token_rec *r);
int balai__pg_scim_token_delete(void *db, const char *token_id);
int balai__pg_scim_user_set(void *db, const struct balai_scim_user_rec *r);
int balai__pg_scim_group_set(void *db, const struct balai_scim_group_rec *r);
int balai__pg_scim_group_delete(void *db, const char *scim_id);
int balai__pg_scim_member_set(void *db, const char *group_id, const char *user_id, int member);
int balai__pg_scim_member_remove_all(void *db, const char *user_id);
int balai__pg_scim_tokens_each(void *db, int (*fn)(const struct balai_scim_token_rec *, void *),
                               void *arg);
int balai__pg_scim_users_each(void *db, int (*fn)(const struct balai_scim_user_rec *, void *),
                              void *arg);
int balai__pg_scim_groups_each(void *db, int (*fn)(const struct balai_scim_group_rec *, void *),
                               void *arg);
int balai__pg_scim_members_each(void *db, int (*fn)(const char *, const char *, void *), void *arg);

/* Backend functions of pg_rules.c. */
int balai__pg_rule_set(void *db, const char *rule_id, const char *rule, int64_t created_ts,
                       int64_t updated_ts);
int balai__pg_rule_delete(void *db, const char *rule_id);
int balai__pg_rules_each(void *db, int (*fn)(const char *, const char *, int64_t, int64_t, void *),
                         void *arg);
int balai__pg_rule_member_set(void *db, const char *user_id, const char *room_id, const char *state,
                              const char *rule_id, int64_t ts);
int balai__pg_rule_members_each(void *db,
                                int (*fn)(const char *, const char *, const char *, const char *,
                                          int64_t, void *),
                                void *arg);
int balai__pg_offboarding_add(void *db, const char *user_id, int64_t ts, const char *record);
int balai__pg_offboarding_close(void *db, const char *user_id);
int balai__pg_offboardings_each(
    void *db, int (*fn)(int64_t, const char *, int64_t, const char *, int, void *), void *arg);
/* pg_stats.c */
int balai__pg_events_per_day(void *db, const char *type, int64_t since_ts,
                             int (*fn)(int64_t, int64_t, int64_t, void *), void *arg);

#endif
