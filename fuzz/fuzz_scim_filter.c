/* fuzz_scim_filter.c: arbitrary bytes as a SCIM filter (the `filter=` of
 * GET /scim/v2/Users and /Groups) and as a PATCH path: parsed, and the
 * filters that parse are matched against a user with the attributes
 * providers filter on. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gov/scim_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char resource[] =
    "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u-1\","
    "\"externalId\":\"E1\",\"userName\":\"budi@rs.example\",\"active\":true,"
    "\"name\":{\"givenName\":\"Budi\",\"familyName\":\"Santoso\"},"
    "\"emails\":[{\"value\":\"budi@rs.example\",\"type\":\"work\",\"primary\":true},\"x\",3],"
    "\"members\":[{\"value\":\"m-1\"}],\"n\":1.5,\"z\":null,"
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
    "{\"employeeNumber\":\"E200\",\"manager\":{\"value\":\"m-1\"}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *res;
    struct balai_scim_filter *f = NULL;
    struct balai_scim_path *p = NULL;
    char err[200];
    char *text;

    if (!res)
        res = json_loads(resource, 0, NULL);
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (balai_scim_filter_parse(text, &f, err, sizeof(err)) == BALAI_OK) {
        (void)balai_scim_filter_match(f, res, BALAI_SCIM_URN_USER);
        (void)balai_scim_filter_match(f, json_object_get(res, "name"), NULL);
        balai_scim_filter_free(f);
    }
    if (balai_scim_path_parse(text, &p, err, sizeof(err)) == BALAI_OK)
        balai_scim_path_free(p);
    free(text);
    return 0;
}
