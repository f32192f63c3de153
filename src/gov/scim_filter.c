/* scim_filter.c: the SCIM filter and PATCH path parser and the filter
 * evaluator (scim_filter.h). A recursive-descent parser over the text, with
 * the nesting depth and the node count bounded. */
#include "balai.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gov/scim_filter.h"
#include "util/alloc.h"

static const char *const known_urns[] = {BALAI_SCIM_URN_USER, BALAI_SCIM_URN_GROUP,
                                         BALAI_SCIM_URN_ENTERPRISE};

struct parser {
    const char *s;
    size_t pos, len;
    int depth;
    int nodes;
    int in_brackets; /* inside a valuePath's [...] */
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parser *p, size_t at, const char *fmt, ...) BALAI_PRINTF(3, 4);
static void fail(struct parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->failed)
        return;
    p->failed = 1;
    if (!p->err || !p->errlen)
        return;
    n = snprintf(p->err, p->errlen, "at %zu: ", at);
    if (n < 0 || (size_t)n >= p->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_name_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '$';
}

/* A character of an attribute-path token (URN characters included). */
static int is_path_char(char c)
{
    return is_name_char(c) || c == ':' || c == '.';
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

/* The keyword `kw` (case-insensitive) at the position, as a whole word. */
static int at_keyword(const struct parser *p, const char *kw)
{
    size_t n = strlen(kw);
    if (p->len - p->pos < n || strncasecmp(p->s + p->pos, kw, n) != 0)
        return 0;
    return p->pos + n == p->len || !is_path_char(p->s[p->pos + n]);
}

static struct balai_scim_filter *node_new(struct parser *p, enum balai_scim_op op)
{
    if (++p->nodes > BALAI_SCIM_FILTER_MAX_NODES) {
        fail(p, p->pos, "the filter is too complex (more than %d terms)",
             BALAI_SCIM_FILTER_MAX_NODES);
        return NULL;
    }
    struct balai_scim_filter *f = balai_calloc(1, sizeof(*f));
    f->op = op;
    return f;
}

static void attr_release(struct balai_scim_attr *a)
{
    free(a->urn);
    free(a->name);
    free(a->sub);
    a->urn = a->name = a->sub = NULL;
}

void balai_scim_filter_free(struct balai_scim_filter *f)
{
    if (!f)
        return;
    attr_release(&f->attr);
    json_decref(f->value);
    balai_scim_filter_free(f->left);
    balai_scim_filter_free(f->right);
    balai_scim_filter_free(f->sub);
    free(f);
}

int balai_scim_urn_known(const char *s)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(known_urns); i++)
        if (strcasecmp(s, known_urns[i]) == 0)
            return 1;
    return 0;
}

/* ATTRNAME at t[0..n): ALPHA *(nameChar); "$ref" is allowed too. */
static int name_ok(const char *t, size_t n)
{
    if (n == 0 || (!is_alpha(t[0]) && t[0] != '$'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_name_char(t[i]))
            return 0;
    return 1;
}

/* Splits "name[.sub]" (n bytes at t, starting at offset `at`) into a. */
static int split_name(struct parser *p, const char *t, size_t n, size_t at,
                      struct balai_scim_attr *a)
{
    const char *dot = memchr(t, '.', n);
    size_t nl = dot ? (size_t)(dot - t) : n;

    if (!name_ok(t, nl)) {
        fail(p, at, "expected an attribute name");
        return BALAI_EINVAL;
    }
    if (dot && !name_ok(dot + 1, n - nl - 1)) {
        fail(p, at + nl + 1, "expected a sub-attribute name after '.'");
        return BALAI_EINVAL;
    }
    a->name = balai_strndup(t, nl);
    if (dot)
        a->sub = balai_strndup(dot + 1, n - nl - 1);
    return BALAI_OK;
}

/* attrPath: [URN ":"] ATTRNAME [.subAttr]. allow_bare_urn: a path that is
 * only a known URN (PATCH). */
static int parse_attr(struct parser *p, struct balai_scim_attr *a, int allow_bare_urn)
{
    size_t start = p->pos, n;
    const char *t = p->s + start;

    while (p->pos < p->len && is_path_char(p->s[p->pos]))
        p->pos++;
    n = p->pos - start;
    if (n == 0) {
        fail(p, start, "expected an attribute name");
        return BALAI_EINVAL;
    }
    if (n > 4 && strncasecmp(t, "urn:", 4) == 0) {
        size_t ul = 0;
        for (size_t i = 0; i < BALAI_ARRAY_LEN(known_urns); i++) {
            size_t kl = strlen(known_urns[i]);
            if (n >= kl && strncasecmp(t, known_urns[i], kl) == 0 && (n == kl || t[kl] == ':'))
                ul = kl;
        }
        if (ul == 0) {
            const char *c = t + n;
            while (c > t && c[-1] != ':')
                c--;
            /* the name part may not hold the dots of a version ("2.0") */
            ul = (size_t)(c - t) - 1;
        }
        a->urn = balai_strndup(t, ul);
        if (ul == n) {
            if (!allow_bare_urn) {
                fail(p, start, "expected an attribute name after the schema URN");
                return BALAI_EINVAL;
            }
            return BALAI_OK;
        }
        return split_name(p, t + ul + 1, n - ul - 1, start + ul + 1, a);
    }
    if (memchr(t, ':', n)) {
        fail(p, start, "unexpected ':' in an attribute name");
        return BALAI_EINVAL;
    }
    return split_name(p, t, n, start, a);
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(char *o, size_t *k, unsigned cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (char)(0xF0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Four hex digits at s[i..]; -1 if not. */
static long hex4(const struct parser *p, size_t i)
{
    long v = 0;
    if (p->len - i < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(p->s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A JSON string at the position (on '"'). */
static json_t *parse_string(struct parser *p)
{
    size_t start = p->pos++;
    char *o = balai_malloc(p->len - start + 1);
    size_t k = 0;
    json_t *v = NULL;

    while (p->pos < p->len && p->s[p->pos] != '"') {
        char c = p->s[p->pos];
        if ((unsigned char)c < 0x20) {
            fail(p, p->pos, "control character in a string");
            goto out;
        }
        if (c != '\\') {
            o[k++] = c;
            p->pos++;
            continue;
        }
        if (++p->pos >= p->len)
            break;
        c = p->s[p->pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            o[k++] = c;
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            long cp = hex4(p, p->pos);
            if (cp < 0) {
                fail(p, p->pos - 2, "bad \\u escape");
                goto out;
            }
            p->pos += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long lo = p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u'
                              ? hex4(p, p->pos + 2)
                              : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail(p, p->pos - 6, "unpaired surrogate in a \\u escape");
                    goto out;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(p, p->pos - 6, "unpaired surrogate in a \\u escape");
                goto out;
            }
            if (cp == 0) {
                fail(p, p->pos - 6, "\\u0000 is not allowed");
                goto out;
            }
            put_utf8(o, &k, (unsigned)cp);
            break;
        }
        default:
            fail(p, p->pos - 2, "bad escape '\\%c'", c);
            goto out;
        }
    }
    if (p->pos >= p->len) {
        fail(p, start, "unterminated string");
        goto out;
    }
    p->pos++; /* closing quote */
    v = json_stringn(o, k); /* NULL when not valid UTF-8 */
    if (!v)
        fail(p, start, "the string is not valid UTF-8");
out:
    free(o);
    return v;
}

/* A number: JSON grammar. */
static json_t *parse_number(struct parser *p)
{
    size_t start = p->pos;
    char buf[64];
    int is_real = 0;

    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) {
        fail(p, start, "expected a value (a string, number, true, false or null)");
        return NULL;
    }
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        is_real = 1;
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) {
            fail(p, p->pos, "expected a digit after '.'");
            return NULL;
        }
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        is_real = 1;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos])) {
            fail(p, p->pos, "expected a digit in the exponent");
            return NULL;
        }
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos - start >= sizeof(buf)) {
        fail(p, start, "the number is too long");
        return NULL;
    }
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';
    if (!is_real) {
        char *end;
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && !(v == LLONG_MAX || v == LLONG_MIN))
            return json_integer(v);
    }
    return json_real(strtod(buf, NULL));
}

static json_t *parse_value(struct parser *p)
{
    if (p->pos >= p->len) {
        fail(p, p->pos, "expected a value after the operator");
        return NULL;
    }
    if (p->s[p->pos] == '"')
        return parse_string(p);
    if (at_keyword(p, "true")) {
        p->pos += 4;
        return json_true();
    }
    if (at_keyword(p, "false")) {
        p->pos += 5;
        return json_false();
    }
    if (at_keyword(p, "null")) {
        p->pos += 4;
        return json_null();
    }
    return parse_number(p);
}

static const struct {
    const char *kw;
    enum balai_scim_op op;
} compare_ops[] = {
    {"eq", BALAI_SCIM_EQ}, {"ne", BALAI_SCIM_NE}, {"co", BALAI_SCIM_CO}, {"sw", BALAI_SCIM_SW},
    {"ew", BALAI_SCIM_EW}, {"pr", BALAI_SCIM_PR}, {"gt", BALAI_SCIM_GT}, {"ge", BALAI_SCIM_GE},
    {"lt", BALAI_SCIM_LT}, {"le", BALAI_SCIM_LE},
};

static struct balai_scim_filter *parse_or(struct parser *p);

/* attrExp or valuePath. */
static struct balai_scim_filter *parse_attr_exp(struct parser *p)
{
    struct balai_scim_filter *f;
    struct balai_scim_attr a = {NULL, NULL, NULL};
    size_t at = p->pos;
    size_t i;

    if (parse_attr(p, &a, 0) != BALAI_OK)
        goto fail;
    if (p->pos < p->len && p->s[p->pos] == '[') {
        if (p->in_brackets) {
            fail(p, p->pos, "a value filter cannot be nested in another");
            goto fail;
        }
        if (a.sub) {
            fail(p, p->pos, "a value filter follows an attribute, not a sub-attribute");
            goto fail;
        }
        p->pos++;
        f = node_new(p, BALAI_SCIM_VALUEPATH);
        if (!f)
            goto fail;
        f->attr = a;
        p->in_brackets = 1;
        f->sub = parse_or(p);
        p->in_brackets = 0;
        if (!f->sub) {
            balai_scim_filter_free(f);
            return NULL;
        }
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ']') {
            fail(p, p->pos, "expected ']'");
            balai_scim_filter_free(f);
            return NULL;
        }
        p->pos++;
        return f;
    }
    if (p->pos >= p->len || p->s[p->pos] != ' ') {
        fail(p, p->pos, p->pos >= p->len ? "expected an operator after '%.*s'"
                                         : "expected a space and an operator after '%.*s'",
             (int)(p->pos - at > 64 ? 64 : p->pos - at), p->s + at);
        goto fail;
    }
    skip_ws(p);
    for (i = 0; i < BALAI_ARRAY_LEN(compare_ops); i++)
        if (at_keyword(p, compare_ops[i].kw))
            break;
    if (i == BALAI_ARRAY_LEN(compare_ops)) {
        fail(p, p->pos, "expected an operator (eq, ne, co, sw, ew, pr, gt, ge, lt, le)");
        goto fail;
    }
    p->pos += 2;
    f = node_new(p, compare_ops[i].op);
    if (!f)
        goto fail;
    f->attr = a;
    if (f->op == BALAI_SCIM_PR)
        return f;
    if (p->pos >= p->len || p->s[p->pos] != ' ') {
        fail(p, p->pos, "expected a space and a value after the operator");
        balai_scim_filter_free(f);
        return NULL;
    }
    skip_ws(p);
    f->value = parse_value(p);
    if (!f->value) {
        balai_scim_filter_free(f);
        return NULL;
    }
    if ((f->op == BALAI_SCIM_CO || f->op == BALAI_SCIM_SW || f->op == BALAI_SCIM_EW) &&
        !json_is_string(f->value)) {
        fail(p, at, "co, sw and ew compare strings only");
        balai_scim_filter_free(f);
        return NULL;
    }
    return f;
fail:
    attr_release(&a);
    return NULL;
}

/* "not" "(" FILTER ")" / "(" FILTER ")" / attrExp / valuePath. */
static struct balai_scim_filter *parse_unary(struct parser *p)
{
    struct balai_scim_filter *f = NULL, *inner;
    int is_not = 0;
    size_t at;

    skip_ws(p);
    if (++p->depth > BALAI_SCIM_FILTER_MAX_DEPTH) {
        fail(p, p->pos, "the filter is nested too deeply (more than %d levels)",
             BALAI_SCIM_FILTER_MAX_DEPTH);
        goto out;
    }
    at = p->pos;
    if (at_keyword(p, "not") || (p->len - p->pos >= 4 && strncasecmp(p->s + p->pos, "not(", 4) == 0)) {
        is_not = 1;
        p->pos += 3;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '(') {
            fail(p, p->pos, "expected '(' after 'not'");
            goto out;
        }
    }
    if (p->pos < p->len && p->s[p->pos] == '(') {
        p->pos++;
        inner = parse_or(p);
        if (!inner)
            goto out;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ')') {
            fail(p, p->pos, "expected ')' to close the '(' at %zu", at);
            balai_scim_filter_free(inner);
            goto out;
        }
        p->pos++;
        if (!is_not) {
            f = inner;
            goto out;
        }
        f = node_new(p, BALAI_SCIM_NOT);
        if (!f) {
            balai_scim_filter_free(inner);
            goto out;
        }
        f->left = inner;
        goto out;
    }
    if (p->pos >= p->len) {
        fail(p, p->pos, "expected an expression");
        goto out;
    }
    f = parse_attr_exp(p);
out:
    p->depth--;
    return f;
}

/* Left-associative chain of `sub` joined by keyword kw. */
static struct balai_scim_filter *parse_chain(struct parser *p, const char *kw,
                                             enum balai_scim_op op,
                                             struct balai_scim_filter *(*sub)(struct parser *))
{
    struct balai_scim_filter *l = sub(p);

    while (l) {
        size_t save = p->pos;
        if (p->pos >= p->len || p->s[p->pos] != ' ')
            break;
        skip_ws(p);
        if (!at_keyword(p, kw)) {
            p->pos = save;
            break;
        }
        p->pos += strlen(kw);
        if (p->pos >= p->len || (p->s[p->pos] != ' ' && p->s[p->pos] != '(')) {
            fail(p, p->pos, "expected an expression after '%s'", kw);
            balai_scim_filter_free(l);
            return NULL;
        }
        struct balai_scim_filter *r = sub(p);
        if (!r) {
            balai_scim_filter_free(l);
            return NULL;
        }
        struct balai_scim_filter *n = node_new(p, op);
        if (!n) {
            balai_scim_filter_free(l);
            balai_scim_filter_free(r);
            return NULL;
        }
        n->left = l;
        n->right = r;
        l = n;
    }
    return l;
}

static struct balai_scim_filter *parse_and(struct parser *p)
{
    return parse_chain(p, "and", BALAI_SCIM_AND, parse_unary);
}

static struct balai_scim_filter *parse_or(struct parser *p)
{
    struct balai_scim_filter *f;

    if (++p->depth > BALAI_SCIM_FILTER_MAX_DEPTH) {
        fail(p, p->pos, "the filter is nested too deeply (more than %d levels)",
             BALAI_SCIM_FILTER_MAX_DEPTH);
        p->depth--;
        return NULL;
    }
    f = parse_chain(p, "or", BALAI_SCIM_OR, parse_and);
    p->depth--;
    return f;
}

static int parser_init(struct parser *p, const char *text, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->err = err;
    p->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!text) {
        fail(p, 0, "no filter");
        return BALAI_EINVAL;
    }
    p->s = text;
    p->len = strlen(text);
    if (p->len > BALAI_SCIM_FILTER_MAX_LEN) {
        fail(p, 0, "the filter is longer than %d bytes", BALAI_SCIM_FILTER_MAX_LEN);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

int balai_scim_filter_parse(const char *text, struct balai_scim_filter **out, char *err,
                            size_t errlen)
{
    struct parser p;
    struct balai_scim_filter *f;

    *out = NULL;
    if (parser_init(&p, text, err, errlen) != BALAI_OK)
        return BALAI_EINVAL;
    f = parse_or(&p);
    if (f) {
        skip_ws(&p);
        if (p.pos != p.len) {
            fail(&p, p.pos, p.s[p.pos] == ')' ? "unbalanced ')'"
                                              : "expected 'and', 'or' or the end of the filter");
            balai_scim_filter_free(f);
            f = NULL;
        }
    }
    if (!f) {
        if (!p.failed)
            fail(&p, p.pos, "invalid filter");
        return BALAI_EINVAL;
    }
    *out = f;
    return BALAI_OK;
}

int balai_scim_path_parse(const char *text, struct balai_scim_path **out, char *err,
                          size_t errlen)
{
    struct parser p;
    struct balai_scim_path *r = balai_calloc(1, sizeof(*r));

    *out = NULL;
    if (parser_init(&p, text, err, errlen) != BALAI_OK)
        goto fail;
    if (parse_attr(&p, &r->attr, 1) != BALAI_OK)
        goto fail;
    if (p.pos < p.len && p.s[p.pos] == '[') {
        if (!r->attr.name || r->attr.sub) {
            fail(&p, p.pos, "a value filter follows an attribute, not a sub-attribute");
            goto fail;
        }
        p.pos++;
        p.in_brackets = 1;
        r->filter = parse_or(&p);
        if (!r->filter)
            goto fail;
        skip_ws(&p);
        if (p.pos >= p.len || p.s[p.pos] != ']') {
            fail(&p, p.pos, "expected ']'");
            goto fail;
        }
        p.pos++;
        if (p.pos < p.len && p.s[p.pos] == '.') {
            size_t at = ++p.pos;
            while (p.pos < p.len && is_name_char(p.s[p.pos]))
                p.pos++;
            if (!name_ok(p.s + at, p.pos - at)) {
                fail(&p, at, "expected a sub-attribute name after '.'");
                goto fail;
            }
            r->attr.sub = balai_strndup(p.s + at, p.pos - at);
        }
    }
    if (p.pos != p.len) {
        fail(&p, p.pos, "unexpected character '%c' in the path", p.s[p.pos]);
        goto fail;
    }
    *out = r;
    return BALAI_OK;
fail:
    if (!p.failed)
        fail(&p, p.pos, "invalid path");
    balai_scim_path_free(r);
    return BALAI_EINVAL;
}

void balai_scim_path_free(struct balai_scim_path *p)
{
    if (!p)
        return;
    attr_release(&p->attr);
    balai_scim_filter_free(p->filter);
    free(p);
}

/* ---- matching ---- */

json_t *balai_scim_json_get(const json_t *obj, const char *key, const char **real_key)
{
    const char *k;
    json_t *v;

    if (!json_is_object(obj) || !key)
        return NULL;
    v = json_object_get(obj, key);
    if (v) {
        if (real_key)
            *real_key = key;
        return v;
    }
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0) {
            if (real_key)
                *real_key = k;
            return v;
        }
    }
    return NULL;
}

static int case_exact(const struct balai_scim_attr *a)
{
    if (a->sub)
        return strcasecmp(a->name, "members") == 0 && strcasecmp(a->sub, "value") == 0;
    return strcasecmp(a->name, "id") == 0 || strcasecmp(a->name, "externalId") == 0;
}

/* Case-insensitive (ASCII) helpers over strings that may hold any bytes. */
static int ci_cmp(const char *a, const char *b)
{
    return strcasecmp(a, b);
}

static const char *ci_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return hay;
    for (const char *h = hay; *h; h++)
        if (strncasecmp(h, needle, n) == 0)
            return h;
    return NULL;
}

/* One scalar against the filter value. */
static int compare_one(enum balai_scim_op op, const json_t *v, const json_t *want, int exact)
{
    if (json_is_object(v))
        v = json_object_get(v, "value");
    if (!v)
        return op == BALAI_SCIM_EQ ? json_is_null(want) : op == BALAI_SCIM_NE && !json_is_null(want);
    if (json_is_string(v) && json_is_string(want)) {
        const char *a = json_string_value(v), *b = json_string_value(want);
        size_t la = strlen(a), lb = strlen(b);
        int c = exact ? strcmp(a, b) : ci_cmp(a, b);
        switch (op) {
        case BALAI_SCIM_EQ:
            return c == 0;
        case BALAI_SCIM_NE:
            return c != 0;
        case BALAI_SCIM_CO:
            return exact ? strstr(a, b) != NULL : ci_find(a, b) != NULL;
        case BALAI_SCIM_SW:
            return la >= lb && (exact ? strncmp(a, b, lb) : strncasecmp(a, b, lb)) == 0;
        case BALAI_SCIM_EW:
            return la >= lb && (exact ? strcmp(a + la - lb, b) : ci_cmp(a + la - lb, b)) == 0;
        case BALAI_SCIM_GT:
            return c > 0;
        case BALAI_SCIM_GE:
            return c >= 0;
        case BALAI_SCIM_LT:
            return c < 0;
        case BALAI_SCIM_LE:
            return c <= 0;
        default:
            return 0;
        }
    }
    if (json_is_number(v) && json_is_number(want)) {
        double a = json_number_value(v), b = json_number_value(want);
        switch (op) {
        case BALAI_SCIM_EQ:
            return a == b;
        case BALAI_SCIM_NE:
            return a != b;
        case BALAI_SCIM_GT:
            return a > b;
        case BALAI_SCIM_GE:
            return a >= b;
        case BALAI_SCIM_LT:
            return a < b;
        case BALAI_SCIM_LE:
            return a <= b;
        default:
            return 0;
        }
    }
    if (json_is_boolean(v) && json_is_boolean(want)) {
        if (op == BALAI_SCIM_EQ)
            return json_is_true(v) == json_is_true(want);
        if (op == BALAI_SCIM_NE)
            return json_is_true(v) != json_is_true(want);
        return 0;
    }
    /* a string "true"/"false" against a boolean (providers send both) */
    if (json_is_string(v) && json_is_boolean(want) &&
        (op == BALAI_SCIM_EQ || op == BALAI_SCIM_NE)) {
        int t = strcasecmp(json_string_value(v), "true") == 0;
        int eq = t == json_is_true(want);
        return op == BALAI_SCIM_EQ ? eq : !eq;
    }
    if (json_is_null(want))
        return op == BALAI_SCIM_EQ ? json_is_null(v) : op == BALAI_SCIM_NE && !json_is_null(v);
    return op == BALAI_SCIM_NE;
}

static int present(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    return 1;
}

/* The container that holds a's name: the resource or an extension object. */
static const json_t *container(const json_t *res, const struct balai_scim_attr *a,
                               const char *core_urn)
{
    if (!a->urn || (core_urn && strcasecmp(a->urn, core_urn) == 0))
        return res;
    return balai_scim_json_get(res, a->urn, NULL);
}

static int match_attr(const struct balai_scim_filter *f, const json_t *res, const char *core_urn)
{
    const json_t *c = container(res, &f->attr, core_urn);
    const json_t *v = c ? balai_scim_json_get(c, f->attr.name, NULL) : NULL;
    int exact = case_exact(&f->attr);

    if (f->attr.sub && json_is_array(v)) {
        size_t i;
        json_t *e;
        int any = 0;
        json_array_foreach(v, i, e)
        {
            const json_t *s = balai_scim_json_get(e, f->attr.sub, NULL);
            if (f->op == BALAI_SCIM_PR)
                any = any || present(s);
            else if (f->op == BALAI_SCIM_NE)
                any = any || compare_one(BALAI_SCIM_EQ, s, f->value, exact);
            else
                any = any || compare_one(f->op, s, f->value, exact);
        }
        return f->op == BALAI_SCIM_NE ? !any : any;
    }
    if (f->attr.sub)
        v = balai_scim_json_get(v, f->attr.sub, NULL);
    if (f->op == BALAI_SCIM_PR)
        return present(v);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        /* ne on a multi-valued attribute: no value equals */
        if (f->op == BALAI_SCIM_NE) {
            json_array_foreach(v, i, e) if (compare_one(BALAI_SCIM_EQ, e, f->value, exact)) return 0;
            return 1;
        }
        json_array_foreach(v, i, e) if (compare_one(f->op, e, f->value, exact)) return 1;
        return 0;
    }
    return compare_one(f->op, v, f->value, exact);
}

static int match(const struct balai_scim_filter *f, const json_t *res, const char *core_urn)
{
    switch (f->op) {
    case BALAI_SCIM_AND:
        return match(f->left, res, core_urn) && match(f->right, res, core_urn);
    case BALAI_SCIM_OR:
        return match(f->left, res, core_urn) || match(f->right, res, core_urn);
    case BALAI_SCIM_NOT:
        return !match(f->left, res, core_urn);
    case BALAI_SCIM_VALUEPATH: {
        const json_t *c = container(res, &f->attr, core_urn);
        const json_t *v = c ? balai_scim_json_get(c, f->attr.name, NULL) : NULL;
        size_t i;
        json_t *e;
        if (json_is_object(v))
            return match(f->sub, v, NULL);
        json_array_foreach(v, i, e) if (json_is_object(e) && match(f->sub, e, NULL)) return 1;
        return 0;
    }
    default:
        return match_attr(f, res, core_urn);
    }
}

int balai_scim_filter_match(const struct balai_scim_filter *f, const json_t *resource,
                            const char *core_urn)
{
    if (!f || !json_is_object(resource))
        return 0;
    return match(f, resource, core_urn);
}
