/* password.h: the minimum password policy, one rule set for the API and the CLI. */
#ifndef BALAI_CORE_PASSWORD_H
#define BALAI_CORE_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

/* BALAI_OK, or BALAI_EINVAL with a plain-language reason in err: shorter than
 * min_len, longer than 512 bytes, one repeated character, or the user's own
 * localpart (user_id may be NULL). */
int balai_password_check(const char *pw, const char *user_id, int64_t min_len, char *err,
                         size_t errlen);

#endif
