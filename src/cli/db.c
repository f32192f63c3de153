/* db.c: `balai db`, database administration.
 *
 *   balai db migrate-to postgres://... [--data-dir DIR]
 *       copies a stopped SQLite deployment into an empty PostgreSQL
 *       database in one transaction, verifies every table (row counts and
 *       content hashes, before and after the commit) and only then points
 *       DATA/balai.conf at it (backend = postgres, url = ...), keeping the
 *       old file as DATA/balai.conf.sqlite-backup. The SQLite file is only
 *       read; a failed copy leaves the target rolled back and the config
 *       unchanged.
 *   balai db migrate [--data-dir DIR | --database URL]
 *       applies pending schema migrations (what `serve` does at start) and
 *       prints the schema version.
 *
 * Both need the server stopped: they take the data directory's lock (not
 * `migrate --database`, which has no data directory). */
#include "balai.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"

#define EXIT_CANNOT 1

static void usage(FILE *out)
{
    fprintf(out, "usage: balai db migrate-to URL [--data-dir DIR]\n"
                 "       balai db migrate [--data-dir DIR | --database URL]\n\n"
                 "migrate-to copies a stopped SQLite deployment into the empty PostgreSQL\n"
                 "database URL (postgres://...), verifies it table by table and then switches\n"
                 "DIR/balai.conf to it (the old file is kept as balai.conf.sqlite-backup).\n"
                 "migrate applies pending schema migrations. See docs/postgres.md.\n");
}

static void report(const char *table, int64_t rows, const char *hash, void *arg)
{
    (void)arg;
    printf("  %-24s %10lld rows  %s\n", table, (long long)rows, hash);
}

/* Writes `data` to `path` atomically (a temporary file, fsync, rename). */
static int write_file(const char *path, const char *data, size_t len)
{
    char *tmp = balai_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = BALAI_EIO;

    if (fd < 0)
        goto out;
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        goto out;
    }
    rc = BALAI_OK;
out:
    free(tmp);
    return rc;
}

/* Reads a whole file (caller frees). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct balai_buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    balai_buf_init(&b, 0);
    balai_buf_append_str(&b, "");
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        balai_buf_append(&b, chunk, n);
    fclose(f);
    return balai_buf_detach(&b, len);
}

/* The key of an INI line "key = value", or NULL (caller frees). */
static char *line_key(const char *line, size_t len)
{
    size_t i = 0, start;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    start = i;
    while (i < len && line[i] != '=' && line[i] != ' ' && line[i] != '\t' && line[i] != '#' &&
           line[i] != ';' && line[i] != '[')
        i++;
    if (i == start)
        return NULL;
    return balai_strndup(line + start, i - start);
}

/* The config with [database] backend = postgres and url = URL (caller
 * frees): other lines are kept, earlier backend/url lines of the section
 * dropped. */
static char *switch_conf(const char *conf, const char *url)
{
    struct balai_buf out;
    const char *p = conf;
    bool in_db = false, done = false;

    balai_buf_init(&out, 0);
    balai_buf_append_str(&out, "");
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *q = p;
        bool skip = false;

        while (q < p + len && (*q == ' ' || *q == '\t'))
            q++;
        if (q < p + len && *q == '[') {
            in_db = strncmp(q, "[database]", 10) == 0;
            balai_buf_printf(&out, "%.*s\n", (int)len, p);
            if (in_db && !done) {
                balai_buf_printf(&out, "backend = postgres\nurl = %s\n", url);
                done = true;
            }
            p += len + (nl ? 1 : 0);
            continue;
        }
        if (in_db) {
            char *k = line_key(p, len);

            skip = k && (strcmp(k, "backend") == 0 || strcmp(k, "url") == 0);
            free(k);
        }
        if (!skip)
            balai_buf_printf(&out, "%.*s\n", (int)len, p);
        p += len + (nl ? 1 : 0);
    }
    if (!done)
        balai_buf_printf(&out, "\n[database]\nbackend = postgres\nurl = %s\n", url);
    return out.data;
}

static int open_store(const char *backend, const char *target, struct balai_store **out)
{
    struct balai_store_config sc = {backend, target};

    return balai_store_open(&sc, out);
}

static int cmd_migrate_to(const struct balai_config *cfg, const char *url)
{
    struct balai_store *src = NULL, *dst = NULL;
    char *path = NULL, *conf_path = NULL, *backup = NULL, *conf = NULL, *next = NULL;
    size_t len = 0;
    int rc = EXIT_CANNOT, lock = -1, err;

    if (strcmp(cfg->db_backend, "sqlite") != 0) {
        balai_cli_fail("this deployment already uses %s, not sqlite", cfg->db_backend);
        return EXIT_CANNOT;
    }
    lock = balai_cli_lock(cfg->data_dir);
    if (lock < 0) {
        balai_cli_fail("a server is running on %s: stop it first", cfg->data_dir);
        return EXIT_CANNOT;
    }
    conf_path = balai_asprintf("%s/balai.conf", cfg->data_dir);
    conf = read_file(conf_path, &len);
    if (!conf) {
        balai_cli_fail("cannot read %s: %s", conf_path, strerror(errno));
        goto out;
    }
    path = balai_config_db_target(cfg);
    if (open_store("sqlite", path, &src) != BALAI_OK) {
        balai_cli_fail("cannot open the SQLite database %s", path);
        goto out;
    }
    if (open_store("postgres", url, &dst) != BALAI_OK) {
        balai_cli_fail("cannot open the PostgreSQL database (see the log above)");
        goto out;
    }
    printf("Copying %s into PostgreSQL:\n", path);
    err = balai_store_copy(src, dst, report, NULL);
    if (err == BALAI_EEXIST) {
        balai_cli_fail("the PostgreSQL database already holds data; use an empty database");
        goto out;
    }
    if (err != BALAI_OK) {
        balai_cli_fail("the copy failed (%s); nothing was changed: the target is rolled back "
                       "and %s still uses SQLite",
                       balai_strerror(err), cfg->data_dir);
        goto out;
    }
    /* Verified: switch the configuration, keeping the old file. */
    backup = balai_asprintf("%s/balai.conf.sqlite-backup", cfg->data_dir);
    next = switch_conf(conf, url);
    if (write_file(backup, conf, len) != BALAI_OK ||
        write_file(conf_path, next, strlen(next)) != BALAI_OK) {
        balai_cli_fail("the data is copied and verified, but %s cannot be written: set "
                       "[database] backend = postgres and url by hand",
                       conf_path);
        goto out;
    }
    printf("Verified. %s now uses PostgreSQL (previous configuration: %s).\n"
           "The SQLite file %s is unchanged; keep it until you have checked the new setup.\n",
           conf_path, backup, path);
    rc = 0;
out:
    balai_store_close(dst);
    balai_store_close(src);
    if (lock >= 0)
        close(lock);
    free(next);
    free(backup);
    free(conf);
    free(conf_path);
    free(path);
    return rc;
}

static int cmd_migrate(const struct balai_config *cfg, const char *url)
{
    struct balai_store *st = NULL;
    char *path = url ? balai_strdup(url) : balai_config_db_target(cfg);
    int rc = EXIT_CANNOT, lock = -1, version = 0;

    if (!url) {
        lock = balai_cli_lock(cfg->data_dir);
        if (lock < 0) {
            balai_cli_fail("a server is running on %s: stop it first", cfg->data_dir);
            goto out;
        }
    }
    if (open_store(url ? "postgres" : cfg->db_backend, path, &st) != BALAI_OK ||
        balai_store_schema_version(st, &version) != BALAI_OK) {
        balai_cli_fail("cannot open the database (see the log above)");
        goto out;
    }
    printf("schema version %d\n", version);
    rc = 0;
out:
    balai_store_close(st);
    if (lock >= 0)
        close(lock);
    free(path);
    return rc;
}

int balai_cli_db(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"database", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *url = NULL, *verb;
    struct balai_config cfg;
    char err[400];
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'D':
            url = optarg;
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
    verb = argv[optind];
    if (strcmp(verb, "migrate") == 0 && optind + 1 == argc && url)
        return cmd_migrate(NULL, url);
    if (!((strcmp(verb, "migrate-to") == 0 && optind + 2 == argc && !url) ||
          (strcmp(verb, "migrate") == 0 && optind + 1 == argc))) {
        usage(stderr);
        return 2;
    }
    if (balai_cli_load_config(dir, NULL, &cfg, err, sizeof(err)) != BALAI_OK ||
        balai_config_validate(&cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        balai_config_release(&cfg);
        return EXIT_CANNOT;
    }
    if (strcmp(verb, "migrate-to") == 0)
        rc = cmd_migrate_to(&cfg, argv[optind + 1]);
    else
        rc = cmd_migrate(&cfg, NULL);
    balai_config_release(&cfg);
    return rc;
}
