/* room_directory.c: the published rooms in memory (see room_directory.h). */
#include "balai.h"

#include <stdlib.h>

#include "api/room_directory.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/map.h"

#define LOG_MODULE "room_directory"
#include "util/log.h"

/* The map's values must not be NULL: every entry points here. */
static char published_mark;

struct balai_room_directory {
    struct balai_map *rooms; /* room id -> &published_mark */
};

struct balai_room_directory *balai_api_room_directory_new(void)
{
    struct balai_room_directory *d = balai_calloc(1, sizeof(*d));
    d->rooms = balai_map_new();
    return d;
}

void balai_api_room_directory_free(struct balai_room_directory *d)
{
    if (!d)
        return;
    balai_map_free(d->rooms);
    free(d);
}

void balai_api_room_directory_set(struct balai_room_directory *d, const char *room_id,
                                  int published)
{
    if (published)
        balai_map_put_str(d->rooms, room_id, &published_mark);
    else
        balai_map_del_str(d->rooms, room_id);
}

int balai_api_room_directory_has(const struct balai_room_directory *d, const char *room_id)
{
    return d && balai_map_get_str(d->rooms, room_id) != NULL;
}

void balai_api_room_directory_each(const struct balai_room_directory *d,
                                   void (*fn)(const char *room_id, void *arg), void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!d)
        return;
    while (balai_map_next(d->rooms, &it, &k, &kl, &v))
        fn(k, arg);
}

size_t balai_api_room_directory_count(const struct balai_room_directory *d)
{
    return d ? balai_map_count(d->rooms) : 0;
}

static int load_one(const char *room_id, int64_t ts, void *arg)
{
    (void)ts;
    balai_api_room_directory_set(arg, room_id, 1);
    return 0;
}

int balai_api_room_directory_load(struct balai_app *app)
{
    int rc;

    app->room_directory = balai_api_room_directory_new();
    rc = balai_store_published_each(app->store, load_one, app->room_directory);
    if (rc != BALAI_OK)
        return rc;
    LOG_DEBUG("loaded %zu published rooms", balai_map_count(app->room_directory->rooms));
    return BALAI_OK;
}
