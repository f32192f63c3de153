/* dlp_json.c: renders DLP findings as JSON for API error bodies and audit
 * records (the `id.balai.findings` array). Not on the scan's hot path. */
#include "balai.h"

#include <jansson.h>

#include "gov/dlp/dlp.h"

struct json_t *balai_dlp_findings_json(const struct balai_dlp_result *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < r->n; i++) {
        const struct balai_dlp_finding *f = &r->findings[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:i}", "type", balai_dlp_type_name(f->type),
                      "category", balai_dlp_category_name(f->category), "name",
                      f->name ? f->name : "", "offset", (json_int_t)f->off, "length",
                      (json_int_t)f->len, "masked", f->masked, "confidence", f->confidence);
        /* json_pack fails only on invalid UTF-8 (a custom match cut mid-character). */
        if (!o)
            o = json_pack("{s:s, s:s, s:I, s:I, s:i}", "type", balai_dlp_type_name(f->type),
                          "category", balai_dlp_category_name(f->category), "offset",
                          (json_int_t)f->off, "length", (json_int_t)f->len, "confidence",
                          f->confidence);
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}
