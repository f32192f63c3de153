/* router.c: segment trie router.
 *
 * Each trie node has its literal children in an array sorted by (length,
 * bytes) for binary search, at most one placeholder child, and a route per
 * method for patterns that end there. Matching is a depth-first walk that
 * tries the literal child before the placeholder, so literals win and a
 * dead end falls back to the placeholder. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "util/alloc.h"

#define NMETHODS BALAI_HTTP_OTHER /* routable methods: GET .. HEAD */

struct balai_route {
    char *pattern;
    enum balai_http_method method;
    balai_http_handler_fn fn;
    size_t max_body;
    void *data;
    int nparams;
    char *names[BALAI_ROUTE_MAX_PARAMS];
};

struct node;

struct edge {
    char *seg;
    size_t len;
    struct node *child;
};

struct node {
    struct edge *lits; /* sorted by (len, bytes) */
    size_t nlits;
    struct node *param;
    struct balai_route *routes[NMETHODS];
};

struct balai_router {
    struct node root;
};

struct seg {
    const char *p;
    size_t len;
};

static const char *const method_names[] = {"GET",     "POST", "PUT",   "DELETE",
                                           "OPTIONS", "HEAD", "PATCH", "OTHER"};

const char *balai_http_method_name(enum balai_http_method m)
{
    if ((unsigned)m > BALAI_HTTP_OTHER)
        m = BALAI_HTTP_OTHER;
    return method_names[m];
}

struct balai_router *balai_router_new(void)
{
    return balai_calloc(1, sizeof(struct balai_router));
}

static void route_free(struct balai_route *rt)
{
    if (!rt)
        return;
    for (int i = 0; i < rt->nparams; i++)
        free(rt->names[i]);
    free(rt->pattern);
    free(rt);
}

static void node_release(struct node *n)
{
    for (size_t i = 0; i < n->nlits; i++) {
        node_release(n->lits[i].child);
        free(n->lits[i].child);
        free(n->lits[i].seg);
    }
    free(n->lits);
    if (n->param) {
        node_release(n->param);
        free(n->param);
    }
    for (int m = 0; m < NMETHODS; m++)
        route_free(n->routes[m]);
}

void balai_router_free(struct balai_router *r)
{
    if (!r)
        return;
    node_release(&r->root);
    free(r);
}

/* Splits a path (starting with '/') into segments; "/" is one empty
 * segment. Returns the count, or -1 when there are too many. */
static int split(const char *path, size_t len, struct seg *segs)
{
    size_t start = 1;
    int n = 0;

    for (size_t i = 1; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (n == BALAI_ROUTE_MAX_SEGMENTS)
                return -1;
            segs[n].p = path + start;
            segs[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

static int edge_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Index of the literal edge for `s`, or -(insertion point) - 1. */
static long find_edge(const struct node *n, const char *s, size_t len)
{
    size_t lo = 0, hi = n->nlits;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = edge_cmp(n->lits[mid].seg, n->lits[mid].len, s, len);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Checks one pattern segment; sets *is_param. */
static int check_segment(const struct seg *s, int last, int *is_param)
{
    *is_param = 0;
    if (s->len == 0)
        return last ? BALAI_OK : BALAI_EINVAL;
    if (s->p[0] == '{') {
        if (s->len < 3 || s->p[s->len - 1] != '}')
            return BALAI_EINVAL;
        for (size_t i = 1; i + 1 < s->len; i++) {
            if (!is_name_char(s->p[i]))
                return BALAI_EINVAL;
        }
        *is_param = 1;
        return BALAI_OK;
    }
    for (size_t i = 0; i < s->len; i++) {
        char c = s->p[i];
        if (c == '{' || c == '}' || c == '?' || c == '#' || c == '%' || (unsigned char)c <= ' ')
            return BALAI_EINVAL;
    }
    return BALAI_OK;
}

int balai_router_add(struct balai_router *r, enum balai_http_method m, const char *pattern,
                     balai_http_handler_fn fn, size_t max_body, void *data)
{
    struct seg segs[BALAI_ROUTE_MAX_SEGMENTS];
    int params[BALAI_ROUTE_MAX_SEGMENTS];
    struct balai_route *rt;
    struct node *n = &r->root;
    int nseg, nparams = 0;

    if ((unsigned)m >= NMETHODS || !fn || !pattern || pattern[0] != '/')
        return BALAI_EINVAL;
    nseg = split(pattern, strlen(pattern), segs);
    if (nseg < 0)
        return BALAI_EINVAL;
    for (int i = 0; i < nseg; i++) {
        if (check_segment(&segs[i], i == nseg - 1, &params[i]) != BALAI_OK)
            return BALAI_EINVAL;
        if (!params[i])
            continue;
        if (nparams == BALAI_ROUTE_MAX_PARAMS)
            return BALAI_EINVAL;
        for (int j = 0; j < i; j++) {
            if (params[j] && segs[j].len == segs[i].len &&
                memcmp(segs[j].p, segs[i].p, segs[i].len) == 0)
                return BALAI_EINVAL; /* repeated name */
        }
        nparams++;
    }
    /* Walk down (creating nodes) only once the pattern is known good. */
    for (int i = 0; i < nseg; i++) {
        if (params[i]) {
            if (!n->param)
                n->param = balai_calloc(1, sizeof(*n->param));
            n = n->param;
            continue;
        }
        long at = find_edge(n, segs[i].p, segs[i].len);
        if (at < 0) {
            size_t ins = (size_t)(-at - 1);
            n->lits = balai_realloc(n->lits, (n->nlits + 1) * sizeof(*n->lits));
            memmove(n->lits + ins + 1, n->lits + ins, (n->nlits - ins) * sizeof(*n->lits));
            n->lits[ins].seg = balai_strndup(segs[i].p, segs[i].len);
            n->lits[ins].len = segs[i].len;
            n->lits[ins].child = balai_calloc(1, sizeof(struct node));
            n->nlits++;
            at = (long)ins;
        }
        n = n->lits[at].child;
    }
    if (n->routes[m])
        return BALAI_EEXIST;
    rt = balai_calloc(1, sizeof(*rt));
    rt->pattern = balai_strdup(pattern);
    rt->method = m;
    rt->fn = fn;
    rt->max_body = max_body;
    rt->data = data;
    for (int i = 0; i < nseg; i++) {
        if (params[i])
            rt->names[rt->nparams++] = balai_strndup(segs[i].p + 1, segs[i].len - 2);
    }
    n->routes[m] = rt;
    return BALAI_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when every '%' starts a valid escape that is not %00. */
static int param_ok(const struct seg *s)
{
    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] != '%')
            continue;
        if (i + 2 >= s->len)
            return 0;
        int hi = hexval(s->p[i + 1]), lo = hexval(s->p[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return 0;
        i += 2;
    }
    return 1;
}

static size_t decode_into(const struct seg *s, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] == '%') {
            out[n++] = (char)(hexval(s->p[i + 1]) * 16 + hexval(s->p[i + 2]));
            i += 2;
        } else {
            out[n++] = s->p[i];
        }
    }
    out[n] = '\0';
    return n;
}

struct walk {
    const struct seg *segs;
    int nseg;
    enum balai_http_method m;
    unsigned allow;
    int pidx[BALAI_ROUTE_MAX_PARAMS];
};

static const struct balai_route *walk(struct walk *w, const struct node *n, int i, int np)
{
    const struct balai_route *rt;

    if (i == w->nseg) {
        for (int k = 0; k < NMETHODS; k++) {
            if (n->routes[k])
                w->allow |= 1u << k;
        }
        if ((unsigned)w->m >= NMETHODS)
            return NULL;
        rt = n->routes[w->m];
        if (!rt && w->m == BALAI_HTTP_HEAD)
            rt = n->routes[BALAI_HTTP_GET];
        return rt;
    }
    if (n->nlits) {
        long at = find_edge(n, w->segs[i].p, w->segs[i].len);
        if (at >= 0) {
            rt = walk(w, n->lits[at].child, i + 1, np);
            if (rt)
                return rt;
        }
    }
    if (n->param && w->segs[i].len > 0 && np < BALAI_ROUTE_MAX_PARAMS && param_ok(&w->segs[i])) {
        rt = walk(w, n->param, i + 1, np + 1);
        if (rt) {
            w->pidx[np] = i;
            return rt;
        }
    }
    return NULL;
}

int balai_router_match(const struct balai_router *r, enum balai_http_method m, const char *path,
                       size_t len, struct balai_route_match *out)
{
    struct seg segs[BALAI_ROUTE_MAX_SEGMENTS];
    struct walk w;
    const struct balai_route *rt;
    size_t total = 0;
    char *p;

    memset(out, 0, sizeof(*out));
    if (len == 0 || path[0] != '/')
        return BALAI_ENOTFOUND;
    memset(&w, 0, sizeof(w));
    w.nseg = split(path, len, segs);
    if (w.nseg < 0)
        return BALAI_ENOTFOUND;
    w.segs = segs;
    w.m = m;
    rt = walk(&w, &r->root, 0, 0);
    if (!rt) {
        out->allow = w.allow;
        return w.allow ? BALAI_ESTATE : BALAI_ENOTFOUND;
    }
    out->route = rt;
    out->nparams = rt->nparams;
    if (rt->nparams == 0)
        return BALAI_OK;
    for (int k = 0; k < rt->nparams; k++)
        total += segs[w.pidx[k]].len + 1;
    p = out->storage = balai_malloc(total);
    for (int k = 0; k < rt->nparams; k++) {
        out->params[k] = p;
        p += decode_into(&segs[w.pidx[k]], p) + 1;
    }
    return BALAI_OK;
}

void balai_route_match_release(struct balai_route_match *m)
{
    free(m->storage);
    memset(m, 0, sizeof(*m));
}

const char *balai_route_pattern(const struct balai_route *route)
{
    return route->pattern;
}

balai_http_handler_fn balai_route_handler(const struct balai_route *route)
{
    return route->fn;
}

size_t balai_route_max_body(const struct balai_route *route)
{
    return route->max_body;
}

void *balai_route_data(const struct balai_route *route)
{
    return route->data;
}

const char *balai_route_param_name(const struct balai_route *route, int i)
{
    return i >= 0 && i < route->nparams ? route->names[i] : NULL;
}

void balai_router_allow_text(unsigned allow, char *out, size_t outlen)
{
    size_t n = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (int k = 0; k < NMETHODS; k++) {
        if (!(allow & (1u << k)))
            continue;
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", method_names[k]);
        if (w < 0 || (size_t)w >= outlen - n)
            break;
        n += (size_t)w;
    }
}
