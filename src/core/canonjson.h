/* canonjson.h: Matrix canonical JSON, the byte form that is hashed and signed.
 *
 * SPEC: Matrix v1.12, Appendices, "Canonical JSON". Object keys sorted by
 * the bytes of their UTF-8 form (the same order as by codepoint), no
 * insignificant whitespace, strings as raw UTF-8 with only the required
 * escapes (\" \\ \b \t \n \f \r and \u00xx in lower-case hex for the other
 * control characters), numbers as integers in [-(2^53)+1, (2^53)-1].
 *
 * Reals: a jansson real that holds an exact integer in range (as parsed
 * from "1e10" or "-0.0") is written as that integer, as the spec's own
 * example requires ({"b": 1e10} gives {"b":10000000000}); any other real
 * (fraction, NaN, infinity, out of range) is refused.
 *
 * DESIGN: jansson's own dump is not used: it writes \u escapes in upper
 * case and would need checks for the integer range anyway. */
#ifndef BALAI_CORE_CANONJSON_H
#define BALAI_CORE_CANONJSON_H

#include <stddef.h>

#include <jansson.h>

#include "util/buf.h"

/* Largest magnitude of a canonical JSON integer: 2^53 - 1. */
#define BALAI_CANONJSON_INT_MAX 9007199254740991LL
/* Deepest nesting of objects and arrays accepted (guards the stack; deeper
 * than the 64 the HTTP edge accepts, since an event wraps its content). */
#define BALAI_CANONJSON_MAX_DEPTH 128

/* Checks that `v` (borrowed) can be written as canonical JSON. Returns
 * BALAI_OK, or BALAI_EINVAL for a refused number, invalid UTF-8 in a string
 * or key, nesting deeper than BALAI_CANONJSON_MAX_DEPTH, or a NULL v. */
int balai_canonjson_check(const json_t *v);

/* Appends the canonical encoding of `v` (borrowed) to `b`. Returns BALAI_OK,
 * BALAI_EINVAL as balai_canonjson_check, or BALAI_ETOOBIG when the buffer's
 * cap would be exceeded. On error `b` holds a partial encoding: reset it. */
int balai_canonjson_write(struct balai_buf *b, const json_t *v);

/* Returns the canonical encoding of `v` as a new NUL-terminated string
 * (caller frees) and its length in *len (if len is not NULL); NULL when v
 * cannot be encoded (see balai_canonjson_check). */
char *balai_canonjson(const json_t *v, size_t *len);

#endif
