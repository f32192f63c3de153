/* event.h: room events (PDUs): building, hashing, signing, event ids, client format.
 *
 * SPEC: Matrix v1.12, Server-Server API "Signing Events", "Calculating the
 * content hash", "Calculating the reference hash"; Room version 10/11
 * "Event IDs" (v4 format: "$" + URL-safe unpadded base64 of the reference
 * hash) and "Event format"; Client-Server API "Size limits".
 *
 * A PDU here is a jansson object in federation format. In room versions 10
 * and 11 it carries no event_id: the id is derived from its content. */
#ifndef BALAI_CORE_EVENT_H
#define BALAI_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Whole PDU, canonical JSON, in bytes. */
#define BALAI_EVENT_MAX_BYTES 65536
/* room_id, sender, type, state_key, in bytes. */
#define BALAI_EVENT_FIELD_MAX 255

/* The server's signing key: names and a libsodium Ed25519 secret key. */
struct balai_event_key {
    const char *server_name;   /* "example.org": signatures and (v10) origin */
    const char *key_id;        /* "ed25519:a1b2" */
    const uint8_t *secret_key; /* 64 bytes (BALAI_SIGN_SECRETKEYBYTES) */
};

/* What a new local event is made of. Everything is borrowed. */
struct balai_event_params {
    const char *room_version; /* NULL: the default version */
    const char *room_id;
    const char *sender;
    const char *type;
    const char *state_key;     /* NULL for a message (non-state) event */
    const json_t *content;     /* an object; NULL means {} */
    const char *redacts;       /* m.room.redaction only: the redacted event's id,
                                * written top-level (v10) or into content (v11) */
    int64_t origin_server_ts;  /* milliseconds */
    int64_t depth;             /* >= 1 */
    const json_t *prev_events; /* array of event id strings; NULL means [] */
    const json_t *auth_events; /* array of event id strings; NULL means [] */
    const struct balai_event_key *key;
};

/* Builds, hashes and signs a new PDU. On BALAI_OK, *pdu is a new reference
 * (caller decrefs) and *event_id a new string (caller frees). Returns
 * BALAI_EINVAL when a field is missing, malformed or longer than
 * BALAI_EVENT_FIELD_MAX, when the content is not representable as canonical
 * JSON, or the room version is unsupported; BALAI_ETOOBIG when the signed
 * PDU exceeds BALAI_EVENT_MAX_BYTES. Outputs are untouched on error. */
int balai_event_build(const struct balai_event_params *p, json_t **pdu, char **event_id);

/* Computes the content hash of `pdu` (all of it except unsigned, signatures
 * and hashes) and stores it as hashes.sha256 (unpadded base64). BALAI_EINVAL
 * if pdu is not an object or not representable as canonical JSON. */
int balai_event_content_hash(json_t *pdu);
/* BALAI_OK if hashes.sha256 matches the content, BALAI_ECRYPTO if not,
 * BALAI_EINVAL if absent or malformed. */
int balai_event_content_hash_check(const json_t *pdu);

/* Signs the redacted form of `pdu` (without signatures and unsigned) and
 * adds signatures.<server_name>.<key_id>, keeping other signatures.
 * BALAI_EINVAL for an unsupported version or unrepresentable pdu. */
int balai_event_sign(json_t *pdu, const char *room_version, const struct balai_event_key *key);
/* Checks signatures.<server_name>.<key_id> against the 32-byte public key.
 * BALAI_OK, BALAI_ECRYPTO if it does not verify, BALAI_ENOTFOUND if absent,
 * BALAI_EINVAL if malformed. */
int balai_event_verify(const json_t *pdu, const char *room_version, const char *server_name,
                       const char *key_id, const uint8_t public_key[32]);

/* Computes the event id ("$" + URL-safe unpadded base64 of the sha256 of
 * the canonical redacted event without signatures and unsigned). On
 * BALAI_OK *event_id is a new string (caller frees). BALAI_EINVAL for an
 * unsupported version or unrepresentable pdu. */
int balai_event_reference_id(const json_t *pdu, const char *room_version, char **event_id);

/* BALAI_OK if the canonical form of pdu fits BALAI_EVENT_MAX_BYTES,
 * BALAI_ETOOBIG if not, BALAI_EINVAL if it has no canonical form. */
int balai_event_check_size(const json_t *pdu);

/* Returns the Client-Server API form of `pdu` (borrowed) as a new reference:
 * event_id, type, content, sender, origin_server_ts, room_id, and state_key
 * and unsigned when present; hashes, signatures, auth_events, prev_events,
 * depth and origin are dropped. For m.room.redaction, `redacts` is given both
 * at top level and in content, whichever the version stored (spec v11
 * "Moving the redacts property"). NULL if pdu is not an object. */
json_t *balai_event_client_format(const json_t *pdu, const char *event_id);

/* Field access on a PDU (borrowed from it; NULL when absent or not a string). */
const char *balai_event_type(const json_t *pdu);
const char *balai_event_sender(const json_t *pdu);
const char *balai_event_room_id(const json_t *pdu);
/* NULL for a message event (no state_key). */
const char *balai_event_state_key(const json_t *pdu);
/* The content object, or NULL when absent or not an object. */
const json_t *balai_event_content(const json_t *pdu);
/* The event's redacts target: top-level `redacts`, else content.redacts. */
const char *balai_event_redacts(const json_t *pdu);

/* Returns the server-name part of a room, user or event id (the text after
 * the first ':'), borrowed from id; NULL when there is none. */
const char *balai_event_id_domain(const char *id);

#endif
