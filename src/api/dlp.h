/* dlp.h: data-loss prevention and moderation in the running server.
 *
 * The glue between the detector engine (gov/dlp/dlp.h) and the path of one
 * message (DESIGN.md §3 and §5, docs/dlp.md):
 *
 *   BEFORE PERSIST. balai_api_dlp_check() runs on the loop thread for every
 *   event a client writes (send, state, createRoom's name and topic), after
 *   the request is parsed and before the event is built. It scans content
 *   `body`, `formatted_body` (as is, tags included: a tag between digits
 *   ends a number), `m.new_content`'s two (edits), and the `name` of
 *   m.room.name and `topic` of m.room.topic, decides the action for the
 *   room's classification label and either lets the event go on (allow,
 *   audit, mask: the content is changed in place; warn after confirmation)
 *   or answers the request itself (warn, block, hold). A message with no
 *   findings costs one scan per field (about 1 µs for 200 bytes).
 *
 *   LABEL. The room's state event `id.balai.room.classification` (state key
 *   "", content {"label": "..."}); a room without one has the configured
 *   default (rooms.default_label, "internal"); a direct message has no
 *   label (NULL: the engine's default row, recorded as "direct" in
 *   incidents).
 *
 *   CONFIRMATION of a warning: the content carries "id.balai.dlp_confirm":
 *   true, or the body (or m.new_content's body) starts with "!confirm ";
 *   both markers are removed from the content before the event is stored.
 *   Every confirmation is audited ("dlp.warn.confirm") and recorded as an
 *   incident.
 *
 *   INCIDENTS keep the type, the masked value and a keyed hash
 *   (HMAC-SHA256 under app->dlp_key = balai_kdf(KEK, "dlp-incident-hmac"),
 *   over the value's letters and digits) of every finding, never the value.
 *
 *   HELD messages are sealed with the room's data key (AAD: the held id) and
 *   kept outside the event graph until a moderator releases them (the event
 *   is then written with its original sender through the normal event path,
 *   without a second DLP check) or deletes them.
 *
 *   SUSPENSION: a suspended user can log in and read; every write answers
 *   403 M_USER_SUSPENDED (balai_api_refuse_suspended): messages, state (also
 *   org metadata and archiving), redactions, typing, createRoom, joins,
 *   invites/kicks/bans, aliases, the room directory, profile changes and a
 *   presence status text. Reading stays allowed (receipts, read markers),
 *   and so does leaving a room.
 *
 *   A HELD message's client transaction (user, device, txn id) is stored
 *   with the held id in the transaction table: the same transaction again
 *   answers the same DLP_HELD (balai_api_dlp_held_answered), also after a
 *   restart, without a second queue entry.
 *
 * Loop thread only, unless a comment says otherwise. */
#ifndef BALAI_API_DLP_H
#define BALAI_API_DLP_H

#include <stdint.h>

#include <jansson.h>

#include "api/app.h"
#include "gov/dlp/dlp.h"
#include "http/server.h"

struct balai_room;

#define BALAI_DLP_KDF_LABEL "dlp-incident-hmac"
#define BALAI_DLP_CLASSIFICATION_TYPE "id.balai.room.classification"
#define BALAI_DLP_CONFIRM_FIELD "id.balai.dlp_confirm"
#define BALAI_DLP_CONFIRM_MARKER "!confirm "
#define BALAI_DLP_DEFAULT_LABEL "internal"
#define BALAI_DLP_NAME_MAX 40

struct balai_api_dlp {
    struct balai_dlp_config *cfg;    /* built from the settings below */
    struct balai_dlp_policy *policy; /* defaults + rules */
    char *rules;                     /* stored policy override rules ("" = none) */
    json_t *detectors;               /* name -> {name, pattern | keywords, category} */
    json_t *wordlists;               /* name -> {name, action, words} */
    struct balai_map *suspended;     /* user id -> (char *) actor */
    struct balai_map *held_answers;  /* held id -> (char *) its sender's 403 body (JSON) */
};

/* ---- life cycle ---- */

/* Creates app->dlp and loads settings and suspensions from the store (at
 * start, before serving). A stored setting the engine refuses is logged and
 * skipped. Returns 0 or a store error. */
int balai_api_dlp_load(struct balai_app *app);
void balai_api_dlp_free(struct balai_app *app); /* NULL-safe */

/* Routes: api/admin/dlp.c (incidents, held, policy, detectors, word lists)
 * and api/admin/moderation.c (redaction, reports, suspension, and the
 * client's report endpoint). */
int balai_api_admin_dlp_routes(struct balai_app *app);
int balai_api_moderation_routes(struct balai_app *app);

/* ---- the send path ---- */

/* The classification label of a room (borrowed from its state or the
 * config), rooms.default_label when it has none, NULL for a direct message. */
const char *balai_api_dlp_room_label(struct balai_app *app, struct balai_room *room);

struct balai_api_dlp_event {
    const char *sender;
    const char *room_id; /* for incidents */
    const char *label;   /* balai_api_dlp_room_label(); NULL = direct message */
    const char *type;
    const char *state_key; /* NULL for a message event */
    int can_hold;          /* the room exists (has a data key); else hold acts as block */
};

/* An incident waiting for the event id of the message it is about. */
struct balai_api_dlp_pending;

/* Checks one event's content before it is built. Returns 0: go on (content
 * may have changed: markers removed, findings masked; when masked,
 * *masked_findings is set to a new JSON array for the answer, else NULL);
 * 1: the request was (or, for a held message, will be) answered with the
 * 403 DLP error and the event must not be written.
 *
 * When the message goes on with an incident to record (audit, mask, a
 * confirmed warning) and `pending` is not NULL, *pending is set: the caller
 * MUST pass it to balai_api_dlp_pending_done once the event is written (or
 * not). With pending NULL the incident is recorded at once, without an
 * event id. */
int balai_api_dlp_check(struct balai_http_req *req, const struct balai_api_dlp_event *e,
                        json_t *content, json_t **masked_findings,
                        struct balai_api_dlp_pending **pending);
/* balai_api_dlp_check for a send with a client transaction id: a message
 * it holds records (device_id, txn_id) of e->sender with the held id in the
 * transaction table (durable, like a sent event's), so the same
 * transaction sent again is answered by balai_api_dlp_held_answered. */
int balai_api_dlp_check_txn(struct balai_http_req *req, const struct balai_api_dlp_event *e,
                            const char *device_id, const char *txn_id, json_t *content,
                            json_t **masked_findings, struct balai_api_dlp_pending **pending);
/* Call before balai_api_txn_answered (api/events.h): when (user_id,
 * device_id, txn_id) is a held message's transaction, answers the same 403
 * ID.BALAI.DLP_HELD again (no second queue entry) and returns 1; else 0. */
int balai_api_dlp_held_answered(struct balai_http_req *req, const char *user_id,
                                const char *device_id, const char *txn_id);
/* Records the pending incident with the stored event's id, or discards it
 * when event_id is NULL (the event was not written). NULL-safe. */
void balai_api_dlp_pending_done(struct balai_app *app, struct balai_api_dlp_pending *p,
                                const char *event_id);

/* The 200 answer of a send whose content was masked:
 * {"event_id", "id.balai.masked": true, "id.balai.findings": [...]}. Takes
 * the findings reference. */
void balai_api_dlp_answer_masked(struct balai_http_req *req, const char *event_id,
                                 json_t *findings);

/* ---- suspension ---- */

int balai_api_suspended(struct balai_app *app, const char *user_id);
/* Answers 403 M_USER_SUSPENDED and returns 1 when user_id is suspended;
 * returns 0 otherwise. */
int balai_api_refuse_suspended(struct balai_http_req *req, const char *user_id);

/* ---- settings (api/admin/dlp.c) ---- */

/* Builds a config and policy from settings (any may be NULL = none) into
 * *cfg and *policy (caller frees) or returns BALAI_EINVAL with the engine's
 * message in err. Any thread. */
int balai_api_dlp_build(const char *rules, json_t *detectors, json_t *wordlists,
                        struct balai_dlp_config **cfg, struct balai_dlp_policy **policy, char *err,
                        size_t errlen);
/* Puts a committed setting change in memory and rebuilds the engine:
 * kind "policy" (value: the rules text), "detector", "wordlist" (value: the
 * JSON text; NULL = deleted). */
void balai_api_dlp_setting_committed(struct balai_app *app, const char *kind, const char *name,
                                     const char *value);

/* Records a suspension change in memory (after its commit). */
void balai_api_dlp_suspension_committed(struct balai_app *app, const char *user_id, int suspended,
                                        const char *actor);

#endif
