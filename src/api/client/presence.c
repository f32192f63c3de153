/* presence.c: GET and PUT /_matrix/client/v3/presence/{userId}/status.
 *
 * A user sets only their own presence (403 otherwise) and reads that of
 * users sharing a room with them (403 otherwise, 404 for an unknown user).
 * The state lives in memory (api/presence.h). */
#include "balai.h"

#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/presence.h"
#include "core/accounts.h"

#define LOG_MODULE "presence"
#include "util/log.h"

#define MAX_BODY 4096

static void get_status(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *target = req->params[0];

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *me = s->device->user->user_id;
    if (!balai_accounts_user(app->accounts, target)) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Unknown user");
        return;
    }
    if (!balai_api_presence_shares(app, me, target)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "You can only see the presence of users sharing a room with you");
        return;
    }
    balai_api_json(req, 200, balai_api_presence_status(app, target));
}

static void put_status(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;

    if (balai_api_auth(req, &s) < 0)
        return;
    const char *me = s->device->user->user_id;
    if (strcmp(req->params[0], me) != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You can only set your own presence");
        return;
    }
    if (balai_api_body(req, 0, &body) < 0)
        return;
    json_t *pv = json_object_get(body, "presence");
    json_t *mv = json_object_get(body, "status_msg");
    if (!json_is_string(pv)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'presence' must be a string");
        goto out;
    }
    int state = balai_api_presence_parse(json_string_value(pv));
    if (state < 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'presence' must be online, offline or unavailable");
        goto out;
    }
    if (mv && !json_is_null(mv) && !json_is_string(mv)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'status_msg' must be a string");
        goto out;
    }
    const char *msg = json_string_value(mv);
    /* a suspended user may still come and go, but writes no status text */
    if (msg && *msg && balai_api_refuse_suspended(req, me)) /* api/dlp.h */
        goto out;
    if (msg && strlen(msg) > BALAI_PRESENCE_STATUS_MAX) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'status_msg' is at most %d bytes",
                        BALAI_PRESENCE_STATUS_MAX);
        goto out;
    }
    balai_api_presence_set(app, me, (enum balai_presence_state)state, msg);
    balai_api_json(req, 200, json_object());
out:
    json_decref(body);
}

int balai_api_client_presence_routes(struct balai_app *app)
{
    int rc = balai_api_presence_init(app);
    if (rc != BALAI_OK)
        return rc;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/presence/{userId}/status",
                          get_status, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/presence/{userId}/status",
                          put_status, MAX_BODY);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
