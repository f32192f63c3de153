/* dlp_policy.c: the DLP policy table: (room classification label, finding
 * category) -> action, with built-in defaults, override rules parsed from a
 * string, and the decision over a scan result. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gov/dlp/dlp.h"
#include "util/alloc.h"

#define LABEL_MAX 63
#define DEFAULT_MIN_CONFIDENCE 50

struct rule {
    char label[LABEL_MAX + 1]; /* "*" = any; a trailing '*' = prefix */
    int category;              /* enum balai_dlp_category, or -1 = any */
    enum balai_dlp_action action;
};

struct balai_dlp_policy {
    struct rule *rules;
    size_t n;
    int min_confidence;
};

static const char *const category_names[BALAI_DLP_NCATEGORIES] = {
    "identity", "tax", "health", "card", "bank", "contact", "bulk", "other",
};

static const char *const action_names[BALAI_DLP_NACTIONS] = {
    "allow", "audit", "mask", "warn", "block", "hold",
};

const char *balai_dlp_category_name(enum balai_dlp_category c)
{
    return (unsigned)c < BALAI_DLP_NCATEGORIES ? category_names[c] : "unknown";
}

const char *balai_dlp_action_name(enum balai_dlp_action a)
{
    return (unsigned)a < BALAI_DLP_NACTIONS ? action_names[a] : "unknown";
}

static int parse_name(const char *s, size_t len, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncasecmp(s, names[i], len) == 0)
            return i;
    return -1;
}

int balai_dlp_category_parse(const char *s, size_t len, enum balai_dlp_category *out)
{
    int i = parse_name(s, len, category_names, BALAI_DLP_NCATEGORIES);

    if (i < 0)
        return BALAI_EINVAL;
    *out = (enum balai_dlp_category)i;
    return BALAI_OK;
}

int balai_dlp_action_parse(const char *s, size_t len, enum balai_dlp_action *out)
{
    int i = parse_name(s, len, action_names, BALAI_DLP_NACTIONS);

    if (i < 0)
        return BALAI_EINVAL;
    *out = (enum balai_dlp_action)i;
    return BALAI_OK;
}

struct balai_dlp_policy *balai_dlp_policy_new(void)
{
    struct balai_dlp_policy *p = balai_calloc(1, sizeof(*p));

    p->min_confidence = DEFAULT_MIN_CONFIDENCE;
    return p;
}

void balai_dlp_policy_free(struct balai_dlp_policy *p)
{
    if (!p)
        return;
    free(p->rules);
    free(p);
}

static bool label_matches(const char *rule, const char *label)
{
    size_t n = strlen(rule);

    if (n > 0 && rule[n - 1] == '*')
        return strncasecmp(label, rule, n - 1) == 0;
    return strcasecmp(label, rule) == 0;
}

static enum balai_dlp_action default_action(const char *label, enum balai_dlp_category cat)
{
    if (cat == BALAI_DLP_CAT_BULK)
        return BALAI_DLP_BLOCK;
    if (cat == BALAI_DLP_CAT_CONTACT)
        return BALAI_DLP_AUDIT;
    if (strcasecmp(label, "confidential") == 0)
        return BALAI_DLP_AUDIT;
    if (strncasecmp(label, "restricted-", 11) == 0 || strcasecmp(label, "restricted") == 0)
        return BALAI_DLP_ALLOW;
    return BALAI_DLP_WARN; /* public, internal, and anything unknown */
}

enum balai_dlp_action balai_dlp_policy_action(const struct balai_dlp_policy *p, const char *label,
                                              enum balai_dlp_category cat)
{
    enum balai_dlp_action a;

    if (!label || !*label)
        label = "internal";
    a = default_action(label, cat);
    for (size_t i = 0; p && i < p->n; i++) {
        const struct rule *r = &p->rules[i];
        if ((r->category < 0 || r->category == (int)cat) && label_matches(r->label, label))
            a = r->action;
    }
    return a;
}

static enum balai_dlp_action capped(const struct balai_dlp_policy *p, enum balai_dlp_action a,
                                    int confidence)
{
    int min = p ? p->min_confidence : DEFAULT_MIN_CONFIDENCE;

    if (confidence < min && a > BALAI_DLP_AUDIT)
        return BALAI_DLP_AUDIT;
    return a;
}

enum balai_dlp_action balai_dlp_policy_finding(const struct balai_dlp_policy *p, const char *label,
                                               const struct balai_dlp_finding *f)
{
    return capped(p, balai_dlp_policy_action(p, label, f->category), f->confidence);
}

enum balai_dlp_action balai_dlp_policy_decide(const struct balai_dlp_policy *p, const char *label,
                                              const struct balai_dlp_result *r)
{
    enum balai_dlp_action best = BALAI_DLP_ALLOW;

    for (int c = 0; c < BALAI_DLP_NCATEGORIES; c++) {
        enum balai_dlp_action a;
        if (r->max_confidence[c] == 0)
            continue;
        a = capped(p, balai_dlp_policy_action(p, label, (enum balai_dlp_category)c),
                   r->max_confidence[c]);
        if (a > best)
            best = a;
    }
    return best;
}

static bool is_rule_sep(char c)
{
    return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Parses one rule token [s, s + n) into *r (or *min_conf). */
static int parse_rule(const char *s, size_t n, struct rule *r, int *min_conf, char *err,
                      size_t errlen)
{
    const char *eq = memchr(s, '=', n), *dot = NULL;
    size_t llen;
    enum balai_dlp_category cat;
    enum balai_dlp_action act;

    if (!eq) {
        snprintf(err, errlen, "rule '%.*s': expected LABEL.CATEGORY=ACTION", (int)n, s);
        return BALAI_EINVAL;
    }
    if ((size_t)(eq - s) == 14 && strncasecmp(s, "min_confidence", 14) == 0) {
        char num[8];
        size_t vn = n - 15;
        char *end;
        long v;
        if (vn == 0 || vn >= sizeof(num)) {
            snprintf(err, errlen, "rule '%.*s': min_confidence must be 0-100", (int)n, s);
            return BALAI_EINVAL;
        }
        memcpy(num, eq + 1, vn);
        num[vn] = '\0';
        v = strtol(num, &end, 10);
        if (*end || v < 0 || v > 100) {
            snprintf(err, errlen, "rule '%.*s': min_confidence must be 0-100", (int)n, s);
            return BALAI_EINVAL;
        }
        *min_conf = (int)v;
        r->label[0] = '\0';
        return BALAI_OK;
    }
    for (const char *q = eq; q > s; q--)
        if (q[-1] == '.') {
            dot = q - 1;
            break;
        }
    if (!dot) {
        snprintf(err, errlen, "rule '%.*s': expected LABEL.CATEGORY=ACTION", (int)n, s);
        return BALAI_EINVAL;
    }
    llen = (size_t)(dot - s);
    if (llen == 0 || llen > LABEL_MAX) {
        snprintf(err, errlen, "rule '%.*s': the label must be 1-63 characters", (int)n, s);
        return BALAI_EINVAL;
    }
    for (size_t i = 0; i < llen; i++) {
        if (!label_char(s[i]) && !(s[i] == '*' && i + 1 == llen)) {
            snprintf(err, errlen,
                     "rule '%.*s': a label has letters, digits, '-' and '_' (and may end in '*')",
                     (int)n, s);
            return BALAI_EINVAL;
        }
    }
    memcpy(r->label, s, llen);
    r->label[llen] = '\0';
    if ((size_t)(eq - dot - 1) == 1 && dot[1] == '*') {
        r->category = -1;
    } else if (balai_dlp_category_parse(dot + 1, (size_t)(eq - dot - 1), &cat) == BALAI_OK) {
        r->category = (int)cat;
    } else {
        snprintf(err, errlen,
                 "rule '%.*s': unknown category '%.*s' (identity, tax, health, card, bank, "
                 "contact, bulk, other or *)",
                 (int)n, s, (int)(eq - dot - 1), dot + 1);
        return BALAI_EINVAL;
    }
    if (balai_dlp_action_parse(eq + 1, (size_t)(s + n - eq - 1), &act) != BALAI_OK) {
        snprintf(err, errlen,
                 "rule '%.*s': unknown action '%.*s' (allow, audit, mask, warn, block or hold)",
                 (int)n, s, (int)(s + n - eq - 1), eq + 1);
        return BALAI_EINVAL;
    }
    r->action = act;
    return BALAI_OK;
}

int balai_dlp_policy_set(struct balai_dlp_policy *p, const char *rules, char *err, size_t errlen)
{
    struct rule *add = NULL;
    size_t nadd = 0, alloc = 0;
    int min_conf = p->min_confidence;
    char dummy[1];
    int rc = BALAI_OK;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!rules) {
        snprintf(err, errlen, "no rules given");
        return BALAI_EINVAL;
    }
    for (const char *s = rules; *s;) {
        const char *e;
        struct rule r;
        if (is_rule_sep(*s)) {
            s++;
            continue;
        }
        for (e = s; *e && !is_rule_sep(*e); e++)
            ;
        memset(&r, 0, sizeof(r));
        if ((rc = parse_rule(s, (size_t)(e - s), &r, &min_conf, err, errlen)) != BALAI_OK)
            goto out;
        if (r.label[0]) {
            if (nadd == alloc) {
                alloc = alloc ? alloc * 2 : 8;
                add = balai_realloc(add, alloc * sizeof(*add));
            }
            add[nadd++] = r;
        }
        s = e;
    }
    if (nadd) {
        p->rules = balai_realloc(p->rules, (p->n + nadd) * sizeof(*p->rules));
        memcpy(p->rules + p->n, add, nadd * sizeof(*add));
        p->n += nadd;
    }
    p->min_confidence = min_conf;
out:
    free(add);
    return rc;
}
