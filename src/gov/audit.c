/* audit.c: the audit trail's hash chain: canonical entry bytes, MACs, the
 * signed chain head's file form, and the verifier (see audit.h). */
#include "balai.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "gov/audit.h"
#include "util/alloc.h"

#define ENTRY_DOMAIN "balai-audit-v1\n"
#define HEAD_DOMAIN "balai-audit-head-v1\n"

static const uint8_t zero_mac[BALAI_AUDIT_MAC_BYTES];

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes exactly 2 * n lower-case hex digits. */
static int hex_decode(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return BALAI_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return BALAI_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return BALAI_OK;
}

static int name_ok(const char *s, int required)
{
    if (!s)
        return !required;
    return s[0] != '\0' && strlen(s) <= BALAI_AUDIT_NAME_MAX;
}

static int int_ok(int64_t v)
{
    return v >= 0 && v <= BALAI_CANONJSON_INT_MAX;
}

char *balai_audit_detail_text(const json_t *detail)
{
    size_t len = 0;
    char *s;

    if (!detail)
        return balai_strdup("{}");
    if (!json_is_object(detail))
        return NULL;
    s = balai_canonjson(detail, &len);
    if (s && len > BALAI_AUDIT_DETAIL_MAX) {
        free(s);
        return NULL;
    }
    return s;
}

int balai_audit_entry_bytes(const struct balai_audit_entry *e, struct balai_buf *out)
{
    char prev[2 * BALAI_AUDIT_MAC_BYTES + 1];
    json_t *detail = NULL, *o = NULL;
    char *canon = NULL;
    int rc = BALAI_EINVAL;

    if (e->seq < 1 || !int_ok(e->seq) || !int_ok(e->ts) || !name_ok(e->actor, 1) ||
        !name_ok(e->action, 1) || !name_ok(e->target, 0) || !e->detail ||
        strlen(e->detail) > BALAI_AUDIT_DETAIL_MAX)
        goto out;
    /* The stored detail must be exactly the canonical text of an object, so
     * that the bytes verified are the bytes stored. */
    detail = json_loads(e->detail, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(detail))
        goto out;
    canon = balai_canonjson(detail, NULL);
    if (!canon || strcmp(canon, e->detail) != 0)
        goto out;
    hex_encode(e->prev, sizeof(e->prev), prev);
    o = json_pack("{s:s, s:s, s:O, s:s, s:I, s:o, s:I}", "action", e->action, "actor", e->actor,
                  "detail", detail, "prev", prev, "seq", (json_int_t)e->seq, "target",
                  e->target ? json_string(e->target) : json_null(), "ts", (json_int_t)e->ts);
    if (!o)
        goto out; /* a string that is not UTF-8 */
    rc = balai_buf_append_str(out, ENTRY_DOMAIN);
    if (rc == BALAI_OK)
        rc = balai_canonjson_write(out, o);
out:
    free(canon);
    json_decref(detail);
    json_decref(o);
    return rc;
}

static int entry_mac(const struct balai_audit_key *k, const struct balai_audit_entry *e,
                     uint8_t mac[BALAI_AUDIT_MAC_BYTES])
{
    struct balai_buf b;
    int rc;

    balai_buf_init(&b, 0);
    rc = balai_audit_entry_bytes(e, &b);
    if (rc == BALAI_OK)
        k->mac(k->key, sizeof(k->key), b.data, b.len, mac);
    balai_buf_release(&b);
    return rc;
}

int balai_audit_entry_seal(const struct balai_audit_key *k, struct balai_audit_entry *e)
{
    return entry_mac(k, e, e->mac);
}

int balai_audit_entry_check(const struct balai_audit_key *k, const struct balai_audit_entry *e)
{
    uint8_t mac[BALAI_AUDIT_MAC_BYTES];
    int rc = entry_mac(k, e, mac);

    if (rc != BALAI_OK)
        return rc;
    /* Not secret-dependent timing that matters here (the verifier holds the
     * key), but compare without an early exit anyway. */
    uint8_t diff = 0;
    for (size_t i = 0; i < sizeof(mac); i++)
        diff |= (uint8_t)(mac[i] ^ e->mac[i]);
    return diff ? BALAI_ECRYPTO : BALAI_OK;
}

/* ---- The chain head ---- */

int balai_audit_head_bytes(const struct balai_audit_head *h, struct balai_buf *out)
{
    char mac[2 * BALAI_AUDIT_MAC_BYTES + 1];
    json_t *o;
    int rc;

    if (!int_ok(h->seq) || !int_ok(h->ts))
        return BALAI_EINVAL;
    hex_encode(h->mac, sizeof(h->mac), mac);
    o = json_pack("{s:s, s:I, s:I}", "mac", mac, "seq", (json_int_t)h->seq, "ts",
                  (json_int_t)h->ts);
    rc = balai_buf_append_str(out, HEAD_DOMAIN);
    if (rc == BALAI_OK)
        rc = balai_canonjson_write(out, o);
    json_decref(o);
    return rc;
}

char *balai_audit_head_format(const struct balai_audit_head *h, const char *key_id)
{
    char mac[2 * BALAI_AUDIT_MAC_BYTES + 1], sig[2 * BALAI_AUDIT_SIG_BYTES + 1];
    json_t *o;
    char *text, *line;

    hex_encode(h->mac, sizeof(h->mac), mac);
    hex_encode(h->sig, sizeof(h->sig), sig);
    o = json_pack("{s:i, s:I, s:I, s:s, s:s}", "v", 1, "seq", (json_int_t)h->seq, "ts",
                  (json_int_t)h->ts, "mac", mac, "sig", sig);
    if (key_id)
        json_object_set_new(o, "key_id", json_string(key_id));
    text = balai_canonjson(o, NULL);
    json_decref(o);
    line = balai_asprintf("%s\n", text ? text : "{}");
    free(text);
    return line;
}

int balai_audit_head_parse(const char *text, struct balai_audit_head *out)
{
    json_t *o = json_loads(text ? text : "", 0, NULL);
    json_t *seq = json_object_get(o, "seq"), *ts = json_object_get(o, "ts");
    int rc = BALAI_EINVAL;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != 1 ||
        !json_is_integer(seq) || !json_is_integer(ts) || !int_ok(json_integer_value(seq)) ||
        !int_ok(json_integer_value(ts)))
        goto out;
    out->seq = json_integer_value(seq);
    out->ts = json_integer_value(ts);
    if (hex_decode(json_string_value(json_object_get(o, "mac")), out->mac, sizeof(out->mac)) !=
            BALAI_OK ||
        hex_decode(json_string_value(json_object_get(o, "sig")), out->sig, sizeof(out->sig)) !=
            BALAI_OK)
        goto out;
    rc = BALAI_OK;
out:
    json_decref(o);
    return rc;
}

/* ---- Verification ---- */

static void fault(struct balai_audit_verify *v, int64_t seq, const char *fmt, ...)
    BALAI_PRINTF(3, 4);

static void fault(struct balai_audit_verify *v, int64_t seq, const char *fmt, ...)
{
    va_list ap;

    if (!v->ok)
        return; /* only the first fault is reported */
    v->ok = 0;
    v->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
    va_end(ap);
}

void balai_audit_verify_init(struct balai_audit_verify *v, const struct balai_audit_key *key,
                             const struct balai_audit_head *head,
                             enum balai_audit_head_state head_state)
{
    memset(v, 0, sizeof(*v));
    v->key = key;
    v->head_state = head_state;
    if (head && head_state == BALAI_AUDIT_HEAD_OK)
        v->head = *head;
    v->ok = 1;
}

void balai_audit_verify_entry(struct balai_audit_verify *v, const struct balai_audit_entry *e)
{
    int64_t want = v->last_seq + 1;
    int rc;

    v->entries++;
    if (e->seq > want) {
        if (e->seq == want + 1)
            fault(v, want, "entry %" PRId64 " is missing (removed from the trail)", want);
        else
            fault(v, want,
                  "entries %" PRId64 " to %" PRId64 " are missing (removed from the trail)", want,
                  e->seq - 1);
    } else if (e->seq < want) {
        fault(v, e->seq, "entry %" PRId64 " is out of order (after entry %" PRId64 ")", e->seq,
              v->last_seq);
    }
    rc = balai_audit_entry_check(v->key, e);
    if (rc == BALAI_EINVAL)
        fault(v, e->seq, "entry %" PRId64 " is malformed (a field was altered)", e->seq);
    else if (rc != BALAI_OK)
        fault(v, e->seq, "entry %" PRId64 " was altered (its MAC does not match its content)",
              e->seq);
    else if (e->seq == want && memcmp(e->prev, v->last_mac, sizeof(e->prev)) != 0)
        fault(v, e->seq,
              "entry %" PRId64 " does not follow entry %" PRId64
              " (an entry was replaced or reordered)",
              e->seq, want - 1);
    if (v->head_state == BALAI_AUDIT_HEAD_OK && e->seq == v->head.seq) {
        if (memcmp(e->mac, v->head.mac, sizeof(e->mac)) != 0)
            fault(v, e->seq, "entry %" PRId64 " differs from the signed chain head", e->seq);
        else
            v->head_matched = 1;
    }
    if (e->seq > v->last_seq) {
        v->last_seq = e->seq;
        memcpy(v->last_mac, e->mac, sizeof(v->last_mac));
    }
}

int balai_audit_verify_end(struct balai_audit_verify *v)
{
    switch (v->head_state) {
    case BALAI_AUDIT_HEAD_OK:
        if (v->head.seq > v->last_seq)
            fault(v, v->last_seq + 1,
                  "the trail ends at entry %" PRId64 " but the signed chain head is at entry "
                  "%" PRId64 ": entries were removed from the end",
                  v->last_seq, v->head.seq);
        else if (v->head.seq == 0 && memcmp(v->head.mac, zero_mac, sizeof(zero_mac)) != 0)
            fault(v, 0, "the signed chain head is malformed");
        else if (v->head.seq > 0 && !v->head_matched)
            fault(v, v->head.seq, "entry %" PRId64 " (the signed chain head) is missing",
                  v->head.seq);
        break;
    case BALAI_AUDIT_HEAD_MISSING:
        if (v->entries > 0)
            fault(v, 0,
                  "the signed chain head (audit.head) is missing: a cut tail cannot be "
                  "ruled out");
        break;
    case BALAI_AUDIT_HEAD_INVALID:
        fault(v, 0,
              "the chain head (audit.head) is malformed or its signature is not the "
              "server's");
        break;
    }
    return v->ok ? BALAI_OK : BALAI_ECRYPTO;
}
