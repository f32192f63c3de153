/* jsonw.h: writing JSON text straight into a buffer, for hot responses
 * (/sync) that splice pre-serialised events instead of building trees. */
#ifndef BALAI_UTIL_JSONW_H
#define BALAI_UTIL_JSONW_H

#include "util/buf.h"

/* Appends `s` as a JSON string literal (quotes and escapes). */
int balai_jsonw_str(struct balai_buf *b, const char *s);
/* Appends "key": (a JSON string key and the colon). */
int balai_jsonw_key(struct balai_buf *b, const char *key);

#endif
