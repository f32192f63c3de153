/* hist.h: latency histograms with bounded relative error.
 *
 * Values (microseconds) below 128 are counted exactly; above, each power of
 * two is split into 64 buckets, so a reported percentile is within 1.6% of
 * the true value. Values beyond about 4,700 s are clamped into the last
 * bucket. A histogram is a plain value: zero it to start, merge by adding. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB 64
#define BENCH_HIST_BUCKETS (2 * BENCH_HIST_SUB + 25 * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t max;
    uint32_t b[BENCH_HIST_BUCKETS];
};

void bench_hist_reset(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t us);
/* Adds every value of src to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value at percentile pct (0 < pct <= 100), in microseconds; 0 when empty. */
uint64_t bench_hist_pct(const struct bench_hist *h, double pct);
/* Mean in microseconds; 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

#endif
