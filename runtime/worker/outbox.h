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
#include <stddef.h>

enum rp_out_kind {
  RP_OUT_STREAM,      /* a stream partial: post {"output": partial} */
  RP_OUT_PROGRESS,    /* a progress update for the job-done URL */
  RP_OUT_DONE,        /* the end of a job: its result (body), or none
                         (stopped, or delivered by rp_direct) */
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
  struct rp_out *next;
};

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
};

/* The queue every executor writes and the orchestrator drains. */
struct rp_outbox {
  pthread_mutex_t mu;
  struct rp_out *head;
  struct rp_out *tail;
  void (*wake)(void *ud);   /* called after each push, any thread */
  void *wake_ud;
  const struct rp_direct *direct;  /* NULL (the default): none */
};

void rp_outbox_init(struct rp_outbox *o, void (*wake)(void *), void *ud);
/* Frees the messages nobody took. */
void rp_outbox_destroy(struct rp_outbox *o);

/* Queues a message from executor 'executor' for the job id
 * job_id[0..id_len) (NULL for none) with the kind and fields of 'what'
 * (its job_id and next are ignored),
 * then wakes the taker if the queue was empty. Takes ownership of what->body, also on failure:
 * when memory runs out the message is lost, which is logged. */
void rp_outbox_push(struct rp_outbox *o, int executor, const char *job_id,
                    size_t id_len, const struct rp_out *what);

/* Takes all queued messages, oldest first (a list linked by next). The
 * caller owns them. */
struct rp_out *rp_outbox_take(struct rp_outbox *o);

#endif
