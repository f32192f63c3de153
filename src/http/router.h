/* router.h: maps (method, path) to a handler.
 *
 * A pattern is a path of literal segments and {name} placeholders, e.g.
 * "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}". A
 * placeholder matches exactly one non-empty path segment; its value is
 * percent-decoded (so an encoded slash "%2F" stays inside the value). When
 * both a literal and a placeholder could match a segment the literal wins
 * (with backtracking: "/a/b/c" matches "/a/{x}/c" if "/a/b/..." has no
 * route ending in "c"). A pattern ending in "/" matches only paths ending in
 * "/". HEAD requests fall back to the GET route. Matching walks a segment
 * trie: no regex, no allocation unless the route has placeholders. */
#ifndef BALAI_HTTP_ROUTER_H
#define BALAI_HTTP_ROUTER_H

#include <stddef.h>

enum balai_http_method {
    BALAI_HTTP_GET,
    BALAI_HTTP_POST,
    BALAI_HTTP_PUT,
    BALAI_HTTP_DELETE,
    BALAI_HTTP_OPTIONS,
    BALAI_HTTP_HEAD,
    BALAI_HTTP_PATCH, /* SCIM (RFC 7644) */
    BALAI_HTTP_OTHER,
};

#define BALAI_ROUTE_MAX_PARAMS 8
#define BALAI_ROUTE_MAX_SEGMENTS 32

struct balai_http_req;
struct balai_router;
struct balai_route;

typedef void (*balai_http_handler_fn)(struct balai_http_req *req);

struct balai_router *balai_router_new(void);
/* NULL is fine. Routes handed out by matches become invalid. */
void balai_router_free(struct balai_router *r);

/* Adds a route. `pattern` is copied. max_body 0 = the server's default.
 * `data` is handed to the handler as req->route_data. Returns 0,
 * BALAI_EINVAL for a bad pattern (not starting with "/", an empty segment
 * other than a final one, a malformed or repeated {name}, more than
 * BALAI_ROUTE_MAX_PARAMS placeholders or BALAI_ROUTE_MAX_SEGMENTS segments,
 * a '?', '#' or '%' in a literal) or method BALAI_HTTP_OTHER, or
 * BALAI_EEXIST when the method already has a route of the same shape
 * ("/a/{x}" and "/a/{y}" are the same shape). */
int balai_router_add(struct balai_router *r, enum balai_http_method m, const char *pattern,
                     balai_http_handler_fn fn, size_t max_body, void *data);

struct balai_route_match {
    const struct balai_route *route;      /* BALAI_OK only */
    char *params[BALAI_ROUTE_MAX_PARAMS]; /* decoded values, in pattern order */
    int nparams;
    unsigned allow; /* BALAI_ESTATE: bit (1u << method) for each method the path has */
    char *storage;  /* private: holds the params */
};

/* Matches a raw path (no query string; `len` bytes, need not be
 * NUL-terminated). Returns BALAI_OK (route found; release the match with
 * balai_route_match_release), BALAI_ENOTFOUND (no pattern matches the path:
 * 404) or BALAI_ESTATE (the path matches, not for this method: 405, with
 * out->allow set). A placeholder value that has an invalid percent-escape or
 * decodes to a NUL byte does not match. */
int balai_router_match(const struct balai_router *r, enum balai_http_method m, const char *path,
                       size_t len, struct balai_route_match *out);
/* Frees the params; the match may be reused. Safe on a zeroed match. */
void balai_route_match_release(struct balai_route_match *m);

/* The route's pattern as registered (for metrics labels and logs). */
const char *balai_route_pattern(const struct balai_route *route);
balai_http_handler_fn balai_route_handler(const struct balai_route *route);
size_t balai_route_max_body(const struct balai_route *route);
void *balai_route_data(const struct balai_route *route);
/* Name of placeholder i ("roomId"), or NULL. */
const char *balai_route_param_name(const struct balai_route *route, int i);
/* Writes "GET, PUT" style text for an allow mask. */
void balai_router_allow_text(unsigned allow, char *out, size_t outlen);
/* "GET", "POST", ... ("OTHER" for BALAI_HTTP_OTHER). */
const char *balai_http_method_name(enum balai_http_method m);

#endif
