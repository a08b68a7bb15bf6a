/* jobstore.c - see jobstore.h. */
#include "server/jobstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/clock.h"
#include "base/rp.h"

#define WORKER_RECENT_MS 60000   /* health: a worker counts this long */

struct chunk {
  struct chunk *next;
  size_t len;
  char data[];
};

/* Which list a job is on: every job held is on exactly one. */
enum { ON_QUEUE, ON_RUNNING, ON_FINISHED, NLISTS };

struct job {
  char id[RP_JOBSTORE_ID_LEN + 1];
  struct job *hnext;                 /* hash chain */
  struct job *prev, *next;           /* the list named by 'list' */
  int list;
  enum rp_job_status status;
  char *take;                        /* {"id":..,"input":..,extra} */
  size_t take_len;
  char *webhook;                     /* NULL when none */
  char *output;                      /* raw JSON or NULL */
  size_t output_len;
  char *error;                       /* raw JSON or NULL */
  size_t error_len;
  char worker[RP_JOBSTORE_MAX_ID + 1];
  long long submitted, started, finished;
  long exec_timeout_ms;
  struct chunk *chunks, *chunks_tail;  /* undelivered stream chunks */
  size_t chunk_bytes;
  int output_streamed;               /* output sent as a /stream chunk */
  int stop_pending;                  /* for the worker's job-stop poll */
  unsigned long done_posts, progress_posts, stream_posts, late_posts;
  unsigned long retries;
  int waiters;                       /* threads waiting on cv */
  int removed;                       /* forgotten; freed by last waiter */
  pthread_cond_t cv;
};

struct list {
  struct job *head, *tail;
  size_t count;
};

struct worker {
  char id[RP_JOBSTORE_MAX_ID + 1];
  long long seen;
};

struct rp_jobstore {
  pthread_mutex_t mu;
  pthread_cond_t cv_queue;           /* a job was queued */
  pthread_cond_t cv_stop;            /* a running job must stop */
  pthread_cond_t cv_sleep;           /* only closing signals it */
  struct rp_jobstore_limits lim;
  int closed;
  struct job **buckets;
  size_t nbuckets;
  size_t njobs;
  struct list lists[NLISTS];
  struct worker *workers;
  size_t nworkers;
  size_t stops_pending;
  unsigned long completed, failed, retried;
  long long last_upkeep;
  uint64_t rng;
  rp_jobstore_final_fn final_fn;
  void *final_ud;
};

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

static int terminal(const struct job *j)
{
  return j->status >= RP_JOB_COMPLETED;
}

void rp_jobstore_default_limits(struct rp_jobstore_limits *lim)
{
  lim->retain_ms = RP_JOBSTORE_RETAIN_MS;
  lim->retain_max = RP_JOBSTORE_RETAIN_MAX;
  lim->requeue_after_ms = 0;
  lim->max_jobs = RP_JOBSTORE_MAX_JOBS;
  lim->max_stream_bytes = RP_JOBSTORE_MAX_STREAM_BYTES;
}

/* ---- random ids ---- */

static void seed_random(struct rp_jobstore *js)
{
  uint64_t seed = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed))
      seed = 0;
    close(fd);
  }
  seed ^= (uint64_t)rp_clock_now_ms() * 0x9E3779B97F4A7C15ULL;
  seed ^= (uint64_t)getpid() << 32;
  js->rng = seed ? seed : 0x853c49e6748fea9bULL;
}

/* Writes a UUID-v4-shaped id (36 chars + NUL) to out. */
static void make_id(struct rp_jobstore *js, char *out)
{
  uint64_t a = rp_rng_next(&js->rng);
  uint64_t b = rp_rng_next(&js->rng);
  snprintf(out, RP_JOBSTORE_ID_LEN + 1, "%08x-%04x-4%03x-%04x-%012llx",
           (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffffu,
           (unsigned)a & 0xfffu, (unsigned)(0x8000u | ((b >> 48) & 0x3fffu)),
           (unsigned long long)(b & 0xffffffffffffULL));
}

/* ---- lists and the id hash ---- */

static void list_remove(struct rp_jobstore *js, struct job *j)
{
  struct list *l = &js->lists[j->list];
  if (j->prev)
    j->prev->next = j->next;
  else
    l->head = j->next;
  if (j->next)
    j->next->prev = j->prev;
  else
    l->tail = j->prev;
  j->prev = NULL;
  j->next = NULL;
  l->count--;
}

static void list_push(struct rp_jobstore *js, int which, struct job *j,
                      int front)
{
  struct list *l = &js->lists[which];
  j->list = which;
  if (front) {
    j->prev = NULL;
    j->next = l->head;
    if (l->head)
      l->head->prev = j;
    else
      l->tail = j;
    l->head = j;
  } else {
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
      l->tail->next = j;
    else
      l->head = j;
    l->tail = j;
  }
  l->count++;
}

static size_t hash_id(const char *s, size_t nbuckets)
{
  uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 1099511628211ULL;
  }
  return (size_t)(h & (nbuckets - 1));
}

static struct job *find(struct rp_jobstore *js, const char *id)
{
  struct job *j;
  if (!id || strlen(id) != RP_JOBSTORE_ID_LEN)
    return NULL;
  for (j = js->buckets[hash_id(id, js->nbuckets)]; j; j = j->hnext)
    if (strcmp(j->id, id) == 0)
      return j;
  return NULL;
}

/* Doubles the bucket array; on allocation failure keeps the old one
 * (chains just get longer). */
static void grow(struct rp_jobstore *js)
{
  size_t n = js->nbuckets * 2;
  size_t i;
  struct job **b = calloc(n, sizeof(*b));
  if (!b)
    return;
  for (i = 0; i < js->nbuckets; i++) {
    struct job *j = js->buckets[i];
    while (j) {
      struct job *next = j->hnext;
      size_t h = hash_id(j->id, n);
      j->hnext = b[h];
      b[h] = j;
      j = next;
    }
  }
  free(js->buckets);
  js->buckets = b;
  js->nbuckets = n;
}

static void hash_remove(struct rp_jobstore *js, struct job *j)
{
  struct job **p = &js->buckets[hash_id(j->id, js->nbuckets)];
  while (*p && *p != j)
    p = &(*p)->hnext;
  if (*p)
    *p = j->hnext;
  j->hnext = NULL;
}

static void free_chunks(struct job *j)
{
  while (j->chunks) {
    struct chunk *c = j->chunks;
    j->chunks = c->next;
    free(c);
  }
  j->chunks_tail = NULL;
  j->chunk_bytes = 0;
}

static void job_free(struct job *j)
{
  if (!j)
    return;
  free_chunks(j);
  free(j->take);
  free(j->webhook);
  free(j->output);
  free(j->error);
  pthread_cond_destroy(&j->cv);
  free(j);
}

/* Forgets a job: off its list and the hash. Freed now, or by the last
 * thread still waiting on it. */
static void forget(struct rp_jobstore *js, struct job *j)
{
  list_remove(js, j);
  hash_remove(js, j);
  js->njobs--;
  if (j->stop_pending) {
    j->stop_pending = 0;
    js->stops_pending--;
  }
  if (j->waiters > 0) {
    j->removed = 1;
    pthread_cond_broadcast(&j->cv);
  } else {
    job_free(j);
  }
}

/* ---- workers ---- */

static struct worker *worker_find(struct rp_jobstore *js, const char *id)
{
  size_t i;
  for (i = 0; i < js->nworkers; i++)
    if (strcmp(js->workers[i].id, id) == 0)
      return &js->workers[i];
  return NULL;
}

static void touch(struct rp_jobstore *js, const char *id, long long now)
{
  struct worker *w;
  size_t i;
  if (!id || !*id || strlen(id) > RP_JOBSTORE_MAX_ID)
    return;
  w = worker_find(js, id);
  if (!w && js->nworkers < RP_JOBSTORE_MAX_WORKERS) {
    w = &js->workers[js->nworkers++];
  } else if (!w) {
    /* Full: the worker heard from least recently gives up its slot. */
    w = &js->workers[0];
    for (i = 1; i < js->nworkers; i++)
      if (js->workers[i].seen < w->seen)
        w = &js->workers[i];
  }
  if (strcmp(w->id, id) != 0)
    snprintf(w->id, sizeof(w->id), "%s", id);
  w->seen = now;
}

void rp_jobstore_touch(struct rp_jobstore *js, const char *worker)
{
  pthread_mutex_lock(&js->mu);
  touch(js, worker, rp_clock_now_ms());
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
 * finished list, waking its waiters and calling the webhook hook. */
static void finish(struct rp_jobstore *js, struct job *j,
                   enum rp_job_status st, long long now)
{
  list_remove(js, j);
  j->status = st;
  j->finished = now;
  list_push(js, ON_FINISHED, j, 0);
  if (st == RP_JOB_COMPLETED)
    js->completed++;
  else if (st == RP_JOB_FAILED || st == RP_JOB_TIMED_OUT)
    js->failed++;
  pthread_cond_broadcast(&j->cv);
  if (j->webhook && js->final_fn) {
    struct rp_buf view = RP_BUF_INIT(SIZE_MAX / 2);
    if (put_view(j, now, &view) == RP_OK)
      js->final_fn(js->final_ud, j->webhook, view.data, view.len);
    rp_buf_free(&view);
  }
}

/* ---- upkeep ---- */

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
      pthread_cond_broadcast(&js->cv_stop);
    } else if (js->lim.requeue_after_ms > 0) {
      struct worker *w = worker_find(js, j->worker);
      long long seen = w ? w->seen : j->started;
      if (seen < j->started)
        seen = j->started;
      if (now - seen >= js->lim.requeue_after_ms) {
        list_remove(js, j);
        j->status = RP_JOB_IN_QUEUE;
        j->started = 0;
        j->worker[0] = '\0';
        j->retries++;
        js->retried++;
        list_push(js, ON_QUEUE, j, 1);
        pthread_cond_broadcast(&js->cv_queue);
        pthread_cond_broadcast(&j->cv);
      }
    }
  }
  while ((j = js->lists[ON_FINISHED].head) != NULL) {
    if (js->lists[ON_FINISHED].count <= js->lim.retain_max &&
        now - j->finished < js->lim.retain_ms)
      break;
    forget(js, j);
  }
}

void rp_jobstore_upkeep(struct rp_jobstore *js)
{
  pthread_mutex_lock(&js->mu);
  upkeep(js, rp_clock_now_ms(), 1);
  pthread_mutex_unlock(&js->mu);
}

/* Locks the store and runs the lazy upkeep; returns the time. */
static long long lock(struct rp_jobstore *js)
{
  long long now = rp_clock_now_ms();
  pthread_mutex_lock(&js->mu);
  upkeep(js, now, 0);
  return now;
}

/* Waits on cv until woken or the monotonic deadline (ms) passes. Returns
 * 0 when woken, -1 at the deadline or when the store is closed. */
static int wait_until(struct rp_jobstore *js, pthread_cond_t *cv,
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
 * 0 when woken with j still held, -1 at the deadline, on close, or when j
 * was forgotten meanwhile (then j has been freed: do not touch it). */
static int wait_job(struct rp_jobstore *js, struct job *j, long long deadline)
{
  int rc;
  j->waiters++;
  rc = wait_until(js, &j->cv, deadline);
  j->waiters--;
  if (j->removed) {
    if (j->waiters == 0)
      job_free(j);
    return -2;
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
  seed_random(js);
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
      job_free(j);
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
  struct rp_buf take = RP_BUF_INIT(SIZE_MAX / 2);
  struct job *j = calloc(1, sizeof(*j));
  long long now;
  size_t h;
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
      job_free(j);
      return RP_ENOMEM;
    }
  }
  j->exec_timeout_ms = exec_timeout_ms > 0 ? exec_timeout_ms : 0;
  now = lock(js);
  if (js->njobs >= js->lim.max_jobs) {
    rc = RP_ETOOBIG;
    goto out;
  }
  do
    make_id(js, j->id);
  while (find(js, j->id));
  rc = rp_buf_printf(&take, "{\"id\":\"%s\",\"input\":", j->id);
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
  if (js->njobs >= js->nbuckets)
    grow(js);
  h = hash_id(j->id, js->nbuckets);
  j->hnext = js->buckets[h];
  js->buckets[h] = j;
  js->njobs++;
  list_push(js, ON_QUEUE, j, 0);
  memcpy(id, j->id, RP_JOBSTORE_ID_LEN + 1);
  j = NULL;                          /* the store owns it now */
  pthread_cond_signal(&js->cv_queue);
out:
  pthread_mutex_unlock(&js->mu);
  rp_buf_free(&take);
  job_free(j);
  return rc;
}

int rp_jobstore_take(struct rp_jobstore *js, const char *worker, size_t max,
                     long wait_ms, int as_array, struct rp_buf *out)
{
  long long now = lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t need = as_array ? 2 : 0;
  size_t n = 0;
  struct job *j;
  int rc;
  if (max < 1)
    max = 1;
  if (max > RP_JOBSTORE_MAX_BATCH)
    max = RP_JOBSTORE_MAX_BATCH;
  touch(js, worker, now);
  while (!js->lists[ON_QUEUE].head) {
    if (wait_until(js, &js->cv_queue, deadline) != 0)
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
    list_remove(js, j);
    j->status = RP_JOB_IN_PROGRESS;
    j->started = now;
    snprintf(j->worker, sizeof(j->worker), "%s", worker ? worker : "");
    list_push(js, ON_RUNNING, j, 0);
    if (n > 0)
      rp_buf_append(out, ",", 1);
    rp_buf_append(out, j->take, j->take_len);
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
  long long now = lock(js);
  struct job *j;
  int rc = RP_OK;
  touch(js, worker, now);
  j = find(js, id);
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  if (progress) {
    j->progress_posts++;
    if (terminal(j)) {
      j->late_posts++;
      goto out;
    }
    rc = set_text(&j->output, &j->output_len, output, outlen);
    pthread_cond_broadcast(&j->cv);
    goto out;
  }
  j->done_posts++;
  if (terminal(j)) {
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
  finish(js, j, error ? RP_JOB_FAILED : RP_JOB_COMPLETED, now);
out:
  pthread_mutex_unlock(&js->mu);
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
  lock(js);
  j = find(js, id);
  if (j && (j->status == RP_JOB_COMPLETED || j->status == RP_JOB_FAILED))
    same = same_text(j->output, j->output_len, output, outlen) &&
           same_text(j->error, j->error_len, error, errlen);
  pthread_mutex_unlock(&js->mu);
  return same;
}

int rp_jobstore_stream_append(struct rp_jobstore *js, const char *worker,
                              const char *id, const char *data, size_t len)
{
  long long now = lock(js);
  struct chunk *c;
  struct job *j;
  int rc = RP_OK;
  touch(js, worker, now);
  j = find(js, id);
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  j->stream_posts++;
  if (terminal(j)) {
    j->late_posts++;
    goto out;
  }
  if (len > js->lim.max_stream_bytes ||
      j->chunk_bytes > js->lim.max_stream_bytes - len) {
    rc = RP_ETOOBIG;
    goto out;
  }
  c = malloc(sizeof(*c) + len + 1);
  if (!c) {
    rc = RP_ENOMEM;
    goto out;
  }
  c->next = NULL;
  c->len = len;
  memcpy(c->data, data, len);
  c->data[len] = '\0';
  if (j->chunks_tail)
    j->chunks_tail->next = c;
  else
    j->chunks = c;
  j->chunks_tail = c;
  j->chunk_bytes += len;
  pthread_cond_broadcast(&j->cv);
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

int rp_jobstore_stream_read(struct rp_jobstore *js, const char *id,
                            long wait_ms, struct rp_buf *out)
{
  long long now = lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t mark = out->len;
  int with_output;
  struct chunk *c;
  struct job *j = find(js, id);
  int rc = RP_OK;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  while (!j->chunks && !terminal(j)) {
    int w = wait_job(js, j, deadline);
    if (w == -2) {
      rc = RP_JOBSTORE_ENOENT;
      goto out;
    }
    if (w != 0)
      break;
  }
  with_output = terminal(j) && j->stream_posts == 0 && j->output &&
                !j->output_streamed;
  rc = rp_buf_printf(out, "{\"status\":\"%s\",\"stream\":[",
                     rp_jobstore_status_name(j->status));
  for (c = j->chunks; c && rc == RP_OK; c = c->next) {
    rc = rp_buf_puts(out, c == j->chunks ? "{\"output\":" : ",{\"output\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, c->data, c->len);
    if (rc == RP_OK)
      rc = rp_buf_puts(out, "}");
  }
  if (rc == RP_OK && with_output) {
    rc = rp_buf_puts(out, "{\"output\":");
    if (rc == RP_OK)
      rc = rp_buf_append(out, j->output, j->output_len);
    if (rc == RP_OK)
      rc = rp_buf_puts(out, "}");
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "]}");
  if (rc != RP_OK) {
    out->len = mark;                 /* nothing delivered */
    if (out->data)
      out->data[mark] = '\0';
    goto out;
  }
  free_chunks(j);
  if (with_output)
    j->output_streamed = 1;
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

int rp_jobstore_view(struct rp_jobstore *js, const char *id, long wait_ms,
                     struct rp_buf *out)
{
  long long now = lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  struct job *j = find(js, id);
  int rc;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  while (!terminal(j)) {
    int w = wait_job(js, j, deadline);
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
  long long now = lock(js);
  struct job *j = find(js, id);
  int rc;
  if (!j) {
    rc = RP_JOBSTORE_ENOENT;
    goto out;
  }
  if (j->status == RP_JOB_IN_PROGRESS) {
    finish(js, j, RP_JOB_CANCELLED, now);
    j->stop_pending = 1;
    js->stops_pending++;
    pthread_cond_broadcast(&js->cv_stop);
  } else if (j->status == RP_JOB_IN_QUEUE) {
    finish(js, j, RP_JOB_CANCELLED, now);
  }
  rc = rp_buf_printf(out, "{\"id\":\"%s\",\"status\":\"%s\"}", j->id,
                     rp_jobstore_status_name(j->status));
out:
  pthread_mutex_unlock(&js->mu);
  return rc;
}

size_t rp_jobstore_purge(struct rp_jobstore *js)
{
  long long now = lock(js);
  size_t n = 0;
  struct job *j;
  while ((j = js->lists[ON_QUEUE].head) != NULL) {
    finish(js, j, RP_JOB_CANCELLED, now);
    n++;
  }
  pthread_mutex_unlock(&js->mu);
  return n;
}

/* Does a job of 'worker' wait to be reported by job-stop? */
static int has_stop(struct rp_jobstore *js, const char *worker)
{
  struct job *j;
  if (js->stops_pending == 0)
    return 0;
  for (j = js->lists[ON_FINISHED].head; j; j = j->next)
    if (j->stop_pending && strcmp(j->worker, worker) == 0)
      return 1;
  return 0;
}

int rp_jobstore_stops(struct rp_jobstore *js, const char *worker,
                      long wait_ms, struct rp_buf *out)
{
  long long now = lock(js);
  long long deadline = now + (wait_ms > 0 ? wait_ms : 0);
  size_t mark = out->len;
  struct job *j;
  int n = 0;
  int rc = RP_OK;
  touch(js, worker, now);
  while (!has_stop(js, worker)) {
    if (wait_until(js, &js->cv_stop, deadline) != 0)
      break;
  }
  if (!has_stop(js, worker))
    goto out;
  rc = rp_buf_puts(out, "[");
  for (j = js->lists[ON_FINISHED].head; j && rc == RP_OK; j = j->next) {
    if (!j->stop_pending || strcmp(j->worker, worker) != 0)
      continue;
    rc = rp_buf_printf(out, "%s\"%s\"", n ? "," : "", j->id);
    n++;
  }
  if (rc == RP_OK)
    rc = rp_buf_puts(out, "]");
  if (rc != RP_OK) {
    out->len = mark;
    if (out->data)
      out->data[mark] = '\0';
    n = 0;
    goto out;
  }
  for (j = js->lists[ON_FINISHED].head; j; j = j->next) {
    if (j->stop_pending && strcmp(j->worker, worker) == 0) {
      j->stop_pending = 0;
      js->stops_pending--;
    }
  }
out:
  pthread_mutex_unlock(&js->mu);
  return rc != RP_OK ? rc : n;
}

void rp_jobstore_health(struct rp_jobstore *js, struct rp_jobstore_health *h)
{
  long long now = lock(js);
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
  lock(js);
  rc = rp_buf_puts(out, "{");
  for (i = 0; i < NLISTS; i++) {
    for (j = js->lists[i].head; j && rc == RP_OK; j = j->next) {
      rc = rp_buf_printf(out, "%s\"%s\":{\"status\":\"%s\",\"done\":%lu,"
                         "\"progress\":%lu,\"stream\":%lu,\"late\":%lu,"
                         "\"retries\":%lu,\"worker\":\"",
                         first ? "" : ",", j->id,
                         rp_jobstore_status_name(j->status), j->done_posts,
                         j->progress_posts, j->stream_posts, j->late_posts,
                         j->retries);
      /* Worker ids come from URLs: escape what JSON needs escaped. */
      for (const char *p = j->worker; *p && rc == RP_OK; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
          rc = rp_buf_printf(out, "\\%c", ch);
        else if (ch < 0x20)
          rc = rp_buf_printf(out, "\\u%04x", ch);
        else
          rc = rp_buf_append(out, p, 1);
      }
      if (rc == RP_OK)
        rc = rp_buf_puts(out, "\"}");
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
  while (wait_until(js, &js->cv_sleep, deadline) == 0)
    ;
  closed = js->closed;
  pthread_mutex_unlock(&js->mu);
  return closed ? -1 : 0;
}
