/* versions.c: GET /_matrix/client/versions and /.well-known/matrix/client. */
#include "balai.h"

#include <string.h>

#include "api/common.h"

static void get_versions(struct balai_http_req *req)
{
    /* Spec versions whose endpoint shapes Balai follows; features it lacks
     * are absent from unstable_features and answer M_UNRECOGNIZED. */
    json_t *o = json_pack("{s:[s,s,s,s,s,s,s,s,s,s,s,s], s:{}}", "versions", "v1.1", "v1.2", "v1.3",
                          "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
                          "unstable_features");
    balai_api_json(req, 200, o);
}

static void get_well_known(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    char base[300];
    if (app->cfg->public_baseurl[0])
        snprintf(base, sizeof(base), "%s", app->cfg->public_baseurl);
    else
        snprintf(base, sizeof(base), "%s", app->bound_url);
    json_t *o = json_pack("{s:{s:s}}", "m.homeserver", "base_url", base);
    if (strcmp(app->cfg->e2ee, "deny") == 0)
        json_object_set_new(o, "io.element.e2ee",
                            json_pack("{s:b, s:b}", "default", 0, "force_disable", 1));
    balai_api_json(req, 200, o);
}

int balai_api_client_versions_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/versions", get_versions, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/.well-known/matrix/client", get_well_known, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
