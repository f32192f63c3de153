/* e2e_keys.c: users' end-to-end encryption keys in memory (see e2e_keys.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/e2e_keys.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"

#define LOG_MODULE "e2e_keys"
#include "util/log.h"

/* One key; a device's keys are a short list (one-time keys are capped by
 * the upload endpoint). */
struct key {
    struct key *next;
    char *kind;
    char *key_id;
    char *json;
    int used;
};

struct balai_e2e_keys {
    struct balai_map *devices; /* "user\ndevice" -> struct key * (list head) */
};

static char *dev_key(const char *user_id, const char *device_id)
{
    return balai_asprintf("%s\n%s", user_id, device_id);
}

static void key_free(struct key *e)
{
    free(e->kind);
    free(e->key_id);
    free(e->json);
    free(e);
}

void balai_api_e2e_keys_free(struct balai_e2e_keys *k)
{
    size_t it = 0, kl;
    const void *mk;
    void *v;

    if (!k)
        return;
    while (balai_map_next(k->devices, &it, &mk, &kl, &v)) {
        struct key *e = v;
        while (e) {
            struct key *next = e->next;
            key_free(e);
            e = next;
        }
    }
    balai_map_free(k->devices);
    free(k);
}

struct balai_e2e_keys *balai_api_e2e_keys_new(void)
{
    struct balai_e2e_keys *k = balai_calloc(1, sizeof(*k));
    k->devices = balai_map_new();
    return k;
}

static struct key *head_of(const struct balai_e2e_keys *k, const char *user_id,
                           const char *device_id)
{
    char *mk = dev_key(user_id, device_id);
    struct key *e = balai_map_get_str(k->devices, mk);
    free(mk);
    return e;
}

static struct key *find(struct key *e, const char *kind, const char *key_id)
{
    for (; e; e = e->next) {
        if (strcmp(e->kind, kind) == 0 && strcmp(e->key_id, key_id) == 0)
            return e;
    }
    return NULL;
}

void balai_api_e2e_keys_put(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                            const char *kind, const char *key_id, const char *json, int used)
{
    char *mk = dev_key(user_id, device_id);
    struct key *head = balai_map_get_str(k->devices, mk);
    struct key *e = find(head, kind, key_id);

    if (!e) {
        e = balai_calloc(1, sizeof(*e));
        e->kind = balai_strdup(kind);
        e->key_id = balai_strdup(key_id);
        e->next = head;
        balai_map_put_str(k->devices, mk, e);
    }
    free(e->json);
    e->json = balai_strdup(json);
    e->used = used;
    free(mk);
}

void balai_api_e2e_keys_del(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                            const char *kind, const char *key_id)
{
    char *mk = dev_key(user_id, device_id);
    struct key *head = balai_map_get_str(k->devices, mk);
    struct key **pp = &head;

    while (*pp && !(strcmp((*pp)->kind, kind) == 0 && strcmp((*pp)->key_id, key_id) == 0))
        pp = &(*pp)->next;
    if (*pp) {
        struct key *e = *pp;
        *pp = e->next;
        key_free(e);
        if (head)
            balai_map_put_str(k->devices, mk, head);
        else
            balai_map_del_str(k->devices, mk);
    }
    free(mk);
}

static void del_device(struct balai_e2e_keys *k, const char *mk)
{
    struct key *e = balai_map_del_str(k->devices, mk);

    while (e) {
        struct key *next = e->next;
        key_free(e);
        e = next;
    }
}

void balai_api_e2e_keys_del_device(struct balai_e2e_keys *k, const char *user_id,
                                   const char *device_id)
{
    char *mk;

    if (device_id) {
        mk = dev_key(user_id, device_id);
        del_device(k, mk);
        free(mk);
        return;
    }
    /* every device of the user: collect the map keys, then delete */
    char *prefix = dev_key(user_id, "");
    size_t plen = strlen(prefix), it = 0, kl, n = 0, cap = 0;
    char **found = NULL;
    const void *key;
    void *v;
    while (balai_map_next(k->devices, &it, &key, &kl, &v)) {
        if (kl <= plen || memcmp(key, prefix, plen) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            found = balai_realloc(found, cap * sizeof(*found));
        }
        found[n++] = balai_strdup(key);
    }
    for (size_t i = 0; i < n; i++) {
        del_device(k, found[i]);
        free(found[i]);
    }
    free(found);
    free(prefix);
}

const char *balai_api_e2e_keys_get(const struct balai_e2e_keys *k, const char *user_id,
                                   const char *device_id, const char *kind, const char *key_id,
                                   int *used)
{
    struct key *e = find(head_of(k, user_id, device_id), kind, key_id);
    if (!e)
        return NULL;
    if (used)
        *used = e->used;
    return e->json;
}

void balai_api_e2e_keys_each(const struct balai_e2e_keys *k, const char *user_id,
                             const char *device_id,
                             void (*fn)(const char *kind, const char *key_id, const char *json,
                                        int used, void *arg),
                             void *arg)
{
    for (struct key *e = head_of(k, user_id, device_id); e; e = e->next)
        fn(e->kind, e->key_id, e->json, e->used, arg);
}

size_t balai_api_e2e_keys_otk_total(const struct balai_e2e_keys *k, const char *user_id,
                                    const char *device_id)
{
    size_t n = 0;
    for (struct key *e = head_of(k, user_id, device_id); e; e = e->next)
        n += strcmp(e->kind, BALAI_E2E_OTK) == 0;
    return n;
}

char *balai_api_e2e_key_algorithm(const char *key_id)
{
    const char *colon = strchr(key_id, ':');
    if (!colon || colon == key_id || !colon[1])
        return NULL;
    return balai_strndup(key_id, (size_t)(colon - key_id));
}

/* Whether key_id's algorithm is `algorithm`. */
static int algorithm_is(const char *key_id, const char *algorithm)
{
    size_t n = strlen(algorithm);
    return strncmp(key_id, algorithm, n) == 0 && key_id[n] == ':';
}

json_t *balai_api_e2e_keys_counts(const struct balai_e2e_keys *k, const char *user_id,
                                  const char *device_id)
{
    json_t *o = json_object();

    for (struct key *e = head_of(k, user_id, device_id); e; e = e->next) {
        if (strcmp(e->kind, BALAI_E2E_OTK) != 0)
            continue;
        char *alg = balai_api_e2e_key_algorithm(e->key_id);
        if (!alg)
            continue;
        json_int_t n = json_integer_value(json_object_get(o, alg));
        json_object_set_new(o, alg, json_integer(n + 1));
        free(alg);
    }
    return o;
}

int balai_api_e2e_keys_claim(struct balai_e2e_keys *k, const char *user_id, const char *device_id,
                             const char *algorithm, char **key_id, char **json, int *fallback)
{
    struct key *head = head_of(k, user_id, device_id);
    struct key *fb = NULL;

    for (struct key *e = head; e; e = e->next) {
        if (!algorithm_is(e->key_id, algorithm))
            continue;
        if (strcmp(e->kind, BALAI_E2E_OTK) == 0) {
            *key_id = balai_strdup(e->key_id);
            *json = balai_strdup(e->json);
            *fallback = 0;
            balai_api_e2e_keys_del(k, user_id, device_id, BALAI_E2E_OTK, *key_id);
            return BALAI_OK;
        }
        if (strcmp(e->kind, BALAI_E2E_FALLBACK) == 0 && (!fb || (fb->used && !e->used)))
            fb = e;
    }
    if (!fb)
        return BALAI_ENOTFOUND;
    *key_id = balai_strdup(fb->key_id);
    *json = balai_strdup(fb->json);
    *fallback = 1;
    fb->used = 1;
    return BALAI_OK;
}

void balai_api_e2e_keys_sync_write(void *src, const char *user_id, const char *device_id,
                                   struct balai_buf *b)
{
    const struct balai_e2e_keys *k = src;
    json_t *counts = k ? balai_api_e2e_keys_counts(k, user_id, device_id) : json_object();
    json_t *fb = json_array();
    char *s;

    if (!json_object_get(counts, "signed_curve25519"))
        json_object_set_new(counts, "signed_curve25519", json_integer(0));
    for (struct key *e = k ? head_of(k, user_id, device_id) : NULL; e; e = e->next) {
        if (strcmp(e->kind, BALAI_E2E_FALLBACK) != 0 || e->used)
            continue;
        char *alg = balai_api_e2e_key_algorithm(e->key_id);
        if (alg)
            json_array_append_new(fb, json_string(alg));
        free(alg);
    }
    s = balai_json_dump(counts, 1, NULL);
    balai_buf_printf(b, ",\"device_one_time_keys_count\":%s", s ? s : "{}");
    free(s);
    s = balai_json_dump(fb, 0, NULL);
    balai_buf_printf(b, ",\"device_unused_fallback_key_types\":%s", s ? s : "[]");
    free(s);
    json_decref(counts);
    json_decref(fb);
}

/* ---- loading at start ---- */

static int load_one(const struct balai_e2e_key_rec *r, void *arg)
{
    struct balai_e2e_keys *k = arg;

    if (r->user_id && r->device_id && r->kind && r->key_id && r->json)
        balai_api_e2e_keys_put(k, r->user_id, r->device_id, r->kind, r->key_id, r->json, r->used);
    return 0;
}

int balai_api_e2e_keys_load(struct balai_app *app)
{
    int rc;

    app->e2e_keys = balai_api_e2e_keys_new();
    rc = balai_store_e2e_keys_each(app->store, load_one, app->e2e_keys);
    if (rc != BALAI_OK)
        return rc;
    LOG_DEBUG("loaded end-to-end encryption keys of %zu devices",
             balai_map_count(app->e2e_keys->devices));
    return BALAI_OK;
}
