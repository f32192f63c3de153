/* user_directory.c: POST /user_directory/search — find colleagues by name.
 *
 * In an organisation everyone with an account is in the directory (the
 * spec lets a server choose; saving phone numbers to find a colleague is
 * what Balai replaces). It is backed by the organisation directory
 * (api/directory.h): who is listed follows balai_api_directory_visible
 * (no deactivated, terminated or system users; guests see only their
 * sponsor and their unit). The search term matches, case-insensitively,
 * any part of the user id or the display name, or, word by word, the
 * beginnings of the words of the directory name, title, and unit names
 * (as GET /_balai/client/v1/directory); results are sorted by display name,
 * then id. */
#include "balai.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "api/directory.h"
#include "core/accounts.h"
#include "util/alloc.h"

#define DEFAULT_LIMIT 10
#define MAX_LIMIT 100
#define MAX_TERM 256

struct search {
    struct balai_app *app;
    const char *viewer;
    struct balai_gov_query *q;
    char term[MAX_TERM + 1];
    struct balai_user **hits;
    size_t n, cap;
};

static int contains_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (!hay)
        return 0;
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < nl && p[i] && tolower((unsigned char)p[i]) == needle[i])
            i++;
        if (i == nl)
            return 1;
    }
    return nl == 0;
}

static int match(struct balai_user *u, void *arg)
{
    struct search *s = arg;
    struct balai_gov_directory *dir = s->app->directory->dir;
    if (u->deactivated || u->system || !balai_api_directory_visible(s->app, s->viewer, u->user_id))
        return 0;
    if (!contains_ci(u->user_id, s->term) && !contains_ci(u->displayname, s->term) &&
        !balai_gov_directory_match(dir, s->q, u->user_id, balai_gov_directory_get(dir, u->user_id),
                                   u->displayname))
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->hits = balai_realloc(s->hits, s->cap * sizeof(*s->hits));
    }
    s->hits[s->n++] = u;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct balai_user *x = *(const struct balai_user *const *)a;
    const struct balai_user *y = *(const struct balai_user *const *)b;
    const char *nx = x->displayname ? x->displayname : x->user_id + 1;
    const char *ny = y->displayname ? y->displayname : y->user_id + 1;
    int c = strcasecmp(nx, ny);
    return c ? c : strcmp(x->user_id, y->user_id);
}

static void post_search(struct balai_http_req *req)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_session *sess;
    struct search s;
    json_t *body = NULL, *lim;
    const char *term;
    int64_t limit = DEFAULT_LIMIT;

    memset(&s, 0, sizeof(s));
    if (balai_api_auth(req, &sess) < 0 || balai_api_body(req, 0, &body) < 0)
        goto out;
    if (balai_api_str(req, body, "search_term", 1, &term) < 0)
        goto out;
    if (strlen(term) > MAX_TERM) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "'search_term' is longer than %d bytes",
                        MAX_TERM);
        goto out;
    }
    lim = json_object_get(body, "limit");
    if (lim) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 1) {
            balai_api_error(req, 400, "M_BAD_JSON", "'limit' must be a positive integer");
            goto out;
        }
        limit = json_integer_value(lim) > MAX_LIMIT ? MAX_LIMIT : json_integer_value(lim);
    }
    for (size_t i = 0; term[i]; i++)
        s.term[i] = (char)tolower((unsigned char)term[i]);
    s.app = app;
    s.viewer = sess->device->user->user_id;
    s.q = balai_gov_query_new(term);
    balai_accounts_each(app->accounts, match, &s);
    if (s.n)
        qsort(s.hits, s.n, sizeof(*s.hits), by_name);
    json_t *results = json_array();
    for (size_t i = 0; i < s.n && (int64_t)i < limit; i++) {
        json_t *r = json_pack("{s:s}", "user_id", s.hits[i]->user_id);
        const struct balai_gov_person *p =
            balai_gov_directory_get(app->directory->dir, s.hits[i]->user_id);
        if (s.hits[i]->displayname)
            json_object_set_new(r, "display_name", json_string(s.hits[i]->displayname));
        else if (p && p->display_name)
            json_object_set_new(r, "display_name", json_string(p->display_name));
        if (s.hits[i]->avatar_url)
            json_object_set_new(r, "avatar_url", json_string(s.hits[i]->avatar_url));
        json_array_append_new(results, r);
    }
    balai_api_json(req, 200,
                   json_pack("{s:o, s:b}", "results", results, "limited", (int64_t)s.n > limit));
out:
    balai_gov_query_free(s.q);
    free(s.hits);
    json_decref(body);
}

int balai_api_client_user_directory_routes(struct balai_app *app)
{
    return balai_api_route(app, BALAI_HTTP_POST, "/_matrix/client/v3/user_directory/search",
                           post_search, 0);
}
