/* ini.h: a small INI parser ("[section]", "key = value", '#' or ';' comments).
 *
 * Calls `fn` for every key in file order. Section and key names are
 * [A-Za-z0-9_.-]; values are trimmed, and may be double-quoted to keep
 * leading or trailing spaces. A syntax error stops parsing with BALAI_EINVAL
 * and a message naming the line in err. */
#ifndef BALAI_UTIL_INI_H
#define BALAI_UTIL_INI_H

#include <stddef.h>

typedef int (*balai_ini_fn)(const char *section, const char *key, const char *value, int line,
                            void *arg);

/* Parses text of `len` bytes. A non-zero return from fn stops parsing and is returned. */
int balai_ini_parse(const char *text, size_t len, balai_ini_fn fn, void *arg, char *err,
                    size_t errlen);
/* Reads and parses a file. BALAI_EIO (with err) when it cannot be read. */
int balai_ini_parse_file(const char *path, balai_ini_fn fn, void *arg, char *err, size_t errlen);

#endif
