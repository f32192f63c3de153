/* accounts.h: the in-memory registry of users, devices and access sessions.
 *
 * Loaded from the store at start and kept in step with it: callers persist
 * a change through the writer first and apply it here when it committed
 * (except revocation, which applies here at once). Lookups are O(1) hash
 * lookups; an access token is found by its SHA-256, never stored in clear.
 * Loop thread only: no locking. */
#ifndef BALAI_CORE_ACCOUNTS_H
#define BALAI_CORE_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

struct balai_session;

struct balai_device {
    struct balai_device *next; /* in user->devices */
    struct balai_user *user;
    char *device_id;
    char *display_name;
    int64_t created_ts;
    int64_t last_seen_ts;
    char last_seen_ip[46];
    struct balai_session *sessions; /* tokens of this device */
};

struct balai_user {
    char *user_id;
    char *password_hash; /* NULL: cannot log in */
    int admin;
    int deactivated;
    int system; /* the organisation's agent @balai:SERVER */
    char *displayname;
    char *avatar_url;
    int64_t created_ts;
    struct balai_device *devices;
};

struct balai_session {
    struct balai_session *next; /* in device->sessions */
    uint8_t hash[32];
    struct balai_device *device;
    /* Hooks (e.g. a parked /sync) may hang state here; see the revoke hook. */
    void *waiters;
};

struct balai_accounts;

/* Called when a session is revoked, before it is freed. */
typedef void (*balai_revoke_fn)(struct balai_session *s, void *arg);

struct balai_accounts *balai_accounts_new(void);
void balai_accounts_free(struct balai_accounts *a);
void balai_accounts_set_revoke_hook(struct balai_accounts *a, balai_revoke_fn fn, void *arg);

size_t balai_accounts_user_count(const struct balai_accounts *a);
/* Borrowed, valid until the user is removed (users are never removed while the server runs). */
struct balai_user *balai_accounts_user(const struct balai_accounts *a, const char *user_id);
/* Adds a user; strings are copied. Returns the user or NULL if the id exists. */
struct balai_user *balai_accounts_add_user(struct balai_accounts *a, const char *user_id,
                                           const char *password_hash, int admin, int system,
                                           int64_t created_ts);
void balai_user_set_password_hash(struct balai_user *u, const char *hash);
void balai_user_set_displayname(struct balai_user *u, const char *v);
void balai_user_set_avatar_url(struct balai_user *u, const char *v);

struct balai_device *balai_user_device(const struct balai_user *u, const char *device_id);
/* Adds or returns the existing device; display_name replaces the old when not NULL. */
struct balai_device *balai_accounts_add_device(struct balai_accounts *a, struct balai_user *u,
                                               const char *device_id, const char *display_name,
                                               int64_t created_ts);
/* Removes a device and revokes its sessions. */
void balai_accounts_remove_device(struct balai_accounts *a, struct balai_device *d);

struct balai_session *balai_accounts_add_session(struct balai_accounts *a, struct balai_device *d,
                                                 const uint8_t hash[32]);
struct balai_session *balai_accounts_session(const struct balai_accounts *a,
                                             const uint8_t hash[32]);
void balai_accounts_revoke_session(struct balai_accounts *a, struct balai_session *s);
/* Revokes every session of the user whose device is not `keep` (NULL: all). */
void balai_accounts_revoke_user(struct balai_accounts *a, struct balai_user *u,
                                const struct balai_device *keep);
/* Marks deactivated, clears the password, removes every device and session. */
void balai_accounts_deactivate(struct balai_accounts *a, struct balai_user *u);

/* Calls fn for every user, in no particular order; fn returns non-zero to stop. */
int balai_accounts_each(const struct balai_accounts *a, int (*fn)(struct balai_user *u, void *arg),
                        void *arg);
/* Users sorted by id, strictly after `from` (NULL: from the start), at most
 * `limit`. Fills out[] (borrowed pointers) and returns the count. */
size_t balai_accounts_list(const struct balai_accounts *a, const char *from, size_t limit,
                           struct balai_user **out);

#endif
