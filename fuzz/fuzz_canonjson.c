/* fuzz_canonjson.c: arbitrary bytes parsed as JSON, written as canonical JSON.
 *
 * Checks that the writer never crashes, that its output parses back and is
 * a fixed point (writing it again gives the same bytes),
 * and runs objects through redaction and the event id computation. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/canonjson.h"
#include "core/event.h"
#include "core/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const char *canon, size_t len)
{
    json_t *again = json_loadb(canon, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    size_t len2 = 0;
    char *canon2;

    if (!again)
        abort(); /* canonical output must be valid JSON */
    canon2 = balai_canonjson(again, &len2);
    if (!canon2 || len2 != len || memcmp(canon, canon2, len) != 0)
        abort();
    free(canon2);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    size_t len = 0;
    char *canon, *id = NULL;

    if (!v)
        return 0;
    canon = balai_canonjson(v, &len);
    if ((canon != NULL) != (balai_canonjson_check(v) == BALAI_OK))
        abort();
    if (canon)
        check_fixed_point(canon, len);
    if (json_is_object(v)) {
        json_t *red = balai_redact(v, "11");
        json_decref(red);
        if (balai_event_reference_id(v, "10", &id) == BALAI_OK)
            free(id);
        json_decref(balai_event_client_format(v, "$x"));
    }
    free(canon);
    json_decref(v);
    return 0;
}
