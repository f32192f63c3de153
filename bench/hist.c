/* hist.c: log-linear latency histograms (see hist.h). */
#include "balai.h"

#include <string.h>

#include "hist.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6; /* keep the top 7 bits: 64..127 */
    unsigned idx = 2 * BENCH_HIST_SUB + (shift - 1) * BENCH_HIST_SUB +
                   (unsigned)((v >> shift) - BENCH_HIST_SUB);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

/* The middle of bucket idx. */
static uint64_t value_of(unsigned idx)
{
    if (idx < 2 * BENCH_HIST_SUB)
        return idx;
    unsigned shift = (idx - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB + 1;
    uint64_t lo = (uint64_t)((idx - 2 * BENCH_HIST_SUB) % BENCH_HIST_SUB + BENCH_HIST_SUB) << shift;
    return lo + (((uint64_t)1 << shift) >> 1);
}

void bench_hist_reset(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void bench_hist_add(struct bench_hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t bench_hist_pct(const struct bench_hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)((double)h->count * pct / 100.0 + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = value_of(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
