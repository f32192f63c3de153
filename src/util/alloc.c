/* alloc.c: allocation wrappers that abort on out-of-memory. */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static void oom(size_t n)
{
    fprintf(stderr, "balai: out of memory allocating %zu bytes\n", n);
    abort();
}

void *balai_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *balai_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *balai_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *balai_strdup(const char *s)
{
    if (!s)
        return NULL;
    return balai_strndup(s, strlen(s));
}

char *balai_strndup(const char *s, size_t len)
{
    char *p = balai_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *balai_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = balai_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
