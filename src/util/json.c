/* json.c: request-body parsing and typed field access over jansson. */
#include "balai.h"

#include <stdio.h>
#include <string.h>

#include "util/json.h"

static int depth_ok(const json_t *v, int depth)
{
    if (depth > 64)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            if (!depth_ok(c, depth + 1))
                return 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (!depth_ok(c, depth + 1))
                return 0;
        }
    }
    return 1;
}

int balai_json_parse_object(const char *body, size_t len, int empty_ok, json_t **out, char *err,
                            size_t errlen)
{
    json_error_t jerr;
    json_t *v;

    if (len == 0 && empty_ok) {
        *out = json_object();
        return BALAI_OK;
    }
    v = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        snprintf(err, errlen, "Request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return BALAI_EINVAL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "Request body must be a JSON object");
        json_decref(v);
        return BALAI_EINVAL;
    }
    if (!depth_ok(v, 0)) {
        snprintf(err, errlen, "Request body is nested too deeply");
        json_decref(v);
        return BALAI_EINVAL;
    }
    *out = v;
    return BALAI_OK;
}

static int get_typed(const json_t *obj, const char *key, json_type type, const char *tname,
                     json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return BALAI_ENOTFOUND;
    if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v))) {
        snprintf(err, errlen, "'%s' must be %s", key, tname);
        return BALAI_EINVAL;
    }
    *out = v;
    return BALAI_OK;
}

int balai_json_get_str(const json_t *obj, const char *key, const char **out, char *err,
                       size_t errlen)
{
    json_t *v;
    int rc = get_typed(obj, key, JSON_STRING, "a string", &v, err, errlen);
    if (rc == BALAI_OK)
        *out = json_string_value(v);
    return rc;
}

int balai_json_get_bool(const json_t *obj, const char *key, int *out, char *err, size_t errlen)
{
    json_t *v;
    int rc = get_typed(obj, key, JSON_TRUE, "a boolean", &v, err, errlen);
    if (rc == BALAI_OK)
        *out = json_is_true(v);
    return rc;
}

int balai_json_get_int(const json_t *obj, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v;
    int rc = get_typed(obj, key, JSON_INTEGER, "an integer", &v, err, errlen);
    if (rc == BALAI_OK)
        *out = (int64_t)json_integer_value(v);
    return rc;
}

int balai_json_get_obj(const json_t *obj, const char *key, json_t **out, char *err, size_t errlen)
{
    return get_typed(obj, key, JSON_OBJECT, "an object", out, err, errlen);
}

int balai_json_get_array(const json_t *obj, const char *key, json_t **out, char *err, size_t errlen)
{
    return get_typed(obj, key, JSON_ARRAY, "an array", out, err, errlen);
}

char *balai_json_dump(const json_t *v, int sorted, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | (sorted ? JSON_SORT_KEYS : 0) | JSON_ENCODE_ANY);
    if (len)
        *len = s ? strlen(s) : 0;
    return s;
}

json_t *balai_json_str_pair(const char *key, const char *value)
{
    json_t *o = json_object();
    json_object_set_new(o, key, json_string(value));
    return o;
}
