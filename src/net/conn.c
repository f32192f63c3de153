/* conn.c: TCP and unix-socket listeners and their connections over libuv.
 *
 * Reads land in the loop's shared buffer (net_int.h); writes first try
 * uv_try_write, so a small response costs one syscall and no allocation,
 * and only a remainder is queued with uv_write. */
#include "balai.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define LOG_MODULE "net"
#include "net/conn.h"
#include "net/loop.h"
#include "net/net_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define DEFAULT_BACKLOG 1024
#define MAX_WRITE_BUFS 8

union stream_handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct balai_listener {
    union stream_handle h; /* first: handle pointers convert to the listener */
    struct balai_loop *loop;
    struct balai_listen_opts opts;
    int is_unix;
    char *path; /* unix socket file, removed on close if still ours */
    dev_t dev;
    ino_t ino;
};

struct balai_conn {
    union stream_handle h; /* first: handle pointers convert to the connection */
    const struct balai_conn_handler *handler;
    uint8_t is_unix;
    uint8_t closing;
    uint8_t family; /* AF_INET, AF_INET6, or 0 */
    uint8_t addr[16];
};

/* Owner state follows the connection, aligned for anything. */
#define EXT_OFFSET                                                                                 \
    ((sizeof(struct balai_conn) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

struct write_req {
    uv_write_t req;
    balai_conn_write_cb cb;
    void *arg;
};

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    struct balai_conn *c = (struct balai_conn *)h;
    if (c->handler && c->handler->on_close)
        c->handler->on_close(c);
    free(c);
}

void balai_conn_close(struct balai_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close(&c->h.handle, on_conn_closed);
}

void balai_conn_set_handler(struct balai_conn *c, const struct balai_conn_handler *h)
{
    c->handler = h;
}

void *balai_conn_ext(struct balai_conn *c)
{
    return (char *)c + EXT_OFFSET;
}

struct balai_conn *balai_conn_of_ext(void *ext)
{
    return (struct balai_conn *)(void *)((char *)ext - EXT_OFFSET);
}

int balai_conn_is_local(const struct balai_conn *c)
{
    return c->is_unix;
}

void balai_conn_peer(const struct balai_conn *c, char *out, size_t outlen)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (outlen == 0)
        return;
    out[0] = '\0';
    if (c->is_unix) {
        snprintf(out, outlen, "unix");
    } else if (c->family == AF_INET) {
        inet_ntop(AF_INET, c->addr, out, (socklen_t)outlen);
    } else if (c->family == AF_INET6) {
        if (memcmp(c->addr, v4mapped, sizeof(v4mapped)) == 0)
            inet_ntop(AF_INET, c->addr + 12, out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, c->addr, out, (socklen_t)outlen);
    } else {
        snprintf(out, outlen, "-");
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    buf->base = balai__loop_readbuf(balai__loop_of(h->loop));
    buf->len = BALAI_NET_READBUF;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct balai_conn *c = (struct balai_conn *)s;

    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        uv_read_stop(s);
        c->handler->on_read(c, NULL, nread == UV_EOF ? BALAI_ECLOSED : BALAI_EIO);
        return;
    }
    c->handler->on_read(c, buf->base, nread);
}

int balai_conn_read_start(struct balai_conn *c)
{
    if (c->closing)
        return BALAI_ECLOSED;
    return uv_read_start(&c->h.stream, on_alloc, on_read) == 0 ? BALAI_OK : BALAI_EIO;
}

void balai_conn_read_stop(struct balai_conn *c)
{
    if (!c->closing)
        uv_read_stop(&c->h.stream);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct balai_conn *c = (struct balai_conn *)req->handle;
    int rc = BALAI_OK;

    if (status == UV_ECANCELED)
        rc = BALAI_ECLOSED;
    else if (status < 0)
        rc = BALAI_EIO;
    if (w->cb)
        w->cb(c, rc, w->arg);
    free(w);
}

int balai_conn_write(struct balai_conn *c, const struct balai_slice *bufs, unsigned nbufs,
                     balai_conn_write_cb cb, void *arg)
{
    uv_buf_t ub[MAX_WRITE_BUFS];
    unsigned first = 0;
    size_t total = 0;
    struct write_req *w;
    int r;

    if (c->closing || nbufs > MAX_WRITE_BUFS)
        return BALAI_EIO;
    for (unsigned i = 0; i < nbufs; i++) {
        ub[i] = uv_buf_init((char *)bufs[i].ptr, (unsigned)bufs[i].len);
        total += bufs[i].len;
    }
    r = uv_try_write(&c->h.stream, ub, nbufs);
    if (r >= 0 && (size_t)r == total)
        return 1;
    if (r < 0 && r != UV_EAGAIN)
        return BALAI_EIO;
    if (r > 0) {
        size_t done = (size_t)r;
        while (first < nbufs && done >= ub[first].len)
            done -= ub[first++].len;
        ub[first].base += done;
        ub[first].len -= done;
    }
    w = balai_malloc(sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    r = uv_write(&w->req, &c->h.stream, ub + first, nbufs - first, on_written);
    if (r != 0) {
        free(w);
        return BALAI_EIO;
    }
    return 0;
}

ssize_t balai_conn_try_write(struct balai_conn *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r;

    if (c->closing)
        return BALAI_EIO;
    r = uv_try_write(&c->h.stream, &b, 1);
    if (r == UV_EAGAIN)
        return 0;
    return r < 0 ? BALAI_EIO : r;
}

size_t balai_conn_write_queue_size(const struct balai_conn *c)
{
    return uv_stream_get_write_queue_size(&c->h.stream);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

void balai_conn_shutdown(struct balai_conn *c)
{
    uv_shutdown_t *req;

    if (c->closing)
        return;
    req = balai_malloc(sizeof(*req));
    if (uv_shutdown(req, &c->h.stream, on_shutdown) != 0)
        free(req);
}

/* ---- listeners ---- */

static void on_connection(uv_stream_t *server, int status)
{
    struct balai_listener *l = (struct balai_listener *)server;
    struct balai_conn *c;
    int err;

    if (status < 0) {
        LOG_WARN("accept failed: %s", uv_strerror(status));
        return;
    }
    c = balai_calloc(1, EXT_OFFSET + l->opts.ext_size);
    c->is_unix = (uint8_t)l->is_unix;
    if (l->is_unix)
        err = uv_pipe_init(server->loop, &c->h.pipe, 0);
    else
        err = uv_tcp_init(server->loop, &c->h.tcp);
    if (err != 0) {
        LOG_WARN("cannot set up a connection: %s", uv_strerror(err));
        free(c);
        return;
    }
    err = uv_accept(server, &c->h.stream);
    if (err != 0) {
        LOG_WARN("accept failed: %s", uv_strerror(err));
        balai_conn_close(c);
        return;
    }
    if (!l->is_unix) {
        struct sockaddr_storage ss;
        int sslen = sizeof(ss);

        uv_tcp_nodelay(&c->h.tcp, 1);
        if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &sslen) == 0) {
            if (ss.ss_family == AF_INET) {
                c->family = AF_INET;
                memcpy(c->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
            } else if (ss.ss_family == AF_INET6) {
                c->family = AF_INET6;
                memcpy(c->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            }
        }
    }
    if (l->opts.on_accept(c, l->opts.arg) != 0 || !c->handler) {
        c->handler = NULL;
        balai_conn_close(c);
        return;
    }
    if (balai_conn_read_start(c) != BALAI_OK)
        balai_conn_close(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct balai_listener *l = (struct balai_listener *)h;
    struct stat st;

    /* Remove the socket file only if it is still the one we created. */
    if (l->path && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        unlink(l->path);
    free(l->path);
    free(l);
}

void balai_listener_close(struct balai_listener *l)
{
    if (l)
        uv_close(&l->h.handle, on_listener_closed);
}

/* Splits "HOST:PORT" into a socket address. */
static int parse_addr_port(const char *s, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    size_t hlen;
    char *end;
    long port;

    if (!colon || colon[1] == '\0')
        return BALAI_EINVAL;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port < 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return BALAI_EINVAL;
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        if (hlen - 2 >= sizeof(host))
            return BALAI_EINVAL;
        memcpy(host, s + 1, hlen - 2);
        host[hlen - 2] = '\0';
        return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? BALAI_OK
                                                                            : BALAI_EINVAL;
    }
    if (hlen >= sizeof(host))
        return BALAI_EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (hlen == 0 || strcmp(host, "*") == 0)
        snprintf(host, sizeof(host), "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0 ? BALAI_OK : BALAI_EINVAL;
}

static void format_sockaddr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "";

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, outlen, "%s:%u", ip, ntohs(a->sin_port));
    }
}

static struct balai_listener *listener_alloc(struct balai_loop *loop,
                                             const struct balai_listen_opts *opts, int is_unix)
{
    struct balai_listener *l = balai_calloc(1, sizeof(*l));
    l->loop = loop;
    l->opts = *opts;
    l->is_unix = is_unix;
    if (l->opts.backlog <= 0)
        l->opts.backlog = DEFAULT_BACKLOG;
    return l;
}

/* Error code for a failed bind or listen. */
static int listen_err(int uverr)
{
    if (uverr == UV_EADDRINUSE)
        return BALAI_EEXIST;
    if (uverr == UV_EACCES || uverr == UV_EPERM)
        return BALAI_EFORBIDDEN;
    return BALAI_EIO;
}

int balai_listen_tcp(struct balai_loop *loop, const char *addr_port,
                     const struct balai_listen_opts *opts, struct balai_listener **out, char *bound,
                     size_t boundlen)
{
    struct sockaddr_storage ss;
    struct balai_listener *l = NULL;
    int err, rc;

    memset(&ss, 0, sizeof(ss));
    rc = parse_addr_port(addr_port, &ss);
    if (rc != BALAI_OK) {
        LOG_DEBUG("cannot listen on '%s': expected ADDR:PORT, e.g. 127.0.0.1:8008", addr_port);
        return rc;
    }
    l = listener_alloc(loop, opts, 0);
    err = uv_tcp_init(balai_loop_uv(loop), &l->h.tcp);
    if (err != 0) {
        free(l);
        l = NULL;
        goto fail;
    }
    /* libuv sets SO_REUSEADDR itself; an address in use may show here or
     * only at uv_listen. */
    err = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&ss, 0);
    if (err == 0)
        err = uv_listen(&l->h.stream, l->opts.backlog, on_connection);
    if (err != 0)
        goto fail;
    if (bound && boundlen) {
        int len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len);
        format_sockaddr(&ss, bound, boundlen);
    }
    *out = l;
    return BALAI_OK;
fail:
    /* The caller reports it in one line; the code says why. */
    LOG_DEBUG("cannot listen on %s: %s", addr_port, uv_strerror(err));
    if (l)
        uv_close(&l->h.handle, on_listener_closed);
    return listen_err(err);
}

/* Returns 0 when `path` is free (absent, or a stale socket now removed). */
static int clear_stale_socket(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? BALAI_OK : BALAI_EIO;
    if (!S_ISSOCK(st.st_mode)) {
        LOG_DEBUG("cannot listen on %s: the file exists and is not a socket", path);
        return BALAI_EIO;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return BALAI_EIO;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc == 0) {
        close(fd);
        LOG_DEBUG("cannot listen on %s: address already in use (is a server running?)", path);
        return BALAI_EEXIST;
    }
    rc = errno;
    close(fd);
    if (rc != ECONNREFUSED) {
        LOG_DEBUG("cannot listen on %s: %s", path, strerror(rc));
        return BALAI_EIO;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        LOG_DEBUG("cannot remove stale socket %s: %s", path, strerror(errno));
        return BALAI_EIO;
    }
    return BALAI_OK;
}

int balai_listen_unix(struct balai_loop *loop, const char *path,
                      const struct balai_listen_opts *opts, struct balai_listener **out)
{
    struct sockaddr_un sa;
    struct balai_listener *l = NULL;
    struct stat st;
    int err, rc;

    if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
        LOG_DEBUG("cannot listen on unix socket '%s': path empty or longer than %zu bytes",
                  path ? path : "", sizeof(sa.sun_path) - 1);
        return BALAI_EINVAL;
    }
    rc = clear_stale_socket(path);
    if (rc != BALAI_OK)
        return rc;
    l = listener_alloc(loop, opts, 1);
    err = uv_pipe_init(balai_loop_uv(loop), &l->h.pipe, 0);
    if (err != 0) {
        free(l);
        l = NULL;
        goto fail;
    }
    err = uv_pipe_bind(&l->h.pipe, path);
    if (err != 0)
        goto fail;
    l->path = balai_strdup(path);
    /* Nobody can connect before listen, so 0600 is in place in time. */
    if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
        err = uv_translate_sys_error(errno);
        goto fail;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    err = uv_listen(&l->h.stream, l->opts.backlog, on_connection);
    if (err != 0)
        goto fail;
    *out = l;
    return BALAI_OK;
fail:
    LOG_DEBUG("cannot listen on %s: %s", path, uv_strerror(err));
    if (l)
        uv_close(&l->h.handle, on_listener_closed);
    return listen_err(err);
}
