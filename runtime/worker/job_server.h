/*
 * job_server.h - the requests serverless mode makes to the job server for
 * a job: its posts (built here for the job loop and the executors alike,
 * so that both send the very same request), and an executor's own result
 * post and job-take.
 *
 * An executor that runs one job at a time (concurrency 1, one executor,
 * no concurrency_modifier) posts each job's result and then takes the
 * next job itself, on its own thread and connection, so that a steady
 * stream of jobs never crosses to the job loop's thread and back. What it
 * does not finish goes to the job loop as the finished request: a result
 * post that failed (for the loop's retries), a job-take answer that is
 * not one job to start (no job, an error, a batch: for the loop's
 * handling of any job-take answer). These calls block, and are made only when the
 * executor has no job to run; a job-take under way is given up once
 * *closed is set (the worker shuts down), a post once *exiting is (the
 * grace period is over).
 *
 * Relies on net/req.h and net/wire.h.
 */
#ifndef RP_JOB_SERVER_H
#define RP_JOB_SERVER_H

#include <stdatomic.h>
#include <stddef.h>

#include "net/req.h"

struct rp_heartbeat;

/* A result this big keeps its job's place until it is delivered: the
 * next job's input is not taken in while it is still held. */
#define RP_BIG_RESULT_BYTES ((size_t)1 << 20)

/* Where a job's requests go; read-only while jobs run. */
struct rp_job_server {
  const char *take_tmpl;     /* RUNPOD_WEBHOOK_GET_JOB */
  const char *done_tmpl;     /* RUNPOD_WEBHOOK_POST_OUTPUT */
  const char *stream_tmpl;   /* RUNPOD_WEBHOOK_POST_STREAM, or NULL */
  const char *worker_id;
  const char *api_key;
  long post_timeout_ms;      /* one post attempt */
  long take_timeout_ms;      /* a job-take long poll */
  atomic_int *closed;        /* set: no more jobs are taken */
  atomic_int *exiting;       /* set: a post under way is given up */
  struct rp_heartbeat *heartbeat;  /* the ping's job list, or NULL */
};

/* A post of job id[0..id_len) with body[0..len) (borrowed: it must
 * outlive the request): a stream partial to the job-stream URL
 * (stream set), else a result or progress update to the job-done URL
 * with isStream=is_stream; X-Request-ID carries the id (percent-encoded
 * when it holds a NUL). NULL when the URL cannot be built (*url_failed
 * set: it never will be) or memory runs out. */
struct rp_req *rp_job_post_new(const struct rp_job_server *js, int stream,
                               const char *id, size_t id_len, int is_stream,
                               const char *body, size_t len,
                               int *url_failed);

/* One executor's connection to the job server; zeroed to start. Its
 * thread only. */
struct rp_job_link {
  CURLM *multi;              /* NULL until first used */
  struct rp_req *take;       /* a job-take under way, or NULL */
  int take_done;             /* it has ended */
  double take_sent;
};

/* Starts a job-take for one job (job_in_progress as in_progress), for
 * rp_job_link_end_take to wait for. Returns RP_OK, or RP_ENOMEM (nothing
 * under way then). */
int rp_job_link_begin_take(struct rp_job_link *l,
                           const struct rp_job_server *js, int in_progress);

/* Posts the result body[0..len) of job id[0..id_len) and waits for the
 * answer. Returns 1 when it was delivered (2xx); else 0, with *failed
 * the finished request (for the job loop to go on from: its attempt
 * counts) and *sent when it was sent, or *failed NULL when none could be
 * made or it was given up (*exiting). */
int rp_job_link_post(struct rp_job_link *l, const struct rp_job_server *js,
                     const char *id, size_t id_len, int is_stream,
                     const char *body, size_t len, struct rp_req **failed,
                     double *sent);

/* Waits for the job-take under way to end and returns it (the caller's
 * to free), with *sent when it was sent; NULL when none is under way or
 * it was given up because *closed was set. */
struct rp_req *rp_job_link_end_take(struct rp_job_link *l,
                                    const struct rp_job_server *js,
                                    double *sent);

/* Frees the link (a take under way is given up). */
void rp_job_link_free(struct rp_job_link *l);

#endif
