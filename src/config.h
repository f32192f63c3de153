/* config.h: the typed configuration of a Balai server.
 *
 * Sources, later ones winning: built-in defaults, DATA/balai.conf (INI),
 * BALAI_<SECTION>_<KEY> environment variables, command-line flags. Every
 * key is listed in one table in config.c (and in the README). */
#ifndef BALAI_CONFIG_H
#define BALAI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct balai_config {
    char *data_dir;
    /* [server] */
    char *server_name;
    char *listen;
    char *public_baseurl;  /* empty: derived from listen */
    char *presence;        /* "on" or "off" */
    char *trusted_proxies; /* comma-separated proxy addresses; empty: none */
    /* [database] */
    char *db_backend;
    char *db_path; /* relative to data_dir unless absolute */
    char *db_url;  /* postgres: the libpq connection URI or string */
    /* [security] */
    char *key_file;
    char *keystore;
    char *e2ee; /* "deny" or "allow" */
    char *password_hash_cost;
    int64_t password_min_length;
    /* [login] */
    int64_t login_account_failures; /* failures before an account is throttled */
    int64_t login_ip_attempts;      /* attempts per window from one address */
    int64_t login_window_ms;
    /* [limits] */
    int64_t max_body;
    int64_t max_header;
    int64_t header_timeout_ms;
    int64_t body_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t max_connections;
    /* [workers] */
    int64_t hash_threads;
    int64_t hash_queue;
    int64_t worker_threads;
    /* [log] */
    char *log_level;
    /* [web] */
    char *web_root; /* "": auto (see api/web.h); "none": no web app */
    /* [rooms] organisation rooms and stewardship (api/org_rooms.h) */
    char *rooms_labels;        /* comma-separated classification labels */
    char *rooms_default_label; /* one of rooms_labels */
    char *rooms_create_policy; /* "everyone", "unit_admins" or "admins" */
    int64_t rooms_min_stewards;
    int64_t rooms_max_stewards;
    int64_t rooms_stale_days; /* default of the inventory's stale_days */
};

/* Describes one key, for --help and documentation. */
struct balai_config_key {
    const char *section;
    const char *key;
    const char *def;
    const char *help;
};

/* Fills defaults. `data_dir` is copied. */
void balai_config_init(struct balai_config *c, const char *data_dir);
void balai_config_release(struct balai_config *c);
/* Applies `path` (BALAI_EIO if unreadable, BALAI_EINVAL on syntax or unknown
 * key or bad value, with a message in err). */
int balai_config_load_file(struct balai_config *c, const char *path, char *err, size_t errlen);
/* Applies BALAI_SECTION_KEY variables from `envp` (NULL-terminated). */
int balai_config_load_env(struct balai_config *c, char **envp, char *err, size_t errlen);
/* Sets one key by "section.key" name, as flags and tests do. */
int balai_config_set(struct balai_config *c, const char *section, const char *key,
                     const char *value, char *err, size_t errlen);
/* Checks cross-key constraints after loading. */
int balai_config_validate(const struct balai_config *c, char *err, size_t errlen);
/* What balai_store_config.path takes for the configured backend: the
 * database file (resolved like balai_config_path) for sqlite, the
 * connection URL for postgres. Caller frees. */
char *balai_config_db_target(const struct balai_config *c);
/* Resolves a path relative to the data dir. Caller frees. */
char *balai_config_path(const struct balai_config *c, const char *p);
/* The key table, terminated by a zeroed entry. */
const struct balai_config_key *balai_config_keys(void);

#endif
