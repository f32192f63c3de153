/* state.c: the in-memory room state map and the state lookup helpers. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/state.h"
#include "util/alloc.h"
#include "util/map.h"

struct entry {
    char *event_id;
    json_t *pdu;
};

struct balai_room_state {
    struct balai_map *map; /* "type\0state_key" -> struct entry */
};

const json_t *balai_state_lookup_get(const struct balai_state_lookup *l, const char *type,
                                     const char *state_key, const char **event_id)
{
    if (event_id)
        *event_id = NULL;
    if (!l || !l->get)
        return NULL;
    return l->get(l->arg, type, state_key, event_id);
}

const char *balai_state_membership(const struct balai_state_lookup *l, const char *user_id)
{
    const json_t *ev = balai_state_lookup_get(l, "m.room.member", user_id, NULL);
    const char *m = json_string_value(json_object_get(balai_event_content(ev), "membership"));
    return m ? m : "leave";
}

/* The map key: type, a NUL, state_key. Caller frees. */
static char *make_key(const char *type, const char *state_key, size_t *len)
{
    size_t tl = strlen(type), sl = strlen(state_key);
    char *k = balai_malloc(tl + sl + 1);
    memcpy(k, type, tl + 1);
    memcpy(k + tl + 1, state_key, sl);
    *len = tl + 1 + sl;
    return k;
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->event_id);
    json_decref(e->pdu);
    free(e);
}

struct balai_room_state *balai_state_new(void)
{
    struct balai_room_state *s = balai_calloc(1, sizeof(*s));
    s->map = balai_map_new();
    return s;
}

void balai_state_free(struct balai_room_state *s)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!s)
        return;
    while (balai_map_next(s->map, &it, &k, &kl, &v))
        entry_free(v);
    balai_map_free(s->map);
    free(s);
}

int balai_state_set(struct balai_room_state *s, const char *event_id, json_t *pdu)
{
    const char *type = balai_event_type(pdu), *sk = balai_event_state_key(pdu);
    struct entry *e;
    size_t klen;
    char *key;

    if (!type || !sk || !event_id)
        return BALAI_EINVAL;
    e = balai_malloc(sizeof(*e));
    e->event_id = balai_strdup(event_id);
    e->pdu = json_incref(pdu);
    key = make_key(type, sk, &klen);
    entry_free(balai_map_put(s->map, key, klen, e));
    free(key);
    return BALAI_OK;
}

int balai_state_remove(struct balai_room_state *s, const char *type, const char *state_key)
{
    size_t klen;
    char *key;
    struct entry *e;

    if (!type || !state_key)
        return BALAI_ENOTFOUND;
    key = make_key(type, state_key, &klen);
    e = balai_map_del(s->map, key, klen);
    free(key);
    if (!e)
        return BALAI_ENOTFOUND;
    entry_free(e);
    return BALAI_OK;
}

const json_t *balai_state_get(const struct balai_room_state *s, const char *type,
                              const char *state_key, const char **event_id)
{
    size_t klen;
    char *key;
    struct entry *e;

    if (event_id)
        *event_id = NULL;
    if (!type || !state_key)
        return NULL;
    key = make_key(type, state_key, &klen);
    e = balai_map_get(s->map, key, klen);
    free(key);
    if (!e)
        return NULL;
    if (event_id)
        *event_id = e->event_id;
    return e->pdu;
}

size_t balai_state_count(const struct balai_room_state *s)
{
    return balai_map_count(s->map);
}

int balai_state_next(const struct balai_room_state *s, size_t *it, const char **event_id,
                     const json_t **pdu)
{
    size_t kl;
    const void *k;
    void *v;
    struct entry *e;

    if (!balai_map_next(s->map, it, &k, &kl, &v))
        return 0;
    e = v;
    if (event_id)
        *event_id = e->event_id;
    if (pdu)
        *pdu = e->pdu;
    return 1;
}

static const json_t *map_get(void *arg, const char *type, const char *state_key,
                             const char **event_id)
{
    return balai_state_get(arg, type, state_key, event_id);
}

struct balai_state_lookup balai_state_lookup_of(const struct balai_room_state *s)
{
    struct balai_state_lookup l = {map_get, (void *)s};
    return l;
}
