/* housekeeping.c: small endpoints clients call at start-up or on their
 * settings pages, answered truthfully for what Balai is:
 *
 *   GET /account/3pid             no third-party identifiers are bound: the
 *                                 directory holds e-mail addresses, not 3PIDs
 *   GET /thirdparty/protocols     no bridges
 *   GET /pushers                  no push gateways (Balai sends no push
 *                                 notifications through third parties)
 *   GET /voip/turnServer          no TURN server configured: {}
 *
 * All need a valid access token. */
#include "balai.h"

#include "api/common.h"

static void get_3pid(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_json(req, 200, json_pack("{s:[]}", "threepids"));
}

static void get_protocols(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_json(req, 200, json_object());
}

static void get_pushers(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_json(req, 200, json_pack("{s:[]}", "pushers"));
}

static void get_turn(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    balai_api_json(req, 200, json_object());
}

int balai_api_client_housekeeping_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/account/3pid", get_3pid, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/thirdparty/protocols",
                          get_protocols, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/pushers", get_pushers, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/voip/turnServer", get_turn, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
