/* account_data.c: users' account data in memory (see account_data.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/map.h"

#define LOG_MODULE "account_data"
#include "util/log.h"

/* One entry; a scope (the global data, or one room's) is a short list. */
struct entry {
    struct entry *next;
    char *type;
    char *json;
    size_t len;
    int64_t pos;
};

struct user_data {
    struct entry *global;
    struct balai_map *rooms; /* room id -> struct entry * (list head) */
    int64_t max_pos;
};

struct pending {
    char *json;
    int count;
};

struct balai_account_data {
    struct balai_map *users;   /* user id -> struct user_data * */
    struct balai_map *pending; /* "user\nroom\ntype" -> struct pending * */
    int64_t pos;
};

void balai_api_user_key_name(const char *user_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "user:%s:0", user_id);
}

char *balai_api_account_data_ad(const char *user_id, const char *room_id, const char *type,
                                size_t *len)
{
    char *ad = balai_asprintf("%s\n%s\n%s", user_id, room_id ? room_id : "", type);
    *len = strlen(ad);
    return ad;
}

static void entries_free(struct entry *e)
{
    while (e) {
        struct entry *next = e->next;
        free(e->type);
        free(e->json);
        free(e);
        e = next;
    }
}

void balai_api_account_data_free(struct balai_account_data *ad)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!ad)
        return;
    while (balai_map_next(ad->users, &it, &k, &kl, &v)) {
        struct user_data *u = v;
        size_t rit = 0;
        entries_free(u->global);
        while (balai_map_next(u->rooms, &rit, &k, &kl, &v))
            entries_free(v);
        balai_map_free(u->rooms);
        free(u);
    }
    balai_map_free(ad->users);
    it = 0;
    while (balai_map_next(ad->pending, &it, &k, &kl, &v)) {
        struct pending *p = v;
        free(p->json);
        free(p);
    }
    balai_map_free(ad->pending);
    free(ad);
}

static struct balai_account_data *account_data_new(void)
{
    struct balai_account_data *ad = balai_calloc(1, sizeof(*ad));
    ad->users = balai_map_new();
    ad->pending = balai_map_new();
    return ad;
}

/* The list head of a scope, or NULL when the user or room has none. */
static struct entry *scope_head(const struct balai_account_data *ad, const char *user_id,
                                const char *room_id)
{
    struct user_data *u = balai_map_get_str(ad->users, user_id);
    if (!u)
        return NULL;
    if (!room_id || !room_id[0])
        return u->global;
    return balai_map_get_str(u->rooms, room_id);
}

static struct entry *find(struct entry *e, const char *type)
{
    for (; e; e = e->next) {
        if (strcmp(e->type, type) == 0)
            return e;
    }
    return NULL;
}

const char *balai_api_account_data_get(const struct balai_account_data *ad, const char *user_id,
                                       const char *room_id, const char *type, size_t *len)
{
    struct entry *e = find(scope_head(ad, user_id, room_id), type);
    if (!e)
        return NULL;
    if (len)
        *len = e->len;
    return e->json;
}

void balai_api_account_data_put(struct balai_account_data *ad, const char *user_id,
                                const char *room_id, const char *type, const char *json, size_t len,
                                int64_t pos)
{
    struct user_data *u = balai_map_get_str(ad->users, user_id);
    int global = !room_id || !room_id[0];

    if (!u) {
        u = balai_calloc(1, sizeof(*u));
        u->rooms = balai_map_new();
        balai_map_put_str(ad->users, user_id, u);
    }
    struct entry *head = global ? u->global : balai_map_get_str(u->rooms, room_id);
    struct entry *e = find(head, type);
    if (e && e->pos > pos)
        return;
    if (!e) {
        e = balai_calloc(1, sizeof(*e));
        e->type = balai_strdup(type);
        e->next = head;
        if (global)
            u->global = e;
        else
            balai_map_put_str(u->rooms, room_id, e);
    }
    free(e->json);
    e->json = balai_malloc(len + 1);
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->len = len;
    e->pos = pos;
    if (pos > u->max_pos)
        u->max_pos = pos;
    if (pos > ad->pos)
        ad->pos = pos;
}

static char *pending_key(const char *user_id, const char *room_id, const char *type)
{
    return balai_asprintf("%s\n%s\n%s", user_id, room_id ? room_id : "", type);
}

const char *balai_api_account_data_latest(const struct balai_account_data *ad, const char *user_id,
                                          const char *room_id, const char *type)
{
    char *k = pending_key(user_id, room_id, type);
    struct pending *p = balai_map_get_str(ad->pending, k);
    free(k);
    if (p)
        return p->json;
    return balai_api_account_data_get(ad, user_id, room_id, type, NULL);
}

void balai_api_account_data_pending_begin(struct balai_account_data *ad, const char *user_id,
                                          const char *room_id, const char *type, const char *json)
{
    char *k = pending_key(user_id, room_id, type);
    struct pending *p = balai_map_get_str(ad->pending, k);
    if (!p) {
        p = balai_calloc(1, sizeof(*p));
        balai_map_put_str(ad->pending, k, p);
    }
    free(p->json);
    p->json = balai_strdup(json);
    p->count++;
    free(k);
}

void balai_api_account_data_pending_end(struct balai_account_data *ad, const char *user_id,
                                        const char *room_id, const char *type)
{
    char *k = pending_key(user_id, room_id, type);
    struct pending *p = balai_map_get_str(ad->pending, k);
    if (p && --p->count <= 0) {
        balai_map_del_str(ad->pending, k);
        free(p->json);
        free(p);
    }
    free(k);
}

int64_t balai_api_account_data_pos(const struct balai_account_data *ad)
{
    return ad ? ad->pos : 0;
}

int64_t balai_api_account_data_user_pos(const struct balai_account_data *ad, const char *user_id)
{
    struct user_data *u = ad ? balai_map_get_str(ad->users, user_id) : NULL;
    return u ? u->max_pos : 0;
}

void balai_api_account_data_each(void *src, const char *user_id, const char *room_id, int64_t after,
                                 balai_sync_ad_visit_fn visit, void *arg)
{
    const struct balai_account_data *ad = src;
    struct user_data *u = ad ? balai_map_get_str(ad->users, user_id) : NULL;

    if (!u || u->max_pos <= after)
        return;
    for (struct entry *e = scope_head(ad, user_id, room_id); e; e = e->next) {
        if (e->pos > after)
            visit(e->type, e->json, e->len, arg);
    }
}

int balai_api_account_data_txn_set(struct balai_app *app, struct balai_store_txn *t,
                                   const char *user_id, const char *room_id, const char *type,
                                   const char *json, size_t len, int64_t *pos)
{
    char key_name[320];
    uint8_t key[32];
    uint8_t *blob = NULL;
    char *ad = NULL;
    size_t adlen, blen;
    int rc;

    balai_api_user_key_name(user_id, key_name, sizeof(key_name));
    rc = balai_keystore_get_or_create(app->keystore, key_name, key);
    if (rc != BALAI_OK)
        goto out;
    blen = len + BALAI_SEAL_OVERHEAD;
    blob = balai_malloc(blen);
    ad = balai_api_account_data_ad(user_id, room_id, type, &adlen);
    balai_seal(key, ad, adlen, json, len, blob);
    rc = balai_store_txn_account_data_set(t, user_id, room_id, type, blob, blen, key_name, pos);
out:
    balai_wipe(key, sizeof(key));
    free(blob);
    free(ad);
    return rc;
}

/* ---- loading at start ---- */

struct load_ctx {
    struct balai_app *app;
    size_t loaded, failed;
};

static int load_one(const struct balai_account_data_rec *r, void *arg)
{
    struct load_ctx *c = arg;
    uint8_t key[32];
    uint8_t *plain = NULL;
    char *ad = NULL;
    size_t adlen, len;

    if (!r->blob || r->blob_len < BALAI_SEAL_OVERHEAD || !r->key_name ||
        balai_keystore_get(c->app->keystore, r->key_name, key) != BALAI_OK)
        goto fail;
    len = r->blob_len - BALAI_SEAL_OVERHEAD;
    plain = balai_malloc(len + 1);
    ad = balai_api_account_data_ad(r->user_id, r->room_id, r->type, &adlen);
    if (balai_unseal(key, ad, adlen, r->blob, r->blob_len, plain) != BALAI_OK)
        goto fail;
    plain[len] = '\0';
    balai_api_account_data_put(c->app->account_data, r->user_id, r->room_id, r->type,
                               (const char *)plain, len, r->pos);
    c->loaded++;
    goto out;
fail:
    LOG_ERROR("cannot unseal account data %s of %s (key missing or data damaged); skipped", r->type,
              r->user_id);
    c->failed++;
out:
    balai_wipe(key, sizeof(key));
    free(ad);
    free(plain);
    return 0;
}

int balai_api_account_data_load(struct balai_app *app)
{
    struct load_ctx c = {app, 0, 0};
    int rc;

    app->account_data = account_data_new();
    rc = balai_store_account_data_each(app->store, load_one, &c);
    if (rc != BALAI_OK)
        return rc;
    int64_t pos = balai_store_pos_current(app->store, "account_data");
    if (pos < 0)
        return (int)pos;
    if (pos > app->account_data->pos)
        app->account_data->pos = pos;
    LOG_DEBUG("loaded %zu account data entries", c.loaded);
    return BALAI_OK;
}
