/*
 * req.h - HTTP requests to the job server with libcurl, and the one
 * retry/backoff policy of the runtime.
 *
 * A struct rp_req is one request on an easy handle: the headers RunPod
 * expects on every request (Authorization with the raw key, Content-Type,
 * a User-Agent naming the runtime), an optional body, a timeout and a
 * capped response buffer. Callers add req->easy to their own multi handle
 * (or run it with curl_easy_perform) and read status and body when done.
 * Connections are reused by the multi handle's pool.
 */
#ifndef RP_REQ_H
#define RP_REQ_H

#include <curl/curl.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/rp.h"

/* The largest job-server answer read (a job-take body, a stop list). */
#define RP_MAX_RESPONSE_BYTES ((size_t)256 * 1024 * 1024)

struct rp_req {
  CURL *easy;
  struct curl_slist *headers;
  char *url;
  char *body;           /* request body, owned */
  size_t body_len;
  struct rp_buf resp;   /* response body, capped */
  long status;          /* HTTP status once done, 0 before */
  CURLcode result;      /* transport result once done */
  char error[CURL_ERROR_SIZE];
  int kind;             /* the caller's tag */
  void *ctx;            /* the caller's data */
};

enum rp_content { RP_CONTENT_JSON, RP_CONTENT_FORM };

/* The most redirects a request follows (aiohttp's default). */
#define RP_REQ_MAX_REDIRECTS 10L

/* Makes a request. method "GET" or "POST"; body may be NULL (it is copied
 * when given); request_id adds an X-Request-ID header when not NULL (its
 * control characters sent as %XX).
 * content chooses the Content-Type: application/json, or the
 * x-www-form-urlencoded (with a charset header) the Python SDK sends its
 * results with. Returns NULL when memory runs out. Free with
 * rp_req_free(). */
struct rp_req *rp_req_new(const char *method, const char *url,
                          const char *body, size_t body_len,
                          const char *api_key, enum rp_content content,
                          const char *request_id, long timeout_ms);

/* Reads status and error after curl finished with 'result'. */
void rp_req_finish(struct rp_req *r, CURLcode result);

/* "HTTP 503", "timed out after 2000 ms" and the like, for log lines. */
const char *rp_req_describe(struct rp_req *r, char *buf, size_t len);

void rp_req_free(struct rp_req *r);

/* Exponential backoff with jitter: base, doubled per failure, capped. */
struct rp_backoff {
  double base;          /* seconds before the first retry */
  double cap;           /* the most it waits */
  int failures;
};

/* Seconds to wait before the next attempt; counts a failure. */
double rp_backoff_next(struct rp_backoff *b);
void rp_backoff_reset(struct rp_backoff *b);

/* The User-Agent the program sets, naming the Lua release it embeds,
 * e.g. RP_NET_USER_AGENT(LUA_RELEASE) (base/rp.h names the runtime). */
#define RP_NET_USER_AGENT(lua_release) \
  RP_NAME "/" RP_VERSION " (runpod-worker; " lua_release ")"

/* Sets the User-Agent of every request; ua is borrowed for the life of
 * the program (a literal). Call before any thread makes a request. */
void rp_net_set_user_agent(const char *ua);

/* The User-Agent of every request: the one set, else the runtime's name
 * and version. */
const char *rp_net_user_agent(void);

#endif
