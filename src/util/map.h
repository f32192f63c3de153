/* map.h: a hash map from byte-string keys to pointers.
 *
 * Keys are copied into the map; values are borrowed (the map never frees
 * them). Hashing is seeded per process so that outside input cannot aim at
 * one bucket. Not thread-safe: each map belongs to one thread. */
#ifndef BALAI_UTIL_MAP_H
#define BALAI_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

struct balai_map;

struct balai_map *balai_map_new(void);
/* Frees the map and its key copies, not the values. NULL-safe. */
void balai_map_free(struct balai_map *m);
size_t balai_map_count(const struct balai_map *m);
/* Returns the value for the key, or NULL. */
void *balai_map_get(const struct balai_map *m, const void *key, size_t klen);
void *balai_map_get_str(const struct balai_map *m, const char *key);
/* Sets key → value; returns the previous value or NULL. `value` must not be NULL. */
void *balai_map_put(struct balai_map *m, const void *key, size_t klen, void *value);
void *balai_map_put_str(struct balai_map *m, const char *key, void *value);
/* Removes the key; returns its value or NULL. */
void *balai_map_del(struct balai_map *m, const void *key, size_t klen);
void *balai_map_del_str(struct balai_map *m, const char *key);

/* Iteration: `it` starts at 0; returns 1 and fills key/value while entries
 * remain. The map must not change during an iteration. */
int balai_map_next(const struct balai_map *m, size_t *it, const void **key, size_t *klen,
                   void **value);

uint64_t balai_hash_bytes(const void *data, size_t len);

#endif
