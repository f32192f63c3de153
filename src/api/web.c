/* web.c: serves the web app from memory: the files of the web root, read
 * once at start, with security and cache headers (contract in api/web.h). */
#include "balai.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/common.h"
#include "api/web.h"
#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/map.h"

#define LOG_MODULE "web"
#include "util/log.h"

#define WEB_MAX_FILES 4096
#define WEB_MAX_BYTES (64u << 20) /* all files together */
#define WEB_MAX_DEPTH 4           /* directory levels below the root */
#define WEB_PATH_MAX 1024

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data: blob:; connect-src 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
                          "object-src 'none'";
static const char permissions[] = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                                  "interest-cohort=()";

/* The client-side routes of the app (web/src/router.ts): each answers
 * index.html. Keep the two lists in step. */
static const char *const app_routes[] = {
    "/",          "/login",         "/settings",          "/rooms",
    "/rooms/{a}", "/rooms/{a}/{b}", "/rooms/{a}/{b}/{c}", "/admin",
    "/admin/{a}", "/admin/{a}/{b}", "/admin/{a}/{b}/{c}",
};

/* First segments never served from the web root. */
static const char *const reserved[] = {"_matrix", "_balai", "scim", ".well-known", "metrics"};

struct web_file {
    const char *type; /* static */
    char *body;
    size_t len;
    char *gz; /* precompressed body, or NULL */
    size_t gz_len;
    char etag[24];
    char etag_gz[28];
    int immutable; /* the name carries a content hash */
};

struct balai_api_web {
    char *root;
    struct balai_map *files; /* "/assets/app-X.js" -> struct web_file * */
    struct web_file *index;  /* "/index.html", borrowed from files */
    size_t bytes;
    size_t count;
};

/* ---- loading ---- */

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"gz", "application/gzip"},
};

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/')) {
        for (size_t i = 0; i < BALAI_ARRAY_LEN(types); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}

/* "name-3QZ5XK2B.js": at least 8 letters and digits between the last '-'
 * and the first '.' after it. */
static int is_hashed(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dash, *p;
    base = base ? base + 1 : path;
    dash = strrchr(base, '-');
    if (!dash)
        return 0;
    for (p = dash + 1; *p && *p != '.'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return *p == '.' && p - dash - 1 >= 8;
}

static void set_etag(char *out, size_t outlen, const void *data, size_t len, const char *suffix)
{
    uint8_t h[32];
    char hex[17];
    balai_sha256(data, len, h);
    balai_hex_encode(h, 8, hex);
    snprintf(out, outlen, "\"%s%s\"", hex, suffix);
}

static void file_free(struct web_file *f)
{
    if (!f)
        return;
    free(f->body);
    free(f->gz);
    free(f);
}

/* Reads a regular file of at most `max` bytes. Caller frees *out. */
static int read_file(const char *path, size_t max, char **out, size_t *outlen)
{
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    int rc = BALAI_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return BALAI_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((uint64_t)st.st_size > max) {
        rc = BALAI_ETOOBIG;
        goto out;
    }
    data = balai_malloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    data[got] = '\0';
    *out = data;
    *outlen = got;
    data = NULL;
    rc = BALAI_OK;
out:
    free(data);
    close(fd);
    return rc;
}

/* Adds the files under dir (web path prefix `prefix`, "" for the root). */
static int load_dir(struct balai_api_web *w, const char *dir, const char *prefix, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = BALAI_OK;

    if (!d) {
        LOG_WARN("cannot read %s: %s", dir, strerror(errno));
        return BALAI_EIO;
    }
    while (rc == BALAI_OK && (e = readdir(d)) != NULL) {
        char path[PATH_MAX], key[WEB_PATH_MAX];
        struct stat st;
        struct web_file *f;

        if (e->d_name[0] == '.' || strchr(e->d_name, '\\'))
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
            snprintf(key, sizeof(key), "%s/%s", prefix, e->d_name) >= (int)sizeof(key))
            continue;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < WEB_MAX_DEPTH)
                rc = load_dir(w, path, key, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (w->count >= WEB_MAX_FILES) {
            LOG_ERROR("web root %s: more than %d files", w->root, WEB_MAX_FILES);
            rc = BALAI_ETOOBIG;
            break;
        }
        f = balai_calloc(1, sizeof(*f));
        rc = read_file(path, WEB_MAX_BYTES - w->bytes, &f->body, &f->len);
        if (rc != BALAI_OK) {
            LOG_ERROR("web root: cannot load %s (%s)", path,
                      rc == BALAI_ETOOBIG ? "over the size limit" : strerror(errno));
            file_free(f);
            break;
        }
        w->bytes += f->len;
        w->count++;
        f->type = content_type(key);
        f->immutable = is_hashed(key);
        set_etag(f->etag, sizeof(f->etag), f->body, f->len, "");
        file_free(balai_map_put_str(w->files, key, f));
    }
    closedir(d);
    return rc;
}

/* Moves each "X.gz" into X's gz (when X exists and the .gz is smaller). */
static void pair_gzip(struct balai_api_web *w)
{
    size_t it = 0, n = 0, klen;
    const void *key;
    void *val;
    char **gone = balai_calloc(w->count + 1, sizeof(*gone));

    while (balai_map_next(w->files, &it, &key, &klen, &val)) {
        char base[WEB_PATH_MAX];
        struct web_file *gzf = val, *f;
        if (klen < 4 || klen >= sizeof(base) || memcmp((const char *)key + klen - 3, ".gz", 3))
            continue;
        memcpy(base, key, klen - 3);
        base[klen - 3] = '\0';
        f = balai_map_get_str(w->files, base);
        if (!f || f->gz || gzf->len >= f->len)
            continue;
        f->gz = gzf->body;
        f->gz_len = gzf->len;
        gzf->body = NULL;
        set_etag(f->etag_gz, sizeof(f->etag_gz), f->body, f->len, "-gz");
        gone[n++] = balai_strndup(key, klen);
    }
    for (size_t i = 0; i < n; i++) {
        file_free(balai_map_del_str(w->files, gone[i]));
        free(gone[i]);
    }
    free(gone);
}

static void web_free(struct balai_api_web *w)
{
    size_t it = 0, klen;
    const void *key;
    void *val;

    if (!w)
        return;
    if (w->files) {
        while (balai_map_next(w->files, &it, &key, &klen, &val))
            file_free(val);
        balai_map_free(w->files);
    }
    free(w->root);
    free(w);
}

static int has_index(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/index.html", dir) >= (int)sizeof(path))
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The web root to load (caller frees), or NULL for none. *explicit is set
 * when the configuration named it. */
static char *find_root(const struct balai_config *cfg, int *explicit)
{
    char exe[PATH_MAX], cand[PATH_MAX];
    ssize_t n;
    const char *rel[] = {"../web/dist", "../share/balai/web"};

    *explicit = 0;
    if (strcmp(cfg->web_root, "none") == 0)
        return NULL;
    if (cfg->web_root[0]) {
        *explicit = 1;
        return balai_config_path(cfg, cfg->web_root);
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < BALAI_ARRAY_LEN(rel); i++) {
            if (snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]) < (int)sizeof(cand) &&
                has_index(cand)) {
                char *real = realpath(cand, NULL);
                if (real) {
                    char *copy = balai_strdup(real);
                    free(real);
                    return copy;
                }
            }
        }
    }
    if (has_index("/usr/share/balai/web"))
        return balai_strdup("/usr/share/balai/web");
    return NULL;
}

/* ---- serving ---- */

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

/* Percent-decodes the raw path into out. Fails on a bad escape, a NUL, a
 * backslash, an empty segment inside the path, or a "." or ".." segment. */
static int decode_path(const char *raw, size_t len, char *out, size_t outlen)
{
    size_t o = 0, seg = 0;

    if (len == 0 || raw[0] != '/')
        return BALAI_EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = raw[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return BALAI_EINVAL;
            hi = hexval(raw[i + 1]);
            lo = hexval(raw[i + 2]);
            if (hi < 0 || lo < 0)
                return BALAI_EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || c == '\\' || o + 1 >= outlen)
            return BALAI_EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    /* segments */
    for (size_t i = 1; i <= o; i++) {
        if (i == o || out[i] == '/') {
            size_t sl = i - seg - 1;
            const char *s = out + seg + 1;
            if ((sl == 0 && i != o) || (sl == 1 && s[0] == '.') ||
                (sl == 2 && s[0] == '.' && s[1] == '.'))
                return BALAI_EINVAL;
            seg = i;
        }
    }
    return BALAI_OK;
}

/* Whether Accept-Encoding allows gzip (not with q=0). */
static int accepts_gzip(struct balai_slice ae)
{
    size_t i = 0;
    while (i < ae.len) {
        size_t start, end, semi;
        while (i < ae.len && (ae.ptr[i] == ' ' || ae.ptr[i] == '\t' || ae.ptr[i] == ','))
            i++;
        start = i;
        while (i < ae.len && ae.ptr[i] != ',')
            i++;
        end = i;
        semi = start;
        while (semi < end && ae.ptr[semi] != ';' && ae.ptr[semi] != ' ')
            semi++;
        if (semi - start == 4 && strncasecmp(ae.ptr + start, "gzip", 4) == 0) {
            const char *q = memchr(ae.ptr + semi, '=', end - semi);
            if (!q)
                return 1;
            for (q++; q < ae.ptr + end; q++)
                if (*q >= '1' && *q <= '9')
                    return 1;
            return 0;
        }
    }
    return 0;
}

static void security_headers(struct balai_http_req *req)
{
    balai_http_add_header(req, "Content-Security-Policy", csp);
    balai_http_add_header(req, "X-Content-Type-Options", "nosniff");
    balai_http_add_header(req, "Referrer-Policy", "no-referrer");
    balai_http_add_header(req, "X-Frame-Options", "DENY");
    balai_http_add_header(req, "Permissions-Policy", permissions);
    balai_http_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
}

static int etag_matches(struct balai_slice inm, const char *etag)
{
    size_t el = strlen(etag);
    if (inm.len == 1 && inm.ptr[0] == '*')
        return 1;
    for (size_t i = 0; i + el <= inm.len; i++)
        if (memcmp(inm.ptr + i, etag, el) == 0)
            return 1;
    return 0;
}

static void send_file(struct balai_http_req *req, const struct web_file *f)
{
    int gz = f->gz && accepts_gzip(balai_http_req_header(req, "accept-encoding"));
    const char *etag = gz ? f->etag_gz : f->etag;

    security_headers(req);
    balai_http_add_header(req, "Cache-Control",
                          f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    balai_http_add_header(req, "ETag", etag);
    if (f->gz)
        balai_http_add_header(req, "Vary", "Accept-Encoding");
    if (etag_matches(balai_http_req_header(req, "if-none-match"), etag)) {
        balai_http_respond(req, 304, NULL, "", 0);
        return;
    }
    if (gz) {
        balai_http_add_header(req, "Content-Encoding", "gzip");
        balai_http_respond(req, 200, f->type, f->gz, f->gz_len);
    } else {
        balai_http_respond(req, 200, f->type, f->body, f->len);
    }
}

static void serve(struct balai_http_req *req, int app_route)
{
    struct balai_api_web *w = balai_api_app(req)->web;
    char path[WEB_PATH_MAX];
    const struct web_file *f = NULL;

    if (decode_path(req->path, req->path_len, path, sizeof(path)) == BALAI_OK) {
        f = balai_map_get_str(w->files, path);
        if (!f && app_route)
            f = w->index;
    }
    if (!f) {
        security_headers(req);
        balai_api_error(req, 404, "M_NOT_FOUND", "Not found");
        return;
    }
    send_file(req, f);
}

static void get_app(struct balai_http_req *req)
{
    serve(req, 1);
}

static void get_file(struct balai_http_req *req)
{
    serve(req, 0);
}

/* ---- routes ---- */

static int is_reserved(const char *seg, size_t len)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(reserved); i++)
        if (strlen(reserved[i]) == len && memcmp(reserved[i], seg, len) == 0)
            return 1;
    return len == 0 || seg[0] == '_' || seg[0] == '.' || strcspn(seg, "%?#{}") < len;
}

/* Adds a file route; a pattern that another area or the app already has is
 * skipped. */
static int add_file_route(struct balai_app *app, const char *pattern)
{
    int rc = balai_api_route(app, BALAI_HTTP_GET, pattern, get_file, 0);
    if (rc == BALAI_EEXIST || rc == BALAI_EINVAL) {
        LOG_DEBUG("web: %s not routed (%s)", pattern, rc == BALAI_EEXIST ? "taken" : "invalid");
        return BALAI_OK;
    }
    return rc;
}

static int add_routes(struct balai_app *app)
{
    struct balai_api_web *w = app->web;
    size_t it = 0, klen;
    const void *key;
    void *val;
    int rc = BALAI_OK;

    for (size_t i = 0; rc == BALAI_OK && i < BALAI_ARRAY_LEN(app_routes); i++)
        rc = balai_api_route(app, BALAI_HTTP_GET, app_routes[i], get_app, 0);
    while (rc == BALAI_OK && balai_map_next(w->files, &it, &key, &klen, &val)) {
        const char *k = key;
        const char *slash = memchr(k + 1, '/', klen - 1);
        size_t seglen = slash ? (size_t)(slash - k - 1) : klen - 1;
        char pattern[WEB_PATH_MAX + 32];

        if (is_reserved(k + 1, seglen))
            continue;
        if (!slash) {
            snprintf(pattern, sizeof(pattern), "%.*s", (int)klen, k);
            rc = add_file_route(app, pattern);
            continue;
        }
        /* a top-level directory: up to WEB_MAX_DEPTH levels below it */
        snprintf(pattern, sizeof(pattern), "/%.*s", (int)seglen, k + 1);
        for (int d = 0; rc == BALAI_OK && d < WEB_MAX_DEPTH; d++) {
            static const char *const ph[] = {"/{a}", "/{b}", "/{c}", "/{d}"};
            strcat(pattern, ph[d]);
            rc = add_file_route(app, pattern);
        }
    }
    return rc;
}

int balai_api_web_routes(struct balai_app *app)
{
    struct balai_api_web *w;
    int explicit, rc;
    char *root = find_root(app->cfg, &explicit);

    if (!root) {
        if (strcmp(app->cfg->web_root, "none") == 0)
            LOG_INFO("web app off (web.root = none)");
        else
            LOG_WARN("web app not found (build it with 'make build', or set web.root); "
                     "serving the APIs only");
        return BALAI_OK;
    }
    if (!has_index(root)) {
        LOG_ERROR("web.root %s has no index.html", root);
        free(root);
        return BALAI_ECONFIG;
    }
    w = balai_calloc(1, sizeof(*w));
    w->root = root;
    w->files = balai_map_new();
    rc = load_dir(w, root, "", 0);
    if (rc != BALAI_OK) {
        web_free(w);
        return explicit ? BALAI_ECONFIG : BALAI_OK;
    }
    pair_gzip(w);
    w->index = balai_map_get_str(w->files, "/index.html");
    app->web = w;
    LOG_INFO("web app: %zu files, %zu bytes from %s", w->count, w->bytes, w->root);
    return add_routes(app);
}

void balai_api_web_free(struct balai_app *app)
{
    web_free(app->web);
    app->web = NULL;
}
