/* notifier.h: parked long-poll waiters, keyed by user, woken by what they would see.
 *
 * A waiter is embedded by its owner (the /sync handler), which also owns
 * its timeout. When something a user would see is committed, the sender
 * calls balai_notifier_wake_user for each affected user; every waiter of
 * that user gets its wake callback, in which it may answer and unpark
 * itself (or stay parked if nothing visible changed). Loop thread only. */
#ifndef BALAI_SYNC_NOTIFIER_H
#define BALAI_SYNC_NOTIFIER_H

#include <stddef.h>

struct balai_waiter {
    /* private links */
    struct balai_waiter *next, *prev;
    struct balai_waiter_list *list;
    /* set by the owner */
    void (*wake)(struct balai_waiter *w);
};

struct balai_notifier;

struct balai_notifier *balai_notifier_new(void);
/* Frees the notifier; waiters still parked are unlinked, not called. */
void balai_notifier_free(struct balai_notifier *n);
/* Parks w (not already parked) under user_id. */
void balai_notifier_park(struct balai_notifier *n, const char *user_id, struct balai_waiter *w);
/* Unparks w; safe when not parked and from within its own wake callback. */
void balai_notifier_unpark(struct balai_notifier *n, struct balai_waiter *w);
/* Calls wake for every waiter parked under user_id. */
void balai_notifier_wake_user(struct balai_notifier *n, const char *user_id);
/* Number of parked waiters (for metrics). */
size_t balai_notifier_parked(const struct balai_notifier *n);

#endif
