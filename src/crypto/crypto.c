/* crypto.c: libsodium wrappers: randomness, hashes, Argon2id, Ed25519,
 * XChaCha20-Poly1305, key derivation and encodings. */
#include "balai.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/alloc.h"

#define LOG_MODULE "crypto"
#include "util/log.h"

_Static_assert(BALAI_PWHASH_STRBYTES == crypto_pwhash_argon2id_STRBYTES, "pwhash strbytes");
_Static_assert(BALAI_SEAL_KEYBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "seal key");
_Static_assert(BALAI_SEAL_NONCEBYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(BALAI_SEAL_TAGBYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(BALAI_SEAL_OVERHEAD == BALAI_SEAL_NONCEBYTES + BALAI_SEAL_TAGBYTES, "overhead");
_Static_assert(BALAI_SIGN_PUBLICKEYBYTES == crypto_sign_ed25519_PUBLICKEYBYTES, "sign pk");
_Static_assert(BALAI_SIGN_SECRETKEYBYTES == crypto_sign_ed25519_SECRETKEYBYTES, "sign sk");
_Static_assert(BALAI_SIGN_SEEDBYTES == crypto_sign_ed25519_SEEDBYTES, "sign seed");
_Static_assert(BALAI_SIGN_BYTES == crypto_sign_ed25519_BYTES, "sign bytes");
_Static_assert(crypto_hash_sha256_BYTES == 32, "sha256");
_Static_assert(crypto_auth_hmacsha256_BYTES == 32, "hmac");

int balai_crypto_init(void)
{
    if (sodium_init() < 0) {
        LOG_ERROR("libsodium initialisation failed");
        return BALAI_ECRYPTO;
    }
    return BALAI_OK;
}

/* ---- Randomness ---- */

void balai_random_bytes(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

char *balai_random_token(size_t nbytes)
{
    uint8_t stackbuf[64];
    uint8_t *raw = nbytes <= sizeof(stackbuf) ? stackbuf : balai_malloc(nbytes);
    char *s;

    randombytes_buf(raw, nbytes);
    s = balai_base64url_encode(raw, nbytes);
    sodium_memzero(raw, nbytes);
    if (raw != stackbuf)
        free(raw);
    return s;
}

char *balai_random_alnum(size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char *s = balai_malloc(len + 1);

    for (size_t i = 0; i < len; i++)
        s[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    s[len] = '\0';
    return s;
}

uint32_t balai_random_uniform(uint32_t upper)
{
    return upper < 2 ? 0 : randombytes_uniform(upper);
}

/* ---- Hashes and MACs ---- */

void balai_sha256(const void *data, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, data, len);
}

void balai_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

int balai_memeq(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

/* ---- Password hashing ---- */

int balai_pwhash_cost_parse(const char *name, struct balai_pwhash_cost *out)
{
    if (!name)
        return BALAI_EINVAL;
    if (strcmp(name, "test") == 0) {
        out->ops = crypto_pwhash_argon2id_OPSLIMIT_MIN;
        out->mem = crypto_pwhash_argon2id_MEMLIMIT_MIN;
    } else if (strcmp(name, "interactive") == 0) {
        out->ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
        out->mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
    } else if (strcmp(name, "moderate") == 0) {
        out->ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
        out->mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
    } else if (strcmp(name, "sensitive") == 0) {
        out->ops = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
        out->mem = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
    } else {
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static int cost_valid(const struct balai_pwhash_cost *cost)
{
    return cost->ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
           cost->ops <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
           cost->mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
           cost->mem <= crypto_pwhash_argon2id_MEMLIMIT_MAX;
}

int balai_pwhash(const char *pw, size_t len, const struct balai_pwhash_cost *cost,
                 char out[BALAI_PWHASH_STRBYTES])
{
    if (!cost_valid(cost) || len > crypto_pwhash_argon2id_PASSWD_MAX)
        return BALAI_EINVAL;
    if (crypto_pwhash_argon2id_str(out, pw, len, cost->ops, cost->mem) != 0) {
        LOG_ERROR("argon2id: cannot allocate %zu bytes", cost->mem);
        return BALAI_ENOMEM;
    }
    return BALAI_OK;
}

/* True when hash is a NUL-terminated string that fits BALAI_PWHASH_STRBYTES. */
static int hash_str_ok(const char *hash)
{
    return hash && memchr(hash, '\0', BALAI_PWHASH_STRBYTES) != NULL;
}

int balai_pwhash_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash_str_ok(hash) || len > crypto_pwhash_argon2id_PASSWD_MAX)
        return BALAI_EAUTH;
    /* The generic verifier accepts argon2id and argon2i strings. */
    if (crypto_pwhash_str_verify(hash, pw, len) != 0)
        return BALAI_EAUTH;
    return BALAI_OK;
}

int balai_pwhash_needs_rehash(const char *hash, const struct balai_pwhash_cost *cost)
{
    if (!hash_str_ok(hash))
        return 1;
    return crypto_pwhash_argon2id_str_needs_rehash(hash, cost->ops, cost->mem) != 0;
}

/* ---- Ed25519 ---- */

void balai_sign_keypair(uint8_t pk[32], uint8_t sk[64])
{
    crypto_sign_ed25519_keypair(pk, sk);
}

void balai_sign_seed_keypair(const uint8_t seed[32], uint8_t pk[32], uint8_t sk[64])
{
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
}

void balai_sign(const uint8_t sk[64], const void *msg, size_t len, uint8_t sig[64])
{
    crypto_sign_ed25519_detached(sig, NULL, msg, len, sk);
}

int balai_sign_verify(const uint8_t pk[32], const void *msg, size_t len, const uint8_t sig[64])
{
    if (crypto_sign_ed25519_verify_detached(sig, msg, len, pk) != 0)
        return BALAI_ECRYPTO;
    return BALAI_OK;
}

/* ---- XChaCha20-Poly1305 ---- */

void balai_seal(const uint8_t key[32], const void *ad, size_t adlen, const void *plain, size_t len,
                uint8_t *out)
{
    unsigned long long clen;

    randombytes_buf(out, BALAI_SEAL_NONCEBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + BALAI_SEAL_NONCEBYTES, &clen, plain, len, ad,
                                               adlen, NULL, out, key);
    assert(clen == len + BALAI_SEAL_TAGBYTES);
}

int balai_unseal(const uint8_t key[32], const void *ad, size_t adlen, const uint8_t *in,
                 size_t inlen, uint8_t *out)
{
    unsigned long long mlen;

    if (inlen < BALAI_SEAL_OVERHEAD)
        return BALAI_EINVAL;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, in + BALAI_SEAL_NONCEBYTES,
                                                   inlen - BALAI_SEAL_NONCEBYTES, ad, adlen, in,
                                                   key) != 0) {
        sodium_memzero(out, inlen - BALAI_SEAL_OVERHEAD);
        return BALAI_ECRYPTO;
    }
    assert(mlen == inlen - BALAI_SEAL_OVERHEAD);
    return BALAI_OK;
}

/* ---- Key derivation ---- */

void balai_kdf(const uint8_t master[32], const char *label, uint8_t out[32])
{
    static const unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] = "balai-kdf-v1";

    crypto_generichash_blake2b_salt_personal(out, 32, (const unsigned char *)label, strlen(label),
                                             master, 32, NULL, personal);
}

/* ---- Encodings ---- */

static char *b64_encode(const void *data, size_t len, int variant)
{
    size_t n = sodium_base64_encoded_len(len, variant);
    char *s = balai_malloc(n);

    sodium_bin2base64(s, n, data, len, variant);
    return s;
}

char *balai_base64_encode(const void *data, size_t len)
{
    return b64_encode(data, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

char *balai_base64url_encode(const void *data, size_t len)
{
    return b64_encode(data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int balai_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen)
{
    size_t pad = 0, binlen = 0;
    uint8_t *bin;

    *out = NULL;
    *outlen = 0;
    /* Strip the padding ourselves, then decode strictly without it. With
     * padding, the padded length must be a multiple of 4 and the padding what
     * that length requires (libsodium rejects non-zero trailing bits and a
     * lone final character). */
    while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=')
        pad++;
    if (pad > 0 && slen % 4 != 0)
        return BALAI_EINVAL;
    slen -= pad;
    if (pad > 0 && (slen % 4) + pad != 4)
        return BALAI_EINVAL;

    bin = balai_malloc(slen / 4 * 3 + 3);
    if (sodium_base642bin(bin, slen / 4 * 3 + 3, s, slen, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
        free(bin);
        return BALAI_EINVAL;
    }
    *out = bin;
    *outlen = binlen;
    return BALAI_OK;
}

void balai_hex_encode(const void *data, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, data, len);
}

int balai_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
    size_t binlen = 0, hexlen = strlen(hex);

    if (outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
        return BALAI_EINVAL;
    if (sodium_hex2bin(out, outlen, hex, hexlen, NULL, &binlen, NULL) != 0 || binlen != outlen)
        return BALAI_EINVAL;
    return BALAI_OK;
}

void balai_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}
