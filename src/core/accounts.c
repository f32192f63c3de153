/* accounts.c: in-memory users, devices and sessions. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "util/alloc.h"
#include "util/map.h"

struct balai_accounts {
    struct balai_map *users;    /* user_id -> struct balai_user */
    struct balai_map *sessions; /* token hash -> struct balai_session */
    balai_revoke_fn revoke;
    void *revoke_arg;
};

struct balai_accounts *balai_accounts_new(void)
{
    struct balai_accounts *a = balai_calloc(1, sizeof(*a));
    a->users = balai_map_new();
    a->sessions = balai_map_new();
    return a;
}

static void free_device(struct balai_device *d)
{
    struct balai_session *s = d->sessions;
    while (s) {
        struct balai_session *n = s->next;
        free(s);
        s = n;
    }
    free(d->device_id);
    free(d->display_name);
    free(d);
}

void balai_accounts_free(struct balai_accounts *a)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!a)
        return;
    while (balai_map_next(a->users, &it, &k, &kl, &v)) {
        struct balai_user *u = v;
        struct balai_device *d = u->devices;
        while (d) {
            struct balai_device *n = d->next;
            free_device(d);
            d = n;
        }
        free(u->user_id);
        free(u->password_hash);
        free(u->displayname);
        free(u->avatar_url);
        free(u);
    }
    balai_map_free(a->users);
    balai_map_free(a->sessions);
    free(a);
}

void balai_accounts_set_revoke_hook(struct balai_accounts *a, balai_revoke_fn fn, void *arg)
{
    a->revoke = fn;
    a->revoke_arg = arg;
}

size_t balai_accounts_user_count(const struct balai_accounts *a)
{
    return balai_map_count(a->users);
}

struct balai_user *balai_accounts_user(const struct balai_accounts *a, const char *user_id)
{
    return balai_map_get_str(a->users, user_id);
}

struct balai_user *balai_accounts_add_user(struct balai_accounts *a, const char *user_id,
                                           const char *password_hash, int admin, int system,
                                           int64_t created_ts)
{
    if (balai_map_get_str(a->users, user_id))
        return NULL;
    struct balai_user *u = balai_calloc(1, sizeof(*u));
    u->user_id = balai_strdup(user_id);
    u->password_hash = balai_strdup(password_hash);
    u->admin = admin;
    u->system = system;
    u->created_ts = created_ts;
    balai_map_put_str(a->users, user_id, u);
    return u;
}

static void replace(char **field, const char *v)
{
    free(*field);
    *field = balai_strdup(v);
}

void balai_user_set_password_hash(struct balai_user *u, const char *hash)
{
    replace(&u->password_hash, hash);
}

void balai_user_set_displayname(struct balai_user *u, const char *v)
{
    replace(&u->displayname, v);
}

void balai_user_set_avatar_url(struct balai_user *u, const char *v)
{
    replace(&u->avatar_url, v);
}

struct balai_device *balai_user_device(const struct balai_user *u, const char *device_id)
{
    for (struct balai_device *d = u->devices; d; d = d->next) {
        if (strcmp(d->device_id, device_id) == 0)
            return d;
    }
    return NULL;
}

struct balai_device *balai_accounts_add_device(struct balai_accounts *a, struct balai_user *u,
                                               const char *device_id, const char *display_name,
                                               int64_t created_ts)
{
    (void)a;
    struct balai_device *d = balai_user_device(u, device_id);
    if (d) {
        if (display_name)
            replace(&d->display_name, display_name);
        return d;
    }
    d = balai_calloc(1, sizeof(*d));
    d->user = u;
    d->device_id = balai_strdup(device_id);
    d->display_name = balai_strdup(display_name);
    d->created_ts = created_ts;
    d->next = u->devices;
    u->devices = d;
    return d;
}

static void unlink_session(struct balai_accounts *a, struct balai_session *s)
{
    struct balai_session **pp = &s->device->sessions;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    balai_map_del(a->sessions, s->hash, sizeof(s->hash));
    if (a->revoke)
        a->revoke(s, a->revoke_arg);
    free(s);
}

void balai_accounts_remove_device(struct balai_accounts *a, struct balai_device *d)
{
    while (d->sessions)
        unlink_session(a, d->sessions);
    struct balai_device **pp = &d->user->devices;
    while (*pp && *pp != d)
        pp = &(*pp)->next;
    if (*pp)
        *pp = d->next;
    free_device(d);
}

struct balai_session *balai_accounts_add_session(struct balai_accounts *a, struct balai_device *d,
                                                 const uint8_t hash[32])
{
    struct balai_session *s = balai_calloc(1, sizeof(*s));
    memcpy(s->hash, hash, sizeof(s->hash));
    s->device = d;
    s->next = d->sessions;
    d->sessions = s;
    struct balai_session *old = balai_map_put(a->sessions, s->hash, sizeof(s->hash), s);
    if (old)
        unlink_session(a, old); /* a 256-bit collision: cannot happen, but stay consistent */
    return s;
}

struct balai_session *balai_accounts_session(const struct balai_accounts *a, const uint8_t hash[32])
{
    return balai_map_get(a->sessions, hash, 32);
}

void balai_accounts_revoke_session(struct balai_accounts *a, struct balai_session *s)
{
    unlink_session(a, s);
}

void balai_accounts_revoke_user(struct balai_accounts *a, struct balai_user *u,
                                const struct balai_device *keep)
{
    for (struct balai_device *d = u->devices; d; d = d->next) {
        if (d == keep)
            continue;
        while (d->sessions)
            unlink_session(a, d->sessions);
    }
}

void balai_accounts_deactivate(struct balai_accounts *a, struct balai_user *u)
{
    while (u->devices)
        balai_accounts_remove_device(a, u->devices);
    BALAI_FREE(u->password_hash);
    u->deactivated = 1;
}

static int cmp_user(const void *x, const void *y)
{
    const struct balai_user *const *a = x;
    const struct balai_user *const *b = y;
    return strcmp((*a)->user_id, (*b)->user_id);
}

size_t balai_accounts_list(const struct balai_accounts *a, const char *from, size_t limit,
                           struct balai_user **out)
{
    size_t n = balai_map_count(a->users), i = 0, it = 0, kl, count = 0;
    struct balai_user **all = balai_malloc(n * sizeof(*all) + 1);
    const void *k;
    void *v;

    while (balai_map_next(a->users, &it, &k, &kl, &v))
        all[i++] = v;
    qsort(all, i, sizeof(*all), cmp_user);
    for (size_t j = 0; j < i && count < limit; j++) {
        if (from && strcmp(all[j]->user_id, from) <= 0)
            continue;
        out[count++] = all[j];
    }
    free(all);
    return count;
}

int balai_accounts_each(const struct balai_accounts *a, int (*fn)(struct balai_user *u, void *arg),
                        void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(a->users, &it, &k, &kl, &v)) {
        int rc = fn(v, arg);
        if (rc)
            return rc;
    }
    return 0;
}
