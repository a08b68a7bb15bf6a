/* jobstore.c - see jobstore.h: life cycle, job states, views and the
 * waits (the files of the store: jobstore_int.h). */
#include "server/jobstore_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/rp.h"

#define WORKER_RECENT_MS 60000   /* health: a worker counts this long */

const char *rp_jobstore_status_name(enum rp_job_status st)
{
  switch (st) {
  case RP_JOB_IN_QUEUE: return "IN_QUEUE";
  case RP_JOB_IN_PROGRESS: return "IN_PROGRESS";
  case RP_JOB_COMPLETED: return "COMPLETED";
  case RP_JOB_FAILED: return "FAILED";
  case RP_JOB_CANCELLED: return "CANCELLED";
  case RP_JOB_TIMED_OUT: return "TIMED_OUT";
  }
  return "IN_QUEUE";
}

void rp_jobstore_default_limits(struct rp_jobstore_limits *lim)
{
  lim->retain_ms = RP_JOBSTORE_RETAIN_MS;
  lim->retain_max = RP_JOBSTORE_RETAIN_MAX;
  lim->requeue_after_ms = 0;
  lim->max_jobs = RP_JOBSTORE_MAX_JOBS;
  lim->max_stream_bytes = RP_JOBSTORE_MAX_STREAM_BYTES;
}

void rp_jobstore_touch(struct rp_jobstore *js, const char *worker,
                       int unhealthy)
{
  struct worker *w;
  pthread_mutex_lock(&js->mu);
  rp_jobstore_seen(js, worker, rp_clock_now_ms());
  w = worker ? rp_jobstore_worker_find(js, worker) : NULL;
  if (w)
    w->unhealthy = unhealthy != 0;
  pthread_mutex_unlock(&js->mu);
}

/* ---- views ---- */

/* Appends the job view. Returns RP_OK or out's error. */
static int put_view(const struct job *j, long long now, struct rp_buf *out)
{
  long long delay = (j->started ? j->started : now) - j->submitted;
  long long exec = 0;
  int rc;
  if (j->started)
    exec = (j->finished ? j->finished : now) - j->started;
  if (j->finished && !j->started)
    delay = j->finished - j->submitted;
  rc = rp_buf_printf(out, "{\"id\":\"%s\",\"status\":\"%s\",\"delayTime\":%lld,"
                     "\"executionTime\":%lld", j->id,
                     rp_jobstore_status_name(j->status), delay, exec);
  if (rc == RP_OK && j->output) {
    rc = rp_buf_puts(out, ",\"output\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, j->output, j->output_len);
  }
  if (rc == RP_OK && j->error) {
    rc = rp_buf_puts(out, ",\"error\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, j->error, j->error_len);
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "}");
  return rc;
}

/* Ends job j with status st (it must not have ended yet), moving it to the
 * finished list and calling the webhook hook; waking its waiters is left
 * to the caller (finish, or rp_jobstore_wake_unlocked). */
static void end_job(struct rp_jobstore *js, struct job *j,
                    enum rp_job_status st, long long now)
{
  rp_jobstore_list_remove(js, j);
  j->status = st;
  j->finished = now;
  rp_jobstore_list_push(js, ON_FINISHED, j, 0);
  if (st == RP_JOB_COMPLETED)
    js->completed++;
  else if (st == RP_JOB_FAILED || st == RP_JOB_TIMED_OUT)
    js->failed++;
  if (j->webhook && js->final_fn) {
    struct rp_buf view = RP_BUF_INIT(SIZE_MAX / 2);
    if (put_view(j, now, &view) == RP_OK)
      js->final_fn(js->final_ud, j->webhook, view.data, view.len);
    rp_buf_free(&view);
  }
}

/* end_job, waking j's waiters. */
static void finish(struct rp_jobstore *js, struct job *j,
                   enum rp_job_status st, long long now)
{
  end_job(js, j, st, now);
  pthread_cond_broadcast(&j->cv);
}

/* See jobstore_int.h. */
void rp_jobstore_wake_unlocked(struct rp_jobstore *js, struct job *j)
{
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_lock(&js->mu);
  j->waiters--;
  if (j->removed && j->waiters == 0)
    rp_jobstore_job_free(j);
  pthread_mutex_unlock(&js->mu);
}

/* ---- upkeep ---- */

/* Wakes the takers waiting on cv (cv_queue or cv_stop) and calls the
 * notify hook. */
static void news(struct rp_jobstore *js, pthread_cond_t *cv)
{
  pthread_cond_broadcast(cv);
  if (js->notify_fn)
    js->notify_fn(js->notify_ud, cv == &js->cv_stop);
}

/* Puts job j back in the queue (first when 'front', else last), counted
 * as a retry. */
static void requeue(struct rp_jobstore *js, struct job *j, int front)
{
  rp_jobstore_list_remove(js, j);
  j->status = RP_JOB_IN_QUEUE;
  j->started = 0;
  j->worker[0] = '\0';
  j->retries++;
  js->retried++;
  rp_jobstore_list_push(js, ON_QUEUE, j, front);
  news(js, &js->cv_queue);
  pthread_cond_broadcast(&j->cv);
}

static void upkeep(struct rp_jobstore *js, long long now, int force)
{
  struct job *j;
  struct job *next;
  if (!force && now - js->last_upkeep < RP_JOBSTORE_UPKEEP_MS)
    return;
  js->last_upkeep = now;
  for (j = js->lists[ON_RUNNING].head; j; j = next) {
    next = j->next;
    if (j->exec_timeout_ms > 0 && now - j->started >= j->exec_timeout_ms) {
      finish(js, j, RP_JOB_TIMED_OUT, now);
      j->stop_pending = 1;
      js->stops_pending++;
      news(js, &js->cv_stop);
    } else if (js->lim.requeue_after_ms > 0) {
      struct worker *w = rp_jobstore_worker_find(js, j->worker);
      long long seen = w ? w->seen : j->started;
      if (seen < j->started)
        seen = j->started;
      if (now - seen >= js->lim.requeue_after_ms)
        requeue(js, j, 1);
    }
  }
  while ((j = js->lists[ON_FINISHED].head) != NULL) {
    if (js->lists[ON_FINISHED].count <= js->lim.retain_max &&
        now - j->finished < js->lim.retain_ms)
      break;
    rp_jobstore_forget(js, j);
  }
}

void rp_jobstore_upkeep(struct rp_jobstore *js)
{
  pthread_mutex_lock(&js->mu);
  upkeep(js, rp_clock_now_ms(), 1);
  pthread_mutex_unlock(&js->mu);
}

/* Locks the store and runs the lazy upkeep; returns the time. */
long long rp_jobstore_lock(struct rp_jobstore *js)
{
  long long now = rp_clock_now_ms();
  pthread_mutex_lock(&js->mu);
  upkeep(js, now, 0);
  return now;
}

/* Waits on cv until woken or the monotonic deadline (ms) passes. Returns
 * 0 when woken, -1 at the deadline or when the store is closed. */
int rp_jobstore_wait(struct rp_jobstore *js, pthread_cond_t *cv,
                     long long deadline)
{
  struct timespec ts;
  long long now;
  if (js->closed)
    return -1;
  now = rp_clock_now_ms();
  if (now >= deadline)
    return -1;
  rp_clock_deadline(&ts, deadline);
  if (pthread_cond_timedwait(cv, &js->mu, &ts) == ETIMEDOUT)
    return -1;
  return js->closed ? -1 : 0;
}

/* Waits on job j's condition variable, keeping j alive meanwhile. Returns
 * 0 when woken with j still held, -1 at the deadline or on close, -2 when j
 * was forgotten meanwhile (then j has been freed: do not touch it). */
int rp_jobstore_wait_job(struct rp_jobstore *js, struct job *j,
                         long long deadline)
{
  int rc;
  /* A running job with a time limit (policy.executionTimeout) ends when
   * it passes, not at the next call into the store: its waiter wakes
   * then and runs the upkeep that times it out. */
  long long due = j->status == RP_JOB_IN_PROGRESS && j->exec_timeout_ms > 0
                  ? j->started + j->exec_timeout_ms : 0;
  int at_due = due > 0 && due < deadline;
  j->waiters++;
  rc = rp_jobstore_wait(js, &j->cv, at_due ? due : deadline);
  j->waiters--;
  if (j->removed) {
    if (j->waiters == 0)
      rp_jobstore_job_free(j);
    return -2;
  }
  if (rc != 0 && at_due && !js->closed) {
    upkeep(js, rp_clock_now_ms(), 1);
    rc = 0;                     /* look again: it has ended by now */
  }
  return rc;
}

/* ---- life cycle ---- */

int rp_jobstore_new(const struct rp_jobstore_limits *lim,
                    struct rp_jobstore **out)
{
  struct rp_jobstore *js = calloc(1, sizeof(*js));
  int ok = 0;
  *out = NULL;
  if (!js)
    return RP_ENOMEM;
  if (lim)
    js->lim = *lim;
  else
    rp_jobstore_default_limits(&js->lim);
  js->nbuckets = 1024;
  js->buckets = calloc(js->nbuckets, sizeof(*js->buckets));
  js->workers = calloc(RP_JOBSTORE_MAX_WORKERS, sizeof(*js->workers));
  if (js->buckets && js->workers) {
    /* A failure here leaks nothing worth unwinding on Linux, where these
     * initialisers allocate nothing. */
    ok = pthread_mutex_init(&js->mu, NULL) == 0;
    ok = ok && rp_clock_cond_init(&js->cv_queue) == 0;
    ok = ok && rp_clock_cond_init(&js->cv_stop) == 0;
    ok = ok && rp_clock_cond_init(&js->cv_sleep) == 0;
  }
  if (!ok) {
    free(js->buckets);
    free(js->workers);
    free(js);
    return RP_ENOMEM;
  }
  rp_jobstore_seed_ids(js);
  *out = js;
  return RP_OK;
}

void rp_jobstore_set_final_hook(struct rp_jobstore *js,
                                rp_jobstore_final_fn fn, void *ud)
{
  pthread_mutex_lock(&js->mu);
  js->final_fn = fn;
  js->final_ud = ud;
  pthread_mutex_unlock(&js->mu);
}

void rp_jobstore_set_notify(struct rp_jobstore *js, rp_jobstore_notify_fn fn,
                            void *ud)
{
  pthread_mutex_lock(&js->mu);
  js->notify_fn = fn;
  js->notify_ud = ud;
  pthread_mutex_unlock(&js->mu);
}

void rp_jobstore_set_requeue(struct rp_jobstore *js, long ms)
{
  pthread_mutex_lock(&js->mu);
  js->lim.requeue_after_ms = ms > 0 ? ms : 0;
  pthread_mutex_unlock(&js->mu);
}

void rp_jobstore_close(struct rp_jobstore *js)
{
  size_t i;
  struct job *j;
  pthread_mutex_lock(&js->mu);
  js->closed = 1;
  pthread_cond_broadcast(&js->cv_queue);
  pthread_cond_broadcast(&js->cv_stop);
  pthread_cond_broadcast(&js->cv_sleep);
  for (i = 0; i < js->nbuckets; i++)
    for (j = js->buckets[i]; j; j = j->hnext)
      pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&js->mu);
}

void rp_jobstore_free(struct rp_jobstore *js)
{
  int i;
  if (!js)
    return;
  for (i = 0; i < NLISTS; i++) {
    struct job *j = js->lists[i].head;
    while (j) {
      struct job *next = j->next;
      rp_jobstore_job_free(j);
      j = next;
    }
  }
  free(js->buckets);
  free(js->workers);
  pthread_cond_destroy(&js->cv_queue);
  pthread_cond_destroy(&js->cv_stop);
  pthread_cond_destroy(&js->cv_sleep);
  pthread_mutex_destroy(&js->mu);
  free(js);
}

/* ---- operations ---- */

int rp_jobstore_submit(struct rp_jobstore *js, const char *input,
                       size_t inlen, const char *extra, size_t extralen,
                       const char *webhook, long exec_timeout_ms, char *id)
{
  return rp_jobstore_submit_as(js, NULL, input, inlen, extra, extralen,
                               webhook, exec_timeout_ms, id);
}

/* Whether j is not over for the worker: neither completed nor failed. */
static int not_delivered(const struct job *j)
{
  return j->status != RP_JOB_COMPLETED && j->status != RP_JOB_FAILED;
}

/* Whether the worker could still hold a job of that name: one that has
 * not ended, or one the store ended without the worker (cancelled, timed
 * out), which the worker may run on until it stops it; while it does, a
 * new job under the name would be taken for it. A job whose result was
 * delivered is over for the worker too: its name is free. Also taken: a
 * name that is any job's store id. */
static int name_taken(struct rp_jobstore *js, const char *as)
{
  return rp_jobstore_find(js, as) ||
         rp_jobstore_find_named(js, as, not_delivered);
}

int rp_jobstore_submit_as(struct rp_jobstore *js, const char *as,
                          const char *input, size_t inlen,
                          const char *extra, size_t extralen,
                          const char *webhook, long exec_timeout_ms,
                          char *id)
{
  struct rp_buf take = RP_BUF_INIT(SIZE_MAX / 2);
  struct job *j = calloc(1, sizeof(*j));
  long long now;
  int rc = RP_ENOMEM;
  if (!j)
    return RP_ENOMEM;
  if (rp_clock_cond_init(&j->cv) != 0) {
    free(j);
    return RP_ENOMEM;
  }
  if (webhook) {
    j->webhook = strdup(webhook);
    if (!j->webhook) {
      rp_jobstore_job_free(j);
      return RP_ENOMEM;
    }
  }
  if (as) {
    j->as = strdup(as);
    if (!j->as) {
      rp_jobstore_job_free(j);
      return RP_ENOMEM;
    }
  }
  j->exec_timeout_ms = exec_timeout_ms > 0 ? exec_timeout_ms : 0;
  now = rp_jobstore_lock(js);
  if (js->njobs >= js->lim.max_jobs) {
    rc = RP_ETOOBIG;
    goto out;
  }
  if (as && name_taken(js, as)) {
    rc = RP_JOBSTORE_EEXIST;
    goto out;
  }
  do
    rp_jobstore_new_id(js, j->id);
  while (rp_jobstore_find(js, j->id));
  rc = rp_buf_puts(&take, "{\"id\":");
  if (rc == RP_OK)
    rc = rp_json_put_string(&take, rp_jobstore_worker_id_of(j),
                            strlen(rp_jobstore_worker_id_of(j)));
  if (rc == RP_OK)
    rc = rp_buf_puts(&take, ",\"input\":");
  if (rc == RP_OK)
    rc = rp_buf_append(&take, input, inlen);
  if (rc == RP_OK)
    rc = rp_buf_append(&take, extra, extralen);
  if (rc == RP_OK)
    rc = rp_buf_puts(&take, "}");
  if (rc == RP_OK) {
    j->take = rp_buf_steal(&take, &j->take_len);
    rc = j->take ? RP_OK : RP_ENOMEM;
  }
  if (rc != RP_OK)
    goto out;
  j->status = RP_JOB_IN_QUEUE;
  j->submitted = now;
  rp_jobstore_hold(js, j);
  if (j->as)
    js->named++;
  rp_jobstore_list_push(js, ON_QUEUE, j, 0);
  memcpy(id, j->id, RP_JOBSTORE_ID_LEN + 1);
  j = NULL;                          /* the store owns it now */
  pthread_cond_signal(&js->cv_queue);
  if (js->notify_fn)
    js->notify_fn(js->notify_ud, 0);
out:
  pthread_mutex_unlock(&js->mu);
  rp_buf_free(&take);
  rp_jobstore_job_free(j);
  return rc;
}

int rp_jobstore_take(struct rp_jobstore *js, const char *worker, size_t max,
                     long wait_ms, int as_array, struct rp_buf *out)
{
  long long now = rp_jobstore_lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t need = as_array ? 2 : 0;
  size_t n = 0;
  struct job *j;
  int rc;
  if (max < 1)
    max = 1;
  if (max > RP_JOBSTORE_MAX_BATCH)
    max = RP_JOBSTORE_MAX_BATCH;
  rp_jobstore_seen(js, worker, now);
  while (!js->lists[ON_QUEUE].head) {
    if (rp_jobstore_wait(js, &js->cv_queue, deadline) != 0)
      break;
  }
  if (!js->lists[ON_QUEUE].head) {
    pthread_mutex_unlock(&js->mu);
    return 0;
  }
  /* Reserve first, so that a full 'out' leaves every job queued. */
  for (j = js->lists[ON_QUEUE].head; j && n < max; j = j->next, n++)
    need += j->take_len + 1;
  rc = rp_buf_reserve(out, need);
  if (rc != RP_OK) {
    pthread_mutex_unlock(&js->mu);
    return rc;
  }
  now = rp_clock_now_ms();
  if (as_array)
    rp_buf_append(out, "[", 1);
  for (n = 0; n < max && js->lists[ON_QUEUE].head; n++) {
    j = js->lists[ON_QUEUE].head;
    rp_jobstore_list_remove(js, j);
    j->status = RP_JOB_IN_PROGRESS;
    j->started = now;
    snprintf(j->worker, sizeof(j->worker), "%s", worker ? worker : "");
    rp_jobstore_list_push(js, ON_RUNNING, j, 0);
    if (n > 0)
      rp_buf_append(out, ",", 1);
    rp_buf_append(out, j->take, j->take_len);
    /* No broadcast on j->cv: its waiters (views, stream reads) wait for
     * the end or a chunk, and a wake here would only put them back; but
     * for a job with a time limit, whose waiters wake when it passes,
     * counted from now (rp_jobstore_wait_job). */
    if (j->exec_timeout_ms > 0 && j->waiters > 0)
      pthread_cond_broadcast(&j->cv);
  }
  if (as_array)
    rp_buf_append(out, "]", 1);
  /* Pass the wake-up on when jobs remain for other waiting takers. */
  if (js->lists[ON_QUEUE].head)
    pthread_cond_signal(&js->cv_queue);
  pthread_mutex_unlock(&js->mu);
  return (int)n;
}

/* Replaces *dst with a copy of src (or NULL). Returns RP_OK or
 * RP_ENOMEM (then *dst is unchanged). */
static int set_text(char **dst, size_t *dstlen, const char *src, size_t len)
{
  char *p = NULL;
  if (src) {
    p = malloc(len + 1);
    if (!p)
      return RP_ENOMEM;
    memcpy(p, src, len);
    p[len] = '\0';
  }
  free(*dst);
  *dst = p;
  *dstlen = src ? len : 0;
  return RP_OK;
}

int rp_jobstore_done(struct rp_jobstore *js, const char *worker,
                     const char *id, int progress, const char *output,
                     size_t outlen, const char *error, size_t errlen)
{
  long long now = rp_jobstore_lock(js);
  struct job *j;
  struct job *woken = NULL;
  int rc = RP_OK;
  rp_jobstore_seen(js, worker, now);
  j = rp_jobstore_find_taken(js, id);
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  if (progress) {
    j->progress_posts++;
    if (rp_jobstore_terminal(j)) {
      j->late_posts++;
      goto out;
    }
    rc = set_text(&j->output, &j->output_len, output, outlen);
    pthread_cond_broadcast(&j->cv);
    goto out;
  }
  j->done_posts++;
  if (rp_jobstore_terminal(j)) {
    j->late_posts++;
    goto out;
  }
  rc = set_text(&j->output, &j->output_len, output, outlen);
  if (rc == RP_OK)
    rc = set_text(&j->error, &j->error_len, error, errlen);
  if (rc != RP_OK) {
    j->done_posts--;
    goto out;
  }
  if (!j->started)
    j->started = now;
  end_job(js, j, error ? RP_JOB_FAILED : RP_JOB_COMPLETED, now);
  if (j->waiters > 0) {
    j->waiters++;
    woken = j;
  }
out:
  pthread_mutex_unlock(&js->mu);
  if (woken)
    rp_jobstore_wake_unlocked(js, woken);
  return rc;
}

/* 1 when the stored raw JSON text equals src (both absent counts). */
static int same_text(const char *have, size_t havelen, const char *src,
                     size_t len)
{
  if (!have || !src)
    return !have && !src;
  return havelen == len && memcmp(have, src, len) == 0;
}

int rp_jobstore_is_result(struct rp_jobstore *js, const char *id,
                          const char *output, size_t outlen,
                          const char *error, size_t errlen)
{
  struct job *j;
  int same = 0;
  rp_jobstore_lock(js);
  j = rp_jobstore_find_taken(js, id);
  if (j && (j->status == RP_JOB_COMPLETED || j->status == RP_JOB_FAILED))
    same = same_text(j->output, j->output_len, output, outlen) &&
           same_text(j->error, j->error_len, error, errlen);
  pthread_mutex_unlock(&js->mu);
  return same;
}

int rp_jobstore_view(struct rp_jobstore *js, const char *id, long wait_ms,
                     struct rp_buf *out)
{
  long long now = rp_jobstore_lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  struct job *j = rp_jobstore_find(js, id);
  int rc;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  while (!rp_jobstore_terminal(j)) {
    int w = rp_jobstore_wait_job(js, j, deadline);
    if (w == -2) {
      rc = RP_JOBSTORE_ENOENT;
      goto out;
    }
    if (w != 0)
      break;
  }
  rc = put_view(j, rp_clock_now_ms(), out);
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

int rp_jobstore_cancel(struct rp_jobstore *js, const char *id,
                       struct rp_buf *out)
{
  long long now = rp_jobstore_lock(js);
  struct job *j = rp_jobstore_find(js, id);
  int rc;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  if (j->status == RP_JOB_IN_PROGRESS) {
    finish(js, j, RP_JOB_CANCELLED, now);
    j->stop_pending = 1;
    js->stops_pending++;
    news(js, &js->cv_stop);
  } else if (j->status == RP_JOB_IN_QUEUE) {
    finish(js, j, RP_JOB_CANCELLED, now);
  }
  rc = rp_buf_printf(out, "{\"id\":\"%s\",\"status\":\"%s\"}", j->id,
                     rp_jobstore_status_name(j->status));
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

int rp_jobstore_retry(struct rp_jobstore *js, const char *id,
                      struct rp_buf *out, const char **status)
{
  long long now = rp_jobstore_lock(js);
  struct job *j = rp_jobstore_find(js, id);
  int rc;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  *status = rp_jobstore_status_name(j->status);
  /* A named job's name may belong to a newer job by now. */
  if ((j->status != RP_JOB_FAILED && j->status != RP_JOB_TIMED_OUT) ||
      j->as) {
    rc = RP_JOBSTORE_ESTATE;
    goto out;
  }
  rc = rp_buf_printf(out, "{\"id\":\"%s\",\"status\":\"IN_QUEUE\"}",
                     j->id);
  if (rc != RP_OK)
    goto out;
  free(j->output);
  free(j->error);
  j->output = j->error = NULL;
  j->output_len = j->error_len = 0;
  rp_jobstore_free_chunks(j);
  j->output_streamed = 0;
  if (j->stop_pending) {
    j->stop_pending = 0;
    js->stops_pending--;
  }
  j->submitted = now;
  j->finished = 0;
  requeue(js, j, 0);
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

size_t rp_jobstore_purge(struct rp_jobstore *js)
{
  long long now = rp_jobstore_lock(js);
  size_t n = 0;
  struct job *j;
  while ((j = js->lists[ON_QUEUE].head) != NULL) {
    finish(js, j, RP_JOB_CANCELLED, now);
    n++;
  }
  pthread_mutex_unlock(&js->mu);
  return n;
}

void rp_jobstore_health(struct rp_jobstore *js, struct rp_jobstore_health *h)
{
  long long now = rp_jobstore_lock(js);
  size_t i;
  memset(h, 0, sizeof(*h));
  h->completed = js->completed;
  h->failed = js->failed;
  h->retried = js->retried;
  h->in_queue = js->lists[ON_QUEUE].count;
  h->in_progress = js->lists[ON_RUNNING].count;
  for (i = 0; i < js->nworkers; i++) {
    const struct worker *w = &js->workers[i];
    const struct job *j;
    int busy = 0;
    if (now - w->seen > WORKER_RECENT_MS)
      continue;
    if (w->unhealthy) {
      h->workers_unhealthy++;
      continue;
    }
    for (j = js->lists[ON_RUNNING].head; j && !busy; j = j->next)
      busy = strcmp(j->worker, w->id) == 0;
    if (busy)
      h->workers_running++;
    else
      h->workers_idle++;
  }
  pthread_mutex_unlock(&js->mu);
}

int rp_jobstore_counters(struct rp_jobstore *js, struct rp_buf *out)
{
  int rc;
  int first = 1;
  int i;
  const struct job *j;
  rp_jobstore_lock(js);
  rc = rp_buf_puts(out, "{");
  for (i = 0; i < NLISTS; i++) {
    for (j = js->lists[i].head; j && rc == RP_OK; j = j->next) {
      rc = rp_buf_printf(out, "%s\"%s\":{\"status\":\"%s\",\"done\":%lu,"
                         "\"progress\":%lu,\"stream\":%lu,\"late\":%lu,"
                         "\"retries\":%lu,\"worker\":",
                         first ? "" : ",", j->id,
                         rp_jobstore_status_name(j->status), j->done_posts,
                         j->progress_posts, j->stream_posts, j->late_posts,
                         j->retries);
      /* Worker ids come from URLs: any bytes. */
      if (rc == RP_OK)
        rc = rp_json_put_string(out, j->worker, strlen(j->worker));
      if (rc == RP_OK)
        rc = rp_buf_puts(out, "}");
      first = 0;
    }
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "}");
  pthread_mutex_unlock(&js->mu);
  return rc;
}

int rp_jobstore_sleep(struct rp_jobstore *js, long ms)
{
  long long deadline = rp_clock_now_ms() + (ms > 0 ? ms : 0);
  int closed;
  pthread_mutex_lock(&js->mu);
  while (rp_jobstore_wait(js, &js->cv_sleep, deadline) == 0)
    ;
  closed = js->closed;
  pthread_mutex_unlock(&js->mu);
  return closed ? -1 : 0;
}
