/* web.h: serving the web app (the built web/dist directory) at "/".
 *
 * At start every file of the web root is read into memory (the bundle is
 * small; nothing is read from disk while serving, so the loop thread never
 * blocks), with its precompressed "NAME.gz" sibling when there is one. The
 * answers carry the security headers (a strict Content-Security-Policy,
 * nosniff, no referrer, no framing), an ETag, and cache headers: files
 * whose name carries a content hash ("app-3QZ5XK2B.js") are immutable for a
 * year, everything else (index.html) is revalidated each time.
 *
 * The web root is config web.root: an absolute path or one relative to the
 * data dir; "none" turns the web app off; empty (the default) looks for
 * DIR/../web/dist, DIR/../share/balai/web (DIR: the directory of the
 * running binary, so build/balai finds the repository's web/dist) and
 * /usr/share/balai/web, in this order, and takes the first holding an
 * index.html. An explicit root without index.html stops the server; when
 * the automatic search finds none the server runs without the web app
 * (logged), and "/" answers 404 like any unknown path.
 *
 * Routes (GET and HEAD): "/" and the client-side routes of the app
 * (/login, /settings, /rooms/..., /admin/..., up to 4 segments) answer
 * index.html; the top-level files of the root and the files of its
 * top-level directories ("/assets/...") answer themselves or 404. Nothing
 * under /_matrix, /_balai, /scim, /.well-known or /metrics is ever taken.
 * Lookups are exact matches of the percent-decoded path in the in-memory
 * table; a path with a "." or ".." segment, a backslash or a NUL is 404. */
#ifndef BALAI_API_WEB_H
#define BALAI_API_WEB_H

#include "api/app.h"

struct balai_api_web;

/* Loads the web root (see above) into app->web and adds the routes.
 * Returns 0, or BALAI_ECONFIG when an explicitly configured root cannot be
 * used (logged), or another negative BALAI_E*. Call before the loop runs:
 * it reads files. */
int balai_api_web_routes(struct balai_app *app);
/* Frees app->web (NULL is fine) and sets it to NULL. */
void balai_api_web_free(struct balai_app *app);

#endif
