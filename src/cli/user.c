/* user.c: `balai user add|list|deactivate`.
 *
 *   balai user add NAME [--admin] [--displayname TEXT] --password-stdin --data-dir DIR
 *   balai user list [--data-dir DIR]
 *   balai user deactivate NAME [--data-dir DIR]
 *   balai user offboard NAME [--reason TEXT] [--data-dir DIR]   (cli/offboard.c)
 *
 * Through the running server's unix socket when one runs; `add` also works
 * on the database directly when none does. */
#include "balai.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/ids.h"
#include "core/password.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: balai user add NAME [--admin] [--displayname TEXT] --password-stdin "
                 "--data-dir DIR\n"
                 "       balai user list [--data-dir DIR]\n"
                 "       balai user deactivate NAME [--data-dir DIR]\n"
                 "       balai user offboard NAME [--reason TEXT] [--data-dir DIR]\n\n"
                 "add prints the new user's Matrix id (@NAME:SERVER). The password is read from\n"
                 "standard input so that it never appears in the process list or shell history.\n");
}

/* Prints the server's error answer. */
static void print_error(int status, const char *resp)
{
    json_t *j = json_loads(resp ? resp : "", 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    balai_cli_fail("the server refused (HTTP %d): %s", status, msg ? msg : resp);
    json_decref(j);
}

struct add_op {
    struct balai_store_op op;
    struct balai_user_rec rec;
};

static int add_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    return balai_store_txn_user_insert(t, &((struct add_op *)op)->rec);
}

static int add_offline(const struct balai_config *cfg, const char *user_id, const char *pw,
                       const char *displayname, int admin)
{
    struct balai_store *st = NULL;
    struct balai_pwhash_cost cost;
    struct add_op op;
    char hash[BALAI_PWHASH_STRBYTES];
    char *db = balai_config_db_target(cfg), *sn = NULL, *lp = NULL;
    int rc = 1;

    memset(&op, 0, sizeof(op));
    struct balai_store_config sc = {cfg->db_backend, db};
    if (balai_store_open(&sc, &st) != BALAI_OK) {
        balai_cli_fail("cannot open the database %s", db);
        goto out;
    }
    if (balai_store_meta_get(st, "server_name", &sn) != BALAI_OK ||
        strcmp(sn, cfg->server_name) != 0) {
        balai_cli_fail("the database belongs to server '%s', the configuration says '%s'",
                       sn ? sn : "?", cfg->server_name);
        goto out;
    }
    if (balai_pwhash_cost_parse(cfg->password_hash_cost, &cost) != BALAI_OK ||
        balai_pwhash(pw, strlen(pw), &cost, hash) != BALAI_OK) {
        balai_cli_fail("cannot hash the password");
        goto out;
    }
    op.rec.user_id = user_id;
    op.rec.password_hash = hash;
    op.rec.admin = admin;
    /* without one, the display name is the localpart, as clients expect */
    lp = displayname ? NULL : balai_id_localpart(user_id);
    op.rec.displayname = displayname ? displayname : lp;
    op.rec.created_ts = balai_now_ms();
    op.op.apply = add_apply;
    if (balai_store_exec(st, &op.op) != BALAI_OK) {
        if (op.op.rc == BALAI_EEXIST)
            balai_cli_fail("the user %s already exists", user_id);
        else
            balai_cli_fail("cannot store the user: %s", balai_strerror(op.op.rc));
        goto out;
    }
    printf("%s\n", user_id);
    rc = 0;
out:
    balai_wipe(hash, sizeof(hash));
    free(lp);
    free(sn);
    free(db);
    balai_store_close(st);
    return rc;
}

static int cmd_add(const struct balai_config *cfg, const char *name, int admin, int pw_stdin,
                   const char *displayname)
{
    char *user_id = NULL, *pw = NULL, *body = NULL, *resp = NULL;
    char err[200];
    int status = 0, rc = 1, lock = -1;

    if (!pw_stdin) {
        balai_cli_fail("--password-stdin is required (the password is read from standard input)");
        return 2;
    }
    if (balai_id_user_normalise(name, cfg->server_name, &user_id) != BALAI_OK) {
        balai_cli_fail("invalid user name '%s': use a-z, 0-9 and . _ = - / +", name);
        goto out;
    }
    pw = balai_cli_read_stdin(4096);
    if (!pw) {
        balai_cli_fail("the password on standard input is too long");
        goto out;
    }
    if (balai_password_check(pw, user_id, cfg->password_min_length, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        goto out;
    }
    json_t *j = json_pack("{s:s, s:s, s:b}", "username", name, "password", pw, "admin", admin);
    if (displayname)
        json_object_set_new(j, "displayname", json_string(displayname));
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int r =
        balai_cli_request(cfg->data_dir, "POST", "/_balai/admin/v1/users", body, &status, &resp);
    if (r == BALAI_OK) {
        if (status != 200) {
            print_error(status, resp);
            goto out;
        }
        printf("%s\n", user_id);
        rc = 0;
        goto out;
    }
    lock = balai_cli_lock(cfg->data_dir);
    if (lock < 0) {
        balai_cli_fail("a server holds %s but does not answer on its socket; try again",
                       cfg->data_dir);
        goto out;
    }
    rc = add_offline(cfg, user_id, pw, displayname, admin);
out:
    if (lock >= 0)
        close(lock);
    if (pw) {
        balai_wipe(pw, strlen(pw));
        free(pw);
    }
    if (body) {
        balai_wipe(body, strlen(body));
        free(body);
    }
    free(resp);
    free(user_id);
    return rc;
}

static int online(const struct balai_config *cfg, const char *method, const char *path,
                  const char *body, json_t **out)
{
    char *resp = NULL;
    int status = 0;
    int r = balai_cli_request(cfg->data_dir, method, path, body, &status, &resp);
    if (r != BALAI_OK) {
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
    return *out ? 0 : 1;
}

static int cmd_list(const struct balai_config *cfg)
{
    char *from = NULL;
    int rc = 0;
    printf("%-40s %-6s %-11s %s\n", "USER", "ADMIN", "DEACTIVATED", "DISPLAY NAME");
    for (;;) {
        char path[600];
        json_t *j = NULL, *u;
        size_t i;
        snprintf(path, sizeof(path), "/_balai/admin/v1/users?limit=1000%s%s", from ? "&from=" : "",
                 from ? from : "");
        if (online(cfg, "GET", path, NULL, &j) != 0) {
            rc = 1;
            break;
        }
        json_array_foreach(json_object_get(j, "users"), i, u)
        {
            const char *dn = json_string_value(json_object_get(u, "displayname"));
            printf("%-40s %-6s %-11s %s\n", json_string_value(json_object_get(u, "user_id")),
                   json_is_true(json_object_get(u, "admin")) ? "yes" : "no",
                   json_is_true(json_object_get(u, "deactivated")) ? "yes" : "no", dn ? dn : "");
        }
        free(from);
        from = NULL;
        const char *next = json_string_value(json_object_get(j, "next_from"));
        if (next)
            from = balai_strdup(next);
        json_decref(j);
        if (!from)
            break;
    }
    free(from);
    return rc;
}

static int cmd_deactivate(const struct balai_config *cfg, const char *name)
{
    char *user_id = NULL, *path = NULL;
    json_t *j = NULL;
    int rc = 1;
    if (balai_id_user_normalise(name, cfg->server_name, &user_id) != BALAI_OK) {
        balai_cli_fail("invalid user name '%s'", name);
        goto out;
    }
    path = balai_asprintf("/_balai/admin/v1/users/%s/deactivate", user_id);
    rc = online(cfg, "POST", path, "{}", &j);
    if (rc == 0)
        printf("deactivated %s\n", user_id);
out:
    json_decref(j);
    free(path);
    free(user_id);
    return rc;
}

int balai_cli_user(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"admin", no_argument, NULL, 'a'},
                                         {"password-stdin", no_argument, NULL, 'p'},
                                         {"displayname", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *displayname = NULL, *reason = NULL;
    int admin = 0, pw_stdin = 0, c, rc;
    struct balai_config cfg;
    char err[400];

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'a':
            admin = 1;
            break;
        case 'p':
            pw_stdin = 1;
            break;
        case 'n':
            displayname = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    int nargs = argc - optind - 1;
    if (!((strcmp(verb, "add") == 0 && nargs == 1) || (strcmp(verb, "list") == 0 && nargs == 0) ||
          (strcmp(verb, "deactivate") == 0 && nargs == 1) ||
          (strcmp(verb, "offboard") == 0 && nargs == 1))) {
        usage(stderr);
        return 2;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return 1;
    }
    if (strcmp(verb, "add") == 0)
        rc = cmd_add(&cfg, argv[optind + 1], admin, pw_stdin, displayname);
    else if (strcmp(verb, "list") == 0)
        rc = cmd_list(&cfg);
    else if (strcmp(verb, "offboard") == 0)
        rc = balai_cli_user_offboard(&cfg, argv[optind + 1], reason);
    else
        rc = cmd_deactivate(&cfg, argv[optind + 1]);
    balai_config_release(&cfg);
    return rc;
}
