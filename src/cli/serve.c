/* serve.c: `balai serve [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]`.
 *
 * Wires the server together: configuration, the data-dir lock, keys, the
 * store and its writer thread, the in-memory accounts, the worker pools, the
 * HTTP server on TCP and on DATA/balai.sock, and signals. On SIGTERM or
 * SIGINT it stops accepting, lets in-flight requests finish, commits every
 * pending write and exits 0. */
#include "balai.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/account_data.h"
#include "api/directory.h"
#include "api/scim/scim.h"
#include "api/dlp.h"
#include "api/device_lists.h"
#include "api/e2e_keys.h"
#include "api/to_device.h"
#include "api/app.h"
#include "api/audit.h"
#include "api/events.h"
#include "api/push_rules.h"
#include "api/unread.h"
#include "api/receipts.h"
#include "api/relations.h"
#include "api/room_directory.h"
#include "api/offboard.h"
#include "api/rules.h"
#include "cli/cli.h"
#include "core/accounts.h"
#include "core/room.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "http/router.h"
#include "http/server.h"
#include "net/async.h"
#include "net/loop.h"
#include "net/pool.h"
#include "store/store.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "serve"

struct server {
    struct balai_app app;
    struct balai_config cfg;
    struct balai_async *completions;
    char *addr_file;
    char *sock_path;
    int stopping;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: balai serve [--data-dir DIR] [--listen ADDR:PORT] [--config FILE]\n\n"
                 "Runs the server (defaults: --data-dir ./data, --listen 127.0.0.1:8008).\n"
                 "--listen 127.0.0.1:0 picks a free port; the bound address is written to\n"
                 "DIR/serve.addr. Logs go to standard error. SIGTERM or SIGINT stop it\n"
                 "gracefully.\n");
}

static int load_user(const struct balai_user_rec *r, void *arg)
{
    struct balai_accounts *a = arg;
    struct balai_user *u = balai_accounts_add_user(a, r->user_id, r->password_hash, r->admin,
                                                   r->system, r->created_ts);
    if (!u)
        return BALAI_EEXIST;
    u->deactivated = r->deactivated;
    balai_user_set_displayname(u, r->displayname);
    balai_user_set_avatar_url(u, r->avatar_url);
    return 0;
}

static int load_device(const struct balai_device_rec *r, void *arg)
{
    struct balai_accounts *a = arg;
    struct balai_user *u = balai_accounts_user(a, r->user_id);
    if (!u)
        return 0;
    struct balai_device *d =
        balai_accounts_add_device(a, u, r->device_id, r->display_name, r->created_ts);
    d->last_seen_ts = r->last_seen_ts;
    if (r->last_seen_ip)
        snprintf(d->last_seen_ip, sizeof(d->last_seen_ip), "%s", r->last_seen_ip);
    return 0;
}

static int load_token(const struct balai_token_rec *r, void *arg)
{
    struct balai_accounts *a = arg;
    struct balai_user *u = balai_accounts_user(a, r->user_id);
    struct balai_device *d = u ? balai_user_device(u, r->device_id) : NULL;
    if (d && !u->deactivated)
        balai_accounts_add_session(a, d, r->hash);
    return 0;
}

static int load_accounts(struct balai_app *app)
{
    int rc = balai_store_users_each(app->store, load_user, app->accounts);
    if (rc == BALAI_OK)
        rc = balai_store_devices_each(app->store, load_device, app->accounts);
    if (rc == BALAI_OK)
        rc = balai_store_tokens_each(app->store, load_token, app->accounts);
    return rc;
}

/* The server epoch, the signing key, the rooms, and idempotency records. */
static int load_messaging(struct balai_app *app)
{
    char *epoch = NULL;
    uint8_t seed[32], pk[32];
    char hex[9];
    int rc = balai_store_meta_get(app->store, "epoch", &epoch);
    if (rc != BALAI_OK) {
        balai_cli_fail("the database has no server epoch (was it made by balai init?)");
        return rc;
    }
    snprintf(app->epoch, sizeof(app->epoch), "%s", epoch);
    free(epoch);
    rc = balai_keystore_get_or_create(app->keystore, "server:signing-seed", seed);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot read or create the server signing key in the keystore");
        return rc;
    }
    balai_sign_seed_keypair(seed, pk, app->sign_sk);
    balai_wipe(seed, sizeof(seed));
    balai_hex_encode(pk, 4, hex);
    snprintf(app->sign_key_id, sizeof(app->sign_key_id), "ed25519:%s", hex);
    rc = balai_api_audit_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load the audit trail from the database");
        return rc;
    }
    app->rooms = balai_rooms_new(BALAI_ROOM_CACHE);
    app->notifier = balai_notifier_new();
    app->txns = balai_map_new();
    balai_api_wakes_init(app);
    rc = balai_api_rooms_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load rooms from the database");
        return rc;
    }
    rc = balai_api_directory_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load the organisation directory from the database");
        return rc;
    }
    rc = balai_api_scim_load(app); /* after the directory */
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load the SCIM provisioning data from the database");
        return rc;
    }
    rc = balai_api_account_data_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load account data from the database");
        return rc;
    }
    rc = balai_api_e2e_keys_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load end-to-end encryption keys from the database");
        return rc;
    }
    rc = balai_api_to_device_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load to-device messages from the database");
        return rc;
    }
    rc = balai_api_device_lists_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load device-list changes from the database");
        return rc;
    }
    rc = balai_api_relations_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load event relations from the database");
        return rc;
    }
    rc = balai_api_receipts_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load receipts from the database");
        return rc;
    }
    rc = balai_api_unread_load(app); /* after rooms, account data and receipts */
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot rebuild the unread counts from the database");
        return rc;
    }
    rc = balai_api_room_directory_load(app);
    if (rc != BALAI_OK) {
        balai_cli_fail("cannot load the room directory from the database");
        return rc;
    }
    rc = balai_api_dlp_load(app);
    if (rc != BALAI_OK)
        balai_cli_fail("cannot load the DLP settings and suspensions from the database");
    if (rc == BALAI_OK && (rc = balai_api_rules_load(app)) != BALAI_OK)
        balai_cli_fail("cannot load the membership rules from the database");
    if (rc == BALAI_OK && (rc = balai_api_offboard_load(app)) != BALAI_OK)
        balai_cli_fail("cannot load the offboarding records from the database");
    return rc;
}

static void free_txns(struct balai_map *m)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    if (!m)
        return;
    while (balai_map_next(m, &it, &k, &kl, &v))
        free(v);
    balai_map_free(m);
}

static void on_completions(void *arg)
{
    struct server *s = arg;
    balai_store_drain_completions(s->app.store);
    balai_api_wakes_flush(&s->app);
}

static void on_writer_notify(void *arg)
{
    balai_async_send(arg);
}

static void on_http_closed(void *arg)
{
    struct server *s = arg;
    balai_loop_stop(s->app.loop);
}

static void on_signal(void *arg)
{
    struct server *s = arg;
    if (s->stopping) {
        LOG_WARN("second signal: stopping now");
        balai_loop_stop(s->app.loop);
        return;
    }
    s->stopping = 1;
    LOG_INFO("stopping: finishing in-flight requests");
    balai_http_server_shutdown(s->app.http, on_http_closed, s);
}

static int write_addr_file(const char *path, const char *addr)
{
    char *tmp = balai_asprintf("%s.tmp", path);
    int rc = BALAI_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    size_t n = strlen(addr);
    if (write(fd, addr, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        close(fd);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) == 0)
        rc = BALAI_OK;
out:
    free(tmp);
    return rc;
}

int balai_cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = "./data", *listen = NULL, *config = NULL;
    struct server s;
    struct balai_app *app = &s.app;
    char err[400], bound[128];
    char *path = NULL, *sn = NULL;
    uint8_t kek[32];
    int c, lock = -1, rc = 1, level;

    memset(&s, 0, sizeof(s));
    memset(kek, 0, sizeof(kek));
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (balai_cli_load_config(dir, config, &s.cfg, err, sizeof(err)) != BALAI_OK ||
        (listen &&
         balai_config_set(&s.cfg, "server", "listen", listen, err, sizeof(err)) != BALAI_OK) ||
        balai_config_validate(&s.cfg, err, sizeof(err)) != BALAI_OK) {
        balai_cli_fail("%s", err);
        goto out;
    }
    if (balai_log_parse_level(s.cfg.log_level, &level) == BALAI_OK)
        balai_log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    if (balai_crypto_init() != BALAI_OK) {
        balai_cli_fail("cannot initialise the crypto library");
        goto out;
    }
    lock = balai_cli_lock(dir);
    if (lock < 0) {
        balai_cli_fail("another process is using %s (a server already runs on it?)", dir);
        goto out;
    }
    app->cfg = &s.cfg;
    app->server_name = s.cfg.server_name;
    app->started_ms = balai_mono_ms();
    path = balai_config_path(&s.cfg, s.cfg.key_file);
    if (balai_keyfile_load(path, kek) != BALAI_OK) {
        balai_cli_fail("cannot load the key file %s (see the log above)", path);
        goto out;
    }
    BALAI_FREE(path);
    path = balai_config_path(&s.cfg, s.cfg.keystore);
    if (balai_keystore_open(path, kek, 0, &app->keystore) != BALAI_OK) {
        balai_cli_fail("cannot open the keystore %s with this key file", path);
        goto out;
    }
    balai_kdf(kek, BALAI_AUDIT_KDF_LABEL, app->audit_key);
    balai_kdf(kek, BALAI_DLP_KDF_LABEL, app->dlp_key);
    BALAI_FREE(path);
    path = balai_config_db_target(&s.cfg);
    struct balai_store_config sc = {s.cfg.db_backend, path};
    if (balai_store_open(&sc, &app->store) != BALAI_OK) {
        balai_cli_fail("cannot open the database %s", path);
        goto out;
    }
    if (balai_store_meta_get(app->store, "server_name", &sn) != BALAI_OK ||
        strcmp(sn, s.cfg.server_name) != 0) {
        balai_cli_fail("the database belongs to server '%s' but the configuration says '%s'",
                       sn ? sn : "?", s.cfg.server_name);
        goto out;
    }
    app->system_user_id = balai_asprintf("@balai:%s", s.cfg.server_name);
    app->accounts = balai_accounts_new();
    if (load_accounts(app) != BALAI_OK) {
        balai_cli_fail("cannot load accounts from the database");
        goto out;
    }
    if (load_messaging(app) != BALAI_OK)
        goto out;
    if (balai_pwhash_cost_parse(s.cfg.password_hash_cost, &app->pwcost) != BALAI_OK) {
        balai_cli_fail("unknown password_hash_cost");
        goto out;
    }
    {
        char *pw = balai_random_alnum(16);
        int r = balai_pwhash(pw, strlen(pw), &app->pwcost, app->dummy_hash);
        free(pw);
        if (r != BALAI_OK) {
            balai_cli_fail("cannot hash passwords");
            goto out;
        }
    }
    if (balai_loop_init(&app->loop) != BALAI_OK) {
        balai_cli_fail("cannot create the event loop");
        goto out;
    }
    s.completions = balai_async_new(app->loop, on_completions, &s);
    if (balai_store_writer_start(app->store, on_writer_notify, s.completions) != BALAI_OK) {
        balai_cli_fail("cannot start the writer thread");
        goto out;
    }
    app->hash_pool = balai_pool_new(app->loop, "pwhash", (unsigned)s.cfg.hash_threads,
                                    (unsigned)s.cfg.hash_queue);
    app->work_pool = balai_pool_new(app->loop, "work", (unsigned)s.cfg.worker_threads, 4096);
    app->router = balai_router_new();
    if (balai_api_init(app) != BALAI_OK) {
        balai_cli_fail("cannot register the API routes");
        goto out;
    }
    struct balai_http_server_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.limits.max_header_bytes = (size_t)s.cfg.max_header;
    hc.limits.max_body_default = (size_t)s.cfg.max_body;
    hc.limits.header_timeout_ms = (uint32_t)s.cfg.header_timeout_ms;
    hc.limits.body_timeout_ms = (uint32_t)s.cfg.body_timeout_ms;
    hc.limits.idle_timeout_ms = (uint32_t)s.cfg.idle_timeout_ms;
    hc.limits.max_connections = (uint32_t)s.cfg.max_connections;
    hc.router = app->router;
    hc.server_header = "Balai/" BALAI_VERSION;
    hc.trusted_proxies = s.cfg.trusted_proxies;
    if (balai_http_server_new(app->loop, &hc, &app->http) != BALAI_OK) {
        balai_cli_fail("cannot create the HTTP server");
        goto out;
    }
    int lrc = balai_http_server_listen_tcp(app->http, s.cfg.listen, bound, sizeof(bound));
    if (lrc != BALAI_OK) {
        balai_cli_fail("cannot listen on %s: %s", s.cfg.listen,
                       lrc == BALAI_EEXIST ? "address already in use (is Balai already running?)"
                       : lrc == BALAI_EFORBIDDEN ? "permission denied"
                                                 : "address not available or malformed");
        goto out;
    }
    snprintf(app->bound_url, sizeof(app->bound_url), "http://%s", bound);
    s.sock_path = balai_asprintf("%s/balai.sock", dir);
    if (balai_http_server_listen_unix(app->http, s.sock_path) != BALAI_OK) {
        balai_cli_fail("cannot listen on %s: another server runs on this data directory, or the "
                       "path is not usable",
                       s.sock_path);
        goto out;
    }
    s.addr_file = balai_asprintf("%s/serve.addr", dir);
    if (write_addr_file(s.addr_file, bound) != BALAI_OK) {
        balai_cli_fail("cannot write %s", s.addr_file);
        goto out;
    }
    balai_loop_on_signal(app->loop, SIGTERM, on_signal, &s);
    balai_loop_on_signal(app->loop, SIGINT, on_signal, &s);
    LOG_INFO("Balai %s serving %s on http://%s (data %s, %zu users, %zu rooms)", BALAI_VERSION,
             s.cfg.server_name, bound, dir, balai_accounts_user_count(app->accounts),
             balai_rooms_count(app->rooms));
    balai_loop_run(app->loop);
    LOG_INFO("committing pending writes");
    balai_store_writer_stop(app->store);
    balai_store_drain_completions(app->store);
    balai_api_wakes_flush(app);
    rc = 0;
    LOG_INFO("stopped");
out:
    balai_wipe(kek, sizeof(kek));
    if (s.addr_file)
        unlink(s.addr_file);
    if (s.sock_path && lock >= 0)
        unlink(s.sock_path);
    if (app->store)
        balai_store_writer_stop(app->store);
    balai_http_server_free(app->http);
    balai_api_release(app);
    balai_router_free(app->router);
    balai_pool_free(app->hash_pool);
    balai_pool_free(app->work_pool);
    if (s.completions)
        balai_async_close(s.completions);
    if (app->store)
        balai_store_drain_completions(app->store);
    balai_loop_free(app->loop);
    balai_store_close(app->store);
    balai_api_audit_free(app); /* the last head, after the last commit */
    balai_accounts_free(app->accounts);
    balai_api_wakes_release(app);
    balai_notifier_free(app->notifier);
    balai_rooms_free(app->rooms);
    balai_api_account_data_free(app->account_data);
    balai_api_directory_free(app);
    balai_api_scim_free(app);
    balai_api_dlp_free(app);
    balai_api_rules_free(app);
    balai_api_offboard_free(app);
    balai_api_e2e_keys_free(app->e2e_keys);
    balai_api_to_device_free(app->to_device);
    balai_api_device_lists_free(app->device_lists);
    balai_api_relations_free(app);
    balai_api_receipts_free(app->receipts);
    balai_api_unread_free(app->unread);
    balai_api_push_rules_free(app->push_rules);
    balai_api_room_directory_free(app->room_directory);
    free_txns(app->txns);
    balai_wipe(app->sign_sk, sizeof(app->sign_sk));
    balai_wipe(app->dlp_key, sizeof(app->dlp_key));
    balai_keystore_free(app->keystore);
    free(app->system_user_id);
    free(s.addr_file);
    free(s.sock_path);
    free(sn);
    free(path);
    balai_config_release(&s.cfg);
    if (lock >= 0)
        close(lock);
    return rc;
}
