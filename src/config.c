/* config.c: defaults, the INI file, environment overrides, validation. */
#include "balai.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/alloc.h"
#include "util/ini.h"

enum kind { K_STR, K_INT };

struct keydef {
    struct balai_config_key doc;
    enum kind kind;
    size_t off;
    int64_t min, max;
};

#define S(sec, k, field, def, help)                                                                \
    {                                                                                              \
        {sec, k, def, help}, K_STR, offsetof(struct balai_config, field), 0, 0                     \
    }
#define I(sec, k, field, def, lo, hi, help)                                                        \
    {                                                                                              \
        {sec, k, def, help}, K_INT, offsetof(struct balai_config, field), lo, hi                   \
    }

static const struct keydef keys[] = {
    S("server", "server_name", server_name, "localhost",
      "Matrix server name: user ids are @name:SERVER_NAME. Set once by balai init."),
    S("server", "listen", listen, "127.0.0.1:8008", "Address and port to listen on (ADDR:PORT)."),
    S("server", "public_baseurl", public_baseurl, "",
      "Base URL clients use, for /.well-known/matrix/client (default: http://LISTEN)."),
    S("server", "trusted_proxies", trusted_proxies, "",
      "Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed."),
    S("server", "presence", presence, "on",
      "Presence (online/offline in /sync and /presence): on or off."),
    S("database", "backend", db_backend, "sqlite", "Storage backend: sqlite or postgres."),
    S("database", "path", db_path, "balai.db", "SQLite database file, relative to the data dir."),
    S("database", "url", db_url, "",
      "PostgreSQL connection URL (postgres://USER@HOST:PORT/DB?sslmode=verify-full), for "
      "backend postgres; see docs/postgres.md."),
    S("security", "key_file", key_file, "balai.key",
      "Key file holding the key encryption key (mode 0600). BALAI_KEK overrides it."),
    S("security", "keystore", keystore, "keystore",
      "Keystore of data keys, sealed by the key encryption key."),
    S("security", "e2ee", e2ee, "deny",
      "End-to-end encryption policy: deny (server-side DLP and audit see content) or allow."),
    S("security", "password_hash_cost", password_hash_cost, "moderate",
      "Argon2id cost: interactive, moderate, sensitive (test: insecure, for tests only)."),
    I("security", "password_min_length", password_min_length, "10", 8, 1024,
      "Minimum password length."),
    I("login", "account_failures", login_account_failures, "5", 1, 1000000,
      "Failed logins for one account within the window before it is throttled."),
    I("login", "ip_attempts", login_ip_attempts, "30", 1, 1000000,
      "Login attempts from one client address within the window."),
    I("login", "window_ms", login_window_ms, "60000", 1000, 86400000,
      "Throttling window in milliseconds."),
    I("limits", "max_body", max_body, "65536", 1024, 1073741824,
      "Default maximum request body in bytes (routes may allow more)."),
    I("limits", "max_header", max_header, "16384", 1024, 1048576,
      "Maximum size of request line and headers in bytes."),
    I("limits", "header_timeout_ms", header_timeout_ms, "10000", 100, 600000,
      "Time allowed for a request's headers to arrive."),
    I("limits", "body_timeout_ms", body_timeout_ms, "30000", 100, 3600000,
      "Time allowed for a request's body to arrive."),
    I("limits", "idle_timeout_ms", idle_timeout_ms, "60000", 100, 3600000,
      "Keep-alive connections idle this long are closed."),
    I("limits", "max_connections", max_connections, "10000", 1, 10000000,
      "Maximum simultaneous client connections."),
    I("workers", "hash_threads", hash_threads, "2", 1, 64, "Threads hashing passwords."),
    I("workers", "hash_queue", hash_queue, "256", 1, 1000000,
      "Password hashes that may wait; beyond it logins get M_LIMIT_EXCEEDED."),
    I("workers", "worker_threads", worker_threads, "2", 1, 64,
      "Threads for cold reads, media and exports."),
    S("log", "level", log_level, "info", "Log level: debug, info, warn, error."),
    S("web", "root", web_root, "",
      "Web app directory (built web/dist); empty: found next to the binary; none: off."),
    S("rooms", "labels", rooms_labels,
      "public,internal,confidential,restricted-health,restricted-finance",
      "Classification labels of organisation rooms, comma-separated."),
    S("rooms", "default_label", rooms_default_label, "internal",
      "Label of a new organisation room when none is given (one of rooms.labels)."),
    S("rooms", "create_policy", rooms_create_policy, "everyone",
      "Who may create organisation rooms: everyone, unit_admins or admins (DMs: everyone)."),
    I("rooms", "min_stewards", rooms_min_stewards, "2", 1, 10,
      "Active human stewards (room admins) every organisation room keeps at least."),
    I("rooms", "max_stewards", rooms_max_stewards, "3", 1, 50,
      "Stewards an organisation room may have at most."),
    I("rooms", "stale_days", rooms_stale_days, "90", 1, 36500,
      "Days without activity after which the room inventory flags a room as stale."),
};

static char **str_field(struct balai_config *c, const struct keydef *k)
{
    return (char **)(void *)((char *)c + k->off);
}

static int64_t *int_field(struct balai_config *c, const struct keydef *k)
{
    return (int64_t *)(void *)((char *)c + k->off);
}

static const struct keydef *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++) {
        if (strcmp(keys[i].doc.section, section) == 0 && strcmp(keys[i].doc.key, key) == 0)
            return &keys[i];
    }
    return NULL;
}

static int set_key(struct balai_config *c, const struct keydef *k, const char *value, char *err,
                   size_t errlen)
{
    if (k->kind == K_STR) {
        char **f = str_field(c, k);
        free(*f);
        *f = balai_strdup(value);
        return BALAI_OK;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || !end || end == value || *end != '\0') {
        snprintf(err, errlen, "%s.%s must be an integer, got '%s'", k->doc.section, k->doc.key,
                 value);
        return BALAI_EINVAL;
    }
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "%s.%s must be between %lld and %lld", k->doc.section, k->doc.key,
                 (long long)k->min, (long long)k->max);
        return BALAI_EINVAL;
    }
    *int_field(c, k) = v;
    return BALAI_OK;
}

void balai_config_init(struct balai_config *c, const char *data_dir)
{
    memset(c, 0, sizeof(*c));
    c->data_dir = balai_strdup(data_dir);
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++) {
        char err[8];
        int rc = set_key(c, &keys[i], keys[i].doc.def, err, sizeof(err));
        (void)rc;
    }
}

void balai_config_release(struct balai_config *c)
{
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++) {
        if (keys[i].kind == K_STR)
            BALAI_FREE(*str_field(c, &keys[i]));
    }
    BALAI_FREE(c->data_dir);
}

int balai_config_set(struct balai_config *c, const char *section, const char *key,
                     const char *value, char *err, size_t errlen)
{
    const struct keydef *k = find_key(section, key);
    if (!k) {
        snprintf(err, errlen, "unknown configuration key %s.%s", section, key);
        return BALAI_EINVAL;
    }
    return set_key(c, k, value, err, errlen);
}

struct file_ctx {
    struct balai_config *c;
    const char *path;
    char *err;
    size_t errlen;
};

static int on_ini(const char *section, const char *key, const char *value, int line, void *arg)
{
    struct file_ctx *fc = arg;
    char msg[200];
    int rc = balai_config_set(fc->c, section, key, value, msg, sizeof(msg));
    if (rc != BALAI_OK)
        snprintf(fc->err, fc->errlen, "%s line %d: %s", fc->path, line, msg);
    return rc;
}

int balai_config_load_file(struct balai_config *c, const char *path, char *err, size_t errlen)
{
    struct file_ctx fc = {c, path, err, errlen};
    char msg[200] = "";

    err[0] = '\0';
    int rc = balai_ini_parse_file(path, on_ini, &fc, msg, sizeof(msg));
    if (rc != BALAI_OK && rc != BALAI_EINVAL)
        snprintf(err, errlen, "%s", msg);
    else if (rc == BALAI_EINVAL && err[0] == '\0')
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

int balai_config_load_env(struct balai_config *c, char **envp, char *err, size_t errlen)
{
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "BALAI_", 6) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++) {
            char name[128];
            int n =
                snprintf(name, sizeof(name), "BALAI_%s_%s", keys[i].doc.section, keys[i].doc.key);
            for (int j = 0; j < n; j++)
                name[j] = (char)toupper((unsigned char)name[j]);
            if ((size_t)(eq - *e) == (size_t)n && strncmp(*e, name, (size_t)n) == 0) {
                char msg[200];
                int rc = set_key(c, &keys[i], eq + 1, msg, sizeof(msg));
                if (rc != BALAI_OK) {
                    snprintf(err, errlen, "environment %s: %s", name, msg);
                    return rc;
                }
            }
        }
    }
    return BALAI_OK;
}

int balai_config_validate(const struct balai_config *c, char *err, size_t errlen)
{
    if (strcmp(c->e2ee, "deny") != 0 && strcmp(c->e2ee, "allow") != 0) {
        snprintf(err, errlen, "security.e2ee must be 'deny' or 'allow'");
        return BALAI_EINVAL;
    }
    if (strcmp(c->presence, "on") != 0 && strcmp(c->presence, "off") != 0) {
        snprintf(err, errlen, "server.presence must be 'on' or 'off'");
        return BALAI_EINVAL;
    }
    if (strcmp(c->rooms_create_policy, "everyone") != 0 &&
        strcmp(c->rooms_create_policy, "unit_admins") != 0 &&
        strcmp(c->rooms_create_policy, "admins") != 0) {
        snprintf(err, errlen, "rooms.create_policy must be 'everyone', 'unit_admins' or 'admins'");
        return BALAI_EINVAL;
    }
    /* the default label must be one of the (comma-separated, trimmed) labels */
    size_t dl = strlen(c->rooms_default_label);
    int hit = 0;
    for (const char *lab = c->rooms_labels; dl && !hit && *lab;) {
        const char *end = strchr(lab, ',');
        size_t n = end ? (size_t)(end - lab) : strlen(lab);
        while (n && (*lab == ' ' || *lab == '\t')) {
            lab++;
            n--;
        }
        while (n && (lab[n - 1] == ' ' || lab[n - 1] == '\t'))
            n--;
        hit = n == dl && strncmp(lab, c->rooms_default_label, n) == 0;
        if (!end)
            break;
        lab = end + 1;
    }
    if (!hit) {
        snprintf(err, errlen, "rooms.default_label must be one of rooms.labels");
        return BALAI_EINVAL;
    }
    if (c->rooms_min_stewards > c->rooms_max_stewards) {
        snprintf(err, errlen, "rooms.min_stewards must not exceed rooms.max_stewards");
        return BALAI_EINVAL;
    }
    if (strcmp(c->db_backend, "sqlite") != 0 && strcmp(c->db_backend, "postgres") != 0) {
        snprintf(err, errlen, "database.backend must be 'sqlite' or 'postgres'");
        return BALAI_EINVAL;
    }
    if (strcmp(c->db_backend, "postgres") == 0 && c->db_url[0] == '\0') {
        snprintf(err, errlen, "database.backend 'postgres' needs database.url");
        return BALAI_EINVAL;
    }
    if (strcmp(c->password_hash_cost, "test") != 0 &&
        strcmp(c->password_hash_cost, "interactive") != 0 &&
        strcmp(c->password_hash_cost, "moderate") != 0 &&
        strcmp(c->password_hash_cost, "sensitive") != 0) {
        snprintf(err, errlen,
                 "security.password_hash_cost must be interactive, moderate, sensitive or test");
        return BALAI_EINVAL;
    }
    if (strcmp(c->log_level, "debug") != 0 && strcmp(c->log_level, "info") != 0 &&
        strcmp(c->log_level, "warn") != 0 && strcmp(c->log_level, "error") != 0) {
        snprintf(err, errlen, "log.level must be debug, info, warn or error");
        return BALAI_EINVAL;
    }
    if (c->server_name[0] == '\0' || strlen(c->server_name) > 230) {
        snprintf(err, errlen, "server.server_name must be set (at most 230 characters)");
        return BALAI_EINVAL;
    }
    for (const char *p = c->server_name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' && *p != '[' &&
            *p != ']') {
            snprintf(err, errlen, "server.server_name contains an invalid character '%c'", *p);
            return BALAI_EINVAL;
        }
    }
    return BALAI_OK;
}

char *balai_config_db_target(const struct balai_config *c)
{
    if (strcmp(c->db_backend, "postgres") == 0)
        return balai_strdup(c->db_url);
    return balai_config_path(c, c->db_path);
}

char *balai_config_path(const struct balai_config *c, const char *p)
{
    if (p[0] == '/')
        return balai_strdup(p);
    return balai_asprintf("%s/%s", c->data_dir, p);
}

const struct balai_config_key *balai_config_keys(void)
{
    static struct balai_config_key out[BALAI_ARRAY_LEN(keys) + 1];
    for (size_t i = 0; i < BALAI_ARRAY_LEN(keys); i++)
        out[i] = keys[i].doc;
    return out;
}
