/* audit.h: the audit trail's hash chain, pure logic (no I/O, no threads).
 *
 * DESIGN.md §5 "Audit trail". Every entry carries a MAC (HMAC-SHA-256 with a
 * key derived from the KEK, never stored in the database) over its canonical
 * bytes, which include the MAC of the entry before it (`prev`; 32 zero bytes
 * for entry 1). Sequence numbers start at 1 and increase by one. So:
 *  - an edited entry fails its own MAC;
 *  - a removed entry leaves a gap in the sequence numbers, and renumbering
 *    the rest breaks their MACs (the seq is MAC'd);
 *  - reordered entries fail their MACs (seq) and their links (prev);
 *  - a cut tail (entries removed from the end, which the chain alone cannot
 *    show) is caught by the CHAIN HEAD: the last (seq, MAC) signed with the
 *    server's Ed25519 key and kept OUTSIDE the database (DATA/audit.head),
 *    rewritten at intervals. Entries newer than the last head written are not
 *    covered against a cut (see docs/audit.md).
 *
 * The MAC'd bytes of an entry (version 1) are the ASCII text
 * "balai-audit-v1\n" followed by the canonical JSON (core/canonjson.h) of
 *
 *     {"action": A, "actor": W, "detail": D, "prev": P, "seq": S,
 *      "target": T, "ts": MS}
 *
 * with D the detail object, P the lower-case hex of prev, T a string or null.
 * The signed bytes of a head are "balai-audit-head-v1\n" followed by the
 * canonical JSON of {"mac": hex, "seq": S, "ts": MS}.
 *
 * The MAC itself is a function pointer (this layer may not call crypto/):
 * pass balai_hmac_sha256. Signing and signature checks are the caller's
 * (balai_sign / balai_sign_verify over balai_audit_head_bytes). */
#ifndef BALAI_GOV_AUDIT_H
#define BALAI_GOV_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

#define BALAI_AUDIT_MAC_BYTES 32
#define BALAI_AUDIT_SIG_BYTES 64
/* Limits on the text fields of an entry (bytes). */
#define BALAI_AUDIT_NAME_MAX 1024   /* actor, action, target */
#define BALAI_AUDIT_DETAIL_MAX 8192 /* canonical detail JSON */

/* HMAC-SHA-256, as balai_hmac_sha256 (crypto/crypto.h). */
typedef void (*balai_audit_mac_fn)(const uint8_t *key, size_t keylen, const void *data, size_t len,
                                   uint8_t out[32]);

/* The chain's key: 32 bytes and the MAC function. */
struct balai_audit_key {
    uint8_t key[32];
    balai_audit_mac_fn mac;
};

/* One entry. The strings are borrowed. */
struct balai_audit_entry {
    int64_t seq;        /* 1, 2, ... */
    int64_t ts;         /* ms since the epoch */
    const char *actor;  /* "@user:server", "cli", "system", "scim", ... */
    const char *action; /* "user.login", "admin.user.create", ... (docs/audit.md) */
    const char *target; /* what the action was done to, NULL = nothing */
    const char *detail; /* canonical JSON text of an object ("{}" when none) */
    uint8_t prev[BALAI_AUDIT_MAC_BYTES];
    uint8_t mac[BALAI_AUDIT_MAC_BYTES];
};

/* Returns the canonical JSON text of `detail` (borrowed; NULL means {}) as a
 * new string (caller frees), or NULL if it is not an object, cannot be made
 * canonical, or is longer than BALAI_AUDIT_DETAIL_MAX. */
char *balai_audit_detail_text(const json_t *detail);

/* Appends the MAC'd bytes of e (prev included, mac ignored) to out.
 * BALAI_EINVAL if a required field is missing, too long, seq or ts is out of
 * the canonical JSON range, or detail is not the canonical text of an object;
 * BALAI_ETOOBIG if out's cap is hit. */
int balai_audit_entry_bytes(const struct balai_audit_entry *e, struct balai_buf *out);

/* Computes e->mac from the other fields. Returns 0 or as balai_audit_entry_bytes. */
int balai_audit_entry_seal(const struct balai_audit_key *k, struct balai_audit_entry *e);

/* 0 if e->mac is right; BALAI_ECRYPTO if not; BALAI_EINVAL if the entry cannot
 * even be serialised (a field was altered into an invalid form). */
int balai_audit_entry_check(const struct balai_audit_key *k, const struct balai_audit_entry *e);

/* ---- The chain head ---- */

struct balai_audit_head {
    int64_t seq; /* the last entry it covers; 0 for an empty trail */
    int64_t ts;  /* when it was made */
    uint8_t mac[BALAI_AUDIT_MAC_BYTES];
    uint8_t sig[BALAI_AUDIT_SIG_BYTES]; /* Ed25519 over balai_audit_head_bytes */
};

/* Appends the signed bytes of h (sig ignored) to out. */
int balai_audit_head_bytes(const struct balai_audit_head *h, struct balai_buf *out);
/* The head file's text: one JSON object and a newline,
 * {"key_id", "mac" (hex), "seq", "sig" (hex), "ts", "v": 1}. key_id (borrowed,
 * may be NULL) is informational only: a verifier uses the server's own key.
 * Caller frees. */
char *balai_audit_head_format(const struct balai_audit_head *h, const char *key_id);
/* Parses a head file's text. BALAI_EINVAL if malformed. */
int balai_audit_head_parse(const char *text, struct balai_audit_head *out);

/* ---- Verification ----
 *
 * Feed every entry in ascending seq order to balai_audit_verify_entry, then
 * call balai_audit_verify_end. Only the first fault is reported. */

enum balai_audit_head_state {
    BALAI_AUDIT_HEAD_OK,      /* a head whose signature the caller checked */
    BALAI_AUDIT_HEAD_MISSING, /* no head file */
    BALAI_AUDIT_HEAD_INVALID, /* unreadable, malformed or a bad signature */
};

struct balai_audit_verify {
    /* inputs (set by init) */
    const struct balai_audit_key *key;
    struct balai_audit_head head;
    enum balai_audit_head_state head_state;
    /* progress */
    int64_t entries;  /* entries seen */
    int64_t last_seq; /* seq of the last entry seen (0 = none) */
    uint8_t last_mac[BALAI_AUDIT_MAC_BYTES];
    int head_matched; /* the entry at head.seq was seen and matched */
    /* result: bad_seq > 0 names the first bad entry (or the first missing
     * one); bad_seq 0 with ok 0 is a fault of the head itself */
    int ok;
    int64_t bad_seq;
    char reason[256];
};

/* Starts a verification. key is borrowed for the walk; head (copied) is used
 * only when head_state is BALAI_AUDIT_HEAD_OK. */
void balai_audit_verify_init(struct balai_audit_verify *v, const struct balai_audit_key *key,
                             const struct balai_audit_head *head,
                             enum balai_audit_head_state head_state);
/* Checks the next entry (ascending seq). */
void balai_audit_verify_entry(struct balai_audit_verify *v, const struct balai_audit_entry *e);
/* Ends the walk: checks the head against the tail. Returns BALAI_OK if the
 * trail is intact (v->ok = 1), BALAI_ECRYPTO if not (v->bad_seq, v->reason). */
int balai_audit_verify_end(struct balai_audit_verify *v);

#endif
