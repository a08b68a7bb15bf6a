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

#include "base/settings.h"
#include "worker/vm.h"

struct rp_serverless_options {
  int concurrency;   /* jobs in flight; 0 = 1 or concurrency_modifier's */
  int api;           /* API/realtime mode: the jobs come from the local
                        server; no fitness checks (as the Python SDK) */
  const char *ping_key; /* with api: the key pings carry (the job loop's
                           own key is the local server's private one) */
};

/* Runs until SIGTERM/SIGINT (then finishes in-flight jobs within the grace
 * period and returns 0), until the idle time passes (0), or until a fatal
 * condition (1; logged). Returns the exit code (exit.h): when the script
 * cannot be loaded, the load error's (3-7), after logging the reason. */
int rp_serverless_run(const struct rp_vm_options *vm,
                      const struct rp_settings *env,
                      const struct rp_serverless_options *o);

#endif
