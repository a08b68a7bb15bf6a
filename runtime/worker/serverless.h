/*
 * serverless.h - serverless mode: the RunPod job loop (docs/emulator.md,
 * "Worker API"). The calling thread becomes the orchestrator: one libcurl
 * multi
 * handle (one connection pool) carries the job-take long poll, the
 * job-stop long poll and every post; executors run the jobs; the heartbeat
 * pings from its own thread. Everything is configured from the
 * environment as read at start (settings.h: RUNPOD_WEBHOOK_*,
 * RUNPOD_AI_API_KEY, RUNPOD_POD_ID, ...) and the start config.
 */
#ifndef RP_SERVERLESS_H
#define RP_SERVERLESS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/settings.h"
#include "worker/vm.h"

/* A job server in this process (the local API server's job store,
 * api.h), in place of the job server's HTTP API: the loop takes jobs,
 * polls stops and delivers each post through these calls, on its own
 * thread; none may block. The texts are those of the worker API (docs/
 * emulator.md, "Worker API"): job-take objects, {"jobsToStop":[...]},
 * job-done and job-stream bodies. */
enum { RP_SOURCE_RESULT, RP_SOURCE_PROGRESS, RP_SOURCE_STREAM };

struct rp_job_source {
  void *ud;
  /* Appends the next queued job's job-take object to out. Returns 1, 0
   * when there is none, or an RP_E* error. */
  int (*take)(void *ud, const char *worker, struct rp_buf *out);
  /* Appends {"jobsToStop":[ids]} to out when the worker's jobs must stop.
   * Returns how many, or an RP_E* error. */
  int (*stops)(void *ud, const char *worker, struct rp_buf *out);
  /* Delivers a post of job id: its result (kind RP_SOURCE_RESULT), a
   * progress update (RP_SOURCE_PROGRESS), both job-done bodies, or a
   * job-stream body (RP_SOURCE_STREAM). Returns the HTTP status the
   * worker API would answer (200 when delivered), with an error message
   * in *msg otherwise. */
  int (*deliver)(void *ud, const char *worker, const char *id, int kind,
                 const char *body, size_t len, const char **msg);
  /* Sets the function the source calls, from any thread and without
   * blocking, when a job is queued (stop 0) or one must stop (stop 1). */
  void (*set_wake)(void *ud, void (*wake)(void *, int stop), void *wake_ud);
};

struct rp_serverless_options {
  int concurrency;   /* jobs in flight; 0 = 1 or concurrency_modifier's */
  int api;           /* API/realtime mode: the jobs come from the local
                        server; no fitness checks (as the Python SDK) */
  const char *ping_key; /* with api: the key pings carry */
  const struct rp_job_source *source; /* NULL: the job server over HTTP
                           (the RUNPOD_WEBHOOK_* URLs) */
};

/* Runs until SIGTERM/SIGINT (then finishes in-flight jobs within the grace
 * period and returns 0), until the idle time passes (0), or until a fatal
 * condition (1; logged). Returns the exit code (exit.h): when the script
 * cannot be loaded, the load error's (3-7), after logging the reason. */
int rp_serverless_run(const struct rp_vm_options *vm,
                      const struct rp_settings *env,
                      const struct rp_serverless_options *o);

#endif
