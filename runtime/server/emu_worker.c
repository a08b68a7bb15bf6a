/* emu_worker.c - the emulator's worker API: job-take, job-take-batch,
 * job-done, job-stream, ping and job-stop under /v2/{endpoint}/ (docs/
 * emulator.md, "Worker API"; emulator_int.h). */
#include "server/emulator_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

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
    rp_emu_reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  has_err = rp_json_member(req->body, req->body_len, "error", &er) == 1 &&
            !rp_emu_is_null(er);
  if (rp_json_member(req->body, req->body_len, "status", &st) == 1 &&
      st.n == 13 && memcmp(st.p, "\"IN_PROGRESS\"", 13) == 0)
    progress = 1;
  /* A worker whose post timed out after it was stored posts it again with
   * the same X-Request-ID (the job id): the same delivery, not a late one. */
  rid = rp_httpd_header(req, "X-Request-ID");
  if (!progress && rid && strcmp(rid, id) == 0 &&
      rp_jobstore_is_result(e->js, id, has_out ? out.p : NULL, out.n,
                            has_err ? er.p : NULL, er.n)) {
    rp_emu_reply(res, 200, "{}");
    return;
  }
  rc = rp_jobstore_done(e->js, worker, id, progress,
                        has_out ? out.p : NULL, out.n,
                        has_err ? er.p : NULL, er.n);
  if (rc != RP_OK) {
    rp_emu_reply_store(res, rc);
    return;
  }
  rp_emu_reply(res, 200, "{}");
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
    rp_emu_reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  if (has == 0) {
    rp_emu_reply_error(res, 400, "missing output");
    return;
  }
  rc = rp_jobstore_stream_append(e->js, worker, id, out.p, out.n);
  if (rc != RP_OK) {
    rp_emu_reply_store(res, rc);
    return;
  }
  rp_emu_reply(res, 200, "{}");
}

/* Checks a worker request's shape, key and method: job-done and
 * job-stream take a worker and a job id and POST, the others a worker id
 * and GET. Returns 1, or 0 after answering 404, 401 or 405. */
static int worker_allowed(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, int route, int nseg)
{
  const char *auth = rp_httpd_header(req, "Authorization");
  const char *key = e->worker_key ? e->worker_key : e->api_key;
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
    job_done(e, req, res, seg[1], seg[2]);
    break;
  case RP_EMU_JOB_STREAM:
    job_stream(e, req, res, seg[1], seg[2]);
    break;
  case RP_EMU_PING:
    rp_jobstore_touch(e->js, seg[1]);
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
