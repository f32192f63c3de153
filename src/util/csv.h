/* csv.h: a reader for comma-separated values (RFC 4180).
 *
 * Records end at LF, CRLF or a lone CR. A field may be quoted with '"':
 * inside quotes, commas and line breaks are data and '""' is one quote.
 * A UTF-8 byte-order mark at the very start is skipped, and so are empty
 * lines. Refused (BALAI_EINVAL with a reason naming the line): a quote inside
 * an unquoted field, anything but a comma or the end of the record after a
 * closing quote, a quote left open at the end, a NUL byte, and more than
 * BALAI_CSV_MAX_FIELDS fields or a field longer than BALAI_CSV_MAX_FIELD
 * bytes. Pure: no I/O, no globals. */
#ifndef BALAI_UTIL_CSV_H
#define BALAI_UTIL_CSV_H

#include <stddef.h>

#include "util/buf.h"

#define BALAI_CSV_MAX_FIELDS 64
#define BALAI_CSV_MAX_FIELD 4096

struct balai_csv {
    const char *p, *end; /* unread input (borrowed from the caller) */
    size_t line;         /* the physical line `p` is on, from 1 */
    size_t err_line;     /* after an error: the line it is reported on */
    struct balai_buf text; /* the fields of the current record, NUL-separated */
    size_t offs[BALAI_CSV_MAX_FIELDS];
    char *fields[BALAI_CSV_MAX_FIELDS];
};

/* Starts reading `len` bytes of `data`, which must stay valid and unchanged
 * while the reader is used. */
void balai_csv_init(struct balai_csv *r, const char *data, size_t len);
/* Frees the reader's buffers (not the input). NULL-safe. */
void balai_csv_release(struct balai_csv *r);

/* Reads the next record. Returns 1 with the fields in *fields (borrowed
 * until the next call; NUL-terminated strings), their count in *n and the
 * line the record starts on in *line; 0 at the end of the input; or
 * BALAI_EINVAL with a reason ("line 7: ...") in err and the line in
 * r->err_line. After an error the reader stays at the end (further calls
 * return 0). */
int balai_csv_next(struct balai_csv *r, char ***fields, size_t *n, size_t *line, char *err,
                   size_t errlen);

#endif
