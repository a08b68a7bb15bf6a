/* emu_control.c - the emulator's control API under /_emulator/: faults
 * and holds, the request log, stats, the webhook sink and bulk submission
 * (docs/emulator.md, "Control API"; emulator_int.h). */
#include "server/emulator_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/rp.h"

static void get_faults(struct rp_emulator *e, struct rp_httpd_response *res)
{
  int i;
  res->status = 200;
  pthread_mutex_lock(&e->mu);
  rp_buf_puts(&res->body, "{");
  for (i = 0; i < RP_EMU_NROUTES; i++) {
    rp_buf_printf(&res->body, "\"%s\":", rp_emu_route_names[i]);
    rp_emu_put_fault(&res->body, &e->faults[i]);
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
  int r = rp_emu_route_index(key, strlen(key));
  int i;
  (void)m;
  if (r >= 0) {
    char spec[256];
    c->set[r] = 1;
    if (rp_emu_is_null(val)) {
      c->faults[r] = (struct rp_emu_fault){ RP_FAULT_NONE, 1.0, 0, 0 };
      return 0;
    }
    if (rp_json_string(val, spec, sizeof(spec)) != RP_OK) {
      snprintf(c->err, sizeof(c->err), "%s: a fault string or null", key);
      return 1;
    }
    if (rp_emu_parse_fault_body(spec, &c->faults[r], c->err,
                                sizeof(c->err)) != 0)
      return 1;
    return 0;
  }
  for (i = 0; i < 4; i++) {
    if (strcmp(key, holds[i]) == 0 || strcmp(key, "seed") == 0) {
      double x;
      long v;
      if (rp_emu_whole_number(val.p, val.n, RP_EMU_MAX_DELAY_MS, &x) != 0) {
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
    rp_emu_reply_error(res, 400, "invalid JSON body (an object is expected)");
    return;
  }
  if (c.err[0]) {
    rp_emu_reply_error(res, 400, c.err);
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
    rp_emu_seed_rng(e, (unsigned long)c.seed);
  pthread_mutex_unlock(&e->mu);
  if (c.holds[3] >= 0)
    rp_jobstore_set_requeue(e->js, c.holds[3]);
  get_faults(e, res);
}

static void get_stats(struct rp_emulator *e, struct rp_httpd_response *res)
{
  struct rp_buf *b = &res->body;
  int i;
  res->status = 200;
  pthread_mutex_lock(&e->mu);
  rp_buf_puts(b, "{\"requests\":{");
  for (i = 0; i < RP_EMU_NROUTES; i++)
    rp_buf_printf(b, "%s\"%s\":%lu", i ? "," : "", rp_emu_route_names[i],
                  e->requests[i]);
  rp_buf_puts(b, "},\"fault_hits\":{");
  for (i = 0; i < RP_EMU_NROUTES; i++)
    rp_buf_printf(b, "%s\"%s\":%lu", i ? "," : "", rp_emu_route_names[i],
                  e->fault_hits[i]);
  rp_buf_printf(b, "},\"pings\":%lu,\"last_ping\":%s,\"log_seq\":%llu,"
                "\"webhooks\":{\"sent\":%lu,\"failed\":%lu,\"dropped\":%lu,"
                "\"refused\":%lu},\"jobs\":", e->pings,
                e->last_ping ? e->last_ping : "null", e->log_seq,
                e->webhooks_sent, e->webhooks_failed, e->webhooks_dropped,
                e->webhooks_refused);
  pthread_mutex_unlock(&e->mu);
  if (rp_jobstore_counters(e->js, b) != RP_OK || rp_buf_puts(b, "}") != RP_OK)
    rp_emu_reply_error(res, 500, "stats too large");
}

static void sink_post(struct rp_emulator *e,
                      const struct rp_httpd_request *req,
                      struct rp_httpd_response *res)
{
  char *copy;
  if (!rp_json_valid(req->body, req->body_len)) {
    rp_emu_reply_error(res, 400, "invalid JSON body");
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
  rp_emu_reply(res, 200, "{}");
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
  if (rp_emu_arg_number(req, res, "count", 1, RP_JOBSTORE_MAX_JOBS,
                        &count) != 0)
    return;
  for (i = 0; i < count; i++) {
    if (!rp_emu_submit(e, req, res, id, 0))
      return;
  }
  res->status = 200;
  rp_buf_clear(&res->body);
  rp_buf_printf(&res->body, "{\"submitted\":%ld}", count);
}

void rp_emu_control_route(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, char **seg,
                          int nseg)
{
  const char *r = nseg == 2 ? seg[1] : "";
  const char *m = req->method;
  if (strcmp(r, "log") == 0 && rp_emu_is(m, "GET"))
    rp_emu_log_get(e, req, res);
  else if (strcmp(r, "log") == 0 && rp_emu_is(m, "DELETE")) {
    rp_emu_log_clear(e);
    rp_emu_reply(res, 200, "{}");
  } else if (strcmp(r, "stats") == 0 && rp_emu_is(m, "GET"))
    get_stats(e, res);
  else if (strcmp(r, "faults") == 0 && rp_emu_is(m, "GET"))
    get_faults(e, res);
  else if (strcmp(r, "faults") == 0 && rp_emu_is(m, "POST"))
    post_faults(e, req, res);
  else if (strcmp(r, "webhook-sink") == 0 && rp_emu_is(m, "POST"))
    sink_post(e, req, res);
  else if (strcmp(r, "webhooks") == 0 && rp_emu_is(m, "GET"))
    sink_get(e, res);
  else if (strcmp(r, "jobs") == 0 && rp_emu_is(m, "POST"))
    bulk_submit(e, req, res);
  else if (strcmp(r, "upkeep") == 0 && rp_emu_is(m, "POST")) {
    rp_jobstore_upkeep(e->js);
    rp_emu_reply(res, 200, "{}");
  } else
    rp_emu_reply_error(res, 404, "no such route");
}
