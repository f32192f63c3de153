/* fuzz_csv.c: arbitrary bytes through the CSV reader (util/csv.h), the
 * parser of `balai directory import` files. Checks that every record it
 * returns is well formed and that it always ends. */
#include "balai.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct balai_csv r;
    char **f, err[200];
    size_t n, line, last = 0, records = 0;
    int rc;

    balai_csv_init(&r, (const char *)data, size);
    while ((rc = balai_csv_next(&r, &f, &n, &line, err, sizeof(err))) == 1) {
        if (n == 0 || n > BALAI_CSV_MAX_FIELDS || line <= last || records++ > size)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (strlen(f[i]) > BALAI_CSV_MAX_FIELD)
                abort();
        }
        last = line;
    }
    if (rc != 0 && rc != BALAI_EINVAL)
        abort();
    if (balai_csv_next(&r, &f, &n, &line, err, sizeof(err)) != 0)
        abort();
    balai_csv_release(&r);
    return 0;
}
