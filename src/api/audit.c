/* audit.c: the audit trail in the running server (see audit.h): entries
 * appended on the writer thread, the signed chain head written on the work
 * pool, the start-up check and the verifier over the store. */
#define LOG_MODULE "audit"
#include "balai.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/audit.h"
#include "core/accounts.h"
#include "crypto/crypto.h"
#include "gov/audit.h"
#include "net/pool.h"
#include "net/timer.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/time.h"

#define VERIFY_PAGE 1000
#define HEAD_MAX_BYTES 4096

struct balai_api_audit {
    struct balai_app *app;
    struct balai_audit_key key;
    char *head_path;
    /* The chain continues from here when the database ends before it (a cut
     * tail found at start). Set by load, read-only afterwards (the writer
     * thread reads it). */
    int64_t anchor_seq;
    uint8_t anchor_mac[32];
    /* Loop thread: the last committed entry, the last head written. */
    int64_t committed_seq;
    uint8_t committed_mac[32];
    int64_t headed_seq;
    int writing; /* a head write job is in flight */
    struct balai_timer *timer;
    int timer_armed;
    int stopped; /* balai_api_audit_stop ran: no new head jobs */
};

struct balai_api_audit_entry {
    struct balai_api_audit *au;
    char *actor, *action, *target, *detail;
    int64_t ts;
    /* set by entry_append on the writer thread */
    int appended;
    int64_t seq;
    uint8_t mac[32];
};

/* ---- Head file ---- */

static void hmac(const uint8_t *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
    balai_hmac_sha256(key, keylen, data, len, out);
}

/* Signs h with sk and writes it to path atomically and durably. */
static int write_head(const char *path, const uint8_t sk[64], const char *key_id,
                      struct balai_audit_head *h)
{
    struct balai_buf b;
    char *text = NULL, *tmp = NULL, *dir = NULL;
    int fd = -1, rc;

    balai_buf_init(&b, 0);
    rc = balai_audit_head_bytes(h, &b);
    if (rc != BALAI_OK)
        goto out;
    balai_sign(sk, b.data, b.len, h->sig);
    text = balai_audit_head_format(h, key_id);
    tmp = balai_asprintf("%s.tmp", path);
    rc = BALAI_EIO;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0)
        goto out;
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    dir = balai_strdup(path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && fsync(fd) != 0)
        goto out;
    rc = BALAI_OK;
out:
    if (rc != BALAI_OK)
        LOG_ERROR("cannot write the audit chain head %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    free(tmp);
    free(text);
    balai_buf_release(&b);
    return rc;
}

/* Reads and checks the head file: its state, and the head when OK. */
static enum balai_audit_head_state read_head(const char *path, const uint8_t pk[32],
                                             struct balai_audit_head *h)
{
    char text[HEAD_MAX_BYTES + 1];
    struct balai_buf b;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

    memset(h, 0, sizeof(*h));
    if (fd < 0)
        return errno == ENOENT ? BALAI_AUDIT_HEAD_MISSING : BALAI_AUDIT_HEAD_INVALID;
    n = read(fd, text, HEAD_MAX_BYTES);
    close(fd);
    if (n <= 0)
        return BALAI_AUDIT_HEAD_INVALID;
    text[n] = '\0';
    if (balai_audit_head_parse(text, h) != BALAI_OK)
        return BALAI_AUDIT_HEAD_INVALID;
    balai_buf_init(&b, 0);
    ok = balai_audit_head_bytes(h, &b) == BALAI_OK &&
         balai_sign_verify(pk, b.data, b.len, h->sig) == BALAI_OK;
    balai_buf_release(&b);
    return ok ? BALAI_AUDIT_HEAD_OK : BALAI_AUDIT_HEAD_INVALID;
}

struct head_job {
    struct balai_api_audit *au;
    struct balai_audit_head h;
    int rc;
};

static void head_work(void *arg)
{
    struct head_job *j = arg;
    struct balai_app *app = j->au->app;

    j->rc = write_head(j->au->head_path, app->sign_sk, app->sign_key_id, &j->h);
}

static void maybe_write_head(struct balai_api_audit *au, int force);

/* Arms the timer unless it already runs: a steady trickle of entries must
 * not keep pushing the head write back. */
static void arm(struct balai_api_audit *au)
{
    if (au->timer && !au->timer_armed) {
        au->timer_armed = 1;
        balai_timer_start(au->timer, BALAI_AUDIT_HEAD_INTERVAL_MS, 0);
    }
}

static void head_done(void *arg)
{
    struct head_job *j = arg;
    struct balai_api_audit *au = j->au;

    au->writing = 0;
    if (j->rc == BALAI_OK && j->h.seq > au->headed_seq) {
        au->headed_seq = j->h.seq;
        LOG_INFO("audit chain head signed at entry %" PRId64, j->h.seq);
    }
    free(j);
    maybe_write_head(au, 0);
}

/* Starts a head write if one is due: force (the timer) when any entry is not
 * yet covered, otherwise after BALAI_AUDIT_HEAD_EVERY entries (or the first
 * entry ever). */
static void maybe_write_head(struct balai_api_audit *au, int force)
{
    struct balai_app *app = au->app;
    int64_t behind = au->committed_seq - au->headed_seq;

    if (au->writing || behind <= 0 || !app->work_pool || au->stopped)
        return;
    /* The very first head is written at once: until then a verification
     * could not tell a new trail from one whose head was deleted. */
    if (!force && behind < BALAI_AUDIT_HEAD_EVERY && au->headed_seq > 0) {
        arm(au);
        return;
    }
    struct head_job *j = balai_calloc(1, sizeof(*j));
    j->au = au;
    j->h.seq = au->committed_seq;
    j->h.ts = balai_now_ms();
    memcpy(j->h.mac, au->committed_mac, sizeof(j->h.mac));
    if (balai_pool_submit(app->work_pool, head_work, head_done, j) != BALAI_OK) {
        free(j); /* the pool is full: the timer tries again */
        arm(au);
        return;
    }
    au->writing = 1;
}

static void on_timer(void *arg)
{
    struct balai_api_audit *au = arg;

    au->timer_armed = 0;
    maybe_write_head(au, 1);
}

/* ---- Entries ---- */

/* A copy of s cut to at most BALAI_AUDIT_NAME_MAX bytes on a UTF-8
 * boundary, so that an over-long name never makes an entry (and the write it
 * rides in) fail. */
static char *name_dup(const char *s)
{
    size_t n = strlen(s);

    if (n <= BALAI_AUDIT_NAME_MAX)
        return balai_strdup(s);
    n = BALAI_AUDIT_NAME_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return balai_strndup(s, n);
}

struct balai_api_audit_entry *balai_api_audit_entry_new(struct balai_app *app, const char *actor,
                                                        const char *action, const char *target,
                                                        json_t *detail)
{
    struct balai_api_audit_entry *e = balai_calloc(1, sizeof(*e));

    e->au = app->audit;
    e->actor = name_dup(actor && *actor ? actor : "system");
    e->action = name_dup(action && *action ? action : "unknown");
    e->target = target && *target ? name_dup(target) : NULL;
    e->detail = balai_audit_detail_text(detail);
    if (!e->detail) {
        LOG_WARN("audit %s: the detail is not a small JSON object; recorded as {}", action);
        e->detail = balai_strdup("{}");
    }
    json_decref(detail);
    e->ts = balai_now_ms();
    return e;
}

static void entry_free(struct balai_api_audit_entry *e)
{
    if (!e)
        return;
    free(e->actor);
    free(e->action);
    free(e->target);
    free(e->detail);
    free(e);
}

int balai_api_audit_entry_append(struct balai_store_txn *t, struct balai_api_audit_entry *e)
{
    struct balai_api_audit *au = e->au;
    struct balai_audit_entry ent = {0};
    struct balai_audit_rec rec = {0};
    int64_t tail = 0;
    int rc;

    if (!au)
        return BALAI_ESTATE;
    rc = balai_store_txn_audit_tail(t, &tail, ent.prev);
    if (rc != BALAI_OK)
        return rc;
    if (au->anchor_seq > tail) {
        tail = au->anchor_seq;
        memcpy(ent.prev, au->anchor_mac, sizeof(ent.prev));
    }
    ent.seq = tail + 1;
    ent.ts = e->ts;
    ent.actor = e->actor;
    ent.action = e->action;
    ent.target = e->target;
    ent.detail = e->detail;
    rc = balai_audit_entry_seal(&au->key, &ent);
    if (rc != BALAI_OK)
        return rc;
    rec.seq = ent.seq;
    rec.ts = ent.ts;
    rec.actor = ent.actor;
    rec.action = ent.action;
    rec.target = ent.target;
    rec.detail = ent.detail;
    memcpy(rec.prev, ent.prev, sizeof(rec.prev));
    memcpy(rec.mac, ent.mac, sizeof(rec.mac));
    rc = balai_store_txn_audit_append(t, &rec);
    if (rc == BALAI_OK) {
        e->appended = 1;
        e->seq = ent.seq;
        memcpy(e->mac, ent.mac, sizeof(e->mac));
    }
    return rc;
}

void balai_api_audit_entry_done(struct balai_app *app, struct balai_api_audit_entry *e, int rc)
{
    struct balai_api_audit *au = app->audit;

    if (!e)
        return;
    if (rc == BALAI_OK && e->appended && au && e->seq > au->committed_seq) {
        au->committed_seq = e->seq;
        memcpy(au->committed_mac, e->mac, sizeof(au->committed_mac));
        maybe_write_head(au, 0);
    }
    entry_free(e);
}

struct log_op {
    struct balai_store_op op;
    struct balai_app *app;
    struct balai_api_audit_entry *e;
};

static int log_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    return balai_api_audit_entry_append(t, ((struct log_op *)op)->e);
}

static void log_done(struct balai_store_op *op)
{
    struct log_op *l = (struct log_op *)op;

    if (op->rc != BALAI_OK)
        LOG_ERROR("could not record audit entry %s by %s: %s", l->e->action, l->e->actor,
                  balai_strerror(op->rc));
    balai_api_audit_entry_done(l->app, l->e, op->rc);
    free(l);
}

void balai_api_audit_log(struct balai_app *app, const char *actor, const char *action,
                         const char *target, json_t *detail)
{
    struct log_op *l;

    if (!app->audit || !app->store) {
        json_decref(detail);
        return;
    }
    l = balai_calloc(1, sizeof(*l));
    l->app = app;
    l->e = balai_api_audit_entry_new(app, actor, action, target, detail);
    l->op.apply = log_apply;
    l->op.done = log_done;
    balai_store_submit(app->store, &l->op);
}

const char *balai_api_audit_actor(const struct balai_session *s)
{
    return s ? s->device->user->user_id : "cli";
}

/* ---- Life cycle ---- */

static int last_row(const struct balai_audit_rec *r, void *arg)
{
    struct balai_audit_entry *out = arg;

    out->seq = r->seq;
    memcpy(out->mac, r->mac, sizeof(out->mac));
    return 1;
}

/* The entry with seq (mac only), or seq 0 in *out when absent. */
static int find_entry(struct balai_store *st, int64_t seq, struct balai_audit_entry *out)
{
    struct balai_audit_query q = {.dir = 'f', .from = seq - 1, .limit = 1};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = balai_store_audit_each(st, &q, last_row, out);
    if (rc == 1 && out->seq != seq)
        memset(out, 0, sizeof(*out));
    return rc < 0 ? rc : BALAI_OK;
}

int balai_api_audit_load(struct balai_app *app)
{
    struct balai_api_audit *au = balai_calloc(1, sizeof(*au));
    struct balai_audit_query q = {.dir = 'b', .limit = 1};
    struct balai_audit_entry last = {0}, at = {0};
    struct balai_audit_head h;
    enum balai_audit_head_state hs;
    const uint8_t *pk = app->sign_sk + 32; /* an Ed25519 secret key ends with its public key */
    int rc;

    au->app = app;
    memcpy(au->key.key, app->audit_key, sizeof(au->key.key));
    au->key.mac = hmac;
    au->head_path = balai_asprintf("%s/%s", app->cfg->data_dir, BALAI_AUDIT_HEAD_FILE);
    app->audit = au;
    rc = balai_store_audit_each(app->store, &q, last_row, &last);
    if (rc < 0)
        return rc;
    au->committed_seq = last.seq;
    memcpy(au->committed_mac, last.mac, sizeof(au->committed_mac));
    hs = read_head(au->head_path, pk, &h);
    if (hs == BALAI_AUDIT_HEAD_OK) {
        au->headed_seq = h.seq;
        if (h.seq > last.seq) {
            LOG_ERROR("the audit trail ends at entry %" PRId64 " but its signed head is at entry "
                      "%" PRId64 ": entries were removed; the chain goes on from the head",
                      last.seq, h.seq);
            au->anchor_seq = h.seq;
            memcpy(au->anchor_mac, h.mac, sizeof(au->anchor_mac));
            au->committed_seq = h.seq;
            memcpy(au->committed_mac, h.mac, sizeof(au->committed_mac));
            balai_api_audit_log(app, "system", "audit.tail_cut", NULL,
                                json_pack("{s:I, s:I}", "head_seq", (json_int_t)h.seq, "last_seq",
                                          (json_int_t)last.seq));
        } else if (h.seq > 0) {
            rc = find_entry(app->store, h.seq, &at);
            if (rc != BALAI_OK)
                return rc;
            if (at.seq != h.seq || memcmp(at.mac, h.mac, sizeof(h.mac)) != 0) {
                LOG_ERROR("audit entry %" PRId64 " differs from the signed chain head", h.seq);
                balai_api_audit_log(app, "system", "audit.head_mismatch", NULL,
                                    json_pack("{s:I}", "head_seq", (json_int_t)h.seq));
            }
        }
    } else if (last.seq > 0) {
        LOG_ERROR("the audit chain head %s is %s; a cut tail cannot be ruled out", au->head_path,
                  hs == BALAI_AUDIT_HEAD_MISSING ? "missing" : "invalid");
        balai_api_audit_log(app, "system",
                            hs == BALAI_AUDIT_HEAD_MISSING ? "audit.head_missing"
                                                           : "audit.head_invalid",
                            NULL, json_pack("{s:I}", "last_seq", (json_int_t)last.seq));
    }
    LOG_DEBUG("audit trail at entry %" PRId64 ", head at %" PRId64, au->committed_seq,
             au->headed_seq);
    return BALAI_OK;
}

void balai_api_audit_stop(struct balai_app *app)
{
    if (!app->audit)
        return;
    balai_timer_free(app->audit->timer);
    app->audit->timer = NULL;
    app->audit->stopped = 1; /* the pools go next; the last head is written at free */
}

void balai_api_audit_free(struct balai_app *app)
{
    struct balai_api_audit *au = app->audit;

    if (!au)
        return;
    balai_timer_free(au->timer);
    if (au->committed_seq > au->headed_seq && !au->writing) {
        struct balai_audit_head h = {.seq = au->committed_seq, .ts = balai_now_ms()};
        memcpy(h.mac, au->committed_mac, sizeof(h.mac));
        if (write_head(au->head_path, app->sign_sk, app->sign_key_id, &h) == BALAI_OK)
            LOG_INFO("audit chain head signed at entry %" PRId64, h.seq);
    }
    balai_wipe(au->key.key, sizeof(au->key.key));
    balai_wipe(app->audit_key, sizeof(app->audit_key));
    free(au->head_path);
    free(au);
    app->audit = NULL;
}

int balai_api_audit_start(struct balai_app *app)
{
    struct balai_api_audit *au = app->audit;

    if (!au)
        return BALAI_OK; /* a test app without the audit trail */
    au->timer = balai_timer_new(app->loop, on_timer, au);
    if (!au->timer)
        return BALAI_EIO;
    balai_timer_set_ref(au->timer, 0);
    if (au->committed_seq > au->headed_seq)
        arm(au);
    return BALAI_OK;
}

/* ---- Verification ---- */

struct walk {
    struct balai_audit_verify v;
    int64_t last;
    int n;
};

static int walk_row(const struct balai_audit_rec *r, void *arg)
{
    struct walk *w = arg;
    struct balai_audit_entry e = {
        .seq = r->seq,
        .ts = r->ts,
        .actor = r->actor,
        .action = r->action,
        .target = r->target,
        .detail = r->detail,
    };

    memcpy(e.prev, r->prev, sizeof(e.prev));
    memcpy(e.mac, r->mac, sizeof(e.mac));
    balai_audit_verify_entry(&w->v, &e);
    w->last = r->seq;
    w->n++;
    return 0;
}

int balai_api_audit_verify(struct balai_store *st, const uint8_t key[32], const uint8_t pk[32],
                           const char *head_path, struct balai_api_audit_report *out)
{
    struct balai_audit_key k;
    struct balai_audit_head h;
    enum balai_audit_head_state hs;
    struct walk *w = balai_calloc(1, sizeof(*w));
    int rc;

    memset(out, 0, sizeof(*out));
    memcpy(k.key, key, sizeof(k.key));
    k.mac = hmac;
    /* The head first: every entry it covers committed before it was written. */
    hs = read_head(head_path, pk, &h);
    balai_audit_verify_init(&w->v, &k, &h, hs);
    do {
        struct balai_audit_query q = {.dir = 'f', .from = w->last, .limit = VERIFY_PAGE};
        w->n = 0;
        rc = balai_store_audit_each(st, &q, walk_row, w);
        if (rc < 0)
            goto out;
    } while (w->n == VERIFY_PAGE);
    rc = BALAI_OK;
    (void)balai_audit_verify_end(&w->v);
    out->ok = w->v.ok;
    out->entries = w->v.entries;
    out->last_seq = w->v.last_seq;
    out->head_seq = hs == BALAI_AUDIT_HEAD_OK ? h.seq : -1;
    out->bad_seq = w->v.bad_seq;
    snprintf(out->reason, sizeof(out->reason), "%s", w->v.reason);
out:
    balai_wipe(&k, sizeof(k));
    free(w);
    return rc;
}

json_t *balai_api_audit_report_json(const struct balai_api_audit_report *r)
{
    json_t *o = json_pack("{s:b, s:I, s:I}", "ok", r->ok, "entries", (json_int_t)r->entries,
                          "last_seq", (json_int_t)r->last_seq);

    json_object_set_new(o, "head_seq",
                        r->head_seq >= 0 ? json_integer((json_int_t)r->head_seq) : json_null());
    json_object_set_new(
        o, "first_bad",
        r->ok ? json_null()
              : json_pack("{s:I, s:s}", "seq", (json_int_t)r->bad_seq, "reason", r->reason));
    return o;
}
