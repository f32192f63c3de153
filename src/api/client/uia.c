/* uia.c: user-interactive authentication, m.login.password stage. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/client/uia.h"
#include "api/common.h"
#include "api/passwords.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/throttle.h"
#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/map.h"
#include "util/time.h"

#define SESSION_TTL_MS (10 * 60 * 1000)
#define MAX_SESSIONS 10000

struct balai_uia {
    struct balai_map *sessions; /* id -> expiry (int64_t*) */
};

struct balai_uia *balai_uia_new(void)
{
    struct balai_uia *u = balai_calloc(1, sizeof(*u));
    u->sessions = balai_map_new();
    return u;
}

static void clear_sessions(struct balai_uia *u, int64_t now, int all)
{
    size_t it = 0, kl, n = 0;
    const void *k;
    void *v;
    char **dead = balai_malloc(balai_map_count(u->sessions) * sizeof(char *) + 1);
    while (balai_map_next(u->sessions, &it, &k, &kl, &v)) {
        if (all || *(int64_t *)v < now)
            dead[n++] = balai_strdup(k);
    }
    for (size_t i = 0; i < n; i++) {
        free(balai_map_del_str(u->sessions, dead[i]));
        free(dead[i]);
    }
    free(dead);
}

void balai_uia_free(struct balai_uia *u)
{
    if (!u)
        return;
    clear_sessions(u, 0, 1);
    balai_map_free(u->sessions);
    free(u);
}

static const char *new_session(struct balai_uia *u)
{
    int64_t now = balai_mono_ms();
    if (balai_map_count(u->sessions) >= MAX_SESSIONS)
        clear_sessions(u, now, 0);
    if (balai_map_count(u->sessions) >= MAX_SESSIONS)
        clear_sessions(u, now, 1);
    char *id = balai_random_alnum(24);
    int64_t *exp = balai_malloc(sizeof(*exp));
    *exp = now + SESSION_TTL_MS;
    balai_map_put_str(u->sessions, id, exp);
    free(id);
    /* return the key copy owned by the map */
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(u->sessions, &it, &k, &kl, &v)) {
        if (v == exp)
            return k;
    }
    return "";
}

static void answer_401(struct balai_http_req *req, const char *errcode, const char *error)
{
    struct balai_app *app = balai_api_app(req);
    json_t *o = json_pack("{s:[{s:[s]}], s:{}, s:s}", "flows", "stages", "m.login.password",
                          "params", "session", new_session(app->uia));
    if (errcode) {
        json_object_set_new(o, "errcode", json_string(errcode));
        json_object_set_new(o, "error", json_string(error));
    }
    balai_api_json(req, 401, o);
}

struct uia_job {
    struct balai_http_req *req;
    char *user_id;
    balai_uia_done_fn done;
    void *arg;
};

static void verified(void *arg, int rc, const char *unused)
{
    struct uia_job *j = arg;
    struct balai_app *app = balai_api_app(j->req);
    (void)unused;
    if (rc != BALAI_OK) {
        balai_throttle_hit(app->login_account, j->user_id, balai_mono_ms());
        answer_401(j->req, "M_FORBIDDEN", "Invalid password");
    } else {
        balai_throttle_reset(app->login_account, j->user_id);
    }
    j->done(j->arg, rc);
    free(j->user_id);
    free(j);
}

int balai_uia_check(struct balai_http_req *req, json_t *body, const char *user_id,
                    balai_uia_done_fn done, void *arg)
{
    struct balai_app *app = balai_api_app(req);
    json_t *auth = json_object_get(body, "auth");
    const char *type = NULL, *session = NULL, *password = NULL, *user = NULL;
    char *claimed = NULL;
    int64_t retry;
    int rc = BALAI_EAUTH;

    if (!auth || json_is_null(auth)) {
        answer_401(req, NULL, NULL);
        goto out;
    }
    if (!json_is_object(auth)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'auth' must be an object");
        goto out;
    }
    if (balai_api_str(req, auth, "type", 0, &type) < 0 ||
        balai_api_str(req, auth, "session", 0, &session) < 0)
        goto out;
    if (session) {
        int64_t *exp = balai_map_get_str(app->uia->sessions, session);
        if (!exp || *exp < balai_mono_ms()) {
            answer_401(req, "M_UNKNOWN", "Unknown or expired authentication session");
            goto out;
        }
    }
    if (!type) {
        answer_401(req, NULL, NULL);
        goto out;
    }
    if (strcmp(type, "m.login.password") != 0) {
        answer_401(req, "M_UNRECOGNIZED", "Unsupported authentication type");
        goto out;
    }
    json_t *ident = json_object_get(auth, "identifier");
    if (ident && json_is_object(ident)) {
        if (balai_api_str(req, ident, "user", 0, &user) < 0)
            goto out;
    } else if (balai_api_str(req, auth, "user", 0, &user) < 0) {
        goto out;
    }
    if (balai_api_str(req, auth, "password", 1, &password) < 0)
        goto out;
    if (user) {
        if (balai_id_user_normalise(user, app->server_name, &claimed) != BALAI_OK ||
            strcmp(claimed, user_id) != 0) {
            balai_api_error(req, 403, "M_FORBIDDEN",
                            "You can only authenticate as the user you are logged in as");
            goto out;
        }
    }
    if (balai_throttle_check(app->login_account, user_id, balai_mono_ms(), &retry) != BALAI_OK) {
        balai_api_limit(req, retry);
        goto out;
    }
    struct balai_user *u = balai_accounts_user(app->accounts, user_id);
    struct uia_job *j = balai_calloc(1, sizeof(*j));
    j->req = req;
    j->user_id = balai_strdup(user_id);
    j->done = done;
    j->arg = arg;
    if (balai_api_pw_verify(app, u ? u->password_hash : NULL, password, verified, j) != BALAI_OK) {
        free(j->user_id);
        free(j);
        balai_api_limit(req, 1000);
        goto out;
    }
    if (session)
        free(balai_map_del_str(app->uia->sessions, session));
    rc = BALAI_OK;
out:
    free(claimed);
    return rc;
}
