/* throttle.h: keyed rate limiting (token buckets), e.g. logins per account
 * and per client address. Loop thread only. */
#ifndef BALAI_CORE_THROTTLE_H
#define BALAI_CORE_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct balai_throttle;

/* `burst` events allowed at once, refilled at burst per window_ms. */
struct balai_throttle *balai_throttle_new(int64_t burst, int64_t window_ms);
void balai_throttle_free(struct balai_throttle *t);
/* BALAI_OK if an event for `key` is allowed now (does not count it), else
 * BALAI_ELIMIT with the wait in *retry_after_ms. */
int balai_throttle_check(struct balai_throttle *t, const char *key, int64_t now_ms,
                         int64_t *retry_after_ms);
/* Counts one event for `key`. */
void balai_throttle_hit(struct balai_throttle *t, const char *key, int64_t now_ms);
/* Forgets `key` (e.g. after a successful login). */
void balai_throttle_reset(struct balai_throttle *t, const char *key);

#endif
