/*
 * jobstore_int.h - private to server/jobstore*.c: the store's data and the
 * helpers its files share. Users of the store include jobstore.h.
 *
 * Three files, one concern each:
 *   jobstore.c         life cycle, job states (submit, take, done, cancel,
 *                      upkeep), views, counters, the lock and the waits;
 *   jobstore_index.c   where jobs are held: ids, lists, id hash, workers;
 *   jobstore_stream.c  stream chunks and stop reports of running jobs.
 *
 * Every function below that takes the store expects its mutex held, except
 * rp_jobstore_lock(), which takes it. Times are rp_clock_now_ms().
 */
#ifndef RP_JOBSTORE_INT_H
#define RP_JOBSTORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rp.h"
#include "server/jobstore.h"

struct chunk {
  struct chunk *next;
  size_t len;
  char data[];
};

/* Which list a job is on: every job held is on exactly one. */
enum { ON_QUEUE, ON_RUNNING, ON_FINISHED, NLISTS };

struct job {
  char id[RP_JOBSTORE_ID_LEN + 1];
  char *as;                          /* the id the worker sees: NULL, id */
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
  int unhealthy;                     /* its last ping said so */
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
  size_t named;                      /* held jobs a caller named (as) */
  struct list lists[NLISTS];
  struct worker *workers;
  size_t nworkers;
  size_t stops_pending;
  unsigned long completed, failed, retried;
  long long last_upkeep;
  uint64_t rng;
  rp_jobstore_final_fn final_fn;
  void *final_ud;
  rp_jobstore_notify_fn notify_fn;
  void *notify_ud;
};

/* 1 once job j has ended (COMPLETED, FAILED, CANCELLED, TIMED_OUT). */
static inline int rp_jobstore_terminal(const struct job *j)
{
  return j->status >= RP_JOB_COMPLETED;
}

/* ---- jobstore.c ---- */

/* Locks the store and runs the lazy upkeep; returns the time. The caller
 * unlocks js->mu. */
long long rp_jobstore_lock(struct rp_jobstore *js);

/* Waits on cv until woken or the monotonic deadline (ms) passes. Returns
 * 0 when woken, -1 at the deadline or when the store is closed. */
int rp_jobstore_wait(struct rp_jobstore *js, pthread_cond_t *cv,
                     long long deadline);

/* Waits on job j's condition variable, keeping j alive meanwhile. Returns
 * 0 when woken with j still held, -1 at the deadline or on close, -2 when j
 * was forgotten meanwhile (then j has been freed: do not touch it). */
int rp_jobstore_wait_job(struct rp_jobstore *js, struct job *j,
                         long long deadline);

/* Wakes the waiters of job j, which the caller pinned (j->waiters++)
 * before it unlocked the store: a waiter woken under the lock would only
 * block on it again (on one core, two more context switches per job or
 * stream chunk). Unpins j, freeing it when it was forgotten meanwhile.
 * Call without the lock. */
void rp_jobstore_wake_unlocked(struct rp_jobstore *js, struct job *j);

/* ---- jobstore_index.c ---- */

/* Seeds the id generator from /dev/urandom, the clock and the pid. */
void rp_jobstore_seed_ids(struct rp_jobstore *js);

/* Writes a UUID-v4-shaped id (RP_JOBSTORE_ID_LEN chars + NUL) to out. */
void rp_jobstore_new_id(struct rp_jobstore *js, char *out);

/* Takes j off its list (j->list). */
void rp_jobstore_list_remove(struct rp_jobstore *js, struct job *j);

/* Puts j on list 'which' (ON_*), at the front when 'front', else last. */
void rp_jobstore_list_push(struct rp_jobstore *js, int which, struct job *j,
                           int front);

/* The job with this id, or NULL. Borrowed: valid while the mutex is held
 * (or while the caller waits on it through rp_jobstore_wait_job). */
struct job *rp_jobstore_find(struct rp_jobstore *js, const char *id);

/* The job a worker means by id: the one it was given under that id (its
 * caller's name, or else its store id), or NULL. As rp_jobstore_find. */
struct job *rp_jobstore_find_taken(struct rp_jobstore *js, const char *id);

/* The first job a caller named 'as' (running, finished, then queued) for
 * which 'keep' returns nonzero (NULL: any), or NULL. As rp_jobstore_find. */
struct job *rp_jobstore_find_named(struct rp_jobstore *js, const char *as,
                                   int (*keep)(const struct job *));

/* The id the worker sees for j. */
const char *rp_jobstore_worker_id_of(const struct job *j);

/* Adds j (its id set, on no list yet) to the id hash and counts it; the
 * store owns j afterwards. */
void rp_jobstore_hold(struct rp_jobstore *js, struct job *j);

/* Forgets a job: off its list and the hash. Freed now, or by the last
 * thread still waiting on it. */
void rp_jobstore_forget(struct rp_jobstore *js, struct job *j);

/* Frees j's undelivered stream chunks. */
void rp_jobstore_free_chunks(struct job *j);

/* Frees a job that no list or hash holds any more. Accepts NULL. */
void rp_jobstore_job_free(struct job *j);

/* The worker with this id, or NULL. Borrowed, as rp_jobstore_find(). */
struct worker *rp_jobstore_worker_find(struct rp_jobstore *js,
                                       const char *id);

/* Records that worker id was heard from at 'now' (ids longer than
 * RP_JOBSTORE_MAX_ID, empty or NULL are ignored). */
void rp_jobstore_seen(struct rp_jobstore *js, const char *id, long long now);

#endif
