/* fuzz_push.c: arbitrary bytes as a stored m.push_rules content and as a PUT
 * body: merged with the defaults, edited, compiled and evaluated against a
 * fixed event; and the raw bytes as a glob pattern against a body. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char body[] = "Hey alice, the @room deploy is at 10:30 - cake*lie? ok";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[256];
    char *pat = malloc(size + 1);
    memcpy(pat, data, size);
    pat[size] = '\0';
    (void)balai_push_glob(pat, body, strlen(body));
    (void)balai_push_glob_words(pat, body, strlen(body));
    free(pat);

    json_t *in = json_loadb((const char *)data, size, 0, NULL);
    if (!in)
        return 0;
    json_t *set = balai_push_merge(in, "@alice:x");
    for (int k = 0; k < BALAI_PUSH_NKINDS; k++) {
        const char *id = k == BALAI_PUSH_ROOM ? "!r:x" : k == BALAI_PUSH_SENDER ? "@b:x" : "r1";
        (void)balai_push_put(set, k, id, in, NULL, NULL, reason, sizeof(reason));
        (void)balai_push_put(set, k, "r2", in, "r1", NULL, reason, sizeof(reason));
    }
    (void)balai_push_check_actions(json_object_get(in, "actions"), reason, sizeof(reason));
    struct balai_push_rules *r = balai_push_compile(set);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:[s], s:b}}}", "type",
                           "m.room.message", "sender", "@b:x", "room_id", "!r:x", "content",
                           "msgtype", "m.text", "body", body, "m.mentions", "user_ids",
                           "@alice:x", "room", 1);
    struct balai_powerlevels pl;
    balai_pl_init(&pl, NULL, "@b:x");
    struct balai_push_event e;
    struct balai_push_ctx c = {"Alice", 3};
    struct balai_push_result res;
    balai_push_event_init(&e, ev, &pl);
    balai_push_eval(r, &e, &c, &res);
    balai_push_event_release(&e);
    (void)balai_push_delete(set, BALAI_PUSH_OVERRIDE, "r1");
    balai_push_rules_free(r);
    json_decref(ev);
    json_decref(set);
    json_decref(in);
    return 0;
}
