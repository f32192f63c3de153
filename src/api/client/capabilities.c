/* capabilities.c: GET /capabilities (push rules are in api/client/push_rules.c). */
#include "balai.h"

#include <string.h>

#include "api/common.h"
#include "core/accounts.h"
#include "core/room_version.h"

static void get_capabilities(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    json_t *caps =
        json_pack("{s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}}", "m.change_password", "enabled",
                  1, "m.set_displayname", "enabled", 1, "m.set_avatar_url", "enabled", 1,
                  "m.3pid_changes", "enabled", 0, "m.get_login_token", "enabled", 0);
    json_object_set_new(caps, "m.room_versions", balai_room_version_capability());
    balai_api_json(req, 200, json_pack("{s:o}", "capabilities", caps));
}

int balai_api_client_capabilities_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/capabilities", get_capabilities,
                          0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
