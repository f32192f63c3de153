/* alloc.h: allocation wrappers that abort on out-of-memory.
 *
 * Like redis's zmalloc, Balai treats an allocation failure as fatal: a
 * server that cannot allocate a few bytes cannot answer anyway, and every
 * caller is simpler for it. Memory from these is released with free(). */
#ifndef BALAI_UTIL_ALLOC_H
#define BALAI_UTIL_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *balai_malloc(size_t n);
void *balai_calloc(size_t count, size_t n);
void *balai_realloc(void *p, size_t n);
/* Returns a new copy of `s` (NULL stays NULL). Caller frees. */
char *balai_strdup(const char *s);
/* Returns a new NUL-terminated copy of `len` bytes of `s`. Caller frees. */
char *balai_strndup(const char *s, size_t len);
/* printf into a new string. Caller frees. */
char *balai_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees *pp and sets it to NULL. */
#define BALAI_FREE(p)                                                                              \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

#endif
