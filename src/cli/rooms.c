/* rooms.c: `balai rooms list|archive|unarchive`: the organisation's rooms.
 *
 *   balai rooms list [--format json|csv|xlsx] [--out FILE] [--stale-days N]
 *                    [--only stale|orphaned|understaffed] [--data-dir DIR]
 *   balai rooms archive|unarchive ROOM_ID [--data-dir DIR]
 *
 * Online only: through the running server's unix socket (actor "cli"). The
 * inventory comes from GET /_balai/admin/v1/rooms (docs/rooms.md); for
 * xlsx the CLI fetches the JSON rows and writes the workbook itself (the
 * same writer the server uses), so --out is required for xlsx. */
#include "balai.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/org_rooms.h"
#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_CANNOT 3

static void usage(FILE *out)
{
    fprintf(out,
            "usage: balai rooms list [--format json|csv|xlsx] [--out FILE] [--stale-days N]\n"
            "                        [--only stale|orphaned|understaffed] [--data-dir DIR]\n"
            "       balai rooms archive|unarchive ROOM_ID [--data-dir DIR]\n\n"
            "list prints the inventory of the organisation's rooms (members, stewards, label,\n"
            "owning unit, last activity; stale, orphaned and understaffed flags) to stdout or\n"
            "FILE; xlsx needs --out. archive makes a room read-only (history kept); unarchive\n"
            "undoes it. The server must be running.\n");
}

static void print_error(int status, const char *resp)
{
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
    json_decref(j);
}

static int no_server(const struct balai_config *cfg)
{
    balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                   cfg->data_dir, cfg->data_dir);
    return EXIT_CANNOT;
}

static int write_out(const char *out, const char *data, size_t len)
{
    FILE *f = out ? fopen(out, "wb") : stdout;
    if (!f) {
        balai_cli_fail("cannot write %s", out);
        return EXIT_FAILED;
    }
    int ok = fwrite(data, 1, len, f) == len;
    if (out)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok) {
        balai_cli_fail("cannot write %s", out ? out : "the output");
        return EXIT_FAILED;
    }
    return 0;
}

static int cmd_list(const struct balai_config *cfg, const char *format, const char *out,
                    const char *stale_days, const char *only)
{
    struct balai_buf path;
    char *resp = NULL;
    json_t *j = NULL;
    int status = 0, rc = EXIT_FAILED;
    int xlsx = strcmp(format, "xlsx") == 0;

    balai_buf_init(&path, 0);
    balai_buf_printf(&path, "/_balai/admin/v1/rooms?format=%s", xlsx ? "json" : format);
    if (stale_days)
        balai_buf_printf(&path, "&stale_days=%s", stale_days);
    if (only)
        balai_buf_printf(&path, "&only=%s", only);
    if (balai_cli_request(cfg->data_dir, "GET", path.data, NULL, &status, &resp) != BALAI_OK) {
        rc = no_server(cfg);
        goto out;
    }
    if (status != 200) {
        print_error(status, resp);
        goto out;
    }
    if (!xlsx) {
        rc = write_out(out, resp, strlen(resp));
        goto out;
    }
    j = json_loads(resp, 0, NULL);
    if (!json_is_array(json_object_get(j, "rooms"))) {
        balai_cli_fail("the server's answer is not the room inventory");
        goto out;
    }
    if (balai_api_rooms_xlsx_write(json_object_get(j, "rooms"), out) != BALAI_OK) {
        balai_cli_fail("cannot write %s", out);
        goto out;
    }
    rc = 0;
out:
    json_decref(j);
    free(resp);
    balai_buf_release(&path);
    return rc;
}

static int cmd_archive(const struct balai_config *cfg, const char *room_id, int archive)
{
    struct balai_buf path;
    char *resp = NULL;
    int status = 0, rc = EXIT_FAILED;

    balai_buf_init(&path, 0);
    balai_buf_append_str(&path, "/_balai/admin/v1/rooms/");
    for (const unsigned char *p = (const unsigned char *)room_id; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            balai_buf_append_char(&path, (char)*p);
        else
            balai_buf_printf(&path, "%%%02X", *p);
    }
    balai_buf_append_str(&path, archive ? "/archive" : "/unarchive");
    if (balai_cli_request(cfg->data_dir, "POST", path.data, "{}", &status, &resp) != BALAI_OK) {
        rc = no_server(cfg);
        goto out;
    }
    if (status != 200) {
        print_error(status, resp);
        goto out;
    }
    printf("%s %s\n", room_id, archive ? "archived" : "unarchived");
    rc = 0;
out:
    free(resp);
    balai_buf_release(&path);
    return rc;
}

int balai_cli_rooms(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"stale-days", required_argument, NULL, 's'},
                                         {"only", required_argument, NULL, 'O'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *format = "json", *out = NULL, *stale = NULL, *only = NULL;
    struct balai_config cfg;
    char err[400];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            stale = optarg;
            break;
        case 'O':
            only = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    int list = strcmp(cmd, "list") == 0;
    int arch = strcmp(cmd, "archive") == 0, unarch = strcmp(cmd, "unarchive") == 0;
    if ((list && optind + 1 != argc) || ((arch || unarch) && optind + 2 != argc) ||
        (!list && !arch && !unarch)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "xlsx") != 0) {
        balai_cli_fail("--format must be json, csv or xlsx");
        return EXIT_USAGE;
    }
    if (strcmp(format, "xlsx") == 0 && !out) {
        balai_cli_fail("--format xlsx needs --out FILE");
        return EXIT_USAGE;
    }
    if (stale && (!*stale || strspn(stale, "0123456789") != strlen(stale))) {
        balai_cli_fail("--stale-days must be a number of days");
        return EXIT_USAGE;
    }
    if (only && strcmp(only, "stale") != 0 && strcmp(only, "orphaned") != 0 &&
        strcmp(only, "understaffed") != 0) {
        balai_cli_fail("--only must be stale, orphaned or understaffed");
        return EXIT_USAGE;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return EXIT_CANNOT;
    }
    if (list)
        rc = cmd_list(&cfg, format, out, stale, only);
    else
        rc = cmd_archive(&cfg, argv[optind + 1], arch);
    balai_config_release(&cfg);
    return rc;
}
