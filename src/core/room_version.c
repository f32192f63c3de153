/* room_version.c: the table of supported room versions. */
#include "balai.h"

#include <string.h>

#include "core/room_version.h"

static const struct balai_room_version v10 = {
    .id = "10",
    .implicit_creator = false,
    .redaction_v11 = false,
    .redacts_in_content = false,
    .event_origin = true,
};

static const struct balai_room_version v11 = {
    .id = "11",
    .implicit_creator = true,
    .redaction_v11 = true,
    .redacts_in_content = true,
    .event_origin = false,
};

static const struct balai_room_version *const versions[] = {&v10, &v11};

const struct balai_room_version *balai_room_version_get(const char *id)
{
    size_t i;
    if (!id)
        return NULL;
    for (i = 0; i < BALAI_ARRAY_LEN(versions); i++) {
        if (strcmp(versions[i]->id, id) == 0)
            return versions[i];
    }
    return NULL;
}

const struct balai_room_version *balai_room_version_default(void)
{
    return balai_room_version_get(BALAI_ROOM_VERSION_DEFAULT);
}

size_t balai_room_version_list(const struct balai_room_version *const **out)
{
    if (out)
        *out = versions;
    return BALAI_ARRAY_LEN(versions);
}

json_t *balai_room_version_capability(void)
{
    json_t *avail = json_object();
    size_t i;
    for (i = 0; i < BALAI_ARRAY_LEN(versions); i++)
        json_object_set_new(avail, versions[i]->id, json_string("stable"));
    return json_pack("{s:s, s:o}", "default", BALAI_ROOM_VERSION_DEFAULT, "available", avail);
}
