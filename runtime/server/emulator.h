/*
 * emulator.h - a local stand-in for RunPod's serverless endpoint API.
 *
 * Serves both faces of one endpoint under /v2/{endpoint}/ on an httpd
 * (httpd.h) over a job store (jobstore.h):
 * - the client API of docs/api.md (run, runsync, status, status-sync,
 *   stream, cancel, health, purge-queue), as RunPod's client SDKs call it;
 * - the worker API of docs/emulator.md, "Worker API" (job-take,
 *   job-take-batch, job-done,
 *   job-stream, ping, job-stop), as a worker calls it;
 * - a control API under /_emulator/ for tests: fault injection on the
 *   worker routes, a log of every worker request, counters, a webhook sink.
 * docs/emulator.md describes every route, flag and fault.
 *
 * Request bodies stay raw JSON text: a small validating scanner finds the
 * members the emulator needs (input, webhook, output, error, ...) without
 * decoding the rest. Every number the emulator reads (policy members,
 * query arguments such as wait, control settings) must be a JSON number
 * with a whole value in its range; anything else is answered 400 naming
 * the field and the value.
 *
 * Webhooks are posted by one thread with libcurl, behind the download
 * guard (netguard.h) unless allow_private_webhooks is set: the address of
 * every connection is checked after DNS, redirects are not followed, and a
 * refused webhook is logged once (WARN, log.h) and not tried again.
 */
#ifndef RP_EMULATOR_H
#define RP_EMULATOR_H

#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"

#define RP_EMU_MAX_WAIT_MS 300000     /* longest runsync/status-sync hold */
#define RP_EMU_DEFAULT_WAIT_MS 90000  /* runsync/status-sync without ?wait */
#define RP_EMU_LOG_MAX 20000          /* request log lines kept (default) */
#define RP_EMU_LOG_BODY_MAX 65536     /* body bytes kept per log line */
#define RP_EMU_MAX_URL 4096           /* webhook URL bytes */
#define RP_EMU_WEBHOOK_QUEUE 1024     /* webhook posts waiting at most */
#define RP_EMU_WEBHOOK_TRIES 3        /* attempts per webhook post */
#define RP_EMU_WEBHOOK_TIMEOUT_MS 5000 /* per attempt */
#define RP_EMU_SINK_MAX 256           /* bodies the webhook sink keeps */
#define RP_EMU_MAX_DELAY_MS 600000    /* longest fault delay or hold */
#define RP_EMU_MAX_POLICY_MS 604800000L /* policy.executionTimeout, ttl: 7 d */

/* The worker routes faults apply to. */
enum rp_emu_route {
  RP_EMU_JOB_TAKE,      /* job-take and job-take-batch */
  RP_EMU_JOB_DONE,
  RP_EMU_JOB_STREAM,
  RP_EMU_PING,
  RP_EMU_JOB_STOP,
  RP_EMU_NROUTES
};

enum rp_emu_fault_kind {
  RP_FAULT_NONE,
  RP_FAULT_500,         /* answer 500 {"error":...} */
  RP_FAULT_429,         /* answer 429 {"error":...} */
  RP_FAULT_GARBAGE,     /* answer 200 with a body that is not JSON */
  RP_FAULT_CLOSE,       /* close the connection without answering */
  RP_FAULT_DELAY,       /* wait delay_ms, then answer normally */
  RP_FAULT_TRICKLE,     /* answer normally, the body one byte every
                           delay_ms (default 1000) */
  RP_FAULT_CUT          /* 200 announcing a 4 KiB body; close the
                           connection after its first 64 bytes */
};

/* A fault hits the first 'first' requests of its route counted from when
 * it was set when first > 0, else each request with probability 'share'
 * (drawn from the emulator's seeded PRNG). Every fault but delay and
 * trickle answers without processing the request (nothing is recorded in
 * the store). */
struct rp_emu_fault {
  enum rp_emu_fault_kind kind;
  double share;         /* 0..1, default 1 */
  long first;           /* 0 = not limited by count */
  long delay_ms;        /* RP_FAULT_DELAY, RP_FAULT_TRICKLE */
};

struct rp_emulator_config {
  const char *host;             /* default 127.0.0.1 */
  int port;                     /* default 8080; 0 = ephemeral */
  const char *endpoint;         /* default "emulator" */
  const char *api_key;          /* NULL or "": no authentication */
  long take_hold_ms;            /* job-take long poll, default 1000 */
  long stop_hold_ms;            /* job-stop long poll, default 1000 */
  long stream_hold_ms;          /* /stream hold, default 2000 */
  long requeue_after_ms;        /* 0 (default): never re-queue */
  long retain_ms;               /* finished jobs kept, ms */
  size_t retain_max;            /* finished jobs kept, count */
  size_t max_body;              /* request body cap, bytes */
  size_t log_max;               /* request log lines kept; 0 = no log */
  long ping_interval_ms;        /* printed as RUNPOD_PING_INTERVAL */
  unsigned long seed;           /* fault PRNG seed, default 1 */
  struct rp_emu_fault faults[RP_EMU_NROUTES];

  /* For the local API server (api.h). The defaults keep the emulator
   * binary's behaviour. */
  int control;                  /* serve /_emulator/ (default 1) */
  int client_root;              /* client routes also at the root, and
                                   under /v2/{any endpoint id}/ */
  int in_process_worker;        /* no worker routes over HTTP: the one
                                   worker is in this process and calls
                                   rp_emulator_take() and the rest below
                                   (default 0) */
  int strict_input;             /* /run, /runsync, realtime: refuse (400)
                                   a body the worker's JSON codec cannot
                                   decode (rp_json_check, json.h); default
                                   0: any JSON passes, as on RunPod */
  const char *page_html;        /* GET / answers this (text/html); NULL:
                                   404 */
  const char *openapi_json;     /* GET /openapi.json answers this */
  const char *realtime;         /* NULL, or an endpoint id: POST
                                   /{id}/realtime runs the body's job and
                                   answers its result when it ends */
  unsigned timeout_s;           /* idle connection timeout, 0 = httpd's */
  int allow_private_webhooks;   /* webhooks may reach any address
                                   (loopback, private, link-local);
                                   default 0: public addresses only */
};

struct rp_emulator;

/* Fills in every default. */
void rp_emulator_default_config(struct rp_emulator_config *cfg);

/* Parses a fault spec "ROUTE=KIND[,share=P][,first=K][,ms=N]" (ROUTE one
 * of job-take, job-done, job-stream, ping, job-stop; KIND one of none,
 * 500, 429, garbage, close, delay, trickle, cut) into cfg->faults. Returns RP_OK or
 * RP_EINVAL with a message in err. */
int rp_emulator_parse_fault(const char *spec, struct rp_emulator_config *cfg,
                            char *err, size_t errlen);


/* Starts serving. cfg's strings are copied, except page_html and
 * openapi_json, which are borrowed and must outlive the emulator. Returns RP_OK and *out (stop
 * and free with rp_emulator_stop), or an RP_E* code with a message. */
int rp_emulator_start(const struct rp_emulator_config *cfg,
                      struct rp_emulator **out, char *err, size_t errlen);

/* The bound port. */
int rp_emulator_port(const struct rp_emulator *e);

/* ---- the worker API in process (in_process_worker) ----
 * What the worker routes do, without HTTP and without waiting: for a job
 * loop in this process (the local API server, worker/api.h). Thread-safe;
 * 'worker' is the worker's id, as in the routes' paths. */

/* Called, from any thread, when a job is queued (stop 0) or a running job
 * must stop (stop 1): the worker should take or poll again. Must not
 * block. */
typedef void (*rp_emulator_wake_fn)(void *ud, int stop);

/* Sets the wake hook (NULL: none). */
void rp_emulator_set_wake(struct rp_emulator *e, rp_emulator_wake_fn fn,
                          void *ud);

/* job-take without holding: appends the next queued job's job-take
 * object to out. Returns 1, 0 when none is queued, or an RP_E* error. */
int rp_emulator_take(struct rp_emulator *e, const char *worker,
                     struct rp_buf *out);

/* job-stop without holding: appends {"jobsToStop":[ids]} to out when jobs
 * of the worker were cancelled or timed out since the last call. Returns
 * how many, or an RP_E* error. */
int rp_emulator_stops(struct rp_emulator *e, const char *worker,
                      struct rp_buf *out);

/* What a worker posts. */
enum rp_emu_post {
  RP_EMU_POST_RESULT,   /* job-done: the result */
  RP_EMU_POST_PROGRESS, /* job-done with "status":"IN_PROGRESS" */
  RP_EMU_POST_STREAM    /* job-stream: a partial */
};

/* job-done or job-stream of job id with the JSON body[0..len). Returns
 * the HTTP status the route would answer: 200, 400 (a body that is not an
 * object, a stream without output), 404 (unknown job), 413 or 500 (out of
 * memory), with the error in *msg (a static string) for anything but 200.
 * Unlike the route, a result whose body cannot be read (nested deeper
 * than the scanner's limit, say) ends the job FAILED with an error naming
 * the cause, and counts as delivered: no job stays IN_PROGRESS because of
 * what its handler returned. */
int rp_emulator_deliver(struct rp_emulator *e, const char *worker,
                        const char *id, enum rp_emu_post kind,
                        const char *body, size_t len, const char **msg);

/* Prints "listening on http://HOST:PORT" and the export lines a worker
 * needs, one per line, and flushes f. */
void rp_emulator_print_env(const struct rp_emulator *e, FILE *f);

/* Wakes every held request, stops the server and the webhook thread, and
 * frees everything. Accepts NULL. */
void rp_emulator_stop(struct rp_emulator *e);

#endif
