/* common.h: what every API handler uses: JSON answers, Matrix errors,
 * authentication of the access token, request-body parsing.
 *
 * Each helper that can fail answers the request itself and returns a
 * negative code, so a handler reads:
 *     if (balai_api_auth(req, &s) < 0) return;
 */
#ifndef BALAI_API_COMMON_H
#define BALAI_API_COMMON_H

#include <jansson.h>

#include "api/app.h"
#include "http/router.h"
#include "http/server.h"

struct balai_session;

/* Answers with `body` (takes the reference). */
void balai_api_json(struct balai_http_req *req, int status, json_t *body);
/* Answers a Matrix error. */
void balai_api_error(struct balai_http_req *req, int status, const char *errcode, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
/* Answers the error that fits an internal code (BALAI_E*), with `what` in the message. */
void balai_api_error_rc(struct balai_http_req *req, int rc, const char *what);
/* Answers 429 M_LIMIT_EXCEEDED with retry_after_ms. */
void balai_api_limit(struct balai_http_req *req, int64_t retry_after_ms);

/* The app of the route. */
static inline struct balai_app *balai_api_app(struct balai_http_req *req)
{
    return req->route_data;
}

/* Finds the session of the request's access token (Authorization: Bearer, or
 * the access_token query parameter). Answers 401 M_MISSING_TOKEN /
 * M_UNKNOWN_TOKEN and returns BALAI_EAUTH when there is none. */
int balai_api_auth(struct balai_http_req *req, struct balai_session **out);
/* The SHA-256 of the request's token, for requests that must look it up again later. */
int balai_api_token_hash(struct balai_http_req *req, uint8_t hash[32]);
/* Admin API access: a session of a user whose org role may manage users
 * (owner, admin: BALAI_GOV_USERS_MANAGE), or the local unix socket. *out is
 * NULL for the socket. Answers 401/403 and fails otherwise. Other admin
 * areas check their own action with balai_api_auth_may (api/directory.h). */
int balai_api_auth_admin(struct balai_http_req *req, struct balai_session **out);

/* Parses the body as a JSON object (new reference in *out) or answers 400
 * M_NOT_JSON and fails. An empty body is {} when empty_ok. */
int balai_api_body(struct balai_http_req *req, int empty_ok, json_t **out);

/* Typed field access that answers 400 M_BAD_JSON / M_MISSING_PARAM and fails. */
int balai_api_str(struct balai_http_req *req, json_t *obj, const char *key, int required,
                  const char **out);
int balai_api_bool(struct balai_http_req *req, json_t *obj, const char *key, int *out);

/* Checks a new password against the policy; answers 400 M_WEAK_PASSWORD and fails. */
int balai_api_password_ok(struct balai_http_req *req, const char *user_id, const char *pw);

/* Route registration per area. */
int balai_api_client_versions_routes(struct balai_app *app);
int balai_api_client_login_routes(struct balai_app *app);
int balai_api_client_account_routes(struct balai_app *app);
int balai_api_client_devices_routes(struct balai_app *app);
int balai_api_client_profile_routes(struct balai_app *app);
int balai_api_admin_users_routes(struct balai_app *app);
int balai_api_client_rooms_routes(struct balai_app *app);          /* createRoom */
int balai_api_client_membership_routes(struct balai_app *app);     /* join, invite, leave, ... */
int balai_api_client_room_state_routes(struct balai_app *app);     /* GET state, members */
int balai_api_client_directory_routes(struct balai_app *app);      /* room aliases */
int balai_api_client_send_routes(struct balai_app *app);           /* send, PUT state */
int balai_api_client_redact_routes(struct balai_app *app);         /* redact */
int balai_api_client_sync_routes(struct balai_app *app);           /* sync, filters */
int balai_api_client_messages_routes(struct balai_app *app);       /* messages, event */
int balai_api_client_capabilities_routes(struct balai_app *app);   /* capabilities, pushrules */
int balai_api_client_user_directory_routes(struct balai_app *app); /* user directory search */
/* The accounts revoke hook's work: ends the session's parked /sync requests. */
void balai_api_sync_revoked(struct balai_session *s, struct balai_app *app);
int balai_api_metrics_routes(struct balai_app *app);
/* account data, room tags */
int balai_api_client_account_data_routes(struct balai_app *app);
/* room directory visibility, publicRooms */
int balai_api_client_public_rooms_routes(struct balai_app *app);

/* end-to-end encryption keys (keys upload/query/claim/..., room_keys/version) */
int balai_api_client_keys_routes(struct balai_app *app);
/* sendToDevice */
int balai_api_client_to_device_routes(struct balai_app *app);
/* client/housekeeping.c: 3PIDs, third-party protocols, pushers, TURN */
int balai_api_client_housekeeping_routes(struct balai_app *app);

/* Query parameters. Each leaves *out alone when the parameter is absent;
 * when it is present but malformed, answers 400 M_INVALID_PARAM naming it
 * and returns BALAI_EINVAL. An integer: decimal, within [min, max]. A
 * string: 1 to maxlen bytes. */
int balai_api_query_int(struct balai_http_req *req, const char *name, int64_t min, int64_t max,
                        int64_t *out);
int balai_api_query_str(struct balai_http_req *req, const char *name, size_t maxlen,
                        const char **out);

/* Registers a route with app as its data. */
int balai_api_route(struct balai_app *app, enum balai_http_method m, const char *pattern,
                    balai_http_handler_fn fn, size_t max_body);

#endif
