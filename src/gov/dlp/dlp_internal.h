/* dlp_internal.h: shared between the files of gov/dlp only (not a public
 * contract): the config's layout, the keyword table and the validators. */
#ifndef BALAI_GOV_DLP_INTERNAL_H
#define BALAI_GOV_DLP_INTERNAL_H

#include "gov/dlp/dlp.h"

/* Cue bits: what a keyword says about a nearby number. */
enum {
    CUE_NIK = 1u << 0,
    CUE_KK = 1u << 1,
    CUE_CARD = 1u << 2,
    CUE_NPWP = 1u << 3,
    CUE_BPJS = 1u << 4,
    CUE_PASSPORT = 1u << 5,
};

#define DLP_WORD_MAX 63

/* One keyword: a built-in cue, a context word, a custom keyword, or a
 * merge of a cue and a context word with the same text. */
struct dlp_word {
    char text[DLP_WORD_MAX + 1]; /* lower-case */
    uint8_t len;
    uint8_t cues;                /* CUE_* bits */
    bool context;                /* reported as CONTEXT on its own */
    bool custom;                 /* reported as CUSTOM (keyword list) */
    uint8_t category;            /* enum balai_dlp_category */
    uint8_t confidence;          /* when reported on its own */
    char name[DLP_WORD_MAX + 1]; /* reported: the phrase as given, or detector name */
};

struct dlp_regex {
    char *name;
    void *code; /* pcre2_code * */
    enum balai_dlp_category category;
};

/* Byte classes (struct balai_dlp_config.cls). */
enum {
    DLP_C_WORD = 1u << 0,  /* ASCII letter or digit, or any byte >= 0x80 */
    DLP_C_DIGIT = 1u << 1, /* 0-9 */
    DLP_C_UPPER = 1u << 2, /* A-Z */
    DLP_C_SPACE = 1u << 3, /* space, tab, CR, LF */
    DLP_C_EVENT = 1u << 4, /* '@' or '+': may start an e-mail or a phone */
};

struct balai_dlp_config {
    uint8_t cls[256];     /* DLP_C_* per byte */
    uint8_t bigram[8192]; /* bit (a << 8 | b): some keyword may start with bytes a, b */
    uint32_t enabled;     /* bits 1u << type */
    unsigned bulk_threshold;
    uint32_t bulk_mask;
    uint32_t match_limit;
    void *match_ctx; /* pcre2_match_context * */
    struct dlp_word *words;
    size_t nwords, words_alloc;
    /* words sorted by first byte: idx[start[c] .. start[c + 1]) */
    uint16_t *idx;
    uint16_t start[257];
    struct dlp_regex *regexes;
    size_t nregexes;
};

/* Validators over ASCII digit strings of the stated length. */
bool balai__dlp_region_valid(int province, int regency);
bool balai__dlp_nik_valid(const char *d16);
bool balai__dlp_kk_valid(const char *d16);
bool balai__dlp_luhn(const char *d, size_t n);
bool balai__dlp_npwp15_valid(const char *d15);
/* Card brand name ("Visa", ...) when prefix, length and Luhn fit, or NULL. */
const char *balai__dlp_card_brand(const char *d, size_t n);
/* `s` holds n upper-case letters and digits (no spaces). */
bool balai__dlp_iban_valid(const char *s, size_t n);

#endif
