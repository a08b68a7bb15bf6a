/* emu_client.c - the emulator's client API: run, runsync, status,
 * status-sync, stream, cancel, retry, health and purge-queue under
 * /v2/{endpoint}/, and realtime (docs/api.md; emulator_int.h). */
#include "server/emulator_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"
#include "server/bearer.h"

struct run_ctx {
  struct rp_buf *extra;
  struct rp_json_span input;
  int has_input;
  struct rp_json_span webhook;
  int has_webhook;
  struct rp_json_span policy;
  int has_policy;
  struct rp_json_span id;
  int has_id;
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
  if (strcmp(key, "id") == 0) {
    c->id = val;           /* never copied: a second "id" in the job-take
                              object would hide the one the store sets */
    c->has_id = !rp_emu_is_null(val);
    return 0;
  }
  if (strcmp(key, "webhook") == 0) {
    /* null and "" are no webhook, as the Python SDK's Optional[str] that
     * it only posts to when set. */
    c->webhook = val;
    c->has_webhook = !rp_emu_is_null(val) &&
                     !(val.n == 2 && memcmp(val.p, "\"\"", 2) == 0);
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
  if (rp_json_member(policy.p, policy.n, name, &v) != 1 || rp_emu_is_null(v))
    return 1;
  if (rp_emu_whole_number(v.p, v.n, (double)RP_EMU_MAX_POLICY_MS, &x) == 0) {
    *ms = (long)x;
    return 1;
  }
  snprintf(field, sizeof(field), "policy.%s", name);
  rp_emu_reply_invalid(res, field, v.p, v.n,
                       "a whole number of ms in 0..604800000");
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
  if (rp_emu_is_null(policy))
    return 1;
  if (policy.p[0] != '{') {
    rp_emu_reply_error(res, 400, "invalid policy (must be an object)");
    return 0;
  }
  if (!policy_ms(policy, "executionTimeout", timeout, res) ||
      !policy_ms(policy, "ttl", &ttl, res))
    return 0;
  if (rp_json_member(policy.p, policy.n, "lowPriority", &v) == 1 &&
      !rp_emu_is_null(v) && rp_json_bool(v, &low) != RP_OK) {
    rp_emu_reply_error(res, 400, "invalid policy.lowPriority (must be true or "
                       "false)");
    return 0;
  }
  return 1;
}

/* Handles /run and /runsync: queues the job from the body. Returns the
 * new id in id (and 1), or answers an error and returns 0. */
/* The caller's job id: a JSON string of 1..RP_JOBSTORE_MAX_ID bytes
 * without NUL, malloc'ed into *as. Returns 1, or 0 after answering 400. */
static int caller_id(struct rp_json_span v, char **as,
                     struct rp_httpd_response *res)
{
  size_t len = 0;
  *as = NULL;
  if (rp_json_kind(v) != RP_JSON_STRING ||
      rp_json_string_dup(v, as, &len) != RP_OK || len == 0 ||
      len > RP_JOBSTORE_MAX_ID || memchr(*as, '\0', len)) {
    free(*as);
    *as = NULL;
    rp_emu_reply_error(res, 400, "invalid id (must be a string of 1 to 128 "
                       "bytes, no NUL)");
    return 0;
  }
  return 1;
}

int rp_emu_submit(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, char *id, int named)
{
  struct rp_buf extra = RP_BUF_INIT(SIZE_MAX / 2);
  char *as = NULL;
  struct run_ctx c;
  char url[RP_EMU_MAX_URL];
  char err[128];
  long timeout = 0;
  int rc;
  size_t bad;
  memset(&c, 0, sizeof(c));
  c.extra = &extra;
  /* JSON is UTF-8 (RFC 8259): the Python SDK's worker cannot decode a
   * job-take answer that is not, and drops the job (with the rest of its
   * batch), which would then stay IN_PROGRESS for good. */
  if ((bad = rp_json_utf8_bad(req->body, req->body_len)) < req->body_len) {
    snprintf(url, sizeof(url), "invalid JSON body (invalid UTF-8 at byte "
             "%zu)", bad);
    rp_emu_reply_error(res, 400, url);
    goto out;
  }
  /* The worker decodes the job-take object, which nests exactly as the
   * body: a body the codec refuses would leave its job IN_PROGRESS. */
  if (e->cfg.strict_input &&
      rp_json_check(req->body, req->body_len, err, sizeof(err)) == RP_EINVAL) {
    snprintf(url, sizeof(url), "invalid JSON body (%s)", err);
    rp_emu_reply_error(res, 400, url);
    goto out;
  }
  if (rp_json_each_member(req->body, req->body_len, run_member, &c) != 0) {
    rp_emu_reply_error(res, 400, "invalid JSON body (an object is expected)");
    goto out;
  }
  if (!c.has_input || rp_emu_is_null(c.input)) {
    /* A null input is none: the worker would have nothing to run. */
    rp_emu_reply_error(res, 400, "missing input");
    goto out;
  }
  if (c.has_webhook && (rp_json_string(c.webhook, url, sizeof(url)) != RP_OK ||
                        (strncmp(url, "http://", 7) != 0 &&
                         strncmp(url, "https://", 8) != 0))) {
    rp_emu_reply_error(res, 400, "webhook must be an http(s) URL string");
    goto out;
  }
  if (c.has_policy && !policy_valid(c.policy, &timeout, res))
    goto out;
  if (c.rc != RP_OK) {
    rp_emu_reply_store(res, c.rc);
    goto out;
  }
  if (named && c.has_id && !caller_id(c.id, &as, res))
    goto out;
  rc = rp_jobstore_submit_as(e->js, as, c.input.p, c.input.n,
                             extra.data ? extra.data : "", extra.len,
                             c.has_webhook ? url : NULL, timeout, id);
  if (rc == RP_ETOOBIG) {
    rp_emu_reply_error(res, 429, "queue full");
    goto out;
  }
  if (rc == RP_JOBSTORE_EEXIST) {
    rp_emu_reply_error(res, 409, "id in use: a job under it has not ended, "
                       "or was cancelled or timed out and may still run");
    goto out;
  }
  if (rc != RP_OK) {
    rp_emu_reply_store(res, rc);
    goto out;
  }
  rp_buf_free(&extra);
  free(as);
  return 1;
out:
  rp_buf_free(&extra);
  free(as);
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
                "\"running\":%lu,\"throttled\":0,\"unhealthy\":%lu}}",
                h.completed, h.failed, h.in_progress, h.in_queue, h.retried,
                h.workers_idle, h.workers_idle + h.workers_running,
                h.workers_running, h.workers_unhealthy);
}

/* Checks a client request's route and key: r is the route, nseg counts
 * it and the job id of the routes that take one. Returns 1, or 0 after
 * answering 404 or 401. */
static int client_allowed(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, const char *r,
                          int nseg)
{
  const char *auth = rp_httpd_header(req, "Authorization");
  int with_id = strcmp(r, "status") == 0 || strcmp(r, "status-sync") == 0 ||
                strcmp(r, "stream") == 0 || strcmp(r, "cancel") == 0 ||
                strcmp(r, "retry") == 0;
  int plain = strcmp(r, "run") == 0 || strcmp(r, "runsync") == 0 ||
              strcmp(r, "health") == 0 || strcmp(r, "purge-queue") == 0;
  if ((!with_id && !plain) || (with_id && nseg != 2) ||
      (plain && nseg != 1)) {
    rp_emu_reply_error(res, 404, "no such route");
    return 0;
  }
  if (e->bearer && !rp_bearer_is(auth, e->bearer)) {
    rp_emu_reply_error(res, 401, "unauthorized");
    return 0;
  }
  return 1;
}

#define ANSWERED 1   /* from a route below: res is filled in */

/* POST /run and /runsync: queues the body's job; /run answers its id,
 * /runsync holds until it ends (?wait=, ms) and answers its view.
 * Returns ANSWERED or the job store's code for the view. */
static int run(struct rp_emulator *e, const struct rp_httpd_request *req,
               struct rp_httpd_response *res, int sync)
{
  char id[RP_JOBSTORE_ID_LEN + 1];
  long hold = 0;
  if (!rp_emu_method_ok(req, res, "POST", NULL))
    return ANSWERED;
  if (sync && rp_emu_arg_number(req, res, "wait", RP_EMU_DEFAULT_WAIT_MS,
                                RP_EMU_MAX_WAIT_MS, &hold) != 0)
    return ANSWERED;
  if (!rp_emu_submit(e, req, res, id, 0))
    return ANSWERED;
  res->status = 200;
  if (!sync) {
    rp_buf_printf(&res->body, "{\"id\":\"%s\",\"status\":\"IN_QUEUE\"}",
                  id);
    return ANSWERED;
  }
  return rp_jobstore_view(e->js, id, hold, &res->body);
}

/* GET or POST /status/{id}, GET /status-sync/{id} (holds until the job
 * ends, ?wait=): the job's view. Returns as run(). */
static int status(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, const char *id, int sync)
{
  long hold = 0;
  if (!rp_emu_method_ok(req, res, "GET", sync ? NULL : "POST"))
    return ANSWERED;
  if (sync && rp_emu_arg_number(req, res, "wait", RP_EMU_DEFAULT_WAIT_MS,
                                RP_EMU_MAX_WAIT_MS, &hold) != 0)
    return ANSWERED;
  return rp_jobstore_view(e->js, id, hold, &res->body);
}

/* GET or POST /stream/{id}: the chunks not delivered yet, held up to
 * stream_hold_ms. Returns as run(). */
static int stream(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, const char *id)
{
  long hold;
  if (!rp_emu_method_ok(req, res, "GET", "POST"))
    return ANSWERED;
  pthread_mutex_lock(&e->mu);
  hold = e->stream_hold_ms;
  pthread_mutex_unlock(&e->mu);
  return rp_jobstore_stream_read(e->js, id, hold, &res->body);
}

/* POST /retry/{id}: queues a FAILED or TIMED_OUT job again under its id;
 * any other status is 400. Returns as run(). */
static int retry(struct rp_emulator *e, struct rp_httpd_response *res,
                 const char *id)
{
  const char *st = "";
  char msg[128];
  int rc = rp_jobstore_retry(e->js, id, &res->body, &st);
  if (rc != RP_JOBSTORE_ESTATE)
    return rc;
  if (strcmp(st, "FAILED") == 0 || strcmp(st, "TIMED_OUT") == 0)
    snprintf(msg, sizeof(msg), "a realtime job cannot be retried");
  else
    snprintf(msg, sizeof(msg), "job is %s: only a FAILED or TIMED_OUT job "
             "can be retried", st);
  rp_emu_reply_error(res, 400, msg);
  return ANSWERED;
}

void rp_emu_client_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, char **seg, int nseg)
{
  const char *r = seg[0];
  const char *id = nseg > 1 ? seg[1] : NULL;
  int rc = ANSWERED;
  if (!client_allowed(e, req, res, r, nseg))
    return;
  if (strcmp(r, "run") == 0 || strcmp(r, "runsync") == 0) {
    rc = run(e, req, res, r[3] == 's');
  } else if (strcmp(r, "status") == 0 || strcmp(r, "status-sync") == 0) {
    rc = status(e, req, res, id, r[6] == '-');
  } else if (strcmp(r, "stream") == 0) {
    rc = stream(e, req, res, id);
  } else if (strcmp(r, "cancel") == 0) {
    if (rp_emu_method_ok(req, res, "POST", NULL))
      rc = rp_jobstore_cancel(e->js, id, &res->body);
  } else if (strcmp(r, "retry") == 0) {
    if (rp_emu_method_ok(req, res, "POST", NULL))
      rc = retry(e, res, id);
  } else if (strcmp(r, "health") == 0) {
    if (rp_emu_method_ok(req, res, "GET", NULL))
      health(e, res);
  } else if (rp_emu_method_ok(req, res, "POST", NULL)) {  /* purge-queue */
    res->status = 200;
    rp_buf_printf(&res->body, "{\"removed\":%zu,\"status\":\"completed\"}",
                  rp_jobstore_purge(e->js));
  }
  if (rc == ANSWERED)
    return;
  if (rc != RP_OK)
    rp_emu_reply_store(res, rc);
  else
    res->status = 200;
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

/* How often a realtime request held for its job looks whether its
 * client is still there. */
#define REALTIME_LOOK_MS 1000

/* POST /{endpoint}/realtime: queues the body's job like /run, holds until
 * it ends and answers the normalised result, {"output":...} and/or
 * {"error":...}, with 200, as the Python SDK's run_job() result: a job
 * that completed with neither (the handler returned an empty table)
 * answers {}; one that ended otherwise with neither (cancelled, timed
 * out) answers {"error":"job <STATUS>"}. A client that goes away has its
 * job cancelled. */
void rp_emu_realtime(struct rp_emulator *e, const struct rp_httpd_request *req,
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
  if (!rp_emu_is(req->method, "POST")) {
    rp_emu_reply_error(res, 405, "method not allowed (POST)");
    return;
  }
  if (!rp_emu_submit(e, req, res, id, 1))
    return;
  for (;;) {
    rp_buf_clear(&view);
    rc = rp_jobstore_view(e->js, id, REALTIME_LOOK_MS, &view);
    if (rc != RP_OK) {
      rp_emu_reply_store(res, rc);
      goto out;
    }
    if (view_ended(&view))
      break;
    if (rp_jobstore_sleep(e->js, 0) != 0) {
      rp_emu_reply_error(res, 503, "server shutting down");
      goto out;
    }
    if (rp_httpd_client_gone(req)) {
      /* Nobody to answer: the job is cancelled, the thread let go. */
      rp_buf_clear(&view);
      rp_jobstore_cancel(e->js, id, &view);
      res->status = 0;
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
             rp_json_member(view.data, view.len, "status", &st) == 1 &&
             !(st.n == 11 && memcmp(st.p, "\"COMPLETED\"", 11) == 0)) {
    rp_buf_printf(&res->body, "\"error\":\"job %.*s\"", (int)(st.n - 2),
                  st.p + 1);
  }
  rp_buf_puts(&res->body, "}");
out:
  rp_buf_free(&view);
}
