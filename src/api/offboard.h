/* offboard.h: offboarding in one step, and reactivation (DESIGN.md §5).
 *
 * balai_api_offboard() is what POST /_balai/admin/v1/users/{userId}/offboard,
 * SCIM `active: false` and `balai user offboard USER` all call. In order:
 *
 *   1. stewardship: balai_api_stewardship_on_departure() hands the person's
 *      rooms on to successors (before anything else, so that their
 *      departure never orphans a room);
 *   2. access, at once: every access token and device is removed (a /sync
 *      the person has parked ends with M_UNKNOWN_TOKEN), the account is
 *      deactivated (password cleared: login refused);
 *   3. directory: employment status "terminated"; their rule-owned
 *      memberships are forgotten (api/rules.h) so no rule competes;
 *   4. rooms: one membership event per room they are in (joined, invited or
 *      knocking): a kick by the system user, or, where the auth rules do not
 *      let the system user (not in the room, a direct message, or the
 *      person's power level is not below its own), their leave written on
 *      their behalf; reason "offboarded: REASON". Rooms are swept again
 *      until none is left (a join that was in flight is caught too);
 *   5. history is kept: nothing is deleted or redacted. Legal hold: there is
 *      none yet, so the record says "legal_hold": false;
 *   6. the OFFBOARDING RECORD, signed with the server's Ed25519 key like a
 *      Matrix object (canonical JSON without "signatures" and "unsigned",
 *      signature under signatures.SERVER_NAME."ed25519:KEYID"), is stored
 *      (append-only, migration 15) with the audit entry "user.offboard" in
 *      the same transaction.
 *
 * The record (type "id.balai.offboarding.v1"): user_id, server_name, actor,
 * reason, started_ts, completed_ts, tokens_revoked, devices_removed,
 * rooms_left [{room_id, event_id, method: "kick"|"leave"}], rooms_failed
 * [{room_id, error}], stewardships_passed, stewardships_unfilled,
 * employment_status, account_deactivated, history_kept, legal_hold,
 * signatures.
 *
 * It is one OPERATION, not one database transaction (each room's membership
 * is its own event): access ends before anything else is written, and the
 * record is written last, listing what was done. If the server stops
 * half-way, offboarding the person again finishes the job (access is
 * already gone, the rooms left are skipped) and writes the record.
 *
 * IDEMPOTENT: a person with a current record is not offboarded again; the
 * existing record is the answer. A record is current from its writing until
 * the account is active again (reactivated here, or by SCIM `active: true`). Reactivation (balai_api_reactivate, POST
 * /users/{userId}/reactivate) ends the record's currency (it is kept),
 * clears the deactivation, makes the employment status "active", optionally
 * sets a new password (none otherwise: the person cannot log in until one
 * is set), and the membership rules put them back in their rule rooms.
 *
 * Loop thread only. */
#ifndef BALAI_API_OFFBOARD_H
#define BALAI_API_OFFBOARD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/app.h"

#define BALAI_OFFBOARD_RECORD_TYPE "id.balai.offboarding.v1"

/* Called once when the offboarding finished: rc 0 with the signed record
 * (borrowed: take a reference to keep it), or a negative code with record
 * NULL (BALAI_ESTORE: the record could not be stored; access is gone all
 * the same and a retry finishes the job). */
typedef void (*balai_offboard_done_fn)(void *arg, int rc, json_t *record);

/* Offboards user_id (see above). actor (e.g. "cli", "scim", an admin's
 * user id) and reason (NULL = none; at most 500 bytes are kept) are
 * copied. Returns 0 and later calls done(arg, ...) exactly once — at once,
 * before returning, when the person already has a current record (nothing
 * is done again) — or returns BALAI_ENOTFOUND (no such user) or
 * BALAI_EFORBIDDEN (the system user) without calling done. Two calls for
 * the same person while one runs share its outcome. */
int balai_api_offboard(struct balai_app *app, const char *user_id, const char *actor,
                       const char *reason, balai_offboard_done_fn done, void *arg);

/* The person's latest record (borrowed, valid until the next offboarding or
 * reactivation of that person), or NULL; *current (may be NULL) says whether
 * it still stands (not reactivated since). */
json_t *balai_api_offboard_record(struct balai_app *app, const char *user_id, int *current);

/* Non-zero while user_id is being offboarded or has a current record
 * (membership rules leave such a person alone). */
int balai_api_offboard_in_effect(struct balai_app *app, const char *user_id);

/* Checks a record's signature with the Ed25519 public key pk (32 bytes)
 * under key id `key_id` ("ed25519:...") of server `server_name`. Returns 0,
 * BALAI_EINVAL when the record or its signature is malformed or missing,
 * BALAI_ECRYPTO when the signature does not verify. Any thread. */
int balai_api_offboard_verify(const json_t *record, const char *server_name, const char *key_id,
                              const uint8_t pk[32]);

/* Loads the records (load_messaging, after the directory). 0 or a store error. */
int balai_api_offboard_load(struct balai_app *app);
/* The admin routes: POST /users/{userId}/offboard, GET /users/{userId}/offboarding,
 * POST /users/{userId}/reactivate, GET /server/keys. From balai_api_init. */
int balai_api_offboard_routes(struct balai_app *app);
/* NULL-safe. */
void balai_api_offboard_free(struct balai_app *app);

#endif
