/* password.c: the minimum password policy. */
#include "balai.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/password.h"

int balai_password_check(const char *pw, const char *user_id, int64_t min_len, char *err,
                         size_t errlen)
{
    size_t n = strlen(pw);
    if ((int64_t)n < min_len) {
        snprintf(err, errlen, "Password must be at least %lld characters", (long long)min_len);
        return BALAI_EINVAL;
    }
    if (n > 512) {
        snprintf(err, errlen, "Password must be at most 512 characters");
        return BALAI_EINVAL;
    }
    size_t i = 1;
    while (i < n && pw[i] == pw[0])
        i++;
    if (i == n) {
        snprintf(err, errlen, "Password must not repeat one character");
        return BALAI_EINVAL;
    }
    if (user_id && user_id[0] == '@') {
        const char *colon = strchr(user_id, ':');
        size_t lpn = colon ? (size_t)(colon - user_id - 1) : 0;
        if (lpn == n && strncasecmp(user_id + 1, pw, n) == 0) {
            snprintf(err, errlen, "Password must not be the user name");
            return BALAI_EINVAL;
        }
    }
    return BALAI_OK;
}
