/* scim.c: `balai scim token create|list|revoke`, the SCIM provisioning
 * tokens (docs/scim.md).
 *
 *   balai scim token create [--name NAME] [--data-dir DIR]
 *   balai scim token list [--data-dir DIR]
 *   balai scim token revoke TOKEN_ID [--data-dir DIR]
 *
 * Through the running server's unix socket (actor "cli" in the audit
 * trail). create prints the token once: it is stored only as a hash. */
#include "balai.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/alloc.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: balai scim token create [--name NAME] [--data-dir DIR]\n"
                 "       balai scim token list [--data-dir DIR]\n"
                 "       balai scim token revoke TOKEN_ID [--data-dir DIR]\n\n"
                 "create prints a new SCIM provisioning token (once: only its hash is kept);\n"
                 "give it to the identity provider (Okta, Entra ID) with the base URL\n"
                 "https://SERVER/scim/v2. The server must be running.\n");
}

/* One request; 0 with *out (caller frees) on HTTP 200, 1 after printing why not. */
static int call(const struct balai_config *cfg, const char *method, const char *path,
                const char *body, json_t **out)
{
    char *resp = NULL;
    int status = 0;

    *out = NULL;
    if (balai_cli_request(cfg->data_dir, method, path, body, &status, &resp) != BALAI_OK) {
        balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                       cfg->data_dir, cfg->data_dir);
        return 1;
    }
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    if (status != 200) {
        const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
        balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
        json_decref(j);
        free(resp);
        return 1;
    }
    free(resp);
    if (!j) {
        balai_cli_fail("the server's answer is not JSON");
        return 1;
    }
    *out = j;
    return 0;
}

static void print_time(long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
    printf("%-21s", buf);
}

static int cmd_create(const struct balai_config *cfg, const char *name)
{
    json_t *req = json_object(), *j = NULL;
    char *body;
    int rc;

    if (name)
        json_object_set_new(req, "name", json_string(name));
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rc = call(cfg, "POST", "/_balai/admin/v1/scim/tokens", body, &j);
    free(body);
    if (rc == 0) {
        printf("%s\n", json_string_value(json_object_get(j, "token")));
        fprintf(stderr,
                "SCIM token %s (%s) created. It is shown only now: store it in the identity "
                "provider.\n",
                json_string_value(json_object_get(j, "token_id")),
                json_string_value(json_object_get(j, "name")));
    }
    json_decref(j);
    return rc;
}

static int cmd_list(const struct balai_config *cfg)
{
    json_t *j = NULL, *t;
    size_t i;
    int rc = call(cfg, "GET", "/_balai/admin/v1/scim/tokens", NULL, &j);

    if (rc != 0)
        return rc;
    printf("%-14s %-21s %s\n", "ID", "CREATED", "NAME");
    json_array_foreach(json_object_get(j, "tokens"), i, t)
    {
        printf("%-14s ", json_string_value(json_object_get(t, "token_id")));
        print_time((long long)json_integer_value(json_object_get(t, "created_ts")));
        printf(" %s\n", json_string_value(json_object_get(t, "name")));
    }
    json_decref(j);
    return 0;
}

static int cmd_revoke(const struct balai_config *cfg, const char *id)
{
    json_t *j = NULL;
    char *path;
    int rc;

    for (const char *c = id; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) {
            balai_cli_fail("'%s' is not a token id (see balai scim token list)", id);
            return 1;
        }
    }
    path = balai_asprintf("/_balai/admin/v1/scim/tokens/%s", id);
    rc = call(cfg, "DELETE", path, NULL, &j);
    free(path);
    if (rc == 0)
        printf("revoked %s\n", id);
    json_decref(j);
    return rc;
}

int balai_cli_scim(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *name = NULL;
    struct balai_config cfg;
    char err[400];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int nargs = argc - optind;
    if (nargs < 2 || strcmp(argv[optind], "token") != 0) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind + 1];
    if (!((strcmp(verb, "create") == 0 && nargs == 2) || (strcmp(verb, "list") == 0 && nargs == 2) ||
          (strcmp(verb, "revoke") == 0 && nargs == 3))) {
        usage(stderr);
        return 2;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return 1;
    }
    if (strcmp(verb, "create") == 0)
        rc = cmd_create(&cfg, name);
    else if (strcmp(verb, "list") == 0)
        rc = cmd_list(&cfg);
    else
        rc = cmd_revoke(&cfg, argv[optind + 2]);
    balai_config_release(&cfg);
    return rc;
}
