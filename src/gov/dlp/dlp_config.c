/* dlp_config.c: the DLP detector configuration: built-in cue words, context
 * words, and organisation-defined detectors (PCRE2 patterns, keyword lists).
 *
 * A config is built on one thread and then shared read-only by scanners. */
#include "balai.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "gov/dlp/dlp_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define LOG_MODULE "dlp"

#define MAX_WORDS 4096
#define MAX_REGEXES 256
#define MAX_PATTERN 4096

/* Words that tell what a nearby number is; they make no finding alone. */
static const struct {
    const char *text;
    uint8_t cues;
} builtin_cues[] = {
    {"nik", CUE_NIK},           {"ktp", CUE_NIK},           {"kk", CUE_KK},
    {"kartu keluarga", CUE_KK}, {"kartu kredit", CUE_CARD}, {"kartu debit", CUE_CARD},
    {"credit card", CUE_CARD},  {"debit card", CUE_CARD},   {"card number", CUE_CARD},
    {"cc", CUE_CARD},           {"visa", CUE_CARD},         {"mastercard", CUE_CARD},
    {"master card", CUE_CARD},  {"amex", CUE_CARD},         {"jcb", CUE_CARD},
    {"unionpay", CUE_CARD},     {"cvv", CUE_CARD},          {"cvc", CUE_CARD},
    {"exp", CUE_CARD},          {"expiry", CUE_CARD},       {"npwp", CUE_NPWP},
    {"bpjs", CUE_BPJS},         {"jkn", CUE_BPJS},          {"kis", CUE_BPJS},
    {"paspor", CUE_PASSPORT},   {"passport", CUE_PASSPORT},
};

static const struct {
    const char *text;
    enum balai_dlp_category cat;
    int confidence;
} default_context[] = {
    {"NIK", BALAI_DLP_CAT_IDENTITY, 40},
    {"KTP", BALAI_DLP_CAT_IDENTITY, 40},
    {"KK", BALAI_DLP_CAT_IDENTITY, 40},
    {"kartu keluarga", BALAI_DLP_CAT_IDENTITY, 40},
    {"nama ibu kandung", BALAI_DLP_CAT_IDENTITY, 70},
    {"gaji", BALAI_DLP_CAT_BANK, 60},
    {"diagnosa", BALAI_DLP_CAT_HEALTH, 70},
    {"diagnosis", BALAI_DLP_CAT_HEALTH, 70},
    {"rekam medis", BALAI_DLP_CAT_HEALTH, 70},
    {"no. RM", BALAI_DLP_CAT_HEALTH, 70},
    {"rekening", BALAI_DLP_CAT_BANK, 40},
};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Checks a keyword and writes its lower-case form to out (64 bytes). */
static int word_check(const char *w, char *out, char *err, size_t errlen)
{
    size_t n = w ? strlen(w) : 0;

    if (n == 0 || n > DLP_WORD_MAX) {
        set_err(err, errlen, "a keyword must be 1-63 bytes long");
        return BALAI_EINVAL;
    }
    if (!is_alnum((unsigned char)w[0]) && (unsigned char)w[0] < 0x80) {
        set_err(err, errlen, "a keyword must start with a letter or digit");
        return BALAI_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c < 0x20 || c == 0x7f) {
            set_err(err, errlen, "a keyword must not contain control characters");
            return BALAI_EINVAL;
        }
        if (c == ' ' && (i + 1 == n || w[i + 1] == ' ')) {
            set_err(err, errlen, "a keyword must not end in or repeat spaces");
            return BALAI_EINVAL;
        }
        out[i] = (char)lower(c);
    }
    out[n] = '\0';
    return BALAI_OK;
}

static void bigram_set(struct balai_dlp_config *cfg, unsigned a, unsigned b)
{
    unsigned la = lower((unsigned char)a), ua = (la >= 'a' && la <= 'z') ? la - 32 : la;
    unsigned lb = lower((unsigned char)b), ub = (lb >= 'a' && lb <= 'z') ? lb - 32 : lb;

    cfg->bigram[(la << 8 | lb) >> 3] |= (uint8_t)(1u << (lb & 7));
    cfg->bigram[(la << 8 | ub) >> 3] |= (uint8_t)(1u << (ub & 7));
    cfg->bigram[(ua << 8 | lb) >> 3] |= (uint8_t)(1u << (lb & 7));
    cfg->bigram[(ua << 8 | ub) >> 3] |= (uint8_t)(1u << (ub & 7));
}

/* Marks the first two text bytes a keyword can start with (a prefilter). */
static void bigram_add(struct balai_dlp_config *cfg, const struct dlp_word *w)
{
    unsigned a = (unsigned char)w->text[0];
    char c1 = w->len > 1 ? w->text[1] : '\0';

    if (w->len == 1 || c1 == ' ' || (c1 == '.' && w->len > 2 && w->text[2] == ' ')) {
        /* Any second byte: the word's end, or whitespace of any kind. */
        for (unsigned b = 0; b < 256; b++)
            bigram_set(cfg, a, b);
        return;
    }
    bigram_set(cfg, a, (unsigned char)c1);
}

/* Rebuilds the first-byte index and the bigram filter after words changed. */
static void reindex(struct balai_dlp_config *cfg)
{
    unsigned count[256] = {0};
    unsigned fill[256];

    memset(cfg->bigram, 0, sizeof(cfg->bigram));
    for (size_t i = 0; i < cfg->nwords; i++)
        bigram_add(cfg, &cfg->words[i]);

    free(cfg->idx);
    cfg->idx = cfg->nwords ? balai_malloc(cfg->nwords * sizeof(*cfg->idx)) : NULL;
    for (size_t i = 0; i < cfg->nwords; i++)
        count[(unsigned char)cfg->words[i].text[0]]++;
    cfg->start[0] = 0;
    for (int c = 0; c < 256; c++) {
        cfg->start[c + 1] = (uint16_t)(cfg->start[c] + count[c]);
        fill[c] = cfg->start[c];
    }
    for (size_t i = 0; i < cfg->nwords; i++)
        cfg->idx[fill[(unsigned char)cfg->words[i].text[0]]++] = (uint16_t)i;
}

static struct dlp_word *word_push(struct balai_dlp_config *cfg)
{
    if (cfg->nwords == cfg->words_alloc) {
        cfg->words_alloc = cfg->words_alloc ? cfg->words_alloc * 2 : 64;
        cfg->words = balai_realloc(cfg->words, cfg->words_alloc * sizeof(*cfg->words));
    }
    memset(&cfg->words[cfg->nwords], 0, sizeof(cfg->words[0]));
    return &cfg->words[cfg->nwords++];
}

/* A non-custom word with this lower-case text, or NULL. */
static struct dlp_word *word_find(struct balai_dlp_config *cfg, const char *text)
{
    for (size_t i = 0; i < cfg->nwords; i++)
        if (!cfg->words[i].custom && strcmp(cfg->words[i].text, text) == 0)
            return &cfg->words[i];
    return NULL;
}

struct balai_dlp_config *balai_dlp_config_new(void)
{
    struct balai_dlp_config *cfg = balai_calloc(1, sizeof(*cfg));
    char err[BALAI_DLP_ERR_LEN];

    for (unsigned c = 0; c < 256; c++) {
        uint8_t k = 0;
        if (is_alnum((unsigned char)c) || c >= 0x80)
            k |= DLP_C_WORD;
        if (c >= '0' && c <= '9')
            k |= DLP_C_DIGIT;
        if (c >= 'A' && c <= 'Z')
            k |= DLP_C_UPPER;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            k |= DLP_C_SPACE;
        if (c == '@' || c == '+')
            k |= DLP_C_EVENT;
        cfg->cls[c] = k;
    }

    cfg->enabled = (1u << BALAI_DLP_NTYPES) - 1;
    cfg->bulk_threshold = BALAI_DLP_DEFAULT_BULK;
    cfg->bulk_mask = 0;
    balai_dlp_config_set_bulk(cfg, BALAI_DLP_DEFAULT_BULK, 0);
    cfg->match_limit = BALAI_DLP_DEFAULT_MATCH_LIMIT;
    for (size_t i = 0; i < BALAI_ARRAY_LEN(builtin_cues); i++) {
        struct dlp_word *w = word_push(cfg);
        snprintf(w->text, sizeof(w->text), "%s", builtin_cues[i].text);
        snprintf(w->name, sizeof(w->name), "%s", builtin_cues[i].text);
        w->len = (uint8_t)strlen(w->text);
        w->cues = builtin_cues[i].cues;
    }
    for (size_t i = 0; i < BALAI_ARRAY_LEN(default_context); i++) {
        int rc = balai_dlp_context_add(cfg, default_context[i].text, default_context[i].cat,
                                       default_context[i].confidence, err, sizeof(err));
        (void)rc;
    }
    reindex(cfg);
    return cfg;
}

void balai_dlp_config_free(struct balai_dlp_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nregexes; i++) {
        pcre2_code_free((pcre2_code *)cfg->regexes[i].code);
        free(cfg->regexes[i].name);
    }
    free(cfg->regexes);
    pcre2_match_context_free((pcre2_match_context *)cfg->match_ctx);
    free(cfg->words);
    free(cfg->idx);
    free(cfg);
}

void balai_dlp_config_enable(struct balai_dlp_config *cfg, enum balai_dlp_type type, bool on)
{
    if ((unsigned)type >= BALAI_DLP_NTYPES || type == BALAI_DLP_CONTEXT || type == BALAI_DLP_BULK ||
        type == BALAI_DLP_CUSTOM)
        return;
    if (on)
        cfg->enabled |= 1u << type;
    else
        cfg->enabled &= ~(1u << type);
}

void balai_dlp_config_set_bulk(struct balai_dlp_config *cfg, unsigned threshold, unsigned mask)
{
    cfg->bulk_threshold = threshold;
    if (mask == 0)
        mask = 1u << BALAI_DLP_NIK | 1u << BALAI_DLP_KK | 1u << BALAI_DLP_NPWP |
               1u << BALAI_DLP_BPJS | 1u << BALAI_DLP_PASSPORT | 1u << BALAI_DLP_CARD |
               1u << BALAI_DLP_IBAN;
    cfg->bulk_mask = mask & ~(1u << BALAI_DLP_BULK);
}

void balai_dlp_config_set_match_limit(struct balai_dlp_config *cfg, uint32_t limit)
{
    cfg->match_limit = limit ? limit : BALAI_DLP_DEFAULT_MATCH_LIMIT;
    if (cfg->match_ctx)
        pcre2_set_match_limit((pcre2_match_context *)cfg->match_ctx, cfg->match_limit);
}

static int check_category(enum balai_dlp_category cat, char *err, size_t errlen)
{
    if ((unsigned)cat >= BALAI_DLP_NCATEGORIES || cat == BALAI_DLP_CAT_BULK) {
        set_err(err, errlen, "unknown category");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

int balai_dlp_context_add(struct balai_dlp_config *cfg, const char *phrase,
                          enum balai_dlp_category cat, int confidence, char *err, size_t errlen)
{
    char text[DLP_WORD_MAX + 1];
    struct dlp_word *w;
    int rc;

    if ((rc = word_check(phrase, text, err, errlen)) != BALAI_OK)
        return rc;
    if ((rc = check_category(cat, err, errlen)) != BALAI_OK)
        return rc;
    if (confidence < 0 || confidence > 100) {
        set_err(err, errlen, "confidence must be 0-100");
        return BALAI_EINVAL;
    }
    w = word_find(cfg, text);
    if (!w) {
        if (cfg->nwords >= MAX_WORDS) {
            set_err(err, errlen, "too many keywords");
            return BALAI_EINVAL;
        }
        w = word_push(cfg);
        memcpy(w->text, text, sizeof(text));
        w->len = (uint8_t)strlen(text);
    }
    w->context = true;
    w->category = (uint8_t)cat;
    w->confidence = (uint8_t)confidence;
    snprintf(w->name, sizeof(w->name), "%s", phrase);
    reindex(cfg);
    return BALAI_OK;
}

void balai_dlp_context_clear(struct balai_dlp_config *cfg)
{
    size_t j = 0;

    for (size_t i = 0; i < cfg->nwords; i++) {
        struct dlp_word *w = &cfg->words[i];
        w->context = false;
        if (w->cues == 0 && !w->custom)
            continue;
        if (j != i)
            cfg->words[j] = *w;
        j++;
    }
    cfg->nwords = j;
    reindex(cfg);
}

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > DLP_WORD_MAX) {
        set_err(err, errlen, "a detector name must be 1-63 bytes long");
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

int balai_dlp_custom_add_regex(struct balai_dlp_config *cfg, const char *name, const char *pattern,
                               enum balai_dlp_category cat, char *err, size_t errlen)
{
    pcre2_code *code;
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    size_t minlen = 0;
    int rc;

    if ((rc = check_name(name, err, errlen)) != BALAI_OK)
        return rc;
    if ((rc = check_category(cat, err, errlen)) != BALAI_OK)
        return rc;
    if (!pattern || !*pattern || strlen(pattern) > MAX_PATTERN) {
        set_err(err, errlen, "a pattern must be 1-4096 bytes long");
        return BALAI_EINVAL;
    }
    if (cfg->nregexes >= MAX_REGEXES) {
        set_err(err, errlen, "too many custom patterns");
        return BALAI_EINVAL;
    }
    code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C, &errcode,
                         &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        if (err && errlen)
            snprintf(err, errlen, "pattern error at offset %zu: %s", (size_t)erroff,
                     (const char *)msg);
        return BALAI_EINVAL;
    }
    if (pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen) != 0 || minlen == 0) {
        pcre2_code_free(code);
        set_err(err, errlen, "the pattern can match an empty string");
        return BALAI_EINVAL;
    }
    /* Without JIT (unsupported CPU) the interpreter still honours the limits. */
    if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0)
        LOG_WARN("custom pattern '%s': JIT unavailable, using the interpreter", name);
    if (!cfg->match_ctx) {
        pcre2_match_context *mc = pcre2_match_context_create(NULL);
        if (!mc) {
            pcre2_code_free(code);
            set_err(err, errlen, "out of memory");
            return BALAI_ENOMEM;
        }
        pcre2_set_match_limit(mc, cfg->match_limit);
        pcre2_set_depth_limit(mc, 10000);
        pcre2_set_heap_limit(mc, 8192); /* KiB, for the interpreter */
        cfg->match_ctx = mc;
    }
    cfg->regexes = balai_realloc(cfg->regexes, (cfg->nregexes + 1) * sizeof(*cfg->regexes));
    cfg->regexes[cfg->nregexes].name = balai_strdup(name);
    cfg->regexes[cfg->nregexes].code = code;
    cfg->regexes[cfg->nregexes].category = cat;
    cfg->nregexes++;
    return BALAI_OK;
}

int balai_dlp_custom_add_keywords(struct balai_dlp_config *cfg, const char *name,
                                  const char *const *words, size_t n, enum balai_dlp_category cat,
                                  char *err, size_t errlen)
{
    char text[DLP_WORD_MAX + 1];
    int rc;

    if ((rc = check_name(name, err, errlen)) != BALAI_OK)
        return rc;
    if ((rc = check_category(cat, err, errlen)) != BALAI_OK)
        return rc;
    if (n == 0 || !words) {
        set_err(err, errlen, "a keyword list needs at least one word");
        return BALAI_EINVAL;
    }
    if (cfg->nwords + n > MAX_WORDS) {
        set_err(err, errlen, "too many keywords");
        return BALAI_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = word_check(words[i], text, err, errlen)) != BALAI_OK)
            return rc;
    for (size_t i = 0; i < n; i++) {
        struct dlp_word *w = word_push(cfg);
        (void)word_check(words[i], w->text, NULL, 0);
        w->len = (uint8_t)strlen(w->text);
        w->custom = true;
        w->category = (uint8_t)cat;
        w->confidence = 80;
        snprintf(w->name, sizeof(w->name), "%s", name);
    }
    reindex(cfg);
    return BALAI_OK;
}
