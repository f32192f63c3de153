/* filter.c: parsing, validation and matching of Matrix event filters. */
#include "balai.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "sync/filter.h"
#include "util/alloc.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...) BALAI_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void strs_clear(struct balai_filter_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

enum str_kind { ANY_STR, USER_ID, ROOM_ID };

/* Reads the list obj[key] (absent: not set). */
static int get_strs(const json_t *obj, const char *path, const char *key, enum str_kind kind,
                    struct balai_filter_strs *out, char *err, size_t errlen)
{
    const json_t *a = json_object_get(obj, key);
    size_t i;
    const json_t *v;
    if (!a)
        return BALAI_OK;
    if (!json_is_array(a)) {
        set_err(err, errlen, "'%s%s' must be a list of strings", path, key);
        return BALAI_EINVAL;
    }
    out->set = 1;
    out->v = balai_calloc(json_array_size(a) + 1, sizeof(*out->v));
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        if (!s) {
            set_err(err, errlen, "'%s%s' must be a list of strings", path, key);
            return BALAI_EINVAL;
        }
        if ((kind == USER_ID && s[0] != '@') || (kind == ROOM_ID && s[0] != '!')) {
            set_err(err, errlen, "'%s%s' must hold %s", path, key,
                    kind == USER_ID ? "user ids" : "room ids");
            return BALAI_EINVAL;
        }
        out->v[out->n++] = balai_strdup(s);
    }
    return BALAI_OK;
}

static int get_bool(const json_t *obj, const char *path, const char *key, int *out, char *err,
                    size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return BALAI_OK;
    if (!json_is_boolean(v)) {
        set_err(err, errlen, "'%s%s' must be a boolean", path, key);
        return BALAI_EINVAL;
    }
    *out = json_is_true(v);
    return BALAI_OK;
}

/* Parses an EventFilter (room 0) or RoomEventFilter/StateFilter (room 1) at
 * `path` (for messages, "" or "room.timeline." and so on). */
static int parse_event_filter(const json_t *j, const char *path, int room,
                              struct balai_event_filter *f, char *err, size_t errlen)
{
    int rc;
    memset(f, 0, sizeof(*f));
    f->contains_url = -1;
    f->trivial = 1;
    if (!j)
        return BALAI_OK;
    if (!json_is_object(j)) {
        set_err(err, errlen, "'%.*s' must be an object", (int)(strlen(path) ? strlen(path) - 1 : 0),
                path);
        return BALAI_EINVAL;
    }
    const json_t *l = json_object_get(j, "limit");
    if (l) {
        if (!json_is_integer(l) || json_integer_value(l) < 1) {
            set_err(err, errlen, "'%slimit' must be a positive integer", path);
            return BALAI_EINVAL;
        }
        json_int_t v = json_integer_value(l);
        f->limit = v > 1000000 ? 1000000 : (int)v;
    }
    rc = get_strs(j, path, "types", ANY_STR, &f->types, err, errlen);
    if (rc == BALAI_OK)
        rc = get_strs(j, path, "not_types", ANY_STR, &f->not_types, err, errlen);
    if (rc == BALAI_OK)
        rc = get_strs(j, path, "senders", USER_ID, &f->senders, err, errlen);
    if (rc == BALAI_OK)
        rc = get_strs(j, path, "not_senders", USER_ID, &f->not_senders, err, errlen);
    if (rc == BALAI_OK && room)
        rc = get_strs(j, path, "rooms", ROOM_ID, &f->rooms, err, errlen);
    if (rc == BALAI_OK && room)
        rc = get_strs(j, path, "not_rooms", ROOM_ID, &f->not_rooms, err, errlen);
    if (rc == BALAI_OK && room) {
        const json_t *cu = json_object_get(j, "contains_url");
        if (cu && !json_is_boolean(cu)) {
            set_err(err, errlen, "'%scontains_url' must be a boolean", path);
            rc = BALAI_EINVAL;
        } else if (cu) {
            f->contains_url = json_is_true(cu);
        }
    }
    if (rc == BALAI_OK && room)
        rc = get_bool(j, path, "lazy_load_members", &f->lazy_load_members, err, errlen);
    if (rc == BALAI_OK && room)
        rc = get_bool(j, path, "include_redundant_members", &f->include_redundant_members, err,
                      errlen);
    if (rc == BALAI_OK && room)
        rc = get_bool(j, path, "unread_thread_notifications", &f->unread_thread_notifications, err,
                      errlen);
    if (rc != BALAI_OK) {
        balai_event_filter_clear(f);
        return rc;
    }
    f->trivial = !f->types.set && !f->not_types.set && !f->senders.set && !f->not_senders.set &&
                 !f->rooms.set && !f->not_rooms.set && f->contains_url < 0;
    return BALAI_OK;
}

void balai_event_filter_clear(struct balai_event_filter *f)
{
    if (!f)
        return;
    strs_clear(&f->types);
    strs_clear(&f->not_types);
    strs_clear(&f->senders);
    strs_clear(&f->not_senders);
    strs_clear(&f->rooms);
    strs_clear(&f->not_rooms);
}

static void filter_free(struct balai_filter *f)
{
    balai_event_filter_clear(&f->presence);
    balai_event_filter_clear(&f->account_data);
    strs_clear(&f->rooms);
    strs_clear(&f->not_rooms);
    balai_event_filter_clear(&f->timeline);
    balai_event_filter_clear(&f->state);
    balai_event_filter_clear(&f->ephemeral);
    balai_event_filter_clear(&f->room_account_data);
    free(f);
}

struct balai_filter *balai_filter_ref(struct balai_filter *f)
{
    if (f)
        f->refs++;
    return f;
}

void balai_filter_unref(struct balai_filter *f)
{
    if (f && --f->refs == 0)
        filter_free(f);
}

int balai_filter_parse_room_event(const json_t *j, struct balai_event_filter *out, char *err,
                                  size_t errlen)
{
    if (!json_is_object(j)) {
        memset(out, 0, sizeof(*out));
        out->contains_url = -1;
        set_err(err, errlen, "The filter must be a JSON object");
        return BALAI_EINVAL;
    }
    return parse_event_filter(j, "", 1, out, err, errlen);
}

int balai_filter_parse(const json_t *j, struct balai_filter **out, char *err, size_t errlen)
{
    int rc = BALAI_OK;
    struct balai_filter *f = balai_calloc(1, sizeof(*f));
    const json_t *room = NULL;
    f->refs = 1;
    /* every member filter starts as "match all", so that freeing a
     * half-parsed filter is safe */
    parse_event_filter(NULL, "", 0, &f->presence, NULL, 0);
    parse_event_filter(NULL, "", 0, &f->account_data, NULL, 0);
    parse_event_filter(NULL, "", 1, &f->timeline, NULL, 0);
    parse_event_filter(NULL, "", 1, &f->state, NULL, 0);
    parse_event_filter(NULL, "", 1, &f->ephemeral, NULL, 0);
    parse_event_filter(NULL, "", 1, &f->room_account_data, NULL, 0);
    *out = NULL;
    if (!json_is_object(j)) {
        set_err(err, errlen, "The filter must be a JSON object");
        rc = BALAI_EINVAL;
        goto out;
    }
    const json_t *ef = json_object_get(j, "event_fields");
    if (ef) {
        size_t i;
        const json_t *v;
        if (!json_is_array(ef)) {
            set_err(err, errlen, "'event_fields' must be a list of strings");
            rc = BALAI_EINVAL;
            goto out;
        }
        json_array_foreach(ef, i, v)
        {
            if (!json_is_string(v)) {
                set_err(err, errlen, "'event_fields' must be a list of strings");
                rc = BALAI_EINVAL;
                goto out;
            }
        }
    }
    const json_t *fmt = json_object_get(j, "event_format");
    if (fmt && !json_is_string(fmt)) {
        set_err(err, errlen, "'event_format' must be \"client\" or \"federation\"");
        rc = BALAI_EINVAL;
        goto out;
    }
    if (fmt && strcmp(json_string_value(fmt), "client") != 0) {
        set_err(err, errlen,
                strcmp(json_string_value(fmt), "federation") == 0
                    ? "'event_format' \"federation\" is not supported"
                    : "'event_format' must be \"client\" or \"federation\"");
        rc = BALAI_EINVAL;
        goto out;
    }
    rc = parse_event_filter(json_object_get(j, "presence"), "presence.", 0, &f->presence, err,
                            errlen);
    if (rc != BALAI_OK)
        goto out;
    rc = parse_event_filter(json_object_get(j, "account_data"), "account_data.", 0,
                            &f->account_data, err, errlen);
    if (rc != BALAI_OK)
        goto out;
    room = json_object_get(j, "room");
    if (room && !json_is_object(room)) {
        set_err(err, errlen, "'room' must be an object");
        rc = BALAI_EINVAL;
        goto out;
    }
    if (room) {
        rc = get_strs(room, "room.", "rooms", ROOM_ID, &f->rooms, err, errlen);
        if (rc == BALAI_OK)
            rc = get_strs(room, "room.", "not_rooms", ROOM_ID, &f->not_rooms, err, errlen);
        if (rc == BALAI_OK)
            rc = get_bool(room, "room.", "include_leave", &f->include_leave, err, errlen);
        if (rc == BALAI_OK)
            rc = parse_event_filter(json_object_get(room, "timeline"), "room.timeline.", 1,
                                    &f->timeline, err, errlen);
        if (rc == BALAI_OK)
            rc = parse_event_filter(json_object_get(room, "state"), "room.state.", 1, &f->state,
                                    err, errlen);
        if (rc == BALAI_OK)
            rc = parse_event_filter(json_object_get(room, "ephemeral"), "room.ephemeral.", 1,
                                    &f->ephemeral, err, errlen);
        if (rc == BALAI_OK)
            rc = parse_event_filter(json_object_get(room, "account_data"), "room.account_data.", 1,
                                    &f->room_account_data, err, errlen);
        if (rc != BALAI_OK)
            goto out;
    }
    f->is_default = f->presence.trivial && !f->presence.limit && f->account_data.trivial &&
                    !f->account_data.limit && !f->rooms.set && !f->not_rooms.set &&
                    !f->include_leave && f->timeline.trivial && f->state.trivial &&
                    !f->state.lazy_load_members && f->ephemeral.trivial && !f->ephemeral.limit &&
                    f->room_account_data.trivial && !f->room_account_data.limit;
out:
    if (rc != BALAI_OK)
        filter_free(f);
    else
        *out = f;
    return rc;
}

/* ---- matching ---- */

int balai_filter_type_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

int balai_filter_types_have(const struct balai_filter_strs *l, const char *type)
{
    for (size_t i = 0; i < l->n; i++) {
        if (balai_filter_type_match(l->v[i], type))
            return 1;
    }
    return 0;
}

static int strs_have(const struct balai_filter_strs *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0)
            return 1;
    }
    return 0;
}

static int rooms_ok(const struct balai_filter_strs *yes, const struct balai_filter_strs *no,
                    const char *room_id)
{
    if (!room_id)
        return 1;
    if (no->set && strs_have(no, room_id))
        return 0;
    return !yes->set || strs_have(yes, room_id);
}

int balai_filter_room_ok(const struct balai_filter *f, const char *room_id)
{
    return !f || rooms_ok(&f->rooms, &f->not_rooms, room_id);
}

int balai_event_filter_room_ok(const struct balai_event_filter *f, const char *room_id)
{
    return rooms_ok(&f->rooms, &f->not_rooms, room_id);
}

int balai_event_filter_match(const struct balai_event_filter *f, const char *room_id,
                             const char *sender, const char *type, const json_t *content)
{
    if (f->trivial)
        return 1;
    if (!rooms_ok(&f->rooms, &f->not_rooms, room_id))
        return 0;
    if (sender) {
        if (f->not_senders.set && strs_have(&f->not_senders, sender))
            return 0;
        if (f->senders.set && !strs_have(&f->senders, sender))
            return 0;
    }
    if (type) {
        if (f->not_types.set && balai_filter_types_have(&f->not_types, type))
            return 0;
        if (f->types.set && !balai_filter_types_have(&f->types, type))
            return 0;
    }
    if (f->contains_url >= 0) {
        int has = json_is_string(json_object_get(content, "url"));
        if (has != f->contains_url)
            return 0;
    }
    return 1;
}

int balai_event_filter_match_ev(const struct balai_event_filter *f, const char *room_id,
                                const struct balai_ev *ev)
{
    if (f->trivial)
        return 1;
    return balai_event_filter_match(f, room_id, ev->sender, ev->type,
                                    f->contains_url >= 0 ? balai_event_content(ev->pdu) : NULL);
}
