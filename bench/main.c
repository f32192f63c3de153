/* main.c: balai-bench, the load generator behind `make bench`.
 *
 * Starts its own Balai server on 127.0.0.1 for every scenario (fresh data
 * directory, server pinned to CPU 0, generator to CPU 1), drives it over
 * the Matrix Client-Server API with thousands of keep-alive connections
 * from one libuv loop, samples the server's RSS and CPU from /proc, and
 * prints each figure beside its DESIGN.md §8 target. See
 * docs/performance.md for the method. */
#include "balai.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "util/alloc.h"
#include "util/log.h"

struct scenario {
    const char *name;
    int (*run)(struct bench *b);
    const char *help;
};

static const struct scenario scenarios[] = {
    {"rate", bench_scen_rate, "GET /versions and /whoami request rate at 100 and 1,000 conns"},
    {"idle", bench_scen_idle, "RSS per parked /sync client, idle server RSS and CPU"},
    {"send", bench_scen_send, "durable sends/s, closed loop, many clients into many rooms"},
    {"fanout", bench_scen_fanout, "100- and 1,000-member rooms, stepped send rates"},
    {"dm", bench_scen_dm, "many 1:1 rooms, stepped send rates"},
    {"login", bench_scen_login, "login rate with Argon2id 'moderate'"},
    {"sync", bench_scen_sync, "initial /sync in 100 rooms, warm and cold (after a restart)"},
};

static struct bench *the_bench;
static volatile sig_atomic_t timed_out;

static void on_signal(int sig)
{
    static const char msg[] = "\nbalai-bench: interrupted, stopping (again to kill now)\n";
    if (the_bench && !the_bench->stop) {
        the_bench->stop = 1;
        (void)!write(2, msg, sizeof(msg) - 1);
        return;
    }
    bench_server_kill_now();
    _exit(128 + sig);
}

/* The whole-run bound: first unwind as on ^C (the server is stopped and its
 * directory removed), and if that takes longer than 30 s, kill it all. */
static void on_alarm(int sig)
{
    static const char msg[] = "\nbalai-bench: the run exceeded --max-seconds; stopping\n";
    static const char msg2[] = "balai-bench: still not stopped; killing the server\n";
    timed_out = 1;
    if (the_bench && !the_bench->stop) {
        the_bench->stop = 1;
        (void)!write(2, msg, sizeof(msg) - 1);
        alarm(30);
        return;
    }
    (void)!write(2, msg2, sizeof(msg2) - 1);
    bench_server_kill_now();
    _exit(128 + sig);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: balai-bench [--full] [--scenarios LIST] [--bin PATH] [--json PATH]\n"
                 "                   [--max-seconds S] [--idle-clients N] [--src-addrs K]\n"
                 "                   [--server-log-level L] [--keep] [--no-pin]\n\n"
                 "Runs the quick set of every scenario (or the full-size runs with --full)\n"
                 "against servers it starts itself on 127.0.0.1, and prints each figure\n"
                 "beside its DESIGN.md target. Defaults: --bin build/balai, --max-seconds\n"
                 "900 (3600 with --full), --server-log-level warn.\n\n"
                 "BALAI_BENCH_PG=postgres://... (a cluster where databases may be created):\n"
                 "each server runs on PostgreSQL, in a fresh database dropped afterwards\n"
                 "(docs/postgres.md); run once without and once with it to compare.\n\n"
                 "Exit status: 0 every scenario ran, 1 one failed, 2 usage, 3 --max-seconds\n"
                 "passed, 130 interrupted.\n\nscenarios:\n");
    for (size_t i = 0; i < BALAI_ARRAY_LEN(scenarios); i++)
        fprintf(out, "  %-8s %s\n", scenarios[i].name, scenarios[i].help);
}

static int wanted(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

static json_t *machine_json(struct bench *b)
{
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(model, sizeof(model), "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    }
    if (f)
        fclose(f);
    return json_pack("{s:i, s:s, s:I}", "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "cpu_model",
                     model, "nofile", (json_int_t)b->nofile);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"full", no_argument, NULL, 'f'},
                                         {"quick", no_argument, NULL, 'q'},
                                         {"scenarios", required_argument, NULL, 's'},
                                         {"bin", required_argument, NULL, 'b'},
                                         {"json", required_argument, NULL, 'j'},
                                         {"max-seconds", required_argument, NULL, 'm'},
                                         {"idle-clients", required_argument, NULL, 'i'},
                                         {"src-addrs", required_argument, NULL, 'a'},
                                         {"server-log-level", required_argument, NULL, 'l'},
                                         {"keep", no_argument, NULL, 'k'},
                                         {"no-pin", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bench b;
    const char *only = NULL;
    int c, failed = 0;

    memset(&b, 0, sizeof(b));
    b.o.bin = "build/balai";
    b.o.log_level = "warn";
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            b.o.full = 1;
            break;
        case 'q':
            b.o.full = 0;
            break;
        case 's':
            only = optarg;
            break;
        case 'b':
            b.o.bin = optarg;
            break;
        case 'j':
            b.o.json_path = optarg;
            break;
        case 'm':
            b.o.max_seconds = strtoll(optarg, NULL, 10);
            break;
        case 'i':
            b.o.idle_clients = strtoll(optarg, NULL, 10);
            break;
        case 'a':
            b.o.src_addrs = atoi(optarg);
            break;
        case 'l':
            b.o.log_level = optarg;
            break;
        case 'k':
            b.o.keep = 1;
            break;
        case 'n':
            b.o.no_pin = 1;
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
    for (const char *p = only; p && *p;) {
        size_t len = strcspn(p, ","), k;
        for (k = 0; k < BALAI_ARRAY_LEN(scenarios); k++) {
            if (strlen(scenarios[k].name) == len && strncmp(p, scenarios[k].name, len) == 0)
                break;
        }
        if (k == BALAI_ARRAY_LEN(scenarios)) {
            fprintf(stderr, "balai-bench: unknown scenario '%.*s'\n", (int)len, p);
            usage(stderr);
            return 2;
        }
        p += len + (p[len] == ',');
    }
    if (access(b.o.bin, X_OK) != 0) {
        fprintf(stderr, "balai-bench: %s is not an executable (build first, or --bin)\n", b.o.bin);
        return 2;
    }
    if (b.o.max_seconds <= 0)
        b.o.max_seconds = b.o.full ? 3600 : 900;

    balai_log_set_level(BALAI_LOG_WARN);
    the_bench = &b;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)b.o.max_seconds);

    b.nofile = bench_raise_nofile();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!b.o.no_pin && ncpu < 2) {
        fprintf(stderr, "balai-bench: one CPU only: not pinning (figures are not comparable)\n");
        b.o.no_pin = 1;
    }
    if (!b.o.no_pin && bench_pin_self(BENCH_GEN_CPU) != BALAI_OK) {
        fprintf(stderr, "balai-bench: cannot pin to CPU %d; continuing unpinned\n", BENCH_GEN_CPU);
        b.o.no_pin = 1;
    }
    b.loop = uv_default_loop();
    uv_timer_init(b.loop, &b.tick);
    b.json = json_object();

    time_t now = time(NULL);
    struct tm tm;
    char ts[64];
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *commit = getenv("BALAI_BENCH_COMMIT");
    json_object_set_new(b.json, "started", json_string(ts));
    json_object_set_new(b.json, "mode", json_string(b.o.full ? "full" : "quick"));
    json_object_set_new(b.json, "commit", commit ? json_string(commit) : json_null());
    json_object_set_new(b.json, "pinned", json_boolean(!b.o.no_pin));
    json_object_set_new(b.json, "machine", machine_json(&b));

    printf("balai-bench (%s): server on CPU %s, generator on CPU %s, RLIMIT_NOFILE %lld\n",
           b.o.full ? "full" : "quick", b.o.no_pin ? "any" : "0", b.o.no_pin ? "any" : "1",
           (long long)b.nofile);
    fflush(stdout);
    int64_t t_all = bench_now_ns();
    for (size_t i = 0; i < BALAI_ARRAY_LEN(scenarios) && !b.stop; i++) {
        if (!wanted(only, scenarios[i].name))
            continue;
        int64_t t0 = bench_now_ns();
        int rc = scenarios[i].run(&b);
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        json_t *o = bench_scenario_json(&b, scenarios[i].name);
        json_object_set_new(o, "seconds", json_real(secs));
        json_object_set_new(o, "ok", json_boolean(rc == BALAI_OK));
        if (rc != BALAI_OK) {
            failed++;
            json_object_set_new(o, "error", json_string(balai_strerror(rc)));
            printf("%s: FAILED (%s) after %.1f s\n", scenarios[i].name, balai_strerror(rc), secs);
        } else {
            printf("%s: done in %.1f s\n", scenarios[i].name, secs);
        }
        fflush(stdout);
    }
    json_object_set_new(b.json, "seconds", json_real((double)(bench_now_ns() - t_all) / 1e9));
    json_object_set_new(b.json, "other_cpu_max_pct", json_real(b.other_max));
    bench_report_print(&b);
    if (b.other_max > 10)
        printf("warning: other processes used up to %.0f%% of a core during a measurement "
               "window;\n         rerun on a quiet machine before trusting the figures\n",
               b.other_max);
    if (bench_report_write(&b) == BALAI_OK && b.o.json_path)
        printf("results: %s\n", b.o.json_path);

    bench_report_free(&b);
    json_decref(b.json);
    uv_close((uv_handle_t *)&b.tick, NULL);
    uv_run(b.loop, UV_RUN_NOWAIT);
    uv_loop_close(b.loop);
    return timed_out ? 3 : b.stop ? 130 : failed ? 1 : 0;
}
