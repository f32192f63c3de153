/* org_rooms.h: rooms owned by the organisation (DESIGN.md §5, docs/rooms.md).
 *
 * Every room that is not a direct message is an ORGANISATION ROOM. Its org
 * metadata is room state with state key "" (the contract shared with DLP,
 * the web app and the membership rules):
 *
 *   id.balai.room.owner_unit      {"unit_id": "<a directory unit>"}
 *   id.balai.room.purpose         {"text": "..."}          (at most 2,000 bytes)
 *   id.balai.room.classification  {"label": "<one of rooms.labels>"}
 *   id.balai.room.rules           {"text": "..."}          (at most 20,000 bytes)
 *   id.balai.room.archived        {"archived": true|false, "ts": ms, "by": "..."}
 *
 * A room without a classification event is labelled rooms.default_label
 * ("internal"). These events are validated on the event path whoever sends
 * them (an unknown label or unit is refused with 400 and the allowed values),
 * need the steward level (100) unless the system user sends them, and
 * `archived` is sent only by the system user (the archive endpoints).
 *
 * ARCHIVED rooms are read-only: every event but a member leaving (or being
 * removed) answers 403, except the system user's (unarchiving). History is
 * kept; rooms are never deleted.
 *
 * createRoom takes the metadata as a top-level object
 *     "id.balai.room": {"owner_unit", "purpose", "classification", "rules"}
 * (all optional strings; direct messages refuse it), checks the room
 * creation policy (rooms.create_policy), and plans the first stewards
 * (api/stewardship.h): the creator, and the creator's manager or else an
 * admin of the owning unit, invited by the system user with level 100.
 *
 * Endpoints (org_rooms.c, admin/rooms_report.c):
 *   GET  /_balai/client/v1/rooms/{roomId}          metadata, stewards, label (members)
 *   PUT  /_balai/client/v1/rooms/{roomId}          change metadata (stewards, org admins)
 *   POST /_balai/client/v1/rooms/{roomId}/archive  (stewards)
 *   POST /_balai/admin/v1/rooms/{roomId}/archive | /unarchive   (org admins, owners, CLI)
 *   GET  /_balai/admin/v1/rooms/{roomId}           one inventory row
 *   GET  /_balai/admin/v1/rooms?format=json|csv|xlsx&stale_days=N   the inventory
 *
 * Loop thread only, unless a comment says otherwise. */
#ifndef BALAI_API_ORG_ROOMS_H
#define BALAI_API_ORG_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/app.h"
#include "core/room.h"
#include "core/state.h"
#include "http/server.h"

#define BALAI_ROOM_OWNER_UNIT "id.balai.room.owner_unit"
#define BALAI_ROOM_PURPOSE "id.balai.room.purpose"
#define BALAI_ROOM_CLASSIFICATION "id.balai.room.classification"
#define BALAI_ROOM_RULES "id.balai.room.rules"
#define BALAI_ROOM_ARCHIVED "id.balai.room.archived"
#define BALAI_ROOM_META_PREFIX "id.balai.room."
#define BALAI_ROOM_PURPOSE_MAX 2000
#define BALAI_ROOM_RULES_MAX 20000

struct balai_map;

struct balai_api_org_rooms {
    char **labels; /* from rooms.labels */
    size_t nlabels;
    struct balai_map *departing; /* user id -> (void *)1: stewards being offboarded */
};

/* Creates app->org_rooms from the configuration and registers the routes
 * of org_rooms.c and admin/rooms_report.c. From balai_api_init. */
int balai_api_org_rooms_routes(struct balai_app *app);
/* Frees app->org_rooms (balai_api_release). NULL-safe. */
void balai_api_org_rooms_free(struct balai_app *app);

/* before_persist (api/gov_hooks.h): the archived room and the metadata rules. */
int balai_api_org_rooms_check(struct balai_app *app, const struct balai_state_lookup *view,
                              const char *sender, const char *type, const char *state_key,
                              const json_t *content, char *reason, size_t reasonlen);
/* after_persist: audits metadata changes sent through the Matrix API. */
void balai_api_org_rooms_committed(struct balai_app *app, struct balai_room *room,
                                   const struct balai_ev *ev);

/* Non-zero when `label` is one of rooms.labels. The labels as "a, b, c"
 * for messages: written into out. */
int balai_api_org_rooms_label_ok(struct balai_app *app, const char *label);
void balai_api_org_rooms_labels_text(struct balai_app *app, char *out, size_t outlen);

/* ---- createRoom (api/client/rooms.c) ---- */

struct balai_api_org_create {
    int org;                                /* 0: a direct message, nothing to do */
    char *owner_unit;                       /* owned; NULL: none known */
    char *purpose, *classification, *rules; /* owned; classification NULL: default, implicit */
    char *steward; /* owned: the second steward to appoint (manager or unit admin), or NULL */
};

/* Checks the creation policy and parses body's "id.balai.room" for a room
 * created by `creator` (is_direct: a direct message). Answers 403/400 itself
 * and returns a negative code on refusal. Fills *oc (release with
 * balai_api_org_create_release, also after a failure). */
int balai_api_org_create_prepare(struct balai_http_req *req, json_t *body, const char *creator,
                                 int is_direct, struct balai_api_org_create *oc);
void balai_api_org_create_release(struct balai_api_org_create *oc);
/* Adds to the new room's power levels content: level 100 for the
 * id.balai.room.* events and for the planned steward. */
void balai_api_org_create_levels(struct balai_app *app, const struct balai_api_org_create *oc,
                                 json_t *pl);
/* Plans the org events of a new room, after the system user joined:
 * the metadata (sent by the system user) and the steward's invite (by the
 * system user, unless `invitees` already holds them). add() takes the
 * content reference. */
typedef void (*balai_api_org_plan_fn)(void *arg, const char *sender, const char *type,
                                      const char *state_key, json_t *content);
void balai_api_org_create_plan(struct balai_app *app, const struct balai_api_org_create *oc,
                               const char *const *invitees, size_t ninvitees,
                               balai_api_org_plan_fn add, void *arg);

/* ---- reading ---- */

/* The content of a room's org state event `type` (committed), borrowed, or NULL. */
const json_t *balai_api_org_rooms_meta(const struct balai_room *room, const char *type);
/* The room's label (the default when unset); borrowed. */
const char *balai_api_org_rooms_label(struct balai_app *app, const struct balai_room *room);
int balai_api_org_rooms_archived(const struct balai_room *room);
/* One room as JSON: room_id, name, topic, owner_unit, owner_unit_name,
 * purpose, classification, rules, archived (+ archived_ts, archived_by),
 * stewards, steward_count, min_stewards, max_stewards, members (joined),
 * invited, created_ts, last_activity_ts, orphan, understaffed, and stale
 * when stale_ms is not 0 (no activity for that long; negative: always
 * stale). New reference. */
json_t *balai_api_org_rooms_json(struct balai_app *app, struct balai_room *room, int64_t now,
                                 int64_t stale_ms);

/* ---- the inventory (admin/rooms_report.c) ---- */

int balai_api_admin_rooms_report_routes(struct balai_app *app);
/* The inventory rows (an array of balai_api_org_rooms_json objects, every
 * organisation room, sorted by room id). New reference. */
json_t *balai_api_org_rooms_inventory(struct balai_app *app, int64_t stale_days);
/* RFC 4180 CSV of the rows (CRLF, quoted as needed; text cells that a
 * spreadsheet would read as a formula get a leading '). Caller frees. */
char *balai_api_rooms_csv(const json_t *rows, size_t *len);
/* Writes the rows as an XLSX workbook (sheet "Rooms") to `path`. Any thread
 * (libxlsxwriter; used on app->work_pool and by the CLI). 0 or BALAI_EIO. */
int balai_api_rooms_xlsx_write(const json_t *rows, const char *path);

#endif
