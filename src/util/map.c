/* map.c: chained hash map with per-process seeded hashing. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/map.h"

struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    size_t klen;
    char key[]; /* klen bytes + NUL */
};

struct balai_map {
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
};

static uint64_t hash_seed;

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t balai_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!hash_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t s = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec);
        hash_seed = s | 1;
    }
    uint64_t h = hash_seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = mix(h ^ k) * 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < len; i++)
        k |= (uint64_t)p[i] << (8 * i);
    return mix(h ^ k ^ 0xa0761d6478bd642fULL);
}

struct balai_map *balai_map_new(void)
{
    struct balai_map *m = balai_calloc(1, sizeof(*m));
    m->nbuckets = 16;
    m->buckets = balai_calloc(m->nbuckets, sizeof(*m->buckets));
    return m;
}

void balai_map_free(struct balai_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    free(m);
}

size_t balai_map_count(const struct balai_map *m)
{
    return m->count;
}

static struct entry **find(const struct balai_map *m, const void *key, size_t klen, uint64_t h)
{
    struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp) {
        struct entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return pp;
        pp = &e->next;
    }
    return pp;
}

void *balai_map_get(const struct balai_map *m, const void *key, size_t klen)
{
    struct entry **pp = find(m, key, klen, balai_hash_bytes(key, klen));
    return *pp ? (*pp)->value : NULL;
}

void *balai_map_get_str(const struct balai_map *m, const char *key)
{
    return balai_map_get(m, key, strlen(key));
}

static void grow(struct balai_map *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = balai_calloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            struct entry **slot = &b[e->hash & (n - 1)];
            e->next = *slot;
            *slot = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *balai_map_put(struct balai_map *m, const void *key, size_t klen, void *value)
{
    uint64_t h = balai_hash_bytes(key, klen);
    struct entry **pp = find(m, key, klen, h);
    if (*pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    struct entry *e = balai_malloc(sizeof(*e) + klen + 1);
    e->next = NULL;
    e->hash = h;
    e->value = value;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    *pp = e;
    m->count++;
    if (m->count > m->nbuckets)
        grow(m);
    return NULL;
}

void *balai_map_put_str(struct balai_map *m, const char *key, void *value)
{
    return balai_map_put(m, key, strlen(key), value);
}

void *balai_map_del(struct balai_map *m, const void *key, size_t klen)
{
    struct entry **pp = find(m, key, klen, balai_hash_bytes(key, klen));
    struct entry *e = *pp;
    if (!e)
        return NULL;
    void *v = e->value;
    *pp = e->next;
    free(e);
    m->count--;
    return v;
}

void *balai_map_del_str(struct balai_map *m, const char *key)
{
    return balai_map_del(m, key, strlen(key));
}

int balai_map_next(const struct balai_map *m, size_t *it, const void **key, size_t *klen,
                   void **value)
{
    /* `it` encodes bucket index in the high bits and position in chain in the low 16 bits */
    size_t bucket = *it >> 16, pos = *it & 0xffff;
    while (bucket < m->nbuckets) {
        struct entry *e = m->buckets[bucket];
        size_t i = 0;
        while (e && i < pos) {
            e = e->next;
            i++;
        }
        if (e) {
            *key = e->key;
            *klen = e->klen;
            *value = e->value;
            *it = (bucket << 16) | (pos + 1);
            return 1;
        }
        bucket++;
        pos = 0;
    }
    *it = bucket << 16;
    return 0;
}
