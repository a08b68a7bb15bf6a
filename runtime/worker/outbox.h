/*
 * outbox.h - the queue from the executors to whoever drives them (the
 * serverless loop, local test mode): one message per stream partial,
 * progress update, final result, concurrency answer or fatal condition, in
 * the order each executor produced them.
 *
 * Any thread may push; one thread takes, all that is queued at once. A
 * push onto an empty queue wakes the taker through the callback given at
 * init, which must stay pending until the taker looks (a pipe, a curl
 * wakeup): a push onto a queue not taken yet needs no wake of its own.
 *
 * With a job server in this process (API and realtime mode), the
 * executors deliver a job's partials and result to it themselves, on
 * their own thread (struct rp_direct), and the queue carries only the
 * end of each job (RP_OUT_DONE without a body), the posts that must be
 * retried, and the messages that are not posts.
 */
#ifndef RP_OUTBOX_H
#define RP_OUTBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct rp_req;
struct rp_job_server;

enum rp_out_kind {
  RP_OUT_STREAM,      /* a stream partial: post {"output": partial} */
  RP_OUT_PROGRESS,    /* a progress update for the job-done URL */
  RP_OUT_DONE,        /* the end of a job: its result (body), or none
                         (stopped, or delivered by rp_direct) */
  RP_OUT_TAKEN,       /* a job the executor took in the place of one
                         that ended (job_id); with no job_id, a job-take
                         answer for the loop to handle: body (to
                         dispatch), attempt (its request, as the loop's
                         own), or neither (no job: taking ends) */
  RP_OUT_CONCURRENCY, /* the concurrency_modifier's answer (value) */
  RP_OUT_FATAL        /* the VM cannot be rebuilt: the worker must exit */
};

/* One message from an executor. Owned by whoever holds it; free with
 * rp_out_free(). */
struct rp_out {
  enum rp_out_kind kind;
  int executor;
  char *job_id;       /* job_id_len bytes (NUL-safe), then a NUL */
  size_t job_id_len;
  char *body;         /* JSON text (NULL for a stopped job) */
  size_t len;
  int is_stream;      /* DONE: the handler streamed */
  int failed;         /* DONE: the result is a failed job's */
  int stop_pod;       /* DONE: the result asks for "stopPod" (refresh_mode
                         pod): the worker takes no more jobs and exits */
  int value;          /* CONCURRENCY */
  int taking;         /* DONE: the executor takes a job in this one's
                         place itself, which the loop counts as taken
                         until a TAKEN with taking set follows */
  int unlisted;       /* DONE: the executor delivered the result and took
                         the job off the ping's list */
  int listed;         /* TAKEN: the executor put the job on that list */
  struct rp_req *attempt;  /* a request the executor made that the loop
                         goes on from (a result post that failed: DONE;
                         a job-take answer: TAKEN); freed with the
                         message */
  double at;          /* when attempt was sent */
  int lazy;           /* the taker need not wake for it (rp_outbox_push) */
  struct rp_out *next;
};

/* A lazy message wakes the taker all the same once this many are
 * queued, so that the queue stays short. */
#define RP_OUTBOX_LAZY_MAX 256

/* Frees m and every message linked after it. Accepts NULL. */
void rp_out_free(struct rp_out *m);

/* A job server in this process that the executors deliver to directly. */
struct rp_direct {
  void *ud;
  /* Delivers a post of job id[0..id_len): a stream partial
   * (RP_OUT_STREAM), a progress update (RP_OUT_PROGRESS) or the result
   * (RP_OUT_DONE), body[0..len) as the job server's worker API takes it
   * (borrowed). Returns the HTTP status that API would answer: 2xx when
   * delivered. Any thread; never blocks. */
  int (*deliver)(void *ud, enum rp_out_kind kind, const char *id,
                 size_t id_len, const char *body, size_t len);
  /* Takes the next queued job: returns 1 with its job-take object in
   * *text (*len bytes) and its id in *id (*id_len bytes), both malloc'ed
   * and the caller's; *id is NULL when the job is not one an executor
   * may start as it is (the job loop checks and dispatches it then).
   * Returns 0 when none is queued, or an RP_E* error. Any thread; never
   * blocks. */
  int (*take)(void *ud, char **text, size_t *len, char **id,
              size_t *id_len);
  /* Set by the taker: whether an executor whose job ended, its result
   * delivered, may take the next queued job in its place itself (1), and
   * report both without waking the taker (2), instead of leaving the
   * place to the taker (0). The taker keeps it 0 while it shuts down or
   * runs more jobs than it may. */
  atomic_int handoff;
  /* Set once, never cleared: no job is taken in another's place any
   * more, whatever handoff says (a SIGTERM/SIGINT, a stopPod result, a
   * fatal error, the shutdown: from the moment it happens, not from the
   * moment the taker next looks). Any thread, the signal handler too. */
  atomic_int closed;
  /* Set instead of deliver and take for the job server over HTTP: the
   * executor posts a job's result and takes the next job itself, on its
   * own connection (job_server.h), while it runs one job at a time. */
  const struct rp_job_server *http;
  /* Over HTTP: results whose post by their executor failed and that the
   * loop has not delivered or given up yet. While any is owed no
   * executor takes a job in another's place: a job server that fails
   * posts is handed no more jobs (the loop holds the place too). */
  atomic_int owed;
  /* Set once the worker exits (after the grace period): an executor's
   * own request still under way is given up. */
  atomic_int exiting;
};

/* The queue every executor writes and the orchestrator drains. */
struct rp_outbox {
  pthread_mutex_t mu;
  struct rp_out *head;
  struct rp_out *tail;
  void (*wake)(void *ud);   /* called after each push, any thread */
  void *wake_ud;
  int woken;                /* a wake is due to the taker (under mu) */
  size_t queued;            /* messages queued (under mu) */
  struct rp_direct *direct; /* NULL (the default): none */
};

void rp_outbox_init(struct rp_outbox *o, void (*wake)(void *), void *ud);
/* Frees the messages nobody took. */
void rp_outbox_destroy(struct rp_outbox *o);

/* Queues a message from executor 'executor' for the job id
 * job_id[0..id_len) (NULL for none) with the kind and fields of 'what'
 * (its job_id and next are ignored), then wakes the taker unless a wake
 * is due already or what->lazy is set (the taker sees it when it next
 * looks, or when RP_OUTBOX_LAZY_MAX are queued). Takes ownership of
 * what->body and what->attempt, also on failure: when memory
 * runs out the message is lost, which is logged. */
void rp_outbox_push(struct rp_outbox *o, int executor, const char *job_id,
                    size_t id_len, const struct rp_out *what);

/* Takes all queued messages, oldest first (a list linked by next). The
 * caller owns them. */
struct rp_out *rp_outbox_take(struct rp_outbox *o);

#endif
