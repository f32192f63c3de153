/* keystore.h: the key file (KEK) and the keystore of data keys.
 *
 * DESIGN.md §3 "Encryption at rest". Content is sealed with per-room, per-epoch
 * data keys. They live in a keystore file beside the database, never in it,
 * sealed with a key derived from the key encryption key (KEK). The KEK comes
 * from a key file (mode 0600, outside the database) or from the environment
 * variable BALAI_KEK. Deleting a data key from the keystore crypto-shreds
 * everything sealed with it, in the live database and in every backup.
 *
 * Key file format: 64 lower-case hex digits (32 bytes) and a newline.
 *
 * Keystore file format (version 1), rewritten whole on each change:
 *
 *     "BALAIKS1"                          8 bytes, magic and version
 *     sealed body                         the rest of the file
 *
 * The sealed body is balai_seal(balai_kdf(kek, "keystore"), ad = "BALAIKS1",
 * plain), i.e. 24-byte nonce || ciphertext || 16-byte tag, and plain is
 *
 *     u32 count (little-endian)
 *     count times: u8 name_len (1..255) || name (printable ASCII) || 32-byte key
 *
 * Entries are in no particular order; names are unique. The AEAD tag doubles as
 * the check value: a wrong KEK, a tampered or truncated file all fail to open
 * with BALAI_ECRYPTO, even for an empty keystore. The whole body is held in
 * memory and rewritten on each change; at ~70 bytes an entry this is fine up
 * to ~100k keys (measured on ext4: a create on a 10k-key keystore takes about
 * 5 ms, mostly the fsyncs; opening it about 3 ms; a get about 0.2 us).
 *
 * Durability: a change is written to "<path>.tmp" (mode 0600), fsync'd,
 * renamed over <path>, and the directory fsync'd before the call returns. One
 * process at a time may open a keystore file (there is no cross-process lock).
 *
 * Thread safety: every function on a struct balai_keystore is thread-safe.
 * Changes are serialised by a mutex held across the file write; lookups take a
 * read lock that is held only for the in-memory search, never across I/O, so
 * balai_keystore_get and balai_keystore_count never block on a disk write and
 * are safe on the loop thread. Changes (create, delete, and get_or_create when
 * the key is absent) fsync: call them off the loop thread. */
#ifndef BALAI_CRYPTO_KEYSTORE_H
#define BALAI_CRYPTO_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#define BALAI_KEK_BYTES 32
#define BALAI_KEYSTORE_KEYBYTES 32
#define BALAI_KEYSTORE_NAME_MAX 255
#define BALAI_KEK_ENV "BALAI_KEK"

struct balai_keystore;

/* Creates a key file at path holding a new random 32-byte KEK as 64 hex digits
 * and a newline, mode 0600, fsync'd (file and directory). BALAI_EEXIST if path
 * exists (never overwrites), BALAI_EIO on other file errors. */
int balai_keyfile_create(const char *path);

/* Loads the KEK into kek. If the environment variable BALAI_KEK is set it must
 * hold 64 hex digits and is used (path is then not read); otherwise the key
 * file at path is read. Returns BALAI_OK; BALAI_ENOTFOUND if the file does not
 * exist; BALAI_EFORBIDDEN (logged, with the chmod 600 fix) if the file grants
 * any permission to group or others; BALAI_ECONFIG if the variable or the file
 * does not hold 64 hex digits (an optional trailing newline is allowed in the
 * file); BALAI_EIO on other file errors. */
int balai_keyfile_load(const char *path, uint8_t kek[32]);

/* Opens the keystore file at path with the KEK kek (borrowed; only a derived
 * key is kept). With create = 0 the file must exist (BALAI_ENOTFOUND if not);
 * with create = 1 a new, empty keystore is created durably and the call fails
 * with BALAI_EEXIST if path already exists (an existing keystore is never
 * overwritten; to open-or-create, open with 0 and on BALAI_ENOTFOUND open
 * with 1). On BALAI_OK *out is a new keystore, free it with
 * balai_keystore_free. Errors: BALAI_ECRYPTO if the KEK is wrong or the file
 * was altered, BALAI_EINVAL if the file is not a keystore (bad magic, too
 * short), BALAI_EIO on file errors. */
int balai_keystore_open(const char *path, const uint8_t kek[32], int create,
                        struct balai_keystore **out);

/* Frees the keystore, wiping the keys from memory. NULL-safe. */
void balai_keystore_free(struct balai_keystore *ks);

/* Copies the data key named name (e.g. "room:!abc:example.org:0" for epoch 0
 * of a room) into key. BALAI_ENOTFOUND if absent, BALAI_EINVAL if name is not
 * a valid name. In-memory binary search; never does I/O. */
int balai_keystore_get(struct balai_keystore *ks, const char *name, uint8_t key[32]);

/* Generates a new random key under name, persists the keystore durably, then
 * copies the key into key. BALAI_EEXIST if name is present, BALAI_EINVAL if
 * name is not 1..255 bytes of printable ASCII (0x20..0x7e), BALAI_EIO if the
 * file could not be written (the keystore is then unchanged). */
int balai_keystore_create_key(struct balai_keystore *ks, const char *name, uint8_t key[32]);

/* Copies the key named name into key, creating it first (as
 * balai_keystore_create_key) if absent; atomic with respect to other callers. */
int balai_keystore_get_or_create(struct balai_keystore *ks, const char *name, uint8_t key[32]);

/* Deletes the key named name and persists the keystore durably before
 * returning, crypto-shredding everything sealed with it. BALAI_ENOTFOUND if
 * absent, BALAI_EIO if the file could not be written (the key is then kept). */
int balai_keystore_delete(struct balai_keystore *ks, const char *name);

/* The number of keys. */
size_t balai_keystore_count(struct balai_keystore *ks);

#endif
