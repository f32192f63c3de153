/* proc.c: starting and stopping the server under test; /proc sampling. */
#include "balai.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "proc.h"
#include "util/alloc.h"

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000

static volatile pid_t running_pid;

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int bench_is_loopback(const struct sockaddr_in *a)
{
    return a->sin_family == AF_INET && (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

int bench_pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? BALAI_OK : BALAI_EIO;
}

int64_t bench_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur;
}

int64_t bench_system_busy_us(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    /* cpu user nice system idle iowait irq softirq steal */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (int64_t)(busy * 1000000ULL / (unsigned long long)hz);
}

int64_t bench_self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

int bench_proc_sample(pid_t pid, struct bench_proc_sample *out)
{
    char path[64], buf[4096];
    FILE *f;
    int rc = BALAI_EIO;

    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return BALAI_EIO;
    while (fgets(buf, sizeof(buf), f)) {
        if (strncmp(buf, "VmRSS:", 6) == 0)
            out->rss_kib = strtoll(buf + 6, NULL, 10);
        else if (strncmp(buf, "VmHWM:", 6) == 0)
            out->hwm_kib = strtoll(buf + 6, NULL, 10);
        else if (strncmp(buf, "Threads:", 8) == 0)
            out->threads = strtoll(buf + 8, NULL, 10);
    }
    fclose(f);

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return BALAI_EIO;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields restart
     * after the last ')'; utime and stime are fields 14 and 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return BALAI_EIO;
    p++;
    long long ut = 0, st = 0;
    if (sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) == 2) {
        long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
            hz = 100;
        out->cpu_us = (int64_t)(ut + st) * 1000000 / hz;
        rc = BALAI_OK;
    }
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

static void print_log_tail(const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        (void)fseek(f, end > 3000 ? end - 3000 : 0, SEEK_SET);
    }
    fprintf(stderr, "---- last lines of %s ----\n", path);
    while (fgets(buf, sizeof(buf), f))
        fputs(buf, stderr);
    fprintf(stderr, "----\n");
    fclose(f);
}

/* In the child: stdout to /dev/null, stderr to the log. */
static void child_redirect(const char *log_path)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDWR);
    if (fd >= 0)
        dup2(fd, 2);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
    }
}

/* `url` with its database name replaced by `db` (caller frees). */
static char *pg_url_for(const char *url, const char *db)
{
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url), slash = base;

    while (slash > 0 && url[slash - 1] != '/')
        slash--;
    return balai_asprintf("%.*s%s%s", (int)slash, url, db, q ? q : "");
}

/* Runs one statement on the cluster's "postgres" database. */
static int pg_admin(const char *admin_url, const char *sql)
{
    char *url = pg_url_for(admin_url, "postgres");
    PGconn *c = PQconnectdb(url);
    PGresult *r = NULL;
    int rc = BALAI_EIO;

    free(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "balai-bench: BALAI_BENCH_PG: %s", PQerrorMessage(c));
        goto out;
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "balai-bench: %s: %s", sql, PQerrorMessage(c));
        goto out;
    }
    rc = BALAI_OK;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* BALAI_BENCH_PG=postgres://... (a cluster where databases may be created):
 * the server runs on PostgreSQL, in a fresh database. */
static int pg_prepare(struct bench_server *s)
{
    static int seq;
    const char *env = getenv("BALAI_BENCH_PG");
    char *sql;
    int rc;

    if (!env || !*env)
        return BALAI_OK;
    s->pg_admin = balai_strdup(env);
    s->pg_db = balai_asprintf("balai_bench_%d_%d", (int)getpid(), ++seq);
    sql = balai_asprintf("CREATE DATABASE %s", s->pg_db);
    rc = pg_admin(s->pg_admin, sql);
    free(sql);
    if (rc == BALAI_OK)
        s->pg_url = pg_url_for(s->pg_admin, s->pg_db);
    return rc;
}

static int run_init(struct bench_server *s, const char *bin)
{
    pid_t pid;

    if (pg_prepare(s) != BALAI_OK)
        return BALAI_EIO;
    pid = fork();
    if (pid < 0)
        return BALAI_EIO;
    if (pid == 0) {
        child_redirect(s->log_path);
        if (s->pg_url)
            execl(bin, "balai", "init", "--data-dir", s->data_dir, "--database", s->pg_url,
                  (char *)NULL);
        else
            execl(bin, "balai", "init", "--data-dir", s->data_dir, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "balai-bench: '%s init' failed\n", bin);
        print_log_tail(s->log_path);
        return BALAI_EIO;
    }
    return BALAI_OK;
}

static void set_env_int(const char *name, int64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    setenv(name, num, 1);
}

static void exec_serve(const struct bench_server *s, const struct bench_server_opts *o,
                       pid_t parent)
{
    setpgid(0, 0); /* a terminal's ^C reaches the generator, which stops us */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    if (o->cpu >= 0)
        (void)bench_pin_self(o->cpu);
    child_redirect(s->log_path);
    setenv("BALAI_SECURITY_PASSWORD_HASH_COST", o->hash_cost, 1);
    setenv("BALAI_LOG_LEVEL", o->log_level, 1);
    set_env_int("BALAI_LIMITS_MAX_CONNECTIONS", o->max_connections);
    /* provisioning logs thousands of users in from one address */
    set_env_int("BALAI_LOGIN_IP_ATTEMPTS", 1000000);
    set_env_int("BALAI_LOGIN_ACCOUNT_FAILURES", 1000000);
    /* senders wait between rate steps; do not close them as idle */
    set_env_int("BALAI_LIMITS_IDLE_TIMEOUT_MS", 600000);
    execl(o->bin, "balai", "serve", "--data-dir", s->data_dir, "--listen", "127.0.0.1:0",
          (char *)NULL);
    _exit(127);
}

/* Reads DIR/serve.addr once it exists. */
static int read_addr(struct bench_server *s)
{
    char *path = balai_asprintf("%s/serve.addr", s->data_dir);
    char line[128] = "";
    int rc = BALAI_ENOTFOUND;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return rc;
    if (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *colon = strrchr(line, ':');
        if (colon) {
            *colon = '\0';
            memset(&s->addr, 0, sizeof(s->addr));
            s->addr.sin_family = AF_INET;
            s->addr.sin_port = htons((uint16_t)atoi(colon + 1));
            if (inet_pton(AF_INET, line, &s->addr.sin_addr) == 1)
                rc = BALAI_OK;
            else
                rc = BALAI_EINVAL;
            *colon = ':';
            snprintf(s->addr_str, sizeof(s->addr_str), "%s", line);
        }
    }
    fclose(f);
    return rc;
}

/* Forks `balai serve` on s->data_dir and waits until it announces its
 * address and socket. */
static int spawn(struct bench_server *s, const struct bench_server_opts *o)
{
    int rc;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return BALAI_EIO;
    if (pid == 0)
        exec_serve(s, o, parent);
    s->pid = pid;
    running_pid = pid;

    int64_t deadline = bench_now_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            running_pid = 0;
            fprintf(stderr, "balai-bench: the server exited during start-up\n");
            print_log_tail(s->log_path);
            return BALAI_EIO;
        }
        rc = read_addr(s);
        if (rc == BALAI_OK && access(s->sock_path, F_OK) == 0)
            break;
        if (rc == BALAI_EINVAL || bench_now_ns() > deadline) {
            fprintf(stderr, "balai-bench: the server did not announce its address\n");
            print_log_tail(s->log_path);
            return BALAI_ETIMEOUT;
        }
        sleep_ms(10);
    }
    if (!bench_is_loopback(&s->addr)) {
        fprintf(stderr, "balai-bench: refusing target %s: only 127.0.0.0/8 is allowed\n",
                s->addr_str);
        return BALAI_EFORBIDDEN;
    }
    return BALAI_OK;
}

int bench_server_start(struct bench_server *s, const struct bench_server_opts *o)
{
    const char *tmp = getenv("TMPDIR");
    char *tmpl;
    int rc;

    memset(s, 0, sizeof(*s));
    s->keep = o->keep;
    tmpl = balai_asprintf("%s/balai-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "balai-bench: cannot create a directory under %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        free(tmpl);
        return BALAI_EIO;
    }
    s->root = tmpl;
    s->data_dir = balai_asprintf("%s/data", s->root);
    s->sock_path = balai_asprintf("%s/balai.sock", s->data_dir);
    s->log_path = balai_asprintf("%s/server.log", s->root);
    rc = run_init(s, o->bin);
    if (rc != BALAI_OK)
        return rc;
    return spawn(s, o);
}

/* Stops the process (SIGTERM, then SIGKILL after the stop timeout) and reaps it. */
static void terminate(struct bench_server *s)
{
    int st = 0;
    kill(s->pid, SIGTERM);
    int64_t deadline = bench_now_ns() + (int64_t)STOP_TIMEOUT_MS * 1000000;
    while (waitpid(s->pid, &st, WNOHANG) == 0) {
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "balai-bench: the server did not stop in %d s; killing it\n",
                    STOP_TIMEOUT_MS / 1000);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            break;
        }
        sleep_ms(10);
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
        fprintf(stderr, "balai-bench: the server died on SIGTERM with signal %d\n", WTERMSIG(st));
    s->pid = 0;
    running_pid = 0;
}

int bench_server_restart(struct bench_server *s, const struct bench_server_opts *o)
{
    if (s->pid > 0)
        terminate(s);
    char *addr = balai_asprintf("%s/serve.addr", s->data_dir);
    unlink(addr);
    free(addr);
    unlink(s->sock_path);
    return spawn(s, o);
}

void bench_server_kill_now(void)
{
    pid_t pid = running_pid;
    if (pid > 0)
        kill(pid, SIGKILL);
}

void bench_server_stop(struct bench_server *s)
{
    if (!s)
        return;
    if (s->pid > 0) {
        int st = 0;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            /* gone before we asked: a crash or a fatal error mid-run */
            if (WIFSIGNALED(st))
                fprintf(stderr, "balai-bench: the server died during the run (signal %d)\n",
                        WTERMSIG(st));
            else
                fprintf(stderr, "balai-bench: the server exited during the run (status %d)\n",
                        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            print_log_tail(s->log_path);
            s->keep = 1;
            s->pid = 0;
            running_pid = 0;
        } else {
            terminate(s);
        }
    }
    if (s->root) {
        if (s->keep)
            fprintf(stderr, "balai-bench: kept %s\n", s->root);
        else
            nftw(s->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (s->pg_db && !s->keep) {
        char *sql = balai_asprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", s->pg_db);
        (void)pg_admin(s->pg_admin, sql);
        free(sql);
    }
    BALAI_FREE(s->root);
    BALAI_FREE(s->data_dir);
    BALAI_FREE(s->sock_path);
    BALAI_FREE(s->log_path);
    BALAI_FREE(s->pg_admin);
    BALAI_FREE(s->pg_db);
    BALAI_FREE(s->pg_url);
}
