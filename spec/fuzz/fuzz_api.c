/*
 * spec/fuzz/fuzz_api.c - libFuzzer target: request handling of the local
 * API server and of bin/runpod-emulator (runtime/server/emulator.c: routing,
 * methods, authentication, the JSON scanner on bodies, the job store
 * behind it, the request log).
 *
 * libmicrohttpd is bypassed: this file is the httpd.h unit. Its
 * rp_httpd_start() keeps the route callback, and each input is parsed
 * here into one request and handed to that callback on this thread, the
 * way httpd.c does after collecting a body. Two servers are started:
 * the emulator binary's defaults (with the control API) and the local API
 * server (api.c's config, an API key); a third selector drives the local
 * API server's worker API in process (rp_emulator_take, _stops and
 * _deliver, as its job loop calls them: a GET path naming job-stop polls
 * the stops, another GET takes a job, a POST delivers the body to the
 * path's last segment as job id, a stream when the path names
 * job-stream). Input: one selector byte (which server), then
 *   METHOD SP PATH[?QUERY] LF (NAME: VALUE LF)* LF BODY
 * with the path handed over raw (the route decodes its segments, as with
 * httpd.c) and %XX decoded in the query like libmicrohttpd does.
 *
 * Holds are not fuzzed (this thread would block): the long polls are
 * configured to 0 ms, ?wait= always reads as 0 (also when absent), ?count= (bulk submit) is
 * capped at 8, and requests to /_emulator/faults (which set holds and
 * delays) are skipped. Every 256 inputs the queues are purged so memory
 * stays flat. Checked: no crash, leak or sanitizer report; the status is
 * 0 or 100..599; an error answer is a JSON object {"error":...} and never
 * contains an API key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/codec.h"
#include "base/json.h"
#include "server/emulator.h"
#include "server/httpd.h"
#include "base/rp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define API_KEY "sekret-api-key"
#define MAX_FIELDS 64
#define MAX_INPUT 16384

/* ---- a stand-in httpd.h ---- */

struct rp_httpd {
  rp_httpd_handler handler;
  void *ud;
  int port;
};

struct MHD_Connection {
  int nheaders;
  char *hname[MAX_FIELDS];
  char *hvalue[MAX_FIELDS];
  int nargs;
  char *akey[MAX_FIELDS];
  char *avalue[MAX_FIELDS];        /* NULL: a key without '=' */
  char *query;                     /* raw, "" when none */
};

static struct rp_httpd *servers[2];
static int nservers;
static struct rp_emulator *api;    /* the local API server's */

int rp_httpd_start(const struct rp_httpd_config *cfg, struct rp_httpd **out,
                   char *err, size_t errlen)
{
  struct rp_httpd *h = calloc(1, sizeof(*h));
  (void)err;
  (void)errlen;
  if (!h || nservers == 2)
    abort();
  h->handler = cfg->handler;
  h->ud = cfg->ud;
  h->port = 10000 + nservers;
  servers[nservers++] = h;
  *out = h;
  return RP_OK;
}

int rp_httpd_port(const struct rp_httpd *h)
{
  return h->port;
}

void rp_httpd_drain(struct rp_httpd *h, long max_ms)
{
  (void)h;
  (void)max_ms;
}

void rp_httpd_stop(struct rp_httpd *h)
{
  (void)h;                         /* the servers live for the process */
}

const char *rp_httpd_header(const struct rp_httpd_request *req,
                            const char *name)
{
  const struct MHD_Connection *c = req->conn;
  for (int i = 0; i < c->nheaders; i++)
    if (strcasecmp(c->hname[i], name) == 0)
      return c->hvalue[i];
  return NULL;
}

const char *rp_httpd_arg(const struct rp_httpd_request *req,
                         const char *name)
{
  const struct MHD_Connection *c = req->conn;
  if (strcmp(name, "wait") == 0)
    return "0";                    /* also when absent (default 90 s) */
  for (int i = 0; i < c->nargs; i++) {
    if (strcmp(c->akey[i], name) != 0)
      continue;
    if (strcmp(name, "count") == 0 && c->avalue[i] &&
        strtol(c->avalue[i], NULL, 10) > 8)
      return "8";
    return c->avalue[i] ? c->avalue[i] : "";
  }
  return NULL;
}

int rp_httpd_raw_arg(const struct rp_httpd_request *req, const char *name,
                     const char **value, size_t *len)
{
  size_t nl = strlen(name);
  for (const char *p = req->query; *p;) {
    size_t n = strcspn(p, "&");
    size_t k = strcspn(p, "=&");
    if (k == nl && memcmp(p, name, nl) == 0) {
      *value = p + (k < n ? k + 1 : k);
      *len = k < n ? n - k - 1 : 0;
      return 1;
    }
    p += n + (p[n] == '&');
  }
  return 0;
}

size_t rp_httpd_unescape(char *s, size_t n, int plus)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char byte;
    size_t bad;
    if (s[i] == '%' && i + 2 < n &&
        rp_hex_decode(s + i + 1, 2, &byte, &bad) == RP_OK) {
      s[o++] = (char)byte;
      i += 2;
    } else {
      s[o++] = plus && s[i] == '+' ? ' ' : s[i];
    }
  }
  return o;
}

int rp_httpd_client_gone(const struct rp_httpd_request *req)
{
  (void)req;
  return 1;                        /* an OpenAI route never holds */
}

int rp_httpd_query(const struct rp_httpd_request *req, struct rp_buf *out)
{
  const struct MHD_Connection *c = req->conn;
  int rc = RP_OK;
  for (int i = 0; i < c->nargs && rc == RP_OK; i++) {
    if (i > 0)
      rc = rp_buf_puts(out, "&");
    if (rc == RP_OK)
      rc = rp_buf_puts(out, c->akey[i]);
    if (rc == RP_OK && c->avalue[i]) {
      rc = rp_buf_puts(out, "=");
      if (rc == RP_OK)
        rc = rp_buf_puts(out, c->avalue[i]);
    }
  }
  return rc;
}

/* ---- the request ---- */

static char *copy(const char *p, size_t n)
{
  char *s = malloc(n + 1);
  if (!s)
    abort();
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* A NUL-terminated, %XX-decoded copy of p[0..n) (a %00 ends it early,
 * as in libmicrohttpd's C strings). */
static char *decoded(const char *p, size_t n, int plus)
{
  char *s = copy(p, n);
  s[rp_httpd_unescape(s, n, plus)] = '\0';
  return s;
}

static void parse_query(struct MHD_Connection *c, const char *q, size_t n)
{
  while (n > 0 && c->nargs < MAX_FIELDS) {
    const char *amp = memchr(q, '&', n);
    size_t len = amp ? (size_t)(amp - q) : n;
    const char *eq = memchr(q, '=', len);
    if (len > 0) {
      c->akey[c->nargs] = decoded(q, eq ? (size_t)(eq - q) : len, 1);
      c->avalue[c->nargs] =
        eq ? decoded(eq + 1, len - (size_t)(eq + 1 - q), 1) : NULL;
      c->nargs++;
    }
    q += amp ? len + 1 : len;
    n -= amp ? len + 1 : len;
  }
}

static void free_conn(struct MHD_Connection *c)
{
  for (int i = 0; i < c->nheaders; i++) {
    free(c->hname[i]);
    free(c->hvalue[i]);
  }
  for (int i = 0; i < c->nargs; i++) {
    free(c->akey[i]);
    free(c->avalue[i]);
  }
  free(c->query);
}

/* Whether the n bytes at p hold the servers' API key (the fuzzer's
 * "sekret-api-key"). */
static int has_key(const char *p, size_t n)
{
  static const char key[] = "sekret";
  for (size_t i = 0; p && i + sizeof(key) - 1 <= n; i++)
    if (memcmp(p + i, key, sizeof(key) - 1) == 0)
      return 1;
  return 0;
}

/* Runs one request on server s and checks the answer: a valid status,
 * and an error as {"error": ...} that never shows the API key, but where
 * the request's own method, path, query or body held it (OpenAI's 404
 * names the method and path as sent). */
static void serve(int s, const char *method, const char *path,
                  struct MHD_Connection *c, const char *body, size_t blen)
{
  struct rp_httpd_request req;
  struct rp_httpd_response res;
  req.conn = c;
  req.method = method;
  req.path = path;
  req.query = c->query ? c->query : "";
  req.body = body;
  req.body_len = blen;
  res.status = 500;
  res.content_type = NULL;
  res.trickle_ms = 0;
  res.cut = 0;
  res.stream = NULL;
  res.stream_free = NULL;
  res.stream_ud = NULL;
  res.body = (struct rp_buf)RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  servers[s]->handler(servers[s]->ud, &req, &res);
  if (res.stream_free)
    res.stream_free(res.stream_ud);
  if (res.status != 0 && (res.status < 100 || res.status > 599))
    abort();
  if (res.status >= 400) {
    const char *b = res.body.data ? res.body.data : "";
    int sent = has_key(method, strlen(method)) ||
               has_key(path, strlen(path)) ||
               has_key(req.query, strlen(req.query)) || has_key(body, blen);
    if (strncmp(b, "{\"error\":", 9) != 0 || (strstr(b, "sekret") && !sent))
      abort();
  }
  rp_buf_free(&res.body);
}

static void setup(void)
{
  struct rp_emulator_config cfg;
  struct rp_emulator *e;
  char err[256];
  rp_emulator_default_config(&cfg);
  cfg.take_hold_ms = cfg.stop_hold_ms = cfg.stream_hold_ms = 0;
  cfg.requeue_after_ms = 1000;
  cfg.retain_ms = 1000;
  cfg.retain_max = 64;
  cfg.log_max = 32;
  if (rp_emulator_start(&cfg, &e, err, sizeof(err)) != RP_OK)
    abort();
  /* api.c's configuration. */
  rp_emulator_default_config(&cfg);
  cfg.take_hold_ms = cfg.stop_hold_ms = cfg.stream_hold_ms = 0;
  cfg.requeue_after_ms = 1000;
  cfg.retain_ms = 1000;
  cfg.retain_max = 64;
  cfg.endpoint = "local";
  cfg.api_key = API_KEY;
  cfg.max_body = 1 << 20;
  cfg.log_max = 0;
  cfg.control = 0;
  cfg.client_root = 1;
  cfg.in_process_worker = 1;
  cfg.page_html = "<html></html>";
  cfg.openapi_json = "{}";
  if (rp_emulator_start(&cfg, &api, err, sizeof(err)) != RP_OK)
    abort();
}

/* The local API server's worker API in process (see the top). */
static void in_process(const char *method, const char *path,
                       const char *body, size_t blen)
{
  struct rp_buf out = RP_BUF_INIT(RP_HTTPD_MAX_RESPONSE);
  const char *id = strrchr(path, '/');
  const char *msg = NULL;
  int rc;
  if (strcmp(method, "POST") == 0) {
    rc = rp_emulator_deliver(api, "w", id ? id + 1 : path,
                             strstr(path, "job-stream") ? RP_EMU_POST_STREAM
                             : strstr(path, "progress") ? RP_EMU_POST_PROGRESS
                             : RP_EMU_POST_RESULT, body, blen, &msg);
    if (rc != 200 && (rc < 400 || rc > 599 || !msg))
      abort();
  } else if (strstr(path, "job-stop")) {
    rc = rp_emulator_stops(api, "w", &out);
    if (rc < 0 || (rc > 0 && !rp_json_valid(out.data, out.len)))
      abort();
  } else {
    rc = rp_emulator_take(api, "w", &out);
    if (rc < 0 || (rc > 0 && !rp_json_valid(out.data, out.len)))
      abort();
  }
  rp_buf_free(&out);
}

static void purge(void)
{
  static const char *const paths[2] = {
    "/v2/emulator/purge-queue", "/purge-queue"
  };
  struct MHD_Connection c;
  memset(&c, 0, sizeof(c));
  for (int s = 0; s < 2; s++)
    serve(s, "POST", paths[s], &c, "", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static unsigned long runs;
  struct MHD_Connection c;
  const char *p = (const char *)data + 1;
  const char *end = (const char *)data + size;
  const char *nl;
  const char *sp;
  const char *q;
  char *method;
  char *path;
  char *body;
  int s;
  if (size < 1 || size > MAX_INPUT)
    return 0;
  if (!nservers)
    setup();
  if (++runs % 256 == 0)
    purge();
  s = data[0] % 3;         /* 2: in process */
  memset(&c, 0, sizeof(c));
  nl = memchr(p, '\n', (size_t)(end - p));
  if (!nl)
    nl = end;
  sp = memchr(p, ' ', (size_t)(nl - p));
  if (!sp)
    return 0;
  method = copy(p, (size_t)(sp - p));
  q = memchr(sp + 1, '?', (size_t)(nl - sp - 1));
  path = copy(sp + 1, (size_t)((q ? q : nl) - sp - 1));
  if (q) {
    parse_query(&c, q + 1, (size_t)(nl - q - 1));
    c.query = copy(q + 1, (size_t)(nl - q - 1));
  }
  p = nl < end ? nl + 1 : end;
  while (p < end && *p != '\n') {
    const char *colon;
    nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      nl = end;
    colon = memchr(p, ':', (size_t)(nl - p));
    if (colon && c.nheaders < MAX_FIELDS) {
      const char *v = colon + 1;
      while (v < nl && *v == ' ')
        v++;
      c.hname[c.nheaders] = copy(p, (size_t)(colon - p));
      c.hvalue[c.nheaders] = copy(v, (size_t)(nl - v));
      c.nheaders++;
    }
    p = nl < end ? nl + 1 : end;
  }
  if (p < end)
    p++;                           /* the empty line */
  body = copy(p, (size_t)(end - p));
  if (s == 2)
    in_process(method, path, body, (size_t)(end - p));
  else if (!strstr(path, "faults"))
    serve(s, method, path, &c, body, (size_t)(end - p));
  free(body);
  free(path);
  free(method);
  free_conn(&c);
  return 0;
}
