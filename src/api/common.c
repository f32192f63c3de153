/* common.c: JSON answers, Matrix errors, token authentication, body parsing. */
#include "balai.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/app.h"
#include "api/common.h"
#include "api/directory.h"
#include "core/accounts.h"
#include "core/password.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"

void balai_api_json(struct balai_http_req *req, int status, json_t *body)
{
    size_t len;
    char *s = balai_json_dump(body, 0, &len);
    json_decref(body);
    if (!s) {
        balai_http_respond_error(req, 500, "M_UNKNOWN", "Could not encode the response");
        return;
    }
    balai_http_respond_take(req, status, "application/json", s, len);
}

void balai_api_error(struct balai_http_req *req, int status, const char *errcode, const char *fmt,
                     ...)
{
    struct balai_app *app = balai_api_app(req);
    char msg[512];
    va_list ap;

    /* A database that is unreachable for the moment (PostgreSQL restarting)
     * is a temporary condition: 503 with retry_after_ms, not 500. */
    if (status == 500 && app && balai_store_unavailable(app->store)) {
        json_t *o = json_pack("{s:s, s:s, s:I}", "errcode", "M_UNKNOWN", "error",
                              "The database is unreachable for the moment; try again",
                              "retry_after_ms", (json_int_t)1000);
        balai_http_add_header(req, "Retry-After", "1");
        balai_api_json(req, 503, o);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    balai_http_respond_error(req, status, errcode, msg);
}

void balai_api_limit(struct balai_http_req *req, int64_t retry_after_ms)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "errcode", "M_LIMIT_EXCEEDED", "error",
                          "Too many requests; try again later", "retry_after_ms",
                          (json_int_t)retry_after_ms);
    char ra[32];
    snprintf(ra, sizeof(ra), "%lld", (long long)((retry_after_ms + 999) / 1000));
    balai_http_add_header(req, "Retry-After", ra);
    balai_api_json(req, 429, o);
}

void balai_api_error_rc(struct balai_http_req *req, int rc, const char *what)
{
    switch (rc) {
    case BALAI_EINVAL:
        balai_api_error(req, 400, "M_INVALID_PARAM", "Invalid %s", what);
        break;
    case BALAI_ENOTFOUND:
        balai_api_error(req, 404, "M_NOT_FOUND", "%s not found", what);
        break;
    case BALAI_EEXIST:
        balai_api_error(req, 409, "M_UNKNOWN", "%s already exists", what);
        break;
    case BALAI_EFORBIDDEN:
    case BALAI_EAUTH:
        balai_api_error(req, 403, "M_FORBIDDEN", "Not allowed: %s", what);
        break;
    case BALAI_ETOOBIG:
        balai_api_error(req, 413, "M_TOO_LARGE", "%s is too large", what);
        break;
    case BALAI_EBUSY:
    case BALAI_ELIMIT:
        balai_api_limit(req, 1000);
        break;
    default:
        balai_api_error(req, 500, "M_UNKNOWN", "Internal error while handling %s", what);
        break;
    }
}

static int token_of(struct balai_http_req *req, const char **tok, size_t *len)
{
    struct balai_slice h = balai_http_req_header(req, "authorization");
    if (h.ptr) {
        if (h.len > 7 && strncasecmp(h.ptr, "Bearer ", 7) == 0) {
            *tok = h.ptr + 7;
            *len = h.len - 7;
            while (*len && (*tok)[0] == ' ') {
                (*tok)++;
                (*len)--;
            }
            return *len ? BALAI_OK : BALAI_EINVAL;
        }
        return BALAI_EINVAL;
    }
    const char *q = balai_http_req_query(req, "access_token");
    if (q && *q) {
        *tok = q;
        *len = strlen(q);
        return BALAI_OK;
    }
    return BALAI_ENOTFOUND;
}

int balai_api_token_hash(struct balai_http_req *req, uint8_t hash[32])
{
    const char *tok;
    size_t len;
    int rc = token_of(req, &tok, &len);
    if (rc == BALAI_OK)
        balai_sha256(tok, len, hash);
    return rc;
}

int balai_api_auth(struct balai_http_req *req, struct balai_session **out)
{
    struct balai_app *app = balai_api_app(req);
    uint8_t hash[32];
    int rc = balai_api_token_hash(req, hash);

    if (rc == BALAI_ENOTFOUND) {
        balai_api_error(req, 401, "M_MISSING_TOKEN", "Missing access token");
        return BALAI_EAUTH;
    }
    if (rc != BALAI_OK) {
        balai_api_error(req, 401, "M_UNKNOWN_TOKEN",
                        "Malformed Authorization header (expected 'Bearer <token>')");
        return BALAI_EAUTH;
    }
    struct balai_session *s = balai_accounts_session(app->accounts, hash);
    /* an expired guest's tokens go at expiry (api/directory.c); this covers the moment between */
    if (!s || s->device->user->deactivated ||
        balai_api_directory_access_refused(app, s->device->user->user_id)) {
        json_t *o = json_pack("{s:s, s:s, s:b}", "errcode", "M_UNKNOWN_TOKEN", "error",
                              "Unknown or expired access token", "soft_logout", 0);
        balai_api_json(req, 401, o);
        return BALAI_EAUTH;
    }
    *out = s;
    return BALAI_OK;
}

int balai_api_auth_admin(struct balai_http_req *req, struct balai_session **out)
{
    if (req->local) {
        *out = NULL;
        return BALAI_OK;
    }
    /* the org roles that manage users: owner and admin (gov/directory.h) */
    return balai_api_auth_may(req, out, BALAI_GOV_USERS_MANAGE);
}

int balai_api_body(struct balai_http_req *req, int empty_ok, json_t **out)
{
    char err[BALAI_JSON_ERR_LEN];
    int rc = balai_json_parse_object(req->body, req->body_len, empty_ok, out, err, sizeof(err));
    if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_NOT_JSON", "%s", err);
    return rc;
}

int balai_api_str(struct balai_http_req *req, json_t *obj, const char *key, int required,
                  const char **out)
{
    char err[BALAI_JSON_ERR_LEN];
    int rc = balai_json_get_str(obj, key, out, err, sizeof(err));
    if (rc == BALAI_EINVAL) {
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
        return rc;
    }
    if (rc == BALAI_ENOTFOUND) {
        if (!required) {
            *out = NULL;
            return BALAI_OK;
        }
        balai_api_error(req, 400, "M_MISSING_PARAM", "Missing '%s'", key);
        return rc;
    }
    return BALAI_OK;
}

int balai_api_bool(struct balai_http_req *req, json_t *obj, const char *key, int *out)
{
    char err[BALAI_JSON_ERR_LEN];
    int rc = balai_json_get_bool(obj, key, out, err, sizeof(err));
    if (rc == BALAI_EINVAL) {
        balai_api_error(req, 400, "M_BAD_JSON", "%s", err);
        return rc;
    }
    return BALAI_OK;
}

int balai_api_password_ok(struct balai_http_req *req, const char *user_id, const char *pw)
{
    struct balai_app *app = balai_api_app(req);
    char err[200];
    int rc = balai_password_check(pw, user_id, app->cfg->password_min_length, err, sizeof(err));
    if (rc != BALAI_OK)
        balai_api_error(req, 400, "M_WEAK_PASSWORD", "%s", err);
    return rc;
}

int balai_api_route(struct balai_app *app, enum balai_http_method m, const char *pattern,
                    balai_http_handler_fn fn, size_t max_body)
{
    static const char v3[] = "/_matrix/client/v3/";
    int rc = balai_router_add(app->router, m, pattern, fn, max_body, app);
    /* r0 is v3's older name; clients such as matrix-nio still use it */
    if (rc == BALAI_OK && strncmp(pattern, v3, sizeof(v3) - 1) == 0) {
        char *r0 = balai_asprintf("/_matrix/client/r0/%s", pattern + sizeof(v3) - 1);
        rc = balai_router_add(app->router, m, r0, fn, max_body, app);
        free(r0);
    }
    return rc;
}

int balai_api_query_int(struct balai_http_req *req, const char *name, int64_t min, int64_t max,
                        int64_t *out)
{
    const char *v = balai_http_req_query(req, name);
    char *end;
    long long n;

    if (!v)
        return BALAI_OK;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'%s' must be an integer between %lld and %lld", name, (long long)min,
                        (long long)max);
        return BALAI_EINVAL;
    }
    *out = n;
    return BALAI_OK;
}

int balai_api_query_str(struct balai_http_req *req, const char *name, size_t maxlen,
                        const char **out)
{
    const char *v = balai_http_req_query(req, name);
    if (v && (!*v || strlen(v) > maxlen)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' must be 1 to %zu bytes", name, maxlen);
        return BALAI_EINVAL;
    }
    *out = v;
    return BALAI_OK;
}
