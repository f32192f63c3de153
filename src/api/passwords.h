/* passwords.h: Argon2id hashing and verification on the password pool.
 *
 * The loop thread never hashes: these queue the work on app->hash_pool and
 * call `done` back on the loop thread. When the pool's queue is full they
 * return BALAI_EBUSY and `done` is never called. */
#ifndef BALAI_API_PASSWORDS_H
#define BALAI_API_PASSWORDS_H

#include "api/app.h"

/* rc is BALAI_OK or BALAI_EAUTH for verify; for hash, new_hash is the result (borrowed
 * for the duration of the call). */
typedef void (*balai_pw_done_fn)(void *arg, int rc, const char *new_hash);

/* Verifies pw against hash (NULL hash: checks a dummy hash and fails, so that unknown
 * users take as long as known ones). */
int balai_api_pw_verify(struct balai_app *app, const char *hash, const char *pw,
                        balai_pw_done_fn done, void *arg);
int balai_api_pw_hash(struct balai_app *app, const char *pw, balai_pw_done_fn done, void *arg);

/* Sets user_id's password to pw (already checked against the policy): hashes
 * it on the pool, stores it, logs every device out when logout_devices, audits
 * `action` (a static string) by `actor`, and answers req: 200 {} or the error. */
struct balai_http_req;
void balai_api_password_set(struct balai_http_req *req, const char *user_id, const char *pw,
                            int logout_devices, const char *actor, const char *action);

#endif
