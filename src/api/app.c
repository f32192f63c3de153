/* app.c: creates the API's own state and registers every route. */
#include "balai.h"

#include "api/admin/stats.h"
#include "api/app.h"
#include "api/audit.h"
#include "api/client/uia.h"
#include "api/common.h"
#include "api/device_lists.h"
#include "api/directory.h"
#include "api/dlp.h"
#include "api/offboard.h"
#include "api/org_rooms.h"
#include "api/presence.h"
#include "api/push_rules.h"
#include "api/receipts.h"
#include "api/relations.h"
#include "api/scim/scim.h"
#include "api/rules.h"
#include "api/typing.h"
#include "api/web.h"
#include "core/accounts.h"
#include "core/throttle.h"

static void on_revoke(struct balai_session *s, void *arg)
{
    balai_api_sync_revoked(s, arg);
}

int balai_api_init(struct balai_app *app)
{
    int rc;
    balai_accounts_set_revoke_hook(app->accounts, on_revoke, app);
    app->login_account =
        balai_throttle_new(app->cfg->login_account_failures, app->cfg->login_window_ms);
    app->login_ip = balai_throttle_new(app->cfg->login_ip_attempts, app->cfg->login_window_ms);
    app->uia = balai_uia_new();

    rc = balai_api_client_versions_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_login_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_account_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_devices_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_profile_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_admin_users_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_metrics_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_rooms_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_membership_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_room_state_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_directory_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_send_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_redact_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_sync_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_messages_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_capabilities_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_account_data_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_user_directory_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_typing_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_receipts_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_public_rooms_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_keys_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_to_device_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_admin_directory_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_org_directory_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_directory_start(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_push_rules_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_admin_audit_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_housekeeping_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_presence_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_device_lists_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_relations_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_client_context_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_admin_dlp_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_moderation_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_web_routes(app);
    if (rc == BALAI_OK && app->scim)
        rc = balai_api_scim_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_org_rooms_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_rules_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_offboard_routes(app);
    if (rc == BALAI_OK)
        rc = balai_api_admin_stats_routes(app);
    return rc;
}

void balai_api_release(struct balai_app *app)
{
    balai_throttle_free(app->login_account);
    balai_throttle_free(app->login_ip);
    balai_uia_free(app->uia);
    balai_api_typing_release(app);
    balai_api_directory_stop(app);
    balai_api_audit_stop(app);
    balai_api_presence_release(app);
    balai_api_web_free(app);
    balai_api_org_rooms_free(app);
    balai_api_rules_stop(app);
    app->login_account = NULL;
    app->login_ip = NULL;
    app->uia = NULL;
}
