/* public_rooms.c: the public room directory: GET and PUT
 * /directory/list/room/{roomId}, GET and POST /publicRooms.
 *
 * SPEC: Matrix v1.12, Client-Server API "Room directory". Which rooms are
 * published lives in the store (room_directory) and in memory
 * (api/room_directory.h); a change is written first and applied to memory
 * once committed. There is no federation: a `server` other than ours is
 * refused. publicRooms requires authentication, as the spec allows. The
 * pagination tokens are "o<offset>" into the sorted list (by joined members,
 * descending, then room id), so a page may shift when rooms change between
 * requests.
 *
 * Who may change a room's visibility: a server admin, or a joined member
 * whose power level reaches the room's state_default. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/room_directory.h"
#include "core/accounts.h"
#include "core/auth.h"
#include "core/ids.h"
#include "core/powerlevels.h"
#include "core/room.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

#define LOG_MODULE "public_rooms"
#include "util/log.h"

#define MAX_LIMIT 500
#define SEARCH_MAX 256

/* ---- directory/list/room/{roomId} ---- */

struct publish_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    char *room_id;
    int published;
};

static int publish_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct publish_op *p = (struct publish_op *)op;
    return balai_store_txn_room_publish(t, p->room_id, p->published, balai_now_ms());
}

static void publish_done(struct balai_store_op *op)
{
    struct publish_op *p = (struct publish_op *)op;

    if (op->rc != BALAI_OK) {
        LOG_ERROR("changing the directory visibility of %s failed: %s", p->room_id,
                  balai_strerror(op->rc));
        balai_api_error(p->req, 500, "M_UNKNOWN", "Could not store the room's visibility");
    } else {
        balai_api_room_directory_set(p->app->room_directory, p->room_id, p->published);
        LOG_INFO("room %s %s the directory", p->room_id,
                 p->published ? "published in" : "removed from");
        balai_api_json(p->req, 200, json_object());
    }
    free(p->room_id);
    free(p);
}

/* The room of the path, or NULL after answering 400/404. */
static struct balai_room *path_room(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    const char *room_id = req->params[0];

    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        return NULL;
    }
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room)
        balai_api_error(req, 404, "M_NOT_FOUND", "Unknown room");
    return room;
}

static void get_visibility(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_room *room = path_room(req);

    if (!room)
        return;
    int pub = balai_api_room_directory_has(app->room_directory, balai_room_id(room));
    balai_api_json(req, 200, json_pack("{s:s}", "visibility", pub ? "public" : "private"));
}

/* May `u` change the visibility of `room`? */
static int may_publish(struct balai_room *room, const struct balai_user *u)
{
    if (u->admin)
        return 1;
    const char *m = balai_room_membership(room, u->user_id);
    if (!m || strcmp(m, "join") != 0)
        return 0;
    struct balai_state_lookup view = balai_room_auth_view(room);
    struct balai_powerlevels pl;
    if (balai_auth_power_levels(balai_room_version(room)->id, &view, &pl) != BALAI_OK)
        return 0;
    return balai_pl_user_level(&pl, u->user_id) >= pl.state_default;
}

static void put_visibility(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    struct balai_room *room;
    json_t *body = NULL;
    const char *vis;

    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        balai_api_body(req, 0, &body) < 0 ||
        balai_api_str(req, body, "visibility", 1, &vis) < 0 || !(room = path_room(req)))
        goto out;
    if (strcmp(vis, "public") != 0 && strcmp(vis, "private") != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "'visibility' must be \"public\" or \"private\"");
        goto out;
    }
    if (!may_publish(room, s->device->user)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Only a server admin or a room member with power to change the room's "
                        "state may change its visibility in the directory");
        goto out;
    }
    struct publish_op *p = balai_calloc(1, sizeof(*p));
    p->app = app;
    p->req = req;
    p->room_id = balai_strdup(balai_room_id(room));
    p->published = strcmp(vis, "public") == 0;
    p->op.apply = publish_apply;
    p->op.done = publish_done;
    balai_store_submit(app->store, &p->op);
out:
    json_decref(body);
}

/* ---- publicRooms ---- */

struct entry {
    const char *room_id; /* borrowed from the room */
    size_t joined;
    json_t *chunk;
};

struct listing {
    struct balai_app *app;
    const char *term;   /* generic_search_term, or NULL */
    json_t *room_types; /* filter.room_types (borrowed array), or NULL */
    struct entry *entries;
    size_t n, cap;
};

/* A string field of the content of the room's committed state event (borrowed). */
static const char *state_str(struct balai_room *room, const char *type, const char *field)
{
    struct balai_ev *ev = balai_room_state_ev(room, type, "");
    if (!ev)
        return NULL;
    const char *v = json_string_value(json_object_get(json_object_get(ev->pdu, "content"), field));
    return v && v[0] ? v : NULL;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does `hay` contain `needle`, ignoring ASCII case? */
static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!hay)
        return 0;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static int type_wanted(json_t *types, const char *room_type)
{
    size_t i;
    json_t *t;

    if (!types || json_array_size(types) == 0)
        return 1;
    json_array_foreach(types, i, t)
    {
        if (json_is_null(t)
                ? !room_type
                : room_type && json_is_string(t) && strcmp(json_string_value(t), room_type) == 0)
            return 1;
    }
    return 0;
}

static void add_room(const char *room_id, void *arg)
{
    struct listing *l = arg;
    struct balai_room *room = balai_rooms_get(l->app->rooms, room_id);
    if (!room)
        return;
    const char *name = state_str(room, "m.room.name", "name");
    const char *topic = state_str(room, "m.room.topic", "topic");
    const char *alias = state_str(room, "m.room.canonical_alias", "alias");
    const char *type = state_str(room, "m.room.create", "type");
    if (l->term && !contains_nocase(name, l->term) && !contains_nocase(topic, l->term) &&
        !contains_nocase(alias, l->term))
        return;
    if (!type_wanted(l->room_types, type))
        return;
    const char *hv = state_str(room, "m.room.history_visibility", "history_visibility");
    const char *avatar = state_str(room, "m.room.avatar", "url");
    const char *jr = state_str(room, "m.room.join_rules", "join_rule");
    size_t joined = balai_room_joined_count(room);
    json_t *c = json_pack("{s:s, s:I, s:b, s:b}", "room_id", balai_room_id(room),
                          "num_joined_members", (json_int_t)joined, "world_readable",
                          hv && strcmp(hv, "world_readable") == 0, "guest_can_join", 0);
    if (name)
        json_object_set_new(c, "name", json_string(name));
    if (topic)
        json_object_set_new(c, "topic", json_string(topic));
    if (alias)
        json_object_set_new(c, "canonical_alias", json_string(alias));
    if (avatar)
        json_object_set_new(c, "avatar_url", json_string(avatar));
    if (jr)
        json_object_set_new(c, "join_rule", json_string(jr));
    if (type)
        json_object_set_new(c, "room_type", json_string(type));
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->entries = balai_realloc(l->entries, l->cap * sizeof(*l->entries));
    }
    l->entries[l->n++] = (struct entry){balai_room_id(room), joined, c};
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->joined != y->joined)
        return x->joined > y->joined ? -1 : 1;
    return strcmp(x->room_id, y->room_id);
}

/* "o<offset>" -> offset; -1 if malformed. */
static long parse_since(const char *since)
{
    char *end;
    if (since[0] != 'o' || since[1] < '0' || since[1] > '9')
        return -1;
    long v = strtol(since + 1, &end, 10);
    return *end || v < 0 ? -1 : v;
}

/* Answers the page; limit 0 means no limit. */
static void answer(struct balai_http_req *req, long limit, const char *since, const char *term,
                   json_t *room_types)
{
    struct balai_app *app = balai_api_app(req);
    const char *server = balai_http_req_query(req, "server");
    struct listing l = {
        .app = app, .term = term && term[0] ? term : NULL, .room_types = room_types};
    long off = 0;

    if (server && strcmp(server, app->server_name) != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "This server has no federation: only its own rooms are listed");
        return;
    }
    if (since && (off = parse_since(since)) < 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'since' is not a token from this server");
        return;
    }
    if (l.term && strlen(l.term) > SEARCH_MAX) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "The search term is too long");
        return;
    }
    balai_api_room_directory_each(app->room_directory, add_room, &l);
    if (l.n)
        qsort(l.entries, l.n, sizeof(*l.entries), entry_cmp);
    if (limit <= 0 || limit > MAX_LIMIT)
        limit = MAX_LIMIT;
    size_t start = (size_t)off < l.n ? (size_t)off : l.n;
    size_t end = l.n - start > (size_t)limit ? start + (size_t)limit : l.n;
    json_t *chunk = json_array();
    for (size_t i = 0; i < l.n; i++) {
        if (i >= start && i < end)
            json_array_append(chunk, l.entries[i].chunk);
        json_decref(l.entries[i].chunk);
    }
    json_t *o =
        json_pack("{s:o, s:I}", "chunk", chunk, "total_room_count_estimate", (json_int_t)l.n);
    char tok[32];
    if (end < l.n) {
        snprintf(tok, sizeof(tok), "o%zu", end);
        json_object_set_new(o, "next_batch", json_string(tok));
    }
    if (start > 0) {
        snprintf(tok, sizeof(tok), "o%zu", start > (size_t)limit ? start - (size_t)limit : 0);
        json_object_set_new(o, "prev_batch", json_string(tok));
    }
    free(l.entries);
    balai_api_json(req, 200, o);
}

static void get_public_rooms(struct balai_http_req *req)
{
    struct balai_session *s;
    const char *lim = balai_http_req_query(req, "limit");
    long limit = 0;

    if (balai_api_auth(req, &s) < 0)
        return;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || limit < 0) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            return;
        }
    }
    answer(req, limit, balai_http_req_query(req, "since"), NULL, NULL);
}

static void post_public_rooms(struct balai_http_req *req)
{
    struct balai_session *s;
    json_t *body = NULL, *filter, *lim, *types = NULL;
    const char *since = NULL, *term = NULL;
    long limit = 0;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 1, &body) < 0 ||
        balai_api_str(req, body, "since", 0, &since) < 0)
        goto out;
    lim = json_object_get(body, "limit");
    if (lim && !json_is_null(lim)) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 0) {
            balai_api_error(req, 400, "M_BAD_JSON", "'limit' must be a non-negative integer");
            goto out;
        }
        limit = json_integer_value(lim) > MAX_LIMIT ? MAX_LIMIT : (long)json_integer_value(lim);
    }
    filter = json_object_get(body, "filter");
    if (filter && !json_is_null(filter)) {
        if (!json_is_object(filter) ||
            balai_api_str(req, filter, "generic_search_term", 0, &term) < 0) {
            if (!json_is_object(filter))
                balai_api_error(req, 400, "M_BAD_JSON", "'filter' must be an object");
            goto out;
        }
        types = json_object_get(filter, "room_types");
        if (types && !json_is_null(types) && !json_is_array(types)) {
            balai_api_error(req, 400, "M_BAD_JSON", "'room_types' must be an array");
            goto out;
        }
        if (types && json_is_null(types))
            types = NULL;
    }
    answer(req, limit, since, term, types);
out:
    json_decref(body);
}

int balai_api_client_public_rooms_routes(struct balai_app *app)
{
    static const char vis[] = "/_matrix/client/v3/directory/list/room/{roomId}";
    static const char pub[] = "/_matrix/client/v3/publicRooms";
    int rc = balai_api_route(app, BALAI_HTTP_GET, vis, get_visibility, 0);
    if (rc == BALAI_OK)
        rc = balai_api_route(app, BALAI_HTTP_PUT, vis, put_visibility, 0);
    if (rc == BALAI_OK)
        rc = balai_api_route(app, BALAI_HTTP_GET, pub, get_public_rooms, 0);
    if (rc == BALAI_OK)
        rc = balai_api_route(app, BALAI_HTTP_POST, pub, post_public_rooms, 0);
    return rc;
}
