/* offboard.c: `balai user offboard USER [--reason TEXT]` and
 * `balai offboarding verify FILE|USER`.
 *
 *   balai user offboard NAME [--reason TEXT] [--data-dir DIR]
 *       offboards NAME through the running server (api/offboard.h) and
 *       prints a summary of the signed record;
 *   balai offboarding verify FILE|NAME [--public-key BASE64] [--data-dir DIR]
 *       checks the Ed25519 signature of an offboarding record: the JSON in
 *       FILE (as saved from the admin API), or NAME's record fetched from
 *       the running server. The public key is the server's (from
 *       GET /_balai/admin/v1/server/keys on its socket), or --public-key.
 *       Exit 0 when the signature verifies, 1 when not. */
#include "balai.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "api/offboard.h"
#include "cli/cli.h"
#include "core/ids.h"
#include "crypto/crypto.h"
#include "util/alloc.h"

static const char *str_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static void print_error(int status, const char *resp)
{
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
    json_decref(j);
}

/* One request to the running server; 0 and *out (caller frees) on a 200. */
static int online(const struct balai_config *cfg, const char *method, const char *path,
                  const char *body, json_t **out)
{
    char *resp = NULL;
    int status = 0;

    if (balai_cli_request(cfg->data_dir, method, path, body, &status, &resp) != BALAI_OK) {
        balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                       cfg->data_dir, cfg->data_dir);
        return 1;
    }
    if (status != 200) {
        print_error(status, resp);
        free(resp);
        return 1;
    }
    *out = json_loads(resp, 0, NULL);
    free(resp);
    if (!*out)
        balai_cli_fail("the server's answer is not JSON");
    return *out ? 0 : 1;
}

static void print_summary(const json_t *rec)
{
    json_t *left = json_object_get(rec, "rooms_left"),
           *failed = json_object_get(rec, "rooms_failed");
    const char *reason = json_string_value(json_object_get(rec, "reason"));

    printf("offboarded %s\n", json_string_value(json_object_get(rec, "user_id")));
    printf("  by %s%s%s\n", json_string_value(json_object_get(rec, "actor")),
           reason ? ", reason: " : "", reason ? reason : "");
    printf("  tokens revoked: %lld, devices removed: %lld\n",
           (long long)json_integer_value(json_object_get(rec, "tokens_revoked")),
           (long long)json_integer_value(json_object_get(rec, "devices_removed")));
    printf("  rooms left: %zu%s, stewardships passed on: %lld\n", json_array_size(left),
           json_array_size(failed) ? " (some rooms failed: see the record)" : "",
           (long long)json_integer_value(json_object_get(rec, "stewardships_passed")));
    printf("  legal hold: %s\n", json_is_true(json_object_get(rec, "legal_hold")) ? "yes" : "no");
}

int balai_cli_user_offboard(const struct balai_config *cfg, const char *name, const char *reason)
{
    char *user_id = NULL, *path = NULL, *body = NULL;
    json_t *j = NULL, *b = NULL;
    int rc = 1;

    if (balai_id_user_normalise(name, cfg->server_name, &user_id) != BALAI_OK) {
        balai_cli_fail("invalid user name '%s'", name);
        goto out;
    }
    path = balai_asprintf("/_balai/admin/v1/users/%s/offboard", user_id);
    b = reason ? json_pack("{s:s}", "reason", reason) : json_object();
    body = json_dumps(b, JSON_COMPACT);
    rc = online(cfg, "POST", path, body, &j);
    if (rc == 0)
        print_summary(j);
out:
    json_decref(j);
    json_decref(b);
    free(body);
    free(path);
    free(user_id);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: balai offboarding verify FILE|NAME [--public-key BASE64] "
                 "[--data-dir DIR]\n\n"
                 "Checks the server's Ed25519 signature on an offboarding record: the JSON in\n"
                 "FILE, or the record of user NAME fetched from the running server. The public\n"
                 "key comes from the running server unless --public-key gives it.\n");
}

static json_t *read_file(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);

    if (!j)
        balai_cli_fail("%s: not a JSON record (line %d: %s)", path, e.line, e.text);
    return j;
}

/* The key id the record is signed with (the first under its server). */
static const char *signed_key_id(const json_t *rec, const char *server)
{
    json_t *sigs = json_object_get(json_object_get(rec, "signatures"), server);
    const char *key;
    json_t *v;

    json_object_foreach(sigs, key, v)
    {
        if (strncmp(key, "ed25519:", 8) == 0)
            return key;
    }
    return NULL;
}

int balai_cli_offboarding(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"public-key", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *pk64 = NULL;
    struct balai_config cfg;
    int have_cfg = 0, c, rc = 1;
    char err[400];
    json_t *rec = NULL, *keys = NULL;
    char *user_id = NULL, *path = NULL;
    uint8_t *pk = NULL;
    size_t pklen = 0;
    struct stat st;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'k':
            pk64 = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "verify") != 0) {
        usage(stderr);
        return 2;
    }
    const char *what = argv[optind + 1];
    int is_file = stat(what, &st) == 0 && S_ISREG(st.st_mode);
    if (!is_file || !pk64) {
        if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
            balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
            balai_cli_fail("%s", err);
            balai_config_release(&cfg);
            return 1;
        }
        have_cfg = 1;
    }
    if (is_file) {
        rec = read_file(what);
        if (!rec)
            goto out;
    } else {
        if (balai_id_user_normalise(what, cfg.server_name, &user_id) != BALAI_OK) {
            balai_cli_fail("'%s' is neither a file nor a user name", what);
            goto out;
        }
        path = balai_asprintf("/_balai/admin/v1/users/%s/offboarding", user_id);
        if (online(&cfg, "GET", path, NULL, &rec) != 0)
            goto out;
    }
    const char *server = json_string_value(json_object_get(rec, "server_name"));
    const char *key_id = server ? signed_key_id(rec, server) : NULL;
    if (!json_is_object(rec) || !server || !key_id ||
        strcmp(str_or(json_string_value(json_object_get(rec, "type")), ""),
               BALAI_OFFBOARD_RECORD_TYPE) != 0) {
        balai_cli_fail("not a signed offboarding record (no type %s, server_name or ed25519 "
                       "signature)",
                       BALAI_OFFBOARD_RECORD_TYPE);
        goto out;
    }
    if (!pk64) {
        if (online(&cfg, "GET", "/_balai/admin/v1/server/keys", NULL, &keys) != 0)
            goto out;
        if (strcmp(str_or(json_string_value(json_object_get(keys, "server_name")), ""), server) !=
            0) {
            balai_cli_fail("the record is of server %s, the running server is %s", server,
                           json_string_value(json_object_get(keys, "server_name")));
            goto out;
        }
        pk64 = json_string_value(
            json_object_get(json_object_get(json_object_get(keys, "verify_keys"), key_id), "key"));
        if (!pk64) {
            balai_cli_fail("the server has no key %s", key_id);
            goto out;
        }
    }
    if (balai_base64_decode(pk64, strlen(pk64), &pk, &pklen) != BALAI_OK ||
        pklen != BALAI_SIGN_PUBLICKEYBYTES) {
        balai_cli_fail("the public key is not 32 bytes of base64");
        goto out;
    }
    int v = balai_api_offboard_verify(rec, server, key_id, pk);
    if (v != BALAI_OK) {
        balai_cli_fail("the offboarding record of %s does NOT verify: %s",
                       str_or(json_string_value(json_object_get(rec, "user_id")), "?"),
                       v == BALAI_ECRYPTO ? "the signature does not match (altered?)"
                                          : "malformed signature");
        goto out;
    }
    printf("OK: the offboarding record of %s is signed by %s (%s)\n",
           json_string_value(json_object_get(rec, "user_id")), server, key_id);
    print_summary(rec);
    rc = 0;
out:
    free(pk);
    free(path);
    free(user_id);
    json_decref(rec);
    json_decref(keys);
    if (have_cfg)
        balai_config_release(&cfg);
    return rc;
}
