/* time.c: wall-clock and monotonic time. */
#include "balai.h"

#include <time.h>

#include "util/time.h"

int64_t balai_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t balai_mono_ms(void)
{
    return balai_mono_us() / 1000;
}

int64_t balai_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
