/* directory.c: room aliases: PUT, GET and DELETE /directory/room/{roomAlias}.
 *
 * SPEC: Matrix v1.12, Client-Server API "Room aliases". Aliases live in the
 * store (room_aliases) and in memory (core/room.h); a change is written first
 * and applied to memory once committed. There is no federation: only aliases
 * of this server exist. GET requires authentication, unlike the spec, so the
 * directory cannot be enumerated from outside the organisation.
 *
 * Who may delete an alias: its creator, a server admin, or a member of the
 * room whose power level reaches the room's state_default. Deleting an alias
 * does not touch the room's m.room.canonical_alias event. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "core/accounts.h"
#include "core/ids.h"
#include "core/auth.h"
#include "core/powerlevels.h"
#include "core/room.h"
#include "store/store.h"
#include "util/alloc.h"

#define LOG_MODULE "directory"
#include "util/log.h"

#define ALIAS_MAX 255

/* "#localpart:SERVER" with a localpart of printable characters without ':' or spaces. */
static int alias_ok(const char *alias, const char *server)
{
    size_t n = strlen(alias);
    if (n > ALIAS_MAX || alias[0] != '#')
        return 0;
    const char *colon = strchr(alias, ':');
    if (!colon || colon == alias + 1 || strcmp(colon + 1, server) != 0)
        return 0;
    for (const unsigned char *c = (const unsigned char *)alias + 1;
         c < (const unsigned char *)colon; c++) {
        if (*c <= 0x20 || *c == 0x7f)
            return 0;
    }
    return 1;
}

/* Answers 400 and fails when the path's alias is not one of this server. */
static int check_alias(struct balai_http_req *req, const char *alias)
{
    struct balai_app *app = balai_api_app(req);
    if (alias_ok(alias, app->server_name))
        return BALAI_OK;
    balai_api_error(req, 400, "M_INVALID_PARAM",
                    "Room aliases look like #name:%s (a name without ':' or spaces)",
                    app->server_name);
    return BALAI_EINVAL;
}

struct alias_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req;
    int del;
    char *alias;
    char *room_id;
    char *creator;
};

static void alias_op_free(struct alias_op *a)
{
    free(a->alias);
    free(a->room_id);
    free(a->creator);
    free(a);
}

static int alias_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct alias_op *a = (struct alias_op *)op;
    if (a->del)
        return balai_store_txn_alias_delete(t, a->alias);
    return balai_store_txn_alias_insert(t, a->alias, a->room_id, a->creator);
}

static void alias_done(struct balai_store_op *op)
{
    struct alias_op *a = (struct alias_op *)op;
    struct balai_app *app = a->app;

    if (op->rc == BALAI_EEXIST) {
        balai_api_error(a->req, 409, "M_UNKNOWN", "Room alias already taken");
    } else if (op->rc == BALAI_ENOTFOUND) {
        balai_api_error(a->req, 404, "M_NOT_FOUND",
                        a->del ? "Room alias not found" : "Unknown room");
    } else if (op->rc != BALAI_OK) {
        LOG_ERROR("%s of alias %s failed: %s", a->del ? "deletion" : "creation", a->alias,
                  balai_strerror(op->rc));
        balai_api_error(a->req, 500, "M_UNKNOWN", "Could not store the room alias; try again");
    } else {
        if (a->del)
            balai_rooms_alias_del(app->rooms, a->alias);
        else
            balai_rooms_alias_set(app->rooms, a->alias, a->room_id, a->creator);
        LOG_INFO("alias %s %s by %s", a->alias, a->del ? "deleted" : "created", a->creator);
        balai_api_json(a->req, 200, json_object());
    }
    alias_op_free(a);
}

static void submit(struct balai_http_req *req, int del, const char *alias, const char *room_id,
                   const char *user_id)
{
    struct balai_app *app = balai_api_app(req);
    struct alias_op *a = balai_calloc(1, sizeof(*a));
    a->app = app;
    a->req = req;
    a->del = del;
    a->alias = balai_strdup(alias);
    a->room_id = balai_strdup(room_id);
    a->creator = balai_strdup(user_id);
    a->op.apply = alias_apply;
    a->op.done = alias_done;
    balai_store_submit(app->store, &a->op);
}

static int joined(const struct balai_room *room, const char *user_id)
{
    const char *m = balai_room_membership(room, user_id);
    return m && strcmp(m, "join") == 0;
}

static void put_alias(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL;
    const char *alias = req->params[0], *room_id;

    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        balai_api_body(req, 0, &body) < 0 ||
        balai_api_str(req, body, "room_id", 1, &room_id) < 0 || check_alias(req, alias) < 0)
        goto out;
    if (!balai_id_room_ok(room_id)) {
        balai_api_error(req, 400, "M_INVALID_PARAM",
                        "Malformed room id: it must look like !id:server");
        goto out;
    }
    const char *me = s->device->user->user_id;
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room || !joined(room, me)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "You must be a member of the room to give it an alias");
        goto out;
    }
    if (balai_rooms_alias_get(app->rooms, alias, NULL)) {
        balai_api_error(req, 409, "M_UNKNOWN", "Room alias already taken");
        goto out;
    }
    submit(req, 0, alias, room_id, me);
out:
    json_decref(body);
}

static void get_alias(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *alias = req->params[0];

    if (balai_api_auth(req, &s) < 0 || check_alias(req, alias) < 0)
        return;
    const char *room_id = balai_rooms_alias_get(app->rooms, alias, NULL);
    if (!room_id) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Room alias not found");
        return;
    }
    balai_api_json(req, 200,
                   json_pack("{s:s, s:[s]}", "room_id", room_id, "servers", app->server_name));
}

/* May `u` delete the alias of `room_id` made by `creator`? */
static int may_delete(struct balai_app *app, const struct balai_user *u, const char *room_id,
                      const char *creator)
{
    if (u->admin || (creator && strcmp(creator, u->user_id) == 0))
        return 1;
    struct balai_room *room = balai_rooms_get(app->rooms, room_id);
    if (!room || !joined(room, u->user_id))
        return 0;
    struct balai_state_lookup view = balai_state_lookup_of(balai_room_state(room));
    struct balai_powerlevels pl;
    if (balai_auth_power_levels(balai_room_version(room)->id, &view, &pl) != BALAI_OK)
        return 0;
    return balai_pl_user_level(&pl, u->user_id) >= pl.state_default;
}

static void delete_alias(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    const char *alias = req->params[0], *creator = NULL;

    if (balai_api_auth(req, &s) < 0 ||
        balai_api_refuse_suspended(req, s->device->user->user_id) /* api/dlp.h */ ||
        check_alias(req, alias) < 0)
        return;
    const char *room_id = balai_rooms_alias_get(app->rooms, alias, &creator);
    if (!room_id) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Room alias not found");
        return;
    }
    if (!may_delete(app, s->device->user, room_id, creator)) {
        balai_api_error(req, 403, "M_FORBIDDEN",
                        "Only the alias's creator, a server admin or a room member with power "
                        "to change the room's state may delete this alias");
        return;
    }
    submit(req, 1, alias, room_id, s->device->user->user_id);
}

int balai_api_client_directory_routes(struct balai_app *app)
{
    static const char pattern[] = "/_matrix/client/v3/directory/room/{roomAlias}";
    int rc = balai_api_route(app, BALAI_HTTP_PUT, pattern, put_alias, 0);
    if (rc == BALAI_OK)
        rc = balai_api_route(app, BALAI_HTTP_GET, pattern, get_alias, 0);
    if (rc == BALAI_OK)
        rc = balai_api_route(app, BALAI_HTTP_DELETE, pattern, delete_alias, 0);
    return rc;
}
