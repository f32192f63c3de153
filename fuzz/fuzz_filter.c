/* fuzz_filter.c: arbitrary bytes as a filter (the body of POST
 * /user/{userId}/filter, or an inline `filter=` of /sync and /messages):
 * parsed as a Filter and as a RoomEventFilter, then matched against a few
 * events. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>

#include "sync/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void match_some(const struct balai_event_filter *f)
{
    static const char *const types[] = {"m.room.message", "m.room.member", "", "m.typing", "*"};
    json_t *content = json_pack("{s:s}", "url", "mxc://x/y");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        (void)balai_event_filter_match(f, "!r:x", "@a:x", types[i], content);
        (void)balai_event_filter_match(f, NULL, NULL, types[i], NULL);
        (void)balai_filter_type_match(types[i], "m.room.message");
    }
    (void)balai_event_filter_room_ok(f, "!r:x");
    json_decref(content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    struct balai_filter *f = NULL;
    struct balai_event_filter rf;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return 0;
    if (balai_filter_parse(j, &f, err, sizeof(err)) == BALAI_OK) {
        match_some(&f->timeline);
        match_some(&f->state);
        match_some(&f->ephemeral);
        match_some(&f->room_account_data);
        match_some(&f->presence);
        match_some(&f->account_data);
        (void)balai_filter_room_ok(f, "!r:x");
        balai_filter_unref(f);
    }
    if (balai_filter_parse_room_event(j, &rf, err, sizeof(err)) == BALAI_OK)
        match_some(&rf);
    balai_event_filter_clear(&rf);
    json_decref(j);
    return 0;
}
