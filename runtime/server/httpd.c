/* httpd.c - see httpd.h. */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/rp.h"

struct rp_httpd {
  struct MHD_Daemon *d;
  int port;
  size_t max_body;
  rp_httpd_handler handler;
  rp_httpd_handler refused;
  void *ud;
  atomic_int stopping;     /* set by rp_httpd_stop: end trickles */
  atomic_int open;         /* requests begun and not yet completed */
};

/* Per-request state, from the URI callback (or the first call of
 * on_request) to on_completed. */
struct pending {
  struct rp_buf body;
  char *path;          /* the raw path, as sent (not decoded) */
  char *query;         /* the raw query after '?', "" when none */
  int too_big;
  int bad_path;        /* a path trick: answered 400 */
  int started;         /* on_request has seen the request */
};

static const char too_big_body[] =
  "{\"error\":\"request body too large\"}";
static const char bad_path_body[] =
  "{\"error\":\"invalid path\"}";

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Is the raw path a trick: not starting with '/', an empty segment
 * ("//"), a "." or ".." segment, a raw '#' (a fragment is never sent: the
 * client meant "%23"), a '%' not followed by two hex digits, or %00
 * (which would cut a decoded segment short)? A trailing "/" is
 * allowed. No route has such a segment, and answering 400 keeps one path
 * from having two spellings. Escaped dots ("%2E%2E") are data: a segment
 * is decoded only after the path is split (rp_httpd_unescape). */
static int bad_path(const char *url)
{
  const char *p = url;
  if (*p != '/' || strchr(p, '#'))
    return 1;
  while (*p == '/') {
    const char *seg = ++p;
    size_t n = strcspn(seg, "/");
    if ((n == 0 && seg[0] == '/') || (n == 1 && seg[0] == '.') ||
        (n == 2 && seg[0] == '.' && seg[1] == '.'))
      return 1;
    p = seg + n;
  }
  for (p = url; (p = strchr(p, '%')); p += 3)
    if (hexval(p[1]) < 0 || hexval(p[2]) < 0 || (p[1] == '0' && p[2] == '0'))
      return 1;
  return 0;
}

size_t rp_httpd_unescape(char *s, size_t n, int plus)
{
  size_t i;
  size_t o = 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
        hexval(s[i + 2]) >= 0) {
      s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      s[o++] = plus && s[i] == '+' ? ' ' : s[i];
    }
  }
  return o;
}

/* Sees the raw request target before libmicrohttpd decodes it; keeps a
 * copy of its path and query, which the callback routes on (a decoded
 * path would read "a%2Fb" as two segments and "%00" would cut it short).
 * Its result becomes the request's *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
  struct rp_httpd *h = cls;
  struct pending *p = calloc(1, sizeof(*p));
  size_t n = strcspn(uri, "?");
  (void)c;
  if (!p)
    return NULL;
  atomic_fetch_add(&h->open, 1);
  p->body.max = h->max_body;
  p->path = strndup(uri, n);
  p->query = strdup(uri[n] == '?' ? uri + n + 1 : "");
  return p;
}


/* A body sent one byte every ms (rp_httpd_response.trickle_ms) and/or
 * cut short after 'cut' bytes. */
struct trickle {
  struct rp_httpd *h;
  char *data;
  size_t len;
  long ms;
  size_t cut;           /* 0 = the whole body */
};

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct trickle *t = cls;
  struct timespec slice = { 0, 50 * 1000000L };
  long waited;
  size_t end = t->cut > 0 ? t->cut : t->len;
  size_t n;
  if (pos >= end)
    return t->cut > 0 ? MHD_CONTENT_READER_END_WITH_ERROR  /* mid-body */
                      : MHD_CONTENT_READER_END_OF_STREAM;
  n = end - (size_t)pos < max ? end - (size_t)pos : max;
  for (waited = 0; waited < t->ms; waited += 50) {
    if (atomic_load(&t->h->stopping))
      return MHD_CONTENT_READER_END_WITH_ERROR;
    nanosleep(&slice, NULL);
  }
  if (t->ms > 0)
    n = 1;
  memcpy(buf, t->data + pos, n);
  return (ssize_t)n;
}

static void trickle_free(void *cls)
{
  struct trickle *t = cls;
  free(t->data);
  free(t);
}

/* A body produced as it goes (rp_httpd_response.stream). */
struct stream {
  long (*fn)(void *ud, char *buf, size_t max);
  void (*done)(void *ud);
  void *ud;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct stream *st = cls;
  long n = st->fn(st->ud, buf, max);
  (void)pos;
  if (n < 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
  struct stream *st = cls;
  if (st->done)
    st->done(st->ud);
  free(st);
}

/* Sends what the callback produced; takes the body from res. */
static enum MHD_Result send_result(struct rp_httpd *h,
                                   struct MHD_Connection *c,
                                   struct rp_httpd_response *res)
{
  struct MHD_Response *r = NULL;
  enum MHD_Result ret;
  size_t len = 0;
  char *data;
  if (res->status == 0)
    return MHD_NO;                    /* drop the connection */
  data = rp_buf_steal(&res->body, &len);
  if (!data)
    return MHD_NO;
  if (res->stream) {
    struct stream *st = malloc(sizeof(*st));
    if (st) {
      *st = (struct stream){ res->stream, res->stream_free, res->stream_ud };
      r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                            stream_read, st, stream_free);
      if (!r)
        free(st);
    }
    if (!r && res->stream_free)
      res->stream_free(res->stream_ud);
    free(data);
    if (!r)
      return MHD_NO;
    len = 1;                          /* has a body: send its type */
  } else if ((res->trickle_ms > 0 || res->cut > 0) && len > 0) {
    struct trickle *t = malloc(sizeof(*t));
    if (t) {
      t->h = h;
      t->data = data;
      t->len = len;
      t->ms = res->trickle_ms;
      t->cut = res->cut < len ? res->cut : 0;
      r = MHD_create_response_from_callback(len, 4096, trickle_read, t,
                                            trickle_free);
      if (!r)
        free(t);
    }
  } else {
    r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
  }
  if (!r) {
    free(data);
    return MHD_NO;
  }
  if (len > 0 || res->status != 204)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            res->content_type ? res->content_type
                                              : "application/json");
  if (res->location)
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res->location);
  ret = MHD_queue_response(c, (unsigned)res->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Answers a request the server refuses itself (status and its JSON
 * body), as the refused callback reshapes it when there is one. */
static enum MHD_Result refuse(struct rp_httpd *h, struct MHD_Connection *c,
                              const struct pending *p, const char *method,
                              int status, const char *body)
{
  struct rp_httpd_request req;
  struct rp_httpd_response res;
  enum MHD_Result ret;
  memset(&req, 0, sizeof(req));
  memset(&res, 0, sizeof(res));
  req.conn = c;
  req.method = method;
  req.path = p->path;
  req.query = p->query;
  req.body = "";
  res.status = status;
  res.body = (struct rp_buf)RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  if (rp_buf_puts(&res.body, body) != RP_OK)
    return MHD_NO;
  if (h->refused)
    h->refused(h->ud, &req, &res);
  ret = send_result(h, c, &res);
  rp_buf_free(&res.body);
  return ret;
}

#ifndef SCHED_BATCH
#define SCHED_BATCH 3          /* Linux; <sched.h> names it under _GNU_SOURCE */
#endif

/* Marks the calling connection thread SCHED_BATCH, once. Such a thread
 * does not preempt the running one when woken: an executor that ends a
 * job and wakes the connection waiting for it goes on to its next job,
 * and the connections it woke answer together when it waits, instead of
 * one switch per answer on a busy core. On an idle core the woken thread
 * runs at once, as before. A failure changes nothing. */
static void batch_this_thread(void)
{
  static _Thread_local int done;
  struct sched_param sp = { 0 };
  if (done)
    return;
  done = 1;
  (void)sched_setscheduler(0, SCHED_BATCH, &sp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
  struct rp_httpd *h = cls;
  struct pending *p = *con_cls;
  struct rp_httpd_request req;
  struct rp_httpd_response res;
  enum MHD_Result ret;
  (void)version;
  (void)url;                          /* decoded: p->path is routed on */
  if (!p || !p->started) {
    const char *cl;
    batch_this_thread();
    if (!p)
      p = calloc(1, sizeof(*p));
    if (!p)
      return MHD_NO;
    p->body.max = h->max_body;
    p->started = 1;
    *con_cls = p;
    if (!p->path || !p->query)
      return MHD_NO;                  /* out of memory in on_uri */
    if (bad_path(p->path)) {
      /* Answer before reading any body; MHD then closes the connection. */
      p->bad_path = 1;
      return refuse(h, c, p, method, 400, bad_path_body);
    }
    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->max_body) {
      p->too_big = 1;               /* read, dropped, then answered 413 */
      /* Far past the cap: answer before reading the body; MHD then
       * closes the connection. */
      if (strtoull(cl, NULL, 10) - h->max_body > RP_HTTPD_DRAIN_BYTES)
        return refuse(h, c, p, method, 413, too_big_body);
    }
    return MHD_YES;
  }
  if (p->bad_path) {
    *upload_size = 0;                 /* already answered */
    return MHD_YES;
  }
  if (*upload_size > 0) {
    /* Past the cap the rest is read and dropped, then answered 413. */
    if (!p->too_big &&
        rp_buf_append(&p->body, upload_data, *upload_size) != RP_OK) {
      p->too_big = 1;
      rp_buf_free(&p->body);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (p->too_big)
    return refuse(h, c, p, method, 413, too_big_body);
  req.conn = c;
  req.method = method;
  req.path = p->path;
  req.query = p->query;
  req.body = p->body.data ? p->body.data : "";
  req.body_len = p->body.len;
  res.status = 500;
  res.content_type = NULL;
  res.location = NULL;
  res.trickle_ms = 0;
  res.cut = 0;
  res.stream = NULL;
  res.stream_free = NULL;
  res.stream_ud = NULL;
  res.body = (struct rp_buf)RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  h->handler(h->ud, &req, &res);
  ret = send_result(h, c, &res);
  rp_buf_free(&res.body);
  return ret;
}

int rp_httpd_raw_arg(const struct rp_httpd_request *req, const char *name,
                     const char **value, size_t *len)
{
  const char *p = req->query;
  size_t nl = strlen(name);
  while (*p) {
    size_t n = strcspn(p, "&");
    size_t k = strcspn(p, "=&");
    if (k == nl && memcmp(p, name, nl) == 0) {
      *value = p + (k < n ? k + 1 : k);
      *len = k < n ? n - k - 1 : 0;
      return 1;
    }
    p += n;
    if (*p == '&')
      p++;
  }
  return 0;
}

int rp_httpd_client_gone(const struct rp_httpd_request *req)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
    req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  char c;
  ssize_t n;
  if (!ci)
    return 0;
  n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct rp_httpd *h = cls;
  struct pending *p = *con_cls;
  (void)c;
  (void)toe;
  if (p) {
    atomic_fetch_sub(&h->open, 1);
    rp_buf_free(&p->body);
    free(p->path);
    free(p->query);
    free(p);
  }
  *con_cls = NULL;
}

int rp_httpd_start(const struct rp_httpd_config *cfg, struct rp_httpd **out,
                   char *err, size_t errlen)
{
  struct rp_httpd *h;
  struct sockaddr_in sa;
  const union MHD_DaemonInfo *info;
  *out = NULL;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)cfg->port);
  if (cfg->port < 0 || cfg->port > 65535)
    return rp_fail(RP_EINVAL, err, errlen, "invalid port %d", cfg->port);
  if (inet_pton(AF_INET, cfg->host, &sa.sin_addr) != 1)
    return rp_fail(RP_EINVAL, err, errlen,
                   "invalid host '%s' (an IPv4 address)", cfg->host);
  h = calloc(1, sizeof(*h));
  if (!h)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  h->max_body = cfg->max_body ? cfg->max_body : RP_HTTPD_MAX_BODY;
  h->handler = cfg->handler;
  h->refused = cfg->refused;
  h->ud = cfg->ud;
  h->d = MHD_start_daemon(
    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
      MHD_USE_POLL,
    (uint16_t)cfg->port, NULL, NULL, on_request, h,
    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
    MHD_OPTION_CONNECTION_TIMEOUT,
    (unsigned)(cfg->timeout_s ? cfg->timeout_s : RP_HTTPD_TIMEOUT_S),
    MHD_OPTION_CONNECTION_LIMIT,
    (unsigned)(cfg->max_conns ? cfg->max_conns : RP_HTTPD_MAX_CONNECTIONS),
    MHD_OPTION_THREAD_STACK_SIZE, (size_t)RP_HTTPD_STACK_BYTES,
    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
    MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
    MHD_OPTION_END);
  if (!h->d) {
    free(h);
    return rp_fail(RP_EIO, err, errlen, "cannot listen on %s:%d",
                   cfg->host, cfg->port);
  }
  info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? (int)info->port : cfg->port;
  *out = h;
  return RP_OK;
}

int rp_httpd_port(const struct rp_httpd *h)
{
  return h->port;
}

void rp_httpd_drain(struct rp_httpd *h, long max_ms)
{
  struct timespec step = { 0, 5 * 1000 * 1000 };
  double until = rp_clock_now() + (double)max_ms / 1000.0;
  while (h && atomic_load(&h->open) > 0 && rp_clock_now() < until)
    nanosleep(&step, NULL);
}

void rp_httpd_stop(struct rp_httpd *h)
{
  if (!h)
    return;
  atomic_store(&h->stopping, 1);
  MHD_stop_daemon(h->d);
  free(h);
}

const char *rp_httpd_header(const struct rp_httpd_request *req,
                            const char *name)
{
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *rp_httpd_arg(const struct rp_httpd_request *req,
                         const char *name)
{
  const char *v = MHD_lookup_connection_value(req->conn,
                                              MHD_GET_ARGUMENT_KIND, name);
  if (!v && MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND,
                                          name, strlen(name), NULL,
                                          NULL) == MHD_YES)
    return "";
  return v;
}

struct query_ctx {
  struct rp_buf *out;
  int rc;
  int n;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
  struct query_ctx *q = cls;
  (void)kind;
  if (q->rc != RP_OK)
    return MHD_NO;
  if (q->n++ > 0)
    q->rc = rp_buf_puts(q->out, "&");
  if (q->rc == RP_OK)
    q->rc = rp_buf_puts(q->out, key);
  if (q->rc == RP_OK && value) {
    q->rc = rp_buf_puts(q->out, "=");
    if (q->rc == RP_OK)
      q->rc = rp_buf_puts(q->out, value);
  }
  return q->rc == RP_OK ? MHD_YES : MHD_NO;
}

int rp_httpd_query(const struct rp_httpd_request *req, struct rp_buf *out)
{
  struct query_ctx q = { out, RP_OK, 0 };
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
  return q.rc;
}
