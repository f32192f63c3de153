/* fuzz_dlp.c: arbitrary bytes through the DLP scanner (built-in detectors,
 * a custom pattern, a keyword list), the masking helper and the policy
 * override parser. Checks that every finding lies inside the input. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gov/dlp/dlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct balai_dlp_config *cfg;

static void setup(void)
{
    static const char *const words[] = {"proyek garuda", "rahasia", "no. rek"};
    char err[BALAI_DLP_ERR_LEN];

    cfg = balai_dlp_config_new();
    balai_dlp_config_set_bulk(cfg, 3, 0);
    if (balai_dlp_custom_add_regex(cfg, "project", "PRJ-[0-9]{4}|(a+)+$", BALAI_DLP_CAT_OTHER, err,
                                   sizeof(err)) != BALAI_OK ||
        balai_dlp_custom_add_keywords(cfg, "secret", words, 3, BALAI_DLP_CAT_OTHER, err,
                                      sizeof(err)) != BALAI_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct balai_dlp_result r;
    struct balai_dlp_policy *p;
    char err[BALAI_DLP_ERR_LEN];
    char *masked = NULL, *rules;
    size_t mlen = 0;

    if (!cfg)
        setup();
    if (balai_dlp_scan(cfg, (const char *)data, size, &r) != BALAI_OK)
        abort();
    if (r.n > BALAI_DLP_MAX_FINDINGS)
        abort();
    for (size_t i = 0; i < r.n; i++) {
        if (r.findings[i].off > size || r.findings[i].len > size - r.findings[i].off)
            abort();
        if (i && r.findings[i - 1].off > r.findings[i].off)
            abort();
        if (strlen(r.findings[i].masked) >= BALAI_DLP_MASKED_LEN)
            abort();
    }
    if (balai_dlp_mask((const char *)data, size, &r, &masked, &mlen) != BALAI_OK || !masked ||
        mlen > size)
        abort();
    free(masked);

    p = balai_dlp_policy_new();
    rules = malloc(size + 1);
    memcpy(rules, data, size);
    rules[size] = '\0';
    (void)balai_dlp_policy_set(p, rules, err, sizeof(err));
    (void)balai_dlp_policy_decide(p, "internal", &r);
    (void)balai_dlp_policy_decide(p, NULL, &r);
    free(rules);
    balai_dlp_policy_free(p);
    return 0;
}
