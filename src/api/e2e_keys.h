/* e2e_keys.h: every user's end-to-end encryption public keys in memory,
 * loaded from the store at start and updated when a write commits: device
 * keys, one-time keys, fallback keys and cross-signing keys (see struct
 * balai_e2e_key_rec in store/store.h for the kinds). The /keys endpoints
 * and /sync (one-time key counts) read them from here.
 *
 * Keys are public key material, kept as serialised JSON text. Key ids are
 * "<algorithm>:<id>". Loop thread only. */
#ifndef BALAI_API_E2E_KEYS_H
#define BALAI_API_E2E_KEYS_H

#include <jansson.h>
#include <stddef.h>

#include "api/app.h"
#include "util/buf.h"

struct balai_e2e_keys;

#define BALAI_E2E_DEVICE "device"
#define BALAI_E2E_OTK "otk"
#define BALAI_E2E_FALLBACK "fallback"
#define BALAI_E2E_XSIGN "xsign"

/* Creates app->e2e_keys and loads every key from the store (at start,
 * before serving). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_e2e_keys_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_e2e_keys_free(struct balai_e2e_keys *k);
/* An empty set (tests). */
struct balai_e2e_keys *balai_api_e2e_keys_new(void);

/* Records a committed key (strings are copied), replacing the same
 * (user, device, kind, key_id). */
void balai_api_e2e_keys_put(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                            const char *kind, const char *key_id, const char *json, int used);
/* Forgets a key; absent keys are ignored. */
void balai_api_e2e_keys_del(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                            const char *kind, const char *key_id);
/* Forgets every key of the device (one that went away); device_id NULL:
 * of every device of the user (its cross-signing keys stay). */
void balai_api_e2e_keys_del_device(struct balai_e2e_keys *k, const char *user_id,
                                   const char *device_id);
/* The JSON of a key (borrowed until it changes) or NULL; *used is set when
 * used is non-NULL. */
const char *balai_api_e2e_keys_get(const struct balai_e2e_keys *k, const char *user_id,
                                   const char *device_id, const char *kind, const char *key_id,
                                   int *used);
/* Calls fn for every key of the device (strings borrowed for the call);
 * fn must not change the keys. */
void balai_api_e2e_keys_each(const struct balai_e2e_keys *k, const char *user_id,
                             const char *device_id,
                             void (*fn)(const char *kind, const char *key_id, const char *json,
                                        int used, void *arg),
                             void *arg);
/* The number of one-time keys of the device (all algorithms). */
size_t balai_api_e2e_keys_otk_total(const struct balai_e2e_keys *k, const char *user_id,
                                    const char *device_id);
/* The device's one-time key counts: a new object {algorithm: n}. */
json_t *balai_api_e2e_keys_counts(const struct balai_e2e_keys *k, const char *user_id,
                                  const char *device_id);

/* Claims a key of `algorithm` for the device: a one-time key (forgotten
 * here at once, so concurrent claims never get the same key) else the
 * unused fallback key (marked used here) else a used one. On success
 * *key_id and *json are new strings (caller frees), *fallback is 1 for a
 * fallback key, and the caller must persist the change (delete the
 * one-time key, or set the fallback key used). BALAI_ENOTFOUND when the
 * device has no key of that algorithm. */
int balai_api_e2e_keys_claim(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                             const char *algorithm, char **key_id, char **json, int *fallback);

/* Appends ,"device_one_time_keys_count":{...},"device_unused_fallback_key_types":[...]
 * (with the leading comma) for the device to b: the sync callback, with the
 * struct balai_e2e_keys as src. */
void balai_api_e2e_keys_sync_write(void *src, const char *user_id, const char *device_id,
                                   struct balai_buf *b);

/* The algorithm of a key id "<algorithm>:<id>" as a new string (caller
 * frees), or NULL when the id has no ':' or an empty part. */
char *balai_api_e2e_key_algorithm(const char *key_id);

#endif
