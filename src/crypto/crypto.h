/* crypto.h: the cryptographic primitives Balai uses, as thin libsodium wrappers.
 *
 * Only src/crypto/ includes <sodium.h>; everything else calls these. Call
 * balai_crypto_init once at start, before any other function here (and before
 * starting threads). After that every function is thread-safe.
 *
 * Functions returning int return BALAI_OK or a negative BALAI_E* code.
 * Functions returning char * return a new NUL-terminated string the caller
 * frees with free(); they never return NULL (allocation failure aborts). */
#ifndef BALAI_CRYPTO_CRYPTO_H
#define BALAI_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define BALAI_PWHASH_STRBYTES 128
#define BALAI_SEAL_KEYBYTES 32
#define BALAI_SEAL_NONCEBYTES 24
#define BALAI_SEAL_TAGBYTES 16
#define BALAI_SEAL_OVERHEAD (24 + 16) /* nonce + tag */

/* Initialises libsodium. Returns BALAI_OK (also when already initialised) or
 * BALAI_ECRYPTO if no secure random source is available. */
int balai_crypto_init(void);

/* ---- Randomness (CSPRNG) ---- */

/* Fills buf with n random bytes. */
void balai_random_bytes(void *buf, size_t n);
/* Returns nbytes random bytes as unpadded base64url (access tokens, ids).
 * Caller frees. */
char *balai_random_token(size_t nbytes);
/* Returns len characters drawn uniformly from [A-Za-z0-9] (device ids,
 * generated passwords). Caller frees. */
char *balai_random_alnum(size_t len);
/* Returns a uniform random number in [0, upper); 0 when upper < 2. */
uint32_t balai_random_uniform(uint32_t upper);

/* ---- Hashes and MACs ---- */

/* SHA-256 of data (token hashes). */
void balai_sha256(const void *data, size_t len, uint8_t out[32]);
/* HMAC-SHA-256 with a key of any length (audit chain, tokens). */
void balai_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[32]);
/* Compares n bytes in constant time. Returns 1 if equal, 0 otherwise. */
int balai_memeq(const void *a, const void *b, size_t n);

/* ---- Password hashing (Argon2id) ----
 *
 * Slow by design: never call on the loop thread, use the password pool. */

struct balai_pwhash_cost {
    unsigned long long ops;
    size_t mem; /* bytes */
};

/* Cost presets by name: "test" (libsodium's minimum: ops 1, 8 KiB; for tests
 * only), "interactive", "moderate", "sensitive". BALAI_EINVAL if unknown. */
int balai_pwhash_cost_parse(const char *name, struct balai_pwhash_cost *out);
/* Hashes pw (len bytes) into out, a NUL-terminated "$argon2id$..." string
 * (salt included). BALAI_EINVAL if the cost is out of range, BALAI_ENOMEM if
 * Argon2 could not get its memory. */
int balai_pwhash(const char *pw, size_t len, const struct balai_pwhash_cost *cost,
                 char out[BALAI_PWHASH_STRBYTES]);
/* Checks pw against a hash made by balai_pwhash (hash is a NUL-terminated
 * string). BALAI_OK on match, BALAI_EAUTH on mismatch or malformed hash. */
int balai_pwhash_verify(const char *hash, const char *pw, size_t len);
/* Returns 1 if hash was made with parameters other than cost (rehash it at the
 * next successful login), 0 if not. A malformed hash counts as 1. */
int balai_pwhash_needs_rehash(const char *hash, const struct balai_pwhash_cost *cost);

/* ---- Signatures (Ed25519) ---- */

#define BALAI_SIGN_PUBLICKEYBYTES 32
#define BALAI_SIGN_SECRETKEYBYTES 64
#define BALAI_SIGN_SEEDBYTES 32
#define BALAI_SIGN_BYTES 64

/* A new random key pair. */
void balai_sign_keypair(uint8_t pk[32], uint8_t sk[64]);
/* The key pair deterministically derived from a 32-byte seed. */
void balai_sign_seed_keypair(const uint8_t seed[32], uint8_t pk[32], uint8_t sk[64]);
/* Detached signature of msg. */
void balai_sign(const uint8_t sk[64], const void *msg, size_t len, uint8_t sig[64]);
/* BALAI_OK if sig is a valid signature of msg under pk, BALAI_ECRYPTO if not. */
int balai_sign_verify(const uint8_t pk[32], const void *msg, size_t len, const uint8_t sig[64]);

/* ---- Authenticated encryption (XChaCha20-Poly1305 with associated data) ----
 *
 * Sealed form: 24-byte random nonce || ciphertext || 16-byte tag, i.e.
 * len + BALAI_SEAL_OVERHEAD bytes. The associated data (ad, may be NULL when
 * adlen is 0) is authenticated but not stored: bind a sealed value to where it
 * belongs (e.g. the event id) so it cannot be moved elsewhere unnoticed. */

/* Seals len bytes of plain into out, which must hold len + BALAI_SEAL_OVERHEAD
 * bytes and must not overlap plain. */
void balai_seal(const uint8_t key[32], const void *ad, size_t adlen, const void *plain, size_t len,
                uint8_t *out);
/* Opens inlen sealed bytes into out, which must hold inlen - BALAI_SEAL_OVERHEAD
 * bytes and must not overlap in. BALAI_EINVAL if inlen < BALAI_SEAL_OVERHEAD,
 * BALAI_ECRYPTO if the key or ad is wrong or the data was altered (out is then
 * zeroed). */
int balai_unseal(const uint8_t key[32], const void *ad, size_t adlen, const uint8_t *in,
                 size_t inlen, uint8_t *out);

/* ---- Key derivation ---- */

/* Derives a 32-byte subkey from master for the purpose named by label (a
 * NUL-terminated string such as "audit-hmac" or "keystore"): BLAKE2b keyed
 * with master over the label, personalised "balai-kdf-v1". Distinct labels
 * give independent keys. */
void balai_kdf(const uint8_t master[32], const char *label, uint8_t out[32]);

/* ---- Encodings ----
 *
 * Matrix uses UNPADDED standard base64 (keys, signatures, hashes). */

/* Unpadded standard base64 of data. Caller frees. */
char *balai_base64_encode(const void *data, size_t len);
/* Unpadded URL-safe base64 (RFC 4648 §5) of data. Caller frees. */
char *balai_base64url_encode(const void *data, size_t len);
/* Decodes slen bytes of standard base64, padded or unpadded (not URL-safe, no
 * whitespace). On BALAI_OK *out is a new buffer of *outlen bytes (non-NULL even
 * when empty), caller frees. BALAI_EINVAL on any invalid character, bad padding,
 * impossible length or non-zero trailing bits (*out is then NULL). */
int balai_base64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen);
/* Lower-case hex of data into out, which holds 2 * len + 1 bytes (NUL-terminated). */
void balai_hex_encode(const void *data, size_t len, char *out);
/* Decodes the NUL-terminated hex (either case) into out. hex must be exactly
 * 2 * outlen hex digits; BALAI_EINVAL otherwise. */
int balai_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* Zeroes n bytes in a way the compiler cannot optimise away. */
void balai_wipe(void *p, size_t n);

#endif
