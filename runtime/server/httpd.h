/*
 * httpd.h - a thin HTTP server over libmicrohttpd (no HTTP parsing here).
 *
 * One route callback sees every request once its body has been collected
 * (up to a named cap: past it the client gets 413 with a JSON error body
 * and the callback is not called). The 413 comes once the body has been
 * read and dropped: a client that sends the whole body before it reads an
 * answer (Node's fetch, which the npm OpenAI client uses) would often
 * lose an earlier one to the connection's reset. Only a Content-Length
 * more than RP_HTTPD_DRAIN_BYTES past the cap is answered at once, before
 * the body is read. The callback routes on the raw path, as sent: it
 * splits it at '/' and decodes each segment itself (rp_httpd_unescape),
 * so that "a%2Fb" is one segment "a/b" and "%2E%2E" a segment "..", never
 * a dot segment. A path trick - an empty ("//"), "." or ".." raw segment,
 * a raw '#', a '%' without two hex digits after it, or %00 - gets 400
 * {"error":"invalid path"} without reaching the callback. An optional
 * second callback may reshape these two answers for the routes whose
 * clients read errors in another shape. Header bytes are capped by
 * libmicrohttpd (431 past its per-connection memory
 * limit, 32 KiB by default). The server runs one thread per
 * connection (MHD_USE_THREAD_PER_CONNECTION with poll()), so a callback may
 * block - a long poll waiting on a condition variable - without holding up
 * any other connection; keep-alive connections stay on their thread.
 * Callbacks therefore run concurrently on many threads. Connection threads
 * run SCHED_BATCH: a thread that wakes one (a job's end) is not preempted
 * by it on a busy core.
 *
 * Relies on libmicrohttpd (>= 0.9.75) and buf.h.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include <stddef.h>

#include "base/buf.h"

#define RP_HTTPD_MAX_BODY (32u << 20)      /* default request body cap */
#define RP_HTTPD_DRAIN_BYTES (64u << 20)   /* read past the cap before 413 */
#define RP_HTTPD_MAX_RESPONSE (256u << 20) /* response body cap */
#define RP_HTTPD_MAX_CONNECTIONS 2000      /* connections (= threads) */
#define RP_HTTPD_TIMEOUT_S 120             /* idle connection timeout */
#define RP_HTTPD_STACK_BYTES (512u << 10)  /* per-connection thread stack */

struct rp_httpd;
struct MHD_Connection;

/* What a callback gets. Everything is borrowed for the call. */
struct rp_httpd_request {
  struct MHD_Connection *conn;  /* for rp_httpd_header()/rp_httpd_arg() */
  const char *method;           /* "GET", "POST", ... */
  const char *path;             /* URL path as sent (not decoded), without
                                   the query; checked as above */
  const char *query;            /* raw query after '?' ("" when none) */
  const char *body;             /* NUL-terminated; "" when none */
  size_t body_len;
};

/* What a callback fills in. status 0 closes the connection without an
 * answer. body starts empty with cap RP_HTTPD_MAX_RESPONSE; the server
 * frees it. content_type is a static string (default application/json).
 * For fault tests: trickle_ms > 0 sends the body one byte every
 * trickle_ms (a slow peer; rp_httpd_stop cuts it short); cut > 0 announces
 * the whole body but closes the connection after its first cut bytes.
 * location, a static string, is sent as the Location header (redirects).
 * stream, when set, produces the body as it goes (server-sent events; the
 * buffer body is not sent): it is called on the connection's thread and
 * returns how many bytes it wrote into buf (up to max; it may block), 0 at
 * the end of the body, or -1 to cut the connection; stream_free(stream_ud)
 * runs once when the response is over or the client went away. */
struct rp_httpd_response {
  int status;
  struct rp_buf body;
  const char *content_type;
  const char *location;
  long trickle_ms;
  size_t cut;
  long (*stream)(void *ud, char *buf, size_t max);
  void (*stream_free)(void *ud);
  void *stream_ud;
};

typedef void (*rp_httpd_handler)(void *ud, const struct rp_httpd_request *req,
                                 struct rp_httpd_response *res);

struct rp_httpd_config {
  const char *host;        /* IPv4 address to bind, e.g. "127.0.0.1" */
  int port;                /* 0 = an ephemeral port */
  size_t max_body;         /* 0 = RP_HTTPD_MAX_BODY */
  unsigned timeout_s;      /* 0 = RP_HTTPD_TIMEOUT_S */
  unsigned max_conns;      /* 0 = RP_HTTPD_MAX_CONNECTIONS */
  rp_httpd_handler handler;
  /* When set, sees each request the server refuses itself (413, 400
   * "invalid path"; the body empty) with res holding that answer, and may
   * rewrite it in the shape of its route (NULL: the answer as it is). */
  rp_httpd_handler refused;
  void *ud;
};

/* Starts serving. Returns RP_OK and the server in *out (free with
 * rp_httpd_stop), RP_EINVAL for a bad host, or RP_EIO when the port cannot
 * be bound (message in err). */
int rp_httpd_start(const struct rp_httpd_config *cfg, struct rp_httpd **out,
                   char *err, size_t errlen);

/* The port actually bound. */
int rp_httpd_port(const struct rp_httpd *h);

/* Waits, at most max_ms, until no request is being answered: a callback
 * woken to answer (a job that just ended) gets its answer out before
 * rp_httpd_stop closes the connections. Accepts NULL. */
void rp_httpd_drain(struct rp_httpd *h, long max_ms);

/* Stops accepting, closes every connection, waits for the connection
 * threads (callbacks blocked in long polls must be woken first) and frees
 * the server. Accepts NULL. */
void rp_httpd_stop(struct rp_httpd *h);

/* A request header (case-insensitive name) or NULL. Borrowed for the
 * call. */
const char *rp_httpd_header(const struct rp_httpd_request *req,
                            const char *name);

/* A query argument (decoded) or NULL; "" for a key without a value. */
const char *rp_httpd_arg(const struct rp_httpd_request *req,
                         const char *name);

/* The raw (undecoded) value of query argument name: 1 with *value and
 * *len (not terminated) set, or 0 when there is none. For a list whose
 * items are decoded one by one ("job_id=a%2Cb,c" is "a,b" and "c"). */
int rp_httpd_raw_arg(const struct rp_httpd_request *req, const char *name,
                     const char **value, size_t *len);

/* Decodes s[0..n) in place: %XX escapes, and '+' as a space when plus
 * (a query value). Returns the decoded length (<= n); a '%' without two
 * hex digits stays as it is. */
size_t rp_httpd_unescape(char *s, size_t n, int plus);

/* Whether the client has closed its side of the connection (a blocked
 * callback looks before it waits on). */
int rp_httpd_client_gone(const struct rp_httpd_request *req);

/* Appends the query string rebuilt from the decoded arguments, "a=1&b"
 * (values as decoded, not re-encoded). Returns RP_OK or out's error. */
int rp_httpd_query(const struct rp_httpd_request *req, struct rp_buf *out);

#endif
