/* sync.c: GET /sync (long-poll, parked in the notifier) and filters.
 *
 * Filters need no storage: a filter id is the filter itself (validated,
 * then compact JSON with sorted keys) in unpadded URL-safe base64 behind the
 * prefix "f", so every id ever handed out stays valid across restarts and
 * servers, and GET returns the filter as uploaded (normalised). Parsed
 * filters are cached by id; a filter that changes nothing but the timeline
 * limit leaves /sync on its unfiltered path. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "api/device_lists.h"
#include "api/e2e_keys.h"
#include "api/presence.h"
#include "api/to_device.h"
#include "api/common.h"
#include "api/receipts.h"
#include "api/typing.h"
#include "api/unread.h"
#include "core/accounts.h"
#include "core/room.h"
#include "crypto/crypto.h"
#include "net/timer.h"
#include "sync/filter.h"
#include "sync/notifier.h"
#include "sync/sync.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"

#define LOG_MODULE "sync"
#include "util/log.h"

#define MAX_TIMEOUT_MS 300000
#define DEFAULT_TIMELINE_LIMIT 10
#define MAX_FILTER_BYTES 4096
/* lazy-loaded member events remembered, over all devices */
#define LAZY_MEMBERS_MAX 200000

/* ---- filters ---- */

static char *filter_id_of(const json_t *filter)
{
    size_t len;
    char *js = balai_json_dump(filter, 1, &len);
    if (!js)
        return NULL;
    char *b64 = balai_base64url_encode(js, len);
    char *id = balai_asprintf("f%s", b64);
    free(js);
    free(b64);
    return id;
}

/* Decodes a filter id or inline JSON filter. NULL when malformed. */
static json_t *filter_parse(const char *s)
{
    size_t n = strlen(s);
    if (n > MAX_FILTER_BYTES * 2)
        return NULL;
    if (s[0] == '{') {
        json_t *f = json_loads(s, 0, NULL);
        if (f && !json_is_object(f)) {
            json_decref(f);
            f = NULL;
        }
        return f;
    }
    if (s[0] != 'f')
        return NULL;
    /* url-safe to standard base64 */
    char *std = balai_strdup(s + 1);
    for (char *p = std; *p; p++) {
        if (*p == '-')
            *p = '+';
        else if (*p == '_')
            *p = '/';
    }
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    json_t *f = NULL;
    if (balai_base64_decode(std, strlen(std), &raw, &rawlen) == BALAI_OK) {
        f = json_loadb((const char *)raw, rawlen, 0, NULL);
        if (f && !json_is_object(f)) {
            json_decref(f);
            f = NULL;
        }
    }
    free(raw);
    free(std);
    return f;
}

/* Clients send the same filter with every /sync: remember what each one
 * parsed to (one reference each). Loop thread only; emptied when it grows
 * past FILTER_CACHE. */
#define FILTER_CACHE 1024
static struct balai_map *filter_cache;

/* Lazy-loaded members sent to each device; created on first use. */
static struct balai_sync_lazy *lazy_members;

static void filter_cache_clear(void)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    while (balai_map_next(filter_cache, &it, &k, &kl, &v))
        balai_filter_unref(v);
    balai_map_free(filter_cache);
    filter_cache = NULL;
}

/* The filter of a filter id or inline JSON filter, borrowed from the cache
 * (take a reference to keep it). NULL after answering 400: M_NOT_JSON for
 * inline text that is not a JSON object, M_BAD_JSON for a filter of the
 * wrong shape, M_INVALID_PARAM for an unknown id. */
static struct balai_filter *filter_get(struct balai_http_req *req, const char *s)
{
    struct balai_filter *f;
    char err[BALAI_JSON_ERR_LEN];
    if (filter_cache && (f = balai_map_get_str(filter_cache, s)))
        return f;
    json_t *j = filter_parse(s);
    if (!j) {
        if (s[0] == '{')
            balai_api_error(req, 400, "M_NOT_JSON", "The filter is not a JSON object");
        else
            balai_api_error(req, 400, "M_INVALID_PARAM", "No such filter");
        return NULL;
    }
    int rc = balai_filter_parse(j, &f, err, sizeof(err));
    json_decref(j);
    if (rc != BALAI_OK) {
        balai_api_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
        return NULL;
    }
    if (filter_cache && balai_map_count(filter_cache) >= FILTER_CACHE)
        filter_cache_clear();
    if (!filter_cache)
        filter_cache = balai_map_new();
    balai_filter_unref(balai_map_put_str(filter_cache, s, f));
    return f;
}

static int own_user(struct balai_http_req *req, struct balai_session **s)
{
    if (balai_api_auth(req, s) < 0)
        return BALAI_EAUTH;
    if (strcmp(req->params[0], (*s)->device->user->user_id) != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You can only manage your own filters");
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

static void post_filter(struct balai_http_req *req)
{
    struct balai_session *s;
    json_t *body = NULL;
    if (own_user(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (req->body_len > MAX_FILTER_BYTES) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Filters are at most %d bytes",
                        MAX_FILTER_BYTES);
        goto out;
    }
    struct balai_filter *f = NULL;
    char err[BALAI_JSON_ERR_LEN];
    if (balai_filter_parse(body, &f, err, sizeof(err)) != BALAI_OK) {
        balai_api_error(req, 400, "M_BAD_JSON", "Invalid filter: %s", err);
        goto out;
    }
    balai_filter_unref(f);
    char *id = filter_id_of(body);
    balai_api_json(req, 200, json_pack("{s:s}", "filter_id", id));
    free(id);
out:
    json_decref(body);
}

static void get_filter(struct balai_http_req *req)
{
    struct balai_session *s;
    if (own_user(req, &s) < 0)
        return;
    json_t *f = filter_parse(req->params[1]);
    if (!f || req->params[1][0] != 'f') {
        json_decref(f);
        balai_api_error(req, 404, "M_NOT_FOUND", "No such filter");
        return;
    }
    balai_api_json(req, 200, f);
}

/* ---- /sync ---- */

struct sync_wait {
    struct balai_waiter w; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    struct balai_session *session;
    struct sync_wait *next_in_session;
    struct balai_timer *timer;
    char *user_id;
    char *device_id;
    struct balai_sync_params p;
    struct balai_filter *filter; /* a reference; p.filter points to it */
    int done;
};

static void wait_unlink_session(struct sync_wait *sw)
{
    if (!sw->session)
        return;
    struct sync_wait **pp = (struct sync_wait **)&sw->session->waiters;
    while (*pp && *pp != sw)
        pp = &(*pp)->next_in_session;
    if (*pp)
        *pp = sw->next_in_session;
    sw->session = NULL;
}

/* Takes the waiter out of every list and clears its hooks on the request,
 * which the caller answers next (answering frees the request). */
static struct balai_http_req *wait_detach(struct sync_wait *sw)
{
    struct balai_http_req *req = sw->req;
    balai_notifier_unpark(sw->app->notifier, &sw->w);
    wait_unlink_session(sw);
    if (sw->timer) {
        balai_timer_stop(sw->timer);
        balai_timer_free(sw->timer);
        sw->timer = NULL;
    }
    req->on_abort = NULL;
    req->udata = NULL;
    return req;
}

static void wait_free(struct sync_wait *sw)
{
    balai_filter_unref(sw->filter);
    free(sw->user_id);
    free(sw->device_id);
    free(sw);
}

/* Builds the response; returns it (caller frees) when there is something
 * to say or `force`, else NULL. */
static char *build(struct balai_app *app, const struct balai_sync_params *p, int force, size_t *len)
{
    struct balai_buf b;
    struct balai_sync_params q = *p;
    int has = 0;
    q.account_data_each = balai_api_account_data_each;
    q.account_data_src = app->account_data;
    q.account_data_pos = balai_api_account_data_pos(app->account_data);
    q.typing_each = balai_api_typing_each;
    q.typing_src = app;
    q.typing_pos = balai_api_typing_pos(app);
    q.receipts_each = balai_api_receipts_each;
    q.receipts_src = app->receipts;
    q.receipts_pos = balai_api_receipts_pos(app->receipts);
    q.keys_write = balai_api_e2e_keys_sync_write;
    q.keys_src = app->e2e_keys;
    q.to_device_write = balai_api_to_device_write;
    q.to_device_src = app->to_device;
    q.extra = app->event_extra;
    q.unread_write = balai_api_unread_write;
    q.unread_src = app;
    q.presence_write = balai_api_presence_write;
    q.presence_src = app;
    q.presence_pos = balai_api_presence_pos(app);
    struct balai_api_device_lists_src dls = {app, p->since.pos[BALAI_STREAM_EVENTS]};
    q.device_lists_write = balai_api_device_lists_write;
    q.device_lists_src = &dls;
    q.device_lists_pos = balai_api_device_lists_pos(app->device_lists);
    balai_buf_init(&b, 0);
    balai_sync_build(app->rooms, &q, balai_rooms_max_pos(app->rooms), &b, &has);
    if (!has && !force) {
        balai_buf_release(&b);
        return NULL;
    }
    return balai_buf_detach(&b, len);
}

static void on_wake(struct balai_waiter *w)
{
    struct sync_wait *sw = (struct sync_wait *)w;
    size_t len;
    char *body = build(sw->app, &sw->p, 0, &len);
    if (!body)
        return;
    struct balai_http_req *req = wait_detach(sw);
    wait_free(sw);
    balai_http_respond_take(req, 200, "application/json", body, len);
}

static void on_timeout(void *arg)
{
    struct sync_wait *sw = arg;
    size_t len;
    char *body = build(sw->app, &sw->p, 1, &len);
    struct balai_http_req *req = wait_detach(sw);
    wait_free(sw);
    balai_http_respond_take(req, 200, "application/json", body, len);
}

static void on_abort(struct balai_http_req *req)
{
    struct sync_wait *sw = req->udata;
    if (!sw)
        return;
    wait_detach(sw);
    wait_free(sw);
    balai_http_respond_error(req, 503, "M_UNKNOWN", "The request was cancelled");
}

/* The accounts revoke hook: a revoked token ends its parked /sync at once. */
void balai_api_sync_revoked(struct balai_session *s, struct balai_app *app)
{
    (void)app;
    while (s->waiters) {
        struct sync_wait *sw = s->waiters;
        struct balai_http_req *req = wait_detach(sw);
        wait_free(sw);
        json_t *o = json_pack("{s:s, s:s, s:b}", "errcode", "M_UNKNOWN_TOKEN", "error",
                              "The access token was revoked", "soft_logout", 0);
        balai_api_json(req, 401, o);
    }
}

static int parse_bool(const char *s)
{
    return s && strcmp(s, "true") == 0;
}

static void get_sync(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_sync_params p;
    const char *since = balai_http_req_query(req, "since");
    const char *timeout = balai_http_req_query(req, "timeout");
    const char *filter = balai_http_req_query(req, "filter");
    const char *fs = balai_http_req_query(req, "full_state");
    const char *presence = balai_http_req_query(req, "set_presence");
    struct balai_filter *filt = NULL; /* borrowed from the cache */
    long tmo = 0;

    if (balai_api_auth(req, &s) < 0)
        return;
    memset(&p, 0, sizeof(p));
    p.user_id = s->device->user->user_id;
    p.device_id = s->device->device_id;
    p.epoch = app->epoch;
    p.initial = !since || !*since;
    p.timeline_limit = DEFAULT_TIMELINE_LIMIT;
    if (fs && strcmp(fs, "true") != 0 && strcmp(fs, "false") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'full_state' must be true or false");
        return;
    }
    p.full_state = parse_bool(fs);
    if (presence && strcmp(presence, "online") != 0 && strcmp(presence, "offline") != 0 &&
        strcmp(presence, "unavailable") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'set_presence' must be online, offline or unavailable");
        return;
    }
    if (timeout) {
        char *end;
        tmo = strtol(timeout, &end, 10);
        if (!*timeout || *end || tmo < 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM",
                            "'timeout' must be a non-negative number of milliseconds");
            return;
        }
        if (tmo > MAX_TIMEOUT_MS)
            tmo = MAX_TIMEOUT_MS;
    }
    if (filter && *filter) {
        struct balai_filter *f = filter_get(req, filter);
        if (!f)
            return;
        if (f->timeline.limit)
            p.timeline_limit = f->timeline.limit > 100 ? 100 : f->timeline.limit;
        p.unread_threads = f->timeline.unread_thread_notifications;
        if (!f->is_default) {
            filt = f;
            p.filter = f;
            if (!lazy_members)
                lazy_members = balai_sync_lazy_new(LAZY_MEMBERS_MAX);
            p.lazy = lazy_members;
        }
    }
    if (!p.initial) {
        int rc = balai_sync_token_parse(since, app->epoch, &p.since);
        if (rc == BALAI_ESTATE) {
            balai_api_error(req, 400, "M_UNKNOWN_POS",
                            "This sync token comes from another server or an older database; "
                            "start again without 'since'");
            return;
        }
        if (rc != BALAI_OK) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "Malformed 'since' token");
            return;
        }
    }
    /* Online while syncing (or as set_presence says). */
    balai_api_presence_synced(app, p.user_id, presence, tmo);
    /* The device has seen the to-device messages up to its token. */
    if (!p.initial)
        balai_api_to_device_ack(app, p.user_id, p.device_id, p.since.pos[BALAI_STREAM_TO_DEVICE]);
    /* Nothing committed since the token: no need to build before parking. */
    int quiet = !p.initial && !p.full_state && tmo > 0 &&
                p.since.pos[BALAI_STREAM_EVENTS] >= balai_rooms_max_pos(app->rooms) &&
                p.since.pos[BALAI_STREAM_ACCOUNT_DATA] >=
                    balai_api_account_data_user_pos(app->account_data, p.user_id) &&
                p.since.pos[BALAI_STREAM_TYPING] >= balai_api_typing_pos(app) &&
                p.since.pos[BALAI_STREAM_RECEIPTS] >= balai_api_receipts_pos(app->receipts) &&
                p.since.pos[BALAI_STREAM_TO_DEVICE] >=
                    balai_api_to_device_device_pos(app->to_device, p.user_id, p.device_id) &&
                p.since.pos[BALAI_STREAM_PRESENCE] >= balai_api_presence_pos(app) &&
                p.since.pos[BALAI_STREAM_DEVICE_LISTS] >=
                    balai_api_device_lists_pos(app->device_lists);
    if (!quiet) {
        size_t len;
        char *body = build(app, &p, p.initial || tmo == 0 || p.full_state, &len);
        if (body) {
            balai_http_respond_take(req, 200, "application/json", body, len);
            return;
        }
    }
    struct sync_wait *sw = balai_calloc(1, sizeof(*sw));
    sw->app = app;
    sw->req = req;
    sw->user_id = balai_strdup(p.user_id);
    sw->device_id = balai_strdup(p.device_id);
    sw->p = p;
    sw->filter = balai_filter_ref(filt);
    sw->p.filter = sw->filter;
    sw->p.user_id = sw->user_id;
    sw->p.device_id = sw->device_id;
    sw->w.wake = on_wake;
    sw->session = s;
    sw->next_in_session = s->waiters;
    s->waiters = sw;
    sw->timer = balai_timer_new(app->loop, on_timeout, sw);
    balai_timer_start(sw->timer, (uint64_t)tmo, 0);
    req->udata = sw;
    req->on_abort = on_abort;
    balai_notifier_park(app->notifier, sw->user_id, &sw->w);
}

int balai_api_client_sync_routes(struct balai_app *app)
{
    int rc = 0;
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/sync", get_sync, 0);
    rc |= balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/user/{userId}/filter",
                          post_filter, MAX_FILTER_BYTES + 1024);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/user/{userId}/filter/{filterId}",
                          get_filter, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
