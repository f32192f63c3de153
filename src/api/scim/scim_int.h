/* scim_int.h: what the files of api/scim/ share (not for other modules):
 * the in-memory state, SCIM answers and errors, the one-at-a-time write
 * queue, and the PATCH engine. Loop thread only. */
#ifndef BALAI_API_SCIM_SCIM_INT_H
#define BALAI_API_SCIM_SCIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/app.h"
#include "api/scim/scim.h"
#include "http/server.h"
#include "store/store.h"

#define SCIM_CT "application/scim+json"
#define SCIM_URN_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_URN_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define SCIM_MAX_BODY (4u << 20)
#define SCIM_MAX_COUNT 1000
#define SCIM_DEFAULT_COUNT 100

struct balai_map;

struct scim_token {
    char *token_id;
    char *name;
    uint8_t hash[32];
    int64_t created_ts;
};

struct scim_user {
    char *scim_id;
    char *user_id;
    char *user_name;
    char *external_id;
    json_t *attrs; /* the provisioned attributes that the directory does not hold */
    int64_t created, modified, version, deleted;
};

struct scim_group {
    char *scim_id;
    char *display_name;
    char *external_id;
    int64_t created, modified, version;
    struct balai_map *members; /* user_id -> the group (a non-NULL marker) */
    int deleted;
};

struct scim_listener {
    balai_api_scim_change_fn fn;
    void *arg;
};

struct scim_pending {
    struct scim_pending *next;
    struct balai_http_req *req;
    int (*run)(struct balai_http_req *req); /* 1: an op was submitted; 0: answered */
};

struct balai_api_scim {
    struct balai_map *tokens;    /* the 32-byte hash -> struct scim_token */
    struct balai_map *by_id;     /* scim_id -> live struct scim_user */
    struct balai_map *by_uid;    /* Matrix user id -> struct scim_user (deleted too) */
    struct balai_map *by_name;   /* lower-case userName -> live struct scim_user */
    struct scim_user **users;    /* every row, in load/creation order */
    size_t n_users, cap_users;
    struct balai_map *groups_by_id; /* scim_id -> live struct scim_group */
    struct scim_group **groups;     /* every group ever loaded or made, in order */
    size_t n_groups, cap_groups;
    struct scim_listener listeners[8];
    size_t n_listeners;
    int busy; /* a write is in flight */
    struct scim_pending *queue, *queue_tail;
};

/* ---- answers (scim.c) ---- */

/* Answers `body` (takes the reference) as application/scim+json. */
void scim_json(struct balai_http_req *req, int status, json_t *body);
/* Answers an RFC 7644 §3.12 error; scim_type may be NULL. */
void scim_error(struct balai_http_req *req, int status, const char *scim_type, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
/* Authenticates the provisioning token; answers 401 and returns NULL when
 * missing or unknown. Borrowed. */
const struct scim_token *scim_auth(struct balai_http_req *req);
/* "scim:<token name>": the audit actor. Caller frees. */
char *scim_actor(const struct scim_token *t);
/* Parses the body as a JSON object or answers 400 invalidSyntax. */
int scim_body(struct balai_http_req *req, json_t **out);
/* The base URL of the request ("http://host"), for meta.location. Caller frees. */
char *scim_base_url(struct balai_http_req *req);
/* ISO 8601 UTC text of a ms time, into out[32]. */
void scim_time(int64_t ms, char out[32]);
/* A fresh SCIM id (UUID v4 text). Caller frees. */
char *scim_new_id(void);
/* Checks If-Match against version v: answers 412 and fails on a mismatch. */
int scim_if_match(struct balai_http_req *req, int64_t v);
/* Sets the ETag header for version v. */
void scim_etag(struct balai_http_req *req, int64_t v);
/* Applies ?attributes= / ?excludedAttributes= to one resource (in place). */
void scim_project(struct balai_http_req *req, json_t *res);
/* Parses startIndex and count; answers 400 invalidValue and fails when bad. */
int scim_paging(struct balai_http_req *req, size_t *start, size_t *count);

/* ---- the write queue (scim.c) ----
 * scim_write runs run(req) now when no write is in flight, otherwise once
 * the earlier ones finished. run returns 1 when it submitted an op, whose
 * done() must call scim_write_done(app) after answering; 0 when it answered
 * at once. */
void scim_write(struct balai_http_req *req, int (*run)(struct balai_http_req *req));
void scim_write_done(struct balai_app *app);

/* ---- change notification (scim.c) ---- */
void scim_notify(struct balai_app *app, enum balai_api_scim_change what, const char *group_id,
                 const char *user_id);

/* ---- users (users.c) and groups (groups.c) ---- */
struct scim_user *scim_user_by_id(struct balai_app *app, const char *scim_id);
json_t *scim_user_json(struct balai_app *app, struct balai_http_req *req,
                       const struct scim_user *u);
json_t *scim_group_json(struct balai_app *app, struct balai_http_req *req,
                        const struct scim_group *g, int with_members);
int scim_users_routes(struct balai_app *app);
int scim_groups_routes(struct balai_app *app);
/* Memory: adds or replaces a user row / group (loaded or committed). */
void scim_user_put(struct balai_app *app, const struct balai_scim_user_rec *r, json_t *attrs);
struct scim_group *scim_group_put(struct balai_app *app, const struct balai_scim_group_rec *r);
void scim_user_free(struct scim_user *u);
void scim_group_free(struct scim_group *g);

/* ---- PATCH (patch.c) ----
 * Applies the Operations of a PatchOp body to `res` (a resource's full
 * JSON, changed in place). core_urn: the resource's core schema. Returns 0,
 * or BALAI_EINVAL with *scim_type (invalidSyntax, invalidPath, noTarget,
 * invalidValue) and a reason in err. */
int scim_patch_apply(json_t *res, const json_t *body, const char *core_urn,
                     const char **scim_type, char *err, size_t errlen);

#endif
