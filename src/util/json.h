/* json.h: helpers over jansson for request bodies and responses.
 *
 * Request parsing reports a plain-language reason in `err` (a caller-given
 * buffer) so the HTTP edge can answer M_NOT_JSON / M_BAD_JSON with it. */
#ifndef BALAI_UTIL_JSON_H
#define BALAI_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BALAI_JSON_ERR_LEN 200

/* Parses `len` bytes as a JSON object. Returns BALAI_OK and a new reference
 * in *out, or BALAI_EINVAL with a reason in err (not JSON, or not an object,
 * or nested deeper than 64 levels). An empty body parses as {} only when
 * empty_ok is set. */
int balai_json_parse_object(const char *body, size_t len, int empty_ok, json_t **out, char *err,
                            size_t errlen);

/* Field getters. Each returns BALAI_OK (value in *out, borrowed from obj),
 * BALAI_ENOTFOUND when absent (and *out untouched), or BALAI_EINVAL with a
 * reason in err when present with the wrong type. */
int balai_json_get_str(const json_t *obj, const char *key, const char **out, char *err,
                       size_t errlen);
int balai_json_get_bool(const json_t *obj, const char *key, int *out, char *err, size_t errlen);
int balai_json_get_int(const json_t *obj, const char *key, int64_t *out, char *err, size_t errlen);
int balai_json_get_obj(const json_t *obj, const char *key, json_t **out, char *err, size_t errlen);
int balai_json_get_array(const json_t *obj, const char *key, json_t **out, char *err,
                         size_t errlen);

/* Compact serialisation; keys sorted when `sorted`. Returns a new string
 * (caller frees) and its length. */
char *balai_json_dump(const json_t *v, int sorted, size_t *len);

/* Builds an object from a printf-free key/value list: convenience for
 * {"key": "string"}. Returns a new reference. */
json_t *balai_json_str_pair(const char *key, const char *value);

#endif
