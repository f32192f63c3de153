/* report.c: the results table (each figure beside its DESIGN.md §8
 * target) and the JSON file. */
#include "balai.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "util/alloc.h"

struct bench_row {
    char *key;
    char *label;
    char *unit;
    char *note;
    double value;
    double target;
    enum bench_goal goal;
};

void bench_report_add(struct bench *b, const char *key, const char *label, double value,
                      const char *unit, enum bench_goal goal, double target, const char *note)
{
    b->rows = balai_realloc(b->rows, (b->nrows + 1) * sizeof(*b->rows));
    struct bench_row *r = &b->rows[b->nrows++];
    r->key = balai_strdup(key);
    r->label = balai_strdup(label);
    r->unit = balai_strdup(unit);
    r->note = note ? balai_strdup(note) : NULL;
    r->value = value;
    r->target = target;
    r->goal = goal;
}

json_t *bench_scenario_json(struct bench *b, const char *name)
{
    json_t *sc = json_object_get(b->json, "scenarios");
    if (!sc) {
        sc = json_object();
        json_object_set_new(b->json, "scenarios", sc);
    }
    json_t *o = json_object_get(sc, name);
    if (!o) {
        o = json_object();
        json_object_set_new(sc, name, o);
    }
    return o;
}

json_t *bench_hist_json(const struct bench_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)h->count, "p50_ms",
                     (double)bench_hist_pct(h, 50) / 1000.0, "p99_ms",
                     (double)bench_hist_pct(h, 99) / 1000.0, "p999_ms",
                     (double)bench_hist_pct(h, 99.9) / 1000.0, "max_ms", (double)h->max / 1000.0,
                     "mean_ms", bench_hist_mean(h) / 1000.0);
}

/* 1234567 -> "1,234,567" */
static void group(double v, char *out, size_t outlen)
{
    char digits[64];
    long long n = llround(v);
    int neg = n < 0;
    snprintf(digits, sizeof(digits), "%lld", neg ? -n : n);
    size_t len = strlen(digits), o = 0;
    if (neg && o + 1 < outlen)
        out[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < outlen; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void format_value(double v, const char *unit, char *out, size_t outlen)
{
    char g[32];
    if (strcmp(unit, "KiB") == 0) {
        snprintf(out, outlen, "%.2f KiB", v);
    } else if (strcmp(unit, "MB") == 0) {
        snprintf(out, outlen, "%.1f MB", v);
    } else if (strcmp(unit, "ms") == 0) {
        snprintf(out, outlen, v < 10 ? "%.2f ms" : "%.1f ms", v);
    } else if (strcmp(unit, "%") == 0) {
        snprintf(out, outlen, "%.1f %%", v);
    } else if (strcmp(unit, "/s") == 0 && v < 100) {
        snprintf(out, outlen, "%.2f/s", v);
    } else if (strcmp(unit, "/s") == 0) {
        group(v, g, sizeof(g));
        snprintf(out, outlen, "%s/s", g);
    } else {
        group(v, g, sizeof(g));
        snprintf(out, outlen, "%s%s%s", g, *unit ? " " : "", unit);
    }
}

/* >= 1 meets the target, whichever direction it points. */
static double ratio_of(const struct bench_row *r)
{
    if (r->goal == BENCH_AT_LEAST)
        return r->target > 0 ? r->value / r->target : 0;
    if (r->goal == BENCH_AT_MOST)
        return r->value > 0 ? r->target / r->value : INFINITY;
    return NAN;
}

void bench_report_print(const struct bench *b)
{
    char val[64], tgt[80], rat[32];
    int other = 0;

    printf("\n%-58s %14s %14s %12s\n", "figure", "measured", "DESIGN target", "ratio");
    printf("%.58s %.14s %.14s %.12s\n",
           "----------------------------------------------------------------------",
           "--------------------", "--------------------", "--------------------");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < b->nrows; i++) {
            const struct bench_row *r = &b->rows[i];
            if ((r->goal == BENCH_NO_TARGET) != (pass == 1))
                continue;
            if (pass == 1 && !other) {
                printf("\nother figures (no DESIGN.md target)\n");
                other = 1;
            }
            format_value(r->value, r->unit, val, sizeof(val));
            if (r->goal == BENCH_NO_TARGET) {
                printf("%-58s %14s\n", r->label, val);
            } else {
                char t[48];
                format_value(r->target, r->unit, t, sizeof(t));
                snprintf(tgt, sizeof(tgt), "%s %s", r->goal == BENCH_AT_LEAST ? ">=" : "<=", t);
                double q = ratio_of(r);
                if (isinf(q))
                    snprintf(rat, sizeof(rat), "inf  ok");
                else
                    snprintf(rat, sizeof(rat), "%.2f %s", q, q >= 1.0 ? "  ok" : "MISS");
                printf("%-58s %14s %14s %12s\n", r->label, val, tgt, rat);
            }
            if (r->note)
                printf("    %s\n", r->note);
        }
    }
    printf("\nratio: measured against target, >= 1.00 meets it (inverted for <= targets)\n");
}

static int mkdir_parents(const char *path)
{
    char *p = balai_strdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return BALAI_EIO;
        }
        *s = '/';
    }
    free(p);
    return BALAI_OK;
}

static void md_rows(FILE *f, const struct bench *b, int targets)
{
    char val[64], tgt[80];
    for (size_t i = 0; i < b->nrows; i++) {
        const struct bench_row *r = &b->rows[i];
        if ((r->goal != BENCH_NO_TARGET) != targets)
            continue;
        format_value(r->value, r->unit, val, sizeof(val));
        if (targets) {
            char t[48];
            double q = ratio_of(r);
            format_value(r->target, r->unit, t, sizeof(t));
            snprintf(tgt, sizeof(tgt), "%s %s", r->goal == BENCH_AT_LEAST ? "≥" : "≤", t);
            if (isinf(q))
                fprintf(f, "| %s | %s | %s | inf, meets | %s |\n", r->label, val, tgt,
                        r->note ? r->note : "");
            else
                fprintf(f, "| %s | %s | %s | %.2f%s | %s |\n", r->label, val, tgt, q,
                        q >= 1.0 ? ", meets" : ", **misses**", r->note ? r->note : "");
        } else {
            fprintf(f, "| %s | %s | %s |\n", r->label, val, r->note ? r->note : "");
        }
    }
}

/* path.json -> path.md */
static int write_markdown(const struct bench *b, const char *json_path)
{
    size_t n = strlen(json_path);
    char *path = n > 5 && strcmp(json_path + n - 5, ".json") == 0
                     ? balai_asprintf("%.*s.md", (int)(n - 5), json_path)
                     : balai_asprintf("%s.md", json_path);
    FILE *f = fopen(path, "w");
    free(path);
    if (!f)
        return BALAI_EIO;
    const char *started = json_string_value(json_object_get(b->json, "started"));
    const char *mode = json_string_value(json_object_get(b->json, "mode"));
    const char *commit = json_string_value(json_object_get(b->json, "commit"));
    fprintf(f, "Run: %s, %s set, commit %s, server pinned to CPU %s, generator to CPU %s.\n\n",
            started ? started : "?", mode ? mode : "?", commit ? commit : "unknown",
            b->o.no_pin ? "(none)" : "0", b->o.no_pin ? "(none)" : "1");
    fprintf(f, "| figure | measured | DESIGN.md target | ratio | conditions |\n"
               "| --- | ---: | ---: | ---: | --- |\n");
    md_rows(f, b, 1);
    fprintf(f, "\nOther figures (no DESIGN.md target):\n\n| figure | measured | conditions |\n"
               "| --- | ---: | --- |\n");
    md_rows(f, b, 0);
    if (b->other_max > 10)
        fprintf(f,
                "\nOther processes used up to %.0f%% of a core during a measurement window "
                "of this run.\n",
                b->other_max);
    return fclose(f) == 0 ? BALAI_OK : BALAI_EIO;
}

int bench_report_write(struct bench *b)
{
    json_t *table = json_array();
    for (size_t i = 0; i < b->nrows; i++) {
        const struct bench_row *r = &b->rows[i];
        json_t *o = json_pack("{s:s, s:s, s:f, s:s}", "key", r->key, "label", r->label, "value",
                              r->value, "unit", r->unit);
        if (r->goal != BENCH_NO_TARGET) {
            double q = ratio_of(r);
            json_object_set_new(o, "goal",
                                json_string(r->goal == BENCH_AT_LEAST ? "at_least" : "at_most"));
            json_object_set_new(o, "target", json_real(r->target));
            json_object_set_new(o, "ratio", isinf(q) ? json_null() : json_real(q));
            json_object_set_new(o, "meets", json_boolean(q >= 1.0));
        }
        if (r->note)
            json_object_set_new(o, "note", json_string(r->note));
        json_array_append_new(table, o);
    }
    json_object_set_new(b->json, "table", table);
    if (!b->o.json_path)
        return BALAI_OK;
    if (mkdir_parents(b->o.json_path) != BALAI_OK ||
        json_dump_file(b->json, b->o.json_path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
        fprintf(stderr, "balai-bench: cannot write %s\n", b->o.json_path);
        return BALAI_EIO;
    }
    if (write_markdown(b, b->o.json_path) != BALAI_OK) {
        fprintf(stderr, "balai-bench: cannot write the Markdown table beside %s\n", b->o.json_path);
        return BALAI_EIO;
    }
    return BALAI_OK;
}

void bench_report_free(struct bench *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        free(b->rows[i].key);
        free(b->rows[i].label);
        free(b->rows[i].unit);
        free(b->rows[i].note);
    }
    BALAI_FREE(b->rows);
    b->nrows = 0;
}
