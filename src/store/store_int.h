/* store_int.h: the backend interface behind store.h (store/ only).
 *
 * A backend is a constant table of functions, chosen by name at open. Each
 * function takes the backend's own state (`db`, returned by open). A backend
 * holds two kinds of connection: the WRITE connection, used by one thread at
 * a time (the writer thread, or the owner thread in exec and at open), which
 * runs the transaction-control and txn_* functions; and the READ side, used
 * from any thread, which the backend serialises itself.
 *
 * Transaction control, as store.c drives it for one batch:
 *   begin; for each op { savepoint; apply; [rollback_to;] release } commit
 * and on any control failure: rollback. savepoint must fail (not start an
 * implicit transaction) when no transaction is open. Each function returns 0
 * or a negative BALAI_E*, with the same error mapping as store.h.
 *
 * To add a function: append it here (bump BALAI_STORE_BACKEND_ABI), add the
 * dispatching wrapper to store.c and implement it in every backend. */
#ifndef BALAI_STORE_STORE_INT_H
#define BALAI_STORE_STORE_INT_H

#include "store/store.h"

/* A value of a bulk copy row (store/copy.c): NULL, an integer, text (NUL-
 * terminated) or a blob. */
enum balai_store_kind { BALAI_STORE_NULL, BALAI_STORE_INT, BALAI_STORE_TEXT, BALAI_STORE_BLOB };
struct balai_store_value {
    enum balai_store_kind kind;
    int64_t i;
    const uint8_t *p; /* TEXT and BLOB */
    size_t len;
};
/* One row of a table: ncols column names and values, borrowed. */
struct balai_store_row {
    const char *table;
    size_t ncols;
    const char *const *cols;
    const struct balai_store_value *vals;
};

#define BALAI_STORE_BACKEND_ABI 9

struct balai_store_backend {
    int abi; /* BALAI_STORE_BACKEND_ABI */
    const char *name;

    /* Opens the database at `path`, applies migrations, prepares statements.
     * Returns 0 and *db, or BALAI_ESTORE (logged). */
    int (*open)(const char *path, void **db);
    /* NULL-safe. No transaction is open. */
    void (*close)(void *db);

    /* Transaction control on the write connection. */
    int (*begin)(void *db);
    int (*savepoint)(void *db);
    int (*release)(void *db);
    int (*rollback_to)(void *db);
    int (*commit)(void *db);
    int (*rollback)(void *db);

    /* Writes, on the write connection, inside a savepoint. */
    int (*user_insert)(void *db, const struct balai_user_rec *u);
    int (*user_set_password)(void *db, const char *user_id, const char *hash);
    int (*user_set_displayname)(void *db, const char *user_id, const char *v);
    int (*user_set_avatar_url)(void *db, const char *user_id, const char *v);
    int (*user_set_admin)(void *db, const char *user_id, int admin);
    int (*user_deactivate)(void *db, const char *user_id);
    int (*device_upsert)(void *db, const struct balai_device_rec *d);
    int (*device_delete)(void *db, const char *user_id, const char *device_id);
    int (*token_insert)(void *db, const struct balai_token_rec *r);
    int (*token_delete)(void *db, const uint8_t hash[32]);
    int (*meta_set)(void *db, const char *key, const char *value);
    int (*next_pos)(void *db, const char *stream, int64_t *out);
    int (*room_insert)(void *db, const struct balai_room_rec *r);
    int (*event_insert)(void *db, struct balai_event_rec *e);
    int (*state_set)(void *db, const char *room_id, const char *type, const char *state_key,
                     int64_t event_pos);
    int (*txn_insert)(void *db, const char *user_id, const char *device_id, const char *txn_id,
                      const char *event_id, int64_t ts);
    int (*alias_insert)(void *db, const char *alias, const char *room_id, const char *creator);
    int (*alias_delete)(void *db, const char *alias);
    int (*forget)(void *db, const char *user_id, const char *room_id);
    int (*unforget)(void *db, const char *user_id, const char *room_id);
    int (*event_set_blob)(void *db, const char *event_id, const uint8_t *blob, size_t len,
                          int redacted);

    /* Reads, on the read side, from any thread. */
    int (*users_each)(void *db, int (*fn)(const struct balai_user_rec *, void *), void *arg);
    int (*devices_each)(void *db, int (*fn)(const struct balai_device_rec *, void *), void *arg);
    int (*tokens_each)(void *db, int (*fn)(const struct balai_token_rec *, void *), void *arg);
    int (*meta_get)(void *db, const char *key, char **out);
    int64_t (*pos_current)(void *db, const char *stream);
    int (*schema_version)(void *db, int *out);
    int (*rooms_each)(void *db, int (*fn)(const struct balai_room_rec *, void *), void *arg);
    int (*state_each)(void *db, int (*fn)(const struct balai_event_rec *, void *), void *arg);
    /* dir and limit are validated by store.c. */
    int (*room_events)(void *db, const char *room_id, int64_t from, int64_t to, char dir, int limit,
                       int (*fn)(const struct balai_event_rec *, void *), void *arg);
    int (*events_after)(void *db, int64_t after, int limit,
                        int (*fn)(const struct balai_event_rec *, void *), void *arg);
    int (*room_members_at)(void *db, const char *room_id, int64_t at,
                           int (*fn)(const struct balai_event_rec *, void *), void *arg);
    int (*policy_events_each)(void *db, int (*fn)(const struct balai_event_rec *, void *),
                              void *arg);
    int (*event_get)(void *db, const char *event_id,
                     int (*fn)(const struct balai_event_rec *, void *), void *arg);
    int (*txns_each)(void *db, int64_t since_ts,
                     int (*fn)(const char *, const char *, const char *, const char *, int64_t,
                               void *),
                     void *arg);
    int (*aliases_each)(void *db, int (*fn)(const char *, const char *, const char *, void *),
                        void *arg);
    int (*forgotten_each)(void *db, int (*fn)(const char *, const char *, void *), void *arg);

    /* Account data: a write (inside a savepoint) and a read. */
    int (*account_data_set)(void *db, const char *user_id, const char *room_id, const char *type,
                            const uint8_t *blob, size_t len, const char *key_name, int64_t *pos);
    int (*account_data_each)(void *db, int (*fn)(const struct balai_account_data_rec *, void *),
                             void *arg);
    /* Receipts: a write (inside a savepoint) and a read. */
    int (*receipt_set)(void *db, const char *room_id, const char *user_id, const char *type,
                       const char *thread_id, const char *event_id, int64_t ts, int64_t *pos);
    int (*receipts_each)(void *db, int (*fn)(const struct balai_receipt_rec *, void *), void *arg);
    /* Room directory: a write (inside a savepoint) and a read. */
    int (*room_publish)(void *db, const char *room_id, int published, int64_t ts);
    int (*published_each)(void *db, int (*fn)(const char *, int64_t, void *), void *arg);
    /* End-to-end encryption keys: writes (single statements) and a read. */
    int (*e2e_key_set)(void *db, const char *user_id, const char *device_id, const char *kind,
                       const char *key_id, const char *json, int used);
    int (*e2e_key_delete)(void *db, const char *user_id, const char *device_id, const char *kind,
                          const char *key_id);
    int (*e2e_keys_each)(void *db, int (*fn)(const struct balai_e2e_key_rec *, void *), void *arg);
    /* To-device messages: an add (inside a savepoint), a delete and a read. */
    int (*to_device_add)(void *db, const char *user_id, const char *device_id, const char *sender,
                         const char *type, const char *content, int64_t *pos);
    int (*to_device_delete)(void *db, const char *user_id, const char *device_id, int64_t upto);
    int (*to_device_each)(void *db, int (*fn)(const struct balai_to_device_rec *, void *),
                          void *arg);
    /* Device-list changes: an add (inside a savepoint) and a read. */
    int (*device_list_add)(void *db, const char *user_id, int64_t *pos);
    int (*device_data_delete)(void *db, const char *user_id, const char *device_id);
    int (*device_list_changes)(void *db, int64_t after,
                               int (*fn)(int64_t pos, const char *user_id, void *), void *arg);

    /* Event relations and redactions: writes (inside a savepoint) and reads. */
    int (*relation_insert)(void *db, const struct balai_relation_rec *r);
    int (*relation_delete)(void *db, const char *event_id);
    int (*redaction_set)(void *db, const char *event_id, const char *redaction_id);
    int (*relations_each)(void *db, int (*fn)(const struct balai_relation_rec *, void *),
                          void *arg);
    int (*redactions_each)(void *db, int (*fn)(const char *, const char *, void *), void *arg);

    /* The organisation directory: writes (inside a savepoint) and reads. */
    int (*org_person_set)(void *db, const struct balai_org_person_rec *p);
    int (*org_unit_set)(void *db, const struct balai_org_unit_rec *u);
    int (*org_unit_delete)(void *db, const char *unit_id);
    int (*org_people_each)(void *db, int (*fn)(const struct balai_org_person_rec *, void *),
                           void *arg);
    int (*org_units_each)(void *db, int (*fn)(const struct balai_org_unit_rec *, void *),
                          void *arg);

    /* Audit trail: an append and the tail (inside a savepoint), and a read. */
    int (*audit_append)(void *db, const struct balai_audit_rec *r);
    int (*audit_tail)(void *db, int64_t *seq, uint8_t mac[32]);
    int (*audit_each)(void *db, const struct balai_audit_query *q,
                      int (*fn)(const struct balai_audit_rec *, void *), void *arg);

    /* DLP and moderation: writes (inside a savepoint) and reads. */
    int (*dlp_incident_add)(void *db, struct balai_dlp_incident_rec *r);
    int (*dlp_incidents_each)(void *db, const struct balai_dlp_incident_query *q,
                              int (*fn)(const struct balai_dlp_incident_rec *, void *), void *arg);
    int (*dlp_held_add)(void *db, const struct balai_dlp_held_rec *r);
    int (*dlp_held_delete)(void *db, const char *held_id);
    int (*dlp_held_each)(void *db, const char *held_id,
                         int (*fn)(const struct balai_dlp_held_rec *, void *), void *arg);
    int (*report_add)(void *db, struct balai_report_rec *r);
    int (*report_close)(void *db, int64_t id, const char *status, const char *by, const char *note,
                        int64_t ts);
    int (*reports_each)(void *db, const char *status, int64_t id, int limit,
                        int (*fn)(const struct balai_report_rec *, void *), void *arg);
    int (*suspension_set)(void *db, const char *user_id, int suspended, const char *actor,
                          int64_t ts);
    int (*suspensions_each)(void *db, int (*fn)(const char *, int64_t, const char *, void *),
                            void *arg);
    int (*dlp_setting_set)(void *db, const char *kind, const char *name, const char *value,
                           int64_t ts);
    int (*dlp_settings_each)(void *db,
                             int (*fn)(const char *, const char *, const char *, int64_t, void *),
                             void *arg);

    /* SCIM provisioning: writes (inside a savepoint) and reads. */
    int (*scim_token_add)(void *db, const struct balai_scim_token_rec *r);
    int (*scim_token_delete)(void *db, const char *token_id);
    int (*scim_user_set)(void *db, const struct balai_scim_user_rec *r);
    int (*scim_group_set)(void *db, const struct balai_scim_group_rec *r);
    int (*scim_group_delete)(void *db, const char *scim_id);
    int (*scim_member_remove_all)(void *db, const char *user_id);
    int (*scim_member_set)(void *db, const char *group_id, const char *user_id, int member);
    int (*scim_tokens_each)(void *db, int (*fn)(const struct balai_scim_token_rec *, void *),
                            void *arg);
    int (*scim_users_each)(void *db, int (*fn)(const struct balai_scim_user_rec *, void *),
                           void *arg);
    int (*scim_groups_each)(void *db, int (*fn)(const struct balai_scim_group_rec *, void *),
                            void *arg);
    int (*scim_members_each)(void *db, int (*fn)(const char *, const char *, void *), void *arg);

    /* Membership rules and offboarding: writes (inside a savepoint) and reads. */
    int (*rule_set)(void *db, const char *rule_id, const char *rule, int64_t created_ts,
                    int64_t updated_ts);
    int (*rule_delete)(void *db, const char *rule_id);
    int (*rules_each)(void *db, int (*fn)(const char *, const char *, int64_t, int64_t, void *),
                      void *arg);
    int (*rule_member_set)(void *db, const char *user_id, const char *room_id, const char *state,
                           const char *rule_id, int64_t ts);
    int (*rule_members_each)(void *db,
                             int (*fn)(const char *, const char *, const char *, const char *,
                                       int64_t, void *),
                             void *arg);
    int (*offboarding_add)(void *db, const char *user_id, int64_t ts, const char *record);
    int (*offboarding_close)(void *db, const char *user_id);
    int (*offboardings_each)(void *db,
                             int (*fn)(int64_t, const char *, int64_t, const char *, int, void *),
                             void *arg);
    int (*user_reactivate)(void *db, const char *user_id);

    /* Bulk copy (balai db migrate-to, store/copy.c). copy_tables lists the
     * data tables (schema_migrations excluded); copy_rows passes every row
     * of one, from the read side, or from the write connection inside its
     * open transaction when `writer`; copy_load inserts a row on the write
     * connection inside the open transaction; copy_finish ends a load (it
     * moves identity counters past the loaded ids). A backend that cannot
     * be a copy target returns BALAI_ESTATE from copy_load. */
    int (*copy_tables)(void *db, int (*fn)(const char *table, void *), void *arg);
    int (*copy_rows)(void *db, int writer, const char *table,
                     int (*fn)(const struct balai_store_row *, void *), void *arg);
    int (*copy_load)(void *db, const struct balai_store_row *row);
    int (*copy_finish)(void *db);
    /* Non-zero while the backend knows its database unreachable (a lost
     * connection not yet re-established). Any thread, cheap. */
    int (*unavailable)(void *db);

    /* Diagnostics, on the write connection (see balai_store_debug_setting). */
    int (*debug_setting)(void *db, const char *name, char **out);

    /* Admin statistics (read side): see balai_store_events_per_day. */
    int (*events_per_day)(void *db, const char *type, int64_t since_ts,
                          int (*fn)(int64_t, int64_t, int64_t, void *), void *arg);
};

/* The backend and its state behind an open store, for store/ code that
 * drives a backend directly (store/copy.c): NULL while the writer runs. */
const struct balai_store_backend *balai__store_backend(struct balai_store *st, void **db);

extern const struct balai_store_backend balai_store_sqlite_backend;
extern const struct balai_store_backend balai_store_postgres_backend;

#endif
