/* sqlite_int.h: what the SQLite backend's files share (store/sqlite/ only).
 *
 * The backend is these files: sqlite.c (connections, migrations, the statement
 * tables, transactions, stream positions and the backend table), schema.c
 * (the migrations), sqlite_accounts.c (users, devices, tokens, meta) and
 * sqlite_rooms.c (rooms, events, state, txns, aliases, forgotten),
 * sqlite_account_data.c (account data), sqlite_receipts.c (receipts),
 * sqlite_device_lists.c (device-list changes, a gone device's data) and
 * sqlite_directory.c (the room directory). The
 * backend functions follow the contracts of store_int.h. */
#ifndef BALAI_STORE_SQLITE_SQLITE_INT_H
#define BALAI_STORE_SQLITE_SQLITE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store_int.h"

/* One schema migration. Versions start at 1 and increase by one; a
 * migration, once released, is never edited: changes go in a new one. */
struct balai_sqlite_migration {
    int version;
    const char *name; /* short description, recorded in schema_migrations */
    const char *sql;  /* one or more statements, run in one transaction */
};

extern const struct balai_sqlite_migration balai_sqlite_migrations[];
extern const size_t balai_sqlite_migrations_len;

/* A prepared statement's definition, in the tables of sqlite.c. */
struct stmt_def {
    const char *name; /* for logs */
    const char *sql;
};

/* Statements of the write connection (their SQL: balai__sqlite_wdefs). */
enum wstmt {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVEPOINT,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_FN_SAVEPOINT,
    W_FN_RELEASE,
    W_FN_ROLLBACK_TO,
    W_USER_INSERT,
    W_USER_SET_PASSWORD,
    W_USER_SET_DISPLAYNAME,
    W_USER_SET_AVATAR_URL,
    W_USER_SET_ADMIN,
    W_USER_DEACTIVATE,
    W_USER_TOKENS_DELETE,
    W_USER_DEVICES_DELETE,
    W_DEVICE_UPSERT,
    W_DEVICE_DELETE,
    W_TOKEN_INSERT,
    W_TOKEN_DELETE,
    W_META_SET,
    W_META_DELETE,
    W_NEXT_POS,
    W_POS_GET,
    W_POS_SET,
    W_ROOM_INSERT,
    W_EVENT_INSERT,
    W_STATE_SET,
    W_TXN_INSERT,
    W_ALIAS_INSERT,
    W_ALIAS_DELETE,
    W_FORGET,
    W_UNFORGET,
    W_EVENT_SET_BLOB,
    W_ACCOUNT_DATA_SET,
    W_RECEIPT_SET,
    W_ROOM_PUBLISH,
    W_ROOM_UNPUBLISH,
    W_E2E_KEY_SET,
    W_E2E_KEY_DELETE,
    W_TO_DEVICE_ADD,
    W_TO_DEVICE_DELETE,
    W_DEVICE_LIST_ADD,
    W_E2E_DEVICE_DELETE,
    W_TO_DEVICE_DEVICE_DELETE,
    W_RELATION_INSERT,
    W_RELATION_DELETE,
    W_REDACTION_SET,
    W__COUNT
};

/* Statements of the read connection (their SQL: balai__sqlite_rdefs). */
enum rstmt {
    R_USERS,
    R_DEVICES,
    R_TOKENS,
    R_META_GET,
    R_POS_CURRENT,
    R_SCHEMA_VERSION,
    R_ROOMS,
    R_STATE,
    R_ROOM_EVENTS_F,
    R_ROOM_EVENTS_B,
    R_EVENTS_AFTER,
    R_POLICY_EVENTS,
    R_MEMBERS_AT,
    R_EVENT_GET,
    R_TXNS,
    R_ALIASES,
    R_FORGOTTEN,
    R_ACCOUNT_DATA,
    R_RECEIPTS,
    R_PUBLISHED,
    R_E2E_KEYS,
    R_TO_DEVICE,
    R_DEVICE_LIST_CHANGES,
    R_RELATIONS,
    R_REDACTIONS,
    R__COUNT
};

extern const struct stmt_def balai__sqlite_wdefs[W__COUNT];
extern const struct stmt_def balai__sqlite_rdefs[R__COUNT];

#define EVENTS_STREAM "events"

/* The cached "events" counter of the open write transaction. */
struct pos_cache {
    bool loaded;  /* cur holds the counter as of this transaction */
    bool dirty;   /* cur is ahead of the stored counter */
    int64_t last; /* the last position allocated (0 = none ever) */
};

/* The backend's state: the `db` of store_int.h. */
struct sqlite_db {
    sqlite3 *w;
    sqlite3_stmt *ws[W__COUNT];
    struct pos_cache ev, ev_at_op; /* write thread; ev_at_op: as at SAVEPOINT op */
    pthread_mutex_t rlock;         /* guards r and rs */
    sqlite3 *r;
    sqlite3_stmt *rs[R__COUNT];
};

/* Binds a text; a NULL pointer binds SQL NULL. */
static inline int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Resets and unbinds a statement after each use. */
static inline void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static inline const char *col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

/* Statement helpers (sqlite.c). */

/* Maps a failed step's result code to a BALAI_E* (logged). */
int balai__sqlite_map_err(sqlite3 *conn, int src, const char *what);
/* Steps a write statement (already bound; `bind` is the OR of the bind
 * results) to completion. If `changes` is set, stores the number of rows the
 * statement itself changed (cascades excluded). */
int balai__sqlite_wrun(struct sqlite_db *db, enum wstmt id, int bind, int *changes);
/* Like balai__sqlite_wrun, then BALAI_ENOTFOUND if no row was changed. */
int balai__sqlite_wrun_one(struct sqlite_db *db, enum wstmt id, int bind);
/* Prepares a one-off statement (the caller finalizes it). On failure logs
 * "what: cannot prepare", sets *out to NULL and returns BALAI_ESTORE. */
int balai__sqlite_prepare_sql(sqlite3 *conn, const char *sql, const char *what, sqlite3_stmt **out);
/* Runs a one-off read query without parameters on the read connection
 * (under rlock), calling row() for each row until it returns non-zero,
 * which it returns; errors are mapped as everywhere else. */
int balai__sqlite_riterate_sql(struct sqlite_db *db, const char *sql, const char *what,
                               int (*row)(sqlite3_stmt *, void *), void *ctx);
/* Steps read statement `id` (already bound, under rlock) and calls row() for
 * each row until it returns non-zero, which it returns. */
int balai__sqlite_riterate(struct sqlite_db *db, enum rstmt id, int (*row)(sqlite3_stmt *, void *),
                           void *ctx);
/* The "events" position cache of the write transaction: peek stores the
 * next position in *out without allocating it; take marks it allocated. */
int balai__sqlite_events_pos_peek(struct sqlite_db *db, int64_t *out);
void balai__sqlite_events_pos_take(struct sqlite_db *db, int64_t pos);

/* Backend functions of sqlite_accounts.c. */
int balai__sqlite_user_insert(void *db, const struct balai_user_rec *u);
int balai__sqlite_user_set_password(void *db, const char *user_id, const char *hash);
int balai__sqlite_user_set_displayname(void *db, const char *user_id, const char *v);
int balai__sqlite_user_set_avatar_url(void *db, const char *user_id, const char *v);
int balai__sqlite_user_set_admin(void *db, const char *user_id, int admin);
int balai__sqlite_user_deactivate(void *db, const char *user_id);
int balai__sqlite_device_upsert(void *db, const struct balai_device_rec *d);
int balai__sqlite_device_delete(void *db, const char *user_id, const char *device_id);
int balai__sqlite_token_insert(void *db, const struct balai_token_rec *r);
int balai__sqlite_token_delete(void *db, const uint8_t hash[32]);
int balai__sqlite_meta_set(void *db, const char *key, const char *value);
int balai__sqlite_users_each(void *db, int (*fn)(const struct balai_user_rec *, void *), void *arg);
int balai__sqlite_devices_each(void *db, int (*fn)(const struct balai_device_rec *, void *),
                               void *arg);
int balai__sqlite_tokens_each(void *db, int (*fn)(const struct balai_token_rec *, void *),
                              void *arg);
int balai__sqlite_meta_get(void *db, const char *key, char **out);

/* Backend functions of sqlite_rooms.c. */
int balai__sqlite_room_insert(void *db, const struct balai_room_rec *r);
int balai__sqlite_event_insert(void *db, struct balai_event_rec *e);
int balai__sqlite_state_set(void *db, const char *room_id, const char *type, const char *state_key,
                            int64_t event_pos);
int balai__sqlite_txn_insert(void *db, const char *user_id, const char *device_id,
                             const char *txn_id, const char *event_id, int64_t ts);
int balai__sqlite_alias_insert(void *db, const char *alias, const char *room_id,
                               const char *creator);
int balai__sqlite_alias_delete(void *db, const char *alias);
int balai__sqlite_forget(void *db, const char *user_id, const char *room_id);
int balai__sqlite_unforget(void *db, const char *user_id, const char *room_id);
int balai__sqlite_event_set_blob(void *db, const char *event_id, const uint8_t *blob, size_t len,
                                 int redacted);
int balai__sqlite_rooms_each(void *db, int (*fn)(const struct balai_room_rec *, void *), void *arg);
int balai__sqlite_state_each(void *db, int (*fn)(const struct balai_event_rec *, void *),
                             void *arg);
int balai__sqlite_room_events(void *db, const char *room_id, int64_t from, int64_t to, char dir,
                              int limit, int (*fn)(const struct balai_event_rec *, void *),
                              void *arg);
int balai__sqlite_events_after(void *db, int64_t after, int limit,
                               int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__sqlite_policy_events_each(void *db, int (*fn)(const struct balai_event_rec *, void *),
                                     void *arg);
int balai__sqlite_room_members_at(void *db, const char *room_id, int64_t at,
                                  int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__sqlite_event_get(void *db, const char *event_id,
                            int (*fn)(const struct balai_event_rec *, void *), void *arg);
int balai__sqlite_txns_each(void *db, int64_t since_ts,
                            int (*fn)(const char *, const char *, const char *, const char *,
                                      int64_t, void *),
                            void *arg);
int balai__sqlite_aliases_each(void *db,
                               int (*fn)(const char *, const char *, const char *, void *),
                               void *arg);
int balai__sqlite_forgotten_each(void *db, int (*fn)(const char *, const char *, void *),
                                 void *arg);

/* Backend functions of sqlite_account_data.c. */
int balai__sqlite_account_data_set(void *db, const char *user_id, const char *room_id,
                                   const char *type, const uint8_t *blob, size_t len,
                                   const char *key_name, int64_t *pos);
int balai__sqlite_account_data_each(void *db,
                                    int (*fn)(const struct balai_account_data_rec *, void *),
                                    void *arg);

/* Backend functions of sqlite_receipts.c. */
int balai__sqlite_receipt_set(void *db, const char *room_id, const char *user_id, const char *type,
                              const char *thread_id, const char *event_id, int64_t ts,
                              int64_t *pos);
int balai__sqlite_receipts_each(void *db, int (*fn)(const struct balai_receipt_rec *, void *),
                                void *arg);

/* Backend functions of sqlite_directory.c. */
int balai__sqlite_room_publish(void *db, const char *room_id, int published, int64_t ts);
int balai__sqlite_published_each(void *db, int (*fn)(const char *, int64_t, void *), void *arg);

/* Backend functions of sqlite_e2e_keys.c. */
int balai__sqlite_e2e_key_set(void *db, const char *user_id, const char *device_id,
                              const char *kind, const char *key_id, const char *json, int used);
int balai__sqlite_e2e_key_delete(void *db, const char *user_id, const char *device_id,
                                 const char *kind, const char *key_id);
int balai__sqlite_e2e_keys_each(void *db, int (*fn)(const struct balai_e2e_key_rec *, void *),
                                void *arg);
int balai__sqlite_to_device_add(void *db, const char *user_id, const char *device_id,
                                const char *sender, const char *type, const char *content,
                                int64_t *pos);
int balai__sqlite_to_device_delete(void *db, const char *user_id, const char *device_id,
                                   int64_t upto);
int balai__sqlite_to_device_each(void *db, int (*fn)(const struct balai_to_device_rec *, void *),
                                 void *arg);

/* Backend functions of sqlite_device_lists.c. */
int balai__sqlite_device_list_add(void *db, const char *user_id, int64_t *pos);
int balai__sqlite_device_data_delete(void *db, const char *user_id, const char *device_id);
int balai__sqlite_device_list_changes(void *db, int64_t after,
                                      int (*fn)(int64_t pos, const char *user_id, void *),
                                      void *arg);

/* Backend functions of sqlite_relations.c. */
int balai__sqlite_relation_insert(void *db, const struct balai_relation_rec *r);
int balai__sqlite_relation_delete(void *db, const char *event_id);
int balai__sqlite_redaction_set(void *db, const char *event_id, const char *redaction_id);
int balai__sqlite_relations_each(void *db, int (*fn)(const struct balai_relation_rec *, void *),
                                 void *arg);
int balai__sqlite_redactions_each(void *db, int (*fn)(const char *, const char *, void *),
                                  void *arg);

/* Backend functions of sqlite_directory_org.c (the organisation directory;
 * its statements are prepared per call: directory writes are rare). */
int balai__sqlite_org_person_set(void *db, const struct balai_org_person_rec *p);
int balai__sqlite_org_unit_set(void *db, const struct balai_org_unit_rec *u);
int balai__sqlite_org_unit_delete(void *db, const char *unit_id);
int balai__sqlite_org_people_each(void *db, int (*fn)(const struct balai_org_person_rec *, void *),
                                  void *arg);
int balai__sqlite_org_units_each(void *db, int (*fn)(const struct balai_org_unit_rec *, void *),
                                 void *arg);

/* Backend functions of sqlite_audit.c. */
int balai__sqlite_audit_append(void *db, const struct balai_audit_rec *r);
int balai__sqlite_audit_tail(void *db, int64_t *seq, uint8_t mac[32]);
int balai__sqlite_audit_each(void *db, const struct balai_audit_query *q,
                             int (*fn)(const struct balai_audit_rec *, void *), void *arg);

/* Backend functions of sqlite_dlp.c (DLP and moderation; statements are
 * prepared per call: these writes and reads are rare). */
int balai__sqlite_dlp_incident_add(void *db, struct balai_dlp_incident_rec *r);
int balai__sqlite_dlp_incidents_each(void *db, const struct balai_dlp_incident_query *q,
                                     int (*fn)(const struct balai_dlp_incident_rec *, void *),
                                     void *arg);
int balai__sqlite_dlp_held_add(void *db, const struct balai_dlp_held_rec *r);
int balai__sqlite_dlp_held_delete(void *db, const char *held_id);
int balai__sqlite_dlp_held_each(void *db, const char *held_id,
                                int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg);
int balai__sqlite_report_add(void *db, struct balai_report_rec *r);
int balai__sqlite_report_close(void *db, int64_t id, const char *status, const char *by,
                               const char *note, int64_t ts);
int balai__sqlite_reports_each(void *db, const char *status, int64_t id, int limit,
                               int (*fn)(const struct balai_report_rec *, void *), void *arg);
int balai__sqlite_suspension_set(void *db, const char *user_id, int suspended, const char *actor,
                                 int64_t ts);
int balai__sqlite_suspensions_each(void *db, int (*fn)(const char *, int64_t, const char *, void *),
                                   void *arg);
int balai__sqlite_dlp_setting_set(void *db, const char *kind, const char *name, const char *value,
                                  int64_t ts);
int balai__sqlite_dlp_settings_each(
    void *db, int (*fn)(const char *, const char *, const char *, int64_t, void *), void *arg);

/* Backend functions of sqlite_scim.c (SCIM provisioning; statements are
 * prepared per call: provisioning writes and loads are rare). */
int balai__sqlite_scim_token_add(void *db, const struct balai_scim_token_rec *r);
int balai__sqlite_scim_token_delete(void *db, const char *token_id);
int balai__sqlite_scim_user_set(void *db, const struct balai_scim_user_rec *r);
int balai__sqlite_scim_group_set(void *db, const struct balai_scim_group_rec *r);
int balai__sqlite_scim_group_delete(void *db, const char *scim_id);
int balai__sqlite_scim_member_set(void *db, const char *group_id, const char *user_id, int member);
int balai__sqlite_scim_member_remove_all(void *db, const char *user_id);
int balai__sqlite_scim_tokens_each(void *db, int (*fn)(const struct balai_scim_token_rec *, void *),
                                   void *arg);
int balai__sqlite_scim_users_each(void *db, int (*fn)(const struct balai_scim_user_rec *, void *),
                                  void *arg);
int balai__sqlite_scim_groups_each(void *db, int (*fn)(const struct balai_scim_group_rec *, void *),
                                   void *arg);
int balai__sqlite_scim_members_each(void *db, int (*fn)(const char *, const char *, void *),
                                    void *arg);

/* Backend functions of sqlite_rules.c (membership rules, offboarding). */
int balai__sqlite_rule_set(void *db, const char *rule_id, const char *rule, int64_t created_ts,
                           int64_t updated_ts);
int balai__sqlite_rule_delete(void *db, const char *rule_id);
int balai__sqlite_rules_each(void *db,
                             int (*fn)(const char *, const char *, int64_t, int64_t, void *),
                             void *arg);
int balai__sqlite_rule_member_set(void *db, const char *user_id, const char *room_id,
                                  const char *state, const char *rule_id, int64_t ts);
int balai__sqlite_rule_members_each(void *db,
                                    int (*fn)(const char *, const char *, const char *,
                                              const char *, int64_t, void *),
                                    void *arg);
int balai__sqlite_offboarding_add(void *db, const char *user_id, int64_t ts, const char *record);
int balai__sqlite_offboarding_close(void *db, const char *user_id);
int balai__sqlite_offboardings_each(
    void *db, int (*fn)(int64_t, const char *, int64_t, const char *, int, void *), void *arg);
int balai__sqlite_user_reactivate(void *db, const char *user_id);
/* Backend functions of sqlite_copy.c (bulk copy, store/copy.c). */
int balai__sqlite_copy_tables(void *db, int (*fn)(const char *table, void *), void *arg);
int balai__sqlite_copy_rows(void *db, int writer, const char *table,
                            int (*fn)(const struct balai_store_row *, void *), void *arg);
int balai__sqlite_copy_load(void *db, const struct balai_store_row *row);
int balai__sqlite_copy_finish(void *db);
/* Always 0: an embedded database is never unreachable. */
int balai__sqlite_unavailable(void *db);
/* sqlite_stats.c */
int balai__sqlite_events_per_day(void *db, const char *type, int64_t since_ts,
                                 int (*fn)(int64_t, int64_t, int64_t, void *), void *arg);
#endif
