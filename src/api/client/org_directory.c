/* org_directory.c: GET /_balai/client/v1/directory?q=&limit= — find
 * colleagues by name, unit and title (no phone numbers needed).
 *
 * For any logged-in user. Every word of q must start a word of the person's
 * name (directory or profile display name), user name, title, employee
 * number, or the name of their unit or a unit above it; matching ignores
 * case. Deactivated, terminated and system users are not listed; a guest
 * sees only their sponsor and the people of their own unit
 * (balai_api_directory_visible). Results: user_id, display_name,
 * avatar_url, unit, unit_name, unit_path, title, guest; sorted by display
 * name, then user id. No e-mail, employee number, manager or phone. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "api/directory.h"
#include "core/accounts.h"
#include "util/alloc.h"

#define DEFAULT_LIMIT 20
#define MAX_LIMIT 100
#define MAX_Q 256

struct hit {
    struct balai_user *u;
    const struct balai_gov_person *p;
    const char *name;
};

struct search {
    struct balai_app *app;
    const char *viewer;
    struct balai_gov_query *q;
    struct hit *hits;
    size_t n, cap;
};

static int match(struct balai_user *u, void *arg)
{
    struct search *s = arg;
    struct balai_gov_directory *dir = s->app->directory->dir;
    const struct balai_gov_person *p;

    if (!balai_api_directory_visible(s->app, s->viewer, u->user_id))
        return 0;
    p = balai_gov_directory_get(dir, u->user_id);
    if (!balai_gov_directory_match(dir, s->q, u->user_id, p, u->displayname))
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->hits = balai_realloc(s->hits, s->cap * sizeof(*s->hits));
    }
    s->hits[s->n].u = u;
    s->hits[s->n].p = p;
    s->hits[s->n].name = p && p->display_name ? p->display_name
                         : u->displayname     ? u->displayname
                                              : u->user_id + 1;
    s->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    return c ? c : strcmp(x->u->user_id, y->u->user_id);
}

static void get_directory(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *sess;
    struct search s;
    const char *q = balai_http_req_query(req, "q");
    const char *lim = balai_http_req_query(req, "limit");
    long limit = DEFAULT_LIMIT;
    json_t *results;

    if (balai_api_auth_may(req, &sess, BALAI_GOV_DIRECTORY_SEARCH) < 0)
        return;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || limit < 1) {
            balai_api_error(req, 400, "M_INVALID_PARAM", "'limit' must be a positive integer");
            return;
        }
        if (limit > MAX_LIMIT)
            limit = MAX_LIMIT;
    }
    if (q && strlen(q) > MAX_Q) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'q' is longer than %d bytes", MAX_Q);
        return;
    }
    memset(&s, 0, sizeof(s));
    s.app = app;
    s.viewer = sess ? sess->device->user->user_id : NULL;
    s.q = balai_gov_query_new(q);
    balai_accounts_each(app->accounts, match, &s);
    if (s.n)
        qsort(s.hits, s.n, sizeof(*s.hits), by_name);
    results = json_array();
    for (size_t i = 0; i < s.n && (long)i < limit; i++) {
        const struct hit *h = &s.hits[i];
        json_t *r = json_pack("{s:s, s:s, s:b}", "user_id", h->u->user_id, "display_name",
                              h->name, "guest", h->p ? h->p->guest : 0);
        if (h->u->avatar_url)
            json_object_set_new(r, "avatar_url", json_string(h->u->avatar_url));
        if (h->p && h->p->title)
            json_object_set_new(r, "title", json_string(h->p->title));
        const struct balai_gov_unit *unit =
            h->p ? balai_gov_unit_get(app->directory->dir, h->p->unit_id) : NULL;
        if (unit) {
            char *path = balai_gov_unit_path(app->directory->dir, unit->unit_id);
            json_object_set_new(r, "unit", json_string(unit->unit_id));
            json_object_set_new(r, "unit_name", json_string(unit->name));
            json_object_set_new(r, "unit_path", json_string(path));
            free(path);
        }
        json_array_append_new(results, r);
    }
    balai_api_json(req, 200,
                   json_pack("{s:o, s:b}", "results", results, "limited", (long)s.n > limit));
    balai_gov_query_free(s.q);
    free(s.hits);
}

int balai_api_client_org_directory_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_GET, "/_balai/client/v1/directory", get_directory, 0);
}
