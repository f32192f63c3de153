/* buf.c: growable byte buffer with a size cap. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/buf.h"

void balai_buf_init(struct balai_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void balai_buf_release(struct balai_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void balai_buf_reset(struct balai_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(struct balai_buf *b, size_t extra)
{
    size_t need;

    if (b->cap && (extra > b->cap || b->len > b->cap - extra))
        return BALAI_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return BALAI_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n *= 2;
    b->data = balai_realloc(b->data, n);
    b->alloc = n;
    return BALAI_OK;
}

int balai_buf_append(struct balai_buf *b, const void *data, size_t len)
{
    int rc = grow(b, len);
    if (rc != BALAI_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BALAI_OK;
}

int balai_buf_append_str(struct balai_buf *b, const char *s)
{
    return balai_buf_append(b, s, strlen(s));
}

int balai_buf_append_char(struct balai_buf *b, char c)
{
    return balai_buf_append(b, &c, 1);
}

int balai_buf_vprintf(struct balai_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BALAI_EINVAL;
    rc = grow(b, (size_t)n);
    if (rc != BALAI_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BALAI_OK;
}

int balai_buf_printf(struct balai_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = balai_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void balai_buf_consume(struct balai_buf *b, size_t n)
{
    if (n >= b->len) {
        balai_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *balai_buf_detach(struct balai_buf *b, size_t *len)
{
    char *p = b->data;
    if (!p)
        p = balai_strdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

int balai_slice_eq(struct balai_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && memcmp(a.ptr, s, n) == 0;
}

int balai_slice_ieq(struct balai_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && strncasecmp(a.ptr, s, n) == 0;
}
