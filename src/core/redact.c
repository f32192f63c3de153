/* redact.c: the v10 and v11 redaction algorithms (see redact.h). */
#include "balai.h"

#include <string.h>

#include "core/redact.h"

/* Top-level keys kept by redaction. */
static const char *const top_v10[] = {
    "event_id",   "type",
    "room_id",    "sender",
    "state_key",  "content",
    "hashes",     "signatures",
    "depth",      "prev_events",
    "prev_state", "auth_events",
    "origin",     "origin_server_ts",
    "membership",
};
static const char *const top_v11[] = {
    "event_id", "type",       "room_id", "sender",      "state_key",   "content",
    "hashes",   "signatures", "depth",   "prev_events", "auth_events", "origin_server_ts",
};

/* Content keys kept, per event type. NULL-terminated lists. */
struct content_rule {
    const char *type;
    const char *const *keys;
};

static const char *const member_keys[] = {"membership", "join_authorised_via_users_server", NULL};
static const char *const create_keys_v10[] = {"creator", NULL};
static const char *const join_rules_keys[] = {"join_rule", "allow", NULL};
static const char *const pl_keys_v10[] = {"ban",   "events",        "events_default",
                                          "kick",  "redact",        "state_default",
                                          "users", "users_default", NULL};
static const char *const pl_keys_v11[] = {"ban",           "events", "events_default", "invite",
                                          "kick",          "redact", "state_default",  "users",
                                          "users_default", NULL};
static const char *const history_keys[] = {"history_visibility", NULL};
static const char *const redaction_keys_v11[] = {"redacts", NULL};

static const struct content_rule rules_v10[] = {
    {"m.room.member", member_keys},
    {"m.room.create", create_keys_v10},
    {"m.room.join_rules", join_rules_keys},
    {"m.room.power_levels", pl_keys_v10},
    {"m.room.history_visibility", history_keys},
};
static const struct content_rule rules_v11[] = {
    {"m.room.member", member_keys},           {"m.room.join_rules", join_rules_keys},
    {"m.room.power_levels", pl_keys_v11},     {"m.room.history_visibility", history_keys},
    {"m.room.redaction", redaction_keys_v11},
};

static void copy_key(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

static const char *const *content_keys(const char *type, const struct balai_room_version *rv)
{
    const struct content_rule *rules = rv->redaction_v11 ? rules_v11 : rules_v10;
    size_t i, n = rv->redaction_v11 ? BALAI_ARRAY_LEN(rules_v11) : BALAI_ARRAY_LEN(rules_v10);

    for (i = 0; type && i < n; i++) {
        if (strcmp(rules[i].type, type) == 0)
            return rules[i].keys;
    }
    return NULL;
}

/* v11: m.room.member keeps third_party_invite, reduced to its `signed` key. */
static void keep_signed_3pid(json_t *dst, const json_t *content)
{
    json_t *tpi = json_object_get(content, "third_party_invite");
    json_t *kept;

    if (!json_is_object(tpi))
        return;
    kept = json_object();
    copy_key(kept, tpi, "signed");
    json_object_set_new(dst, "third_party_invite", kept);
}

static json_t *redact_content(const json_t *content, const char *type,
                              const struct balai_room_version *rv)
{
    const char *const *keys;
    json_t *out;

    if (!json_is_object(content))
        return json_object();
    if (rv->redaction_v11 && type && strcmp(type, "m.room.create") == 0)
        return json_deep_copy(content);
    out = json_object();
    keys = content_keys(type, rv);
    for (; keys && *keys; keys++)
        copy_key(out, content, *keys);
    if (rv->redaction_v11 && type && strcmp(type, "m.room.member") == 0)
        keep_signed_3pid(out, content);
    return out;
}

json_t *balai_redact_rv(const json_t *pdu, const struct balai_room_version *rv)
{
    const char *const *top = rv->redaction_v11 ? top_v11 : top_v10;
    size_t i, n = rv->redaction_v11 ? BALAI_ARRAY_LEN(top_v11) : BALAI_ARRAY_LEN(top_v10);
    const char *type;
    json_t *out;

    if (!json_is_object(pdu))
        return NULL;
    type = json_string_value(json_object_get(pdu, "type"));
    out = json_object();
    for (i = 0; i < n; i++) {
        if (strcmp(top[i], "content") == 0)
            continue;
        copy_key(out, pdu, top[i]);
    }
    json_object_set_new(out, "content", redact_content(json_object_get(pdu, "content"), type, rv));
    return out;
}

json_t *balai_redact(const json_t *pdu, const char *room_version)
{
    const struct balai_room_version *rv = balai_room_version_get(room_version);
    return rv ? balai_redact_rv(pdu, rv) : NULL;
}
