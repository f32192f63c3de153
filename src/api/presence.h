/* presence.h: users' presence (online, unavailable, offline), in memory
 * only, and its delivery through /sync as m.presence events.
 *
 * A user is online while a /sync of theirs runs or ran within the last
 * BALAI_PRESENCE_GRACE_MS (60 s): a /sync with timeout T keeps its user
 * online until T + 60 s after it began, and one loop timer (never a poll of
 * every user) turns users offline when that passes. /sync's set_presence
 * says what a sync means: omitted or "online" brings an offline user online
 * (an unavailable user stays so if they set it with PUT), "unavailable" makes
 * them unavailable, "offline" changes nothing. PUT /presence sets the state
 * and status message as sent (online and unavailable then last 60 s without
 * a /sync).
 *
 * Each change (not each /sync) takes the next "presence" stream position and
 * wakes the /sync of the user and of everyone sharing a room with them, who
 * alone see it. Positions live in memory: they start from the wall clock in
 * ms and each change takes max(now, last + 1), so a new run's positions lie
 * past the old run's tokens; a token ahead of the current position (a clock
 * set back) moves the position up to it and gets everything current, so
 * presence never goes silent. With config presence = off the endpoints still
 * answer (PUT accepted, everyone offline) and /sync carries none. Loop
 * thread only. */
#ifndef BALAI_API_PRESENCE_H
#define BALAI_API_PRESENCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/app.h"
#include "util/buf.h"

#define BALAI_PRESENCE_GRACE_MS 60000
#define BALAI_PRESENCE_STATUS_MAX 1024 /* bytes of a status_msg */

enum balai_presence_state {
    BALAI_PRESENCE_OFFLINE = 0,
    BALAI_PRESENCE_ONLINE,
    BALAI_PRESENCE_UNAVAILABLE,
};

struct balai_presence;

/* Creates app->presence (enabled unless app->cfg->presence is "off") and
 * its timer. Returns 0 or a negative BALAI_E*. */
int balai_api_presence_init(struct balai_app *app);
/* Frees app->presence and its timer (before the loop is freed). NULL-safe. */
void balai_api_presence_release(struct balai_app *app);
int balai_api_presence_enabled(const struct balai_app *app);

/* The state named by s ("online", "unavailable", "offline"), or -1. */
int balai_api_presence_parse(const char *s);

/* A /sync of user_id began with set_presence (NULL: online) and timeout_ms. */
void balai_api_presence_synced(struct balai_app *app, const char *user_id,
                               const char *set_presence, int64_t timeout_ms);
/* PUT /presence: sets the state and status message (NULL: none) as sent. */
void balai_api_presence_set(struct balai_app *app, const char *user_id,
                            enum balai_presence_state state, const char *status_msg);
/* The presence of user_id as the GET /presence body: a new object. */
json_t *balai_api_presence_status(const struct balai_app *app, const char *user_id);

/* Whether a and b are both joined to some room (a user shares with itself). */
int balai_api_presence_shares(const struct balai_app *app, const char *a, const char *b);

/* The /sync source (a balai_sync_presence_fn, src the struct balai_app). */
size_t balai_api_presence_write(void *src, const char *user_id, int64_t after,
                                struct balai_buf *b);
/* The current presence position (0 when off or before init). */
int64_t balai_api_presence_pos(const struct balai_app *app);

/* Adds GET and PUT /presence/{userId}/status (client/presence.c); calls
 * balai_api_presence_init. */
int balai_api_client_presence_routes(struct balai_app *app);

#endif
