/* room_version.h: the room versions Balai supports and what differs between them.
 *
 * SPEC: Matrix v1.12, "Room Versions" (v10, v11). Balai creates and accepts
 * rooms of versions 10 and 11; new rooms default to 10. Each version is a
 * static, immutable descriptor: look it up once by id and pass the pointer. */
#ifndef BALAI_CORE_ROOM_VERSION_H
#define BALAI_CORE_ROOM_VERSION_H

#include <stdbool.h>

#include <jansson.h>

#define BALAI_ROOM_VERSION_DEFAULT "10"

struct balai_room_version {
    const char *id; /* "10", "11" */
    /* v11: the room creator is the create event's sender; `creator` is no
     * longer required in (nor read from) the m.room.create content. */
    bool implicit_creator;
    /* v11 redaction rules: top-level origin/membership/prev_state are not
     * kept; create keeps all content, redaction keeps `redacts`, power
     * levels keep `invite`, member keeps `third_party_invite.signed`. */
    bool redaction_v11;
    /* v11: m.room.redaction carries `redacts` in content, not at top level. */
    bool redacts_in_content;
    /* v10: new events carry the top-level `origin` (the sender's server). */
    bool event_origin;
};

/* Returns the descriptor for `id` (static, never freed), or NULL when the
 * version is unknown or unsupported (NULL id included). */
const struct balai_room_version *balai_room_version_get(const char *id);
/* Returns the descriptor of the default version for new rooms (never NULL). */
const struct balai_room_version *balai_room_version_default(void);
/* Returns the number of supported versions; *out (if not NULL) gets the
 * static array of their descriptors. */
size_t balai_room_version_list(const struct balai_room_version *const **out);
/* Returns the `m.room_versions` capability object as a new reference:
 * {"default": "10", "available": {"10": "stable", "11": "stable"}}. */
json_t *balai_room_version_capability(void);

#endif
