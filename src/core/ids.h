/* ids.h: Matrix identifiers (user ids, localparts) as the spec defines them. */
#ifndef BALAI_CORE_IDS_H
#define BALAI_CORE_IDS_H

#include <stddef.h>

#define BALAI_ID_MAX 255

/* True when `lp` is a valid new localpart: 1.. chars of [a-z0-9._=/+-]. */
int balai_id_localpart_ok(const char *lp);
/* Builds "@lp:server". Caller frees. */
char *balai_id_user(const char *lp, const char *server);
/* Accepts "name", "Name" (lowercased) or "@name:server" for this server.
 * Returns a new full user id (caller frees) in *out, or BALAI_EINVAL when the
 * id is malformed, too long, or belongs to another server. */
int balai_id_user_normalise(const char *in, const char *server, char **out);
/* True when `id` looks like a room id: "!opaque:server", at most 255 bytes. */
int balai_id_room_ok(const char *id);
/* Returns the localpart of a full user id as a new string (caller frees), or NULL if malformed. */
char *balai_id_localpart(const char *user_id);

#endif
