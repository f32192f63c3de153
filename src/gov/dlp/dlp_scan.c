/* dlp_scan.c: the DLP scanner: normalisation, one linear pass over the text
 * collecting candidate numbers, words, e-mail addresses and IBANs, then a
 * resolution pass that uses nearby cue words to name each candidate, then
 * custom patterns and the bulk rule. Also the masking helper.
 *
 * No backtracking: every position is looked at a bounded number of times
 * (keyword comparisons are bounded by the keyword length, e-mail expansion
 * by 64 bytes left and 253 right, digit runs are split into at most
 * 19-digit windows). */
#include "balai.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "gov/dlp/dlp_internal.h"
#include "util/alloc.h"

/* What a digit window could be (bits). */
enum {
    M_NIK = 1u << 0,
    M_KK = 1u << 1,
    M_NPWP = 1u << 2,
    M_BPJS = 1u << 3,
    M_PHONE = 1u << 4,
    M_CARD = 1u << 5,
};

/* Digit window shape flags. */
enum {
    F_DOT = 1u << 0,        /* a '.' separator inside */
    F_NPWP_SHAPE = 1u << 1, /* 2.3.3.1-3.3 */
    F_AMEX_SHAPE = 1u << 2, /* 4-6-5 */
};

enum item_kind { IT_DIGITS, IT_PASSPORT, IT_EMAIL, IT_IBAN };

struct item {
    uint32_t s, e; /* span in the normalised text */
    uint8_t kind;
    uint8_t ndig;
    uint8_t mask;  /* M_* for IT_DIGITS */
    uint8_t flags; /* F_* */
    char dig[36];  /* digits, or the IBAN's characters */
};

struct cue {
    uint32_t s, e;
    uint16_t word;
    bool used;
};

struct group {
    uint32_t s;   /* first digit */
    uint32_t len; /* digits */
    char sep;     /* separator before this group ('\0' for the first) */
};

/* A growable array that starts in a caller-provided stack buffer. */
struct vec {
    void *p;
    size_t n, alloc, size;
    bool heap;
};

struct scan {
    const struct balai_dlp_config *cfg;
    const unsigned char *orig;
    size_t olen;
    const unsigned char *t; /* normalised text */
    size_t n;
    uint32_t *map; /* normalised index -> original offset; NULL = identity */
    struct vec items, cues, groups;
    struct balai_dlp_result *r;
    size_t bulk_lo, bulk_hi; /* original span of the bulk-counted findings */
};

#define MAX_WS 8 /* whitespace a space in a keyword may stand for */
#define MAX_CUE_SPAN (DLP_WORD_MAX * (MAX_WS + 1))

static void vec_init(struct vec *v, void *stack, size_t alloc, size_t size)
{
    v->p = stack;
    v->n = 0;
    v->alloc = alloc;
    v->size = size;
    v->heap = false;
}

static void *vec_push(struct vec *v)
{
    if (v->n == v->alloc) {
        size_t na = v->alloc * 2;
        if (v->heap) {
            v->p = balai_realloc(v->p, na * v->size);
        } else {
            void *np = balai_malloc(na * v->size);
            memcpy(np, v->p, v->n * v->size);
            v->p = np;
            v->heap = true;
        }
        v->alloc = na;
    }
    return (char *)v->p + v->size * v->n++;
}

static void vec_release(struct vec *v)
{
    if (v->heap)
        free(v->p);
}

static inline bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

static inline bool is_upper(unsigned char c)
{
    return (unsigned)(c - 'A') < 26;
}

static inline bool is_alnum(unsigned char c)
{
    return is_digit(c) || (unsigned)((c | 0x20) - 'a') < 26;
}

/* Part of a word: ASCII letters and digits, and any byte of a non-ASCII
 * UTF-8 character (so "Ñ3171..." is one word, not a number). */
static inline bool is_word(unsigned char c)
{
    return is_alnum(c) || c >= 0x80;
}

static inline bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline unsigned char lower(unsigned char c)
{
    return is_upper(c) ? (unsigned char)(c + 32) : c;
}

/* ---- normalisation ---- */

/* True when no byte has the high bit set (8 bytes at a time). */
static bool all_ascii(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint64_t acc = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= s[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* Builds the normalised copy and its offset map when the text holds any
 * character that normalisation changes; otherwise the text is used as is. */
static void normalise(struct scan *sc)
{
    const unsigned char *s = sc->orig;
    size_t n = sc->olen, j = 0;
    unsigned char *out;

    if (all_ascii(s, n) || (!memchr(s, 0xC2, n) && !memchr(s, 0xE2, n) && !memchr(s, 0xEF, n))) {
        sc->t = s;
        sc->n = n;
        return;
    }
    out = balai_malloc(n ? n : 1);
    sc->map = balai_malloc((n ? n : 1) * sizeof(*sc->map));
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == 0xC2 && i + 1 < n && (s[i + 1] == 0xAD || s[i + 1] == 0xA0)) {
            if (s[i + 1] == 0xA0) { /* no-break space */
                sc->map[j] = (uint32_t)i;
                out[j++] = ' ';
            }
            i += 2;
            continue;
        }
        if (c == 0xE2 && i + 2 < n) {
            unsigned char c1 = s[i + 1], c2 = s[i + 2];
            if ((c1 == 0x80 && c2 >= 0x8B && c2 <= 0x8D) || (c1 == 0x81 && c2 == 0xA0)) {
                i += 3; /* zero-width space/joiners, word joiner */
                continue;
            }
            if (c1 == 0x80 && (c2 == 0x87 || c2 == 0xAF)) { /* figure, narrow nbsp */
                sc->map[j] = (uint32_t)i;
                out[j++] = ' ';
                i += 3;
                continue;
            }
        }
        if (c == 0xEF && i + 2 < n) {
            if (s[i + 1] == 0xBB && s[i + 2] == 0xBF) { /* BOM / zero-width nbsp */
                i += 3;
                continue;
            }
            if (s[i + 1] == 0xBC && s[i + 2] >= 0x90 && s[i + 2] <= 0x99) { /* full-width */
                sc->map[j] = (uint32_t)i;
                out[j++] = (unsigned char)('0' + (s[i + 2] - 0x90));
                i += 3;
                continue;
            }
        }
        sc->map[j] = (uint32_t)i;
        out[j++] = c;
        i++;
    }
    sc->t = out;
    sc->n = j;
}

static size_t orig_start(const struct scan *sc, size_t i)
{
    if (!sc->map)
        return i;
    return i < sc->n ? sc->map[i] : sc->olen;
}

/* Original offset just past normalised character e - 1. */
static size_t orig_end(const struct scan *sc, size_t e)
{
    size_t o;

    if (!sc->map)
        return e;
    if (e == 0)
        return sc->n ? sc->map[0] : 0;
    o = sc->map[e - 1];
    /* An ASCII character made from a multi-byte one (full-width digit, nbsp). */
    if (sc->t[e - 1] < 0x80 && sc->orig[o] >= 0x80)
        return o + (sc->orig[o] == 0xC2 ? 2 : 3);
    return o + 1;
}

/* ---- findings ---- */

/* Writes into out (64 bytes) the value with all but the last four
 * characters starred; with 12 or more the first four stay too. */
static void mask_value(const char *v, size_t n, char *out)
{
    size_t keep_head = n >= 12 ? 4 : 0;

    if (n > BALAI_DLP_MASKED_LEN - 1)
        n = BALAI_DLP_MASKED_LEN - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (i < keep_head || i + 4 >= n) && n > 4 ? v[i] : '*';
    out[n] = '\0';
}

static enum balai_dlp_category type_category(enum balai_dlp_type t)
{
    switch (t) {
    case BALAI_DLP_NIK:
    case BALAI_DLP_KK:
    case BALAI_DLP_PASSPORT:
        return BALAI_DLP_CAT_IDENTITY;
    case BALAI_DLP_NPWP:
        return BALAI_DLP_CAT_TAX;
    case BALAI_DLP_BPJS:
        return BALAI_DLP_CAT_HEALTH;
    case BALAI_DLP_PHONE:
    case BALAI_DLP_EMAIL:
        return BALAI_DLP_CAT_CONTACT;
    case BALAI_DLP_CARD:
        return BALAI_DLP_CAT_CARD;
    case BALAI_DLP_IBAN:
        return BALAI_DLP_CAT_BANK;
    case BALAI_DLP_BULK:
        return BALAI_DLP_CAT_BULK;
    default:
        return BALAI_DLP_CAT_OTHER;
    }
}

/* Records a finding over normalised [s, e); returns it when it was kept. */
static struct balai_dlp_finding *emit(struct scan *sc, enum balai_dlp_type type,
                                      enum balai_dlp_category cat, size_t s, size_t e,
                                      const char *name, int conf, bool maskable)
{
    struct balai_dlp_result *r = sc->r;
    struct balai_dlp_finding *f;
    size_t os = orig_start(sc, s), oe = orig_end(sc, e);

    r->count[type]++;
    if (conf > r->max_confidence[cat])
        r->max_confidence[cat] = (uint8_t)conf;
    if (sc->cfg->bulk_mask & (1u << type)) {
        if (os < sc->bulk_lo)
            sc->bulk_lo = os;
        if (oe > sc->bulk_hi)
            sc->bulk_hi = oe;
    }
    if (r->n == BALAI_DLP_MAX_FINDINGS) {
        r->truncated = true;
        return NULL;
    }
    f = &r->findings[r->n++];
    f->type = type;
    f->category = cat;
    f->off = os;
    f->len = oe - os;
    f->name = name;
    f->confidence = conf;
    f->maskable = maskable;
    f->masked[0] = '\0';
    return f;
}

static void emit_value(struct scan *sc, enum balai_dlp_type type, size_t s, size_t e,
                       const char *name, int conf, const char *v, size_t vn)
{
    struct balai_dlp_finding *f = emit(sc, type, type_category(type), s, e, name, conf, true);

    if (f)
        mask_value(v, vn, f->masked);
}

/* Copies normalised [s, e) as the masked text (context words, keywords). */
static void copy_text(const struct scan *sc, size_t s, size_t e, char *out)
{
    size_t n = e - s;

    if (n > BALAI_DLP_MASKED_LEN - 1)
        n = BALAI_DLP_MASKED_LEN - 1;
    memcpy(out, sc->t + s, n);
    out[n] = '\0';
}

/* ---- keywords ---- */

/* Length matched by keyword w at t[0..n), or 0. */
static size_t phrase_match(const unsigned char *t, size_t n, const struct dlp_word *w)
{
    size_t i = 0;
    bool dot = false;

    for (size_t j = 0; j < w->len; j++) {
        unsigned char wc = (unsigned char)w->text[j];
        if (wc == ' ') {
            size_t k = i;
            bool after_dot = j > 0 && w->text[j - 1] == '.';
            while (k < n && k - i < MAX_WS && is_space(t[k]))
                k++;
            if (k == i && !(after_dot && dot))
                return 0;
            i = k;
            continue;
        }
        if (wc == '.') {
            dot = i < n && t[i] == '.';
            if (dot)
                i++;
            else if (j + 1 == w->len || w->text[j + 1] != ' ')
                return 0; /* a '.' not followed by a space must be there */
            continue;
        }
        if (i >= n || lower(t[i]) != wc)
            return 0;
        i++;
    }
    if (is_word((unsigned char)w->text[w->len - 1]) && i < n && is_word(t[i]))
        return 0;
    return i;
}

static void match_words(struct scan *sc, size_t p)
{
    const struct balai_dlp_config *cfg = sc->cfg;
    unsigned char f = lower(sc->t[p]);

    for (unsigned k = cfg->start[f]; k < cfg->start[f + 1]; k++) {
        const struct dlp_word *w = &cfg->words[cfg->idx[k]];
        size_t m;
        if (w->len > 1 && is_alnum((unsigned char)w->text[1]) &&
            (p + 1 >= sc->n || lower(sc->t[p + 1]) != (unsigned char)w->text[1]))
            continue;
        m = phrase_match(sc->t + p, sc->n - p, w);
        if (m) {
            struct cue *c = vec_push(&sc->cues);
            c->s = (uint32_t)p;
            c->e = (uint32_t)(p + m);
            c->word = cfg->idx[k];
            c->used = false;
        }
    }
}

/* ---- numbers ---- */

static unsigned classify(const struct scan *sc, const char *d, size_t n, unsigned flags)
{
    unsigned m = 0;

    if (n == 16) {
        if (balai__dlp_nik_valid(d))
            m |= M_NIK;
        if (balai__dlp_kk_valid(d))
            m |= M_KK;
        if (d[0] == '0' && balai__dlp_npwp15_valid(d + 1))
            m |= M_NPWP;
    }
    if (n == 15 && balai__dlp_npwp15_valid(d))
        m |= M_NPWP;
    if (n == 13 && d[0] == '0' && d[1] == '0' && d[2] == '0' && strspn(d, "0") < n)
        m |= M_BPJS;
    if (d[0] == '0' && d[1] == '8' && d[2] >= '1' && n >= 10 && n <= 13)
        m |= M_PHONE;
    if (d[0] == '6' && d[1] == '2' && d[2] == '8' && d[3] >= '1' && n >= 11 && n <= 14)
        m |= M_PHONE;
    if (!(flags & F_DOT) && balai__dlp_card_brand(d, n))
        m |= M_CARD;
    /* Types turned off in the config. */
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_NIK)))
        m &= ~(unsigned)M_NIK;
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_KK)))
        m &= ~(unsigned)M_KK;
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_NPWP)))
        m &= ~(unsigned)M_NPWP;
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_BPJS)))
        m &= ~(unsigned)M_BPJS;
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_PHONE)))
        m &= ~(unsigned)M_PHONE;
    if (!(sc->cfg->enabled & (1u << BALAI_DLP_CARD)))
        m &= ~(unsigned)M_CARD;
    return m;
}

static unsigned shape_flags(const struct group *g, size_t i, size_t j)
{
    static const uint8_t npwp[6] = {2, 3, 3, 1, 3, 3};
    static const uint8_t amex[3] = {4, 6, 5};
    unsigned f = 0;
    size_t k;

    for (k = i + 1; k <= j; k++)
        if (g[k].sep == '.')
            f |= F_DOT;
    if (j - i == 5) {
        for (k = 0; k < 6 && g[i + k].len == npwp[k]; k++)
            ;
        if (k == 6)
            f |= F_NPWP_SHAPE;
    }
    if (j - i == 2) {
        for (k = 0; k < 3 && g[i + k].len == amex[k]; k++)
            ;
        if (k == 3)
            f |= F_AMEX_SHAPE;
    }
    return f;
}

/* Splits the run's groups into identifier candidates: from each group, the
 * longest window of whole groups (at most 19 digits) that could be one. */
static void carve(struct scan *sc, bool plus)
{
    const struct group *g = sc->groups.p;
    size_t ng = sc->groups.n;
    bool amount = ng >= 2;

    /* "15.000.000": an amount, not an identifier. */
    for (size_t k = 1; k < ng && amount; k++)
        if (g[k].sep != '.' || g[k].len != 3)
            amount = false;
    if (amount)
        return;
    for (size_t i = 0; i < ng;) {
        char d[20];
        size_t tot = 0, best = SIZE_MAX, best_tot = 0;
        unsigned best_mask = 0, best_flags = 0;
        for (size_t j = i; j < ng; j++) {
            if (tot + g[j].len > 19)
                break;
            memcpy(d + tot, sc->t + g[j].s, g[j].len);
            tot += g[j].len;
            d[tot] = '\0';
            if (tot >= 10) {
                unsigned fl = shape_flags(g, i, j);
                unsigned m = classify(sc, d, tot, fl);
                if (m) {
                    best = j;
                    best_tot = tot;
                    best_mask = m;
                    best_flags = fl;
                }
            }
        }
        if (best == SIZE_MAX) {
            i++;
            continue;
        }
        struct item *it = vec_push(&sc->items);
        it->kind = IT_DIGITS;
        it->s = (uint32_t)(g[i].s - (plus && i == 0 ? 1 : 0));
        it->e = (uint32_t)(g[best].s + g[best].len);
        it->ndig = (uint8_t)best_tot;
        it->mask = (uint8_t)best_mask;
        it->flags = (uint8_t)best_flags;
        for (size_t k = i, o = 0; k <= best; o += g[k].len, k++)
            memcpy(it->dig + o, sc->t + g[k].s, g[k].len);
        it->dig[best_tot] = '\0';
        i = best + 1;
    }
}

static bool is_sep(unsigned char c)
{
    return c == ' ' || c == '.' || c == '-';
}

/* A run of digit groups from p (a digit at a word start); returns where
 * the scan continues. */
static size_t digit_run(struct scan *sc, size_t p, bool plus)
{
    const unsigned char *t = sc->t;
    size_t n = sc->n, i = p, digits = 0;
    char sep = '\0';

    sc->groups.n = 0;
    for (;;) {
        size_t gs = i;
        struct group *g;
        while (i < n && is_digit(t[i]))
            i++;
        g = vec_push(&sc->groups);
        g->s = (uint32_t)gs;
        g->len = (uint32_t)(i - gs);
        g->sep = sep;
        digits += i - gs;
        if (i + 1 < n && is_sep(t[i]) && is_digit(t[i + 1])) {
            sep = (char)t[i];
            i++;
            continue;
        }
        break;
    }
    /* Digits glued to a word ("12abc") are not a number's end. */
    if (i < n && is_word(t[i])) {
        digits -= ((struct group *)sc->groups.p)[sc->groups.n - 1].len;
        sc->groups.n--;
        while (i < n && is_word(t[i]))
            i++;
    }
    if (digits >= 10)
        carve(sc, plus);
    return i;
}

/* ---- words with capitals: passport, IBAN ---- */

/* Tries an IBAN from p (two capitals and two digits); returns its end or 0. */
static size_t try_iban(struct scan *sc, size_t p)
{
    const unsigned char *t = sc->t;
    size_t n = sc->n, i = p, k = 0, nb = 0;
    char buf[36];
    size_t bk[20], bi[20]; /* boundaries: characters so far, text position */

    while (i < n && k < 34) {
        if (is_upper(t[i]) || is_digit(t[i])) {
            buf[k++] = (char)t[i++];
            continue;
        }
        if (t[i] == ' ' && i + 1 < n && (is_upper(t[i + 1]) || is_digit(t[i + 1])) && nb < 19) {
            bk[nb] = k;
            bi[nb++] = i;
            i++;
            continue;
        }
        break;
    }
    if (!(i < n && is_word(t[i]))) {
        bk[nb] = k;
        bi[nb++] = i;
    }
    while (nb-- > 0) {
        if (bk[nb] >= 15 && balai__dlp_iban_valid(buf, bk[nb])) {
            struct item *it = vec_push(&sc->items);
            it->kind = IT_IBAN;
            it->s = (uint32_t)p;
            it->e = (uint32_t)bi[nb];
            it->ndig = (uint8_t)bk[nb];
            memcpy(it->dig, buf, bk[nb]);
            it->dig[bk[nb]] = '\0';
            return bi[nb];
        }
    }
    return 0;
}

/* A word starting with a capital at [p, e): passport or IBAN. Returns where
 * the scan continues. */
static size_t upper_word(struct scan *sc, size_t p, size_t e)
{
    const unsigned char *t = sc->t;
    const uint32_t en = sc->cfg->enabled;

    if (e - p == 8 && (en & (1u << BALAI_DLP_PASSPORT))) {
        size_t k = 1;
        while (k < 8 && is_digit(t[p + k]))
            k++;
        if (k == 8) {
            struct item *it = vec_push(&sc->items);
            it->kind = IT_PASSPORT;
            it->s = (uint32_t)p;
            it->e = (uint32_t)e;
            it->ndig = 8;
            memcpy(it->dig, t + p, 8);
            it->dig[8] = '\0';
            return e;
        }
    }
    if ((en & (1u << BALAI_DLP_IBAN)) && e - p >= 4 && is_upper(t[p + 1]) && is_digit(t[p + 2]) &&
        is_digit(t[p + 3])) {
        size_t end = try_iban(sc, p);
        if (end)
            return end;
    }
    return e;
}

/* ---- e-mail ---- */

static bool is_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* At an '@' at a: an address around it? Returns where the scan continues. */
static size_t try_email(struct scan *sc, size_t a)
{
    const unsigned char *t = sc->t;
    size_t n = sc->n, q = a, lim = a > 64 ? a - 64 : 0, r, dend, last_dot = 0;
    struct item *it;

    if (!(sc->cfg->enabled & (1u << BALAI_DLP_EMAIL)))
        return a + 1;
    while (q > lim && is_local(t[q - 1]))
        q--;
    if (q == lim && lim > 0 && is_local(t[q - 1]))
        return a + 1; /* local part over 64 */
    while (q < a && t[q] == '.')
        q++;
    if (q == a || t[a - 1] == '.')
        return a + 1;
    dend = a + 1 + 253 < n ? a + 1 + 253 : n;
    for (r = a + 1; r < dend && (is_alnum(t[r]) || t[r] == '-' || t[r] == '.'); r++)
        ;
    if (r == dend && r < n && (is_alnum(t[r]) || t[r] == '-'))
        return a + 1; /* domain over 253 */
    while (r > a + 1 && (t[r - 1] == '.' || t[r - 1] == '-'))
        r--;
    /* Labels: non-empty, no '-' at either end; a TLD of 2+ letters. */
    for (size_t k = a + 1, ls = a + 1; k <= r; k++) {
        if (k < r && t[k] != '.')
            continue;
        if (k == ls || t[ls] == '-' || t[k - 1] == '-')
            return a + 1;
        if (k < r)
            last_dot = k;
        ls = k + 1;
    }
    if (!last_dot || r - last_dot - 1 < 2)
        return a + 1;
    for (size_t k = last_dot + 1; k < r; k++)
        if (is_digit(t[k]) || t[k] == '-')
            return a + 1;
    /* Numbers and words inside the address are part of it. */
    while (sc->items.n && ((struct item *)sc->items.p)[sc->items.n - 1].s >= q)
        sc->items.n--;
    while (sc->cues.n && ((struct cue *)sc->cues.p)[sc->cues.n - 1].s >= q)
        sc->cues.n--;
    it = vec_push(&sc->items);
    it->kind = IT_EMAIL;
    it->s = (uint32_t)q;
    it->e = (uint32_t)r;
    it->ndig = 0;
    return r;
}

/* ---- pass 1 ---- */

static inline bool bigram_hit(const struct balai_dlp_config *cfg, const unsigned char *t, size_t n,
                              size_t p)
{
    unsigned b = p + 1 < n ? t[p + 1] : ' ';
    unsigned k = (unsigned)t[p] << 8 | b;

    return (cfg->bigram[k >> 3] >> (k & 7)) & 1u;
}

static void pass1(struct scan *sc)
{
    const unsigned char *t = sc->t;
    const struct balai_dlp_config *cfg = sc->cfg;
    const uint8_t *cls = cfg->cls;
    size_t n = sc->n, p = 0;

    while (p < n) {
        unsigned char c = t[p];
        uint8_t k = cls[c];
        size_t e;
        if (!(k & DLP_C_WORD)) {
            p++;
            if (!(k & DLP_C_EVENT))
                continue;
            if (c == '@')
                p = try_email(sc, p - 1);
            else if (p < n && (cls[t[p]] & DLP_C_DIGIT))
                p = digit_run(sc, p, true);
            continue;
        }
        /* p starts a word: the byte before it is not part of one. */
        if (bigram_hit(cfg, t, n, p))
            match_words(sc, p);
        if (k & DLP_C_DIGIT) {
            p = digit_run(sc, p, false);
            continue;
        }
        e = p + 1;
        while (e + 4 <= n &&
               (cls[t[e]] & cls[t[e + 1]] & cls[t[e + 2]] & cls[t[e + 3]] & DLP_C_WORD))
            e += 4;
        while (e < n && (cls[t[e]] & DLP_C_WORD))
            e++;
        if (k & DLP_C_UPPER) {
            p = upper_word(sc, p, e);
            continue;
        }
        /* The usual single space after a word starts nothing. */
        p = e + (e < n && t[e] == ' ');
    }
}

/* ---- pass 2: resolve candidates with nearby cues ---- */

struct near {
    size_t dist[6]; /* per cue bit; SIZE_MAX = none */
    size_t which[6];
};

static void find_near(struct scan *sc, size_t *lo, size_t s, size_t e, struct near *nr)
{
    struct cue *cues = sc->cues.p;
    const struct dlp_word *words = sc->cfg->words;
    size_t wlo = s > BALAI_DLP_CONTEXT_WINDOW ? s - BALAI_DLP_CONTEXT_WINDOW : 0;
    size_t whi = e + BALAI_DLP_CONTEXT_WINDOW;

    for (int b = 0; b < 6; b++)
        nr->dist[b] = SIZE_MAX;
    while (*lo < sc->cues.n && cues[*lo].s + MAX_CUE_SPAN < wlo)
        (*lo)++;
    for (size_t k = *lo; k < sc->cues.n && cues[k].s <= whi; k++) {
        const struct cue *c = &cues[k];
        size_t d;
        if (c->e < wlo || !words[c->word].cues)
            continue;
        d = c->e <= s ? s - c->e : (c->s >= e ? c->s - e : 0);
        for (int b = 0; b < 6; b++) {
            if ((words[c->word].cues & (1u << b)) && d < nr->dist[b]) {
                nr->dist[b] = d;
                nr->which[b] = k;
            }
        }
    }
}

static bool near_has(const struct near *nr, unsigned cue)
{
    return nr->dist[__builtin_ctz(cue)] != SIZE_MAX;
}

static void use_cue(struct scan *sc, const struct near *nr, unsigned cue)
{
    if (near_has(nr, cue))
        ((struct cue *)sc->cues.p)[nr->which[__builtin_ctz(cue)]].used = true;
}

static void resolve_digits(struct scan *sc, const struct item *it, const struct near *nr)
{
    unsigned m = it->mask;
    const char *d = it->dig;
    size_t n = it->ndig;

    bool other = (m & (M_NIK | M_KK | M_NPWP)) != 0;
    bool amex_npwp = !(m & (M_NIK | M_KK)) && (it->flags & F_AMEX_SHAPE);

    /* A number that is also a valid NIK/KK/NPWP is a card only with card
     * context (or written 4-6-5 like an Amex card). */
    if ((m & M_CARD) && (!other || near_has(nr, CUE_CARD) || amex_npwp)) {
        use_cue(sc, nr, CUE_CARD);
        emit_value(sc, BALAI_DLP_CARD, it->s, it->e, balai__dlp_card_brand(d, n),
                   near_has(nr, CUE_CARD) ? 95 : 85, d, n);
        return;
    }
    if (m & (M_NIK | M_KK)) {
        bool kk = (m & M_KK) && near_has(nr, CUE_KK) &&
                  (!near_has(nr, CUE_NIK) ||
                   nr->dist[__builtin_ctz(CUE_KK)] < nr->dist[__builtin_ctz(CUE_NIK)]);
        if (kk || !(m & M_NIK)) {
            use_cue(sc, nr, CUE_KK);
            emit_value(sc, BALAI_DLP_KK, it->s, it->e, "KK", near_has(nr, CUE_KK) ? 90 : 60, d, n);
            return;
        }
        use_cue(sc, nr, CUE_NIK);
        use_cue(sc, nr, CUE_KK); /* "KK" next to a NIK-only number: still about it */
        use_cue(sc, nr, CUE_NPWP);
        emit_value(sc, BALAI_DLP_NIK, it->s, it->e, "NIK",
                   near_has(nr, CUE_NIK) ? 95 : (near_has(nr, CUE_NPWP) ? 85 : 70), d, n);
        return;
    }
    if (m & M_NPWP) {
        use_cue(sc, nr, CUE_NPWP);
        emit_value(sc, BALAI_DLP_NPWP, it->s, it->e, "NPWP",
                   near_has(nr, CUE_NPWP) ? 95 : ((it->flags & F_NPWP_SHAPE) ? 90 : 60), d, n);
        return;
    }
    if (m & M_BPJS) {
        use_cue(sc, nr, CUE_BPJS);
        emit_value(sc, BALAI_DLP_BPJS, it->s, it->e, "BPJS", near_has(nr, CUE_BPJS) ? 90 : 60, d,
                   n);
        return;
    }
    if (m & M_PHONE)
        emit_value(sc, BALAI_DLP_PHONE, it->s, it->e, "phone", 80, d, n);
}

static void resolve_email(struct scan *sc, const struct item *it)
{
    struct balai_dlp_finding *f =
        emit(sc, BALAI_DLP_EMAIL, BALAI_DLP_CAT_CONTACT, it->s, it->e, "email", 90, true);
    const unsigned char *at;
    size_t dn;

    if (!f)
        return;
    at = memchr(sc->t + it->s, '@', it->e - it->s);
    dn = (size_t)(sc->t + it->e - at);
    if (dn > BALAI_DLP_MASKED_LEN - 5)
        dn = BALAI_DLP_MASKED_LEN - 5;
    f->masked[0] = (char)sc->t[it->s];
    memcpy(f->masked + 1, "***", 3);
    memcpy(f->masked + 4, at, dn);
    f->masked[4 + dn] = '\0';
}

static void pass2(struct scan *sc)
{
    const struct item *items = sc->items.p;
    const struct cue *cues;
    size_t lo = 0;

    for (size_t k = 0; k < sc->items.n; k++) {
        const struct item *it = &items[k];
        struct near nr;
        switch (it->kind) {
        case IT_DIGITS:
            find_near(sc, &lo, it->s, it->e, &nr);
            resolve_digits(sc, it, &nr);
            break;
        case IT_PASSPORT:
            find_near(sc, &lo, it->s, it->e, &nr);
            use_cue(sc, &nr, CUE_PASSPORT);
            emit_value(sc, BALAI_DLP_PASSPORT, it->s, it->e, "passport",
                       near_has(&nr, CUE_PASSPORT) ? 80 : 30, it->dig, 8);
            break;
        case IT_EMAIL:
            resolve_email(sc, it);
            break;
        case IT_IBAN:
            emit_value(sc, BALAI_DLP_IBAN, it->s, it->e, "IBAN", 90, it->dig, it->ndig);
            break;
        }
    }
    cues = sc->cues.p;
    for (size_t k = 0; k < sc->cues.n; k++) {
        const struct dlp_word *w = &sc->cfg->words[cues[k].word];
        struct balai_dlp_finding *f = NULL;
        if (w->custom)
            f = emit(sc, BALAI_DLP_CUSTOM, (enum balai_dlp_category)w->category, cues[k].s,
                     cues[k].e, w->name, w->confidence, false);
        else if (w->context && !cues[k].used)
            f = emit(sc, BALAI_DLP_CONTEXT, (enum balai_dlp_category)w->category, cues[k].s,
                     cues[k].e, w->name, w->confidence, false);
        if (f)
            copy_text(sc, cues[k].s, cues[k].e, f->masked);
    }
}

/* ---- custom patterns ---- */

static void run_regexes(struct scan *sc)
{
    const struct balai_dlp_config *cfg = sc->cfg;
    pcre2_match_data *md;

    if (cfg->nregexes == 0)
        return;
    md = pcre2_match_data_create(1, NULL);
    if (!md)
        return;
    for (size_t k = 0; k < cfg->nregexes; k++) {
        const struct dlp_regex *rx = &cfg->regexes[k];
        size_t start = 0;
        while (start < sc->n && !sc->r->truncated) {
            PCRE2_SIZE *ov;
            struct balai_dlp_finding *f;
            size_t s, e;
            int rc = pcre2_match((const pcre2_code *)rx->code, sc->t, sc->n, start, 0, md,
                                 (pcre2_match_context *)cfg->match_ctx);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                /* Match, depth, heap or JIT stack limit: stop this pattern. */
                sc->r->limit_hit = true;
                break;
            }
            ov = pcre2_get_ovector_pointer(md);
            s = ov[0];
            e = ov[1];
            if (e <= s || s < start) { /* \K or lookbehind tricks: step on */
                start++;
                while (start < sc->n && (sc->t[start] & 0xC0) == 0x80)
                    start++;
                continue;
            }
            f = emit(sc, BALAI_DLP_CUSTOM, rx->category, s, e, rx->name, 80, true);
            if (f)
                mask_value((const char *)sc->t + s, e - s, f->masked);
            start = e;
        }
    }
    pcre2_match_data_free(md);
}

/* ---- entry points ---- */

static void sort_findings(struct balai_dlp_result *r)
{
    for (size_t i = 1; i < r->n; i++) {
        struct balai_dlp_finding f = r->findings[i];
        size_t j = i;
        while (j > 0 && r->findings[j - 1].off > f.off) {
            r->findings[j] = r->findings[j - 1];
            j--;
        }
        r->findings[j] = f;
    }
}

static void bulk_rule(struct scan *sc)
{
    struct balai_dlp_result *r = sc->r;
    const struct balai_dlp_config *cfg = sc->cfg;
    struct balai_dlp_finding *f;
    unsigned total = 0;

    if (cfg->bulk_threshold == 0)
        return;
    for (int t = 0; t < BALAI_DLP_NTYPES; t++)
        if (cfg->bulk_mask & (1u << t))
            total += r->count[t];
    if (total < cfg->bulk_threshold)
        return;
    if (r->n == BALAI_DLP_MAX_FINDINGS) /* the bulk finding always shows */
        r->n--;
    f = &r->findings[r->n++];
    memset(f, 0, sizeof(*f));
    f->type = BALAI_DLP_BULK;
    f->category = BALAI_DLP_CAT_BULK;
    f->off = sc->bulk_lo;
    f->len = sc->bulk_hi - sc->bulk_lo;
    f->name = "bulk";
    f->confidence = 90;
    snprintf(f->masked, sizeof(f->masked), "%u identifiers", total);
    r->count[BALAI_DLP_BULK]++;
    if (r->max_confidence[BALAI_DLP_CAT_BULK] < 90)
        r->max_confidence[BALAI_DLP_CAT_BULK] = 90;
}

int balai_dlp_scan(const struct balai_dlp_config *cfg, const char *text, size_t len,
                   struct balai_dlp_result *out)
{
    struct scan sc;
    struct item items_stack[16];
    struct cue cues_stack[16];
    struct group groups_stack[32];

    /* Not the findings array: it is 3 KiB, and only findings[0..n) count. */
    out->n = 0;
    out->truncated = false;
    out->limit_hit = false;
    memset(out->count, 0, sizeof(out->count));
    memset(out->max_confidence, 0, sizeof(out->max_confidence));
    if (len >= UINT32_MAX)
        return BALAI_ETOOBIG;
    if (!text || len == 0)
        return BALAI_OK;
    memset(&sc, 0, sizeof(sc));
    sc.cfg = cfg;
    sc.orig = (const unsigned char *)text;
    sc.olen = len;
    sc.r = out;
    sc.bulk_lo = SIZE_MAX;
    vec_init(&sc.items, items_stack, BALAI_ARRAY_LEN(items_stack), sizeof(struct item));
    vec_init(&sc.cues, cues_stack, BALAI_ARRAY_LEN(cues_stack), sizeof(struct cue));
    vec_init(&sc.groups, groups_stack, BALAI_ARRAY_LEN(groups_stack), sizeof(struct group));
    normalise(&sc);
    pass1(&sc);
    pass2(&sc);
    run_regexes(&sc);
    bulk_rule(&sc);
    sort_findings(out);
    vec_release(&sc.items);
    vec_release(&sc.cues);
    vec_release(&sc.groups);
    if (sc.map) {
        free((void *)sc.t);
        free(sc.map);
    }
    return BALAI_OK;
}

/* ---- masking ---- */

enum { KEEP = 0, STAR, DROP };

/* Length of a full-width digit at s[i] (3) or 0. */
static size_t fw_digit(const unsigned char *s, size_t n, size_t i)
{
    return (i + 2 < n && s[i] == 0xEF && s[i + 1] == 0xBC && s[i + 2] >= 0x90 && s[i + 2] <= 0x99)
               ? 3
               : 0;
}

/* Marks characters in [a, b) to star: digits (and letters when `alnum`),
 * all but the last four of them. */
static void mark_span(const unsigned char *s, size_t n, size_t a, size_t b, bool alnum,
                      uint8_t *act)
{
    size_t total = 0, seen = 0;

    for (size_t i = a; i < b;) {
        size_t fw = fw_digit(s, b, i);
        if (fw || is_digit(s[i]) || (alnum && is_alnum(s[i])))
            total++;
        i += fw ? fw : 1;
    }
    for (size_t i = a; i < b;) {
        size_t fw = fw_digit(s, b, i);
        if (fw || is_digit(s[i]) || (alnum && is_alnum(s[i]))) {
            if (++seen + 4 <= total) {
                act[i] = STAR;
                for (size_t k = 1; k < fw; k++)
                    act[i + k] = DROP;
            }
        }
        i += fw ? fw : 1;
    }
    (void)n;
}

int balai_dlp_mask(const char *text, size_t len, const struct balai_dlp_result *r, char **out,
                   size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    uint8_t *act = NULL;
    char *o;
    size_t j = 0;
    int rc = BALAI_OK;

    *out = NULL;
    if (out_len)
        *out_len = 0;
    for (size_t k = 0; k < r->n; k++) {
        const struct balai_dlp_finding *f = &r->findings[k];
        if (f->off > len || f->len > len - f->off)
            return BALAI_EINVAL;
    }
    act = balai_calloc(len ? len : 1, 1);
    for (size_t k = 0; k < r->n; k++) {
        const struct balai_dlp_finding *f = &r->findings[k];
        size_t a = f->off, b = f->off + f->len;
        if (!f->maskable)
            continue;
        if (f->type == BALAI_DLP_EMAIL) {
            const unsigned char *at = memchr(s + a, '@', f->len);
            size_t atpos = at ? (size_t)(at - s) : b;
            for (size_t i = a + 1; i < atpos; i++)
                act[i] = STAR;
            continue;
        }
        mark_span(s, len, a, b, f->type == BALAI_DLP_CUSTOM, act);
    }
    o = balai_malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        if (act[i] == KEEP)
            o[j++] = (char)s[i];
        else if (act[i] == STAR)
            o[j++] = '*';
    }
    o[j] = '\0';
    *out = o;
    if (out_len)
        *out_len = j;
    free(act);
    return rc;
}

/* ---- names ---- */

const char *balai_dlp_type_name(enum balai_dlp_type t)
{
    static const char *const names[BALAI_DLP_NTYPES] = {
        "nik",   "kk",   "npwp", "bpjs",    "passport", "phone",
        "email", "card", "iban", "context", "bulk",     "custom",
    };
    return (unsigned)t < BALAI_DLP_NTYPES ? names[t] : "unknown";
}
