/* powerlevels.h: m.room.power_levels: defaults, lookups and the rules for changing them.
 *
 * SPEC: Matrix v1.12, Client-Server API "m.room.power_levels"; Room version
 * 10/11 authorization rules 9.1-9.10. Defaults: users_default 0,
 * events_default 0, state_default 50, ban 50, kick 50, redact 50, invite 0,
 * notifications.room 50. When the room has no power levels event, its
 * creator has 100 and everyone else 0 (the other defaults still apply).
 *
 * Values must be integers (room versions 10 and 11 refuse strings); a
 * value of the wrong type met by a lookup counts as absent (the auth rules
 * never let such content into the room state). */
#ifndef BALAI_CORE_POWERLEVELS_H
#define BALAI_CORE_POWERLEVELS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BALAI_PL_CREATOR_DEFAULT 100

/* A view over a power levels content: a small value, cheap to make. */
struct balai_powerlevels {
    const json_t *content; /* borrowed: the content, NULL when the room has none */
    const char *creator;   /* borrowed: the room creator (only used when content is NULL) */
    int64_t users_default;
    int64_t events_default;
    int64_t state_default;
    int64_t ban;
    int64_t kick;
    int64_t redact;
    int64_t invite;
};

/* Fills `pl` from the power levels `content` (NULL when the room has none)
 * and the room `creator`; both borrowed and must outlive pl. */
void balai_pl_init(struct balai_powerlevels *pl, const json_t *content, const char *creator);

/* The level of `user_id`. */
int64_t balai_pl_user_level(const struct balai_powerlevels *pl, const char *user_id);
/* The level needed to send an event of `type` (state event when is_state):
 * events[type], else state_default or events_default. Membership rules use
 * the invite/kick/ban fields instead. */
int64_t balai_pl_event_level(const struct balai_powerlevels *pl, const char *type, int is_state);
/* The level for notifications.<key> ("room": 50 by default; others 50 too). */
int64_t balai_pl_notification_level(const struct balai_powerlevels *pl, const char *key);

/* Checks the shape of a new power levels content (auth rules 9.1-9.3):
 * the scalar levels integers, `events` and `notifications` objects of
 * integers, `users` an object of valid user ids to integers. Returns
 * BALAI_OK or BALAI_EFORBIDDEN with a plain-language reason. */
int balai_pl_validate(const json_t *content, char *reason, size_t reasonlen);

/* Checks that `sender` may replace the current power levels `cur` with
 * `new_content` (auth rules 9.4-9.9): nobody may grant or remove a level
 * above their own, nor change another user whose level is at or above
 * their own. Allowed when the room has no power levels yet. Assumes
 * new_content passed balai_pl_validate. Returns BALAI_OK or
 * BALAI_EFORBIDDEN with a reason. */
int balai_pl_check_change(const struct balai_powerlevels *cur, const json_t *new_content,
                          const char *sender, char *reason, size_t reasonlen);

/* Whether `sender` may redact an event sent by `original_sender`: always for
 * their own events (the m.room.redaction event level is checked by the auth
 * rules), otherwise with the `redact` level. BALAI_OK or BALAI_EFORBIDDEN. */
int balai_pl_check_redact(const struct balai_powerlevels *pl, const char *sender,
                          const char *original_sender, char *reason, size_t reasonlen);

/* The power levels content for a new room created by `creator` (a new
 * reference): creator 100, the usual defaults spelled out, and 100 for the
 * room-shaping state (power levels, history visibility, encryption, server
 * ACLs, tombstone), 50 for name, avatar, topic and canonical alias. */
json_t *balai_pl_default_content(const char *creator);

/* True when `s` looks like a user id: "@", a localpart, ":", a server name,
 * at most 255 bytes. */
int balai_pl_user_id_ok(const char *s);

#endif
