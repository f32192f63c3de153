/* init.c: `balai init --data-dir DIR [--server-name NAME]`.
 *
 * Creates DIR (0700) with balai.conf, the key file (0600), the keystore, the
 * database with its schema, the server epoch, and the system user
 * @balai:NAME. Refuses to touch a directory that is already in use. */
#include "balai.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/ids.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/time.h"

struct init_op {
    struct balai_store_op op;
    const char *server_name;
    char *system_user;
    char epoch[17];
    int64_t now;
};

static int init_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct init_op *i = (struct init_op *)op;
    char ts[32];
    struct balai_user_rec u = {i->system_user, NULL, 0, 0, 1, "Balai", NULL, i->now};
    int rc = balai_store_txn_meta_set(t, "server_name", i->server_name);
    if (rc == BALAI_OK)
        rc = balai_store_txn_meta_set(t, "epoch", i->epoch);
    snprintf(ts, sizeof(ts), "%lld", (long long)i->now);
    if (rc == BALAI_OK)
        rc = balai_store_txn_meta_set(t, "created_ts", ts);
    if (rc == BALAI_OK)
        rc = balai_store_txn_user_insert(t, &u);
    return rc;
}

static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    }
    closedir(d);
    return empty;
}

static int write_conf(const char *path, const char *server_name, const char *db_url)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return BALAI_EIO;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return BALAI_EIO;
    }
    fprintf(f,
            "# Balai configuration. Every key is documented in the README; environment\n"
            "# variables BALAI_<SECTION>_<KEY> override this file, flags override both.\n\n"
            "[server]\n"
            "server_name = %s\n"
            "# listen = 127.0.0.1:8008\n"
            "# public_baseurl = https://chat.example.org\n\n"
            "[database]\n"
            "backend = %s\n"
            "%s%s\n\n"
            "[security]\n"
            "key_file = balai.key\n"
            "keystore = keystore\n"
            "e2ee = deny\n"
            "# password_hash_cost = moderate\n\n"
            "[log]\n"
            "level = info\n",
            server_name, db_url ? "postgres" : "sqlite",
            db_url ? "url = " : "path = ", db_url ? db_url : "balai.db");
    int rc = fflush(f) == 0 && fsync(fd) == 0 ? BALAI_OK : BALAI_EIO;
    fclose(f);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: balai init --data-dir DIR [--server-name NAME] [--database URL]\n\n"
                 "Creates a new data directory: configuration, key file, keystore, database\n"
                 "and the system user @balai:NAME. NAME defaults to localhost and cannot be\n"
                 "changed later (it is part of every user id).\n"
                 "--database postgres://... uses that PostgreSQL database (which must\n"
                 "exist) instead of SQLite: see docs/postgres.md.\n");
}

int balai_cli_init(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"server-name", required_argument, NULL, 'n'},
                                         {"database", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *name = "localhost", *db_url = NULL;
    struct balai_config cfg;
    struct balai_keystore *ks = NULL;
    struct balai_store *st = NULL;
    struct init_op op;
    char err[300];
    char *path = NULL;
    uint8_t kek[32], epoch[8];
    int c, rc = 1;

    memset(&op, 0, sizeof(op));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'D':
            db_url = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!dir || optind != argc) {
        usage(stderr);
        return 2;
    }
    balai_config_init(&cfg, dir);
    if ((db_url &&
         (balai_config_set(&cfg, "database", "backend", "postgres", err, sizeof(err)) != BALAI_OK ||
          balai_config_set(&cfg, "database", "url", db_url, err, sizeof(err)) != BALAI_OK)) ||
        balai_config_set(&cfg, "server", "server_name", name, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        goto out;
    }
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            balai_cli_fail("cannot create %s: %s", dir, strerror(errno));
            goto out;
        }
        if (!dir_empty(dir)) {
            balai_cli_fail("%s already exists and is not empty; refusing to overwrite it", dir);
            goto out;
        }
    }
    path = balai_asprintf("%s/balai.conf", dir);
    if (write_conf(path, name, db_url) != BALAI_OK) {
        balai_cli_fail("cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    BALAI_FREE(path);
    path = balai_config_path(&cfg, cfg.key_file);
    if (balai_keyfile_create(path) != BALAI_OK || balai_keyfile_load(path, kek) != BALAI_OK) {
        balai_cli_fail("cannot create the key file %s", path);
        goto out;
    }
    BALAI_FREE(path);
    path = balai_config_path(&cfg, cfg.keystore);
    if (balai_keystore_open(path, kek, 1, &ks) != BALAI_OK) {
        balai_cli_fail("cannot create the keystore %s", path);
        goto out;
    }
    BALAI_FREE(path);
    path = balai_config_db_target(&cfg);
    struct balai_store_config sc = {cfg.db_backend, path};
    if (balai_store_open(&sc, &st) != BALAI_OK) {
        balai_cli_fail("cannot create the database %s", path);
        goto out;
    }
    balai_random_bytes(epoch, sizeof(epoch));
    balai_hex_encode(epoch, sizeof(epoch), op.epoch);
    op.server_name = name;
    op.system_user = balai_id_user("balai", name);
    op.now = balai_now_ms();
    op.op.apply = init_apply;
    if (balai_store_exec(st, &op.op) != BALAI_OK) {
        balai_cli_fail("cannot initialise the database: %s", balai_strerror(op.op.rc));
        goto out;
    }
    printf("Initialised %s for server %s (system user %s).\n"
           "Next: balai user add NAME --admin --password-stdin --data-dir %s\n",
           dir, name, op.system_user, dir);
    rc = 0;
out:
    balai_wipe(kek, sizeof(kek));
    free(op.system_user);
    free(path);
    balai_store_close(st);
    balai_keystore_free(ks);
    balai_config_release(&cfg);
    return rc;
}
