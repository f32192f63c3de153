/* token.c: sync and pagination tokens. */
#include "balai.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/token.h"

void balai_sync_token_format(const char *epoch, const struct balai_sync_token *t, char *out,
                             size_t outlen)
{
    snprintf(out, outlen, "s%s_%lld_%lld_%lld_%lld_%lld_%lld_%lld", epoch, (long long)t->pos[0],
             (long long)t->pos[1], (long long)t->pos[2], (long long)t->pos[3], (long long)t->pos[4],
             (long long)t->pos[5], (long long)t->pos[6]);
}

void balai_page_token_format(const char *epoch, int64_t pos, char *out, size_t outlen)
{
    snprintf(out, outlen, "t%s_%lld", epoch, (long long)pos);
}

/* Parses "<epoch>_<n>[_<n>...]" after the kind letter into up to max numbers. */
static int parse(const char *s, const char *epoch, int64_t *nums, int max, int *count)
{
    size_t el = strlen(epoch);
    if (strncmp(s, epoch, el) != 0 || s[el] != '_') {
        const char *us = strchr(s, '_');
        return us ? BALAI_ESTATE : BALAI_EINVAL;
    }
    const char *p = s + el;
    *count = 0;
    while (*p == '_') {
        char *end;
        p++;
        if (*p < '0' || *p > '9' || *count >= max)
            return BALAI_EINVAL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0)
            return BALAI_EINVAL;
        nums[(*count)++] = v;
        p = end;
    }
    return *p == '\0' && *count > 0 ? BALAI_OK : BALAI_EINVAL;
}

int balai_sync_token_parse(const char *s, const char *epoch, struct balai_sync_token *t)
{
    int n = 0, rc;
    memset(t, 0, sizeof(*t));
    if (s[0] == 's') {
        /* Tokens from before the presence stream have one position less. */
        rc = parse(s + 1, epoch, t->pos, BALAI_STREAM_COUNT, &n);
        return rc == BALAI_OK && n != BALAI_STREAM_COUNT && n != BALAI_STREAM_PRESENCE
                   ? BALAI_EINVAL
                   : rc;
    }
    if (s[0] == 't') {
        rc = parse(s + 1, epoch, t->pos, 1, &n);
        return rc;
    }
    return BALAI_EINVAL;
}

int balai_page_token_parse(const char *s, const char *epoch, int64_t *pos)
{
    struct balai_sync_token t;
    int rc = balai_sync_token_parse(s, epoch, &t);
    if (rc == BALAI_OK)
        *pos = t.pos[BALAI_STREAM_EVENTS];
    return rc;
}
