/* event.c: building, hashing, signing and identifying PDUs (see event.h). */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "core/canonjson.h"
#include "core/event.h"
#include "core/redact.h"
#include "core/room_version.h"
#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/buf.h"

/* ---- helpers ---- */

static int canon_sha256(const json_t *v, uint8_t out[32])
{
    size_t len;
    char *s = balai_canonjson(v, &len);
    if (!s)
        return BALAI_EINVAL;
    balai_sha256(s, len, out);
    free(s);
    return BALAI_OK;
}

/* The canonical bytes that signatures and the reference hash cover: the
 * redacted event without signatures and unsigned. Caller frees. */
static char *signed_bytes(const json_t *pdu, const struct balai_room_version *rv, size_t *len)
{
    json_t *red = balai_redact_rv(pdu, rv);
    char *s;
    if (!red)
        return NULL;
    json_object_del(red, "signatures");
    json_object_del(red, "unsigned");
    s = balai_canonjson(red, len);
    json_decref(red);
    return s;
}

static int content_sha256(const json_t *pdu, uint8_t out[32])
{
    json_t *copy;
    int rc;

    if (!json_is_object(pdu))
        return BALAI_EINVAL;
    copy = json_copy((json_t *)pdu);
    json_object_del(copy, "unsigned");
    json_object_del(copy, "signatures");
    json_object_del(copy, "hashes");
    rc = canon_sha256(copy, out);
    json_decref(copy);
    return rc;
}

static const char *str_field(const json_t *pdu, const char *key)
{
    return json_string_value(json_object_get(pdu, key));
}

/* ---- hashes, signatures, ids ---- */

int balai_event_content_hash(json_t *pdu)
{
    uint8_t h[32];
    json_t *hashes;
    int rc = content_sha256(pdu, h);

    if (rc != BALAI_OK)
        return rc;
    hashes = json_object_get(pdu, "hashes");
    if (!json_is_object(hashes)) {
        hashes = json_object();
        json_object_set_new(pdu, "hashes", hashes);
    }
    char *b64 = balai_base64_encode(h, sizeof(h));
    json_object_set_new(hashes, "sha256", json_string(b64));
    free(b64);
    return BALAI_OK;
}

int balai_event_content_hash_check(const json_t *pdu)
{
    const char *want = str_field(json_object_get(pdu, "hashes"), "sha256");
    uint8_t h[32];
    char *b64;
    int rc;

    if (!want)
        return BALAI_EINVAL;
    if ((rc = content_sha256(pdu, h)) != BALAI_OK)
        return rc;
    b64 = balai_base64_encode(h, sizeof(h));
    rc = strcmp(b64, want) == 0 ? BALAI_OK : BALAI_ECRYPTO;
    free(b64);
    return rc;
}

static int key_ok(const struct balai_event_key *key)
{
    return key && key->server_name && key->server_name[0] && key->key_id &&
           strncmp(key->key_id, "ed25519:", 8) == 0 && key->key_id[8] && key->secret_key;
}

int balai_event_sign(json_t *pdu, const char *room_version, const struct balai_event_key *key)
{
    const struct balai_room_version *rv = balai_room_version_get(room_version);
    uint8_t sig[BALAI_SIGN_BYTES];
    json_t *sigs, *mine;
    size_t len;
    char *bytes, *b64;

    if (!rv || !key_ok(key) || !json_is_object(pdu))
        return BALAI_EINVAL;
    bytes = signed_bytes(pdu, rv, &len);
    if (!bytes)
        return BALAI_EINVAL;
    balai_sign(key->secret_key, bytes, len, sig);
    free(bytes);
    sigs = json_object_get(pdu, "signatures");
    if (!json_is_object(sigs)) {
        sigs = json_object();
        json_object_set_new(pdu, "signatures", sigs);
    }
    mine = json_object_get(sigs, key->server_name);
    if (!json_is_object(mine)) {
        mine = json_object();
        json_object_set_new(sigs, key->server_name, mine);
    }
    b64 = balai_base64_encode(sig, sizeof(sig));
    json_object_set_new(mine, key->key_id, json_string(b64));
    free(b64);
    return BALAI_OK;
}

int balai_event_verify(const json_t *pdu, const char *room_version, const char *server_name,
                       const char *key_id, const uint8_t public_key[32])
{
    const struct balai_room_version *rv = balai_room_version_get(room_version);
    const char *b64;
    uint8_t *sig = NULL;
    size_t siglen = 0, len;
    char *bytes = NULL;
    int rc;

    if (!rv || !json_is_object(pdu) || !server_name || !key_id)
        return BALAI_EINVAL;
    b64 = str_field(json_object_get(json_object_get(pdu, "signatures"), server_name), key_id);
    if (!b64)
        return BALAI_ENOTFOUND;
    rc = balai_base64_decode(b64, strlen(b64), &sig, &siglen);
    if (rc != BALAI_OK || siglen != BALAI_SIGN_BYTES) {
        rc = BALAI_EINVAL;
        goto out;
    }
    bytes = signed_bytes(pdu, rv, &len);
    if (!bytes) {
        rc = BALAI_EINVAL;
        goto out;
    }
    rc = balai_sign_verify(public_key, bytes, len, sig);
out:
    free(sig);
    free(bytes);
    return rc;
}

int balai_event_reference_id(const json_t *pdu, const char *room_version, char **event_id)
{
    const struct balai_room_version *rv = balai_room_version_get(room_version);
    uint8_t h[32];
    size_t len;
    char *bytes, *b64;

    if (!rv)
        return BALAI_EINVAL;
    bytes = signed_bytes(pdu, rv, &len);
    if (!bytes)
        return BALAI_EINVAL;
    balai_sha256(bytes, len, h);
    free(bytes);
    b64 = balai_base64url_encode(h, sizeof(h));
    *event_id = balai_asprintf("$%s", b64);
    free(b64);
    return BALAI_OK;
}

int balai_event_check_size(const json_t *pdu)
{
    struct balai_buf b;
    int rc;

    balai_buf_init(&b, BALAI_EVENT_MAX_BYTES);
    rc = balai_canonjson_write(&b, pdu);
    balai_buf_release(&b);
    return rc;
}

/* ---- building ---- */

static int field_ok(const char *s, int allow_empty)
{
    size_t n;
    if (!s)
        return 0;
    n = strlen(s);
    return (allow_empty || n > 0) && n <= BALAI_EVENT_FIELD_MAX;
}

static int id_list_ok(const json_t *a)
{
    size_t i;
    json_t *v;
    if (!a)
        return 1;
    if (!json_is_array(a))
        return 0;
    json_array_foreach(a, i, v)
    {
        if (!field_ok(json_string_value(v), 0))
            return 0;
    }
    return 1;
}

static int params_ok(const struct balai_event_params *p)
{
    return field_ok(p->room_id, 0) && field_ok(p->sender, 0) && field_ok(p->type, 0) &&
           (!p->state_key || field_ok(p->state_key, 1)) &&
           (!p->redacts || field_ok(p->redacts, 0)) &&
           (!p->content || json_is_object(p->content)) &&
           p->origin_server_ts >= 0 && p->origin_server_ts <= BALAI_CANONJSON_INT_MAX &&
           p->depth >= 1 && p->depth <= BALAI_CANONJSON_INT_MAX && id_list_ok(p->prev_events) &&
           id_list_ok(p->auth_events) && key_ok(p->key);
}

static json_t *copy_or_empty_array(const json_t *a)
{
    return a ? json_deep_copy(a) : json_array();
}

static json_t *new_pdu(const struct balai_event_params *p, const struct balai_room_version *rv)
{
    json_t *ev = json_object();
    json_t *content = p->content ? json_deep_copy(p->content) : json_object();

    json_object_set_new(ev, "auth_events", copy_or_empty_array(p->auth_events));
    json_object_set_new(ev, "prev_events", copy_or_empty_array(p->prev_events));
    json_object_set_new(ev, "depth", json_integer(p->depth));
    json_object_set_new(ev, "origin_server_ts", json_integer(p->origin_server_ts));
    json_object_set_new(ev, "room_id", json_string(p->room_id));
    json_object_set_new(ev, "sender", json_string(p->sender));
    json_object_set_new(ev, "type", json_string(p->type));
    if (p->state_key)
        json_object_set_new(ev, "state_key", json_string(p->state_key));
    if (rv->event_origin)
        json_object_set_new(ev, "origin", json_string(p->key->server_name));
    if (p->redacts && rv->redacts_in_content)
        json_object_set_new(content, "redacts", json_string(p->redacts));
    else if (p->redacts)
        json_object_set_new(ev, "redacts", json_string(p->redacts));
    json_object_set_new(ev, "content", content);
    return ev;
}

/* Canonical length of `"key":value` as a member of an object, plus its comma. */
static int member_len(const char *key, const json_t *value, size_t *out)
{
    size_t vl;
    char *v = balai_canonjson(value, &vl);
    if (!v)
        return BALAI_EINVAL;
    free(v);
    *out = 1 + strlen(key) + 2 + 1 + vl; /* , "key" : value */
    return BALAI_OK;
}

/* Builds in two canonical serialisations instead of four: the full event
 * (its sha256 is the content hash, its length gives the PDU size with the
 * hashes and signatures added) and the redacted event (signed, and hashed
 * into the event id). */
int balai_event_build(const struct balai_event_params *p, json_t **pdu, char **event_id)
{
    const struct balai_room_version *rv =
        p->room_version ? balai_room_version_get(p->room_version) : balai_room_version_default();
    json_t *ev = NULL, *sigs = NULL;
    char *id = NULL, *full = NULL, *red = NULL, *b64 = NULL;
    size_t full_len, red_len, hl, sl;
    uint8_t h[32], sig[BALAI_SIGN_BYTES];
    int rc = BALAI_EINVAL;

    if (!rv || !params_ok(p))
        goto out;
    ev = new_pdu(p, rv);
    full = balai_canonjson(ev, &full_len);
    if (!full)
        goto out;
    balai_sha256(full, full_len, h);
    b64 = balai_base64_encode(h, sizeof(h));
    json_object_set_new(ev, "hashes", json_pack("{s:s}", "sha256", b64));
    BALAI_FREE(b64);
    red = signed_bytes(ev, rv, &red_len);
    if (!red)
        goto out;
    balai_sign(p->key->secret_key, red, red_len, sig);
    b64 = balai_base64_encode(sig, sizeof(sig));
    sigs = json_pack("{s:{s:s}}", p->key->server_name, p->key->key_id, b64);
    /* the whole PDU: the full form plus its hashes and signatures members */
    if (member_len("hashes", json_object_get(ev, "hashes"), &hl) != BALAI_OK ||
        member_len("signatures", sigs, &sl) != BALAI_OK)
        goto out;
    if (full_len + hl + sl > BALAI_EVENT_MAX_BYTES) {
        rc = BALAI_ETOOBIG;
        goto out;
    }
    json_object_set_new(ev, "signatures", sigs);
    sigs = NULL;
    balai_sha256(red, red_len, h);
    BALAI_FREE(b64);
    b64 = balai_base64url_encode(h, sizeof(h));
    id = balai_asprintf("$%s", b64);
    *pdu = ev;
    *event_id = id;
    ev = NULL;
    rc = BALAI_OK;
out:
    json_decref(ev);
    json_decref(sigs);
    free(full);
    free(red);
    free(b64);
    return rc;
}

/* ---- client format and accessors ---- */

static void copy_field(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

json_t *balai_event_client_format(const json_t *pdu, const char *event_id)
{
    static const char *const keys[] = {"type",    "content",   "sender",  "origin_server_ts",
                                       "room_id", "state_key", "unsigned"};
    const char *type = balai_event_type(pdu), *redacts;
    json_t *c, *content;
    size_t i;

    if (!json_is_object(pdu))
        return NULL;
    c = json_object();
    if (event_id)
        json_object_set_new(c, "event_id", json_string(event_id));
    for (i = 0; i < BALAI_ARRAY_LEN(keys); i++)
        copy_field(c, pdu, keys[i]);
    redacts = balai_event_redacts(pdu);
    if (type && strcmp(type, "m.room.redaction") == 0 && redacts) {
        json_object_set_new(c, "redacts", json_string(redacts));
        content = json_object_get(c, "content");
        if (json_is_object(content) && !json_object_get(content, "redacts"))
            json_object_set_new(content, "redacts", json_string(redacts));
    }
    return c;
}

const char *balai_event_type(const json_t *pdu)
{
    return str_field(pdu, "type");
}

const char *balai_event_sender(const json_t *pdu)
{
    return str_field(pdu, "sender");
}

const char *balai_event_room_id(const json_t *pdu)
{
    return str_field(pdu, "room_id");
}

const char *balai_event_state_key(const json_t *pdu)
{
    return str_field(pdu, "state_key");
}

const json_t *balai_event_content(const json_t *pdu)
{
    json_t *c = json_object_get(pdu, "content");
    return json_is_object(c) ? c : NULL;
}

const char *balai_event_redacts(const json_t *pdu)
{
    const char *r = str_field(pdu, "redacts");
    return r ? r : str_field(balai_event_content(pdu), "redacts");
}

const char *balai_event_id_domain(const char *id)
{
    const char *c = id ? strchr(id, ':') : NULL;
    return c && c[1] ? c + 1 : NULL;
}
