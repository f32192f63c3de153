/* account_data.h: every user's account data (global and per room) in
 * memory, loaded from the store at start and updated when a write commits;
 * /sync and the account data endpoints read it from here.
 *
 * Each entry keeps its content as serialised JSON text and the
 * "account_data" stream position of its last change. In the store the
 * content is sealed with the user's key (balai_api_user_key_name) and bound
 * to (user, room, type) (balai_api_account_data_ad). Loop thread only. */
#ifndef BALAI_API_ACCOUNT_DATA_H
#define BALAI_API_ACCOUNT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "sync/sync.h"

struct balai_account_data;
struct balai_store_txn;

/* Creates app->account_data and loads every entry from the store (at start,
 * before serving). An entry that cannot be unsealed is logged and skipped.
 * Returns 0 or a negative BALAI_E* (store error). */
int balai_api_account_data_load(struct balai_app *app);
/* NULL-safe. */
void balai_api_account_data_free(struct balai_account_data *ad);

/* The committed content of (user, room, type), room_id NULL or "" for
 * global data: borrowed until the next change of that entry; NULL when
 * absent. *len is set when len is non-NULL. */
const char *balai_api_account_data_get(const struct balai_account_data *ad, const char *user_id,
                                       const char *room_id, const char *type, size_t *len);
/* Records a committed change (strings are copied). An older pos than the
 * entry's is ignored. */
void balai_api_account_data_put(struct balai_account_data *ad, const char *user_id,
                                const char *room_id, const char *type, const char *json, size_t len,
                                int64_t pos);

/* Writes submitted but not yet committed, for read-modify-write endpoints
 * (room tags) that must build on each other: latest() is the newest
 * submitted content, else the committed one, else NULL (borrowed until the
 * next call of these functions). pending_begin records a submitted content
 * (copied); pending_end is called once per pending_begin when its write
 * completed. */
const char *balai_api_account_data_latest(const struct balai_account_data *ad, const char *user_id,
                                          const char *room_id, const char *type);
void balai_api_account_data_pending_begin(struct balai_account_data *ad, const char *user_id,
                                          const char *room_id, const char *type, const char *json);
void balai_api_account_data_pending_end(struct balai_account_data *ad, const char *user_id,
                                        const char *room_id, const char *type);

/* The write of an entry, for store ops (writer thread, inside apply): seals
 * json (len bytes) with the user's data key (created when missing) and sets
 * (user, room, type), room_id "" for global data; *pos gets the new
 * position. Memory is not touched: call balai_api_account_data_put once
 * committed. Returns 0 or a negative BALAI_E*. */
int balai_api_account_data_txn_set(struct balai_app *app, struct balai_store_txn *t,
                                   const char *user_id, const char *room_id, const char *type,
                                   const char *json, size_t len, int64_t *pos);

/* The highest committed position of all users (0 when none). */
int64_t balai_api_account_data_pos(const struct balai_account_data *ad);
/* The highest position of one user's entries (0 when none). */
int64_t balai_api_account_data_user_pos(const struct balai_account_data *ad, const char *user_id);

/* A balai_sync_ad_each_fn, with the struct balai_account_data as src: visits
 * the entries of user_id in room_id (NULL = global) with pos > after. */
void balai_api_account_data_each(void *src, const char *user_id, const char *room_id, int64_t after,
                                 balai_sync_ad_visit_fn visit, void *arg);

/* The keystore name of a user's data key ("user:<user_id>:0"). */
void balai_api_user_key_name(const char *user_id, char *out, size_t outlen);
/* The associated data that binds a sealed entry to its place: a new string
 * (caller frees) and its length in *len. */
char *balai_api_account_data_ad(const char *user_id, const char *room_id, const char *type,
                                size_t *len);

#endif
