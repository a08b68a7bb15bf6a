/*
 * serverless_int.h - private to serverless mode (serverless.c, take.c,
 * post.c): the loop's state, the jobs in flight and their post queues.
 *
 * Everything here runs on the orchestrator thread, the one that called
 * rp_serverless_run(); the executors reach it only through the outbox,
 * a job source in this process only through source_news. With such a
 * source the executors deliver the jobs' partials and results to it
 * themselves (rp_inproc_deliver, struct rp_direct), and the loop learns
 * only that a job ended.
 *   serverless.c  the loop, its phases, signals and the life cycle
 *   take.c        job-take and job-stop polls, handing jobs to executors
 *   post.c        the jobs in flight and their ordered post queues
 *   inproc.c      the transport to a job source in this process (the
 *                 local API server's store) instead of HTTP
 */
#ifndef RP_SERVERLESS_INT_H
#define RP_SERVERLESS_INT_H

#include <stdatomic.h>

#include "net/req.h"
#include "worker/executor.h"
#include "worker/heartbeat.h"
#include "worker/job_server.h"
#include "worker/serverless.h"

#define MAX_THREADS 256
/* Stops asked for jobs the loop did not know yet, remembered (take.c). */
#define STOP_MEMO 16
/* How long a job-take or job-stop long poll may be held by the server. */
#define POLL_TIMEOUT_MS 90000L
/* When a request cannot be built (out of memory), the next try waits
 * this long. */
#define RETRY_BUILD_S 1.0

enum kind { TAKE, STOP, POST };           /* what an rp_req is for (kind) */
enum post_kind { P_STREAM, P_PROGRESS, P_FINAL };

struct post {
  enum post_kind kind;
  char *body;
  size_t len;
  int is_stream;
  double first_try;         /* 0 until the first attempt */
  int attempts;             /* made so far */
  struct post *next;
};

struct job {
  char *id;                 /* id_len bytes (any, NUL too), then a NUL */
  size_t id_len;
  int executor;
  char *waiting;            /* the job's JSON text while it waits for a
                               place (the server sent more jobs than
                               asked for), NULL once it is handed on */
  size_t waiting_len;
  char *again;              /* the job's JSON text when the job server
                               sent it again while this run was ending
                               (stopped, or its result queued): it runs
                               again once this run is gone */
  size_t again_len;
  int running;              /* until the executor reports the end */
  int finished;             /* the final result is queued (or not due) */
  int listed;               /* in the ping's list, for the loop to take
                               out when the job goes */
  int owed;                 /* its executor's post of the result failed:
                               counted in rp_direct.owed until it goes */
  double stop_asked;        /* when a stop was asked, 0 if never */
  struct post *head;
  struct post *tail;
  struct rp_req *inflight;
  double retry_at;
  struct rp_backoff backoff;
  struct job *next;
};

/* A stop asked for a job before the loop knew of it. */
struct stop_memo {
  char *id;                 /* NULL: an empty entry */
  size_t id_len;
  double at;                /* when it was asked */
};

struct state;

/* Where jobs come from and posts go, chosen at start: the job server over
 * HTTP on the multi handle (take.c, post.c), or a job source in this
 * process (inproc.c). The loop calls each at its phase. */
struct transport {
  /* Asks for up to free_slots jobs; those taken go to rp_take_done(). */
  void (*take)(struct state *s, int free_slots);
  /* Asks which jobs must stop; the answer goes to rp_take_stop_done(). */
  void (*poll_stops)(struct state *s);
  /* At time t: sends each job's next post when due, drops the jobs whose
   * result was delivered. */
  void (*advance)(struct state *s, double t);
  /* Handles what has finished; returns 1 when the next take or stop poll
   * may be due at once. */
  int (*drain)(struct state *s);
};

struct state {
  const struct transport *tp;
  const struct rp_job_source *source;  /* inproc.c's, else NULL */
  struct rp_direct direct;   /* the executors' way to it (inproc.c) */
  atomic_int source_news;    /* the source woke the loop (inproc.c) */
  atomic_int want_jobs;      /* a queued job may wake it (inproc.c) */
  struct rp_job_server server;  /* the same, for a job's requests */
  const char *take_tmpl;
  const char *done_tmpl;
  const char *stream_tmpl;
  const char *api_key;
  const char *worker_id;
  const char *ping_tmpl;     /* for an unhealthy report; NULL in api mode */
  CURLM *multi;
  struct rp_outbox out;
  struct rp_executor *ex[MAX_THREADS];
  int nex;
  struct rp_heartbeat *heartbeat;
  struct job *jobs;
  int njobs;
  int concurrency;
  int have_concurrency;
  int has_modifier;          /* start's config has concurrency_modifier */
  double modifier_at;        /* when a full loop asks it next */
  struct rp_req *take;
  int taking;                /* places an executor takes a job for itself
                                (over HTTP): counted as taken */
  double take_at;
  double take_sent;
  size_t take_hint;          /* the last job-take answer's size (take.c) */
  struct rp_backoff take_backoff;
  struct rp_backoff empty_backoff;
  struct rp_req *stop;
  int stop_poll;            /* 0: the take URL has no job-stop twin */
  double stop_at;
  double stop_sent;
  struct rp_backoff stop_backoff;
  struct stop_memo stop_memo[STOP_MEMO];  /* a ring, oldest overwritten */
  int stop_memo_next;
  double timeout;            /* per job, 0 = none */
  double post_timeout;       /* seconds one post attempt may take */
  double stop_grace;
  double grace;
  double idle_exit;          /* TERMINATE_IDLE_TIME, 0 = never */
  double last_activity;
  double t0;
  int first_take_logged;
  int shutting;
  int stop_pod;              /* a result carried "stopPod": shut down */
  double shutdown_deadline;
  int exit_code;
};


/* ---- serverless.c ---- */

/* Handles the executors' messages queued so far. */
void rp_serverless_handle_outbox(struct state *s);

/* ---- take.c ---- */

/* Jobs whose executor has not reported their end. */
int rp_take_running(struct state *s);
/* How many jobs the next job-take may ask for: the concurrency less the
 * jobs running and less the ended jobs whose result is not yet delivered
 * and is large (1 MiB or more: never held alongside the next job's input)
 * or waits for a retry (a failing job server gets no more jobs). */
int rp_take_free_slots(struct state *s, int running);
/* The executor for the next job: the least loaded of those taking jobs,
 * or with 'any' set, of all of them; its index in *index. NULL if none. */
struct rp_executor *rp_take_pick_executor(struct state *s, int *index,
                                          int any);
/* Hands the jobs of a job-take body body[0..len) (one JSON object, or
 * an array of them: a batch) to the executors, each as its exact bytes,
 * read with the plain-C scanner (nothing is decoded but the ids). An entry
 * without a usable id (a non-empty string or an integer) is logged and
 * skipped; a job with one that is not valid JSON goes on, for its VM to
 * answer with a failed result. Returns RP_OK, or RP_EJSON when no job
 * object or batch array can be read in the body. Any job source (the
 * job-take poll, an in-process one) hands its jobs in here. */
int rp_take_jobs(struct state *s, const char *body, size_t len);
/* When the job server sent j again while this run of it was ending
 * (j->again), turns j into that new run, waiting for a place, and
 * returns 1; else returns 0, and j may go. Call once j's run is over and
 * its posts are done. */
int rp_take_run_again(struct state *s, struct job *j);
/* Hands the jobs that wait for a place to the executors, oldest first,
 * while *free_slots is above 0 (counted down). Returns how many still
 * wait. */
int rp_take_hand_waiting(struct state *s, int *free_slots);
/* Sends a job-take for up to free_slots jobs. */
void rp_take_start(struct state *s, int free_slots);
/* Handles a finished job-take: its jobs go to the executors. Frees r. */
void rp_take_done(struct state *s, struct rp_req *r);
/* Handles a job-take answer r, sent at 'sent', whoever made it (the
 * loop's own take, or an executor's over HTTP): its jobs go to the
 * executors, an error or no job sets when the next take is due. Frees
 * r. */
void rp_take_answer(struct state *s, struct rp_req *r, double sent);
/* Sends a job-stop long poll. */
void rp_take_start_stop_poll(struct state *s);
/* A stop asked for the job id[0..id_len) that the loop does not know: one
 * an executor took itself in the place of one that ended and has not told
 * the loop of yet. Forwarded to every executor (where none has it, the ask
 * is dropped) and remembered for STOP_MEMO_S, so that the job, once known,
 * counts as asked to stop from now (rp_take_stop_asked). */
void rp_take_stop_unknown(struct state *s, const char *id, size_t id_len);
/* When a stop was asked for the job id[0..id_len) before the loop knew of
 * it (rp_take_stop_unknown), else 0; the ask is forgotten. */
double rp_take_stop_asked(struct state *s, const char *id, size_t id_len);
/* Forgets every remembered ask. */
void rp_take_forget_stops(struct state *s);
/* Handles a finished job-stop poll: asks its jobs to stop. Frees r. */
void rp_take_stop_done(struct state *s, struct rp_req *r);

/* ---- post.c ---- */

/* The job in flight with the id id[0..len), or NULL. */
struct job *rp_post_find_job(struct state *s, const char *id, size_t len);
/* Adds j, a job just handed to executor 'executor' (calloc'ed, with its
 * id set), to the jobs in flight, and to the ping's list unless 'listed'
 * (the executor that took it listed it). Takes ownership of j. */
void rp_post_track_job(struct state *s, struct job *j, int executor,
                       int listed);
/* Drops a job and its posts not sent (freeing any post under way), and
 * takes it out of the ping's list while it is listed. */
void rp_post_remove_job(struct state *s, struct job *j);
/* Appends a post to the job's queue. Takes ownership of body. */
void rp_post_queue(struct job *j, enum post_kind kind, char *body,
                   size_t len, int is_stream);
/* At time t: starts each job's next post when it is due, and drops the
 * jobs whose result was delivered. */
void rp_post_advance(struct state *s, double t);
/* Handles a finished post: the next one of the job, or a retry. Frees r. */
void rp_post_done(struct rp_req *r);

/* ---- inproc.c ---- */

/* The transport to s->source. */
extern const struct transport rp_inproc_transport;
/* The source's wake function (set_wake); ud is the state. Any thread. */
void rp_inproc_wake(void *ud, int stop);
/* rp_direct.deliver to s->source (ud is the state): what the executors
 * call, on their own threads, to deliver a job's partials and result. */
int rp_inproc_deliver(void *ud, enum rp_out_kind kind, const char *id,
                      size_t id_len, const char *body, size_t len);
/* rp_direct.take from s->source (ud is the state): what an executor
 * calls to take the next job in the place of one that ended. */
int rp_inproc_take(void *ud, char **text, size_t *len, char **id,
                   size_t *id_len);

#endif
