/* profile.c: GET /profile/{userId}, GET/PUT /profile/{userId}/displayname and /avatar_url.
 *
 * A changed display name or avatar is carried into the user's m.room.member
 * event in every room they have joined, as the spec asks, so that clients
 * show the new name; the PUT is answered once those events committed. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/accounts.h"
#include "core/event.h"
#include "core/room.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/log.h"

#define LOG_MODULE "profile"

enum field { DISPLAYNAME, AVATAR_URL };

static const char *const field_names[] = {"displayname", "avatar_url"};

static struct balai_user *find_user(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_user *u = balai_accounts_user(app->accounts, req->params[0]);
    if (!u || u->deactivated) {
        balai_api_error(req, 404, "M_NOT_FOUND", "Profile not found");
        return NULL;
    }
    return u;
}

static void get_profile(struct balai_http_req *req)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_user *u = find_user(req);
    if (!u)
        return;
    json_t *o = json_object();
    if (u->displayname)
        json_object_set_new(o, "displayname", json_string(u->displayname));
    if (u->avatar_url)
        json_object_set_new(o, "avatar_url", json_string(u->avatar_url));
    balai_api_json(req, 200, o);
}

static void get_field(struct balai_http_req *req, enum field f)
{
    struct balai_session *s;
    if (balai_api_auth(req, &s) < 0)
        return;
    struct balai_user *u = find_user(req);
    if (!u)
        return;
    const char *v = f == DISPLAYNAME ? u->displayname : u->avatar_url;
    if (!v) {
        balai_api_error(req, 404, "M_NOT_FOUND", "The user has no %s", field_names[f]);
        return;
    }
    balai_api_json(req, 200, balai_json_str_pair(field_names[f], v));
}

struct setprof {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_http_req *req;
    enum field f;
    char *user_id;
    char *value;
    size_t rooms_pending; /* member-event writes not yet committed */
};

static void setprof_free(struct setprof *p)
{
    free(p->user_id);
    free(p->value);
    free(p);
}

static int set_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct setprof *p = (struct setprof *)op;
    if (p->f == DISPLAYNAME)
        return balai_store_txn_user_set_displayname(t, p->user_id, p->value);
    return balai_store_txn_user_set_avatar_url(t, p->user_id, p->value);
}

static void member_done(struct balai_api_write *w)
{
    struct setprof *p = w->arg;
    if (w->op.rc != BALAI_OK)
        LOG_WARN("could not update %s's member event in %s: %s", p->user_id, balai_room_id(w->room),
                 balai_strerror(w->op.rc));
    if (--p->rooms_pending == 0) {
        balai_api_json(p->req, 200, json_object());
        setprof_free(p);
    }
}

/* Sends the user's updated m.room.member event into one joined room. */
static void update_member(struct balai_room *r, void *arg)
{
    struct setprof *p = arg;
    char reason[256];
    const char *m = balai_room_membership(r, p->user_id);
    struct balai_ev *me = balai_room_state_ev(r, "m.room.member", p->user_id);
    if (!m || strcmp(m, "join") != 0 || !me)
        return;
    json_t *content = json_deep_copy(balai_event_content(me->pdu));
    if (!content)
        return;
    const char *key = field_names[p->f];
    if (p->value)
        json_object_set_new(content, key, json_string(p->value));
    else
        json_object_del(content, key);
    json_object_del(content, "reason");
    struct balai_api_write *w = balai_api_write_new(p->app, r);
    int rc = balai_api_event_add(w, p->user_id, "m.room.member", p->user_id, content, reason,
                                 sizeof(reason));
    json_decref(content);
    if (rc != BALAI_OK) {
        LOG_WARN("not updating %s's member event in %s: %s", p->user_id, balai_room_id(r), reason);
        balai_api_write_free(w);
        return;
    }
    w->done = member_done;
    w->arg = p;
    p->rooms_pending++;
    balai_api_write_submit(w);
}

static void set_done(struct balai_store_op *op)
{
    struct setprof *p = (struct setprof *)op;
    struct balai_user *u = balai_accounts_user(p->app->accounts, p->user_id);
    if (op->rc != BALAI_OK || !u) {
        balai_api_error(p->req, 500, "M_UNKNOWN", "Could not store the profile; try again");
        setprof_free(p);
        return;
    }
    if (p->f == DISPLAYNAME)
        balai_user_set_displayname(u, p->value);
    else
        balai_user_set_avatar_url(u, p->value);
    /* one extra count so that the answer waits for every room's write */
    p->rooms_pending = 1;
    balai_rooms_of_user(p->app->rooms, p->user_id, update_member, p);
    if (--p->rooms_pending == 0) {
        balai_api_json(p->req, 200, json_object());
        setprof_free(p);
    }
}

static void put_field(struct balai_http_req *req, enum field f)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *s;
    json_t *body = NULL, *v;

    if (balai_api_auth(req, &s) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (strcmp(req->params[0], s->device->user->user_id) != 0) {
        balai_api_error(req, 403, "M_FORBIDDEN", "You can only change your own profile");
        goto out;
    }
    /* a profile change writes a member event in every joined room */
    if (balai_api_refuse_suspended(req, s->device->user->user_id)) /* api/dlp.h */
        goto out;
    v = json_object_get(body, field_names[f]);
    if (!v) {
        balai_api_error(req, 400, "M_MISSING_PARAM", "Missing '%s'", field_names[f]);
        goto out;
    }
    if (!json_is_string(v) && !json_is_null(v)) {
        balai_api_error(req, 400, "M_BAD_JSON", "'%s' must be a string", field_names[f]);
        goto out;
    }
    const char *val = json_is_string(v) ? json_string_value(v) : NULL;
    if (val && strlen(val) > (f == DISPLAYNAME ? 256u : 1024u)) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'%s' is too long", field_names[f]);
        goto out;
    }
    if (val && f == AVATAR_URL && val[0] && strncmp(val, "mxc://", 6) != 0) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'avatar_url' must be an mxc:// URI");
        goto out;
    }
    if (val && !val[0])
        val = NULL;
    struct setprof *p = balai_calloc(1, sizeof(*p));
    p->app = app;
    p->req = req;
    p->f = f;
    p->user_id = balai_strdup(s->device->user->user_id);
    p->value = balai_strdup(val);
    p->op.apply = set_apply;
    p->op.done = set_done;
    balai_store_submit(app->store, &p->op);
out:
    json_decref(body);
}

static void get_displayname(struct balai_http_req *req)
{
    get_field(req, DISPLAYNAME);
}
static void get_avatar_url(struct balai_http_req *req)
{
    get_field(req, AVATAR_URL);
}
static void put_displayname(struct balai_http_req *req)
{
    put_field(req, DISPLAYNAME);
}
static void put_avatar_url(struct balai_http_req *req)
{
    put_field(req, AVATAR_URL);
}

int balai_api_client_profile_routes(struct balai_app *app)
{
    int rc = 0;
    rc |=
        balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/profile/{userId}", get_profile, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/profile/{userId}/displayname",
                          get_displayname, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/profile/{userId}/displayname",
                          put_displayname, 0);
    rc |= balai_api_route(app, BALAI_HTTP_GET, "/_matrix/client/v3/profile/{userId}/avatar_url",
                          get_avatar_url, 0);
    rc |= balai_api_route(app, BALAI_HTTP_PUT, "/_matrix/client/v3/profile/{userId}/avatar_url",
                          put_avatar_url, 0);
    return rc ? BALAI_EINVAL : BALAI_OK;
}
