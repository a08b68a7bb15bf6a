/* sigv4.c - see sigv4.h. */
#include "net/sigv4.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/rp.h"

#define MAX_PART 4096

int rp_sigv4_escape(const char *s, int keep_slash, char *out, size_t outlen)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
                *p == '_' || *p == '~' || (keep_slash && *p == '/');
    if (n + (plain ? 1 : 3) >= outlen)
      return RP_ETOOBIG;
    if (plain) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  out[n] = '\0';
  return RP_OK;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * n] = '\0';
}

void rp_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
  unsigned char md[32];
  SHA256(data, len, md);
  to_hex(md, 32, out);
}

static void hmac(const unsigned char *key, size_t keylen, const char *msg,
                 unsigned char out[32])
{
  unsigned char md[32];
  unsigned int len = sizeof(md);
  /* md, then out: key and out may be the same bytes */
  HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
       strlen(msg), md, &len);
  memcpy(out, md, sizeof(md));
}

/* Appends printf output to out; returns RP_ETOOBIG when it does not fit. */
__attribute__((format(printf, 3, 4)))
static int add(char *out, size_t outlen, const char *fmt, ...)
{
  size_t n = strlen(out);
  va_list ap;
  int w;
  va_start(ap, fmt);
  w = vsnprintf(out + n, outlen - n, fmt, ap);
  va_end(ap);
  return (w < 0 || (size_t)w >= outlen - n) ? RP_ETOOBIG : RP_OK;
}

int rp_sigv4_presign(const struct rp_sigv4_request *r, char *out,
                     size_t outlen, char *err, size_t errlen)
{
  char base[MAX_PART] = "";       /* scheme://host[:port] */
  char host[512];
  char uri[MAX_PART] = "";        /* canonical URI */
  char query[MAX_PART] = "";      /* canonical query string */
  char scope[256];
  char stamp[17];
  char date[9];
  char canonical[3 * MAX_PART];
  char to_sign[1024];
  char hash_hex[65];
  char sig_hex[65];
  char secret[512];
  unsigned char hash[32];
  unsigned char k[32];
  const char *hp;
  const char *path;
  struct tm tm;
  size_t hostlen;
  int rc = RP_OK;
  if (r->expires < 1 || r->expires > 604800)
    return rp_fail(RP_EINVAL, err, errlen,
                   "invalid expiry %ld (must be 1 to 604800 seconds)",
                   r->expires);
  hp = strstr(r->endpoint, "://");
  if (!hp || hp[3] == '\0')
    return rp_fail(RP_EINVAL, err, errlen, "invalid endpoint URL '%s'",
                   r->endpoint);
  hp += 3;
  path = hp + strcspn(hp, "/?#");
  hostlen = (size_t)(path - hp);
  if (hostlen == 0 || hostlen >= sizeof(host) || *path == '?' ||
      *path == '#' || strlen(r->endpoint) >= sizeof(base))
    return rp_fail(RP_EINVAL, err, errlen, "invalid endpoint URL '%s'",
                   r->endpoint);
  memcpy(host, hp, hostlen);
  host[hostlen] = '\0';
  memcpy(base, r->endpoint, (size_t)(path - r->endpoint));
  base[path - r->endpoint] = '\0';
  /* The endpoint's own path (no trailing '/'), then /bucket/key. */
  snprintf(uri, sizeof(uri), "%s", path);
  while (uri[0] && uri[strlen(uri) - 1] == '/')
    uri[strlen(uri) - 1] = '\0';
  if (r->bucket[0]) {
    rc = add(uri, sizeof(uri), "/");
    if (rc == RP_OK)
      rc = rp_sigv4_escape(r->bucket, 0, uri, sizeof(uri));
  }
  if (rc == RP_OK)
    rc = add(uri, sizeof(uri), "/");
  if (rc == RP_OK)
    rc = rp_sigv4_escape(r->key, 1, uri, sizeof(uri));
  if (rc != RP_OK || strlen(r->secret_key) + 5 > sizeof(secret))
    return rp_fail(RP_ETOOBIG, err, errlen, "object key too long");
  gmtime_r(&r->now, &tm);
  strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
  strftime(date, sizeof(date), "%Y%m%d", &tm);
  snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", date, r->region);
  /* The query parameters in byte order of their names. */
  rc = add(query, sizeof(query), "X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=");
  if (rc == RP_OK)
    rc = rp_sigv4_escape(r->access_key, 0, query, sizeof(query));
  if (rc == RP_OK)
    rc = add(query, sizeof(query), "%%2F");
  if (rc == RP_OK)
    rc = rp_sigv4_escape(scope, 0, query, sizeof(query));
  if (rc == RP_OK)
    rc = add(query, sizeof(query),
             "&X-Amz-Date=%s&X-Amz-Expires=%ld&X-Amz-SignedHeaders=host",
             stamp, r->expires);
  if (rc != RP_OK)
    return rp_fail(RP_ETOOBIG, err, errlen, "access key too long");
  snprintf(canonical, sizeof(canonical),
           "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", r->method, uri,
           query, host);
  SHA256((const unsigned char *)canonical, strlen(canonical), hash);
  to_hex(hash, 32, hash_hex);
  snprintf(to_sign, sizeof(to_sign), "AWS4-HMAC-SHA256\n%s\n%s\n%s", stamp,
           scope, hash_hex);
  snprintf(secret, sizeof(secret), "AWS4%s", r->secret_key);
  hmac((const unsigned char *)secret, strlen(secret), date, k);
  hmac(k, 32, r->region, k);
  hmac(k, 32, "s3", k);
  hmac(k, 32, "aws4_request", k);
  hmac(k, 32, to_sign, hash);
  to_hex(hash, 32, sig_hex);
  OPENSSL_cleanse(secret, sizeof(secret));
  OPENSSL_cleanse(k, sizeof(k));
  if (outlen == 0)
    return rp_fail(RP_ETOOBIG, err, errlen, "presigned URL too long");
  out[0] = '\0';
  if (add(out, outlen, "%s%s?%s&X-Amz-Signature=%s", base, uri, query,
          sig_hex) != RP_OK)
    return rp_fail(RP_ETOOBIG, err, errlen, "presigned URL too long");
  return RP_OK;
}
