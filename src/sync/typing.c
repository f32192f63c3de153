/* typing.c: typing notices per room, in memory (see typing.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "sync/typing.h"
#include "util/alloc.h"
#include "util/map.h"

/* One typing user; a room's users are a short list in start order. */
struct typist {
    struct typist *next;
    char *user_id;
    int64_t expires_ms;
};

struct troom {
    struct typist *users;
    int64_t pos; /* last change */
};

struct balai_typing {
    struct balai_map *rooms; /* room id -> struct troom * (kept once seen) */
    int64_t pos;
};

struct balai_typing *balai_typing_new(int64_t start_pos)
{
    struct balai_typing *t = balai_calloc(1, sizeof(*t));
    t->rooms = balai_map_new();
    t->pos = start_pos;
    return t;
}

static void typist_free(struct typist *u)
{
    free(u->user_id);
    free(u);
}

void balai_typing_free(struct balai_typing *t)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!t)
        return;
    while (balai_map_next(t->rooms, &it, &k, &kl, &v)) {
        struct troom *r = v;
        while (r->users) {
            struct typist *u = r->users;
            r->users = u->next;
            typist_free(u);
        }
        free(r);
    }
    balai_map_free(t->rooms);
    free(t);
}

int balai_typing_set(struct balai_typing *t, const char *room_id, const char *user_id, int typing,
                     int64_t expires_ms)
{
    struct troom *r = balai_map_get_str(t->rooms, room_id);
    struct typist **pp;

    if (!r) {
        if (!typing)
            return 0;
        r = balai_calloc(1, sizeof(*r));
        balai_map_put_str(t->rooms, room_id, r);
    }
    for (pp = &r->users; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->user_id, user_id) == 0)
            break;
    }
    if (typing) {
        if (*pp) {
            (*pp)->expires_ms = expires_ms;
            return 0;
        }
        struct typist *u = balai_calloc(1, sizeof(*u));
        u->user_id = balai_strdup(user_id);
        u->expires_ms = expires_ms;
        *pp = u; /* at the tail */
    } else {
        struct typist *u = *pp;
        if (!u)
            return 0;
        *pp = u->next;
        typist_free(u);
    }
    r->pos = ++t->pos;
    return 1;
}

void balai_typing_expire(struct balai_typing *t, int64_t now_ms,
                         void (*changed)(const char *room_id, void *arg), void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    while (balai_map_next(t->rooms, &it, &k, &kl, &v)) {
        struct troom *r = v;
        int n = 0;
        for (struct typist **pp = &r->users; *pp;) {
            struct typist *u = *pp;
            if (u->expires_ms <= now_ms) {
                *pp = u->next;
                typist_free(u);
                n++;
            } else {
                pp = &u->next;
            }
        }
        if (n) {
            r->pos = ++t->pos;
            if (changed)
                changed(k, arg);
        }
    }
}

int64_t balai_typing_next_expiry(const struct balai_typing *t)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    int64_t best = -1;

    while (balai_map_next(t->rooms, &it, &k, &kl, &v)) {
        for (struct typist *u = ((struct troom *)v)->users; u; u = u->next) {
            if (best < 0 || u->expires_ms < best)
                best = u->expires_ms;
        }
    }
    return best;
}

int64_t balai_typing_pos(const struct balai_typing *t)
{
    return t->pos;
}

int64_t balai_typing_room(const struct balai_typing *t, const char *room_id,
                          void (*visit)(const char *user_id, void *arg), void *arg)
{
    struct troom *r = balai_map_get_str(t->rooms, room_id);
    if (!r)
        return 0;
    for (struct typist *u = r->users; visit && u; u = u->next)
        visit(u->user_id, arg);
    return r->pos;
}
