/* capabilities.c: GET /capabilities and GET /pushrules/ (the server-default
 * rule set; users editing their own rules arrives with the push-rules work). */
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

/* The spec's server-default rules that apply without encryption or calls. */
static json_t *default_rules(const char *user_id, const char *localpart)
{
    json_t *notify =
        json_pack("[s, {s:s, s:s}]", "notify", "set_tweak", "sound", "value", "default");
    json_t *override = json_pack(
        "[{s:s, s:b, s:b, s:[], s:[]},"
        " {s:s, s:b, s:b, s:[{s:s, s:s, s:s}], s:[]},"
        " {s:s, s:b, s:b, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}], s:[s, {s:s, "
        "s:s}]}]",
        "rule_id", ".m.rule.master", "default", 1, "enabled", 0, "conditions", "actions", "rule_id",
        ".m.rule.suppress_notices", "default", 1, "enabled", 1, "conditions", "kind", "event_match",
        "key", "content.msgtype", "pattern", "m.notice", "actions", "rule_id",
        ".m.rule.invite_for_me", "default", 1, "enabled", 1, "conditions", "kind", "event_match",
        "key", "type", "pattern", "m.room.member", "kind", "event_match", "key",
        "content.membership", "pattern", "invite", "kind", "event_match", "key", "state_key",
        "pattern", user_id, "actions", "notify", "set_tweak", "sound", "value", "default");
    json_t *content =
        json_pack("[{s:s, s:b, s:b, s:s, s:o}]", "rule_id", ".m.rule.contains_user_name", "default",
                  1, "enabled", 1, "pattern", localpart, "actions", json_copy(notify));
    json_t *underride =
        json_pack("[{s:s, s:b, s:b, s:[{s:s, s:s, s:s}], s:[s]}]", "rule_id", ".m.rule.message",
                  "default", 1, "enabled", 1, "conditions", "kind", "event_match", "key", "type",
                  "pattern", "m.room.message", "actions", "notify");
    json_decref(notify);
    return json_pack("{s:{s:o, s:o, s:[], s:[], s:o}}", "global", "override", override, "content",
                     content, "room", "sender", "underride", underride);
}

static void get_pushrules(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    const char *uid = s->device->user->user_id;
    char lp[256];
    const char *colon = strchr(uid, ':');
    size_t n = colon ? (size_t)(colon - uid - 1) : 0;
    if (n >= sizeof(lp))
        n = sizeof(lp) - 1;
    memcpy(lp, uid + 1, n);
    lp[n] = '\0';
    balai_api_json(req, 200, default_rules(uid, lp));
}

int balai_api_client_capabilities_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/capabilities", get_capabilities,
                          0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/pushrules/", get_pushrules, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
