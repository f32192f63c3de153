/* jsonw.c: JSON string escaping into a buffer. */
#include "balai.h"

#include <stdio.h>
#include <string.h>

#include "util/jsonw.h"

int balai_jsonw_str(struct balai_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = balai_buf_append_char(b, '"');
    const char *run = s;
    for (const char *p = s; rc == BALAI_OK && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = balai_buf_append(b, run, (size_t)(p - run));
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (rc == BALAI_OK)
            rc = balai_buf_append(b, esc, n);
        run = p + 1;
    }
    if (rc == BALAI_OK)
        rc = balai_buf_append_str(b, run);
    if (rc == BALAI_OK)
        rc = balai_buf_append_char(b, '"');
    return rc;
}

int balai_jsonw_key(struct balai_buf *b, const char *key)
{
    int rc = balai_jsonw_str(b, key);
    if (rc == BALAI_OK)
        rc = balai_buf_append_char(b, ':');
    return rc;
}
