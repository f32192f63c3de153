/* proc.h: the server under test as a child process, and /proc sampling.
 *
 * bench_server_start makes a fresh data directory (balai init), starts
 * `balai serve --listen 127.0.0.1:0` pinned to one CPU with the given
 * environment overrides, and waits for DIR/serve.addr and DIR/balai.sock.
 * The server runs in its own process group and dies with the generator
 * (PR_SET_PDEATHSIG); bench_server_kill_now is async-signal-safe, for
 * signal handlers and alarms. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_server_opts {
    const char *bin;         /* path of the balai binary */
    const char *hash_cost;   /* security.password_hash_cost */
    const char *log_level;   /* log.level */
    int64_t max_connections; /* limits.max_connections */
    int cpu;                 /* CPU to pin the server to; -1: no pinning */
    int keep;                /* keep the data directory afterwards */
};

struct bench_server {
    pid_t pid;
    char *root;      /* temporary directory holding everything */
    char *data_dir;  /* root/data */
    char *sock_path; /* data_dir/balai.sock */
    char *log_path;  /* root/server.log (the server's stderr) */
    char *pg_admin;  /* BALAI_BENCH_PG: the cluster's URL, else NULL */
    char *pg_db;     /* the fresh database of this server (dropped at stop) */
    char *pg_url;    /* its URL, given to balai init --database */
    struct sockaddr_in addr;
    char addr_str[128];
    int keep;
};

struct bench_proc_sample {
    int64_t rss_kib; /* VmRSS */
    int64_t hwm_kib; /* VmHWM: peak RSS */
    int64_t cpu_us;  /* user + system time of all threads */
    int64_t threads;
};

/* Starts a server. On failure prints the reason (and the server log's
 * tail) and returns a negative error; `s` needs bench_server_stop anyway. */
int bench_server_start(struct bench_server *s, const struct bench_server_opts *o);
/* Stops the server process and starts it again on the same data directory:
 * a restart, with the data kept and every in-memory cache cold. */
int bench_server_restart(struct bench_server *s, const struct bench_server_opts *o);
/* Stops the server (SIGTERM, then SIGKILL after 10 s), waits for it, and
 * removes its directory unless asked to keep it. NULL-safe, idempotent. */
void bench_server_stop(struct bench_server *s);
/* Kills the running server with SIGKILL. Async-signal-safe. */
void bench_server_kill_now(void);

/* Reads /proc/PID/status and /proc/PID/stat. Returns 0 or BALAI_EIO. */
int bench_proc_sample(pid_t pid, struct bench_proc_sample *out);
/* CPU time all CPUs spent busy (including steal), from /proc/stat, in
 * microseconds. */
int64_t bench_system_busy_us(void);
/* This process's user + system CPU time, in microseconds. */
int64_t bench_self_cpu_us(void);
/* Pins the calling process to `cpu`. Returns 0 or BALAI_EIO. */
int bench_pin_self(int cpu);
/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
int64_t bench_raise_nofile(void);
/* Monotonic time in nanoseconds. */
int64_t bench_now_ns(void);
/* True when `a` lies in 127.0.0.0/8. */
int bench_is_loopback(const struct sockaddr_in *a);

#endif
