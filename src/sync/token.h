/* token.h: sync and pagination tokens.
 *
 * A sync token (next_batch) names a position in every stream a client
 * follows, plus the server epoch so that a token from another database (a
 * restore, another server) is recognised instead of silently misread:
 *     s<epoch>_<events>_<receipts>_<typing>_<account_data>_<to_device>_<device_lists>_<presence>
 * A pagination token (prev_batch, /messages) names a point in the event
 * stream: events at or before <pos> lie behind it:
 *     t<epoch>_<pos>
 * Both stay valid across restarts. */
#ifndef BALAI_SYNC_TOKEN_H
#define BALAI_SYNC_TOKEN_H

#include <stddef.h>
#include <stdint.h>

enum {
    BALAI_STREAM_EVENTS = 0,
    BALAI_STREAM_RECEIPTS,
    BALAI_STREAM_TYPING,
    BALAI_STREAM_ACCOUNT_DATA,
    BALAI_STREAM_TO_DEVICE,
    BALAI_STREAM_DEVICE_LISTS,
    BALAI_STREAM_PRESENCE,
    BALAI_STREAM_COUNT,
};

struct balai_sync_token {
    int64_t pos[BALAI_STREAM_COUNT];
};

/* Writes a sync token into out (at least 200 bytes). */
void balai_sync_token_format(const char *epoch, const struct balai_sync_token *t, char *out,
                             size_t outlen);
void balai_page_token_format(const char *epoch, int64_t pos, char *out, size_t outlen);
/* Parses either kind: a sync token gives its events position as the page
 * position. BALAI_EINVAL when malformed, BALAI_ESTATE when from another epoch. */
int balai_sync_token_parse(const char *s, const char *epoch, struct balai_sync_token *t);
int balai_page_token_parse(const char *s, const char *epoch, int64_t *pos);

#endif
