/* throttle.c: token buckets keyed by string, pruned when the table grows. */
#include "balai.h"

#include <stdlib.h>

#include "core/throttle.h"
#include "util/alloc.h"
#include "util/map.h"

struct bucket {
    double tokens;
    int64_t last_ms;
};

struct balai_throttle {
    struct balai_map *keys;
    int64_t burst;
    int64_t window_ms;
    size_t prune_at;
};

struct balai_throttle *balai_throttle_new(int64_t burst, int64_t window_ms)
{
    struct balai_throttle *t = balai_calloc(1, sizeof(*t));
    t->keys = balai_map_new();
    t->burst = burst;
    t->window_ms = window_ms;
    t->prune_at = 1024;
    return t;
}

void balai_throttle_free(struct balai_throttle *t)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!t)
        return;
    while (balai_map_next(t->keys, &it, &k, &kl, &v))
        free(v);
    balai_map_free(t->keys);
    free(t);
}

static double refill(const struct balai_throttle *t, struct bucket *b, int64_t now)
{
    double rate = (double)t->burst / (double)t->window_ms;
    double tokens = b->tokens + (double)(now - b->last_ms) * rate;
    return tokens > (double)t->burst ? (double)t->burst : tokens;
}

int balai_throttle_check(struct balai_throttle *t, const char *key, int64_t now_ms,
                         int64_t *retry_after_ms)
{
    struct bucket *b = balai_map_get_str(t->keys, key);
    if (!b)
        return BALAI_OK;
    double tokens = refill(t, b, now_ms);
    if (tokens >= 1.0)
        return BALAI_OK;
    double rate = (double)t->burst / (double)t->window_ms;
    *retry_after_ms = (int64_t)((1.0 - tokens) / rate) + 1;
    return BALAI_ELIMIT;
}

static void prune(struct balai_throttle *t, int64_t now)
{
    /* Drop full buckets: they carry no state. Collect keys first: the map
     * must not change during iteration. */
    size_t it = 0, kl, n = 0, cap = balai_map_count(t->keys);
    const void *k;
    void *v;
    char **dead = balai_malloc(cap * sizeof(*dead) + 1);
    while (balai_map_next(t->keys, &it, &k, &kl, &v)) {
        if (refill(t, v, now) >= (double)t->burst)
            dead[n++] = balai_strdup(k);
    }
    for (size_t i = 0; i < n; i++) {
        free(balai_map_del_str(t->keys, dead[i]));
        free(dead[i]);
    }
    free(dead);
    size_t c = balai_map_count(t->keys);
    t->prune_at = c * 2 > 1024 ? c * 2 : 1024;
}

void balai_throttle_hit(struct balai_throttle *t, const char *key, int64_t now_ms)
{
    struct bucket *b = balai_map_get_str(t->keys, key);
    if (!b) {
        if (balai_map_count(t->keys) >= t->prune_at)
            prune(t, now_ms);
        b = balai_malloc(sizeof(*b));
        b->tokens = (double)t->burst;
        b->last_ms = now_ms;
        balai_map_put_str(t->keys, key, b);
    }
    b->tokens = refill(t, b, now_ms) - 1.0;
    b->last_ms = now_ms;
}

void balai_throttle_reset(struct balai_throttle *t, const char *key)
{
    free(balai_map_del_str(t->keys, key));
}
