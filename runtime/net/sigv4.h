/*
 * sigv4.h - presigned S3 URLs: AWS Signature Version 4 in the query
 * string (HMAC-SHA256 from OpenSSL's libcrypto), for runpod.upload's GET
 * links. The upload itself is signed by libcurl (CURLOPT_AWS_SIGV4).
 *
 * Path-style URLs: <endpoint>/<bucket>/<key>, the form every
 * S3-compatible store (and AWS) accepts; the host signed is the
 * endpoint's host[:port] exactly as written.
 */
#ifndef RP_SIGV4_H
#define RP_SIGV4_H

#include <stddef.h>
#include <time.h>

struct rp_sigv4_request {
  const char *method;        /* "GET" */
  const char *endpoint;      /* "https://host[:port][/path]" */
  const char *bucket;        /* "" to sign endpoint/key (virtual host) */
  const char *key;           /* object key; '/' kept, the rest escaped */
  const char *region;        /* "us-east-1" */
  const char *access_key;
  const char *secret_key;
  long expires;              /* seconds, 1 .. 604800 */
  time_t now;                /* signing time (UTC) */
};

/* Writes the presigned URL to out. Returns RP_OK, RP_EINVAL for a bad
 * endpoint or expiry, RP_ETOOBIG when out is too small. */
int rp_sigv4_presign(const struct rp_sigv4_request *r, char *out,
                     size_t outlen, char *err, size_t errlen);

/* The SHA-256 of data[0..len) as 64 lower-case hex digits and a NUL
 * (the x-amz-content-sha256 header of a signed upload). */
void rp_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Appends the S3 URI-encoding of s (keep_slash: '/' unescaped) to out,
 * NUL-terminated. Returns RP_OK or RP_ETOOBIG. */
int rp_sigv4_escape(const char *s, int keep_slash, char *out, size_t outlen);

#endif
