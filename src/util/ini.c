/* ini.c: a small INI parser. */
#include "balai.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/ini.h"

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return 0;
    }
    return 1;
}

static void trim(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

int balai_ini_parse(const char *text, size_t len, balai_ini_fn fn, void *arg, char *err,
                    size_t errlen)
{
    char section[65] = "";
    char key[65];
    char *value = NULL;
    size_t pos = 0;
    int line = 0;
    int rc = BALAI_OK;

    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        const char *p = start;
        trim(&p, &n);
        if (n == 0 || *p == '#' || *p == ';')
            continue;
        if (memchr(p, '\0', n)) {
            snprintf(err, errlen, "line %d: NUL byte", line);
            rc = BALAI_EINVAL;
            goto out;
        }
        if (*p == '[') {
            if (p[n - 1] != ']') {
                snprintf(err, errlen, "line %d: section header must end with ']'", line);
                rc = BALAI_EINVAL;
                goto out;
            }
            const char *s = p + 1;
            size_t sn = n - 2;
            trim(&s, &sn);
            if (!name_ok(s, sn)) {
                snprintf(err, errlen, "line %d: invalid section name", line);
                rc = BALAI_EINVAL;
                goto out;
            }
            memcpy(section, s, sn);
            section[sn] = '\0';
            continue;
        }
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(err, errlen, "line %d: expected 'key = value'", line);
            rc = BALAI_EINVAL;
            goto out;
        }
        const char *k = p;
        size_t kn = (size_t)(eq - p);
        trim(&k, &kn);
        if (!name_ok(k, kn)) {
            snprintf(err, errlen, "line %d: invalid key name", line);
            rc = BALAI_EINVAL;
            goto out;
        }
        memcpy(key, k, kn);
        key[kn] = '\0';
        const char *v = eq + 1;
        size_t vn = n - (size_t)(eq + 1 - p);
        trim(&v, &vn);
        if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
            v++;
            vn -= 2;
        }
        value = balai_strndup(v, vn);
        rc = fn(section, key, value, line, arg);
        BALAI_FREE(value);
        if (rc != 0)
            goto out;
    }
out:
    free(value);
    return rc;
}

int balai_ini_parse_file(const char *path, balai_ini_fn fn, void *arg, char *err, size_t errlen)
{
    struct balai_buf b;
    char chunk[4096];
    size_t n;
    int rc;
    FILE *f = fopen(path, "r");

    balai_buf_init(&b, 1 << 20);
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return BALAI_EIO;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = balai_buf_append(&b, chunk, n);
        if (rc != BALAI_OK) {
            snprintf(err, errlen, "%s is larger than 1 MiB", path);
            goto out;
        }
    }
    rc = balai_ini_parse(b.data ? b.data : "", b.len, fn, arg, err, errlen);
out:
    fclose(f);
    balai_buf_release(&b);
    return rc;
}
