/*
 * emulator_int.h - private to the emulator's files: its state and what
 * they share. Users of the emulator include emulator.h.
 *
 * One concern per file:
 *   emulator.c     life cycle (start, stop, the listeners), dispatch of a
 *                  request to the face that serves it, and the answers and
 *                  arguments every face uses;
 *   emu_client.c   the client API (run, runsync, status, status-sync,
 *                  stream, cancel, retry, health, purge-queue) and
 *                  realtime;
 *   emu_worker.c   the worker API (job-take, job-take-batch, job-done,
 *                  job-stream, ping, job-stop);
 *   emu_control.c  the control API under /_emulator/;
 *   emu_faults.c   fault specs, and the faults injected on worker routes;
 *   emu_log.c      the request log, a ring of JSON lines;
 *   emu_webhook.c  webhook posts: one thread, libcurl, the netguard.
 * emulator.c also dispatches the OpenAI routes to openai.c (openai.h).
 *
 * A route handler gets the request and fills in the response (its body
 * starts empty); 'e->mu' guards the members listed after it, the job store
 * locks itself.
 */
#ifndef RP_EMULATOR_INT_H
#define RP_EMULATOR_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/json.h"
#include "net/netguard.h"
#include "server/emulator.h"
#include "server/httpd.h"
#include "server/jobstore.h"

struct webhook;                    /* a queued post (emu_webhook.c) */

struct rp_emulator {
  struct rp_emulator_config cfg;   /* strings below are our copies */
  char *host;
  char *endpoint;
  char *api_key;
  char *bearer;                    /* "Bearer <key>" */
  char *realtime;                  /* endpoint id of /{id}/realtime */
  struct rp_jobstore *js;
  struct rp_httpd *httpd;
  int port;

  pthread_mutex_t mu;              /* everything below */
  long take_hold_ms, stop_hold_ms, stream_hold_ms;
  struct rp_emu_fault faults[RP_EMU_NROUTES];
  long fault_seen[RP_EMU_NROUTES];       /* requests since the fault set */
  unsigned long fault_hits[RP_EMU_NROUTES];
  unsigned long requests[RP_EMU_NROUTES];
  uint64_t rng;
  char **log;                      /* ring of log_max lines */
  size_t log_head, log_count;
  unsigned long long log_seq;      /* seq of the newest line */
  char *last_ping;                 /* JSON object or NULL */
  unsigned long pings;
  char *sink[RP_EMU_SINK_MAX];     /* webhook bodies received */
  size_t sink_count;
  unsigned long webhooks_sent, webhooks_failed, webhooks_dropped;
  unsigned long webhooks_refused;
  struct rp_netguard guard;        /* where webhooks may connect */

  pthread_mutex_t wh_mu;           /* the webhook queue */
  pthread_cond_t wh_cv;
  struct webhook *wh_head, *wh_tail;
  size_t wh_count;
  int wh_stop;
  pthread_t wh_thread;
  int wh_started;
};

/* ---- emulator.c: answers and arguments ---- */

/* Answers status with the JSON text json. */
void rp_emu_reply(struct rp_httpd_response *res, int status,
                  const char *json);

/* Answers status with {"error":msg}. */
void rp_emu_reply_error(struct rp_httpd_response *res, int status,
                        const char *msg);

/* Answers a job store error: 404 unknown job, 413 too large, else 500. */
void rp_emu_reply_store(struct rp_httpd_response *res, int rc);

/* Answers 400 "invalid NAME VALUE (must be RULE)"; the value [v, v+n) is
 * repeated only when it is a short number text. */
void rp_emu_reply_invalid(struct rp_httpd_response *res, const char *name,
                          const char *v, size_t n, const char *rule);

/* 1 when method is want. */
int rp_emu_is(const char *method, const char *want);

/* Whether the request's method is 'want' or, when not NULL, 'also'; else
 * answers 405 naming them and returns 0. */
int rp_emu_method_ok(const struct rp_httpd_request *req,
                     struct rp_httpd_response *res, const char *want,
                     const char *also);

/* Reads query argument 'name', a whole number >= 0 capped at max, def
 * when absent or empty. Returns 0 and *out, or -1 after answering 400. */
int rp_emu_arg_number(const struct rp_httpd_request *req,
                      struct rp_httpd_response *res, const char *name,
                      long def, long max, long *out);

/* Reads the text [s, s+n) as a JSON number whose value is whole and within
 * [0, max] (HUGE_VAL: no limit). Returns 0 and *out, or -1. */
int rp_emu_whole_number(const char *s, size_t n, double max, double *out);

/* Whether the value v is null. */
int rp_emu_is_null(struct rp_json_span v);

/* ---- the faces: emu_client.c, emu_worker.c, emu_control.c ---- */

/* The client API: seg[0] is the route, seg[1] the job id (may be NULL). */
void rp_emu_client_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, char **seg,
                         int nseg);

/* POST /{realtime}/realtime: runs the body's job, answers its result. */
void rp_emu_realtime(struct rp_emulator *e,
                     const struct rp_httpd_request *req,
                     struct rp_httpd_response *res);

/* Queues the job of a /run body. Returns 1 and its id (RP_JOBSTORE_ID_LEN
 * chars + NUL) in id, or 0 after answering the error. With named set, a
 * string "id" in the body is the id the worker sees (realtime: the
 * platform's request id); otherwise, and when there is none, the body's
 * "id" is ignored and the worker sees the store's. */
int rp_emu_submit(struct rp_emulator *e, const struct rp_httpd_request *req,
                  struct rp_httpd_response *res, char *id, int named);

/* The worker API, route 'route' (enum rp_emu_route): seg[0] is its name,
 * seg[1] the worker id, seg[2] the job id of job-done and job-stream.
 * Logs the request (emu_log.c). */
void rp_emu_worker_route(struct rp_emulator *e,
                         const struct rp_httpd_request *req,
                         struct rp_httpd_response *res, int route,
                         char **seg, int nseg);

/* The control API: seg[0] is "_emulator", seg[1] the route. */
void rp_emu_control_route(struct rp_emulator *e,
                          const struct rp_httpd_request *req,
                          struct rp_httpd_response *res, char **seg,
                          int nseg);

/* ---- emu_faults.c ---- */

/* Names of the worker routes (enum rp_emu_route) and of the fault kinds
 * (enum rp_emu_fault_kind), as fault specs and the control API spell them. */
extern const char *const rp_emu_route_names[RP_EMU_NROUTES];
extern const char *const rp_emu_fault_names[];

/* The route named name[0..n), or -1. */
int rp_emu_route_index(const char *name, size_t n);

/* Parses "KIND[,share=P][,first=K][,ms=N]" into *f. Returns RP_OK or
 * RP_EINVAL with a message in err. */
int rp_emu_parse_fault_body(const char *s, struct rp_emu_fault *f,
                            char *err, size_t errlen);

/* Appends the fault as a spec string, "KIND,share=P,first=K,ms=N". */
void rp_emu_put_fault(struct rp_buf *b, const struct rp_emu_fault *f);

/* Seeds the PRNG that draws fault shares. Under e->mu. */
void rp_emu_seed_rng(struct rp_emulator *e, unsigned long seed);

/* Decides whether this request of route r is hit by the route's fault,
 * and applies it. The faults that answer in place of the route (500, 429,
 * garbage, close, cut) fill in res and return 1; delay sleeps, trickle
 * sets res->trickle_ms, and they return 0 as no fault does: serve the
 * route. *kind is the fault applied (RP_FAULT_NONE: none). */
int rp_emu_apply_fault(struct rp_emulator *e, int r,
                       struct rp_httpd_response *res,
                       enum rp_emu_fault_kind *kind);

/* ---- emu_log.c ---- */

/* Adds the log line of a worker request (answered by res, hit by fault,
 * begun at 'started' ms) to the ring, unless the log is off. */
void rp_emu_log_request(struct rp_emulator *e,
                        const struct rp_httpd_request *req,
                        const struct rp_httpd_response *res,
                        enum rp_emu_fault_kind fault, long long started);

/* GET /_emulator/log?since=SEQ: the lines after SEQ, as NDJSON. */
void rp_emu_log_get(struct rp_emulator *e, const struct rp_httpd_request *req,
                    struct rp_httpd_response *res);

/* Empties the log (the seq keeps counting). */
void rp_emu_log_clear(struct rp_emulator *e);


/* ---- emu_webhook.c ---- */

/* The job store's final hook (rp_jobstore_final_fn): queues the post of
 * 'view' to url, or drops it (counted) when the queue is full. */
void rp_emu_webhook_enqueue(void *ud, const char *url, const char *view,
                            size_t len);

/* Starts the webhook thread. Returns RP_OK or RP_ENOMEM. */
int rp_emu_webhooks_start(struct rp_emulator *e);

/* Stops the webhook thread (when started) and frees the posts still
 * queued; later ones are dropped. */
void rp_emu_webhooks_stop(struct rp_emulator *e);

#endif
