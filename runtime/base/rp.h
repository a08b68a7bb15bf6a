/*
 * rp.h - things every unit of the runtime shares: the version, the error
 * codes plain C units return, and a few size limits.
 *
 * Plain C units return RP_OK (0) or a negative RP_E* code and write details
 * into a caller buffer (char *err, size_t errlen). They never exit or abort.
 */
#ifndef RP_H
#define RP_H

#include <stddef.h>

#define RP_VERSION "0.1.0"
#define RP_NAME "runpod-lua"

enum {
  RP_OK = 0,
  RP_ENOMEM = -1,    /* out of memory */
  RP_ETOOBIG = -2,   /* a named size cap would be passed */
  RP_EINVAL = -3,    /* invalid argument or input */
  RP_EIO = -4,       /* operating-system I/O error */
  RP_EJSON = -5,     /* JSON that cannot be decoded or encoded */
  RP_ELUA = -6       /* a Lua error (message in err) */
};

/* Formats into err (when errlen > 0) like snprintf and returns rc, so that
 * an error path reads: return rp_fail(RP_EINVAL, err, n, "bad %s", x). */
int rp_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

#endif
