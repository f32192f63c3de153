/* dlp.h: the data-loss-prevention detector engine and its policy table.
 *
 * A pure library: no I/O, no event loop. balai_dlp_scan() runs every detector
 * over one message in a single linear pass (no backtracking in the built-in
 * scanners) and reports findings with their position in the ORIGINAL text.
 *
 * Normalisation (done first, positions are mapped back):
 *   - zero-width and invisible characters are ignored: U+200B..U+200D,
 *     U+2060, U+FEFF and the soft hyphen U+00AD;
 *   - full-width digits U+FF10..U+FF19 count as 0..9;
 *   - no-break spaces (U+00A0, U+2007, U+202F) count as a space;
 *   - digits split by single spaces, dots or dashes form one number
 *     ("3171 0112 8900 0001", "31.71.01-128900-0001"); a run such as
 *     "15.000.000" (dots, groups of three) is an amount and is skipped.
 *
 * Built-in detectors (type, category, rule):
 *   NIK      identity  16 digits PP RR DD DDMMYY SSSS: province and regency
 *                      from the Kemendagri table (dlp_region.c, including
 *                      codes valid before regions were split), district
 *                      01-99, day 1-31 or 41-71 (women: +40), month 1-12,
 *                      a day that exists in that month (29 Feb only when
 *                      YY % 4 == 0), serial not 0000.
 *   KK       identity  same shape, the date without the +40 rule; chosen over
 *                      NIK only when "KK", "kartu keluarga" or "no kk" is
 *                      nearer than "NIK"/"KTP"; otherwise NIK is reported.
 *   NPWP     tax       15 digits whose first 9 pass the Luhn check (the 9th
 *                      digit is a Luhn check digit over the first 8; this is
 *                      the rule public validators use, python-stdnum and
 *                      Business::ID::NPWP call it "apparently Luhn" - the
 *                      tax office does not publish it), formatted
 *                      99.999.999.9-999.999 or plain, first 9 not all zero;
 *                      or 16 digits "0" + such a number. A 16-digit NPWP of a
 *                      person is the NIK: it is reported once, as NIK.
 *   BPJS     health    13 digits starting with "000" (never an 08 phone).
 *   PASSPORT identity  one upper-case letter + 7 digits as one word; high
 *                      confidence only with "paspor"/"passport" nearby.
 *   PHONE    contact   08[1-9] + 7..10 digits (10-13 in all), or 62 / +62
 *                      followed by the same without the 0.
 *   EMAIL    contact   local@domain.tld (local part <= 64, domain <= 253).
 *   CARD     card      13-19 digits, Luhn, issuer prefix and length: Visa 4
 *                      (13/16/19), Mastercard 51-55 and 2221-2720 (16), Amex
 *                      34/37 (15), JCB 3528-3589, UnionPay 62, Discover
 *                      6011/644-649/65, GPN 9360 (16-19). Dots are not card
 *                      separators. A number that is also a valid NIK (or
 *                      NPWP) is a card only with card context nearby
 *                      ("kartu kredit", "credit card", "cc", "visa", ...).
 *   IBAN     bank      2 upper-case letters, 2 digits, up to 30 upper-case
 *                      letters/digits (single spaces allowed), 15-34 in all,
 *                      mod-97 == 1.
 *   CONTEXT  per word  a configured context word or phrase, reported on its
 *                      own when it did not already raise the confidence of a
 *                      nearby identifier.
 *   BULK     bulk      at least `bulk_threshold` identifiers (default 5) of
 *                      the types in the bulk mask in one message.
 *   CUSTOM   per rule  organisation-defined PCRE2 patterns and keyword lists.
 *
 * "Nearby" means within BALAI_DLP_CONTEXT_WINDOW bytes (normalised) before
 * the start or after the end of a number.
 *
 * Thread safety: build a config on one thread, then any number of threads
 * may call balai_dlp_scan() with it concurrently; a config must not change
 * while it is shared. The policy is likewise read-only once shared. */
#ifndef BALAI_GOV_DLP_H
#define BALAI_GOV_DLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum balai_dlp_type {
    BALAI_DLP_NIK = 0,
    BALAI_DLP_KK,
    BALAI_DLP_NPWP,
    BALAI_DLP_BPJS,
    BALAI_DLP_PASSPORT,
    BALAI_DLP_PHONE,
    BALAI_DLP_EMAIL,
    BALAI_DLP_CARD,
    BALAI_DLP_IBAN,
    BALAI_DLP_CONTEXT,
    BALAI_DLP_BULK,
    BALAI_DLP_CUSTOM,
    BALAI_DLP_NTYPES
};

/* What policy acts on. "bank" covers bank accounts, IBANs and salary;
 * "other" is for custom detectors that fit nowhere else. */
enum balai_dlp_category {
    BALAI_DLP_CAT_IDENTITY = 0,
    BALAI_DLP_CAT_TAX,
    BALAI_DLP_CAT_HEALTH,
    BALAI_DLP_CAT_CARD,
    BALAI_DLP_CAT_BANK,
    BALAI_DLP_CAT_CONTACT,
    BALAI_DLP_CAT_BULK,
    BALAI_DLP_CAT_OTHER,
    BALAI_DLP_NCATEGORIES
};

/* Ordered weakest to strongest: a result's action is the strongest of its
 * findings' actions, HOLD > BLOCK > WARN > MASK > AUDIT > ALLOW. WARN ranks
 * above MASK because a warning stops the send until the sender confirms,
 * whereas masking lets a (changed) message through at once. */
enum balai_dlp_action {
    BALAI_DLP_ALLOW = 0,
    BALAI_DLP_AUDIT,
    BALAI_DLP_MASK,
    BALAI_DLP_WARN,
    BALAI_DLP_BLOCK,
    BALAI_DLP_HOLD,
    BALAI_DLP_NACTIONS
};

#define BALAI_DLP_MAX_FINDINGS 32
#define BALAI_DLP_MASKED_LEN 64
#define BALAI_DLP_CONTEXT_WINDOW 48
#define BALAI_DLP_DEFAULT_BULK 5
#define BALAI_DLP_DEFAULT_MATCH_LIMIT 100000u
#define BALAI_DLP_ERR_LEN 160

struct balai_dlp_finding {
    enum balai_dlp_type type;
    enum balai_dlp_category category;
    size_t off; /* byte offset in the original text */
    size_t len; /* byte length in the original text */
    /* The value without separators, all but the last four characters
     * replaced by '*' (for 12+ characters the first four are kept too:
     * "3171********0001"); e-mail "b***@example.com"; for CONTEXT and
     * keyword findings the matched word; for BULK "<n> identifiers". */
    char masked[BALAI_DLP_MASKED_LEN];
    /* "NIK", "KK", ..., the context word, or the custom detector's name.
     * Borrowed: static or owned by the config (valid while the config lives
     * unchanged). */
    const char *name;
    int confidence; /* 0-100 */
    bool maskable;  /* balai_dlp_mask() changes this span (not CONTEXT, keywords, BULK) */
};

struct balai_dlp_result {
    /* Sorted by offset; only findings[0..n) are set. */
    struct balai_dlp_finding findings[BALAI_DLP_MAX_FINDINGS];
    size_t n;
    bool truncated;                   /* more findings than fit; counts below include them */
    bool limit_hit;                   /* a custom pattern stopped at its match limit */
    unsigned count[BALAI_DLP_NTYPES]; /* every finding, kept or not */
    /* Highest confidence seen per category (0 = none), kept or not. */
    uint8_t max_confidence[BALAI_DLP_NCATEGORIES];
};

struct balai_dlp_config;

/* A config with every built-in detector on, the default context words
 * (NIK, KTP, KK, kartu keluarga, nama ibu kandung, gaji, diagnosa,
 * diagnosis, rekam medis, no. RM, rekening), bulk threshold 5 counting NIK,
 * KK, NPWP, BPJS, passport, card and IBAN, and no custom detectors.
 * Caller frees with balai_dlp_config_free. */
struct balai_dlp_config *balai_dlp_config_new(void);
void balai_dlp_config_free(struct balai_dlp_config *cfg); /* NULL is fine */

/* Turns a built-in detector on or off (not CONTEXT/BULK/CUSTOM: clear the
 * words, set the threshold to 0, or add no custom detectors instead). */
void balai_dlp_config_enable(struct balai_dlp_config *cfg, enum balai_dlp_type type, bool on);
/* Identifiers needed for a BULK finding; 0 turns the bulk rule off. */
void balai_dlp_config_set_bulk(struct balai_dlp_config *cfg, unsigned threshold,
                               unsigned type_mask /* bits 1u << type; 0 = default */);
/* Match limit for custom patterns (PCRE2 match limit, bounds time). */
void balai_dlp_config_set_match_limit(struct balai_dlp_config *cfg, uint32_t limit);

/* Adds a context word or phrase, matched case-insensitively (ASCII) on word
 * boundaries: a space matches one or more whitespace characters, a '.'
 * matches an optional '.', and whitespace after it is optional ("no. RM"
 * matches "No RM", "no.rm"). It must start with a letter or digit and be
 * 1-63 bytes. confidence 0-100 is that of the finding it makes on its own.
 * Returns 0 or BALAI_EINVAL (message in err). */
int balai_dlp_context_add(struct balai_dlp_config *cfg, const char *phrase,
                          enum balai_dlp_category cat, int confidence, char *err, size_t errlen);
/* Removes every context word (the built-in cues that tell NIK from KK or a
 * card, such as "kartu kredit", stay: they make no findings on their own). */
void balai_dlp_context_clear(struct balai_dlp_config *cfg);

/* Adds an organisation-defined pattern (PCRE2 syntax, UTF-8, matched on the
 * normalised text, JIT-compiled, bounded by the match limit). `name` (1-63
 * bytes) is copied and reported as the finding's name. A bad pattern gives
 * BALAI_EINVAL with PCRE2's message and offset in err, e.g.
 * "pattern error at offset 3: missing closing parenthesis". */
int balai_dlp_custom_add_regex(struct balai_dlp_config *cfg, const char *name, const char *pattern,
                               enum balai_dlp_category cat, char *err, size_t errlen);
/* Adds a keyword list detector: each of the n words is matched like a
 * context word and reported as a CUSTOM finding named `name`. All words are
 * checked first; on BALAI_EINVAL nothing was added. */
int balai_dlp_custom_add_keywords(struct balai_dlp_config *cfg, const char *name,
                                  const char *const *words, size_t n, enum balai_dlp_category cat,
                                  char *err, size_t errlen);

/* Scans `len` bytes of `text` (any bytes; need not be NUL-terminated or
 * valid UTF-8) into *out (every field is set; findings past n are not). Returns 0, or BALAI_ETOOBIG
 * for text of 4 GiB or more. Allocates only for texts with many numbers or
 * invisible characters and when custom patterns exist. */
int balai_dlp_scan(const struct balai_dlp_config *cfg, const char *text, size_t len,
                   struct balai_dlp_result *out);

/* Returns in *out (caller frees; NUL-terminated; length in *out_len if not
 * NULL) a copy of the text where, in each kept finding, every digit except
 * the last four is replaced by '*' (a full-width digit by one '*'); e-mail
 * local parts keep their first character; custom pattern matches have every
 * letter and digit but the last four replaced. CONTEXT, keyword and BULK
 * findings are left as they are. Returns 0 or BALAI_EINVAL (a finding
 * outside the text). */
int balai_dlp_mask(const char *text, size_t len, const struct balai_dlp_result *r, char **out,
                   size_t *out_len);

/* The kept findings as a new JSON array (caller owns the reference;
 * json_decref it): [{"type": "nik", "category": "identity", "name": "NIK",
 * "offset": 9, "length": 16, "masked": "3171********0001", "confidence": 95}].
 * Offsets and lengths are in bytes of the UTF-8 text. A finding whose name
 * or masked text is not valid UTF-8 (a custom pattern may cut a character)
 * is rendered without those two fields. */
struct json_t *balai_dlp_findings_json(const struct balai_dlp_result *r);

/* Static names: "nik", "kk", ...; "identity", ...; "allow", "audit", .... */
const char *balai_dlp_type_name(enum balai_dlp_type t);
const char *balai_dlp_category_name(enum balai_dlp_category c);
const char *balai_dlp_action_name(enum balai_dlp_action a);
/* Parses a category or action name (case-insensitive). 0 or BALAI_EINVAL. */
int balai_dlp_category_parse(const char *s, size_t len, enum balai_dlp_category *out);
int balai_dlp_action_parse(const char *s, size_t len, enum balai_dlp_action *out);

/* ---- Policy: (room classification label, category) -> action ----
 *
 * Built-in defaults (labels compared case-insensitively):
 *   label            identity tax health card bank other  contact bulk
 *   public,internal  warn     warn warn  warn warn warn   audit   block
 *   confidential     audit    ...                  audit  audit   block
 *   restricted-*     allow    ...                  allow  audit   block
 * Any other label, and NULL (no label, e.g. a direct message), gets the
 * `internal` row. Findings with a confidence below min_confidence (default
 * 50) are acted on at most with AUDIT. */
struct balai_dlp_policy;

struct balai_dlp_policy *balai_dlp_policy_new(void);    /* caller frees */
void balai_dlp_policy_free(struct balai_dlp_policy *p); /* NULL is fine */

/* Applies override rules, separated by ',' ';' or whitespace:
 *   LABEL.CATEGORY=ACTION   e.g. "internal.card=block"
 * LABEL may be "*" (every label) or end in "*" (a prefix: "restricted-*");
 * CATEGORY may be "*". Also "min_confidence=N" (0-100). Later rules win over
 * earlier ones and over the defaults. The string is checked whole first:
 * on BALAI_EINVAL (message in err, naming the bad rule) nothing changed. */
int balai_dlp_policy_set(struct balai_dlp_policy *p, const char *rules, char *err, size_t errlen);
/* The action for one category under a label (no confidence cap). */
enum balai_dlp_action balai_dlp_policy_action(const struct balai_dlp_policy *p, const char *label,
                                              enum balai_dlp_category cat);
/* The action for one finding (with the min_confidence cap). */
enum balai_dlp_action balai_dlp_policy_finding(const struct balai_dlp_policy *p, const char *label,
                                               const struct balai_dlp_finding *f);
/* The strongest action over a whole result (every finding, kept or not);
 * ALLOW when nothing was found. */
enum balai_dlp_action balai_dlp_policy_decide(const struct balai_dlp_policy *p, const char *label,
                                              const struct balai_dlp_result *r);

#endif
