/* time.h: wall-clock and monotonic milliseconds. */
#ifndef BALAI_UTIL_TIME_H
#define BALAI_UTIL_TIME_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (Matrix origin_server_ts). */
int64_t balai_now_ms(void);
/* Monotonic milliseconds, for durations and rate limits. */
int64_t balai_mono_ms(void);
/* Monotonic microseconds. */
int64_t balai_mono_us(void);

#endif
