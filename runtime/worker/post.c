/* post.c - the jobs in flight and their ordered post queues (see
 * serverless_int.h). A job's posts (stream partials, progress updates,
 * then its result) go one at a time, in order, each retried with backoff
 * until DELIVERY_DEADLINE_S passes; a progress update only
 * PROGRESS_ATTEMPTS times, so that the result behind it is not held up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rp.h"
#include "net/wire.h"
#include "worker/serverless_int.h"

/* How long a result is retried before it is given up (logged as ERROR). */
#define DELIVERY_DEADLINE_S 600.0
/* The attempts at a progress update, as the Python SDK makes them: it is
 * advisory, and the job's result waits behind it in the queue. */
#define PROGRESS_ATTEMPTS 3
/* The retries of one job's posts. */
static const struct rp_backoff POST_BACKOFF = { 0.2, 10, 0 };
struct job *rp_post_find_job(struct state *s, const char *id, size_t len)
{
  for (struct job *j = s->jobs; j; j = j->next)
    if (j->id_len == len && memcmp(j->id, id, len) == 0)
      return j;
  return NULL;
}

static void free_posts(struct post *p)
{
  while (p) {
    struct post *next = p->next;
    free(p->body);
    free(p);
    p = next;
  }
}

void rp_post_track_job(struct state *s, struct job *j, int executor,
                       int listed)
{
  if (!listed)
    rp_heartbeat_add_job(s->heartbeat, j->id, j->id_len);
  j->listed = 1;
  j->executor = executor;
  j->running = 1;
  j->stop_asked = rp_take_stop_asked(s, j->id, j->id_len);
  j->backoff = POST_BACKOFF;
  j->next = s->jobs;
  s->jobs = j;
  s->njobs++;
  s->last_activity = rp_clock_now();
}

void rp_post_remove_job(struct state *s, struct job *j)
{
  struct job **pp;
  for (pp = &s->jobs; *pp; pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      break;
    }
  }
  s->njobs--;
  if (j->inflight) {
    curl_multi_remove_handle(s->multi, j->inflight->easy);
    rp_req_free(j->inflight);
  }
  if (j->listed)
    rp_heartbeat_remove_job(s->heartbeat, j->id, j->id_len);
  if (j->owed)
    atomic_fetch_sub(&s->direct.owed, 1);
  free_posts(j->head);
  free(j->waiting);
  free(j->again);
  free(j->id);
  free(j);
  s->last_activity = rp_clock_now();
}

void rp_post_queue(struct job *j, enum post_kind kind, char *body,
                   size_t len, int is_stream)
{
  struct post *p = calloc(1, sizeof(*p));
  if (!p) {
    rp_log(RP_LOG_ERROR, j->id, "out of memory: a post was lost");
    free(body);
    return;
  }
  p->kind = kind;
  p->body = body;
  p->len = len;
  p->is_stream = is_stream;
  if (j->tail)
    j->tail->next = p;
  else
    j->head = p;
  j->tail = p;
}

static const char *post_name(enum post_kind k)
{
  return k == P_STREAM ? "stream partial" : k == P_PROGRESS ? "progress"
         : "result";
}

/* Drops the job's first post (sent, or given up). */
static void drop_head(struct job *j)
{
  struct post *p = j->head;
  j->head = p->next;
  if (!j->head)
    j->tail = NULL;
  p->next = NULL;
  free_posts(p);
}

static void start_post(struct state *s, struct job *j)
{
  struct post *p = j->head;
  int url_failed;
  struct rp_req *r = rp_job_post_new(&s->server, p->kind == P_STREAM, j->id,
                                     j->id_len, p->is_stream, p->body,
                                     p->len, &url_failed);
  if (!r && url_failed) {
    /* a job id that makes the URL pass 64 KiB: it can never be sent */
    rp_log(RP_LOG_ERROR, j->id, "giving up on the %s: its URL cannot be "
           "built", post_name(p->kind));
    drop_head(j);
    return;
  }
  if (!r) {
    j->retry_at = rp_clock_now() + RETRY_BUILD_S;
    return;
  }
  /* The post outlives the request: drop_head and rp_post_remove_job free
   * the request first. */
  if (p->first_try == 0)
    p->first_try = rp_clock_now();
  p->attempts++;
  r->kind = POST;
  r->ctx = j;
  j->inflight = r;
  curl_multi_add_handle(s->multi, r->easy);
}

void rp_post_advance(struct state *s, double t)
{
  for (struct job *j = s->jobs, *nj; j; j = nj) {
    nj = j->next;
    if (!j->inflight && j->head && t >= j->retry_at)
      start_post(s, j);
    else if (!j->running && j->finished && !j->head && !j->inflight &&
             !rp_take_run_again(s, j))
      rp_post_remove_job(s, j);
  }
}

/* Whether a failed post may succeed later: a transfer error (but for a
 * URL curl refuses, which never will), 408, 429 or a 5xx. Anything else
 * (a malformed URL, any other 4xx) is permanent and not retried. */
static int transient(const struct rp_req *r)
{
  if (r->result != CURLE_OK)
    return r->result != CURLE_URL_MALFORMAT &&
           r->result != CURLE_UNSUPPORTED_PROTOCOL;
  return r->status == 408 || r->status == 429 || r->status >= 500;
}

/* Describes the answer r got: the curl error, or the status and the start
 * of the body (printable bytes only). */
static const char *answer(struct rp_req *r, char *buf, size_t len)
{
  size_t n;
  rp_req_describe(r, buf, len);
  n = strlen(buf);
  if (r->result == CURLE_OK && r->resp.len > 0 && n + 8 < len) {
    size_t i;
    n += (size_t)snprintf(buf + n, len - n, ": ");
    for (i = 0; i < r->resp.len && i < 200 && n + 4 < len; i++) {
      unsigned char c = (unsigned char)r->resp.data[i];
      buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[n] = '\0';
  }
  return buf;
}

void rp_post_done(struct rp_req *r)
{
  struct job *j = r->ctx;
  struct post *p = j->head;
  char what[CURL_ERROR_SIZE + 256];
  j->inflight = NULL;
  rp_req_describe(r, what, sizeof(what));
  if (r->result == CURLE_OK && r->status >= 200 && r->status < 300) {
    rp_backoff_reset(&j->backoff);
    if (p->kind == P_FINAL)
      rp_log(RP_LOG_DEBUG, j->id, "Results sent.");
  } else if (!transient(r)) {
    rp_log(RP_LOG_ERROR, j->id, "giving up on the %s: the job server's "
           "answer is final, not retried (%s)", post_name(p->kind),
           answer(r, what, sizeof(what)));
  } else if (p->kind == P_PROGRESS && p->attempts >= PROGRESS_ATTEMPTS) {
    rp_log(RP_LOG_ERROR, j->id, "giving up on the progress after %d "
           "attempts: %s", p->attempts, what);
  } else if (rp_clock_now() - p->first_try < DELIVERY_DEADLINE_S) {
    double wait = rp_backoff_next(&j->backoff);
    rp_log(RP_LOG_WARN, j->id, "posting the %s failed (%s); retrying in "
           "%.1f s", post_name(p->kind), what, wait);
    j->retry_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  } else {
    rp_log(RP_LOG_ERROR, j->id, "giving up on the %s after %.0f s: %s",
           post_name(p->kind), rp_clock_now() - p->first_try, what);
  }
  rp_req_free(r);
  drop_head(j);
}
