/*
 * jobstore.h - a thread-safe, in-process RunPod job store (no Lua, no I/O).
 *
 * Holds the jobs of one endpoint from submission to a bounded time after
 * they end: a FIFO queue of IN_QUEUE jobs, the IN_PROGRESS jobs with the
 * worker that took them, and the finished ones (COMPLETED, FAILED,
 * CANCELLED, TIMED_OUT) kept for RP_JOBSTORE_RETAIN_MS and at most
 * RP_JOBSTORE_RETAIN_MAX of them, then forgotten (oldest first).
 *
 * JSON is kept as raw text: the store never parses or re-encodes it. The
 * caller hands in the "input" member's text (and the text of any other
 * members the client sent) and gets back ready JSON texts (job objects for
 * job-take, job views for /status, stream answers).
 *
 * One pthread mutex guards everything; condition variables (one for the
 * queue, one for stop requests, one per job) let callers long-poll with a
 * timeout. rp_jobstore_close() wakes every waiter, and later waits return
 * at once, so a server can stop while requests are held. Upkeep (retention,
 * re-queue of jobs whose worker went silent, execution timeouts) runs
 * lazily inside the calls, at most every RP_JOBSTORE_UPKEEP_MS.
 *
 * Times are CLOCK_MONOTONIC milliseconds.
 */
#ifndef RP_JOBSTORE_H
#define RP_JOBSTORE_H

#include <stddef.h>

#include "base/buf.h"

#define RP_JOBSTORE_MAX_ID 128            /* worker ids, bytes */
#define RP_JOBSTORE_ID_LEN 36             /* our job ids: UUID-shaped */
#define RP_JOBSTORE_MAX_JOBS 100000       /* jobs held at once, any state */
#define RP_JOBSTORE_MAX_STREAM_BYTES (64u << 20) /* undelivered chunks/job */
#define RP_JOBSTORE_MAX_WORKERS 1024      /* workers tracked for liveness */
#define RP_JOBSTORE_MAX_BATCH 256         /* jobs per job-take-batch */
#define RP_JOBSTORE_RETAIN_MS 600000      /* finished jobs kept 10 minutes */
#define RP_JOBSTORE_RETAIN_MAX 10000      /* ... and at most this many */
#define RP_JOBSTORE_UPKEEP_MS 50          /* upkeep runs at most this often */

/* Returned (besides the RP_E* codes of rp.h) for an unknown job id. */
#define RP_JOBSTORE_ENOENT (-100)
#define RP_JOBSTORE_EEXIST (-101)  /* a caller's job id already in use */
#define RP_JOBSTORE_ESTATE (-102)  /* the job's status forbids the change */

enum rp_job_status {
  RP_JOB_IN_QUEUE,
  RP_JOB_IN_PROGRESS,
  RP_JOB_COMPLETED,
  RP_JOB_FAILED,
  RP_JOB_CANCELLED,
  RP_JOB_TIMED_OUT
};

struct rp_jobstore_limits {
  long retain_ms;          /* finished jobs kept this long */
  size_t retain_max;       /* and at most this many */
  long requeue_after_ms;   /* re-queue a silent worker's jobs; 0 = never */
  size_t max_jobs;         /* submissions past this fail with RP_ETOOBIG */
  size_t max_stream_bytes; /* undelivered stream bytes per job */
};

struct rp_jobstore_health {
  unsigned long completed;  /* ever completed */
  unsigned long failed;     /* ever failed or timed out */
  unsigned long in_progress;
  unsigned long in_queue;
  unsigned long retried;    /* re-queues ever made */
  unsigned long workers_idle;     /* seen recently, no job */
  unsigned long workers_running;  /* seen recently, holding a job */
  unsigned long workers_unhealthy; /* seen recently, last ping said
                                      unhealthy (counted only here) */
};

/* Called, under the store's lock, when a job with a webhook ends. 'view'
 * (the final job view, len bytes) and 'url' are borrowed for the call. The
 * callback must not call back into the store. */
typedef void (*rp_jobstore_final_fn)(void *ud, const char *url,
                                     const char *view, size_t len);

/* Called, under the store's lock, when a job is queued or re-queued
 * (stop 0) and when a running job must stop (cancelled or timed out; stop
 * 1): a hint for a taker that does not wait inside the store
 * (rp_jobstore_take with wait_ms 0) to look again. Must not block nor
 * call back into the store. */
typedef void (*rp_jobstore_notify_fn)(void *ud, int stop);

struct rp_jobstore;

/* The status's name, e.g. "IN_QUEUE". */
const char *rp_jobstore_status_name(enum rp_job_status st);

/* Fills in the defaults named by the constants above (requeue off). */
void rp_jobstore_default_limits(struct rp_jobstore_limits *lim);

/* Creates a store. Returns RP_OK and the store in *out (caller owns it;
 * free with rp_jobstore_free), or RP_ENOMEM. lim may be NULL (defaults). */
int rp_jobstore_new(const struct rp_jobstore_limits *lim,
                    struct rp_jobstore **out);

/* Sets the hook called when a job that has a webhook ends. */
void rp_jobstore_set_final_hook(struct rp_jobstore *js,
                                rp_jobstore_final_fn fn, void *ud);

/* Sets the hook called when there is news for a taker (NULL: none). */
void rp_jobstore_set_notify(struct rp_jobstore *js, rp_jobstore_notify_fn fn,
                            void *ud);

/* Wakes every waiter; afterwards waits return at once. Thread-safe. */
void rp_jobstore_close(struct rp_jobstore *js);

/* Frees the store and its jobs. No other thread may be inside it any more.
 * Accepts NULL. */
void rp_jobstore_free(struct rp_jobstore *js);

/* Queues a job. 'input' is the raw JSON text of the input (inlen bytes),
 * 'extra' the raw text of further members for the job-take object, either
 * empty or starting with a comma (",\"webhook\":\"...\""), copied as is.
 * webhook (may be NULL) is the URL the final view is posted to;
 * exec_timeout_ms > 0 ends the job TIMED_OUT once it has run that long.
 * Writes the new id (RP_JOBSTORE_ID_LEN chars + NUL) to id. Returns RP_OK,
 * RP_ETOOBIG when the store holds max_jobs, or RP_ENOMEM. */
int rp_jobstore_submit(struct rp_jobstore *js, const char *input,
                       size_t inlen, const char *extra, size_t extralen,
                       const char *webhook, long exec_timeout_ms, char *id);

/* rp_jobstore_submit for a job the caller named (realtime: the platform's
 * request id): the worker sees 'as' (NUL-terminated, without NUL bytes)
 * as the job's id, in its job-take object and its job-stop list, and
 * posts under it; the store's routes still know the job by the id
 * written to id. NULL as: the store's id, as rp_jobstore_submit. Returns
 * RP_JOBSTORE_EEXIST while another job that has not ended has that name
 * (or a job, any, has it as its store id), else as rp_jobstore_submit. */
int rp_jobstore_submit_as(struct rp_jobstore *js, const char *as,
                          const char *input, size_t inlen,
                          const char *extra, size_t extralen,
                          const char *webhook, long exec_timeout_ms,
                          char *id);

/* Takes up to max queued jobs (1..RP_JOBSTORE_MAX_BATCH) for worker,
 * waiting up to wait_ms for the first one. Appends the job-take object
 * ({"id":...,"input":...,extra}) to out, or, when as_array, a JSON array of
 * them. Returns the number taken (0: nothing appended), or RP_ENOMEM /
 * RP_ETOOBIG from out (the jobs are then put back first in the queue). */
int rp_jobstore_take(struct rp_jobstore *js, const char *worker, size_t max,
                     long wait_ms, int as_array, struct rp_buf *out);

/* Records a job-done post from worker for job id. progress != 0 for an
 * IN_PROGRESS update (output replaces the job's current output, the job
 * keeps running). Otherwise the job ends: FAILED when error is given, else
 * COMPLETED; output/error are raw JSON texts or NULL. A post for a job that
 * has already ended is counted but changes nothing. Returns RP_OK,
 * RP_JOBSTORE_ENOENT or RP_ENOMEM. */
int rp_jobstore_done(struct rp_jobstore *js, const char *worker,
                     const char *id, int progress, const char *output,
                     size_t outlen, const char *error, size_t errlen);

/* 1 when job id has ended COMPLETED or FAILED with exactly this output
 * and error (raw JSON texts or NULL, as for rp_jobstore_done), i.e. a
 * job-done post that repeats the delivery which ended the job; else 0,
 * unknown jobs included. Changes nothing. */
int rp_jobstore_is_result(struct rp_jobstore *js, const char *id,
                          const char *output, size_t outlen,
                          const char *error, size_t errlen);

/* Appends a stream chunk (raw JSON text of the partial) to job id. Chunks
 * for a job that has ended are counted and dropped. Returns RP_OK,
 * RP_JOBSTORE_ENOENT, RP_ETOOBIG (max_stream_bytes undelivered) or
 * RP_ENOMEM. */
int rp_jobstore_stream_append(struct rp_jobstore *js, const char *worker,
                              const char *id, const char *chunk, size_t len);

/* Answers a /stream poll: waits up to wait_ms until the job has an
 * undelivered chunk or has ended, then appends {"status":...,"stream":
 * [{"output":chunk},...]} (the chunks delivered now, each only ever once)
 * to out, with "error" (its raw JSON) once a job that failed has ended.
 * A job that ended without streaming anything delivers its output as one
 * chunk. Returns RP_OK, RP_JOBSTORE_ENOENT or an out error. */
int rp_jobstore_stream_read(struct rp_jobstore *js, const char *id,
                            long wait_ms, struct rp_buf *out);

/* Appends the job view {"id","status","delayTime","executionTime",
 * "output"?,"error"?} to out, first waiting up to wait_ms for the job to
 * end (0: answer at once). Returns RP_OK, RP_JOBSTORE_ENOENT or an out
 * error. */
int rp_jobstore_view(struct rp_jobstore *js, const char *id, long wait_ms,
                     struct rp_buf *out);

/* Cancels job id: a queued one leaves the queue, a running one is marked
 * for the worker's next job-stop poll; both become CANCELLED. A finished
 * job keeps its status. Appends {"id","status"} to out. Returns RP_OK,
 * RP_JOBSTORE_ENOENT or an out error. */
int rp_jobstore_cancel(struct rp_jobstore *js, const char *id,
                       struct rp_buf *out);

/* Queues job id again (RunPod's /retry): a FAILED or TIMED_OUT job goes
 * back to the end of the queue under the same id, IN_QUEUE, its output,
 * error and undelivered chunks dropped, its retries counted; a stop not
 * yet reported to its worker is dropped too (it would stop the new run).
 * Appends {"id","status":"IN_QUEUE"} to out. Returns RP_OK,
 * RP_JOBSTORE_ENOENT, RP_JOBSTORE_ESTATE for a job in any other status or
 * one a caller named (with its status name in *status), or an out error. */
int rp_jobstore_retry(struct rp_jobstore *js, const char *id,
                      struct rp_buf *out, const char **status);

/* Cancels every queued job; returns how many. */
size_t rp_jobstore_purge(struct rp_jobstore *js);

/* Waits up to wait_ms until a job taken by worker has been cancelled or
 * timed out and not yet reported, then appends the JSON array of those ids
 * to out (each reported once). Returns the number appended (0: nothing
 * appended) or an out error. */
int rp_jobstore_stops(struct rp_jobstore *js, const char *worker,
                      long wait_ms, struct rp_buf *out);

/* Marks worker as alive now (any worker request does; so does a ping),
 * and records whether its ping said it is unhealthy (status=unhealthy, as
 * RunPod's SDKs report a failed fitness check before they exit): it
 * stays so until a ping that does not say it. */
void rp_jobstore_touch(struct rp_jobstore *js, const char *worker,
                       int unhealthy);

/* Counts jobs and workers (workers seen within the last 60 s). */
void rp_jobstore_health(struct rp_jobstore *js, struct rp_jobstore_health *h);

/* Appends {"<id>":{"status","done","progress","stream","late","retries",
 * "worker"},...} for every job held to out. Returns RP_OK or out's error. */
int rp_jobstore_counters(struct rp_jobstore *js, struct rp_buf *out);

/* Sleeps ms milliseconds, or less when the store is closed meanwhile.
 * Returns 0, or -1 when closed. */
int rp_jobstore_sleep(struct rp_jobstore *js, long ms);

/* Changes the re-queue time at run time (0 = never). */
void rp_jobstore_set_requeue(struct rp_jobstore *js, long ms);

/* Runs the upkeep now (normally it runs lazily). */
void rp_jobstore_upkeep(struct rp_jobstore *js);


#endif
