/* redact.h: the redaction algorithm, which strips an event to its essential keys.
 *
 * SPEC: Matrix v1.12, Room version 10 "Redactions" (the v9 algorithm) and
 * Room version 11 "Redactions". The redacted form is what is signed and
 * what the reference hash (the event id) covers, and what is kept of an
 * event once it has been redacted. */
#ifndef BALAI_CORE_REDACT_H
#define BALAI_CORE_REDACT_H

#include <jansson.h>

#include "core/room_version.h"

/* Returns the redacted form of `pdu` (borrowed) under the rules of
 * `room_version` as a new reference (caller decrefs); the kept values are
 * deep copies. NULL when the version is unsupported or pdu is not an object.
 * `unsigned` is dropped like any other unlisted key: a caller that keeps
 * redacted events adds unsigned.redacted_because itself. */
json_t *balai_redact(const json_t *pdu, const char *room_version);

/* The same with a version descriptor (not NULL). */
json_t *balai_redact_rv(const json_t *pdu, const struct balai_room_version *rv);

#endif
