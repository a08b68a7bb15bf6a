/*
 * http.h - one outgoing HTTP request of a handler (runpod.http), on a
 * libcurl easy handle.
 *
 * The request runs either on its own (rp_http_step drives a private multi
 * handle: plain lua5.4, or code that cannot yield) or on an executor's
 * multi handle, where many requests of many jobs wait at once while the
 * executor's thread runs other jobs. The response body is collected into
 * a capped buffer; with 'streaming' set the consumer takes it piece by
 * piece as it arrives (rp_http_take).
 */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "base/buf.h"
#include "net/netguard.h"

#define RP_HTTP_MAX_BODY ((size_t)1 << 30)   /* largest response body */
#define RP_HTTP_MAX_HEADERS ((size_t)1 << 20) /* response header bytes */

struct rp_http {
  CURL *easy;
  CURLM *multi;            /* the multi it is attached to, or NULL */
  CURLM *own;              /* private multi for standalone use */
  struct curl_slist *headers;
  char *url;
  char *body;
  size_t body_len;
  struct rp_buf resp;      /* body bytes not yet taken */
  struct rp_buf head;      /* header lines of the final response */
  long status;             /* known once the headers are in */
  int headers_done;
  int done;                /* the transfer ended (see result) */
  int streaming;
  CURLcode result;
  char error[CURL_ERROR_SIZE];
  /* Set by rp_http_sink: the body goes to fd instead of resp. */
  int fd;                  /* -1: collect into resp */
  curl_off_t max_bytes;    /* most body bytes written to fd */
  curl_off_t written;
  int sink_errno;          /* write(2) failed with this */
  int too_big;             /* the body passed max_bytes */
  int bad_status;          /* the final status is not 2xx */
  /* Set by rp_http_guard: connections only to addresses it allows. */
  struct rp_netguard *guard;
  int refused;             /* a connection was refused (refused_addr) */
  char refused_addr[64];
};

/* Prepares a request. headers are "Name: value" lines (copied); body may
 * be NULL (copied otherwise). timeout_ms 0 = none. Returns RP_OK and *out
 * (free with rp_http_free), or an RP_E* code with a message. */
int rp_http_new(struct rp_http **out, const char *method, const char *url,
                const char *const *headers, size_t nheaders,
                const char *body, size_t body_len, long timeout_ms,
                int streaming, char *err, size_t errlen);

/* Sends the body of a 2xx final response to the open file fd (not
 * owned) instead of memory, at most max_bytes of it; other statuses stop
 * the transfer with bad_status set. A write error stops it with
 * sink_errno, too many bytes with too_big. Returns RP_OK. */
int rp_http_sink(struct rp_http *h, int fd, curl_off_t max_bytes);

/* Restricts the request to connections g allows (copied), checked on the
 * address actually connected to, every redirect hop included; follows at
 * most max_redirects redirects, http and https only, no proxy.
 * connect_timeout_ms 0 = libcurl's default. Returns RP_OK or RP_ENOMEM. */
int rp_http_guard(struct rp_http *h, const struct rp_netguard *g,
                  long connect_timeout_ms, long max_redirects);

/* Signs the request with AWS Signature Version 4 (libcurl's
 * CURLOPT_AWS_SIGV4): provider is "aws:amz:<region>:<service>", userpwd
 * "<access key id>:<secret key>" (both copied). The URL's path is sent
 * and signed as it is, '.' and '..' segments included (an S3 key is
 * data). Returns RP_OK or RP_EINVAL when this libcurl cannot. */
int rp_http_sigv4(struct rp_http *h, const char *provider,
                  const char *userpwd);

/* Records the end of the transfer (from curl_multi_info_read). */
void rp_http_finish(struct rp_http *h, CURLcode result);

/* Standalone: runs the transfer on a private multi until something new
 * can be read (headers, for a streaming request body bytes, or the end).
 * Returns RP_OK, or RP_EIO when curl itself fails. */
int rp_http_step(struct rp_http *h);

/* Whether a waiting reader has something new: the headers (want_body 0)
 * or body bytes or the end (want_body 1; non-streaming: the end). */
int rp_http_ready(const struct rp_http *h, int want_body);

/* Moves the unread body bytes to the caller: *p is valid until the next
 * call on h; *len may be 0. */
void rp_http_take(struct rp_http *h, const char **p, size_t *len);

/* The transfer's error as text, or NULL when it succeeded. */
const char *rp_http_error(const struct rp_http *h);

/* Detaches from any multi and frees. Accepts NULL. */
void rp_http_free(struct rp_http *h);

#endif
