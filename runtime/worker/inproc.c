/* inproc.c - the job loop's transport to a job source in this process
 * (struct rp_job_source, serverless.h; serverless_int.h): the local API
 * server's job store, reached by calls instead of HTTP.
 *
 * Only the transport changes. What the source answers goes through the
 * very handlers of the HTTP answers (rp_take_done, rp_take_stop_done,
 * rp_post_done), as a request that finished with that status and body, so
 * that the checks of a taken job, its hand-over to an executor, the order
 * of a job's posts, their retries and the end of a job are the same code
 * in both modes. Nothing here waits: the source wakes the loop (through
 * rp_inproc_wake) when a job is queued or one must stop, and the loop
 * looks again at least every IDLE_LOOK_S besides. */
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"
#include "net/wire.h"
#include "worker/serverless_int.h"

/* With nothing queued, the next take and stop poll come this much later
 * unless the source wakes the loop first; they also keep the worker
 * counted as alive in /health. */
#define IDLE_LOOK_S 1.0

/* A wake while the flag is still set finds the loop awake already: it
 * reads the flag in drain() before it sleeps again. A queued job does
 * not wake a loop that has no room for it (want_jobs clear): the end of
 * one of its jobs wakes it, and it takes then. */
void rp_inproc_wake(void *ud, int stop)
{
  struct state *s = ud;
  if (!stop && !atomic_load(&s->want_jobs))
    return;
  if (!atomic_exchange(&s->source_news, 1))
    curl_multi_wakeup(s->multi);
}

/* Called by the executors, on their threads: the source's deliver is
 * theirs to call as much as the loop's (it takes its own lock), and
 * worker_id and source do not change while they run. A post that is not
 * delivered (an error status) is pushed to the outbox by the executor
 * and goes through deliver() below, with its retries. */
int rp_inproc_deliver(void *ud, enum rp_out_kind kind, const char *id,
                      size_t id_len, const char *body, size_t len)
{
  struct state *s = ud;
  const char *msg = NULL;
  (void)id_len;                 /* the source's ids are its own: no NUL */
  return s->source->deliver(s->source->ud, s->worker_id, id,
                            kind == RP_OUT_STREAM ? RP_SOURCE_STREAM
                            : kind == RP_OUT_PROGRESS ? RP_SOURCE_PROGRESS
                            : RP_SOURCE_RESULT, body, len, &msg);
}

/* Called by the executors, on their threads, as rp_inproc_deliver. The
 * source's job-take objects are {"id":"<id>","input":...}: one whose id
 * and input are there goes to the executor as it is; anything else to
 * the loop (no *id), for take.c's checks. */
int rp_inproc_take(void *ud, char **text, size_t *len, char **id,
                   size_t *id_len)
{
  struct state *s = ud;
  struct rp_buf b = RP_BUF_INIT(RP_MAX_RESPONSE_BYTES);
  int n = s->source->take(s->source->ud, s->worker_id, &b);
  *id = NULL;
  *id_len = 0;
  if (n != 1 || !b.data) {
    rp_buf_free(&b);
    return n == 1 ? RP_ENOMEM : n;
  }
  *text = rp_buf_steal(&b, len);
  rp_wire_lone_job(*text, *len, id, id_len);
  return 1;
}

/* A request of kind 'kind' that "finished" with HTTP status 'status' and
 * an empty body, for the handlers of HTTP answers; NULL when memory runs
 * out. Free with rp_req_free(). */
static struct rp_req *answered(int kind, long status)
{
  struct rp_req *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->resp = (struct rp_buf)RP_BUF_INIT(RP_MAX_RESPONSE_BYTES);
  r->result = CURLE_OK;
  r->status = status;
  r->kind = kind;
  return r;
}

/* Takes up to free_slots jobs, one at a time, each handed on as the body
 * of a job-take answer. */
static void take(struct state *s, int free_slots)
{
  int got = 0;
  if (!s->first_take_logged) {
    s->first_take_logged = 1;
    rp_log(RP_LOG_INFO, NULL, "Ready: first job-take %.1f ms after start.",
           (rp_clock_now() - s->t0) * 1e3);
  }
  /* Before the source is asked: a job queued after its answer wakes the
   * loop. */
  atomic_store(&s->want_jobs, 1);
  while (got < free_slots) {
    struct rp_req *r = answered(TAKE, 200);
    int n = r ? s->source->take(s->source->ud, s->worker_id, &r->resp)
              : RP_ENOMEM;
    if (n <= 0) {
      if (n < 0)
        rp_log(RP_LOG_ERROR, NULL, "Failed to get job: %s; retrying in "
               "%.1f s", n == RP_ETOOBIG ? "too large" : "out of memory",
               IDLE_LOOK_S);
      rp_req_free(r);
      break;
    }
    s->take_sent = rp_clock_now();
    rp_take_done(s, r);
    got++;
  }
  if (got < free_slots)
    s->take_at = rp_clock_now() + IDLE_LOOK_S;
  else
    atomic_store(&s->want_jobs, 0);   /* full: take_at is due already */
}

static void poll_stops(struct state *s)
{
  struct rp_req *r = answered(STOP, 200);
  int n = r ? s->source->stops(s->source->ud, s->worker_id, &r->resp)
            : RP_ENOMEM;
  s->stop_sent = rp_clock_now();
  if (n <= 0) {
    rp_req_free(r);
    s->stop_at = s->stop_sent + IDLE_LOOK_S;
    return;
  }
  rp_take_stop_done(s, r);
}

/* Delivers the posts of job j that are due, in order, until one has to
 * wait (a retry) or none is left. */
static void deliver(struct state *s, struct job *j, double t)
{
  while (j->head && !j->inflight && t >= j->retry_at) {
    struct post *p = j->head;
    const char *msg = NULL;
    struct rp_req *r = answered(POST, 0);
    if (!r) {
      j->retry_at = t + RETRY_BUILD_S;
      return;
    }
    if (p->first_try == 0)
      p->first_try = t;
    p->attempts++;
    r->status = s->source->deliver(s->source->ud, s->worker_id, j->id,
                                   p->kind == P_STREAM ? RP_SOURCE_STREAM
                                   : p->kind == P_PROGRESS
                                   ? RP_SOURCE_PROGRESS : RP_SOURCE_RESULT,
                                   p->body, p->len, &msg);
    if (msg)
      rp_buf_puts(&r->resp, msg);
    r->ctx = j;
    j->inflight = r;
    rp_post_done(r);            /* frees r; drops p, or sets a retry */
  }
}

static void advance(struct state *s, double t)
{
  for (struct job *j = s->jobs; j; j = j->next)
    deliver(s, j, t);
  rp_post_advance(s, t);        /* drops the jobs delivered */
}

/* After a wake from the source, the next take and stop poll are due at
 * once. */
static int drain(struct state *s)
{
  if (!atomic_exchange(&s->source_news, 0))
    return 0;
  s->take_at = 0;
  s->stop_at = 0;
  return 1;
}

const struct transport rp_inproc_transport = {
  take, poll_stops, advance, drain
};
