/*
 * s3part.h - one part of an S3 multipart upload (runpod.upload): a byte
 * range of a file, read into a buffer of its own, hashed for
 * x-amz-content-sha256 and PUT with libcurl's SigV4, all on a thread of
 * its own, so the job's coroutine can run several parts at once and poll
 * them. Memory: the part's length, once, per part in flight.
 */
#ifndef RP_S3PART_H
#define RP_S3PART_H

#include <stddef.h>

#include "net/http.h"

#define RP_S3PART_MAX ((size_t)5 << 30)   /* S3's largest part, 5 GiB */

struct rp_s3part;

struct rp_s3part_opts {
  const char *url;           /* ...?partNumber=N&uploadId=ID */
  const char *path;          /* the file */
  long long offset;          /* where the part starts in it */
  size_t len;                /* its length, <= RP_S3PART_MAX */
  const char *provider;      /* "aws:amz:<region>:s3" */
  const char *userpwd;       /* "<access key id>:<secret>" */
  long stall_s;              /* fail below 1 byte/s for this long; 0 = no */
  long timeout_ms;           /* the whole PUT, 0 = none */
};

/* Starts the part (every string is copied). Returns RP_OK and *out (free
 * with rp_s3part_free), or RP_ENOMEM / RP_EINVAL / RP_EIO. */
int rp_s3part_start(struct rp_s3part **out, const struct rp_s3part_opts *o,
                    char *err, size_t errlen);

/* 1 once the part's thread has ended. */
int rp_s3part_finished(struct rp_s3part *p);

/* After rp_s3part_finished: RP_OK with the response (status, headers and
 * body in *h, borrowed from p), or RP_EIO with a message when the file
 * could not be read or the request not made at all. */
int rp_s3part_result(struct rp_s3part *p, struct rp_http **h, char *err,
                     size_t errlen);

/* Stops a running part (within about a second) and frees p. Accepts
 * NULL. */
void rp_s3part_free(struct rp_s3part *p);

#endif
