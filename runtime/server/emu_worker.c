/* emu_worker.c - the emulator's worker API: job-take, job-take-batch,
 * job-done, job-stream, ping and job-stop under /v2/{endpoint}/ (docs/
 * emulator.md, "Worker API"; emulator_int.h). */
#include "server/emulator_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

/* Appends the ping's job_id list as a JSON array. A raw value that holds
 * a ',' is split there and each item decoded on its own (an id may hold a
 * ',' as "%2C"); one that holds none is decoded whole and then split at
 * ',', as RunPod's Python SDK sends its list form-encoded ("a%2Cb"). */
static int put_ping_ids(struct rp_buf *b, const struct rp_httpd_request *req)
{
  const char *raw;
  size_t len;
  char *copy;
  size_t i = 0;
  int rc;
  int whole;
  if (!rp_httpd_raw_arg(req, "job_id", &raw, &len))
    return rp_buf_puts(b, "null");
  copy = strndup(raw, len);
  if (!copy)
    return RP_ENOMEM;
  whole = memchr(raw, ',', len) == NULL;
  if (whole)
    len = rp_httpd_unescape(copy, len, 1);
  rc = rp_buf_puts(b, "[");
  while (rc == RP_OK && len > 0 && i <= len) {
    const char *comma = memchr(copy + i, ',', len - i);
    size_t n = comma ? (size_t)(comma - (copy + i)) : len - i;
    if (i > 0)
      rc = rp_buf_puts(b, ",");
    if (rc == RP_OK)
      rc = rp_json_put_string(b, copy + i,
                              whole ? n : rp_httpd_unescape(copy + i, n, 1));
    i += n + 1;
  }
  free(copy);
  return rc == RP_OK ? rp_buf_puts(b, "]") : rc;
}

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
    rc = rp_buf_printf(&b, "{\"time\":%.6f,\"worker\":", rp_clock_wall());
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
    rc = rp_buf_puts(&b, ",\"job_ids\":");
  if (rc == RP_OK)
    rc = put_ping_ids(&b, req);
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

/* The status and message of a job store error, as rp_emu_reply_store()
 * answers it. */
static int store_status(int rc, const char **msg)
{
  if (rc == RP_JOBSTORE_ENOENT) {
    *msg = "job not found";
    return 404;
  }
  *msg = rc == RP_ETOOBIG ? "too large" : "out of memory";
  return rc == RP_ETOOBIG ? 413 : 500;
}

/* A job-done body: ends the job (or updates its progress). request_id is
 * the X-Request-ID of an HTTP post (NULL: none). Returns as
 * rp_emulator_deliver(). */
static int job_done(struct rp_emulator *e, const char *worker,
                    const char *id, const char *body, size_t len,
                    const char *request_id, const char **msg)
{
  struct rp_json_span out = { NULL, 0 };
  struct rp_json_span er = { NULL, 0 };
  struct rp_json_span st = { NULL, 0 };
  int has_out = rp_json_member(body, len, "output", &out);
  int has_err;
  int progress = 0;
  int rc;
  if (has_out < 0) {
    *msg = "invalid JSON body (an object is expected)";
    return 400;
  }
  has_err = rp_json_member(body, len, "error", &er) == 1 &&
            !rp_emu_is_null(er);
  if (rp_json_member(body, len, "status", &st) == 1 &&
      st.n == 13 && memcmp(st.p, "\"IN_PROGRESS\"", 13) == 0)
    progress = 1;
  /* A worker whose post timed out after it was stored posts it again with
   * the same X-Request-ID (the job id): the same delivery, not a late one. */
  if (!progress && request_id && strcmp(request_id, id) == 0 &&
      rp_jobstore_is_result(e->js, id, has_out ? out.p : NULL, out.n,
                            has_err ? er.p : NULL, er.n))
    return 200;
  rc = rp_jobstore_done(e->js, worker, id, progress,
                        has_out ? out.p : NULL, out.n,
                        has_err ? er.p : NULL, er.n);
  return rc == RP_OK ? 200 : store_status(rc, msg);
}

/* A job-stream body: one more chunk of the job's stream. Returns as
 * rp_emulator_deliver(). */
static int job_stream(struct rp_emulator *e, const char *worker,
                      const char *id, const char *body, size_t len,
                      const char **msg)
{
  struct rp_json_span out;
  int has = rp_json_member(body, len, "output", &out);
  int rc;
  if (has <= 0) {
    *msg = has < 0 ? "invalid JSON body (an object is expected)"
                   : "missing output";
    return 400;
  }
  rc = rp_jobstore_stream_append(e->js, worker, id, out.p, out.n);
  return rc == RP_OK ? 200 : store_status(rc, msg);
}

/* Ends job id FAILED because its result body[0..len) cannot be read.
 * Returns as rp_emulator_deliver(). */
static int unreadable_result(struct rp_emulator *e, const char *worker,
                             const char *id, const char *body, size_t len,
                             const char **msg)
{
  struct rp_buf er = RP_BUF_INIT(1024);
  char why[128];
  char text[256];
  int rc;
  if (rp_json_check(body, len, why, sizeof(why)) == RP_OK)
    snprintf(why, sizeof(why), "not a JSON object");
  snprintf(text, sizeof(text), "the handler's result cannot be stored: %s",
           why);
  rc = rp_json_put_string(&er, text, strlen(text));
  if (rc == RP_OK)
    rc = rp_jobstore_done(e->js, worker, id, 0, NULL, 0, er.data, er.len);
  rp_buf_free(&er);
  return rc == RP_OK ? 200 : store_status(rc, msg);
}

int rp_emulator_deliver(struct rp_emulator *e, const char *worker,
                        const char *id, enum rp_emu_post kind,
                        const char *body, size_t len, const char **msg)
{
  int status;
  *msg = NULL;
  if (kind == RP_EMU_POST_STREAM)
    return job_stream(e, worker, id, body, len, msg);
  status = job_done(e, worker, id, body, len, NULL, msg);
  if (status == 400 && kind == RP_EMU_POST_RESULT)
    return unreadable_result(e, worker, id, body, len, msg);
  return status;
}

/* POST job-done/{worker}/{id} and job-stream/{worker}/{id}. */
static void post_route(struct rp_emulator *e,
                       const struct rp_httpd_request *req,
                       struct rp_httpd_response *res, int stream,
                       const char *worker, const char *id)
{
  const char *msg = NULL;
  char why[128];
  char text[192];
  int status = stream
    ? job_stream(e, worker, id, req->body, req->body_len, &msg)
    : job_done(e, worker, id, req->body, req->body_len,
               rp_httpd_header(req, "X-Request-ID"), &msg);
  /* Says why a body is not JSON the store reads (nesting past 1000, ...)
   * rather than only that it is not an object. */
  if (status == 400 &&
      rp_json_check(req->body, req->body_len, why, sizeof(why)) != RP_OK) {
    snprintf(text, sizeof(text), "invalid JSON body (%s)", why);
    msg = text;
  }
  if (status == 200)
    rp_emu_reply(res, 200, "{}");
  else
    rp_emu_reply_error(res, status, msg);
}

/* Checks a worker request's shape, key and method: job-done and
 * job-stream take a worker and a job id and POST, the others a worker id
 * and GET. Returns 1, or 0 after answering 404, 401 or 405. */
static int worker_allowed(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, int route, int nseg)
{
  const char *auth = rp_httpd_header(req, "Authorization");
  const char *key = e->api_key;
  int post = route == RP_EMU_JOB_DONE || route == RP_EMU_JOB_STREAM;
  if (nseg != (post ? 3 : 2)) {
    rp_emu_reply_error(res, 404, "no such route");
    return 0;
  }
  if (key && (!auth || strcmp(auth, key) != 0)) {
    rp_emu_reply_error(res, 401, "unauthorized");
    return 0;
  }
  return rp_emu_method_ok(req, res, post ? "POST" : "GET", NULL);
}

/* GET job-take/{worker} and job-take-batch/{worker}?batch_size=N: the
 * next job (an array of up to N for a batch), held up to take_hold_ms;
 * 204 when none came. */
static void take(struct rp_emulator *e, const struct rp_httpd_request *req,
                 struct rp_httpd_response *res, const char *route,
                 const char *worker)
{
  int batch = strcmp(route, "job-take-batch") == 0;
  long size = 1;
  long hold;
  int n;
  if (batch && rp_emu_arg_number(req, res, "batch_size", 1,
                                 RP_JOBSTORE_MAX_BATCH, &size) != 0)
    return;
  pthread_mutex_lock(&e->mu);
  hold = e->take_hold_ms;
  pthread_mutex_unlock(&e->mu);
  n = rp_jobstore_take(e->js, worker, (size_t)(size > 0 ? size : 1), hold,
                       batch, &res->body);
  if (n < 0)
    rp_emu_reply_store(res, n);
  else
    res->status = n > 0 ? 200 : 204;
}

/* GET job-stop/{worker}: {"jobsToStop":[ids]}, the worker's jobs that
 * were cancelled or timed out, held up to stop_hold_ms; 204 when none. */
static void stops(struct rp_emulator *e, struct rp_httpd_response *res,
                  const char *worker)
{
  long hold;
  int n;
  pthread_mutex_lock(&e->mu);
  hold = e->stop_hold_ms;
  pthread_mutex_unlock(&e->mu);
  rp_buf_puts(&res->body, "{\"jobsToStop\":");
  n = rp_jobstore_stops(e->js, worker, hold, &res->body);
  if (n < 0) {
    rp_emu_reply_store(res, n);
  } else if (n == 0) {
    rp_buf_clear(&res->body);
    res->status = 204;
  } else {
    rp_buf_puts(&res->body, "}");
    res->status = 200;
  }
}

/* Serves worker route 'route' (seg as for rp_emu_worker_route). */
static void serve(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, int route, char **seg)
{
  switch (route) {
  case RP_EMU_JOB_TAKE:
    take(e, req, res, seg[0], seg[1]);
    break;
  case RP_EMU_JOB_DONE:
  case RP_EMU_JOB_STREAM:
    post_route(e, req, res, route == RP_EMU_JOB_STREAM, seg[1], seg[2]);
    break;
  case RP_EMU_PING:
    rp_jobstore_touch(e->js, seg[1], rp_httpd_arg(req, "status") &&
                      strcmp(rp_httpd_arg(req, "status"), "unhealthy") == 0);
    record_ping(e, seg[1], req);
    rp_emu_reply(res, 200, "{}");
    break;
  default:
    stops(e, res, seg[1]);
    break;
  }
}

/* A worker request goes through three phases: its shape, key and method;
 * the route's fault, which may answer in its place; the route itself.
 * Each is logged, whatever answered it. */
void rp_emu_worker_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, int route,
                         char **seg, int nseg)
{
  long long started = rp_clock_now_ms();
  enum rp_emu_fault_kind fault = RP_FAULT_NONE;
  if (worker_allowed(e, req, res, route, nseg) &&
      !rp_emu_apply_fault(e, route, res, &fault))
    serve(e, req, res, route, seg);
  rp_emu_log_request(e, req, res, fault, started);
}

/* ---- the worker API in process ---- */

void rp_emulator_set_wake(struct rp_emulator *e, rp_emulator_wake_fn fn,
                          void *ud)
{
  rp_jobstore_set_notify(e->js, fn, ud);
}

int rp_emulator_take(struct rp_emulator *e, const char *worker,
                     struct rp_buf *out)
{
  return rp_jobstore_take(e->js, worker, 1, 0, 0, out);
}

int rp_emulator_stops(struct rp_emulator *e, const char *worker,
                      struct rp_buf *out)
{
  size_t mark = out->len;
  int rc = rp_buf_puts(out, "{\"jobsToStop\":");
  int n = rc == RP_OK ? rp_jobstore_stops(e->js, worker, 0, out) : rc;
  if (n > 0)
    rc = rp_buf_puts(out, "}");
  if ((n <= 0 || rc != RP_OK) && out->data)
    rp_buf_set_len(out, mark);
  return rc != RP_OK ? rc : n;
}
