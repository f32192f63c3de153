/* bench_unread.c: the cost of the unread counts per committed event
 * (api/unread.h): every joined member's push rules (the server defaults)
 * evaluated against a plain text message, in a room of N members.
 *
 *   build/bench/bench_unread [members] [events]     (defaults 100, 2000)
 *
 * Times are this thread's CPU time around balai_api_unread_event only
 * (building and signing the events is not counted; every member's rules
 * are compiled before, and that one-time cost is shown apart), best of 5
 * rounds; also the cost of one receipt (a recount over the room's
 * recent-event cache).
 * Prints a small table; nothing is asserted. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "api/push_rules.h"
#include "api/unread.h"
#include "core/event.h"
#include "core/room.h"
#include "crypto/crypto.h"

static uint8_t sk[64];
static int64_t next_pos;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds and commits an event; its cost to the unread counts is added to *t. */
static struct balai_ev *commit(struct balai_app *app, struct balai_room *r, const char *sender,
                               const char *type, const char *state_key, json_t *content,
                               double *t)
{
    struct balai_event_key key = {"x", "ed25519:b", sk};
    int64_t depth;
    const char *head = balai_room_head(r, &depth);
    json_t *prev = json_array(), *pdu = NULL;
    char *id = NULL;
    if (head)
        json_array_append_new(prev, json_string(head));
    struct balai_event_params p = {.room_version = "10",
                                   .room_id = balai_room_id(r),
                                   .sender = sender,
                                   .type = type,
                                   .state_key = state_key,
                                   .content = content,
                                   .origin_server_ts = 1000 + next_pos,
                                   .depth = depth + 1,
                                   .prev_events = prev,
                                   .key = &key};
    if (balai_event_build(&p, &pdu, &id) != BALAI_OK) {
        fprintf(stderr, "cannot build an event\n");
        exit(1);
    }
    struct balai_ev *ev = balai_ev_new(pdu, id);
    free(id);
    json_decref(prev);
    json_decref(content);
    balai_room_add_pending(r, ev);
    ev->pos = ++next_pos;
    balai_room_commit(r, ev);
    if (ev->membership)
        balai_rooms_note_member(app->rooms, r, ev->state_key);
    double t0 = now();
    balai_api_unread_event(app, r, ev);
    if (t)
        *t += now() - t0;
    balai_ev_unref(ev);
    return ev;
}

int main(int argc, char **argv)
{
    int members = argc > 1 ? atoi(argv[1]) : 100;
    int events = argc > 2 ? atoi(argv[2]) : 2000;
    uint8_t pk[32];
    char uid[64], name[64];
    double best = 1e9, best_rc = 1e9, best_compile = 1e9;

    if (members < 2 || events < 1) {
        fprintf(stderr, "usage: bench_unread [members >= 2] [events >= 1]\n");
        return 2;
    }
    balai_sign_keypair(pk, sk);
    for (int round = 0; round < 5; round++) {
        struct balai_app app;
        memset(&app, 0, sizeof(app));
        next_pos = 0;
        app.rooms = balai_rooms_new(BALAI_ROOM_CACHE);
        balai_api_push_rules_init(&app);
        balai_api_unread_init(&app);
        struct balai_room *r =
            balai_rooms_add(app.rooms, "!bench:x", balai_room_version_get("10"), "@u0:x", 0);
        commit(&app, r, "@u0:x", "m.room.create", "", json_pack("{s:s}", "room_version", "10"),
               NULL);
        for (int i = 0; i < members; i++) {
            snprintf(uid, sizeof(uid), "@u%d:x", i);
            snprintf(name, sizeof(name), "User Number %d", i);
            commit(&app, r, uid, "m.room.member", uid,
                   json_pack("{s:s, s:s}", "membership", "join", "displayname", name), NULL);
        }
        /* compile every member's rules first (once per user, on first use) */
        double tc = now();
        for (int i = 0; i < members; i++) {
            snprintf(uid, sizeof(uid), "@u%d:x", i);
            balai_api_push_rules_changed(&app, uid);
            balai_api_push_rules_for(&app, uid);
        }
        tc = now() - tc;
        if (tc < best_compile)
            best_compile = tc;
        double t = 0;
        struct balai_ev *last = NULL;
        for (int i = 0; i < events; i++) {
            snprintf(uid, sizeof(uid), "@u%d:x", i % members);
            last = commit(&app, r, uid, "m.room.message", NULL,
                          json_pack("{s:s, s:s}", "msgtype", "m.text", "body",
                                    "Selamat pagi semua, rapat koordinasi dipindah ke ruang 3 "
                                    "jam 10.30 ya, tolong kirim laporan bulanan."),
                          &t);
        }
        if (t < best)
            best = t;
        /* one receipt on an event half the cache back: a recount */
        struct balai_ev *mid[BALAI_ROOM_CACHE];
        size_t n = balai_room_cached_latest(r, INT64_MAX, BALAI_ROOM_CACHE / 2, mid);
        double t0 = now();
        balai_api_unread_receipt(&app, "!bench:x", "@u1:x", "m.read", NULL,
                                 mid[n - 1]->event_id);
        double rc = now() - t0;
        if (rc < best_rc)
            best_rc = rc;
        (void)last;
        balai_api_unread_free(app.unread);
        balai_api_push_rules_free(app.push_rules);
        balai_rooms_free(app.rooms);
    }
    printf("unread counts, default push rules, %d members, %d events (best of 5, CPU time)\n",
           members, events);
    printf("  per event          %8.1f us   (%.2f us per member)\n", best / events * 1e6,
           best / events / (members - 1) * 1e6);
    printf("  rules compiled     %8.1f us   per user, once (first use)\n",
           best_compile / members * 1e6);
    printf("  per receipt        %8.1f us   (recount of %d cached events)\n", best_rc * 1e6,
           BALAI_ROOM_CACHE / 2);
    return 0;
}
