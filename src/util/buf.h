/* buf.h: the one growable byte buffer, with a size cap, and slices.
 *
 * A struct balai_buf owns its bytes; appends fail with BALAI_ETOOBIG once
 * `cap` would be exceeded (cap 0 = unlimited). The data is always kept
 * NUL-terminated so it can be used as a C string. A struct balai_slice is a
 * non-owning view: valid while its source is. */
#ifndef BALAI_UTIL_BUF_H
#define BALAI_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct balai_slice {
    const char *ptr;
    size_t len;
};

struct balai_buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap; /* maximum len, 0 = unlimited */
};

void balai_buf_init(struct balai_buf *b, size_t cap);
/* Frees the contents; the buffer can be reused after balai_buf_init. */
void balai_buf_release(struct balai_buf *b);
/* Empties the buffer, keeping its memory. */
void balai_buf_reset(struct balai_buf *b);
int balai_buf_append(struct balai_buf *b, const void *data, size_t len);
int balai_buf_append_str(struct balai_buf *b, const char *s);
int balai_buf_append_char(struct balai_buf *b, char c);
int balai_buf_printf(struct balai_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int balai_buf_vprintf(struct balai_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Removes the first `n` bytes. */
void balai_buf_consume(struct balai_buf *b, size_t n);
/* Returns the data and gives up ownership (caller frees); the buffer is empty after. */
char *balai_buf_detach(struct balai_buf *b, size_t *len);

static inline struct balai_slice balai_slice_make(const char *p, size_t len)
{
    struct balai_slice s = {p, len};
    return s;
}

/* True when the slice equals the C string `s`. */
int balai_slice_eq(struct balai_slice a, const char *s);
/* Case-insensitive ASCII comparison with a C string. */
int balai_slice_ieq(struct balai_slice a, const char *s);

#endif
