/* membership.c: join, invite, leave, forget, kick, ban, unban, and GET /joined_rooms.
 *
 * SPEC: Matrix v1.12, Client-Server API "Room membership". Each change is one
 * m.room.member event through the event pipeline (api/events.h): the auth
 * rules decide, and the answer comes once the event committed. There is no
 * federation: every target must be a user of this server.
 *
 * The system user (DESIGN.md §3) is the organisation's agent: it cannot be
 * kicked or banned from organisation rooms, nor invited anywhere (it joins
 * organisation rooms by itself). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/powerlevels.h"
#include "core/room.h"
#include "util/alloc.h"

#define LOG_MODULE "membership"
#include "util/log.h"

/* "!opaque:server": what a room id must look like before it is looked up. */
/* The room of a room id, or answers 400 (malformed) / 404 (unknown) and returns NULL. */
static struct balai_room *find_room(struct balai_http_req *req, const char *room_id)
{
    struct balai_app *app = balai_api_app(req);
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

static json_t *member_content(const char *membership, const char *reason,
                              const struct balai_user *profile)
{
    json_t *o = json_pack("{s:s}", "membership", membership);
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (profile && profile->displayname)
        json_object_set_new(o, "displayname", json_string(profile->displayname));
    if (profile && profile->avatar_url)
        json_object_set_new(o, "avatar_url", json_string(profile->avatar_url));
    return o;
}

static void answer_empty(struct balai_api_write *w)
{
    struct balai_http_req *req = w->arg;
    if (w->op.rc != BALAI_OK)
        balai_api_error(req, 500, "M_UNKNOWN", "Could not store the membership change; try again");
    else
        balai_api_json(req, 200, json_object());
}

static void answer_room_id(struct balai_api_write *w)
{
    struct balai_http_req *req = w->arg;
    if (w->op.rc != BALAI_OK)
        balai_api_error(req, 500, "M_UNKNOWN", "Could not store the membership change; try again");
    else
        balai_api_json(req, 200, json_pack("{s:s}", "room_id", balai_room_id(w->room)));
}

/* Sends one member event (takes content) and answers when it committed.
 * unforget: also clear the sender's forgotten flag, in the same write. */
static void send_member(struct balai_http_req *req, struct balai_room *room, const char *sender,
                        const char *target, json_t *content, int unforget, balai_write_done_fn done)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_write *w = balai_api_write_new(app, room);
    char reason[512];
    int rc =
        balai_api_event_add(w, sender, "m.room.member", target, content, reason, sizeof(reason));
    json_decref(content);
    if (rc != BALAI_OK) {
        balai_api_write_free(w);
        balai_api_event_error(req, rc, reason);
        return;
    }
    if (unforget) {
        w->forget = -1;
        w->forget_user = balai_strdup(sender);
    }
    w->done = done;
    w->arg = req;
    balai_api_write_submit(w);
}

/* ---- join ---- */

static void join_room(struct balai_http_req *req, struct balai_session *s, struct balai_room *room)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = s->device->user;
    json_t *body = NULL;
    const char *reason;

    if (balai_api_refuse_suspended(req, u->user_id)) /* api/dlp.h */
        goto out;
    if (balai_api_body(req, 1, &body) < 0 || balai_api_str(req, body, "reason", 0, &reason) < 0)
        goto out;
    int unforget = balai_rooms_forgotten(app->rooms, u->user_id, balai_room_id(room));
    send_member(req, room, u->user_id, u->user_id, member_content("join", reason, u), unforget,
                answer_room_id);
out:
    json_decref(body);
}

static void post_room_join(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_room *room = find_room(req, req->params[0]);
    if (room)
        join_room(req, s, room);
}

static void post_join(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *target = req->params[0];

    if (balai_api_auth(req, &s) < 0)
        return;
    if (target[0] == '#') {
        const char *room_id = balai_rooms_alias_get(app->rooms, target, NULL);
        struct balai_room *room = room_id ? balai_rooms_get(app->rooms, room_id) : NULL;
        if (!room) {
            balai_api_error(req, 404, "M_NOT_FOUND", "Unknown room alias");
            return;
        }
        join_room(req, s, room);
        return;
    }
    if (target[0] != '!') {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Expected a room id (!id:server) or a room alias (#name:server)");
        return;
    }
    struct balai_room *room = find_room(req, target);
    if (room)
        join_room(req, s, room);
}

/* ---- leave and forget ---- */

static void post_leave(struct balai_http_req *req)
{
    struct balai_session *s;
    json_t *body = NULL;
    const char *reason;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 1, &body) < 0 ||
        balai_api_str(req, body, "reason", 0, &reason) < 0)
        goto out;
    struct balai_room *room = find_room(req, req->params[0]);
    if (!room)
        goto out;
    const char *me = s->device->user->user_id;
    send_member(req, room, me, me, member_content("leave", reason, NULL), 0, answer_empty);
out:
    json_decref(body);
}

static void post_forget(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 1, &body) < 0)
        goto out;
    struct balai_room *room = find_room(req, req->params[0]);
    if (!room)
        goto out;
    const char *me = s->device->user->user_id;
    const char *m = balai_room_membership(room, me);
    if (m && strcmp(m, "leave") != 0 && strcmp(m, "ban") != 0) {
        balai_api_error(req, 400, "M_UNKNOWN", "You must leave the room before forgetting it");
        goto out;
    }
    if (!m || balai_rooms_forgotten(app->rooms, me, balai_room_id(room))) {
        /* never a member, or already forgotten: nothing to record */
        balai_api_json(req, 200, json_object());
        goto out;
    }
    struct balai_api_write *w = balai_api_write_new(app, room);
    w->forget = 1;
    w->forget_user = balai_strdup(me);
    w->done = answer_empty;
    w->arg = req;
    balai_api_write_submit(w);
out:
    json_decref(body);
}

/* ---- invite, kick, ban, unban: an action on another user ---- */

enum action { INVITE, KICK, BAN, UNBAN };

static const char *const action_names[] = {"invite", "kick", "ban", "unban"};

static void act_on_user(struct balai_http_req *req, enum action act)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *target, *reason;

    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        balai_api_body(req, 0, &body) < 0 || balai_api_str(req, body, "user_id", 1, &target) < 0 ||
        balai_api_str(req, body, "reason", 0, &reason) < 0)
        goto out;
    struct balai_room *room = find_room(req, req->params[0]);
    if (!room)
        goto out;
    if (!balai_pl_user_id_ok(target)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'user_id' is not a valid user id");
        goto out;
    }
    struct balai_user *tu = balai_accounts_user(app->accounts, target);
    if (!tu) {
        balai_api_error(req, 404, "M_NOT_FOUND", "%s is not a user of this server", target);
        goto out;
    }
    const char *me = s->device->user->user_id;
    const char *cur = balai_room_membership(room, target);
    int system = strcmp(target, app->system_user_id) == 0;
    json_t *content = NULL;

    switch (act) {
    case INVITE:
        if (tu->deactivated) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "%s has been deactivated", target);
            goto out;
        }
        if (system) {
            balai_api_error(req, 403, "M_FORBIDDEN",
                            "The system user cannot be invited: it joins every organisation "
                            "room by itself");
            goto out;
        }
        content = member_content("invite", reason, tu);
        break;
    case KICK:
    case BAN:
        if (system && !balai_room_is_direct(room)) {
            balai_api_error(req, 403, "M_FORBIDDEN",
                            "The system user %s is the organisation's agent and a member of "
                            "every organisation room: it cannot be %s",
                            target, act == KICK ? "kicked" : "banned");
            goto out;
        }
        if (act == KICK && (!cur || (strcmp(cur, "join") != 0 && strcmp(cur, "invite") != 0 &&
                                     strcmp(cur, "knock") != 0))) {
            balai_api_error(req, 403, "M_FORBIDDEN", "%s is not in this room", target);
            goto out;
        }
        content = member_content(act == KICK ? "leave" : "ban", reason, NULL);
        break;
    case UNBAN:
        if (!cur || strcmp(cur, "ban") != 0) {
            balai_api_error(req, 403, "M_FORBIDDEN", "%s is not banned from this room", target);
            goto out;
        }
        content = member_content("leave", reason, NULL);
        break;
    }
    LOG_DEBUG("%s: %s %s in %s", action_names[act], me, target, balai_room_id(room));
    send_member(req, room, me, target, content, 0, answer_empty);
out:
    json_decref(body);
}

static void post_invite(struct balai_http_req *req)
{
    act_on_user(req, INVITE);
}
static void post_kick(struct balai_http_req *req)
{
    act_on_user(req, KICK);
}
static void post_ban(struct balai_http_req *req)
{
    act_on_user(req, BAN);
}
static void post_unban(struct balai_http_req *req)
{
    act_on_user(req, UNBAN);
}

/* ---- GET /joined_rooms ---- */

struct joined_ctx {
    const char *user_id;
    json_t *rooms;
};

static void add_if_joined(struct balai_room *r, void *arg)
{
    struct joined_ctx *c = arg;
    const char *m = balai_room_membership(r, c->user_id);
    if (m && strcmp(m, "join") == 0)
        json_array_append_new(c->rooms, json_string(balai_room_id(r)));
}

static void get_joined_rooms(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct joined_ctx c = {s->device->user->user_id, json_array()};
    balai_rooms_of_user(app->rooms, c.user_id, add_if_joined, &c);
    balai_api_json(req, 200, json_pack("{s:o}", "joined_rooms", c.rooms));
}

int balai_api_client_membership_routes(struct balai_app *app)
{
    static const struct {
        enum balai_http_method m;
        const char *pattern;
        balai_http_handler_fn fn;
    } routes[] = {
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/join", post_room_join},
        {BALAI_HTTP_POST, "/_matrix/client/v3/join/{roomIdOrAlias}", post_join},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/invite", post_invite},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/leave", post_leave},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/forget", post_forget},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/kick", post_kick},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/ban", post_ban},
        {BALAI_HTTP_POST, "/_matrix/client/v3/rooms/{roomId}/unban", post_unban},
        {BALAI_HTTP_GET, "/_matrix/client/v3/joined_rooms", get_joined_rooms},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(routes); i++) {
        int rc = balai_api_route(app, routes[i].m, routes[i].pattern, routes[i].fn, 0);
        if (rc != BALAI_OK)
            return rc;
    }
    return BALAI_OK;
}
