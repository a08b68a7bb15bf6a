/*
 * executor.h - an executor: a thread that owns one VM and runs jobs in it.
 * Every mode runs its jobs here (local test, local API, serverless), so
 * each job gets the same timeout, stop and memory handling.
 *
 * Each job runs as a coroutine of the VM (runpod.internal.worker.run), so
 * jobs that wait (runpod.sleep) interleave in one lua_State while others run.
 * More executors give CPU parallelism; a VM is only ever touched by its
 * executor's thread (and by the thread that builds it before the executor
 * starts).
 *
 * The orchestrator hands jobs in (rp_executor_submit) and asks for stops;
 * the executor sends everything back through the shared outbox: stream
 * partials and progress updates as they are produced, then the job's final
 * result, in that order. An instruction-count hook lets a stop request or
 * a timeout interrupt a handler stuck in a pure-Lua loop (the job then
 * ends at once: its runner never sees the error); a VM that had a
 * job stopped, timed out or asking for refresh_worker is rebuilt once its
 * other jobs are done, and takes no new jobs meanwhile.
 */
#ifndef RP_EXECUTOR_H
#define RP_EXECUTOR_H

#include <pthread.h>
#include <stddef.h>

#include "base/settings.h"
#include "worker/outbox.h"
#include "worker/vm.h"

struct rp_executor_config {
  int index;
  struct rp_vm_options vm;   /* host is filled in by the executor */
  double timeout;            /* seconds per job, 0 = none */
  unsigned long recycle_jobs;  /* rebuild the VM every N jobs, 0 = never */
  size_t recycle_heap;       /* rebuild when the heap passes this, 0 = never */
  struct rp_outbox *out;
  /* Local test mode: jobs run through runpod.internal.local_test (which logs
   * partials and results) instead of runpod.internal.worker, and progress
   * updates are logged instead of queued. */
  int local_test;
};

struct rp_executor;

/* Builds the VM (on the calling thread) and starts the thread. Returns
 * RP_OK, or a vm.h RP_VM_E* code with the message in err. *out is owned by
 * the caller; free with rp_executor_free(). */
int rp_executor_start(struct rp_executor **out,
                      const struct rp_executor_config *c, char *err,
                      size_t errlen);

/* The executor's VM, for the caller's own calls into it while the thread
 * does not run: before the first rp_executor_submit() or
 * rp_executor_ask_concurrency(), and after rp_executor_shutdown(). Its L is
 * NULL when a rebuild failed. Borrowed: valid until rp_executor_free(). */
struct rp_vm *rp_executor_vm(struct rp_executor *e);

/* Rebuilds the VM now, on the calling thread, when a job left it due for
 * a rebuild (refresh_worker, a cut-short job, recycling) that the thread
 * did not do before rp_executor_shutdown() ended it. A failure is logged
 * and leaves the VM's L NULL. */
void rp_executor_rebuild_due(struct rp_executor *e);

/* Sets the per-job timeout in seconds (0 = none) for jobs not yet
 * started. Call before the thread runs jobs. */
void rp_executor_set_timeout(struct rp_executor *e, double seconds);

/* Sets when the VM is rebuilt: every 'jobs' jobs, or once its heap passes
 * 'heap' bytes (0 = never, for either). Call before the thread runs jobs,
 * e.g. with the start config's recycle_jobs and recycle_heap. */
void rp_executor_set_recycle(struct rp_executor *e, unsigned long jobs,
                             size_t heap);

/* Queues a job: its id job_id[0..id_len) (any bytes, NUL too) and its
 * JSON text job_text[0..len), as the job server sent it; copies both. The
 * VM decodes the text once; a text it cannot decode gets a failed result.
 * Returns RP_OK or RP_ENOMEM. */
int rp_executor_submit(struct rp_executor *e, const char *job_id,
                       size_t id_len, const char *job_text, size_t len);

/* The same, taking over the malloc'ed block that holds the job's text at
 * block + off (len bytes) instead of copying it: the job-take answer's
 * own buffer. The block is owned from here on, also on failure. */
int rp_executor_submit_block(struct rp_executor *e, const char *job_id,
                             size_t id_len, char *block, size_t off,
                             size_t len);

/* Asks that the job job_id[0..id_len) of this executor stop. A job busy
 * in Lua code stops at its next hook; a waiting one at once. No result is
 * posted for it. */
void rp_executor_stop_job(struct rp_executor *e, const char *job_id,
                          size_t id_len);

/* Asks the executor to call concurrency_modifier(current); the answer
 * comes back as an RP_OUT_CONCURRENCY message. */
void rp_executor_ask_concurrency(struct rp_executor *e, int current);

/* For a job that will not stop: when the job whose code the thread runs
 * right now was due to stop (a stop asked, or its timeout passed), 0 when
 * no job's code runs or it is not due to stop. When due, *id is a
 * malloc'ed copy of its id (*id_len bytes, then a NUL; NULL when memory
 * runs out) and *timed_out says whether it was due by its timeout (no
 * stop asked). Jobs waiting for their turn or at a runtime wait never
 * count: only the one that holds the thread. Any thread. */
double rp_executor_overdue(struct rp_executor *e, char **id, size_t *id_len,
                           int *timed_out);

/* The body of a failed result {"error": "<error JSON>"} built in C (for
 * when no VM can build it): error_type 'type', error_message 'message',
 * an empty traceback, the host name, worker id and runtime version, as
 * the runner's error results carry them. Logged as the job's. Returns a
 * malloc'ed body (*len bytes), NULL when memory runs out. */
char *rp_executor_error_body(const char *job_id, const char *type,
                             const char *message, size_t *len);

/* Jobs submitted and not yet finished. */
int rp_executor_load(struct rp_executor *e);

/* Whether it takes new jobs (not while its VM waits to be rebuilt). */
int rp_executor_accepting(struct rp_executor *e);

/* The start config's number at 'key' (e.g. "worker_threads"), 1 for a
 * function there (e.g. "concurrency_modifier"), or dflt. Call before the
 * thread runs jobs. */
double rp_executor_config_number(struct rp_executor *e, const char *key,
                                 double dflt);

/* A setting that the environment gives and start{} may give too: the
 * variable's value when it is set (and valid), else start's 'key', else
 * dflt. Serverless, API and local test mode all take their job timeout and
 * worker threads this way. */
double rp_executor_setting(struct rp_executor *e, const struct rp_setting *env,
                           const char *key, double dflt);

/* Runs the registered fitness checks (runpod.internal.worker.fitness) in
 * the VM, for at most 'seconds' of Lua code (the jobs' hook enforces it).
 * Call before the first job. Returns RP_OK, or RP_ELUA with the failing
 * check's name in check (as registered) and its reason in err. */
int rp_executor_fitness(struct rp_executor *e, double seconds, char *check,
                        size_t checklen, char *err, size_t errlen);

/* Lets the running jobs finish, then ends the thread and joins it. With
 * now set, drops the running jobs first (no results). */
void rp_executor_shutdown(struct rp_executor *e, int now);

/* Frees a shut-down executor. Accepts NULL. */
void rp_executor_free(struct rp_executor *e);

#endif
