/* fuzz_json.c: arbitrary bytes as a JSON request body, through the parser and
 * the typed getters that API handlers use (the login body's shape). */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[BALAI_JSON_ERR_LEN];
    json_t *o = NULL, *ident = NULL;
    const char *s;
    int64_t i;
    int b;

    if (balai_json_parse_object((const char *)data, size, 1, &o, err, sizeof(err)) != BALAI_OK)
        return 0;
    (void)balai_json_get_str(o, "type", &s, err, sizeof(err));
    (void)balai_json_get_str(o, "password", &s, err, sizeof(err));
    (void)balai_json_get_bool(o, "logout_devices", &b, err, sizeof(err));
    (void)balai_json_get_int(o, "limit", &i, err, sizeof(err));
    if (balai_json_get_obj(o, "identifier", &ident, err, sizeof(err)) == BALAI_OK)
        (void)balai_json_get_str(ident, "user", &s, err, sizeof(err));
    char *dump = balai_json_dump(o, 1, NULL);
    free(dump);
    json_decref(o);
    return 0;
}
