/* csv.c: the RFC 4180 reader (see csv.h). One pass over the input, one
 * state machine per record; field bytes go to one buffer, NUL-separated. */
#include "balai.h"

#include <stdio.h>
#include <string.h>

#include "util/csv.h"

void balai_csv_init(struct balai_csv *r, const char *data, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->p = data;
    r->end = data + len;
    r->line = 1;
    balai_buf_init(&r->text, 0);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
}

void balai_csv_release(struct balai_csv *r)
{
    if (!r)
        return;
    balai_buf_release(&r->text);
}

/* Consumes one line break at r->p (CRLF, LF or CR); 1 if there was one. */
static int eat_eol(struct balai_csv *r)
{
    if (r->p < r->end && *r->p == '\r') {
        r->p++;
        if (r->p < r->end && *r->p == '\n')
            r->p++;
        r->line++;
        return 1;
    }
    if (r->p < r->end && *r->p == '\n') {
        r->p++;
        r->line++;
        return 1;
    }
    return 0;
}

static int fail(struct balai_csv *r, size_t line, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "line %zu: %s", line, what);
    r->err_line = line;
    r->p = r->end;
    return BALAI_EINVAL;
}

int balai_csv_next(struct balai_csv *r, char ***fields, size_t *n, size_t *line, char *err,
                   size_t errlen)
{
    size_t nf = 0, start_len;

    /* skip empty lines */
    while (r->p < r->end && eat_eol(r))
        ;
    if (r->p >= r->end)
        return 0;
    *line = r->line;
    balai_buf_reset(&r->text);
    for (;;) {
        /* one field */
        if (nf == BALAI_CSV_MAX_FIELDS)
            return fail(r, r->line, err, errlen, "too many fields");
        start_len = r->text.len;
        r->offs[nf] = start_len;
        if (r->p < r->end && *r->p == '"') {
            size_t qline = r->line;
            r->p++;
            for (;;) {
                if (r->p >= r->end)
                    return fail(r, qline, err, errlen, "a quoted field is not closed");
                char c = *r->p;
                if (c == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        balai_buf_append_char(&r->text, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (c == '\0')
                    return fail(r, r->line, err, errlen, "a NUL byte");
                if (c == '\r' || c == '\n') {
                    /* a line break inside quotes is data; count it */
                    if (c == '\r' && r->p + 1 < r->end && r->p[1] == '\n') {
                        balai_buf_append(&r->text, "\r\n", 2);
                        r->p += 2;
                    } else {
                        balai_buf_append_char(&r->text, c);
                        r->p++;
                    }
                    r->line++;
                } else {
                    balai_buf_append_char(&r->text, c);
                    r->p++;
                }
                if (r->text.len - start_len > BALAI_CSV_MAX_FIELD)
                    return fail(r, qline, err, errlen, "a field is too long");
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\r' && *r->p != '\n')
                return fail(r, r->line, err, errlen,
                            "after a closing quote only a comma or the end of the line may follow");
        } else {
            while (r->p < r->end && *r->p != ',' && *r->p != '\r' && *r->p != '\n') {
                if (*r->p == '"')
                    return fail(r, r->line, err, errlen,
                                "a quote inside an unquoted field (quote the whole field and "
                                "double the quote)");
                if (*r->p == '\0')
                    return fail(r, r->line, err, errlen, "a NUL byte");
                balai_buf_append_char(&r->text, *r->p);
                r->p++;
                if (r->text.len - start_len > BALAI_CSV_MAX_FIELD)
                    return fail(r, r->line, err, errlen, "a field is too long");
            }
        }
        balai_buf_append_char(&r->text, '\0');
        nf++;
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        eat_eol(r);
        break;
    }
    for (size_t i = 0; i < nf; i++)
        r->fields[i] = r->text.data + r->offs[i];
    *fields = r->fields;
    *n = nf;
    return 1;
}
