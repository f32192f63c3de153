/* test_event.c: PDU hashing, signing, event ids, building, client format, redaction. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/canonjson.h"
#include "core/event.h"
#include "core/redact.h"
#include "core/room_version.h"
#include "crypto/crypto.h"

/* SPEC: Appendices, "Cryptographic Test Vectors": SIGNING_KEY_SEED (its
 * base64 has non-zero trailing bits, so it is given here in hex). */
static const char seed_hex[] = "6090c103d5e7af6b15a970fd563ed75549e6159719ae5c3c31dee4316fb75c0d";
static uint8_t pk[32], sk[64];
static struct balai_event_key key = {"domain", "ed25519:1", sk};

static int setup(void **state)
{
    uint8_t seed[32];
    assert_int_equal(balai_crypto_init(), BALAI_OK);
    assert_int_equal(balai_hex_decode(seed_hex, seed, sizeof(seed)), BALAI_OK);
    balai_sign_seed_keypair(seed, pk, sk);
    return 0;
}

static json_t *load(const char *s)
{
    json_error_t err;
    json_t *v = json_loads(s, 0, &err);
    if (!v)
        fail_msg("bad test JSON: %s", err.text);
    return v;
}

static const char *sig_of(const json_t *pdu)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(pdu, "signatures"), "domain"), "ed25519:1"));
}

static const char *hash_of(const json_t *pdu)
{
    return json_string_value(json_object_get(json_object_get(pdu, "hashes"), "sha256"));
}

/* SPEC: Appendices, "JSON Signing": the signature of {} is over "{}". */
static void spec_json_signing(void **state)
{
    uint8_t sig[64];
    json_t *v = json_object();
    size_t len;
    char *s = balai_canonjson(v, &len), *b64;

    balai_sign(sk, s, len, sig);
    b64 = balai_base64_encode(sig, sizeof(sig));
    assert_string_equal(b64, "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/"
                             "7Xg4ahLwYGYZzuHGZKM5ZAQ");
    free(b64);
    free(s);
    json_decref(v);
}

/* SPEC: Appendices, "Event Signing", the minimally-sized event. */
static void spec_minimal_event(void **state)
{
    json_t *ev = load("{\"room_id\": \"!x:domain\", \"sender\": \"@a:domain\", \"origin\": "
                      "\"domain\", \"origin_server_ts\": 1000000, \"signatures\": {}, "
                      "\"hashes\": {}, \"type\": \"X\", \"content\": {}, \"prev_events\": [], "
                      "\"auth_events\": [], \"depth\": 3, \"unsigned\": {\"age_ts\": 1000000}}");
    char *id = NULL;

    assert_int_equal(balai_event_content_hash(ev), BALAI_OK);
    assert_string_equal(hash_of(ev), "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    assert_int_equal(balai_event_sign(ev, "10", &key), BALAI_OK);
    assert_string_equal(sig_of(ev), "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZ"
                                    "lHi5KLjAWbOoMszkwsQma+lYAg");
    assert_int_equal(balai_event_verify(ev, "10", "domain", "ed25519:1", pk), BALAI_OK);
    assert_int_equal(balai_event_content_hash_check(ev), BALAI_OK);
    /* Reference hash computed independently (Python canonical JSON + sha256). */
    assert_int_equal(balai_event_reference_id(ev, "10", &id), BALAI_OK);
    assert_string_equal(id, "$8yif6p8EqgoSten2BLje9ntKm720NyFLWQv9tn8memc");
    free(id);
    /* v11 redaction drops `origin` before hashing. */
    assert_int_equal(balai_event_reference_id(ev, "11", &id), BALAI_OK);
    assert_string_equal(id, "$70O_oKlXzFbkfu0KE88USi98DjSWrOELrPj-8tisl8I");
    free(id);
    assert_int_equal(balai_event_reference_id(ev, "9", &id), BALAI_EINVAL);
    json_decref(ev);
}

/* SPEC: Appendices, "Event Signing", the event with redactable content. */
static void spec_redactable_event(void **state)
{
    json_t *ev = load("{\"content\": {\"body\": \"Here is the message content\"}, \"event_id\": "
                      "\"$0:domain\", \"origin\": \"domain\", \"origin_server_ts\": 1000000, "
                      "\"type\": \"m.room.message\", \"room_id\": \"!r:domain\", \"sender\": "
                      "\"@u:domain\", \"signatures\": {}, \"unsigned\": {\"age_ts\": 1000000}}");

    assert_int_equal(balai_event_content_hash(ev), BALAI_OK);
    assert_string_equal(hash_of(ev), "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
    assert_int_equal(balai_event_sign(ev, "10", &key), BALAI_OK);
    assert_string_equal(sig_of(ev), "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWz"
                                    "qFn241eYHYMGCA5McEiVPdhzBA");
    /* The signature survives redaction; the content hash does not. */
    json_t *red = balai_redact(ev, "10");
    assert_int_equal(balai_event_verify(red, "10", "domain", "ed25519:1", pk), BALAI_OK);
    assert_int_equal(balai_event_content_hash_check(red), BALAI_ECRYPTO);
    json_decref(red);
    json_object_set_new(json_object_get(ev, "content"), "body", json_string("changed"));
    assert_int_equal(balai_event_content_hash_check(ev), BALAI_ECRYPTO);
    json_object_set_new(ev, "origin_server_ts", json_integer(1));
    assert_int_equal(balai_event_verify(ev, "10", "domain", "ed25519:1", pk), BALAI_ECRYPTO);
    assert_int_equal(balai_event_verify(ev, "10", "other", "ed25519:1", pk), BALAI_ENOTFOUND);
    json_decref(ev);
}

static struct balai_event_params message_params(const json_t *content, const json_t *prev)
{
    struct balai_event_params p = {
        .room_version = "10",
        .room_id = "!room:domain",
        .sender = "@alice:domain",
        .type = "m.room.message",
        .content = content,
        .origin_server_ts = 1700000000000,
        .depth = 5,
        .prev_events = prev,
        .key = &key,
    };
    return p;
}

static void build_event(void **state)
{
    json_t *content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "hello");
    json_t *prev = json_pack("[s]", "$prev");
    struct balai_event_params p = message_params(content, prev);
    json_t *pdu = NULL, *pdu2 = NULL;
    char *id = NULL, *id2 = NULL, *id3 = NULL;

    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK);
    assert_int_equal(id[0], '$');
    assert_int_equal(strlen(id), 44);
    assert_string_equal(json_string_value(json_object_get(pdu, "origin")), "domain");
    assert_null(json_object_get(pdu, "event_id"));
    assert_int_equal(json_integer_value(json_object_get(pdu, "depth")), 5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(pdu, "prev_events"), 0)),
                        "$prev");
    assert_true(json_is_array(json_object_get(pdu, "auth_events")));
    assert_null(json_object_get(pdu, "state_key"));
    assert_int_equal(balai_event_verify(pdu, "10", "domain", "ed25519:1", pk), BALAI_OK);
    assert_int_equal(balai_event_content_hash_check(pdu), BALAI_OK);

    /* Deterministic. */
    assert_int_equal(balai_event_build(&p, &pdu2, &id2), BALAI_OK);
    assert_string_equal(id, id2);
    assert_true(json_equal(pdu, pdu2));
    json_decref(pdu2);
    free(id2);

    /* unsigned does not count; redaction keeps the id; content changes it. */
    json_object_set_new(pdu, "unsigned", json_pack("{s:i}", "age", 1234));
    assert_int_equal(balai_event_reference_id(pdu, "10", &id3), BALAI_OK);
    assert_string_equal(id, id3);
    free(id3);
    json_t *red = balai_redact(pdu, "10");
    assert_int_equal(balai_event_reference_id(red, "10", &id3), BALAI_OK);
    assert_string_equal(id, id3);
    free(id3);
    json_decref(red);
    json_object_set_new(content, "body", json_string("hello!"));
    assert_int_equal(balai_event_build(&p, &pdu2, &id2), BALAI_OK);
    assert_string_not_equal(id, id2);
    json_decref(pdu2);
    free(id2);

    json_decref(pdu);
    free(id);
    json_decref(content);
    json_decref(prev);
}

static void build_versions(void **state)
{
    struct balai_event_params p = message_params(NULL, NULL);
    json_t *pdu;
    char *id;

    p.type = "m.room.redaction";
    p.redacts = "$target";
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK); /* v10 */
    assert_string_equal(json_string_value(json_object_get(pdu, "redacts")), "$target");
    assert_null(json_object_get(json_object_get(pdu, "content"), "redacts"));
    assert_string_equal(balai_event_redacts(pdu), "$target");
    json_decref(pdu);
    free(id);

    p.room_version = "11";
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK);
    assert_null(json_object_get(pdu, "redacts"));
    assert_null(json_object_get(pdu, "origin"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pdu, "content"), "redacts")), "$target");
    assert_string_equal(balai_event_redacts(pdu), "$target");
    assert_int_equal(balai_event_verify(pdu, "11", "domain", "ed25519:1", pk), BALAI_OK);
    json_decref(pdu);
    free(id);

    p.room_version = NULL; /* default: 10 */
    p.type = "m.room.topic";
    p.redacts = NULL;
    p.state_key = "";
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK);
    assert_string_equal(balai_event_state_key(pdu), "");
    assert_non_null(json_object_get(pdu, "origin"));
    json_decref(pdu);
    free(id);
}

static void build_limits(void **state)
{
    char long_str[300];
    json_t *content, *pdu = NULL;
    char *id = NULL, *big;
    struct balai_event_params p;

    memset(long_str, 'x', sizeof(long_str) - 1);
    long_str[sizeof(long_str) - 1] = '\0';
    p = message_params(NULL, NULL);
    p.type = long_str;
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    p = message_params(NULL, NULL);
    p.state_key = long_str;
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    p = message_params(NULL, NULL);
    p.sender = "";
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    p = message_params(NULL, NULL);
    p.depth = 0;
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    p = message_params(NULL, NULL);
    p.room_version = "9";
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    p = message_params(NULL, NULL);
    p.key = NULL;
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);

    content = json_pack("{s:f}", "x", 1.5);
    p = message_params(content, NULL);
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL);
    json_decref(content);
    content = json_pack("{s:[s]}", "x", "$ok");
    p = message_params(NULL, content);
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_EINVAL); /* prev not an array */
    json_decref(content);

    big = malloc(BALAI_EVENT_MAX_BYTES);
    memset(big, 'a', BALAI_EVENT_MAX_BYTES - 1);
    big[BALAI_EVENT_MAX_BYTES - 1] = '\0';
    content = json_pack("{s:s}", "body", big);
    p = message_params(content, NULL);
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_ETOOBIG);
    assert_null(pdu);
    assert_null(id);
    json_decref(content);
    big[BALAI_EVENT_MAX_BYTES - 1000] = '\0';
    content = json_pack("{s:s}", "body", big);
    p = message_params(content, NULL);
    assert_int_equal(balai_event_build(&p, &pdu, &id), BALAI_OK);
    json_decref(pdu);
    free(id);
    json_decref(content);
    free(big);
}

static void client_format(void **state)
{
    json_t *pdu = load("{\"auth_events\": [\"$a\"], \"prev_events\": [\"$p\"], \"depth\": 4, "
                       "\"origin\": \"domain\", \"hashes\": {\"sha256\": \"x\"}, \"signatures\": "
                       "{}, \"type\": \"m.room.member\", \"state_key\": \"@b:domain\", "
                       "\"sender\": \"@a:domain\", \"room_id\": \"!r:domain\", "
                       "\"origin_server_ts\": 12, \"content\": {\"membership\": \"invite\"}, "
                       "\"unsigned\": {\"age\": 3}}");
    json_t *want = load("{\"event_id\": \"$e\", \"type\": \"m.room.member\", \"state_key\": "
                        "\"@b:domain\", \"sender\": \"@a:domain\", \"room_id\": \"!r:domain\", "
                        "\"origin_server_ts\": 12, \"content\": {\"membership\": \"invite\"}, "
                        "\"unsigned\": {\"age\": 3}}");
    json_t *c = balai_event_client_format(pdu, "$e");

    assert_true(json_equal(c, want));
    /* A deep copy: changing it leaves the PDU alone. */
    json_object_set_new(json_object_get(c, "unsigned"), "age", json_integer(99));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(pdu, "unsigned"), "age")),
                     3);
    json_decref(c);
    json_decref(want);
    json_decref(pdu);

    /* Redactions show `redacts` both at top level and in content. */
    pdu = load("{\"type\": \"m.room.redaction\", \"redacts\": \"$t\", \"content\": {}, "
               "\"sender\": \"@a:domain\", \"room_id\": \"!r:domain\", \"origin_server_ts\": 1}");
    c = balai_event_client_format(pdu, "$e");
    assert_string_equal(json_string_value(json_object_get(c, "redacts")), "$t");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "content"), "redacts")), "$t");
    assert_null(json_object_get(json_object_get(pdu, "content"), "redacts"));
    json_decref(c);
    json_decref(pdu);
    assert_null(balai_event_client_format(NULL, "$e"));
}

/* Redacts a PDU of `type` with `content` and compares the redacted content. */
static void expect_redacted(const char *version, const char *type, const char *content,
                            const char *want)
{
    json_t *pdu = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", type, "room_id", "!r:d", "sender",
                            "@a:d", "state_key", "", "content", load(content));
    json_t *red = balai_redact(pdu, version), *w = load(want);

    assert_non_null(red);
    if (!json_equal(json_object_get(red, "content"), w)) {
        char *got = json_dumps(json_object_get(red, "content"), JSON_SORT_KEYS);
        fail_msg("v%s %s: got %s, want %s", version, type, got, want);
    }
    json_decref(w);
    json_decref(red);
    json_decref(pdu);
}

static void redaction_content(void **state)
{
    const char *member = "{\"membership\": \"join\", \"displayname\": \"A\", "
                         "\"join_authorised_via_users_server\": \"@s:d\", "
                         "\"third_party_invite\": {\"display_name\": \"x\", \"signed\": {\"mxid\": "
                         "\"@a:d\"}}}";
    const char *create = "{\"creator\": \"@a:d\", \"room_version\": \"10\", \"m.federate\": true}";
    const char *pls = "{\"ban\": 50, \"events\": {}, \"events_default\": 0, \"invite\": 0, "
                      "\"kick\": 50, \"redact\": 50, \"state_default\": 50, \"users\": {}, "
                      "\"users_default\": 0, \"notifications\": {\"room\": 50}, \"historical\": 1}";
    const char *pl10 =
        "{\"ban\": 50, \"events\": {}, \"events_default\": 0, \"kick\": 50, "
        "\"redact\": 50, \"state_default\": 50, \"users\": {}, \"users_default\": 0}";
    const char *pl11 = "{\"ban\": 50, \"events\": {}, \"events_default\": 0, \"invite\": 0, "
                       "\"kick\": 50, \"redact\": 50, \"state_default\": 50, \"users\": {}, "
                       "\"users_default\": 0}";

    expect_redacted("10", "m.room.member", member,
                    "{\"membership\": \"join\", \"join_authorised_via_users_server\": \"@s:d\"}");
    expect_redacted("11", "m.room.member", member,
                    "{\"membership\": \"join\", \"join_authorised_via_users_server\": \"@s:d\", "
                    "\"third_party_invite\": {\"signed\": {\"mxid\": \"@a:d\"}}}");
    expect_redacted("10", "m.room.create", create, "{\"creator\": \"@a:d\"}");
    expect_redacted("11", "m.room.create", create, create);
    expect_redacted("10", "m.room.join_rules",
                    "{\"join_rule\": \"restricted\", \"allow\": [], \"x\": 1}",
                    "{\"join_rule\": \"restricted\", \"allow\": []}");
    expect_redacted("11", "m.room.join_rules", "{\"join_rule\": \"public\", \"x\": 1}",
                    "{\"join_rule\": \"public\"}");
    expect_redacted("10", "m.room.power_levels", pls, pl10);
    expect_redacted("11", "m.room.power_levels", pls, pl11);
    expect_redacted("10", "m.room.history_visibility",
                    "{\"history_visibility\": \"shared\", \"x\": 1}",
                    "{\"history_visibility\": \"shared\"}");
    expect_redacted("11", "m.room.history_visibility", "{\"history_visibility\": \"joined\"}",
                    "{\"history_visibility\": \"joined\"}");
    expect_redacted("10", "m.room.redaction", "{\"redacts\": \"$x\", \"reason\": \"r\"}", "{}");
    expect_redacted("11", "m.room.redaction", "{\"redacts\": \"$x\", \"reason\": \"r\"}",
                    "{\"redacts\": \"$x\"}");
    expect_redacted("10", "m.room.message", "{\"body\": \"b\", \"msgtype\": \"m.text\"}", "{}");
    expect_redacted("11", "m.room.topic", "{\"topic\": \"t\"}", "{}");
    expect_redacted("11", "m.room.name", "{\"name\": \"n\"}", "{}");
}

static void redaction_top_level(void **state)
{
    json_t *pdu = load("{\"event_id\": \"$e\", \"type\": \"m.room.member\", \"room_id\": \"!r:d\", "
                       "\"sender\": \"@a:d\", \"state_key\": \"@a:d\", \"content\": "
                       "{\"membership\": \"join\"}, \"hashes\": {\"sha256\": \"h\"}, "
                       "\"signatures\": {\"d\": {}}, \"depth\": 2, \"prev_events\": [], "
                       "\"prev_state\": [], \"auth_events\": [], \"origin\": \"d\", "
                       "\"origin_server_ts\": 5, \"membership\": \"join\", \"unsigned\": {\"age\": "
                       "1}, \"age_ts\": 7, \"redacts\": \"$x\", \"extra\": true}");
    static const char *const both[] = {
        "event_id", "type",       "room_id", "sender",      "state_key",   "content",
        "hashes",   "signatures", "depth",   "prev_events", "auth_events", "origin_server_ts"};
    static const char *const only_v10[] = {"prev_state", "origin", "membership"};
    static const char *const neither[] = {"unsigned", "age_ts", "redacts", "extra"};
    json_t *r10 = balai_redact(pdu, "10"), *r11 = balai_redact(pdu, "11");
    size_t i;

    for (i = 0; i < BALAI_ARRAY_LEN(both); i++) {
        assert_non_null(json_object_get(r10, both[i]));
        assert_non_null(json_object_get(r11, both[i]));
    }
    for (i = 0; i < BALAI_ARRAY_LEN(only_v10); i++) {
        assert_non_null(json_object_get(r10, only_v10[i]));
        assert_null(json_object_get(r11, only_v10[i]));
    }
    for (i = 0; i < BALAI_ARRAY_LEN(neither); i++) {
        assert_null(json_object_get(r10, neither[i]));
        assert_null(json_object_get(r11, neither[i]));
    }
    assert_int_equal(json_object_size(r10), BALAI_ARRAY_LEN(both) + BALAI_ARRAY_LEN(only_v10));
    assert_int_equal(json_object_size(r11), BALAI_ARRAY_LEN(both));
    /* Deep copies: the original is untouched. */
    json_object_set_new(json_object_get(r10, "content"), "membership", json_string("leave"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pdu, "content"), "membership")), "join");
    assert_null(balai_redact(pdu, "1"));
    assert_null(balai_redact(NULL, "10"));
    /* A PDU without content gets an empty one. */
    json_object_del(pdu, "content");
    json_decref(r10);
    r10 = balai_redact(pdu, "10");
    assert_true(json_is_object(json_object_get(r10, "content")));
    json_decref(r10);
    json_decref(r11);
    json_decref(pdu);
}

static void room_versions(void **state)
{
    const struct balai_room_version *const *list;
    json_t *cap, *want;

    assert_int_equal(balai_room_version_list(&list), 2);
    assert_string_equal(balai_room_version_default()->id, "10");
    assert_null(balai_room_version_get("9"));
    assert_null(balai_room_version_get(NULL));
    assert_false(balai_room_version_get("10")->implicit_creator);
    assert_true(balai_room_version_get("11")->implicit_creator);
    cap = balai_room_version_capability();
    want = load("{\"default\": \"10\", \"available\": {\"10\": \"stable\", \"11\": \"stable\"}}");
    assert_true(json_equal(cap, want));
    json_decref(cap);
    json_decref(want);
    assert_string_equal(balai_event_id_domain("@a:example.org:8448"), "example.org:8448");
    assert_null(balai_event_id_domain("@a"));
    assert_null(balai_event_id_domain("@a:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_json_signing),     cmocka_unit_test(spec_minimal_event),
        cmocka_unit_test(spec_redactable_event), cmocka_unit_test(build_event),
        cmocka_unit_test(build_versions),        cmocka_unit_test(build_limits),
        cmocka_unit_test(client_format),         cmocka_unit_test(redaction_content),
        cmocka_unit_test(redaction_top_level),   cmocka_unit_test(room_versions),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
