/* matrix.c: provisioning users and rooms through the Client-Server and
 * admin APIs, and small helpers for URLs and /sync bodies. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util/alloc.h"

#define PROVISION_PARALLEL 32
#define PROVISION_TIMEOUT_MS 600000

struct users_ctx {
    struct bench_user *u;
};

static void pw_of(const struct bench_user *u, char *out, size_t outlen)
{
    snprintf(out, outlen, "bench-pass-%s", u->name);
}

static void make_create(void *arg, size_t i, struct bench_reqspec *rq)
{
    struct users_ctx *x = arg;
    char pw[128];
    pw_of(&x->u[i], pw, sizeof(pw));
    rq->method = "POST";
    balai_buf_append_str(&rq->target, "/_balai/admin/v1/users");
    balai_buf_printf(&rq->body, "{\"username\":\"%s\",\"password\":\"%s\"}", x->u[i].name, pw);
}

static int take_json_str(const char *body, size_t len, const char *key, char **out)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    const char *v = json_string_value(json_object_get(o, key));
    int rc = BALAI_EINVAL;
    if (v) {
        free(*out);
        *out = balai_strdup(v);
        rc = BALAI_OK;
    }
    json_decref(o);
    return rc;
}

static int take_create(void *arg, size_t i, int status, const char *body, size_t len)
{
    struct users_ctx *x = arg;
    if (status != 200)
        return BALAI_EIO;
    return take_json_str(body, len, "user_id", &x->u[i].user_id);
}

static void make_login(void *arg, size_t i, struct bench_reqspec *rq)
{
    struct users_ctx *x = arg;
    char pw[128];
    pw_of(&x->u[i], pw, sizeof(pw));
    rq->method = "POST";
    balai_buf_append_str(&rq->target, "/_matrix/client/v3/login");
    balai_buf_printf(&rq->body,
                     "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                     "\"user\":\"%s\"},\"password\":\"%s\","
                     "\"initial_device_display_name\":\"balai-bench\"}",
                     x->u[i].name, pw);
}

static int take_login(void *arg, size_t i, int status, const char *body, size_t len)
{
    struct users_ctx *x = arg;
    if (status != 200)
        return BALAI_EIO;
    return take_json_str(body, len, "access_token", &x->u[i].token);
}

int bench_users_make(struct bench *b, const char *prefix, size_t n, struct bench_user **out)
{
    struct users_ctx x = {balai_calloc(n ? n : 1, sizeof(struct bench_user))};
    struct bench_batch create = {"create users", n, PROVISION_PARALLEL, 1, make_create,
                                 take_create,    &x};
    struct bench_batch login = {"log users in", n, PROVISION_PARALLEL, 0, make_login,
                                take_login,     &x};
    int rc;

    for (size_t i = 0; i < n; i++)
        x.u[i].name = balai_asprintf("%s%06zu", prefix, i);
    rc = bench_batch_run(b, &create, PROVISION_TIMEOUT_MS);
    if (rc == BALAI_OK)
        rc = bench_batch_run(b, &login, PROVISION_TIMEOUT_MS);
    if (rc != BALAI_OK) {
        bench_users_free(x.u, n);
        *out = NULL;
        return rc;
    }
    *out = x.u;
    return BALAI_OK;
}

void bench_users_free(struct bench_user *u, size_t n)
{
    if (!u)
        return;
    for (size_t i = 0; i < n; i++) {
        free(u[i].name);
        free(u[i].user_id);
        free(u[i].token);
    }
    free(u);
}

struct rooms_ctx {
    struct bench_user **users;
    char **rooms;
};

static void make_room(void *arg, size_t i, struct bench_reqspec *rq)
{
    struct rooms_ctx *x = arg;
    rq->method = "POST";
    rq->token = x->users[i]->token;
    balai_buf_append_str(&rq->target, "/_matrix/client/v3/createRoom");
    balai_buf_append_str(&rq->body, "{\"preset\":\"public_chat\",\"name\":\"bench\"}");
}

static int take_room(void *arg, size_t i, int status, const char *body, size_t len)
{
    struct rooms_ctx *x = arg;
    if (status != 200)
        return BALAI_EIO;
    return take_json_str(body, len, "room_id", &x->rooms[i]);
}

int bench_rooms_create(struct bench *b, struct bench_user **creators, size_t n, char **rooms)
{
    struct rooms_ctx x = {creators, rooms};
    struct bench_batch bt = {"create rooms", n, PROVISION_PARALLEL, 0, make_room, take_room, &x};
    return bench_batch_run(b, &bt, PROVISION_TIMEOUT_MS);
}

static void make_join(void *arg, size_t i, struct bench_reqspec *rq)
{
    struct rooms_ctx *x = arg;
    char *enc = bench_urlenc(x->rooms[i]);
    rq->method = "POST";
    rq->token = x->users[i]->token;
    balai_buf_printf(&rq->target, "/_matrix/client/v3/join/%s", enc);
    balai_buf_append_str(&rq->body, "{}");
    free(enc);
}

static int take_join(void *arg, size_t i, int status, const char *body, size_t len)
{
    (void)arg;
    (void)i;
    (void)body;
    (void)len;
    return status == 200 ? BALAI_OK : BALAI_EIO;
}

int bench_rooms_join(struct bench *b, struct bench_user **users, char **rooms, size_t n)
{
    struct rooms_ctx x = {users, rooms};
    struct bench_batch bt = {"join rooms", n, PROVISION_PARALLEL, 0, make_join, take_join, &x};
    return bench_batch_run(b, &bt, PROVISION_TIMEOUT_MS);
}

char *bench_urlenc(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct balai_buf o;
    balai_buf_init(&o, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            balai_buf_append_char(&o, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            balai_buf_append(&o, e, 3);
        }
    }
    if (!o.data)
        balai_buf_append(&o, "", 0);
    return balai_buf_detach(&o, NULL);
}

int bench_next_batch(const char *body, size_t len, char *out, size_t outlen)
{
    static const char key[] = "\"next_batch\":\"";
    const char *p = memmem(body, len, key, sizeof(key) - 1);
    if (!p)
        return BALAI_ENOTFOUND;
    p += sizeof(key) - 1;
    const char *end = memchr(p, '"', len - (size_t)(p - body));
    if (!end || (size_t)(end - p) >= outlen)
        return BALAI_ENOTFOUND;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return BALAI_OK;
}
