/* canonjson.c: a canonical JSON writer over jansson values (see canonjson.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "util/alloc.h"

struct member {
    const char *key;
    size_t klen;
    json_t *value;
};

/* Appends unless b is NULL (check mode: validate only). */
static int out(struct balai_buf *b, const void *data, size_t len)
{
    return b ? balai_buf_append(b, data, len) : BALAI_OK;
}

/* Length of the well-formed UTF-8 sequence starting at s (n bytes left), or
 * 0 if it is malformed, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* The escape for byte c, or NULL when c is written as is. `tmp` holds the
 * \u00xx form. */
static const char *escape_of(unsigned char c, char tmp[8])
{
    static const char hex[] = "0123456789abcdef";

    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\t':
        return "\\t";
    case '\n':
        return "\\n";
    case '\f':
        return "\\f";
    case '\r':
        return "\\r";
    default:
        break;
    }
    if (c >= 0x20)
        return NULL;
    memcpy(tmp, "\\u00", 4);
    tmp[4] = hex[c >> 4];
    tmp[5] = hex[c & 0xF];
    tmp[6] = '\0';
    return tmp;
}

static int write_string(struct balai_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, n;
    char tmp[8];
    const char *esc;
    int rc;

    if ((rc = out(b, "\"", 1)) != BALAI_OK)
        return rc;
    while (i < len) {
        n = utf8_seq(s + i, len - i);
        if (n == 0)
            return BALAI_EINVAL;
        esc = n == 1 ? escape_of(s[i], tmp) : NULL;
        if (esc) {
            if ((rc = out(b, s + run, i - run)) != BALAI_OK ||
                (rc = out(b, esc, strlen(esc))) != BALAI_OK)
                return rc;
            run = i + 1;
        }
        i += n;
    }
    if ((rc = out(b, s + run, i - run)) != BALAI_OK)
        return rc;
    return out(b, "\"", 1);
}

static int write_integer(struct balai_buf *b, long long v)
{
    char num[32];
    int n;

    if (v > BALAI_CANONJSON_INT_MAX || v < -BALAI_CANONJSON_INT_MAX)
        return BALAI_EINVAL;
    n = snprintf(num, sizeof(num), "%lld", v);
    return out(b, num, (size_t)n);
}

/* A real is accepted only when it is an exact integer in range. */
static int write_real(struct balai_buf *b, double d)
{
    const double max = (double)BALAI_CANONJSON_INT_MAX;
    long long v;

    if (!(d >= -max && d <= max)) /* also refuses NaN */
        return BALAI_EINVAL;
    v = (long long)d;
    if ((double)v != d)
        return BALAI_EINVAL;
    return write_integer(b, v);
}

static int cmp_member(const void *pa, const void *pb)
{
    const struct member *a = pa, *b = pb;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);
    if (c != 0)
        return c;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

static int write_value(struct balai_buf *b, const json_t *v, int depth);

static int write_object(struct balai_buf *b, const json_t *obj, int depth)
{
    size_t n = json_object_size(obj), i = 0, klen;
    struct member *m = n ? balai_malloc(n * sizeof(*m)) : NULL;
    const char *key;
    json_t *value;
    int rc;

    json_object_keylen_foreach((json_t *)obj, key, klen, value)
    {
        m[i].key = key;
        m[i].klen = klen;
        m[i].value = value;
        i++;
    }
    if (b && n > 1)
        qsort(m, n, sizeof(*m), cmp_member);
    if ((rc = out(b, "{", 1)) != BALAI_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if ((i > 0 && (rc = out(b, ",", 1)) != BALAI_OK) ||
            (rc = write_string(b, m[i].key, m[i].klen)) != BALAI_OK ||
            (rc = out(b, ":", 1)) != BALAI_OK ||
            (rc = write_value(b, m[i].value, depth + 1)) != BALAI_OK)
            goto out;
    }
    rc = out(b, "}", 1);
out:
    free(m);
    return rc;
}

static int write_array(struct balai_buf *b, const json_t *arr, int depth)
{
    size_t i, n = json_array_size(arr);
    int rc;

    if ((rc = out(b, "[", 1)) != BALAI_OK)
        return rc;
    for (i = 0; i < n; i++) {
        if ((i > 0 && (rc = out(b, ",", 1)) != BALAI_OK) ||
            (rc = write_value(b, json_array_get(arr, i), depth + 1)) != BALAI_OK)
            return rc;
    }
    return out(b, "]", 1);
}

static int write_value(struct balai_buf *b, const json_t *v, int depth)
{
    if (!v || depth > BALAI_CANONJSON_MAX_DEPTH)
        return BALAI_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return write_object(b, v, depth);
    case JSON_ARRAY:
        return write_array(b, v, depth);
    case JSON_STRING:
        return write_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return write_integer(b, (long long)json_integer_value(v));
    case JSON_REAL:
        return write_real(b, json_real_value(v));
    case JSON_TRUE:
        return out(b, "true", 4);
    case JSON_FALSE:
        return out(b, "false", 5);
    case JSON_NULL:
        return out(b, "null", 4);
    }
    return BALAI_EINVAL;
}

int balai_canonjson_check(const json_t *v)
{
    return write_value(NULL, v, 0);
}

int balai_canonjson_write(struct balai_buf *b, const json_t *v)
{
    return write_value(b, v, 0);
}

char *balai_canonjson(const json_t *v, size_t *len)
{
    struct balai_buf b;
    char *s = NULL;

    balai_buf_init(&b, 0);
    if (write_value(&b, v, 0) == BALAI_OK)
        s = balai_buf_detach(&b, len);
    balai_buf_release(&b);
    return s;
}
