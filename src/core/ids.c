/* ids.c: Matrix user-id validation and normalisation. */
#include "balai.h"

#include <ctype.h>
#include <string.h>

#include "core/ids.h"
#include "util/alloc.h"

static int lp_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '=' ||
           c == '-' || c == '/' || c == '+';
}

int balai_id_localpart_ok(const char *lp)
{
    size_t n = strlen(lp);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!lp_char_ok(lp[i]))
            return 0;
    }
    return 1;
}

char *balai_id_user(const char *lp, const char *server)
{
    return balai_asprintf("@%s:%s", lp, server);
}

int balai_id_user_normalise(const char *in, const char *server, char **out)
{
    char *lp = NULL;
    int rc = BALAI_EINVAL;

    if (in[0] == '@') {
        const char *colon = strchr(in, ':');
        if (!colon || strcmp(colon + 1, server) != 0)
            goto out;
        lp = balai_strndup(in + 1, (size_t)(colon - in - 1));
    } else {
        lp = balai_strdup(in);
    }
    for (char *p = lp; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!balai_id_localpart_ok(lp))
        goto out;
    *out = balai_id_user(lp, server);
    if (strlen(*out) > BALAI_ID_MAX) {
        BALAI_FREE(*out);
        goto out;
    }
    rc = BALAI_OK;
out:
    free(lp);
    return rc;
}

char *balai_id_localpart(const char *user_id)
{
    if (user_id[0] != '@')
        return NULL;
    const char *colon = strchr(user_id, ':');
    if (!colon || colon == user_id + 1)
        return NULL;
    return balai_strndup(user_id + 1, (size_t)(colon - user_id - 1));
}

int balai_id_room_ok(const char *id)
{
    const char *colon = strchr(id, ':');
    return id[0] == '!' && colon && colon > id + 1 && colon[1] && strlen(id) <= BALAI_ID_MAX;
}
