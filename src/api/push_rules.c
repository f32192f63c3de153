/* push_rules.c: users' push rules from account data, and their compiled cache
 * (see push_rules.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/account_data.h"
#include "api/push_rules.h"
#include "util/alloc.h"
#include "util/map.h"

/* One user's compiled rules and what they were built from. */
struct cached {
    struct balai_push_rules *rules;
    int64_t ad_pos; /* the user's account data position when checked */
    uint64_t hash;  /* of the m.push_rules content (0: none) */
};

struct balai_push_store {
    struct balai_map *users; /* user id -> struct cached * */
};

void balai_api_push_rules_init(struct balai_app *app)
{
    app->push_rules = balai_calloc(1, sizeof(*app->push_rules));
    app->push_rules->users = balai_map_new();
}

static void cached_free(struct cached *c)
{
    if (!c)
        return;
    balai_push_rules_free(c->rules);
    free(c);
}

void balai_api_push_rules_free(struct balai_push_store *ps)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!ps)
        return;
    while (balai_map_next(ps->users, &it, &k, &kl, &v))
        cached_free(v);
    balai_map_free(ps->users);
    free(ps);
}

static const char *stored_text(struct balai_app *app, const char *user_id, int latest,
                               size_t *len)
{
    const char *s;
    if (!app->account_data)
        return NULL;
    if (latest) {
        s = balai_api_account_data_latest(app->account_data, user_id, NULL,
                                          BALAI_PUSH_RULES_TYPE);
        if (s && len)
            *len = strlen(s);
        return s;
    }
    return balai_api_account_data_get(app->account_data, user_id, NULL, BALAI_PUSH_RULES_TYPE,
                                      len);
}

json_t *balai_api_push_rules_get(struct balai_app *app, const char *user_id, int latest)
{
    size_t len = 0;
    const char *s = stored_text(app, user_id, latest, &len);
    json_t *stored = s ? json_loadb(s, len, 0, NULL) : NULL;
    json_t *r = balai_push_merge(stored, user_id);
    json_decref(stored);
    return r;
}

const struct balai_push_rules *balai_api_push_rules_for(struct balai_app *app,
                                                        const char *user_id)
{
    struct balai_push_store *ps = app->push_rules;
    struct cached *c = balai_map_get_str(ps->users, user_id);
    int64_t pos = balai_api_account_data_user_pos(app->account_data, user_id);
    size_t len = 0;
    const char *s;
    uint64_t h;

    if (c && c->ad_pos >= pos)
        return c->rules;
    /* the user's account data changed (or first use): did m.push_rules? */
    s = stored_text(app, user_id, 0, &len);
    h = s ? balai_hash_bytes(s, len) | 1 : 0;
    if (c && c->hash == h) {
        c->ad_pos = pos;
        return c->rules;
    }
    if (!c) {
        c = balai_calloc(1, sizeof(*c));
        balai_map_put_str(ps->users, user_id, c);
    }
    balai_push_rules_free(c->rules);
    if (!s) {
        c->rules = balai_push_compile_defaults(user_id);
    } else {
        json_t *set = balai_api_push_rules_get(app, user_id, 0);
        c->rules = balai_push_compile(set);
        json_decref(set);
    }
    c->ad_pos = pos;
    c->hash = h;
    return c->rules;
}

void balai_api_push_rules_changed(struct balai_app *app, const char *user_id)
{
    if (app->push_rules)
        cached_free(balai_map_del_str(app->push_rules->users, user_id));
}
