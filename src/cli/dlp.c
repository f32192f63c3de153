/* dlp.c: `balai dlp ...`, the DLP policy, custom detectors and incidents
 * through the running server's unix socket (actor "cli", audited like the
 * admin API; docs/dlp.md).
 *
 *   balai dlp policy show
 *   balai dlp policy set RULES            e.g. "internal.card=block min_confidence=60"
 *   balai dlp detector list
 *   balai dlp detector add NAME (--pattern REGEX | --keywords W1,W2,...) [--category C]
 *   balai dlp detector remove NAME
 *   balai dlp incidents [--label L] [--type T] [--room R] [--user U] [--action A] [--limit N]
 *
 * Every verb takes --data-dir DIR. Exit status 0 on success, 1 when the server
 * refused (its message is printed), 2 on usage errors, 3 when no server runs. */
#include "balai.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NO_SERVER 3
#define DLP "/_balai/admin/v1/dlp"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: balai dlp policy show|set RULES [--data-dir DIR]\n"
            "       balai dlp detector list [--data-dir DIR]\n"
            "       balai dlp detector add NAME (--pattern REGEX | --keywords W1,W2,...)\n"
            "                              [--category CATEGORY] [--data-dir DIR]\n"
            "       balai dlp detector remove NAME [--data-dir DIR]\n"
            "       balai dlp incidents [--label L] [--type T] [--room R] [--user U]\n"
            "                           [--action A] [--limit N] [--data-dir DIR]\n\n"
            "RULES are LABEL.CATEGORY=ACTION separated by spaces (LABEL may be * or end in *;\n"
            "CATEGORY one of identity tax health card bank contact bulk other or *; ACTION one\n"
            "of allow audit mask warn block hold), and min_confidence=N. An empty RULES\n"
            "restores the defaults. The server must run (see docs/dlp.md).\n");
}

/* One request; prints the server's refusal. Returns 0 with *out (may be NULL). */
static int call(const struct balai_config *cfg, const char *method, const char *path, json_t *body,
                json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *resp = NULL;
    int status = 0, rc;

    *out = NULL;
    if (balai_cli_request(cfg->data_dir, method, path, text, &status, &resp) != BALAI_OK) {
        balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                       cfg->data_dir, cfg->data_dir);
        rc = EXIT_NO_SERVER;
        goto out;
    }
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    if (status != 200) {
        const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
        balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
        json_decref(j);
        rc = EXIT_REFUSED;
        goto out;
    }
    *out = j;
    rc = 0;
out:
    free(text);
    free(resp);
    return rc;
}

static void append_enc(struct balai_buf *b, const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            balai_buf_append_char(b, (char)*p);
        else
            balai_buf_printf(b, "%%%02X", *p);
    }
}

/* Appends "&name=value" with the value percent-encoded. */
static void query_add(struct balai_buf *b, const char *name, const char *v)
{
    if (!v)
        return;
    balai_buf_printf(b, "&%s=", name);
    append_enc(b, v);
}

static int policy_show(const struct balai_config *cfg)
{
    json_t *j;
    const char *label, *cat;
    json_t *row, *act;
    int rc = call(cfg, "GET", DLP "/policy", NULL, &j);
    if (rc)
        return rc;
    const char *rules = json_string_value(json_object_get(j, "rules"));
    printf("rules: %s\n\n", rules && *rules ? rules : "(none: the defaults)");
    printf("%-20s", "LABEL");
    row = json_object_get(json_object_get(j, "effective"), "internal");
    json_object_foreach(row, cat, act) printf(" %-9s", cat);
    printf("\n");
    json_object_foreach(json_object_get(j, "effective"), label, row)
    {
        printf("%-20s", label);
        json_object_foreach(row, cat, act) printf(" %-9s", json_string_value(act));
        printf("\n");
    }
    json_decref(j);
    return 0;
}

static int detector_list(const struct balai_config *cfg)
{
    json_t *j, *d;
    size_t i;
    int rc = call(cfg, "GET", DLP "/detectors", NULL, &j);
    if (rc)
        return rc;
    printf("%-24s %-10s %s\n", "NAME", "CATEGORY", "PATTERN / KEYWORDS");
    json_array_foreach(json_object_get(j, "detectors"), i, d)
    {
        const char *pat = json_string_value(json_object_get(d, "pattern"));
        char *kw = pat ? NULL : json_dumps(json_object_get(d, "keywords"), JSON_COMPACT);
        printf("%-24s %-10s %s\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "category")),
               pat  ? pat
               : kw ? kw
                    : "");
        free(kw);
    }
    json_decref(j);
    return 0;
}

static int detector_add(const struct balai_config *cfg, const char *name, const char *pattern,
                        const char *keywords, const char *category)
{
    json_t *body = json_pack("{s:s}", "name", name), *j = NULL;
    if (category)
        json_object_set_new(body, "category", json_string(category));
    if (pattern) {
        json_object_set_new(body, "pattern", json_string(pattern));
    } else {
        json_t *arr = json_array();
        char *copy = balai_strdup(keywords), *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
            json_array_append_new(arr, json_string(w));
        free(copy);
        json_object_set_new(body, "keywords", arr);
    }
    int rc = call(cfg, "POST", DLP "/detectors", body, &j);
    if (!rc)
        printf("detector %s saved\n", name);
    json_decref(body);
    json_decref(j);
    return rc;
}

static int incidents(const struct balai_config *cfg, const char *const *filters, const char *limit)
{
    static const char *const names[] = {"label", "type", "room", "user", "action"};
    struct balai_buf path;
    json_t *j = NULL, *e;
    size_t i;
    int rc;

    balai_buf_init(&path, 0);
    balai_buf_printf(&path, DLP "/incidents?limit=%s", limit ? limit : "50");
    for (size_t k = 0; k < BALAI_ARRAY_LEN(names); k++)
        query_add(&path, names[k], filters[k]);
    rc = call(cfg, "GET", path.data, NULL, &j);
    balai_buf_release(&path);
    if (rc)
        return rc;
    printf("%-7s %-20s %-14s %-7s %-9s %-30s %s\n", "ID", "TIME (UTC)", "LABEL", "ACTION",
           "OUTCOME", "USER", "FINDINGS");
    json_array_foreach(json_object_get(j, "incidents"), i, e)
    {
        time_t t = (time_t)(json_integer_value(json_object_get(e, "ts")) / 1000);
        struct tm tm;
        char when[32];
        struct balai_buf f;
        size_t k;
        json_t *fd;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        balai_buf_init(&f, 0);
        json_array_foreach(json_object_get(e, "findings"), k, fd)
        {
            const char *m = json_string_value(json_object_get(fd, "masked"));
            balai_buf_printf(&f, "%s%s(%s)", k ? " " : "",
                             json_string_value(json_object_get(fd, "type")), m ? m : "");
        }
        printf("%-7lld %-20s %-14s %-7s %-9s %-30s %s\n",
               (long long)json_integer_value(json_object_get(e, "id")), when,
               json_string_value(json_object_get(e, "label")),
               json_string_value(json_object_get(e, "action")),
               json_string_value(json_object_get(e, "outcome")),
               json_string_value(json_object_get(e, "user_id")), f.data ? f.data : "");
        balai_buf_release(&f);
    }
    printf("\n%lld incident(s) match", (long long)json_integer_value(json_object_get(j, "total")));
    const char *key;
    json_t *v;
    printf("; per detector:");
    json_object_foreach(json_object_get(json_object_get(j, "counts"), "detector"), key, v)
        printf(" %s=%lld", key, (long long)json_integer_value(v));
    printf("\n");
    json_decref(j);
    return 0;
}

int balai_cli_dlp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"pattern", required_argument, NULL, 'p'},
        {"keywords", required_argument, NULL, 'k'}, {"category", required_argument, NULL, 'c'},
        {"label", required_argument, NULL, 'L'},    {"type", required_argument, NULL, 'T'},
        {"room", required_argument, NULL, 'R'},     {"user", required_argument, NULL, 'U'},
        {"action", required_argument, NULL, 'A'},   {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *dir = "./data", *pattern = NULL, *keywords = NULL, *category = NULL, *limit = NULL;
    const char *filters[5] = {NULL, NULL, NULL, NULL, NULL};
    struct balai_config cfg;
    char err[400];
    int c, rc = EXIT_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'p':
            pattern = optarg;
            break;
        case 'k':
            keywords = optarg;
            break;
        case 'c':
            category = optarg;
            break;
        case 'L':
            filters[0] = optarg;
            break;
        case 'T':
            filters[1] = optarg;
            break;
        case 'R':
            filters[2] = optarg;
            break;
        case 'U':
            filters[3] = optarg;
            break;
        case 'A':
            filters[4] = optarg;
            break;
        case 'l':
            limit = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1 || (limit && strspn(limit, "0123456789") != strlen(limit))) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return EXIT_NO_SERVER;
    }
    if (strcmp(args[0], "policy") == 0 && nargs == 2 && strcmp(args[1], "show") == 0) {
        rc = policy_show(&cfg);
    } else if (strcmp(args[0], "policy") == 0 && nargs == 3 && strcmp(args[1], "set") == 0) {
        json_t *body = json_pack("{s:s}", "rules", args[2]), *j = NULL;
        rc = call(&cfg, "PUT", DLP "/policy", body, &j);
        json_decref(body);
        json_decref(j);
        if (!rc)
            rc = policy_show(&cfg);
    } else if (strcmp(args[0], "detector") == 0 && nargs == 2 && strcmp(args[1], "list") == 0) {
        rc = detector_list(&cfg);
    } else if (strcmp(args[0], "detector") == 0 && nargs == 3 && strcmp(args[1], "add") == 0 &&
               (!pattern) != (!keywords)) {
        rc = detector_add(&cfg, args[2], pattern, keywords, category);
    } else if (strcmp(args[0], "detector") == 0 && nargs == 3 && strcmp(args[1], "remove") == 0) {
        struct balai_buf path;
        json_t *j = NULL;
        balai_buf_init(&path, 0);
        balai_buf_append_str(&path, DLP "/detectors/");
        append_enc(&path, args[2]);
        rc = call(&cfg, "DELETE", path.data, NULL, &j);
        if (!rc)
            printf("detector %s removed\n", args[2]);
        json_decref(j);
        balai_buf_release(&path);
    } else if (strcmp(args[0], "incidents") == 0 && nargs == 1) {
        rc = incidents(&cfg, filters, limit);
    } else {
        usage(stderr);
    }
    balai_config_release(&cfg);
    return rc;
}
