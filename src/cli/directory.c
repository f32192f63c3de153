/* directory.c: `balai directory import FILE.csv [--dry-run] [--deactivate-missing]`.
 *
 * Sends the file to the running server (DATA/balai.sock, the admin endpoint
 * POST /_balai/admin/v1/directory/import, docs/directory.md) and prints the
 * diff: "+" added, "~" changed (field: old -> new), "-" deactivated, and
 * accounts missing from the file. A dry run changes nothing; otherwise the
 * whole file is applied in one transaction. Bad rows are printed with their
 * line numbers and nothing is applied (exit 1). Needs a running server. */
#include "balai.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"

#define MAX_FILE (16u << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: balai directory import FILE.csv [--dry-run] [--deactivate-missing]\n"
            "                                       [--data-dir DIR]\n\n"
            "Imports the organisation directory from a CSV file into the running server.\n"
            "Header columns: username (required), display_name, email, employee_number,\n"
            "unit, title, manager, site, status, working_hours, guest, sponsor, expiry,\n"
            "role. --dry-run prints the changes without making them. --deactivate-missing\n"
            "deactivates accounts that are not in the file (owners excepted). See\n"
            "docs/directory.md.\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct balai_buf b;
    char chunk[8192];
    size_t n;

    if (!f)
        return NULL;
    balai_buf_init(&b, MAX_FILE);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (balai_buf_append(&b, chunk, n) != BALAI_OK) {
            errno = EFBIG;
            fclose(f);
            balai_buf_release(&b);
            return NULL;
        }
    }
    fclose(f);
    if (!b.data)
        balai_buf_append(&b, "", 0);
    return balai_buf_detach(&b, len);
}

static void print_value(json_t *v)
{
    if (json_is_string(v))
        printf("\"%s\"", json_string_value(v));
    else if (json_is_null(v))
        printf("(none)");
    else if (json_is_boolean(v))
        printf("%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        printf("%lld", (long long)json_integer_value(v));
}

static void print_diff(json_t *j, int dry)
{
    size_t i;
    json_t *x, *v;
    const char *k;

    json_array_foreach(json_object_get(j, "units_created"), i, x)
    {
        printf("+ unit %s (%s)\n", json_string_value(json_object_get(x, "unit_id")),
               json_string_value(json_object_get(x, "path")));
    }
    json_array_foreach(json_object_get(j, "added"), i, x)
    {
        printf("+ %s (line %lld)", json_string_value(json_object_get(x, "user_id")),
               (long long)json_integer_value(json_object_get(x, "line")));
        json_object_foreach(json_object_get(x, "attributes"), k, v)
        {
            printf(" %s=", k);
            print_value(v);
        }
        printf("\n");
    }
    json_array_foreach(json_object_get(j, "changed"), i, x)
    {
        printf("~ %s (line %lld)\n", json_string_value(json_object_get(x, "user_id")),
               (long long)json_integer_value(json_object_get(x, "line")));
        json_object_foreach(json_object_get(x, "changes"), k, v)
        {
            printf("    %s: ", k);
            print_value(json_object_get(v, "old"));
            printf(" -> ");
            print_value(json_object_get(v, "new"));
            printf("\n");
        }
    }
    json_array_foreach(json_object_get(j, "deactivated"), i, x)
    {
        printf("- %s (deactivated: not in the file)\n", json_string_value(x));
    }
    size_t missing = json_array_size(json_object_get(j, "missing"));
    json_array_foreach(json_object_get(j, "missing"), i, x)
    {
        printf("? %s (not in the file; kept)\n", json_string_value(x));
    }
    printf("%zu added, %zu changed, %zu deactivated, %lld unchanged, %zu units created",
           json_array_size(json_object_get(j, "added")),
           json_array_size(json_object_get(j, "changed")),
           json_array_size(json_object_get(j, "deactivated")),
           (long long)json_integer_value(json_object_get(j, "unchanged")),
           json_array_size(json_object_get(j, "units_created")));
    if (missing)
        printf(", %zu not in the file (use --deactivate-missing to deactivate them)", missing);
    printf(dry ? ".\nDry run: nothing was changed.\n" : ".\nApplied.\n");
}

static int cmd_import(const struct balai_config *cfg, const char *file, int dry, int deact)
{
    char *csv = NULL, *body = NULL, *resp = NULL, path[160];
    size_t len = 0;
    int status = 0, rc = 1;
    json_t *j = NULL, *req = NULL;

    csv = read_file(file, &len);
    if (!csv) {
        balai_cli_fail("cannot read %s: %s", file, strerror(errno));
        goto out;
    }
    req = json_object();
    json_object_set_new(req, "csv", json_stringn(csv, len));
    if (!json_object_get(req, "csv") || json_is_null(json_object_get(req, "csv"))) {
        balai_cli_fail("%s is not UTF-8 text", file);
        goto out;
    }
    body = json_dumps(req, JSON_COMPACT);
    snprintf(path, sizeof(path), "/_balai/admin/v1/directory/import?dry_run=%s%s",
             dry ? "true" : "false", deact ? "&deactivate_missing=true" : "");
    if (balai_cli_request(cfg->data_dir, "POST", path, body, &status, &resp) != BALAI_OK) {
        balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                       cfg->data_dir, cfg->data_dir);
        goto out;
    }
    j = json_loads(resp ? resp : "", 0, NULL);
    if (status != 200) {
        size_t i;
        json_t *e;
        const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
        balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
        json_array_foreach(json_object_get(j, "errors"), i, e)
        {
            fprintf(stderr, "%s: line %lld: %s\n", file,
                    (long long)json_integer_value(json_object_get(e, "line")),
                    json_string_value(json_object_get(e, "error")));
        }
        goto out;
    }
    if (!j) {
        balai_cli_fail("the server's answer is not JSON");
        goto out;
    }
    print_diff(j, dry);
    rc = 0;
out:
    json_decref(j);
    json_decref(req);
    free(csv);
    free(body);
    free(resp);
    return rc;
}

int balai_cli_directory(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"deactivate-missing", no_argument, NULL, 'x'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data";
    int dry = 0, deact = 0, c, rc;
    struct balai_config cfg;
    char err[400];

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            dry = 1;
            break;
        case 'x':
            deact = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "import") != 0) {
        usage(stderr);
        return 2;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return 1;
    }
    rc = cmd_import(&cfg, argv[optind + 1], dry, deact);
    balai_config_release(&cfg);
    return rc;
}
