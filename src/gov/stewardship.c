/* stewardship.c: counting stewards, judging changes, choosing successors. */
#include "balai.h"

#include <string.h>

#include "core/powerlevels.h"
#include "gov/stewardship.h"

static int member_counts(const struct balai_gov_steward_view *v, const char *user_id)
{
    const char *m = v->membership ? v->membership(v->arg, user_id) : NULL;
    return m && (strcmp(m, "join") == 0 || strcmp(m, "invite") == 0);
}

static int qualifies(const struct balai_gov_steward_view *v, const char *user_id)
{
    if (!user_id || (v->system_user && strcmp(user_id, v->system_user) == 0))
        return 0;
    if (!member_counts(v, user_id))
        return 0;
    return v->active ? v->active(v->arg, user_id) != 0 : 1;
}

int balai_gov_steward_is(const struct balai_gov_steward_view *v, const char *user_id)
{
    if (!v->power_levels)
        return v->creator && strcmp(user_id, v->creator) == 0 && qualifies(v, user_id);
    json_t *lvl = json_object_get(json_object_get(v->power_levels, "users"), user_id);
    if (!json_is_integer(lvl) || json_integer_value(lvl) < BALAI_GOV_STEWARD_LEVEL)
        return 0;
    return qualifies(v, user_id);
}

size_t balai_gov_stewards(const struct balai_gov_steward_view *v, const char **out, size_t max)
{
    size_t n = 0;
    if (!v->power_levels) {
        if (v->creator && qualifies(v, v->creator)) {
            if (max > 0)
                out[0] = v->creator;
            n = 1;
        }
        return n;
    }
    const json_t *users = json_object_get(v->power_levels, "users");
    const char *uid;
    json_t *lvl;
    json_object_foreach((json_t *)users, uid, lvl)
    {
        if (!json_is_integer(lvl) || json_integer_value(lvl) < BALAI_GOV_STEWARD_LEVEL)
            continue;
        if (!qualifies(v, uid))
            continue;
        if (n < max)
            out[n] = uid;
        n++;
    }
    return n;
}

enum balai_gov_steward_verdict balai_gov_stewardship_judge(size_t before, size_t after, size_t min,
                                                           size_t max)
{
    if (after < before && after < min)
        return BALAI_STEWARD_TOO_FEW;
    if (after > before && after > max)
        return BALAI_STEWARD_TOO_MANY;
    return BALAI_STEWARD_OK;
}

const char *balai_gov_stewardship_successor(const char *const *const *tiers, const size_t *counts,
                                            size_t ntiers,
                                            int (*eligible)(void *arg, const char *user_id),
                                            void *arg)
{
    for (size_t t = 0; t < ntiers; t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            const char *id = tiers[t][i];
            if (id && (!eligible || eligible(arg, id)))
                return id;
        }
    }
    return NULL;
}
