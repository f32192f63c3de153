/* err.c: texts for enum balai_err. */
#include "balai.h"

const char *balai_strerror(int rc)
{
    switch (rc) {
    case BALAI_OK:
        return "success";
    case BALAI_ENOMEM:
        return "out of memory";
    case BALAI_EINVAL:
        return "invalid input";
    case BALAI_ENOTFOUND:
        return "not found";
    case BALAI_EEXIST:
        return "already exists";
    case BALAI_EFORBIDDEN:
        return "forbidden";
    case BALAI_ETOOBIG:
        return "too large";
    case BALAI_EIO:
        return "input/output error";
    case BALAI_ESTORE:
        return "database error";
    case BALAI_EBUSY:
        return "busy";
    case BALAI_ECRYPTO:
        return "cryptographic check failed";
    case BALAI_EAUTH:
        return "invalid credentials";
    case BALAI_ELIMIT:
        return "rate limited";
    case BALAI_ECLOSED:
        return "closed";
    case BALAI_ECONFIG:
        return "invalid configuration";
    case BALAI_ETIMEOUT:
        return "timed out";
    case BALAI_ESTATE:
        return "invalid state";
    default:
        return "unknown error";
    }
}
