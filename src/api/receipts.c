/* receipts.c: read receipts in memory (see receipts.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/receipts.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"

#define LOG_MODULE "receipts"
#include "util/log.h"

/* One receipt; a room's receipts are a list (one entry per member, type and
 * thread). */
struct entry {
    struct entry *next;
    char *user_id;
    char *type;
    char *thread_id;
    char *event_id;
    int64_t ts;
    int64_t pos;
};

struct room_receipts {
    struct entry *head;
    int64_t max_pos;
};

struct balai_receipts {
    struct balai_map *rooms; /* room id -> struct room_receipts * */
    int64_t pos;
};

struct balai_receipts *balai_api_receipts_new(void)
{
    struct balai_receipts *rs = balai_calloc(1, sizeof(*rs));
    rs->rooms = balai_map_new();
    return rs;
}

static void entry_free(struct entry *e)
{
    free(e->user_id);
    free(e->type);
    free(e->thread_id);
    free(e->event_id);
    free(e);
}

void balai_api_receipts_free(struct balai_receipts *rs)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!rs)
        return;
    while (balai_map_next(rs->rooms, &it, &k, &kl, &v)) {
        struct room_receipts *r = v;
        while (r->head) {
            struct entry *e = r->head;
            r->head = e->next;
            entry_free(e);
        }
        free(r);
    }
    balai_map_free(rs->rooms);
    free(rs);
}

void balai_api_receipts_put(struct balai_receipts *rs, const char *room_id, const char *user_id,
                            const char *type, const char *thread_id, const char *event_id,
                            int64_t ts, int64_t pos)
{
    struct room_receipts *r = balai_map_get_str(rs->rooms, room_id);
    struct entry *e;

    if (!r) {
        r = balai_calloc(1, sizeof(*r));
        balai_map_put_str(rs->rooms, room_id, r);
    }
    for (e = r->head; e; e = e->next) {
        if (strcmp(e->user_id, user_id) == 0 && strcmp(e->type, type) == 0 &&
            strcmp(e->thread_id, thread_id) == 0)
            break;
    }
    if (e && e->pos > pos)
        return;
    if (!e) {
        e = balai_calloc(1, sizeof(*e));
        e->user_id = balai_strdup(user_id);
        e->type = balai_strdup(type);
        e->thread_id = balai_strdup(thread_id);
        e->next = r->head;
        r->head = e;
    }
    free(e->event_id);
    e->event_id = balai_strdup(event_id);
    e->ts = ts;
    e->pos = pos;
    if (pos > r->max_pos)
        r->max_pos = pos;
    if (pos > rs->pos)
        rs->pos = pos;
}

int64_t balai_api_receipts_pos(const struct balai_receipts *rs)
{
    return rs ? rs->pos : 0;
}

static int visible(const struct entry *e, const char *user_id, int64_t after)
{
    return e->pos > after &&
           (strcmp(e->type, BALAI_RECEIPT_PRIVATE) != 0 || strcmp(e->user_id, user_id) == 0);
}

/* content[event_id][type][user_id] = {"ts": ts, "thread_id"?: thread} */
static void add(json_t *content, const struct entry *e)
{
    json_t *ev = json_object_get(content, e->event_id);
    if (!ev) {
        ev = json_object();
        json_object_set_new(content, e->event_id, ev);
    }
    json_t *ty = json_object_get(ev, e->type);
    if (!ty) {
        ty = json_object();
        json_object_set_new(ev, e->type, ty);
    }
    json_t *rec = json_pack("{s:I}", "ts", (json_int_t)e->ts);
    if (e->thread_id[0])
        json_object_set_new(rec, "thread_id", json_string(e->thread_id));
    json_object_set_new(ty, e->user_id, rec);
}

size_t balai_api_receipts_each(void *src, const char *user_id, const char *room_id, int64_t after,
                               struct balai_buf *b, int comma)
{
    struct balai_receipts *rs = src;
    struct room_receipts *r = rs ? balai_map_get_str(rs->rooms, room_id) : NULL;
    json_t *content = NULL;
    size_t n = 0, len;

    if (!r || r->max_pos <= after)
        return 0;
    if (b)
        content = json_object();
    for (struct entry *e = r->head; e; e = e->next) {
        if (!visible(e, user_id, after))
            continue;
        n++;
        if (!b)
            break;
        add(content, e);
    }
    if (b && n) {
        char *js = balai_json_dump(content, 1, &len);
        if (js) {
            if (comma)
                balai_buf_append_char(b, ',');
            balai_buf_append_str(b, "{\"type\":\"m.receipt\",\"content\":");
            balai_buf_append(b, js, len);
            balai_buf_append_char(b, '}');
        } else {
            n = 0;
        }
        free(js);
    }
    json_decref(content);
    return n ? 1 : 0;
}

/* ---- loading at start ---- */

static int load_one(const struct balai_receipt_rec *r, void *arg)
{
    struct balai_receipts *rs = arg;
    balai_api_receipts_put(rs, r->room_id, r->user_id, r->type, r->thread_id, r->event_id, r->ts,
                           r->pos);
    return 0;
}

int balai_api_receipts_load(struct balai_app *app)
{
    int rc;

    app->receipts = balai_api_receipts_new();
    rc = balai_store_receipts_each(app->store, load_one, app->receipts);
    if (rc != BALAI_OK)
        return rc;
    int64_t pos = balai_store_pos_current(app->store, "receipts");
    if (pos < 0)
        return (int)pos;
    if (pos > app->receipts->pos)
        app->receipts->pos = pos;
    LOG_DEBUG("loaded the receipts of %zu rooms", balai_map_count(app->receipts->rooms));
    return BALAI_OK;
}
