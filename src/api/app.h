/* app.h: the running server's shared state, handed to every API handler.
 *
 * main builds one struct balai_app and registers the routes of every API
 * area with balai_api_register. Handlers find it in req->route_data. All
 * fields are used on the loop thread only, unless a comment says otherwise. */
#ifndef BALAI_API_APP_H
#define BALAI_API_APP_H

#include <stdint.h>

#include "config.h"
#include "crypto/crypto.h"
#include "sync/sync.h"

struct balai_loop;
struct balai_store;
struct balai_keystore;
struct balai_accounts;
struct balai_pool;
struct balai_router;
struct balai_http_server;
struct balai_throttle;
struct balai_uia;
struct balai_rooms;
struct balai_notifier;
struct balai_map;
struct balai_api_wakes;
struct balai_account_data;
struct balai_typing;
struct balai_receipts;
struct balai_room_directory;
struct balai_e2e_keys;
struct balai_to_device;
struct balai_timer;
struct balai_api_directory;
struct balai_push_store;
struct balai_unread;
struct balai_api_audit;
struct balai_relations;
struct balai_presence;
struct balai_device_lists;
struct balai_api_dlp;
struct balai_api_web;
struct balai_api_scim;
struct balai_api_org_rooms;
struct balai_api_rules;
struct balai_api_offboard;

struct balai_app {
    struct balai_config *cfg;
    const char *server_name;
    char *system_user_id;
    struct balai_loop *loop;
    struct balai_store *store;
    struct balai_keystore *keystore;
    struct balai_accounts *accounts;
    struct balai_pool *hash_pool;
    struct balai_pool *work_pool;
    struct balai_router *router;
    struct balai_http_server *http;
    struct balai_throttle *login_account;
    struct balai_throttle *login_ip;
    struct balai_uia *uia;
    struct balai_pwhash_cost pwcost;
    char dummy_hash[BALAI_PWHASH_STRBYTES]; /* verified against for unknown users */
    int64_t started_ms;
    /* messaging */
    struct balai_rooms *rooms;
    struct balai_notifier *notifier;
    struct balai_map *txns;        /* "user\ndevice\ntxn" -> event id (char *) */
    char epoch[32];                /* server epoch, in every sync token */
    struct balai_api_wakes *wakes; /* wake-ups gathered while completions drain */
    /* users' account data (api/account_data.h) */
    struct balai_account_data *account_data;
    /* typing notices (api/typing.h), in memory only */
    struct balai_typing *typing;
    struct balai_timer *typing_timer;
    /* read receipts (api/receipts.h) */
    struct balai_receipts *receipts;
    /* rooms published in the room directory (api/room_directory.h) */
    struct balai_room_directory *room_directory;
    /* end-to-end encryption keys (api/e2e_keys.h) */
    struct balai_e2e_keys *e2e_keys;
    /* to-device messages waiting for their device (api/to_device.h) */
    struct balai_to_device *to_device;
    /* the organisation directory and roles (api/directory.h) */
    struct balai_api_directory *directory;
    /* presence (api/presence.h), in memory only */
    struct balai_presence *presence;
    /* device-list changes (api/device_lists.h) */
    struct balai_device_lists *device_lists;
    /* event relations and redactions (api/relations.h) */
    struct balai_relations *relations;
    /* extra `unsigned` members of every event served (bundled aggregations,
     * redacted_because); set by the module that keeps them */
    struct balai_sync_extra event_extra;
    /* push rules (api/push_rules.h) and the unread counts they drive (api/unread.h) */
    struct balai_push_store *push_rules;
    struct balai_unread *unread;
    /* the audit trail (api/audit.h) and its chain key, balai_kdf(KEK,
     * "audit-hmac"), set by serve.c */
    struct balai_api_audit *audit;
    uint8_t audit_key[32];
    /* DLP and moderation (api/dlp.h) and the incidents' hash key,
     * balai_kdf(KEK, "dlp-incident-hmac"), set by serve.c */
    struct balai_api_dlp *dlp;
    uint8_t dlp_key[32];
    uint8_t sign_sk[64];  /* Ed25519 signing key of the server */
    char sign_key_id[40]; /* "ed25519:..." */
    char bound_url[160];  /* http://ADDR:PORT actually listened on */
    /* the web app's files, in memory (api/web.h); NULL when not served */
    struct balai_api_web *web;
    /* SCIM provisioning (api/scim/scim.h) */
    struct balai_api_scim *scim;
    /* organisation rooms and stewardship (api/org_rooms.h, api/stewardship.h) */
    struct balai_api_org_rooms *org_rooms;
    /* membership rules (api/rules.h) and offboarding records (api/offboard.h) */
    struct balai_api_rules *rules;
    struct balai_api_offboard *offboard;
};

/* Creates the API-owned parts of app (throttles, UIA sessions) and adds every route to
 * app->router. */
int balai_api_init(struct balai_app *app);
void balai_api_release(struct balai_app *app);

#endif
