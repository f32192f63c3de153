/* to_device.c: to-device messages in memory (see to_device.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/account_data.h"
#include "api/app.h"
#include "api/to_device.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"

#define LOG_MODULE "to_device"
#include "util/log.h"

struct msg {
    struct msg *next;
    int64_t pos;
    char *sender;
    char *type;
    char *content;
};

/* A device's queue, oldest first. */
struct queue {
    struct msg *head, *tail;
};

struct balai_to_device {
    struct balai_map *queues; /* "user\ndevice" -> struct queue * */
    struct balai_map *txns;   /* "user\ndevice\ntxn" -> marker */
    int64_t pos;
};

static char *qkey(const char *user_id, const char *device_id)
{
    return balai_asprintf("%s\n%s", user_id, device_id);
}

static void msg_free(struct msg *m)
{
    free(m->sender);
    free(m->type);
    free(m->content);
    free(m);
}

void balai_api_to_device_free(struct balai_to_device *td)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!td)
        return;
    while (balai_map_next(td->queues, &it, &k, &kl, &v)) {
        struct queue *q = v;
        while (q->head) {
            struct msg *m = q->head;
            q->head = m->next;
            msg_free(m);
        }
        free(q);
    }
    balai_map_free(td->queues);
    balai_map_free(td->txns);
    free(td);
}

struct balai_to_device *balai_api_to_device_new(void)
{
    struct balai_to_device *td = balai_calloc(1, sizeof(*td));
    td->queues = balai_map_new();
    td->txns = balai_map_new();
    return td;
}

static struct queue *queue_of(const struct balai_to_device *td, const char *user_id,
                              const char *device_id)
{
    char *k = qkey(user_id, device_id);
    struct queue *q = balai_map_get_str(td->queues, k);
    free(k);
    return q;
}

void balai_api_to_device_add(struct balai_to_device *td, const char *user_id, const char *device_id,
                             int64_t pos, const char *sender, const char *type, const char *content)
{
    char *k = qkey(user_id, device_id);
    struct queue *q = balai_map_get_str(td->queues, k);
    struct msg *m = balai_calloc(1, sizeof(*m));

    if (!q) {
        q = balai_calloc(1, sizeof(*q));
        balai_map_put_str(td->queues, k, q);
    }
    free(k);
    m->pos = pos;
    m->sender = balai_strdup(sender);
    m->type = balai_strdup(type);
    m->content = balai_strdup(content);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    if (pos > td->pos)
        td->pos = pos;
}

size_t balai_api_to_device_drop(struct balai_to_device *td, const char *user_id,
                                const char *device_id, int64_t upto)
{
    char *k = qkey(user_id, device_id);
    struct queue *q = balai_map_get_str(td->queues, k);
    size_t n = 0;

    while (q && q->head && q->head->pos <= upto) {
        struct msg *m = q->head;
        q->head = m->next;
        msg_free(m);
        n++;
    }
    if (q && !q->head) {
        balai_map_del_str(td->queues, k);
        free(q);
    }
    free(k);
    return n;
}

void balai_api_to_device_drop_user(struct balai_to_device *td, const char *user_id)
{
    char *prefix = qkey(user_id, "");
    size_t plen = strlen(prefix), it = 0, kl, n = 0, cap = 0;
    char **found = NULL;
    const void *key;
    void *v;

    while (balai_map_next(td->queues, &it, &key, &kl, &v)) {
        if (kl <= plen || memcmp(key, prefix, plen) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            found = balai_realloc(found, cap * sizeof(*found));
        }
        found[n++] = balai_strdup((const char *)key + plen);
    }
    for (size_t i = 0; i < n; i++) {
        balai_api_to_device_drop(td, user_id, found[i], INT64_MAX);
        free(found[i]);
    }
    free(found);
    free(prefix);
}

int64_t balai_api_to_device_pos(const struct balai_to_device *td)
{
    return td ? td->pos : 0;
}

int64_t balai_api_to_device_device_pos(const struct balai_to_device *td, const char *user_id,
                                       const char *device_id)
{
    struct queue *q = td ? queue_of(td, user_id, device_id) : NULL;
    return q && q->tail ? q->tail->pos : 0;
}

/* A string as JSON text (caller frees). */
static char *json_str(const char *v)
{
    json_t *j = json_string(v);
    char *out = j ? balai_json_dump(j, 0, NULL) : NULL;
    json_decref(j);
    return out ? out : balai_strdup("\"\"");
}

size_t balai_api_to_device_write(void *src, const char *user_id, const char *device_id,
                                 int64_t after, struct balai_buf *b, int64_t *upto)
{
    const struct balai_to_device *td = src;
    struct queue *q = td ? queue_of(td, user_id, device_id) : NULL;
    int64_t last = 0;
    size_t n = 0;

    *upto = balai_api_to_device_pos(td);
    for (struct msg *m = q ? q->head : NULL; m; m = m->next) {
        if (m->pos <= after)
            continue;
        if (n == BALAI_TO_DEVICE_SYNC_MAX) {
            *upto = last; /* more remain: the token stops at the last one sent */
            break;
        }
        char *sender = json_str(m->sender);
        char *type = json_str(m->type);
        balai_buf_printf(b, "%s{\"type\":%s,\"sender\":%s,\"content\":%s}", n ? "," : "", type,
                         sender, m->content);
        free(sender);
        free(type);
        last = m->pos;
        n++;
    }
    return n;
}

int balai_api_to_device_txn_seen(struct balai_to_device *td, const char *user_id,
                                 const char *device_id, const char *txn_id)
{
    char *k = balai_asprintf("%s\n%s\n%s", user_id, device_id, txn_id);
    int seen = balai_map_get_str(td->txns, k) != NULL;
    if (!seen)
        balai_map_put_str(td->txns, k, td);
    free(k);
    return seen;
}

void balai_api_to_device_txn_forget(struct balai_to_device *td, const char *user_id,
                                    const char *device_id, const char *txn_id)
{
    char *k = balai_asprintf("%s\n%s\n%s", user_id, device_id, txn_id);
    balai_map_del_str(td->txns, k);
    free(k);
}

/* ---- deleting delivered messages ---- */

struct ack_op {
    struct balai_store_op op; /* first */
    char *user_id;
    char *device_id;
    int64_t upto;
};

static int ack_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct ack_op *a = (struct ack_op *)op;
    return balai_store_txn_to_device_delete(t, a->user_id, a->device_id, a->upto);
}

static void ack_done(struct balai_store_op *op)
{
    struct ack_op *a = (struct ack_op *)op;

    if (op->rc != BALAI_OK)
        LOG_ERROR("deleting delivered to-device messages of %s failed: %s", a->user_id,
                  balai_strerror(op->rc));
    free(a->user_id);
    free(a->device_id);
    free(a);
}

void balai_api_to_device_ack(struct balai_app *app, const char *user_id, const char *device_id,
                             int64_t upto)
{
    if (upto <= 0 || balai_api_to_device_drop(app->to_device, user_id, device_id, upto) == 0)
        return;
    struct ack_op *a = balai_calloc(1, sizeof(*a));
    a->user_id = balai_strdup(user_id);
    a->device_id = balai_strdup(device_id);
    a->upto = upto;
    a->op.apply = ack_apply;
    a->op.done = ack_done;
    balai_store_submit(app->store, &a->op);
}

/* ---- sealing ---- */

#define SEAL_PREFIX "s1."

static char *ad_of(const char *user_id, const char *device_id, size_t *len)
{
    char *ad = balai_asprintf("%s\n%s", user_id, device_id);
    *len = strlen(ad);
    return ad;
}

char *balai_api_to_device_seal(struct balai_app *app, const char *user_id, const char *device_id,
                               const char *json)
{
    char key_name[320];
    uint8_t key[32];
    size_t len = strlen(json), adlen;
    char *out = NULL, *b64 = NULL, *ad = NULL;
    uint8_t *blob = NULL;

    balai_api_user_key_name(user_id, key_name, sizeof(key_name));
    if (balai_keystore_get_or_create(app->keystore, key_name, key) != BALAI_OK)
        goto out;
    blob = balai_malloc(len + BALAI_SEAL_OVERHEAD);
    ad = ad_of(user_id, device_id, &adlen);
    balai_seal(key, ad, adlen, json, len, blob);
    b64 = balai_base64_encode(blob, len + BALAI_SEAL_OVERHEAD);
    out = balai_asprintf(SEAL_PREFIX "%s", b64);
out:
    balai_wipe(key, sizeof(key));
    free(blob);
    free(b64);
    free(ad);
    return out;
}

char *balai_api_to_device_open(struct balai_app *app, const char *user_id, const char *device_id,
                               const char *stored)
{
    char key_name[320];
    uint8_t key[32];
    uint8_t *raw = NULL;
    size_t rawlen = 0, adlen = 0;
    char *plain = NULL, *ad = NULL;

    if (strncmp(stored, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0)
        return NULL;
    stored += strlen(SEAL_PREFIX);
    balai_api_user_key_name(user_id, key_name, sizeof(key_name));
    if (balai_keystore_get(app->keystore, key_name, key) != BALAI_OK)
        goto out;
    if (balai_base64_decode(stored, strlen(stored), &raw, &rawlen) != BALAI_OK ||
        rawlen < BALAI_SEAL_OVERHEAD)
        goto out;
    plain = balai_malloc(rawlen - BALAI_SEAL_OVERHEAD + 1);
    ad = ad_of(user_id, device_id, &adlen);
    if (balai_unseal(key, ad, adlen, raw, rawlen, (uint8_t *)plain) != BALAI_OK) {
        BALAI_FREE(plain);
        goto out;
    }
    plain[rawlen - BALAI_SEAL_OVERHEAD] = '\0';
out:
    balai_wipe(key, sizeof(key));
    free(raw);
    free(ad);
    return plain;
}

/* ---- loading at start ---- */

struct load_ctx {
    struct balai_app *app;
    struct balai_to_device *td;
    size_t failed;
};

static int load_one(const struct balai_to_device_rec *r, void *arg)
{
    struct load_ctx *c = arg;

    if (!r->user_id || !r->device_id || !r->sender || !r->type || !r->content)
        return 0;
    char *json = balai_api_to_device_open(c->app, r->user_id, r->device_id, r->content);
    if (!json) {
        c->failed++;
        return 0;
    }
    balai_api_to_device_add(c->td, r->user_id, r->device_id, r->pos, r->sender, r->type, json);
    balai_wipe(json, strlen(json));
    free(json);
    return 0;
}

int balai_api_to_device_load(struct balai_app *app)
{
    int rc;

    struct load_ctx c = {app, NULL, 0};
    app->to_device = balai_api_to_device_new();
    c.td = app->to_device;
    rc = balai_store_to_device_each(app->store, load_one, &c);
    if (c.failed)
        LOG_ERROR("%zu stored to-device message(s) could not be opened", c.failed);
    if (rc != BALAI_OK)
        return rc;
    int64_t pos = balai_store_pos_current(app->store, "to_device");
    if (pos < 0)
        return (int)pos;
    if (pos > app->to_device->pos)
        app->to_device->pos = pos;
    return BALAI_OK;
}
