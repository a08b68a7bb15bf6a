/* emulator.c - see emulator.h: the life cycle, the dispatch of a request
 * to the face that serves it, and the answers every face uses (the files
 * of the emulator: emulator_int.h). */
#include "server/emulator_int.h"
#include "server/openai.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "net/netguard.h"
#include "base/rp.h"

/* ---- answers and arguments ---- */

#define MAX_NUMBER_TEXT 64   /* longer number texts are refused */

/* Reads the text [s, s+n) as a JSON number (rp_json_number) whose value
 * is whole and within [0, max]. Returns 0 and *out, or -1: not a JSON number,
 * negative, fractional, above max (HUGE_VAL: no limit), or longer than
 * MAX_NUMBER_TEXT. */
int rp_emu_whole_number(const char *s, size_t n, double max, double *out)
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
int rp_emu_is_null(struct rp_json_span v)
{
  return rp_json_kind(v) == RP_JSON_NULL;
}

void rp_emu_reply(struct rp_httpd_response *res, int status,
                  const char *json)
{
  res->status = status;
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, json);
}

void rp_emu_reply_error(struct rp_httpd_response *res, int status,
                        const char *msg)
{
  res->status = status;
  rp_buf_clear(&res->body);
  rp_buf_puts(&res->body, "{\"error\":");
  rp_json_put_string(&res->body, msg, strlen(msg));
  rp_buf_puts(&res->body, "}");
}

/* Maps a store error to an answer. */
void rp_emu_reply_store(struct rp_httpd_response *res, int rc)
{
  if (rc == RP_JOBSTORE_ENOENT)
    rp_emu_reply_error(res, 404, "job not found");
  else if (rc == RP_ETOOBIG)
    rp_emu_reply_error(res, 413, "too large");
  else
    rp_emu_reply_error(res, 500, "out of memory");
}

#define NO_KEY "emulator"     /* RUNPOD_AI_API_KEY printed without --api-key */
#define MAX_ECHO 24          /* longest number text an error repeats */
/* How long the local API server, stopping, lets answers in progress go out. */
#define DRAIN_MS 5000

/* Answers 400 "invalid NAME VALUE (must be RULE)". The value [v, v+n) is
 * repeated only when it is short and made of number characters (JSON
 * text or a query argument); anything else is named by its kind, so an
 * error answer never carries a client's strings (an API key, say). */
void rp_emu_reply_invalid(struct rp_httpd_response *res, const char *name,
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
  rp_emu_reply_error(res, 400, msg);
}

int rp_emu_is(const char *method, const char *want)
{
  return strcmp(method, want) == 0;
}

int rp_emu_method_ok(const struct rp_httpd_request *req,
                     struct rp_httpd_response *res, const char *want,
                     const char *also)
{
  char msg[64];
  if (rp_emu_is(req->method, want) || (also && rp_emu_is(req->method, also)))
    return 1;
  snprintf(msg, sizeof(msg), "method not allowed (%s%s%s)", want,
           also ? ", " : "", also ? also : "");
  rp_emu_reply_error(res, 405, msg);
  return 0;
}

/* A query argument bounding a wait or a count: a JSON number with a
 * whole value >= 0, capped at max (RunPod caps wait the same way); def
 * when absent or empty. Returns 0 and *out, or -1 after answering 400. */
int rp_emu_arg_number(const struct rp_httpd_request *req,
                      struct rp_httpd_response *res, const char *name,
                      long def, long max, long *out)
{
  const char *s = rp_httpd_arg(req, name);
  double v;
  if (!s || !*s) {
    *out = def;
    return 0;
  }
  if (rp_emu_whole_number(s, strlen(s), HUGE_VAL, &v) != 0) {
    rp_emu_reply_invalid(res, name, s, strlen(s), "a whole number >= 0");
    return -1;
  }
  *out = v >= (double)max ? max : (long)v;
  return 0;
}

/* ---- dispatch ---- */

/* The deepest paths: OpenAI's /v1/threads/{t}/runs/{r}/steps/{s} under
 * /v2/{endpoint}/openai is 10. */
#define MAX_SEGS 16

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

/* Splits the raw path into at most MAX_SEGS segments of the (modified)
 * copy, each percent-decoded after the split: "job-done/w/a%2Fb" has the
 * id "a/b". Returns the count, or MAX_SEGS + 1 when there are more. */
static int split_path(char *path, char **seg)
{
  char *save = NULL;
  char *tok;
  int nseg = 0;
  for (tok = strtok_r(path, "/", &save); tok;
       tok = strtok_r(NULL, "/", &save)) {
    if (nseg == MAX_SEGS)
      return MAX_SEGS + 1;
    tok[rp_httpd_unescape(tok, strlen(tok), 0)] = '\0';
    seg[nseg++] = tok;
  }
  return nseg;
}

/* Where the "openai" segment of the OpenAI routes is in seg: 0 at the
 * root (with client_root), 2 under /v2/{endpoint}/ (any endpoint: a
 * client given another one reads OpenAI's 404 too), or -1. seg holds the
 * first MAX_SEGS of nseg segments (split_path). */
static int openai_at(const struct rp_emulator *e, char **seg, int nseg)
{
  if (e->realtime && nseg == 2 && strcmp(seg[0], e->realtime) == 0 &&
      strcmp(seg[1], "realtime") == 0)
    return -1;
  if (nseg >= 1 && e->cfg.client_root && strcmp(seg[0], "openai") == 0)
    return 0;
  if (nseg >= 3 && strcmp(seg[0], "v2") == 0 && strcmp(seg[2], "openai") == 0)
    return 2;
  return -1;
}

/* What httpd refuses itself (413, 400 "invalid path"): on the OpenAI
 * routes OpenAI's error object with the same message, which the OpenAI
 * clients read. */
static void refused(void *ud, const struct rp_httpd_request *req,
                    struct rp_httpd_response *res)
{
  struct rp_emulator *e = ud;
  char *seg[MAX_SEGS];
  char *path = strdup(req->path);
  struct rp_json_span v;
  char msg[128];
  if (path && openai_at(e, seg, split_path(path, seg)) >= 0 &&
      rp_json_member(res->body.data, res->body.len, "error", &v) == 1 &&
      rp_json_string(v, msg, sizeof(msg)) == RP_OK)
    rp_openai_reply_error(res, res->status, "invalid_request_error", NULL,
                          msg);
  free(path);
}

/* GET / and GET /openapi.json: the static texts of the config. */
static void page(const struct rp_httpd_request *req,
                 struct rp_httpd_response *res, const char *text,
                 const char *type)
{
  if (!rp_emu_is(req->method, "GET") && !rp_emu_is(req->method, "HEAD")) {
    rp_emu_reply_error(res, 405, "method not allowed (GET)");
    return;
  }
  rp_emu_reply(res, 200, text);
  res->content_type = type;
}

/* GET /docs: 307 to the page, as the Python SDK's FastAPI server answers
 * (its users know the docs under /docs). */
static void docs(const struct rp_httpd_request *req,
                 struct rp_httpd_response *res)
{
  if (!rp_emu_is(req->method, "GET") && !rp_emu_is(req->method, "HEAD")) {
    rp_emu_reply_error(res, 405, "method not allowed (GET)");
    return;
  }
  res->status = 307;
  res->location = "/";
}

/* The listener: pages, the OpenAI routes, control, realtime, then the
 * endpoint's routes under /v2/{endpoint}/ (any endpoint and the root too
 * with client_root; worker routes only without in_process_worker). */
static void handle(void *ud, const struct rp_httpd_request *req,
                   struct rp_httpd_response *res)
{
  struct rp_emulator *e = ud;
  char *seg[MAX_SEGS];
  char *path = strdup(req->path);
  int nseg;
  int wr;
  int at;
  if (!path) {
    rp_emu_reply_error(res, 500, "out of memory");
    return;
  }
  nseg = split_path(path, seg);
  at = openai_at(e, seg, nseg);
  if (nseg == 0 && e->cfg.page_html) {
    page(req, res, e->cfg.page_html, "text/html; charset=utf-8");
  } else if (nseg == 1 && e->cfg.openapi_json &&
             strcmp(seg[0], "openapi.json") == 0) {
    page(req, res, e->cfg.openapi_json, "application/json");
  } else if (nseg == 1 && e->cfg.page_html && strcmp(seg[0], "docs") == 0) {
    docs(req, res);
  } else if (at >= 0 && nseg <= MAX_SEGS &&
             (at == 0 || e->cfg.client_root ||
              strcmp(seg[1], e->endpoint) == 0)) {
    rp_openai_route(e->js, e->bearer, req, res, seg + at, nseg - at);
  } else if (at >= 0) {
    rp_openai_reply_invalid_url(req, res);  /* too deep, another endpoint */
  } else if (nseg > MAX_SEGS || nseg == 0) {
    rp_emu_reply_error(res, 404, "no such route");
  } else if (e->cfg.control && strcmp(seg[0], "_emulator") == 0) {
    rp_emu_control_route(e, req, res, seg, nseg);
  } else if (e->realtime && nseg == 2 && strcmp(seg[0], e->realtime) == 0 &&
             strcmp(seg[1], "realtime") == 0) {
    rp_emu_realtime(e, req, res);
  } else if (e->cfg.client_root && strcmp(seg[0], "v2") != 0) {
    rp_emu_client_route(e, req, res, seg, nseg);
  } else if (strcmp(seg[0], "v2") != 0 || nseg < 3) {
    rp_emu_reply_error(res, 404, "no such route");
  } else if (!e->cfg.client_root && strcmp(seg[1], e->endpoint) != 0) {
    rp_emu_reply_error(res, 404, "no such endpoint");
  } else if (!e->cfg.in_process_worker &&
             (wr = worker_route_index(seg[2])) >= 0) {
    rp_emu_worker_route(e, req, res, wr, seg + 2, nseg - 2);
  } else {
    rp_emu_client_route(e, req, res, seg + 2, nseg - 2);
  }
  free(path);
}

/* ---- life cycle ---- */

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

/* Copies cfg into e, with copies of its strings (e->cfg points at them).
 * Returns RP_OK or RP_ENOMEM. */
static int copy_config(struct rp_emulator *e,
                       const struct rp_emulator_config *cfg)
{
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
      return RP_ENOMEM;
  }
  if (cfg->realtime && *cfg->realtime) {
    e->realtime = strdup(cfg->realtime);
    if (!e->realtime)
      return RP_ENOMEM;
  }
  if (!e->host || !e->endpoint)
    return RP_ENOMEM;
  e->cfg.host = e->host;
  e->cfg.endpoint = e->endpoint;
  e->cfg.api_key = e->api_key;
  e->cfg.realtime = e->realtime;
  return RP_OK;
}

/* Starts the listener. Returns RP_OK or httpd's error, with a message in
 * err. */
static int start_listener(struct rp_emulator *e,
                      const struct rp_emulator_config *cfg, char *err,
                      size_t errlen)
{
  struct rp_httpd_config hc;
  int rc;
  memset(&hc, 0, sizeof(hc));
  hc.host = e->host;
  hc.port = cfg->port;
  hc.max_body = cfg->max_body;
  hc.timeout_s = cfg->timeout_s;
  hc.handler = handle;
  hc.refused = refused;
  hc.ud = e;
  rc = rp_httpd_start(&hc, &e->httpd, err, errlen);
  if (rc != RP_OK)
    return rc;
  e->port = rp_httpd_port(e->httpd);
  return RP_OK;
}

int rp_emulator_start(const struct rp_emulator_config *cfg,
                      struct rp_emulator **out, char *err, size_t errlen)
{
  struct rp_emulator *e = calloc(1, sizeof(*e));
  struct rp_jobstore_limits lim;
  int rc;
  *out = NULL;
  if (!e)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  rc = copy_config(e, cfg);
  if (rc == RP_OK && cfg->log_max > 0) {
    e->log = calloc(cfg->log_max, sizeof(*e->log));
    if (!e->log)
      rc = RP_ENOMEM;
  }
  if (rc != RP_OK)
    goto fail;
  e->take_hold_ms = cfg->take_hold_ms;
  e->stop_hold_ms = cfg->stop_hold_ms;
  e->stream_hold_ms = cfg->stream_hold_ms;
  memcpy(e->faults, cfg->faults, sizeof(e->faults));
  rp_emu_seed_rng(e, cfg->seed);
  rp_netguard_init(&e->guard, cfg->allow_private_webhooks, NULL, NULL, 0);
  rp_jobstore_default_limits(&lim);
  lim.retain_ms = cfg->retain_ms;
  lim.retain_max = cfg->retain_max;
  lim.requeue_after_ms = cfg->requeue_after_ms;
  rc = rp_jobstore_new(&lim, &e->js);
  if (rc != RP_OK)
    goto fail;
  rp_jobstore_set_final_hook(e->js, rp_emu_webhook_enqueue, e);
  pthread_mutex_init(&e->mu, NULL);
  rc = rp_emu_webhooks_start(e);
  if (rc != RP_OK)
    goto fail;
  rc = start_listener(e, cfg, err, errlen);
  if (rc != RP_OK) {
    rp_emulator_stop(e);
    return rc;
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
  /* RunPod always sets a key, and workers (runpod-worker, RunPod's Python
   * SDK) send heartbeats only with one: without --api-key any key is
   * accepted, so a placeholder keeps them pinging as on RunPod. */
  fprintf(f, "export RUNPOD_AI_API_KEY='%s'\n",
          e->api_key ? e->api_key : NO_KEY);
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
  /* The local API server: the answers of jobs that just ended (a pod
   * refresh, SIGTERM) and the 503s of requests still queued go out
   * before the connections close. */
  if (e->cfg.in_process_worker)
    rp_httpd_drain(e->httpd, DRAIN_MS);
  rp_emu_webhooks_stop(e);
  rp_httpd_stop(e->httpd);
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
  free(e->realtime);
  free(e);
}
