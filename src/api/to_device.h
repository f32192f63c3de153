/* to_device.h: to-device messages waiting for their target device, in
 * memory, loaded from the store at start and updated when a send commits;
 * /sync delivers them (to_device.events) and deletes those the device has
 * synced past. Each message has a "to_device" stream position; its content
 * is serialised JSON text. Loop thread only. */
#ifndef BALAI_API_TO_DEVICE_H
#define BALAI_API_TO_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "util/buf.h"

struct balai_to_device;

/* At most this many messages per /sync response. */
#define BALAI_TO_DEVICE_SYNC_MAX 100

/* Creates app->to_device and loads every waiting message from the store (at
 * start, before serving). Returns 0 or a negative BALAI_E* (store error). */
int balai_api_to_device_load(struct balai_app *app);

/* Message content is sealed at rest with the recipient's key (the one
 * account data uses), bound to the recipient's user and device. Seal runs on
 * the writer thread (it may create the key); it returns "s1." and the
 * base64 of the sealed bytes as a new string (caller frees), or NULL. Open
 * returns the JSON text as a new string, or NULL when the key is missing
 * or the data damaged. */
char *balai_api_to_device_seal(struct balai_app *app, const char *user_id, const char *device_id,
                               const char *json);
char *balai_api_to_device_open(struct balai_app *app, const char *user_id, const char *device_id,
                               const char *stored);
/* NULL-safe. */
void balai_api_to_device_free(struct balai_to_device *td);
/* An empty set (tests). */
struct balai_to_device *balai_api_to_device_new(void);

/* Records a committed message (strings are copied); positions of a device
 * must be added in increasing order. */
void balai_api_to_device_add(struct balai_to_device *td, const char *user_id, const char *device_id,
                             int64_t pos, const char *sender, const char *type,
                             const char *content);
/* Forgets the device's messages at positions <= upto; returns how many. */
size_t balai_api_to_device_drop(struct balai_to_device *td, const char *user_id,
                                const char *device_id, int64_t upto);
/* Forgets the messages of every device of the user (a deactivation). */
void balai_api_to_device_drop_user(struct balai_to_device *td, const char *user_id);
/* The highest position of all messages ever added (0 when none). */
int64_t balai_api_to_device_pos(const struct balai_to_device *td);
/* The highest position of the device's waiting messages (0 when none). */
int64_t balai_api_to_device_device_pos(const struct balai_to_device *td, const char *user_id,
                                       const char *device_id);

/* Appends to b the device's messages after `after` as comma-separated
 * {"type","sender","content"} objects, at most BALAI_TO_DEVICE_SYNC_MAX,
 * and returns how many. *upto gets the position a sync token may carry:
 * the last one written when more remain, else balai_api_to_device_pos. */
size_t balai_api_to_device_write(void *src, const char *user_id, const char *device_id,
                                 int64_t after, struct balai_buf *b, int64_t *upto);

/* A /sync of the device with a token at position upto: forgets its messages
 * at positions <= upto (delivered before) and, when there were any, deletes
 * them from the store (in the background; a failure is logged). */
void balai_api_to_device_ack(struct balai_app *app, const char *user_id, const char *device_id,
                             int64_t upto);

/* Transaction IDs seen (in memory only): returns 1 when (user, device, txn)
 * was already seen, else records it and returns 0. */
int balai_api_to_device_txn_seen(struct balai_to_device *td, const char *user_id,
                                 const char *device_id, const char *txn_id);
/* Forgets a recorded transaction ID (a send that failed). */
void balai_api_to_device_txn_forget(struct balai_to_device *td, const char *user_id,
                                    const char *device_id, const char *txn_id);

#endif
