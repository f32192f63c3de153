/* balai.h: the first include of every .c file in Balai.
 *
 * Feature macros, the version, and the error codes every module returns.
 * Functions return 0 (BALAI_OK) or a negative enum balai_err; Matrix
 * errcodes and HTTP statuses are chosen only at the HTTP edge (api/). */
#ifndef BALAI_H
#define BALAI_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BALAI_VERSION "0.1.0"

enum balai_err {
    BALAI_OK = 0,
    BALAI_ENOMEM = -1,    /* allocation failed */
    BALAI_EINVAL = -2,    /* bad input from outside (malformed, wrong type) */
    BALAI_ENOTFOUND = -3, /* no such thing */
    BALAI_EEXIST = -4,    /* already exists */
    BALAI_EFORBIDDEN = -5,
    BALAI_ETOOBIG = -6,  /* over a size limit */
    BALAI_EIO = -7,      /* file or socket error */
    BALAI_ESTORE = -8,   /* database error */
    BALAI_EBUSY = -9,    /* queue full, try later */
    BALAI_ECRYPTO = -10, /* decryption/authentication failed */
    BALAI_EAUTH = -11,   /* wrong credentials */
    BALAI_ELIMIT = -12,  /* rate limited */
    BALAI_ECLOSED = -13, /* peer or component went away */
    BALAI_ECONFIG = -14, /* configuration invalid */
    BALAI_ETIMEOUT = -15,
    BALAI_ESTATE = -16, /* operation not valid in the current state */
};

/* Returns a static, human-readable text for an error code. */
const char *balai_strerror(int rc);

#define BALAI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define BALAI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BALAI_UNUSED __attribute__((unused))
#define BALAI_NODISCARD __attribute__((warn_unused_result))
#else
#define BALAI_PRINTF(f, a)
#define BALAI_UNUSED
#define BALAI_NODISCARD
#endif

#endif
