/* test_crypto.c: unit tests for src/crypto/crypto.c (known vectors, round trips,
 * tampering). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"

static void hex_to(const char *hex, uint8_t *out, size_t len)
{
    assert_int_equal(balai_hex_decode(hex, out, len), BALAI_OK);
}

static void test_random(void **state)
{
    uint8_t a[32], b[32];
    char *t;

    balai_random_bytes(a, sizeof(a));
    balai_random_bytes(b, sizeof(b));
    assert_false(balai_memeq(a, b, sizeof(a)));

    /* 32 bytes -> 43 chars, 16 -> 22, 1 -> 2, 0 -> "" */
    const size_t nbytes[] = {32, 16, 1, 0, 100};
    const size_t nchars[] = {43, 22, 2, 0, 134};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(nbytes); i++) {
        t = balai_random_token(nbytes[i]);
        assert_int_equal(strlen(t), nchars[i]);
        assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_"),
                         nchars[i]);
        free(t);
    }

    t = balai_random_alnum(1000);
    assert_int_equal(strlen(t), 1000);
    assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                     1000);
    /* 1000 draws from 62 symbols: each class shows up. */
    assert_non_null(strpbrk(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    assert_non_null(strpbrk(t, "abcdefghijklmnopqrstuvwxyz"));
    assert_non_null(strpbrk(t, "0123456789"));
    free(t);
    t = balai_random_alnum(0);
    assert_string_equal(t, "");
    free(t);

    assert_int_equal(balai_random_uniform(0), 0);
    assert_int_equal(balai_random_uniform(1), 0);
    for (int i = 0; i < 1000; i++)
        assert_true(balai_random_uniform(7) < 7);
}

static void test_sha256_hmac(void **state)
{
    uint8_t out[32], want[32];

    balai_sha256("abc", 3, out);
    hex_to("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    assert_memory_equal(out, want, 32);

    balai_sha256("", 0, out);
    hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    assert_memory_equal(out, want, 32);

    /* RFC 4231 test case 2 */
    balai_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, out);
    hex_to("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
    assert_memory_equal(out, want, 32);

    /* RFC 4231 test case 6: a key longer than the block size. */
    uint8_t key[131];
    memset(key, 0xaa, sizeof(key));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    balai_hmac_sha256(key, sizeof(key), msg, strlen(msg), out);
    hex_to("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want, 32);
    assert_memory_equal(out, want, 32);
}

static void test_memeq(void **state)
{
    assert_true(balai_memeq("abcd", "abcd", 4));
    assert_false(balai_memeq("abcd", "abce", 4));
    assert_true(balai_memeq("x", "y", 0));
}

static void test_pwhash(void **state)
{
    struct balai_pwhash_cost cost, other;
    char hash[BALAI_PWHASH_STRBYTES], hash2[BALAI_PWHASH_STRBYTES];

    assert_int_equal(balai_pwhash_cost_parse("nope", &cost), BALAI_EINVAL);
    assert_int_equal(balai_pwhash_cost_parse(NULL, &cost), BALAI_EINVAL);
    assert_int_equal(balai_pwhash_cost_parse("interactive", &cost), BALAI_OK);
    assert_int_equal(balai_pwhash_cost_parse("moderate", &cost), BALAI_OK);
    assert_int_equal(balai_pwhash_cost_parse("sensitive", &cost), BALAI_OK);
    assert_int_equal(balai_pwhash_cost_parse("interactive", &other), BALAI_OK);
    assert_int_equal(balai_pwhash_cost_parse("test", &cost), BALAI_OK);
    assert_int_equal(cost.ops, 1);
    assert_int_equal(cost.mem, 8192);

    assert_int_equal(balai_pwhash("hunter2", 7, &cost, hash), BALAI_OK);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    assert_int_equal(balai_pwhash_verify(hash, "hunter2", 7), BALAI_OK);
    assert_int_equal(balai_pwhash_verify(hash, "hunter3", 7), BALAI_EAUTH);
    assert_int_equal(balai_pwhash_verify(hash, "hunter2", 6), BALAI_EAUTH);
    assert_int_equal(balai_pwhash_verify("garbage", "hunter2", 7), BALAI_EAUTH);
    assert_int_equal(balai_pwhash_verify("", "", 0), BALAI_EAUTH);

    /* Salted: the same password hashes differently. */
    assert_int_equal(balai_pwhash("hunter2", 7, &cost, hash2), BALAI_OK);
    assert_string_not_equal(hash, hash2);

    /* Embedded NUL bytes count. */
    assert_int_equal(balai_pwhash("a\0b", 3, &cost, hash2), BALAI_OK);
    assert_int_equal(balai_pwhash_verify(hash2, "a\0b", 3), BALAI_OK);
    assert_int_equal(balai_pwhash_verify(hash2, "a\0c", 3), BALAI_EAUTH);

    assert_int_equal(balai_pwhash_needs_rehash(hash, &cost), 0);
    assert_int_equal(balai_pwhash_needs_rehash(hash, &other), 1);
    assert_int_equal(balai_pwhash_needs_rehash("garbage", &cost), 1);

    struct balai_pwhash_cost bad = {0, 8192};
    assert_int_equal(balai_pwhash("x", 1, &bad, hash2), BALAI_EINVAL);
    bad.ops = 1;
    bad.mem = 1024;
    assert_int_equal(balai_pwhash("x", 1, &bad, hash2), BALAI_EINVAL);
}

static void test_sign(void **state)
{
    /* RFC 8032 §7.1 test 1 (empty message). */
    uint8_t seed[32], pk[32], sk[64], want_pk[32], sig[64], want_sig[64];
    hex_to("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    hex_to("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", want_pk, 32);
    hex_to("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
           "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
           want_sig, 64);
    balai_sign_seed_keypair(seed, pk, sk);
    assert_memory_equal(pk, want_pk, 32);
    balai_sign(sk, "", 0, sig);
    assert_memory_equal(sig, want_sig, 64);
    assert_int_equal(balai_sign_verify(pk, "", 0, sig), BALAI_OK);

    /* Random key pair, tamper with message, signature, key. */
    const char *msg = "{\"type\":\"m.room.message\"}";
    balai_sign_keypair(pk, sk);
    balai_sign(sk, msg, strlen(msg), sig);
    assert_int_equal(balai_sign_verify(pk, msg, strlen(msg), sig), BALAI_OK);
    assert_int_equal(balai_sign_verify(pk, msg, strlen(msg) - 1, sig), BALAI_ECRYPTO);
    sig[10] ^= 1;
    assert_int_equal(balai_sign_verify(pk, msg, strlen(msg), sig), BALAI_ECRYPTO);
    sig[10] ^= 1;
    assert_int_equal(balai_sign_verify(want_pk, msg, strlen(msg), sig), BALAI_ECRYPTO);
}

static void test_seal(void **state)
{
    uint8_t key[32], key2[32];
    const char *plain = "the quarterly numbers are fine";
    size_t len = strlen(plain);
    uint8_t sealed[64 + BALAI_SEAL_OVERHEAD], sealed2[64 + BALAI_SEAL_OVERHEAD], out[64];

    balai_random_bytes(key, 32);
    balai_random_bytes(key2, 32);
    balai_seal(key, "$ev1", 4, plain, len, sealed);
    assert_int_equal(balai_unseal(key, "$ev1", 4, sealed, len + BALAI_SEAL_OVERHEAD, out),
                     BALAI_OK);
    assert_memory_equal(out, plain, len);

    /* Random nonce: sealing twice differs. */
    balai_seal(key, "$ev1", 4, plain, len, sealed2);
    assert_memory_not_equal(sealed, sealed2, len + BALAI_SEAL_OVERHEAD);

    /* Ciphertext does not contain the plaintext. */
    assert_null(memmem(sealed, len + BALAI_SEAL_OVERHEAD, "quarterly", 9));

    /* Tamper each region: nonce, ciphertext, tag. */
    const size_t pos[] = {0, 23, 24, 24 + len - 1, len + BALAI_SEAL_OVERHEAD - 1};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(pos); i++) {
        sealed[pos[i]] ^= 0x01;
        assert_int_equal(balai_unseal(key, "$ev1", 4, sealed, len + BALAI_SEAL_OVERHEAD, out),
                         BALAI_ECRYPTO);
        sealed[pos[i]] ^= 0x01;
    }
    /* Wrong AD, wrong key, truncated, too short. */
    assert_int_equal(balai_unseal(key, "$ev2", 4, sealed, len + BALAI_SEAL_OVERHEAD, out),
                     BALAI_ECRYPTO);
    assert_int_equal(balai_unseal(key, NULL, 0, sealed, len + BALAI_SEAL_OVERHEAD, out),
                     BALAI_ECRYPTO);
    assert_int_equal(balai_unseal(key2, "$ev1", 4, sealed, len + BALAI_SEAL_OVERHEAD, out),
                     BALAI_ECRYPTO);
    assert_int_equal(balai_unseal(key, "$ev1", 4, sealed, len + BALAI_SEAL_OVERHEAD - 1, out),
                     BALAI_ECRYPTO);
    assert_int_equal(balai_unseal(key, "$ev1", 4, sealed, BALAI_SEAL_OVERHEAD - 1, out),
                     BALAI_EINVAL);

    /* Empty plaintext, no AD. */
    balai_seal(key, NULL, 0, "", 0, sealed);
    assert_int_equal(balai_unseal(key, NULL, 0, sealed, BALAI_SEAL_OVERHEAD, out), BALAI_OK);
    sealed[BALAI_SEAL_OVERHEAD - 1] ^= 0x80;
    assert_int_equal(balai_unseal(key, NULL, 0, sealed, BALAI_SEAL_OVERHEAD, out), BALAI_ECRYPTO);
}

static void test_kdf(void **state)
{
    uint8_t master[32], a[32], a2[32], b[32], m2[32];

    balai_random_bytes(master, 32);
    memcpy(m2, master, 32);
    m2[0] ^= 1;
    balai_kdf(master, "audit-hmac", a);
    balai_kdf(master, "audit-hmac", a2);
    balai_kdf(master, "keystore", b);
    assert_memory_equal(a, a2, 32);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, master, 32);
    balai_kdf(m2, "audit-hmac", a2);
    assert_memory_not_equal(a, a2, 32);

    /* Fixed vector, so the derivation cannot change unnoticed (it would make
     * every existing keystore unreadable). */
    char hex[65];
    memset(master, 0, 32);
    balai_kdf(master, "keystore", a);
    balai_hex_encode(a, 32, hex);
    /* = Python: blake2b(b"keystore", key=bytes(32), person=b"balai-kdf-v1", digest_size=32) */
    assert_string_equal(hex, "cd0ed5ccc51f39bd4e9a4d7e6e66931c3d550dcc564ae6f7e038d5a90f542f5e");
}

struct b64_vec {
    const char *plain;
    const char *enc;
};

static void test_base64(void **state)
{
    /* RFC 4648 §10, unpadded. */
    static const struct b64_vec v[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    uint8_t *out;
    size_t outlen;
    char *s;

    for (size_t i = 0; i < BALAI_ARRAY_LEN(v); i++) {
        s = balai_base64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(s, v[i].enc);
        free(s);
        s = balai_base64url_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(s, v[i].enc);
        free(s);
        assert_int_equal(balai_base64_decode(v[i].enc, strlen(v[i].enc), &out, &outlen), BALAI_OK);
        assert_non_null(out);
        assert_int_equal(outlen, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, outlen);
        free(out);
    }

    /* Standard vs URL-safe alphabets. */
    const uint8_t bin[] = {0xfb, 0xff, 0xbf};
    s = balai_base64_encode(bin, 3);
    assert_string_equal(s, "+/+/");
    free(s);
    s = balai_base64url_encode(bin, 3);
    assert_string_equal(s, "-_-_");
    free(s);
    s = balai_base64_encode(bin, 2);
    assert_string_equal(s, "+/8");
    free(s);

    /* Padded input is accepted too. */
    static const struct b64_vec padded[] = {
        {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(padded); i++) {
        assert_int_equal(balai_base64_decode(padded[i].enc, strlen(padded[i].enc), &out, &outlen),
                         BALAI_OK);
        assert_int_equal(outlen, strlen(padded[i].plain));
        assert_memory_equal(out, padded[i].plain, outlen);
        free(out);
    }
    /* slen is honoured: no NUL needed. */
    assert_int_equal(balai_base64_decode("Zm9vXXXX", 4, &out, &outlen), BALAI_OK);
    assert_int_equal(outlen, 3);
    assert_memory_equal(out, "foo", 3);
    free(out);

    static const char *const invalid[] = {
        "Z",        /* impossible length */
        "Zm9vY",    /* impossible length */
        "Zh",       /* non-zero trailing bits */
        "Zm9=",     /* non-zero trailing bits */
        "Zg=",      /* short padding */
        "Zg===",    /* too much padding */
        "Zm8==",    /* padding on an unpadded length */
        "Zm9v=",    /* padding where none is due */
        "=",        /* padding only */
        "==",       /* padding only */
        "====",     /* padding only */
        "Zg==Zg==", /* padding in the middle */
        "Zm9v!",    /* bad character */
        "Zm 9v",    /* whitespace */
        "-_8",      /* URL-safe alphabet */
        "Zm9v\n",
    };
    for (size_t i = 0; i < BALAI_ARRAY_LEN(invalid); i++) {
        out = (uint8_t *)"sentinel";
        assert_int_equal(balai_base64_decode(invalid[i], strlen(invalid[i]), &out, &outlen),
                         BALAI_EINVAL);
        assert_null(out);
    }
    /* An embedded NUL is invalid, not an end. */
    assert_int_equal(balai_base64_decode("Zm\0v", 4, &out, &outlen), BALAI_EINVAL);

    /* Round trip over random data of every length up to 70. */
    uint8_t data[70];
    balai_random_bytes(data, sizeof(data));
    for (size_t n = 0; n <= sizeof(data); n++) {
        s = balai_base64_encode(data, n);
        assert_int_equal(balai_base64_decode(s, strlen(s), &out, &outlen), BALAI_OK);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, data, n);
        free(out);
        free(s);
    }
}

static void test_hex(void **state)
{
    const uint8_t bin[] = {0x00, 0x01, 0xab, 0xff};
    uint8_t out[4];
    char hex[9];

    balai_hex_encode(bin, 4, hex);
    assert_string_equal(hex, "0001abff");
    balai_hex_encode(bin, 0, hex);
    assert_string_equal(hex, "");
    assert_int_equal(balai_hex_decode("0001abff", out, 4), BALAI_OK);
    assert_memory_equal(out, bin, 4);
    assert_int_equal(balai_hex_decode("0001ABFF", out, 4), BALAI_OK);
    assert_memory_equal(out, bin, 4);
    assert_int_equal(balai_hex_decode("", out, 0), BALAI_OK);
    assert_int_equal(balai_hex_decode("0001abf", out, 4), BALAI_EINVAL);
    assert_int_equal(balai_hex_decode("0001abff00", out, 4), BALAI_EINVAL);
    assert_int_equal(balai_hex_decode("0001abfg", out, 4), BALAI_EINVAL);
    assert_int_equal(balai_hex_decode("0001ab f", out, 4), BALAI_EINVAL);
    assert_int_equal(balai_hex_decode("0001abff", out, 3), BALAI_EINVAL);
}

static void test_wipe(void **state)
{
    uint8_t buf[16];
    memset(buf, 0x5a, sizeof(buf));
    balai_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random), cmocka_unit_test(test_sha256_hmac),
        cmocka_unit_test(test_memeq),  cmocka_unit_test(test_pwhash),
        cmocka_unit_test(test_sign),   cmocka_unit_test(test_seal),
        cmocka_unit_test(test_kdf),    cmocka_unit_test(test_base64),
        cmocka_unit_test(test_hex),    cmocka_unit_test(test_wipe),
    };

    if (balai_crypto_init() != BALAI_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
