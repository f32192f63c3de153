/* audit.c: `balai audit verify|list`.
 *
 *   balai audit verify [--data-dir DIR]
 *   balai audit list [--actor USER] [--action NAME] [--target T] [--limit N] [--data-dir DIR]
 *
 * verify proves the audit trail (DESIGN.md §5, docs/audit.md) was not
 * altered: through the running server's unix socket when one runs (actor
 * "cli"), otherwise OFFLINE on the database, the key file and DATA/audit.head
 * while holding the data directory's lock. Exit status 0 when intact, 1 when
 * tampered (a line names the first bad entry), 2 on usage errors and 3 when
 * it could not check at all. list prints entries, newest first (online only). */
#include "balai.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/audit.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"

#define EXIT_TAMPERED 1
#define EXIT_CANNOT 3

static void usage(FILE *out)
{
    fprintf(out, "usage: balai audit verify [--data-dir DIR]\n"
                 "       balai audit list [--actor USER] [--action NAME] [--target T] [--limit N]\n"
                 "                        [--data-dir DIR]\n\n"
                 "verify checks every entry of the audit trail against its chain MAC and the\n"
                 "signed chain head (DIR/audit.head); it works with the server running or\n"
                 "stopped. Exit status: 0 intact, 1 tampered, 3 could not check.\n"
                 "list prints entries newest first (the server must run); action NAME.* matches\n"
                 "by prefix.\n");
}

static int print_report(int ok, long long entries, long long bad_seq, const char *reason)
{
    if (ok) {
        printf("audit trail intact: %lld entries\n", entries);
        return 0;
    }
    if (bad_seq > 0)
        printf("audit trail TAMPERED: first bad entry %lld: %s\n", bad_seq, reason);
    else
        printf("audit trail TAMPERED: %s\n", reason);
    return EXIT_TAMPERED;
}

static int verify_offline(const struct balai_config *cfg)
{
    struct balai_keystore *ks = NULL;
    struct balai_store *st = NULL;
    struct balai_api_audit_report rep;
    uint8_t kek[32], key[32], seed[32], pk[32], sk[64];
    char *path = NULL, *head = NULL;
    int rc = EXIT_CANNOT;

    memset(kek, 0, sizeof(kek));
    memset(key, 0, sizeof(key));
    memset(seed, 0, sizeof(seed));
    memset(sk, 0, sizeof(sk));
    if (balai_crypto_init() != BALAI_OK) {
        balai_cli_fail("cannot initialise the crypto library");
        goto out;
    }
    path = balai_config_path(cfg, cfg->key_file);
    if (balai_keyfile_load(path, kek) != BALAI_OK) {
        balai_cli_fail("cannot load the key file %s", path);
        goto out;
    }
    BALAI_FREE(path);
    path = balai_config_path(cfg, cfg->keystore);
    if (balai_keystore_open(path, kek, 0, &ks) != BALAI_OK) {
        balai_cli_fail("cannot open the keystore %s with this key file", path);
        goto out;
    }
    if (balai_keystore_get(ks, "server:signing-seed", seed) != BALAI_OK) {
        balai_cli_fail("the keystore has no server signing key (has the server ever run?)");
        goto out;
    }
    balai_sign_seed_keypair(seed, pk, sk);
    balai_kdf(kek, BALAI_AUDIT_KDF_LABEL, key);
    BALAI_FREE(path);
    path = balai_config_db_target(cfg);
    struct balai_store_config sc = {cfg->db_backend, path};
    if (balai_store_open(&sc, &st) != BALAI_OK) {
        balai_cli_fail("cannot open the database %s", path);
        goto out;
    }
    head = balai_asprintf("%s/%s", cfg->data_dir, BALAI_AUDIT_HEAD_FILE);
    if (balai_api_audit_verify(st, key, pk, head, &rep) != BALAI_OK) {
        balai_cli_fail("cannot read the audit trail from the database");
        goto out;
    }
    rc = print_report(rep.ok, (long long)rep.entries, (long long)rep.bad_seq, rep.reason);
out:
    balai_wipe(kek, sizeof(kek));
    balai_wipe(key, sizeof(key));
    balai_wipe(seed, sizeof(seed));
    balai_wipe(sk, sizeof(sk));
    balai_store_close(st);
    balai_keystore_free(ks);
    free(head);
    free(path);
    return rc;
}

static void print_error(int status, const char *resp)
{
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
    json_decref(j);
}

static int cmd_verify(const struct balai_config *cfg)
{
    char *resp = NULL;
    json_t *j = NULL;
    int status = 0, rc = EXIT_CANNOT, lock = -1;

    if (balai_cli_request(cfg->data_dir, "GET", "/_balai/admin/v1/audit/verify", NULL, &status,
                          &resp) != BALAI_OK) {
        lock = balai_cli_lock(cfg->data_dir);
        if (lock < 0) {
            balai_cli_fail("a server holds %s but does not answer on its socket; try again",
                           cfg->data_dir);
            goto out;
        }
        rc = verify_offline(cfg);
        goto out;
    }
    if (status != 200) {
        print_error(status, resp);
        goto out;
    }
    j = json_loads(resp, 0, NULL);
    if (!json_is_object(j)) {
        balai_cli_fail("the server's answer is not JSON");
        goto out;
    }
    json_t *bad = json_object_get(j, "first_bad");
    rc = print_report(json_is_true(json_object_get(j, "ok")),
                      (long long)json_integer_value(json_object_get(j, "entries")),
                      (long long)json_integer_value(json_object_get(bad, "seq")),
                      json_string_value(json_object_get(bad, "reason"))
                          ? json_string_value(json_object_get(bad, "reason"))
                          : "?");
out:
    if (lock >= 0)
        close(lock);
    json_decref(j);
    free(resp);
    return rc;
}

/* Appends "&name=value" with the value percent-encoded. */
static void query_add(struct balai_buf *b, const char *name, const char *v)
{
    if (!v)
        return;
    balai_buf_printf(b, "&%s=", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            balai_buf_append_char(b, (char)*p);
        else
            balai_buf_printf(b, "%%%02X", *p);
    }
}

static int cmd_list(const struct balai_config *cfg, const char *actor, const char *action,
                    const char *target, const char *limit)
{
    struct balai_buf path;
    char *resp = NULL;
    json_t *j = NULL, *e;
    size_t i;
    int status = 0, rc = 1;

    balai_buf_init(&path, 0);
    balai_buf_printf(&path, "/_balai/admin/v1/audit?limit=%s", limit ? limit : "50");
    query_add(&path, "actor", actor);
    query_add(&path, "action", action);
    query_add(&path, "target", target);
    if (balai_cli_request(cfg->data_dir, "GET", path.data, NULL, &status, &resp) != BALAI_OK) {
        balai_cli_fail("no server is running on %s; start it with: balai serve --data-dir %s",
                       cfg->data_dir, cfg->data_dir);
        goto out;
    }
    if (status != 200) {
        print_error(status, resp);
        goto out;
    }
    j = json_loads(resp, 0, NULL);
    printf("%-8s %-24s %-32s %-28s %s\n", "SEQ", "TIME (UTC)", "ACTOR", "ACTION", "TARGET");
    json_array_foreach(json_object_get(j, "entries"), i, e)
    {
        time_t t = (time_t)(json_integer_value(json_object_get(e, "ts")) / 1000);
        struct tm tm;
        char when[32];
        const char *tg = json_string_value(json_object_get(e, "target"));
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%-8lld %-24s %-32s %-28s %s\n",
               (long long)json_integer_value(json_object_get(e, "seq")), when,
               json_string_value(json_object_get(e, "actor")),
               json_string_value(json_object_get(e, "action")), tg ? tg : "-");
    }
    rc = 0;
out:
    json_decref(j);
    free(resp);
    balai_buf_release(&path);
    return rc;
}

int balai_cli_audit(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"actor", required_argument, NULL, 'a'},
                                         {"action", required_argument, NULL, 'A'},
                                         {"target", required_argument, NULL, 't'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *actor = NULL, *action = NULL, *target = NULL, *limit = NULL;
    struct balai_config cfg;
    char err[400];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'a':
            actor = optarg;
            break;
        case 'A':
            action = optarg;
            break;
        case 't':
            target = optarg;
            break;
        case 'l':
            limit = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc ||
        (strcmp(argv[optind], "verify") != 0 && strcmp(argv[optind], "list") != 0)) {
        usage(stderr);
        return 2;
    }
    if (limit && strspn(limit, "0123456789") != strlen(limit)) {
        balai_cli_fail("--limit must be a number");
        return 2;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return EXIT_CANNOT;
    }
    if (strcmp(argv[optind], "verify") == 0)
        rc = cmd_verify(&cfg);
    else
        rc = cmd_list(&cfg, actor, action, target, limit);
    balai_config_release(&cfg);
    return rc;
}
