/* audit.h: the audit trail in the running server: recording entries, the
 * signed chain head outside the database, and verification.
 *
 * DESIGN.md §5 "Audit trail"; the chain itself is gov/audit.h, the action
 * names docs/audit.md. The chain is keyed with balai_kdf(KEK, "audit-hmac")
 * (app->audit_key, set by serve.c from the key file), never stored in the
 * database, so whoever can write the database cannot recompute it.
 *
 * ORDER. Sequence numbers and chain links are assigned INSIDE the committing
 * transaction on the writer thread (like stream positions): each append reads
 * the trail's tail as of its own savepoint. So the chain order is exactly the
 * commit order, a refused write leaves no hole, and an entry can ride in
 * another write's transaction (below). balai_api_audit_log entries of one
 * loop thread commit in call order (the writer keeps submit order).
 *
 * THE HEAD. After every BALAI_AUDIT_HEAD_EVERY committed entries, or
 * BALAI_AUDIT_HEAD_INTERVAL_MS after an entry when fewer came, and at
 * shutdown, the last committed (seq, MAC) is signed with the server's
 * Ed25519 key (app->sign_sk) and written to DATA/audit.head (temp file,
 * fsync, rename, directory fsync) on app->work_pool, never on the loop
 * thread. A cut tail is detected back to the last head written; entries
 * committed after it are not yet covered (a crash loses at most that window's
 * cover, never entries).
 *
 * AT START (balai_api_audit_load) the head is checked against the database:
 * if the database ends before the signed head (a cut tail), the chain goes
 * on from the head (seq head+1, prev = the head's MAC), so the gap stays in
 * the trail for every later verification instead of being papered over; if
 * the head file is missing or invalid while the trail is not empty, an
 * "audit.head_missing" / "audit.head_invalid" entry records it. Either way
 * the server logs an error and keeps running.
 *
 * Threads: everything here is loop thread only, except
 * balai_api_audit_entry_append (writer thread, inside an op's apply) and
 * balai_api_audit_verify (any thread; no app). */
#ifndef BALAI_API_AUDIT_H
#define BALAI_API_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "api/app.h"

struct balai_session;
struct balai_store;
struct balai_store_txn;

#define BALAI_AUDIT_KDF_LABEL "audit-hmac"
#define BALAI_AUDIT_HEAD_FILE "audit.head"
#define BALAI_AUDIT_HEAD_EVERY 100
#define BALAI_AUDIT_HEAD_INTERVAL_MS 2000

/* ---- Life cycle (serve.c, app.c) ---- */

/* Loads the chain state: needs app->store, app->audit_key, app->sign_sk and
 * app->cfg->data_dir; call before the writer starts (load_messaging). Checks
 * the head file against the database (see AT START). Returns 0 or
 * BALAI_ESTORE. */
int balai_api_audit_load(struct balai_app *app);
/* Registers the admin routes (api/admin/audit.c) and starts the head timer
 * (balai_api_audit_start, needs app->loop). Called from balai_api_init. */
int balai_api_admin_audit_routes(struct balai_app *app);
int balai_api_audit_start(struct balai_app *app);
/* Stops the head timer (balai_api_release). */
void balai_api_audit_stop(struct balai_app *app);
/* Writes the head a last time, synchronously, if entries committed since the
 * last one, then frees the state and wipes the key. Call after the last
 * balai_store_drain_completions and after the pools are freed. NULL-safe. */
void balai_api_audit_free(struct balai_app *app);

/* ---- Recording ---- */

/* Records an entry: actor (e.g. "@budi:rs.example", "cli", "system",
 * "scim"), action (docs/audit.md, e.g. "user.login"), target (NULL = none),
 * detail (a JSON object, or NULL for {}; TAKES OWNERSHIP). The strings are
 * copied. Loop thread. The entry is committed by the writer thread in its own
 * savepoint; if that fails it is logged as an error (never silently). */
void balai_api_audit_log(struct balai_app *app, const char *actor, const char *action,
                         const char *target, json_t *detail);

/* The actor of an admin request: the session's user id, or "cli" for the
 * unix socket (s == NULL). Borrowed. */
const char *balai_api_audit_actor(const struct balai_session *s);

/* An entry recorded in ANOTHER write's transaction, so that the action and
 * its record commit together or not at all:
 *
 *     x->audit = balai_api_audit_entry_new(app, actor, "admin.user.create", uid, detail);
 *     ...
 *     apply():  rc = balai_store_txn_user_insert(t, ...);
 *               if (rc == 0) rc = balai_api_audit_entry_append(t, x->audit);
 *               return rc;           <- the append must be the LAST step, or
 *                                       apply must return its rc
 *     done():   balai_api_audit_entry_done(app, x->audit, op->rc);
 *
 * entry_new copies the strings and takes ownership of detail (may be NULL);
 * it never fails. entry_append (writer thread, inside apply) assigns seq and
 * MAC and inserts the row; returns 0 or a store error. entry_done (loop
 * thread, from done(), also when apply never ran or failed) notes the commit
 * for the head and frees the entry; rc is op->rc. */
struct balai_api_audit_entry;
struct balai_api_audit_entry *balai_api_audit_entry_new(struct balai_app *app, const char *actor,
                                                        const char *action, const char *target,
                                                        json_t *detail);
int balai_api_audit_entry_append(struct balai_store_txn *t, struct balai_api_audit_entry *e);
void balai_api_audit_entry_done(struct balai_app *app, struct balai_api_audit_entry *e, int rc);

/* ---- Verification (any thread) ---- */

struct balai_api_audit_report {
    int ok;           /* 1: intact */
    int64_t entries;  /* entries walked */
    int64_t last_seq; /* the last entry's seq */
    int64_t head_seq; /* the signed head's seq, -1 when missing or invalid */
    int64_t bad_seq;  /* when !ok: the first bad (or first missing) entry, 0 = the head */
    char reason[256];
};

/* Walks the whole trail in `st` (pages of 1000 rows, committed data only)
 * with the chain key `key` and checks it against the head file at head_path,
 * whose signature must verify under the server's Ed25519 public key `pk`.
 * Returns 0 with *out filled (intact or not), or a store error. */
int balai_api_audit_verify(struct balai_store *st, const uint8_t key[32], const uint8_t pk[32],
                           const char *head_path, struct balai_api_audit_report *out);
/* {ok, entries, head_seq, last_seq, first_bad: {seq, reason} | null}. New reference. */
json_t *balai_api_audit_report_json(const struct balai_api_audit_report *r);

#endif
