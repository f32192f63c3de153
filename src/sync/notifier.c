/* notifier.c: per-user lists of parked waiters. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/map.h"

struct balai_waiter_list {
    struct balai_waiter *head;
    char *user_id;
};

struct balai_notifier {
    struct balai_map *users; /* user -> struct balai_waiter_list */
    size_t parked;
};

struct balai_notifier *balai_notifier_new(void)
{
    struct balai_notifier *n = balai_calloc(1, sizeof(*n));
    n->users = balai_map_new();
    return n;
}

void balai_notifier_free(struct balai_notifier *n)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!n)
        return;
    while (balai_map_next(n->users, &it, &k, &kl, &v)) {
        struct balai_waiter_list *l = v;
        for (struct balai_waiter *w = l->head; w; w = w->next)
            w->list = NULL;
        free(l->user_id);
        free(l);
    }
    balai_map_free(n->users);
    free(n);
}

void balai_notifier_park(struct balai_notifier *n, const char *user_id, struct balai_waiter *w)
{
    struct balai_waiter_list *l = balai_map_get_str(n->users, user_id);
    if (!l) {
        l = balai_calloc(1, sizeof(*l));
        l->user_id = balai_strdup(user_id);
        balai_map_put_str(n->users, user_id, l);
    }
    w->list = l;
    w->prev = NULL;
    w->next = l->head;
    if (l->head)
        l->head->prev = w;
    l->head = w;
    n->parked++;
}

void balai_notifier_unpark(struct balai_notifier *n, struct balai_waiter *w)
{
    struct balai_waiter_list *l = w->list;
    if (!l)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->list = NULL;
    n->parked--;
    if (!l->head) {
        balai_map_del_str(n->users, l->user_id);
        free(l->user_id);
        free(l);
    }
}

void balai_notifier_wake_user(struct balai_notifier *n, const char *user_id)
{
    struct balai_waiter_list *l = balai_map_get_str(n->users, user_id);
    if (!l)
        return;
    /* A wake callback may unpark itself (and so free the list when it was
     * the last one): collect first. */
    size_t count = 0, i = 0;
    for (struct balai_waiter *w = l->head; w; w = w->next)
        count++;
    struct balai_waiter *stack[64];
    struct balai_waiter **ws = count <= 64 ? stack : balai_malloc(count * sizeof(*ws));
    for (struct balai_waiter *w = l->head; w; w = w->next)
        ws[i++] = w;
    for (i = 0; i < count; i++) {
        /* a waiter may have been unparked by an earlier callback */
        if (ws[i]->list)
            ws[i]->wake(ws[i]);
    }
    if (ws != stack)
        free(ws);
}

size_t balai_notifier_parked(const struct balai_notifier *n)
{
    return n->parked;
}
