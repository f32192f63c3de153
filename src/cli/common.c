/* common.c: config loading, the data-dir lock, the unix-socket client. */
#include "balai.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"

extern char **environ;

void balai_cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("balai: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int balai_cli_load_config(const char *data_dir, const char *config_file, struct balai_config *cfg,
                          char *err, size_t errlen)
{
    struct stat st;
    char *conf = NULL;
    int rc;

    balai_config_init(cfg, data_dir);
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen,
                 "data directory %s does not exist; create it with: balai init --data-dir %s",
                 data_dir, data_dir);
        return BALAI_ENOTFOUND;
    }
    conf = config_file ? balai_strdup(config_file) : balai_asprintf("%s/balai.conf", data_dir);
    if (access(conf, R_OK) != 0) {
        if (config_file)
            snprintf(err, errlen, "cannot read %s: %s", conf, strerror(errno));
        else
            snprintf(err, errlen,
                     "data directory %s is not initialised; run: balai init --data-dir %s",
                     data_dir, data_dir);
        rc = BALAI_ENOTFOUND;
        goto out;
    }
    rc = balai_config_load_file(cfg, conf, err, errlen);
    if (rc == BALAI_OK)
        rc = balai_config_load_env(cfg, environ, err, errlen);
out:
    free(conf);
    return rc;
}

int balai_cli_lock(const char *data_dir)
{
    char *path = balai_asprintf("%s/balai.lock", data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int connect_sock(const char *data_dir)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/balai.sock", data_dir) >=
        sizeof(sa.sun_path))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return BALAI_EIO;
        p += w;
        n -= (size_t)w;
    }
    return BALAI_OK;
}

int balai_cli_request(const char *data_dir, const char *method, const char *path, const char *body,
                      int *status, char **resp)
{
    struct balai_buf req, in;
    char chunk[4096];
    ssize_t n;
    int rc = BALAI_EIO;
    int fd = connect_sock(data_dir);

    if (fd < 0)
        return BALAI_ECLOSED;
    balai_buf_init(&req, 0);
    balai_buf_init(&in, 64 << 20);
    size_t blen = body ? strlen(body) : 0;
    balai_buf_printf(&req,
                     "%s %s HTTP/1.1\r\nHost: balai\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, blen);
    if (body)
        balai_buf_append(&req, body, blen);
    if (write_all(fd, req.data, req.len) != BALAI_OK)
        goto out;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || balai_buf_append(&in, chunk, (size_t)n) != BALAI_OK)
            goto out;
    }
    if (!in.data || sscanf(in.data, "HTTP/1.%*d %d", status) != 1)
        goto out;
    const char *sep = strstr(in.data, "\r\n\r\n");
    if (!sep)
        goto out;
    *resp = balai_strdup(sep + 4);
    rc = BALAI_OK;
out:
    close(fd);
    balai_buf_release(&req);
    balai_buf_release(&in);
    return rc;
}

char *balai_cli_read_stdin(size_t max)
{
    struct balai_buf b;
    char chunk[1024];
    size_t n;

    balai_buf_init(&b, max);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (balai_buf_append(&b, chunk, n) != BALAI_OK) {
            balai_buf_release(&b);
            return NULL;
        }
    }
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    if (b.len && b.data[b.len - 1] == '\r')
        b.data[--b.len] = '\0';
    return balai_buf_detach(&b, NULL);
}
