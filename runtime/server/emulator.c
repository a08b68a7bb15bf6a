/* emulator.c - see emulator.h. */
#include "server/emulator.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/json.h"
#include "server/httpd.h"
#include "server/jobstore.h"
#include "base/log.h"
#include "net/netguard.h"
#include "base/rng.h"
#include "base/rp.h"

static const char *const route_names[RP_EMU_NROUTES] = {
  "job-take", "job-done", "job-stream", "ping", "job-stop"
};

static const char *const fault_names[] = {
  "none", "500", "429", "garbage", "close", "delay", "trickle", "cut"
};

#define NFAULTS (sizeof(fault_names) / sizeof(fault_names[0]))

struct webhook {
  struct webhook *next;
  char *url;
  char *body;
  size_t len;
};

struct rp_emulator {
  struct rp_emulator_config cfg;   /* strings below are our copies */
  char *host;
  char *endpoint;
  char *api_key;
  char *bearer;                    /* "Bearer <key>" */
  char *worker_key;                /* private listener's key, or NULL */
  char *realtime;                  /* endpoint id of /{id}/realtime */
  struct rp_jobstore *js;
  struct rp_httpd *httpd;
  struct rp_httpd *private_httpd;  /* worker routes (private_workers) */
  int port;
  int worker_port;

  pthread_mutex_t mu;              /* everything below */
  long take_hold_ms, stop_hold_ms, stream_hold_ms;
  struct rp_emu_fault faults[RP_EMU_NROUTES];
  long fault_seen[RP_EMU_NROUTES];       /* requests since the fault set */
  unsigned long fault_hits[RP_EMU_NROUTES];
  unsigned long requests[RP_EMU_NROUTES];
  uint64_t rng;
  char **log;                      /* ring of log_max lines */
  size_t log_head, log_count;
  unsigned long long log_seq;      /* seq of the newest line */
  char *last_ping;                 /* JSON object or NULL */
  unsigned long pings;
  char *sink[RP_EMU_SINK_MAX];     /* webhook bodies received */
  size_t sink_count;
  unsigned long webhooks_sent, webhooks_failed, webhooks_dropped;
  unsigned long webhooks_refused;
  struct rp_netguard guard;        /* where webhooks may connect */

  pthread_mutex_t wh_mu;           /* the webhook queue */
  pthread_cond_t wh_cv;
  struct webhook *wh_head, *wh_tail;
  size_t wh_count;
  int wh_stop;
  pthread_t wh_thread;
  int wh_started;
};

#define MAX_NUMBER_TEXT 64   /* longer number texts are refused */

/* Reads the text [s, s+n) as a JSON number (rp_json_number) whose value
 * is whole and within [0, max]. Returns 0 and *out, or -1: not a JSON number,
 * negative, fractional, above max (HUGE_VAL: no limit), or longer than
 * MAX_NUMBER_TEXT. */
static int whole_number(const char *s, size_t n, double max, double *out)
{
  struct rp_json_span text = { s, n };
  double v;
  if (n > MAX_NUMBER_TEXT || rp_json_number(text, &v) != RP_OK)
    return -1;
  /* NaN fails the first test; every double from 2^53 up is whole. */
  if (!(v >= 0 && v <= max) ||
      (v < 9007199254740992.0 && v != (double)(long long)v))
    return -1;
  *out = v;
  return 0;
}

/* Whether s[0..n) is exactly a JSON number. */
static int is_number(const char *s, size_t n)
{
  struct rp_json_span text = { s, n };
  double v;
  return rp_json_number(text, &v) == RP_OK;
}

/* Whether the value v is null. */
static int is_null(struct rp_json_span v)
{
  return rp_json_kind(v) == RP_JSON_NULL;
}

/* ---- small helpers ---- */

static void reply(struct rp_httpd_response *res, int status,
                  const char *json)
{
  res->status = status;
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, json);
}

static void reply_error(struct rp_httpd_response *res, int status,
                        const char *msg)
{
  res->status = status;
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, "{\"error\":");
  rp_json_put_string(&res->body, msg, strlen(msg));
  rp_buf_puts(&res->body, "}");
}

/* Maps a store error to an answer. */
static void reply_store(struct rp_httpd_response *res, int rc)
{
  if (rc == RP_JOBSTORE_ENOENT)
    reply_error(res, 404, "job not found");
  else if (rc == RP_ETOOBIG)
    reply_error(res, 413, "too large");
  else
    reply_error(res, 500, "out of memory");
}

#define MAX_ECHO 24          /* longest number text an error repeats */

/* Answers 400 "invalid NAME VALUE (must be RULE)". The value [v, v+n) is
 * repeated only when it is short and made of number characters (JSON
 * text or a query argument); anything else is named by its kind, so an
 * error answer never carries a client's strings (an API key, say). */
static void reply_invalid(struct rp_httpd_response *res, const char *name,
                          const char *v, size_t n, const char *rule)
{
  char msg[256];
  const char *kind = NULL;
  size_t i;
  for (i = 0; i < n && i < MAX_ECHO; i++)
    if (!strchr("0123456789+-.eE", v[i]))
      break;
  if (n == 0)
    kind = "empty";
  else if (i < n && is_number(v, n))
    kind = "a number too long to repeat";
  else if (i < n && !rp_json_valid(v, n))
    kind = "not a number";
  else if (i < n)
    kind = v[0] == '"' ? "a string" : v[0] == '{' ? "an object"
         : v[0] == '[' ? "an array" : v[0] == 't' || v[0] == 'f'
         ? "a boolean" : "not a number";
  if (kind)
    snprintf(msg, sizeof(msg), "invalid %s: %s (must be %s)", name, kind,
             rule);
  else
    snprintf(msg, sizeof(msg), "invalid %s %.*s (must be %s)", name, (int)n,
             v, rule);
  reply_error(res, 400, msg);
}

/* A query argument bounding a wait or a count: a JSON number with a
 * whole value >= 0, capped at max (RunPod caps wait the same way); def
 * when absent or empty. Returns 0 and *out, or -1 after answering 400. */
static int arg_number(const struct rp_httpd_request *req,
                      struct rp_httpd_response *res, const char *name,
                      long def, long max, long *out)
{
  const char *s = rp_httpd_arg(req, name);
  double v;
  if (!s || !*s) {
    *out = def;
    return 0;
  }
  if (whole_number(s, strlen(s), HUGE_VAL, &v) != 0) {
    reply_invalid(res, name, s, strlen(s), "a whole number >= 0");
    return -1;
  }
  *out = v >= (double)max ? max : (long)v;
  return 0;
}

static double wall_time(void)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void seed_rng(struct rp_emulator *e, unsigned long seed)
{
  int i;
  e->rng = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 0x853c49e6748fea9bULL;
  if (!e->rng)
    e->rng = 1;
  for (i = 0; i < 4; i++)
    rp_rng_next(&e->rng);
}

/* ---- faults ---- */

void rp_emulator_default_config(struct rp_emulator_config *cfg)
{
  int i;
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = "127.0.0.1";
  cfg->port = 8080;
  cfg->endpoint = "emulator";
  cfg->take_hold_ms = 1000;
  cfg->stop_hold_ms = 1000;
  cfg->stream_hold_ms = 2000;
  cfg->retain_ms = RP_JOBSTORE_RETAIN_MS;
  cfg->retain_max = RP_JOBSTORE_RETAIN_MAX;
  cfg->max_body = RP_HTTPD_MAX_BODY;
  cfg->log_max = RP_EMU_LOG_MAX;
  cfg->ping_interval_ms = 10000;
  cfg->seed = 1;
  cfg->control = 1;
  for (i = 0; i < RP_EMU_NROUTES; i++) {
    cfg->faults[i].kind = RP_FAULT_NONE;
    cfg->faults[i].share = 1.0;
  }
}

static int route_index(const char *name, size_t n)
{
  int i;
  for (i = 0; i < RP_EMU_NROUTES; i++)
    if (strlen(route_names[i]) == n && memcmp(route_names[i], name, n) == 0)
      return i;
  return -1;
}

/* Parses "KIND[,share=P][,first=K][,ms=N]" into *f. */
static int parse_fault_body(const char *s, struct rp_emu_fault *f, char *err,
                            size_t errlen)
{
  struct rp_emu_fault nf = { RP_FAULT_NONE, 1.0, 0, 0 };
  size_t k;
  size_t n = strcspn(s, ",");
  int found = 0;
  for (k = 0; k < NFAULTS; k++) {
    if (strlen(fault_names[k]) == n && memcmp(fault_names[k], s, n) == 0) {
      nf.kind = (enum rp_emu_fault_kind)k;
      found = 1;
    }
  }
  if (!found)
    return rp_fail(RP_EINVAL, err, errlen, "unknown fault kind '%.*s' "
                   "(none, 500, 429, garbage, close, delay, trickle, cut)", (int)n, s);
  s += n;
  while (*s == ',') {
    char *end;
    s++;
    errno = 0;
    if (strncmp(s, "share=", 6) == 0) {
      nf.share = strtod(s + 6, &end);
      if (end == s + 6 || nf.share < 0 || nf.share > 1)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid share in '%s' (must be within [0, 1])", s);
    } else if (strncmp(s, "first=", 6) == 0) {
      nf.first = strtol(s + 6, &end, 10);
      if (end == s + 6 || errno || nf.first < 0)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid count in '%s' (must be >= 0)", s);
    } else if (strncmp(s, "ms=", 3) == 0) {
      nf.delay_ms = strtol(s + 3, &end, 10);
      if (end == s + 3 || errno || nf.delay_ms < 0 ||
          nf.delay_ms > RP_EMU_MAX_DELAY_MS)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid delay in '%s' (0..%d ms)", s,
                       RP_EMU_MAX_DELAY_MS);
    } else {
      return rp_fail(RP_EINVAL, err, errlen, "unknown fault option '%s' "
                     "(share=, first=, ms=)", s);
    }
    s = end;
  }
  if (*s)
    return rp_fail(RP_EINVAL, err, errlen, "trailing characters '%s'", s);
  *f = nf;
  return RP_OK;
}

int rp_emulator_parse_fault(const char *spec, struct rp_emulator_config *cfg,
                            char *err, size_t errlen)
{
  const char *eq = strchr(spec, '=');
  int r;
  if (!eq)
    return rp_fail(RP_EINVAL, err, errlen,
                   "invalid fault '%s' (ROUTE=KIND[,share=P][,first=K]"
                   "[,ms=N])", spec);
  r = route_index(spec, (size_t)(eq - spec));
  if (r < 0)
    return rp_fail(RP_EINVAL, err, errlen, "unknown fault route '%.*s' "
                   "(job-take, job-done, job-stream, ping, job-stop)",
                   (int)(eq - spec), spec);
  return parse_fault_body(eq + 1, &cfg->faults[r], err, errlen);
}

/* Decides, under e->mu, whether this request of route r is hit. Returns
 * the fault kind and the delay. */
static enum rp_emu_fault_kind pick_fault(struct rp_emulator *e, int r,
                                         long *delay_ms)
{
  const struct rp_emu_fault *f = &e->faults[r];
  int hit = 0;
  e->requests[r]++;
  e->fault_seen[r]++;
  if (f->kind == RP_FAULT_NONE)
    return RP_FAULT_NONE;
  if (f->first > 0)
    hit = e->fault_seen[r] <= f->first;
  else if (f->share >= 1.0)
    hit = 1;
  else if (f->share > 0)
    hit = (double)(rp_rng_next(&e->rng) >> 11) / 9007199254740992.0 < f->share;
  if (!hit)
    return RP_FAULT_NONE;
  e->fault_hits[r]++;
  *delay_ms = f->delay_ms;
  return f->kind;
}

/* ---- the request log ---- */

static void log_request(struct rp_emulator *e,
                        const struct rp_httpd_request *req,
                        const struct rp_httpd_response *res,
                        enum rp_emu_fault_kind fault, long long started)
{
  static const char *const headers[] = {
    "Authorization", "Content-Type", "User-Agent", "X-Request-ID"
  };
  struct rp_buf b = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX * 8);
  struct rp_buf q = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX);
  size_t i;
  size_t blen = req->body_len;
  char *line;
  int rc;
  if (e->cfg.log_max == 0)
    return;
  if (blen > RP_EMU_LOG_BODY_MAX)
    blen = RP_EMU_LOG_BODY_MAX;
  rc = rp_httpd_query(req, &q);
  if (rc == RP_OK)
    rc = rp_buf_printf(&b, "{\"seq\":                   ,\"time\":%.6f,"
                       "\"ms\":%lld,\"method\":", wall_time(),
                       rp_jobstore_now_ms() - started);
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, req->method, strlen(req->method));
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"path\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, req->path, strlen(req->path));
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"query\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, q.data ? q.data : "", q.len);
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"headers\":{");
  for (i = 0; i < 4 && rc == RP_OK; i++) {
    const char *v = rp_httpd_header(req, headers[i]);
    rc = rp_buf_printf(&b, "%s\"%s\":", i ? "," : "", headers[i]);
    if (rc == RP_OK && v)
      rc = rp_json_put_string(&b, v, strlen(v));
    else if (rc == RP_OK)
      rc = rp_buf_puts(&b, "null");
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, "},\"body\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, req->body, blen);
  if (rc == RP_OK)
    rc = rp_buf_printf(&b, ",\"body_bytes\":%zu,\"status\":%d,"
                       "\"fault\":%s%s%s}",
                       req->body_len, res->status,
                       fault ? "\"" : "", fault ? fault_names[fault] : "null",
                       fault ? "\"" : "");
  rp_buf_free(&q);
  if (rc != RP_OK) {
    rp_buf_free(&b);
    return;
  }
  line = rp_buf_steal(&b, NULL);
  if (!line)
    return;
  pthread_mutex_lock(&e->mu);
  {
    /* The seq is patched in place, right-aligned in 19 columns: JSON
     * allows the leading spaces. */
    char num[24];
    size_t slot;
    e->log_seq++;
    snprintf(num, sizeof(num), "%19llu", e->log_seq);
    memcpy(line + 7, num, 19);
    if (e->log_count < e->cfg.log_max) {
      slot = (e->log_head + e->log_count) % e->cfg.log_max;
      e->log_count++;
    } else {
      slot = e->log_head;
      free(e->log[slot]);
      e->log_head = (e->log_head + 1) % e->cfg.log_max;
    }
    e->log[slot] = line;
  }
  pthread_mutex_unlock(&e->mu);
}

/* ---- webhooks ---- */

static void webhook_enqueue(void *ud, const char *url, const char *view,
                            size_t len)
{
  struct rp_emulator *e = ud;
  struct webhook *w = calloc(1, sizeof(*w));
  if (w) {
    w->url = strdup(url);
    w->body = malloc(len + 1);
  }
  if (!w || !w->url || !w->body) {
    if (w) {
      free(w->url);
      free(w->body);
      free(w);
    }
    return;
  }
  memcpy(w->body, view, len);
  w->body[len] = '\0';
  w->len = len;
  pthread_mutex_lock(&e->wh_mu);
  if (e->wh_count >= RP_EMU_WEBHOOK_QUEUE || e->wh_stop) {
    pthread_mutex_unlock(&e->wh_mu);
    pthread_mutex_lock(&e->mu);
    e->webhooks_dropped++;
    pthread_mutex_unlock(&e->mu);
    free(w->url);
    free(w->body);
    free(w);
    return;
  }
  if (e->wh_tail)
    e->wh_tail->next = w;
  else
    e->wh_head = w;
  e->wh_tail = w;
  e->wh_count++;
  pthread_cond_signal(&e->wh_cv);
  pthread_mutex_unlock(&e->wh_mu);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

/* The guard of one webhook post: CURLOPT_OPENSOCKETFUNCTION is the one
 * place libcurl opens a connection, so it sees every address a name
 * resolves to. */
struct guarded {
  const struct rp_netguard *guard;
  int refused;
  char addr[64];             /* the first address refused */
};

static curl_socket_t open_guarded(void *ud, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
  struct guarded *g = ud;
  char text[sizeof(g->addr)];
  (void)purpose;
  if (!rp_netguard_allows(g->guard, &a->addr, text, sizeof(text))) {
    if (!g->refused)
      memcpy(g->addr, text, sizeof(text));
    g->refused = 1;
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Writes the host of url (no user info, no port; bytes outside printable
 * ASCII as '?') into out, for a log line that must not carry what the
 * rest of the URL may (credentials, tokens). */
static void url_host(const char *url, char *out, size_t cap)
{
  const char *p = strstr(url, "://");
  size_t n;
  size_t i;
  p = p ? p + 3 : url;
  n = strcspn(p, "/?#");
  for (i = n; i > 0; i--) {
    if (p[i - 1] == '@') {
      p += i;
      n -= i;
      break;
    }
  }
  if (n > 0 && p[0] == '[') {
    const char *q = memchr(p, ']', n);
    if (q)
      n = (size_t)(q - p) + 1;
  } else {
    const char *q = memchr(p, ':', n);
    if (q)
      n = (size_t)(q - p);
  }
  if (n >= cap)
    n = cap - 1;
  for (i = 0; i < n; i++)
    out[i] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
  out[n] = '\0';
}

/* Logs a refused webhook once, with the job id from its view. */
static void log_refused(const struct webhook *w, const char *addr)
{
  char host[256];
  char id[RP_JOBSTORE_MAX_ID];
  struct rp_json_span v;
  if (rp_json_member(w->body, w->len, "id", &v) != 1 ||
      rp_json_string(v, id, sizeof(id)) != RP_OK)
    id[0] = '\0';
  url_host(w->url, host, sizeof(host));
  rp_log(RP_LOG_WARN, id[0] ? id : NULL, "webhook to %s not sent: %s is "
         "not a public address (see RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS)",
         host, addr);
}

/* Posts one webhook, retrying a few times; redirects are not followed.
 * Returns 1 when delivered, 0 when it failed, -1 when the guard refused
 * its address (logged, not retried). */
static int webhook_post(struct rp_emulator *e, CURL *curl,
                        const struct webhook *w)
{
  struct curl_slist *hdrs = curl_slist_append(NULL,
                                              "Content-Type: application/json");
  struct guarded g;
  int attempt;
  int ok = 0;
  memset(&g, 0, sizeof(g));
  g.guard = &e->guard;
  for (attempt = 0; attempt < RP_EMU_WEBHOOK_TRIES && !ok; attempt++) {
    long code = 0;
    if (attempt > 0 && rp_jobstore_sleep(e->js, 200L << attempt) != 0)
      break;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, w->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     (long)RP_EMU_WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");    /* a proxy would connect
                                                      where the guard
                                                      cannot look */
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &g);
    g.refused = 0;
    if (curl_easy_perform(curl) == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      ok = code >= 200 && code < 300;
    } else if (g.refused) {
      /* No allowed address answered: trying again cannot help. */
      log_refused(w, g.addr);
      ok = -1;
    }
  }
  curl_slist_free_all(hdrs);
  return ok;
}

static void *webhook_thread(void *ud)
{
  struct rp_emulator *e = ud;
  CURL *curl = curl_easy_init();
  for (;;) {
    struct webhook *w;
    int ok;
    pthread_mutex_lock(&e->wh_mu);
    while (!e->wh_head && !e->wh_stop)
      pthread_cond_wait(&e->wh_cv, &e->wh_mu);
    if (e->wh_stop) {
      pthread_mutex_unlock(&e->wh_mu);
      break;
    }
    w = e->wh_head;
    e->wh_head = w->next;
    if (!e->wh_head)
      e->wh_tail = NULL;
    e->wh_count--;
    pthread_mutex_unlock(&e->wh_mu);
    ok = curl ? webhook_post(e, curl, w) : 0;
    pthread_mutex_lock(&e->mu);
    if (ok > 0)
      e->webhooks_sent++;
    else if (ok < 0)
      e->webhooks_refused++;
    else
      e->webhooks_failed++;
    pthread_mutex_unlock(&e->mu);
    free(w->url);
    free(w->body);
    free(w);
  }
  if (curl)
    curl_easy_cleanup(curl);
  return NULL;
}

/* ---- the client API ---- */

struct run_ctx {
  struct rp_buf *extra;
  struct rp_json_span input;
  int has_input;
  struct rp_json_span webhook;
  int has_webhook;
  struct rp_json_span policy;
  int has_policy;
  int rc;
};

static int run_member(void *ud, const char *key, struct rp_json_span val,
                      struct rp_json_span m)
{
  struct run_ctx *c = ud;
  if (strcmp(key, "input") == 0) {
    c->input = val;
    c->has_input = 1;
    return 0;
  }
  if (strcmp(key, "id") == 0)
    return 0;              /* the store names the job; a second "id" in
                              the job-take object would hide it */
  if (strcmp(key, "webhook") == 0) {
    c->webhook = val;
    c->has_webhook = !is_null(val);
  } else if (strcmp(key, "policy") == 0) {
    c->policy = val;
    c->has_policy = 1;
  }
  /* Every other member reaches the worker as it came. */
  if (c->rc == RP_OK)
    c->rc = rp_buf_append(c->extra, ",", 1);
  if (c->rc == RP_OK)
    c->rc = rp_buf_append(c->extra, m.p, m.n);
  return 0;
}

/* Reads policy member 'name' (ms, a whole JSON number in
 * [0, RP_EMU_MAX_POLICY_MS]; absent or null: 0) into *ms. Returns 1, or 0
 * after answering 400. */
static int policy_ms(struct rp_json_span policy, const char *name, long *ms,
                     struct rp_httpd_response *res)
{
  char field[64];
  struct rp_json_span v;
  double x;
  *ms = 0;
  if (rp_json_member(policy.p, policy.n, name, &v) != 1 || is_null(v))
    return 1;
  if (whole_number(v.p, v.n, (double)RP_EMU_MAX_POLICY_MS, &x) == 0) {
    *ms = (long)x;
    return 1;
  }
  snprintf(field, sizeof(field), "policy.%s", name);
  reply_invalid(res, field, v.p, v.n, "a whole number of ms in 0..604800000");
  return 0;
}

/* Checks the /run body's "policy": an object (or null) whose
 * executionTimeout and ttl are milliseconds and whose lowPriority is a
 * boolean. Other members pass unchecked. Sets *timeout (0: none). Returns
 * 1, or 0 after answering 400. */
static int policy_valid(struct rp_json_span policy, long *timeout,
                        struct rp_httpd_response *res)
{
  struct rp_json_span v;
  long ttl;
  int low;
  if (is_null(policy))
    return 1;
  if (policy.p[0] != '{') {
    reply_error(res, 400, "invalid policy (must be an object)");
    return 0;
  }
  if (!policy_ms(policy, "executionTimeout", timeout, res) ||
      !policy_ms(policy, "ttl", &ttl, res))
    return 0;
  if (rp_json_member(policy.p, policy.n, "lowPriority", &v) == 1 &&
      !is_null(v) && rp_json_bool(v, &low) != RP_OK) {
    reply_error(res, 400, "invalid policy.lowPriority (must be true or "
                "false)");
    return 0;
  }
  return 1;
}

/* Handles /run and /runsync: queues the job from the body. Returns the
 * new id in id (and 1), or answers an error and returns 0. */
static int submit(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, char *id)
{
  struct rp_buf extra = RP_BUF_INIT(SIZE_MAX / 2);
  struct run_ctx c;
  char url[RP_EMU_MAX_URL];
  long timeout = 0;
  int rc;
  memset(&c, 0, sizeof(c));
  c.extra = &extra;
  if (rp_json_each_member(req->body, req->body_len, run_member, &c) != 0) {
    reply_error(res, 400, "invalid JSON body (an object is expected)");
    goto out;
  }
  if (!c.has_input) {
    reply_error(res, 400, "missing input");
    goto out;
  }
  if (c.has_webhook && (rp_json_string(c.webhook, url, sizeof(url)) != RP_OK ||
                        (strncmp(url, "http://", 7) != 0 &&
                         strncmp(url, "https://", 8) != 0))) {
    reply_error(res, 400, "webhook must be an http(s) URL string");
    goto out;
  }
  if (c.has_policy && !policy_valid(c.policy, &timeout, res))
    goto out;
  if (c.rc != RP_OK) {
    reply_store(res, c.rc);
    goto out;
  }
  rc = rp_jobstore_submit(e->js, c.input.p, c.input.n,
                          extra.data ? extra.data : "", extra.len,
                          c.has_webhook ? url : NULL, timeout, id);
  if (rc == RP_ETOOBIG) {
    reply_error(res, 429, "queue full");
    goto out;
  }
  if (rc != RP_OK) {
    reply_store(res, rc);
    goto out;
  }
  rp_buf_free(&extra);
  return 1;
out:
  rp_buf_free(&extra);
  return 0;
}

static void health(struct rp_emulator *e, struct rp_httpd_response *res)
{
  struct rp_jobstore_health h;
  rp_jobstore_health(e->js, &h);
  res->status = 200;
  rp_buf_printf(&res->body,
                "{\"jobs\":{\"completed\":%lu,\"failed\":%lu,"
                "\"inProgress\":%lu,\"inQueue\":%lu,\"retried\":%lu},"
                "\"workers\":{\"idle\":%lu,\"initializing\":0,\"ready\":%lu,"
                "\"running\":%lu,\"throttled\":0,\"unhealthy\":0}}",
                h.completed, h.failed, h.in_progress, h.in_queue, h.retried,
                h.workers_idle, h.workers_idle + h.workers_running,
                h.workers_running);
}

static int is(const char *method, const char *want)
{
  return strcmp(method, want) == 0;
}

/* seg[0] is the route, seg[1] the id (may be NULL). */
static void client_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, char **seg, int nseg)
{
  const char *r = seg[0];
  const char *id = nseg > 1 ? seg[1] : NULL;
  const char *auth = rp_httpd_header(req, "Authorization");
  char newid[RP_JOBSTORE_ID_LEN + 1];
  long hold;
  int rc = RP_OK;
  int with_id = strcmp(r, "status") == 0 || strcmp(r, "status-sync") == 0 ||
                strcmp(r, "stream") == 0 || strcmp(r, "cancel") == 0;
  int plain = strcmp(r, "run") == 0 || strcmp(r, "runsync") == 0 ||
              strcmp(r, "health") == 0 || strcmp(r, "purge-queue") == 0;
  if ((!with_id && !plain) || (with_id && nseg != 2) ||
      (plain && nseg != 1)) {
    reply_error(res, 404, "no such route");
    return;
  }
  if (e->bearer && (!auth || strcmp(auth, e->bearer) != 0)) {
    reply_error(res, 401, "unauthorized");
    return;
  }
  if (strcmp(r, "run") == 0 || strcmp(r, "runsync") == 0) {
    if (!is(req->method, "POST")) {
      reply_error(res, 405, "method not allowed (POST)");
      return;
    }
    if (strcmp(r, "runsync") == 0 &&
        arg_number(req, res, "wait", RP_EMU_DEFAULT_WAIT_MS,
                   RP_EMU_MAX_WAIT_MS, &hold) != 0)
      return;
    if (!submit(e, req, res, newid))
      return;
    res->status = 200;
    if (strcmp(r, "run") == 0) {
      rp_buf_printf(&res->body, "{\"id\":\"%s\",\"status\":\"IN_QUEUE\"}",
                    newid);
      return;
    }
    rc = rp_jobstore_view(e->js, newid, hold, &res->body);
  } else if (strcmp(r, "status") == 0 || strcmp(r, "status-sync") == 0) {
    int sync = r[6] == '-';
    if (!is(req->method, "GET") && (sync || !is(req->method, "POST"))) {
      reply_error(res, 405, sync ? "method not allowed (GET)"
                                 : "method not allowed (GET, POST)");
      return;
    }
    hold = 0;
    if (sync && arg_number(req, res, "wait", RP_EMU_DEFAULT_WAIT_MS,
                           RP_EMU_MAX_WAIT_MS, &hold) != 0)
      return;
    rc = rp_jobstore_view(e->js, id, hold, &res->body);
  } else if (strcmp(r, "stream") == 0) {
    if (!is(req->method, "GET") && !is(req->method, "POST")) {
      reply_error(res, 405, "method not allowed (GET, POST)");
      return;
    }
    pthread_mutex_lock(&e->mu);
    hold = e->stream_hold_ms;
    pthread_mutex_unlock(&e->mu);
    rc = rp_jobstore_stream_read(e->js, id, hold, &res->body);
  } else if (strcmp(r, "cancel") == 0) {
    if (!is(req->method, "POST")) {
      reply_error(res, 405, "method not allowed (POST)");
      return;
    }
    rc = rp_jobstore_cancel(e->js, id, &res->body);
  } else if (strcmp(r, "health") == 0) {
    if (!is(req->method, "GET")) {
      reply_error(res, 405, "method not allowed (GET)");
      return;
    }
    health(e, res);
    return;
  } else {
    if (!is(req->method, "POST")) {
      reply_error(res, 405, "method not allowed (POST)");
      return;
    }
    res->status = 200;
    rp_buf_printf(&res->body, "{\"removed\":%zu,\"status\":\"completed\"}",
                  rp_jobstore_purge(e->js));
    return;
  }
  if (rc != RP_OK)
    reply_store(res, rc);
  else
    res->status = 200;
}

/* ---- the worker API ---- */

static void record_ping(struct rp_emulator *e, const char *worker,
                        const struct rp_httpd_request *req)
{
  struct rp_buf b = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX * 2);
  struct rp_buf q = RP_BUF_INIT(RP_EMU_LOG_BODY_MAX);
  const char *jobs = rp_httpd_arg(req, "job_id");
  const char *ver = rp_httpd_arg(req, "runpod_version");
  int rc = rp_httpd_query(req, &q);
  char *text;
  if (rc == RP_OK)
    rc = rp_buf_printf(&b, "{\"time\":%.6f,\"worker\":", wall_time());
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, worker, strlen(worker));
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"query\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(&b, q.data ? q.data : "", q.len);
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"job_id\":");
  if (rc == RP_OK)
    rc = jobs ? rp_json_put_string(&b, jobs, strlen(jobs))
              : rp_buf_puts(&b, "null");
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, ",\"runpod_version\":");
  if (rc == RP_OK)
    rc = ver ? rp_json_put_string(&b, ver, strlen(ver))
             : rp_buf_puts(&b, "null");
  if (rc == RP_OK)
    rc = rp_buf_puts(&b, "}");
  rp_buf_free(&q);
  text = rc == RP_OK ? rp_buf_steal(&b, NULL) : NULL;
  rp_buf_free(&b);
  pthread_mutex_lock(&e->mu);
  e->pings++;
  if (text) {
    free(e->last_ping);
    e->last_ping = text;
  }
  pthread_mutex_unlock(&e->mu);
}

static void job_done(struct rp_emulator *e, const struct rp_httpd_request *req,
                     struct rp_httpd_response *res, const char *worker,
                     const char *id)
{
  struct rp_json_span out = { NULL, 0 };
  struct rp_json_span er = { NULL, 0 };
  struct rp_json_span st = { NULL, 0 };
  int has_out = rp_json_member(req->body, req->body_len, "output", &out);
  int has_err;
  int progress = 0;
  const char *rid;
  int rc;
  if (has_out < 0) {
    reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  has_err = rp_json_member(req->body, req->body_len, "error", &er) == 1 &&
            !is_null(er);
  if (rp_json_member(req->body, req->body_len, "status", &st) == 1 &&
      st.n == 13 && memcmp(st.p, "\"IN_PROGRESS\"", 13) == 0)
    progress = 1;
  /* A worker whose post timed out after it was stored posts it again with
   * the same X-Request-ID (the job id): the same delivery, not a late one. */
  rid = rp_httpd_header(req, "X-Request-ID");
  if (!progress && rid && strcmp(rid, id) == 0 &&
      rp_jobstore_is_result(e->js, id, has_out ? out.p : NULL, out.n,
                            has_err ? er.p : NULL, er.n)) {
    reply(res, 200, "{}");
    return;
  }
  rc = rp_jobstore_done(e->js, worker, id, progress,
                        has_out ? out.p : NULL, out.n,
                        has_err ? er.p : NULL, er.n);
  if (rc != RP_OK) {
    reply_store(res, rc);
    return;
  }
  reply(res, 200, "{}");
}

static void job_stream(struct rp_emulator *e,
                       const struct rp_httpd_request *req,
                       struct rp_httpd_response *res, const char *worker,
                       const char *id)
{
  struct rp_json_span out;
  int has = rp_json_member(req->body, req->body_len, "output", &out);
  int rc;
  if (has < 0) {
    reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  if (has == 0) {
    reply_error(res, 400, "missing output");
    return;
  }
  rc = rp_jobstore_stream_append(e->js, worker, id, out.p, out.n);
  if (rc != RP_OK) {
    reply_store(res, rc);
    return;
  }
  reply(res, 200, "{}");
}

static void worker_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, int route,
                         char **seg, int nseg)
{
  const char *r = seg[0];
  const char *auth = rp_httpd_header(req, "Authorization");
  const char *key = e->worker_key ? e->worker_key : e->api_key;
  long long started = rp_jobstore_now_ms();
  enum rp_emu_fault_kind fault = RP_FAULT_NONE;
  long delay = 0;
  long hold;
  int want = route == RP_EMU_JOB_DONE || route == RP_EMU_JOB_STREAM ? 3 : 2;
  int n;
  if (nseg != want) {
    reply_error(res, 404, "no such route");
    goto log;
  }
  if (key && (!auth || strcmp(auth, key) != 0)) {
    reply_error(res, 401, "unauthorized");
    goto log;
  }
  if (want == 3 ? !is(req->method, "POST") : !is(req->method, "GET")) {
    reply_error(res, 405, want == 3 ? "method not allowed (POST)"
                                    : "method not allowed (GET)");
    goto log;
  }
  pthread_mutex_lock(&e->mu);
  fault = pick_fault(e, route, &delay);
  pthread_mutex_unlock(&e->mu);
  switch (fault) {
  case RP_FAULT_500:
    reply_error(res, 500, "injected fault");
    goto log;
  case RP_FAULT_429:
    reply_error(res, 429, "injected fault: too many requests");
    goto log;
  case RP_FAULT_GARBAGE:
    reply(res, 200, "<html>this is not JSON {");
    res->content_type = "text/html";
    goto log;
  case RP_FAULT_CLOSE:
    res->status = 0;
    goto log;
  case RP_FAULT_CUT:
    /* A job the server never finishes sending: JSON cut mid-string. */
    reply(res, 200, "{\"id\":\"cut-fault\",\"input\":{\"text\":\"");
    while (res->body.len < 4096 && rp_buf_puts(&res->body, "x") == RP_OK)
      ;
    res->cut = 64;
    goto log;
  case RP_FAULT_DELAY:
    rp_jobstore_sleep(e->js, delay);
    break;
  case RP_FAULT_TRICKLE:
    res->trickle_ms = delay > 0 ? delay : 1000;
    break;
  case RP_FAULT_NONE:
    break;
  }
  switch (route) {
  case RP_EMU_JOB_TAKE: {
    int batch = strcmp(r, "job-take-batch") == 0;
    long size = 1;
    if (batch && arg_number(req, res, "batch_size", 1, RP_JOBSTORE_MAX_BATCH,
                            &size) != 0)
      break;
    pthread_mutex_lock(&e->mu);
    hold = e->take_hold_ms;
    pthread_mutex_unlock(&e->mu);
    n = rp_jobstore_take(e->js, seg[1], (size_t)(size > 0 ? size : 1), hold,
                         batch, &res->body);
    if (n < 0)
      reply_store(res, n);
    else
      res->status = n > 0 ? 200 : 204;
    break;
  }
  case RP_EMU_JOB_DONE:
    job_done(e, req, res, seg[1], seg[2]);
    break;
  case RP_EMU_JOB_STREAM:
    job_stream(e, req, res, seg[1], seg[2]);
    break;
  case RP_EMU_PING:
    rp_jobstore_touch(e->js, seg[1]);
    record_ping(e, seg[1], req);
    reply(res, 200, "{}");
    break;
  default:
    pthread_mutex_lock(&e->mu);
    hold = e->stop_hold_ms;
    pthread_mutex_unlock(&e->mu);
    rp_buf_puts(&res->body, "{\"jobsToStop\":");
    n = rp_jobstore_stops(e->js, seg[1], hold, &res->body);
    if (n < 0) {
      reply_store(res, n);
    } else if (n == 0) {
      rp_buf_clear(&res->body);
      res->status = 204;
    } else {
      rp_buf_puts(&res->body, "}");
      res->status = 200;
    }
    break;
  }
log:
  log_request(e, req, res, fault, started);
}

/* ---- the control API ---- */

static void put_fault(struct rp_buf *b, const struct rp_emu_fault *f)
{
  rp_buf_printf(b, "\"%s,share=%g,first=%ld,ms=%ld\"", fault_names[f->kind],
                f->share, f->first, f->delay_ms);
}

static void get_faults(struct rp_emulator *e, struct rp_httpd_response *res)
{
  int i;
  res->status = 200;
  pthread_mutex_lock(&e->mu);
  rp_buf_puts(&res->body, "{");
  for (i = 0; i < RP_EMU_NROUTES; i++) {
    rp_buf_printf(&res->body, "\"%s\":", route_names[i]);
    put_fault(&res->body, &e->faults[i]);
    rp_buf_puts(&res->body, ",");
  }
  rp_buf_printf(&res->body, "\"take_hold_ms\":%ld,\"stop_hold_ms\":%ld,"
                "\"stream_hold_ms\":%ld}", e->take_hold_ms, e->stop_hold_ms,
                e->stream_hold_ms);
  pthread_mutex_unlock(&e->mu);
}

/* The control body, parsed into a copy and applied only when all of it is
 * valid. */
struct faults_ctx {
  struct rp_emu_fault faults[RP_EMU_NROUTES];
  int set[RP_EMU_NROUTES];
  long holds[4];            /* take, stop, stream, requeue; -1 = keep */
  long seed;                /* -1 = keep */
  char err[256];
};

static int faults_member(void *ud, const char *key, struct rp_json_span val,
                         struct rp_json_span m)
{
  static const char *const holds[] = {
    "take_hold_ms", "stop_hold_ms", "stream_hold_ms", "requeue_after_ms"
  };
  struct faults_ctx *c = ud;
  int r = route_index(key, strlen(key));
  int i;
  (void)m;
  if (r >= 0) {
    char spec[256];
    c->set[r] = 1;
    if (is_null(val)) {
      c->faults[r] = (struct rp_emu_fault){ RP_FAULT_NONE, 1.0, 0, 0 };
      return 0;
    }
    if (rp_json_string(val, spec, sizeof(spec)) != RP_OK) {
      snprintf(c->err, sizeof(c->err), "%s: a fault string or null", key);
      return 1;
    }
    if (parse_fault_body(spec, &c->faults[r], c->err, sizeof(c->err)) != 0)
      return 1;
    return 0;
  }
  for (i = 0; i < 4; i++) {
    if (strcmp(key, holds[i]) == 0 || strcmp(key, "seed") == 0) {
      double x;
      long v;
      if (whole_number(val.p, val.n, RP_EMU_MAX_DELAY_MS, &x) != 0) {
        snprintf(c->err, sizeof(c->err), "%s: an integer in [0, %d]", key,
                 RP_EMU_MAX_DELAY_MS);
        return 1;
      }
      v = (long)x;
      if (strcmp(key, "seed") == 0)
        c->seed = v;
      else
        c->holds[i] = v;
      return 0;
    }
  }
  snprintf(c->err, sizeof(c->err), "unknown key '%s'", key);
  return 1;
}

static void post_faults(struct rp_emulator *e,
                        const struct rp_httpd_request *req,
                        struct rp_httpd_response *res)
{
  struct faults_ctx c;
  int i;
  memset(&c, 0, sizeof(c));
  for (i = 0; i < 4; i++)
    c.holds[i] = -1;
  c.seed = -1;
  if (rp_json_each_member(req->body, req->body_len, faults_member,
                          &c) < 0) {
    reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  if (c.err[0]) {
    reply_error(res, 400, c.err);
    return;
  }
  pthread_mutex_lock(&e->mu);
  for (i = 0; i < RP_EMU_NROUTES; i++) {
    if (c.set[i]) {
      e->faults[i] = c.faults[i];
      e->fault_seen[i] = 0;
    }
  }
  if (c.holds[0] >= 0)
    e->take_hold_ms = c.holds[0];
  if (c.holds[1] >= 0)
    e->stop_hold_ms = c.holds[1];
  if (c.holds[2] >= 0)
    e->stream_hold_ms = c.holds[2];
  if (c.seed >= 0)
    seed_rng(e, (unsigned long)c.seed);
  pthread_mutex_unlock(&e->mu);
  if (c.holds[3] >= 0)
    rp_jobstore_set_requeue(e->js, c.holds[3]);
  get_faults(e, res);
}

static void get_log(struct rp_emulator *e, const struct rp_httpd_request *req,
                    struct rp_httpd_response *res)
{
  long since;
  size_t i;
  if (arg_number(req, res, "since", 0, LONG_MAX, &since) != 0)
    return;
  res->status = 200;
  res->content_type = "application/x-ndjson";
  pthread_mutex_lock(&e->mu);
  for (i = 0; i < e->log_count; i++) {
    const char *line = e->log[(e->log_head + i) % e->cfg.log_max];
    if (strtoull(line + 7, NULL, 10) <= (unsigned long long)since)
      continue;
    if (rp_buf_puts(&res->body, line) != RP_OK ||
        rp_buf_puts(&res->body, "\n") != RP_OK)
      break;
  }
  pthread_mutex_unlock(&e->mu);
}

static void clear_log(struct rp_emulator *e)
{
  size_t i;
  pthread_mutex_lock(&e->mu);
  for (i = 0; i < e->log_count; i++) {
    size_t slot = (e->log_head + i) % e->cfg.log_max;
    free(e->log[slot]);
    e->log[slot] = NULL;
  }
  e->log_head = 0;
  e->log_count = 0;
  pthread_mutex_unlock(&e->mu);
}

static void get_stats(struct rp_emulator *e, struct rp_httpd_response *res)
{
  struct rp_buf *b = &res->body;
  int i;
  res->status = 200;
  pthread_mutex_lock(&e->mu);
  rp_buf_puts(b, "{\"requests\":{");
  for (i = 0; i < RP_EMU_NROUTES; i++)
    rp_buf_printf(b, "%s\"%s\":%lu", i ? "," : "", route_names[i],
                  e->requests[i]);
  rp_buf_puts(b, "},\"fault_hits\":{");
  for (i = 0; i < RP_EMU_NROUTES; i++)
    rp_buf_printf(b, "%s\"%s\":%lu", i ? "," : "", route_names[i],
                  e->fault_hits[i]);
  rp_buf_printf(b, "},\"pings\":%lu,\"last_ping\":%s,\"log_seq\":%llu,"
                "\"webhooks\":{\"sent\":%lu,\"failed\":%lu,\"dropped\":%lu,"
                "\"refused\":%lu},\"jobs\":", e->pings,
                e->last_ping ? e->last_ping : "null", e->log_seq,
                e->webhooks_sent, e->webhooks_failed, e->webhooks_dropped,
                e->webhooks_refused);
  pthread_mutex_unlock(&e->mu);
  if (rp_jobstore_counters(e->js, b) != RP_OK || rp_buf_puts(b, "}") != RP_OK)
    reply_error(res, 500, "stats too large");
}

static void sink_post(struct rp_emulator *e,
                      const struct rp_httpd_request *req,
                      struct rp_httpd_response *res)
{
  char *copy;
  if (!rp_json_valid(req->body, req->body_len)) {
    reply_error(res, 400, "invalid JSON body");
    return;
  }
  copy = strdup(req->body);
  pthread_mutex_lock(&e->mu);
  if (copy && e->sink_count < RP_EMU_SINK_MAX) {
    e->sink[e->sink_count++] = copy;
    copy = NULL;
  }
  pthread_mutex_unlock(&e->mu);
  free(copy);
  reply(res, 200, "{}");
}

static void sink_get(struct rp_emulator *e, struct rp_httpd_response *res)
{
  size_t i;
  res->status = 200;
  pthread_mutex_lock(&e->mu);
  rp_buf_puts(&res->body, "[");
  for (i = 0; i < e->sink_count; i++) {
    if (i)
      rp_buf_puts(&res->body, ",");
    rp_buf_puts(&res->body, e->sink[i]);
  }
  rp_buf_puts(&res->body, "]");
  pthread_mutex_unlock(&e->mu);
}

/* POST /_emulator/jobs?count=N with a /run body: queues N copies. */
static void bulk_submit(struct rp_emulator *e,
                        const struct rp_httpd_request *req,
                        struct rp_httpd_response *res)
{
  char id[RP_JOBSTORE_ID_LEN + 1];
  long count;
  long i;
  if (arg_number(req, res, "count", 1, RP_JOBSTORE_MAX_JOBS, &count) != 0)
    return;
  for (i = 0; i < count; i++) {
    if (!submit(e, req, res, id))
      return;
  }
  res->status = 200;
  rp_buf_clear(&res->body);
  rp_buf_printf(&res->body, "{\"submitted\":%ld}", count);
}

static void control_route(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, char **seg,
                          int nseg)
{
  const char *r = nseg == 2 ? seg[1] : "";
  const char *m = req->method;
  if (strcmp(r, "log") == 0 && is(m, "GET"))
    get_log(e, req, res);
  else if (strcmp(r, "log") == 0 && is(m, "DELETE")) {
    clear_log(e);
    reply(res, 200, "{}");
  } else if (strcmp(r, "stats") == 0 && is(m, "GET"))
    get_stats(e, res);
  else if (strcmp(r, "faults") == 0 && is(m, "GET"))
    get_faults(e, res);
  else if (strcmp(r, "faults") == 0 && is(m, "POST"))
    post_faults(e, req, res);
  else if (strcmp(r, "webhook-sink") == 0 && is(m, "POST"))
    sink_post(e, req, res);
  else if (strcmp(r, "webhooks") == 0 && is(m, "GET"))
    sink_get(e, res);
  else if (strcmp(r, "jobs") == 0 && is(m, "POST"))
    bulk_submit(e, req, res);
  else if (strcmp(r, "upkeep") == 0 && is(m, "POST")) {
    rp_jobstore_upkeep(e->js);
    reply(res, 200, "{}");
  } else
    reply_error(res, 404, "no such route");
}

/* ---- dispatch ---- */

#define MAX_SEGS 8

static int worker_route_index(const char *r)
{
  if (strcmp(r, "job-take") == 0 || strcmp(r, "job-take-batch") == 0)
    return RP_EMU_JOB_TAKE;
  if (strcmp(r, "job-done") == 0)
    return RP_EMU_JOB_DONE;
  if (strcmp(r, "job-stream") == 0)
    return RP_EMU_JOB_STREAM;
  if (strcmp(r, "ping") == 0)
    return RP_EMU_PING;
  if (strcmp(r, "job-stop") == 0)
    return RP_EMU_JOB_STOP;
  return -1;
}

/* Splits path into at most MAX_SEGS segments of the (modified) copy.
 * Returns the count, or MAX_SEGS + 1 when there are more. */
static int split_path(char *path, char **seg)
{
  char *save = NULL;
  char *tok;
  int nseg = 0;
  for (tok = strtok_r(path, "/", &save); tok;
       tok = strtok_r(NULL, "/", &save)) {
    if (nseg == MAX_SEGS)
      return MAX_SEGS + 1;
    seg[nseg++] = tok;
  }
  return nseg;
}

/* GET / and GET /openapi.json: the static texts of the config. */
static void page(const struct rp_httpd_request *req,
                 struct rp_httpd_response *res, const char *text,
                 const char *type)
{
  if (!is(req->method, "GET") && !is(req->method, "HEAD")) {
    reply_error(res, 405, "method not allowed (GET)");
    return;
  }
  reply(res, 200, text);
  res->content_type = type;
}

/* Is the job view's status terminal? */
static int view_ended(const struct rp_buf *view)
{
  static const char *const ended[] = {
    "\"COMPLETED\"", "\"FAILED\"", "\"CANCELLED\"", "\"TIMED_OUT\""
  };
  struct rp_json_span st;
  size_t i;
  if (rp_json_member(view->data, view->len, "status", &st) != 1)
    return 0;
  for (i = 0; i < sizeof(ended) / sizeof(ended[0]); i++)
    if (st.n == strlen(ended[i]) && memcmp(st.p, ended[i], st.n) == 0)
      return 1;
  return 0;
}

/* POST /{endpoint}/realtime: queues the body's job like /run, holds until
 * it ends and answers the normalised result, {"output":...} and/or
 * {"error":...}, with 200 (a job that ended with neither, e.g. cancelled,
 * answers {"error":"job <STATUS>"}). */
static void realtime(struct rp_emulator *e, const struct rp_httpd_request *req,
                     struct rp_httpd_response *res)
{
  struct rp_buf view = RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  char id[RP_JOBSTORE_ID_LEN + 1];
  struct rp_json_span out;
  struct rp_json_span er;
  struct rp_json_span st;
  int has_out;
  int has_err;
  int rc;
  if (!is(req->method, "POST")) {
    reply_error(res, 405, "method not allowed (POST)");
    return;
  }
  if (!submit(e, req, res, id))
    return;
  for (;;) {
    rp_buf_clear(&view);
    rc = rp_jobstore_view(e->js, id, RP_EMU_MAX_WAIT_MS, &view);
    if (rc != RP_OK) {
      reply_store(res, rc);
      goto out;
    }
    if (view_ended(&view))
      break;
    if (rp_jobstore_sleep(e->js, 0) != 0) {
      reply_error(res, 503, "server shutting down");
      goto out;
    }
  }
  has_out = rp_json_member(view.data, view.len, "output", &out) == 1;
  has_err = rp_json_member(view.data, view.len, "error", &er) == 1;
  res->status = 200;
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, "{");
  if (has_out) {
    rp_buf_puts(&res->body, "\"output\":");
    rp_buf_append(&res->body, out.p, out.n);
  }
  if (has_err) {
    rp_buf_puts(&res->body, has_out ? ",\"error\":" : "\"error\":");
    rp_buf_append(&res->body, er.p, er.n);
  } else if (!has_out &&
             rp_json_member(view.data, view.len, "status", &st) == 1) {
    rp_buf_printf(&res->body, "\"error\":\"job %.*s\"", (int)(st.n - 2),
                  st.p + 1);
  }
  rp_buf_puts(&res->body, "}");
out:
  rp_buf_free(&view);
}

/* The public listener: pages, control, realtime, then the endpoint's
 * routes under /v2/{endpoint}/ (any endpoint and the root too with
 * client_root; worker routes only without private_workers). */
static void handle(void *ud, const struct rp_httpd_request *req,
                   struct rp_httpd_response *res)
{
  struct rp_emulator *e = ud;
  char *seg[MAX_SEGS];
  char *path = strdup(req->path);
  int nseg;
  int wr;
  if (!path) {
    reply_error(res, 500, "out of memory");
    return;
  }
  nseg = split_path(path, seg);
  if (nseg == 0 && e->cfg.page_html) {
    page(req, res, e->cfg.page_html, "text/html; charset=utf-8");
  } else if (nseg == 1 && e->cfg.openapi_json &&
             strcmp(seg[0], "openapi.json") == 0) {
    page(req, res, e->cfg.openapi_json, "application/json");
  } else if (nseg > MAX_SEGS || nseg == 0) {
    reply_error(res, 404, "no such route");
  } else if (e->cfg.control && strcmp(seg[0], "_emulator") == 0) {
    control_route(e, req, res, seg, nseg);
  } else if (e->realtime && nseg == 2 && strcmp(seg[0], e->realtime) == 0 &&
             strcmp(seg[1], "realtime") == 0) {
    realtime(e, req, res);
  } else if (e->cfg.client_root && strcmp(seg[0], "v2") != 0) {
    client_route(e, req, res, seg, nseg);
  } else if (strcmp(seg[0], "v2") != 0 || nseg < 3) {
    reply_error(res, 404, "no such route");
  } else if (!e->cfg.client_root && strcmp(seg[1], e->endpoint) != 0) {
    reply_error(res, 404, "no such endpoint");
  } else if (!e->cfg.private_workers &&
             (wr = worker_route_index(seg[2])) >= 0) {
    worker_route(e, req, res, wr, seg + 2, nseg - 2);
  } else {
    client_route(e, req, res, seg + 2, nseg - 2);
  }
  free(path);
}

/* The private listener (private_workers): the worker routes only. */
static void handle_private(void *ud, const struct rp_httpd_request *req,
                           struct rp_httpd_response *res)
{
  struct rp_emulator *e = ud;
  char *seg[MAX_SEGS];
  char *path = strdup(req->path);
  int nseg;
  int wr = -1;
  if (!path) {
    reply_error(res, 500, "out of memory");
    return;
  }
  nseg = split_path(path, seg);
  if (nseg >= 3 && nseg <= MAX_SEGS && strcmp(seg[0], "v2") == 0 &&
      strcmp(seg[1], e->endpoint) == 0)
    wr = worker_route_index(seg[2]);
  if (wr >= 0)
    worker_route(e, req, res, wr, seg + 2, nseg - 2);
  else
    reply_error(res, 404, "no such route");
  free(path);
}

/* ---- life cycle ---- */

int rp_emulator_start(const struct rp_emulator_config *cfg,
                      struct rp_emulator **out, char *err, size_t errlen)
{
  struct rp_emulator *e = calloc(1, sizeof(*e));
  struct rp_jobstore_limits lim;
  struct rp_httpd_config hc;
  int rc = RP_ENOMEM;
  *out = NULL;
  if (!e)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  e->cfg = *cfg;
  e->host = strdup(cfg->host);
  e->endpoint = strdup(cfg->endpoint);
  if (cfg->api_key && *cfg->api_key) {
    size_t n = strlen(cfg->api_key) + 8;
    e->api_key = strdup(cfg->api_key);
    e->bearer = malloc(n);
    if (e->bearer)
      snprintf(e->bearer, n, "Bearer %s", cfg->api_key);
    if (!e->api_key || !e->bearer)
      goto fail;
  }
  if (cfg->log_max > 0) {
    e->log = calloc(cfg->log_max, sizeof(*e->log));
    if (!e->log)
      goto fail;
  }
  if (cfg->private_workers && cfg->worker_key && *cfg->worker_key) {
    e->worker_key = strdup(cfg->worker_key);
    if (!e->worker_key)
      goto fail;
  }
  if (cfg->realtime && *cfg->realtime) {
    e->realtime = strdup(cfg->realtime);
    if (!e->realtime)
      goto fail;
  }
  if (!e->host || !e->endpoint)
    goto fail;
  e->cfg.host = e->host;
  e->cfg.endpoint = e->endpoint;
  e->cfg.api_key = e->api_key;
  e->cfg.worker_key = e->worker_key;
  e->cfg.realtime = e->realtime;
  e->take_hold_ms = cfg->take_hold_ms;
  e->stop_hold_ms = cfg->stop_hold_ms;
  e->stream_hold_ms = cfg->stream_hold_ms;
  memcpy(e->faults, cfg->faults, sizeof(e->faults));
  seed_rng(e, cfg->seed);
  rp_netguard_init(&e->guard, cfg->allow_private_webhooks, NULL, NULL, 0);
  rp_jobstore_default_limits(&lim);
  lim.retain_ms = cfg->retain_ms;
  lim.retain_max = cfg->retain_max;
  lim.requeue_after_ms = cfg->requeue_after_ms;
  rc = rp_jobstore_new(&lim, &e->js);
  if (rc != RP_OK)
    goto fail;
  rp_jobstore_set_final_hook(e->js, webhook_enqueue, e);
  pthread_mutex_init(&e->mu, NULL);
  pthread_mutex_init(&e->wh_mu, NULL);
  pthread_cond_init(&e->wh_cv, NULL);
  if (pthread_create(&e->wh_thread, NULL, webhook_thread, e) != 0) {
    rc = RP_ENOMEM;
    goto fail;
  }
  e->wh_started = 1;
  memset(&hc, 0, sizeof(hc));
  hc.host = e->host;
  hc.port = cfg->port;
  hc.max_body = cfg->max_body;
  hc.timeout_s = cfg->timeout_s;
  hc.handler = handle;
  hc.ud = e;
  rc = rp_httpd_start(&hc, &e->httpd, err, errlen);
  if (rc != RP_OK) {
    rp_emulator_stop(e);
    return rc;
  }
  e->port = rp_httpd_port(e->httpd);
  e->worker_port = e->port;
  if (cfg->private_workers) {
    hc.host = "127.0.0.1";
    hc.port = 0;
    hc.max_body = 0;
    hc.timeout_s = 0;
    hc.handler = handle_private;
    rc = rp_httpd_start(&hc, &e->private_httpd, err, errlen);
    if (rc != RP_OK) {
      rp_emulator_stop(e);
      return rc;
    }
    e->worker_port = rp_httpd_port(e->private_httpd);
  }
  *out = e;
  return RP_OK;
fail:
  rp_emulator_stop(e);
  return rp_fail(rc, err, errlen, "out of memory");
}

int rp_emulator_port(const struct rp_emulator *e)
{
  return e->port;
}

int rp_emulator_worker_port(const struct rp_emulator *e)
{
  return e->worker_port;
}

void rp_emulator_print_env(const struct rp_emulator *e, FILE *f)
{
  const char *ep = e->endpoint;
  char base[512];
  snprintf(base, sizeof(base), "http://%s:%d", e->host, e->port);
  fprintf(f, "listening on %s\n", base);
  fprintf(f, "export RUNPOD_WEBHOOK_GET_JOB='%s/v2/%s/job-take/$ID"
          "?gpu=emulator'\n", base, ep);
  fprintf(f, "export RUNPOD_WEBHOOK_POST_OUTPUT='%s/v2/%s/job-done/"
          "$RUNPOD_POD_ID/$ID?gpu=emulator'\n", base, ep);
  fprintf(f, "export RUNPOD_WEBHOOK_POST_STREAM='%s/v2/%s/job-stream/"
          "$RUNPOD_POD_ID/$ID?gpu=emulator'\n", base, ep);
  fprintf(f, "export RUNPOD_WEBHOOK_PING='%s/v2/%s/ping/$RUNPOD_POD_ID"
          "?gpu=emulator'\n", base, ep);
  fprintf(f, "export RUNPOD_AI_API_KEY='%s'\n",
          e->api_key ? e->api_key : "");
  fprintf(f, "export RUNPOD_ENDPOINT_ID='%s'\n", ep);
  fprintf(f, "export RUNPOD_PING_INTERVAL='%ld'\n", e->cfg.ping_interval_ms);
  fflush(f);
}

void rp_emulator_stop(struct rp_emulator *e)
{
  size_t i;
  if (!e)
    return;
  /* Wake held requests and sleeping retries first, so that the server's
   * connection threads and the webhook thread can be joined. */
  if (e->js)
    rp_jobstore_close(e->js);
  if (e->wh_started) {
    pthread_mutex_lock(&e->wh_mu);
    e->wh_stop = 1;
    pthread_cond_broadcast(&e->wh_cv);
    pthread_mutex_unlock(&e->wh_mu);
    pthread_join(e->wh_thread, NULL);
  }
  rp_httpd_stop(e->httpd);
  rp_httpd_stop(e->private_httpd);
  while (e->wh_head) {
    struct webhook *w = e->wh_head;
    e->wh_head = w->next;
    free(w->url);
    free(w->body);
    free(w);
  }
  if (e->js) {
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->wh_mu);
    pthread_cond_destroy(&e->wh_cv);
  }
  rp_jobstore_free(e->js);
  if (e->log) {
    for (i = 0; i < e->log_count; i++)
      free(e->log[(e->log_head + i) % e->cfg.log_max]);
    free(e->log);
  }
  for (i = 0; i < e->sink_count; i++)
    free(e->sink[i]);
  free(e->last_ping);
  free(e->host);
  free(e->endpoint);
  free(e->api_key);
  free(e->bearer);
  free(e->worker_key);
  free(e->realtime);
  free(e);
}
