/* patch.c: SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON.
 *
 * The operations change a full representation of the resource in place;
 * the caller then validates and stores the result exactly like a PUT. What
 * identity providers send beyond the RFC is accepted: operation names in any
 * case ("Replace"), a value object without a path whose keys are paths
 * ("name.givenName", "urn:...:User:manager"), "remove" with a value listing
 * the values to remove, and "add"/"replace" through a filter that matches
 * nothing ("emails[type eq \"work\"].value"), which creates the element. */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/scim/scim_int.h"
#include "gov/scim_filter.h"

enum op { OP_ADD, OP_REPLACE, OP_REMOVE };

struct pctx {
    const char *core_urn;
    const char **type;
    char *err;
    size_t errlen;
};

static int perr(struct pctx *c, const char *type, const char *fmt, ...) BALAI_PRINTF(3, 4);
static int perr(struct pctx *c, const char *type, const char *fmt, ...)
{
    va_list ap;

    *c->type = type;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return BALAI_EINVAL;
}

/* Two values are the same element: equal JSON, or complex values with the
 * same "value". */
static int same_value(const json_t *a, const json_t *b)
{
    if (json_is_object(a) && json_is_object(b)) {
        const json_t *va = json_object_get(a, "value"), *vb = json_object_get(b, "value");
        if (va && vb)
            return json_equal(va, vb);
    }
    return json_equal(a, b);
}

/* Merges the members of src into the object dst (sub-attributes replaced). */
static void merge_object(json_t *dst, const json_t *src)
{
    const char *k, *real;
    json_t *v;

    json_object_foreach((json_t *)src, k, v)
    {
        if (balai_scim_json_get(dst, k, &real))
            json_object_set(dst, real, v);
        else
            json_object_set(dst, k, v);
    }
}

/* add/replace of `v` at key `key` of object `obj` (no filter, no sub). */
static void set_attr(json_t *obj, const char *key, const json_t *v, enum op op)
{
    const char *real = key;
    json_t *cur = balai_scim_json_get(obj, key, &real);

    if (cur && op == OP_ADD && json_is_array(cur)) {
        size_t i, j;
        json_t *e, *have;
        if (!json_is_array(v)) {
            json_array_append(cur, (json_t *)v);
            return;
        }
        json_array_foreach((json_t *)v, i, e)
        {
            int dup = 0;
            json_array_foreach(cur, j, have) dup = dup || same_value(have, e);
            if (!dup)
                json_array_append(cur, e);
        }
        return;
    }
    if (cur && json_is_object(cur) && json_is_object(v)) {
        merge_object(cur, v);
        return;
    }
    if (json_is_null(v)) {
        json_object_del(obj, real);
        return;
    }
    json_object_set(obj, real, (json_t *)v);
}

/* The object that holds a path's attribute: the resource, or its extension
 * object (made for add/replace). NULL when absent. */
static json_t *holder(json_t *res, const struct balai_scim_attr *a, enum op op, struct pctx *c)
{
    const char *real;
    json_t *ext;

    if (!a->urn || strcasecmp(a->urn, c->core_urn) == 0)
        return res;
    ext = balai_scim_json_get(res, a->urn, &real);
    if (!ext && op != OP_REMOVE) {
        ext = json_object();
        json_object_set_new(res, a->urn, ext);
    }
    return json_is_object(ext) ? ext : NULL;
}

/* A filter that is "a eq v" or a conjunction of such: the element it
 * describes, to create when add/replace matched nothing. NULL otherwise. */
static int describe(const struct balai_scim_filter *f, json_t *out)
{
    if (f->op == BALAI_SCIM_AND)
        return describe(f->left, out) && describe(f->right, out);
    if (f->op != BALAI_SCIM_EQ || f->attr.sub || f->attr.urn)
        return 0;
    json_object_set(out, f->attr.name, f->value);
    return 1;
}

static int apply_path(json_t *res, const struct balai_scim_path *p, const json_t *v, enum op op,
                      struct pctx *c)
{
    json_t *h = holder(res, &p->attr, op, c);
    const char *real;
    json_t *cur;

    if (!p->attr.name) { /* a bare extension URN */
        if (op == OP_REMOVE) {
            if (balai_scim_json_get(res, p->attr.urn, &real))
                json_object_del(res, real);
            return BALAI_OK;
        }
        if (!json_is_object(v))
            return perr(c, "invalidValue", "the value for %s must be an object", p->attr.urn);
        merge_object(h, v);
        return BALAI_OK;
    }
    if (!h)
        return op == OP_REMOVE ? BALAI_OK : perr(c, "invalidPath", "no such schema %s", p->attr.urn);
    cur = balai_scim_json_get(h, p->attr.name, &real);
    if (!p->filter && !p->attr.sub) {
        if (op == OP_REMOVE) {
            if (!cur)
                return BALAI_OK;
            if (v && !json_is_null(v) && json_is_array(cur)) {
                /* remove only the listed values (Entra, Okta) */
                const json_t *list = v;
                json_t *one = NULL;
                if (!json_is_array(v)) {
                    one = json_pack("[O]", v);
                    list = one;
                }
                for (size_t i = json_array_size(cur); i-- > 0;) {
                    size_t j;
                    json_t *e;
                    json_array_foreach((json_t *)list, j, e) if (same_value(json_array_get(cur, i),
                                                                            e))
                    {
                        json_array_remove(cur, i);
                        break;
                    }
                }
                json_decref(one);
                return BALAI_OK;
            }
            json_object_del(h, real);
            return BALAI_OK;
        }
        set_attr(h, p->attr.name, v, op);
        return BALAI_OK;
    }
    if (!p->filter) { /* attr.sub */
        if (json_is_array(cur))
            return perr(c, "invalidPath", "%s is multi-valued: select values with a filter",
                        p->attr.name);
        if (!cur) {
            if (op == OP_REMOVE)
                return BALAI_OK;
            cur = json_object();
            json_object_set_new(h, p->attr.name, cur);
        }
        if (!json_is_object(cur))
            return perr(c, "invalidPath", "%s has no sub-attributes", p->attr.name);
        if (op == OP_REMOVE) {
            if (balai_scim_json_get(cur, p->attr.sub, &real))
                json_object_del(cur, real);
            return BALAI_OK;
        }
        set_attr(cur, p->attr.sub, v, OP_REPLACE);
        return BALAI_OK;
    }
    /* a value filter */
    if (cur && !json_is_array(cur))
        return perr(c, "invalidPath", "%s is not multi-valued", p->attr.name);
    size_t matched = 0;
    for (size_t i = cur ? json_array_size(cur) : 0; i-- > 0;) {
        json_t *e = json_array_get(cur, i);
        if (!json_is_object(e) || !balai_scim_filter_match(p->filter, e, NULL))
            continue;
        matched++;
        if (op == OP_REMOVE) {
            if (p->attr.sub) {
                if (balai_scim_json_get(e, p->attr.sub, &real))
                    json_object_del(e, real);
            } else {
                json_array_remove(cur, i);
            }
        } else if (p->attr.sub) {
            set_attr(e, p->attr.sub, v, OP_REPLACE);
        } else if (json_is_object(v)) {
            merge_object(e, v);
        } else {
            return perr(c, "invalidValue", "the value for %s must be an object", p->attr.name);
        }
    }
    if (matched || op == OP_REMOVE)
        return BALAI_OK;
    /* nothing matched: create the element the filter describes */
    json_t *e = json_object();
    if (!describe(p->filter, e)) {
        json_decref(e);
        return perr(c, "noTarget", "no value of %s matches the filter", p->attr.name);
    }
    if (p->attr.sub)
        json_object_set(e, p->attr.sub, (json_t *)v);
    else if (json_is_object(v))
        merge_object(e, v);
    else {
        json_decref(e);
        return perr(c, "invalidValue", "the value for %s must be an object", p->attr.name);
    }
    if (!cur) {
        cur = json_array();
        json_object_set_new(h, p->attr.name, cur);
    }
    json_array_append_new(cur, e);
    return BALAI_OK;
}

static int apply_text_path(json_t *res, const char *path, const json_t *v, enum op op,
                           struct pctx *c)
{
    struct balai_scim_path *p = NULL;
    char perrbuf[200];
    int rc;

    if (balai_scim_path_parse(path, &p, perrbuf, sizeof(perrbuf)) != BALAI_OK) {
        *c->type = "invalidPath";
        snprintf(c->err, c->errlen, "bad path '%.100s': %s", path, perrbuf);
        return BALAI_EINVAL;
    }
    rc = apply_path(res, p, v, op, c);
    balai_scim_path_free(p);
    return rc;
}

/* add/replace without a path: each key of the value object is a path. */
static int apply_no_path(json_t *res, const json_t *v, enum op op, struct pctx *c)
{
    const char *k;
    json_t *val;

    if (!json_is_object(v))
        return perr(c, "invalidValue", "%s", "an operation without a path needs an object value");
    json_object_foreach((json_t *)v, k, val)
    {
        int rc;
        if (balai_scim_urn_known(k) && json_is_object(val) && strcasecmp(k, c->core_urn) != 0) {
            const char *real;
            json_t *ext = balai_scim_json_get(res, k, &real);
            if (!json_is_object(ext)) {
                ext = json_object();
                json_object_set_new(res, k, ext);
            }
            /* each key of the extension object, as a path of its own */
            rc = apply_no_path(ext, val, op, c);
        } else if (balai_scim_urn_known(k) && json_is_object(val)) {
            rc = apply_no_path(res, val, op, c);
        } else {
            rc = apply_text_path(res, k, val, op, c);
        }
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}

int scim_patch_apply(json_t *res, const json_t *body, const char *core_urn,
                     const char **scim_type, char *err, size_t errlen)
{
    struct pctx c = {core_urn, scim_type, err, errlen};
    const json_t *schemas = json_object_get(body, "schemas");
    const json_t *ops = balai_scim_json_get(body, "Operations", NULL);
    size_t i, j;
    json_t *o, *s;
    int found = 0;

    json_array_foreach((json_t *)schemas, j, s) found =
        found || (json_is_string(s) && strcmp(json_string_value(s), SCIM_URN_PATCH) == 0);
    if (schemas && (!json_is_array(schemas) || !found))
        return perr(&c, "invalidValue", "%s", "'schemas' must hold " SCIM_URN_PATCH);
    if (!json_is_array(ops) || json_array_size(ops) == 0)
        return perr(&c, "invalidSyntax", "%s", "'Operations' must be a non-empty array");
    json_array_foreach((json_t *)ops, i, o)
    {
        const json_t *jop = balai_scim_json_get(o, "op", NULL);
        const json_t *jpath = balai_scim_json_get(o, "path", NULL);
        const json_t *v = balai_scim_json_get(o, "value", NULL);
        enum op op;
        int rc;

        if (!json_is_object(o) || !json_is_string(jop))
            return perr(&c, "invalidSyntax", "%s", "each operation needs an 'op'");
        if (strcasecmp(json_string_value(jop), "add") == 0)
            op = OP_ADD;
        else if (strcasecmp(json_string_value(jop), "replace") == 0)
            op = OP_REPLACE;
        else if (strcasecmp(json_string_value(jop), "remove") == 0)
            op = OP_REMOVE;
        else
            return perr(&c, "invalidSyntax", "unknown op '%.50s' (add, replace or remove)",
                        json_string_value(jop));
        if (jpath && !json_is_string(jpath) && !json_is_null(jpath))
            return perr(&c, "invalidPath", "%s", "'path' must be a string");
        if (!json_is_string(jpath) || json_string_length(jpath) == 0) {
            if (op == OP_REMOVE)
                return perr(&c, "noTarget", "%s", "'remove' needs a 'path'");
            rc = apply_no_path(res, v, op, &c);
        } else {
            if (op != OP_REMOVE && !v)
                return perr(&c, "invalidValue", "%s", "'add' and 'replace' need a 'value'");
            rc = apply_text_path(res, json_string_value(jpath), v, op, &c);
        }
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}
