/* local.c - see local.h. */
#include "worker/local.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/executor.h"
#include "worker/exit.h"
#include "worker/runner.h"
#include "base/log.h"
#include "base/rp.h"

#define MODULE "runpod.internal.local_test"

struct strings {
  char **v;
  int n;
};

/* What became of one job. */
struct outcome {
  char *body;          /* its result, NULL when it was stopped */
  int failed;
  int fatal;           /* the VM could not be rebuilt afterwards */
};

/* Written by the executor when a message is queued and by the signal
 * handler; the main thread polls its read end. */
static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void poke(void)
{
  int saved = errno;
  if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0)
    (void)0;                 /* full: it will be read anyway */
  errno = saved;
}

static void on_signal(int sig)
{
  got_signal = sig;
  poke();
}

static void wake(void *ud)
{
  (void)ud;
  poke();
}

static void strings_free(struct strings *s)
{
  for (int i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Copies the strings of the list at index idx of L into s. Returns RP_OK
 * or RP_ENOMEM. [-0, +0] */
static int take_strings(lua_State *L, int idx, struct strings *s)
{
  int n = (int)lua_rawlen(L, idx);
  s->v = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  if (!s->v)
    return RP_ENOMEM;
  for (int i = 0; i < n; i++) {
    const char *p;
    lua_rawgeti(L, idx, i + 1);
    p = lua_tostring(L, -1);
    s->v[i] = strdup(p ? p : "");
    lua_pop(L, 1);
    if (!s->v[i])
      return RP_ENOMEM;
    s->n++;
  }
  return RP_OK;
}

/* Calls a local_test function and logs a failure of the call itself. */
static int call(lua_State *L, const char *fn, int nargs,
                const char *const *args, int *nres)
{
  char err[4096];
  if (rp_runner_call(L, MODULE, fn, nargs, args, nres, err,
                  sizeof(err)) != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "local test: %s", err);
    return -1;
  }
  return 0;
}

/* Reads the input and splits it into job texts and their ids. Returns 0
 * or an exit code. */
static int load_jobs(lua_State *L, const struct rp_args *a,
                     struct strings *jobs, struct strings *ids)
{
  const char *args[1] = { a->test_input };
  int n;
  int rc;
  if (call(L, "read_input", 1, args, &n) != 0)
    return 1;
  if (n < 1 || !lua_isstring(L, -n)) {
    lua_pop(L, n);
    return 1;
  }
  lua_settop(L, lua_gettop(L) - n + 1);
  args[0] = lua_tostring(L, -1);
  if (call(L, "prepare", 1, args, &n) != 0) {
    lua_pop(L, 1);
    return 1;
  }
  if (n < 2 || !lua_istable(L, -n) || !lua_istable(L, -n + 1)) {
    lua_pop(L, n + 1);
    return 1;
  }
  lua_settop(L, lua_gettop(L) - n + 2);  /* L: ... text texts ids */
  rc = take_strings(L, -2, jobs);
  if (rc == RP_OK)
    rc = take_strings(L, -1, ids);
  lua_pop(L, 3);
  if (rc != RP_OK || jobs->n != ids->n) {
    rp_log(RP_LOG_ERROR, NULL, "local test: out of memory");
    return 1;
  }
  return 0;
}

/* Waits until the job ends. A SIGINT or SIGTERM asks the executor to stop
 * it (its hook stops it at the next instructions, a sleep or a request at
 * once); a second one ends the process, for a handler stuck in C code. */
static void wait_job(struct rp_executor *e, struct rp_outbox *out,
                     const char *id, struct outcome *o)
{
  int done = 0;
  int asked = 0;
  char drain[64];
  for (;;) {
    struct rp_out *m = rp_outbox_take(out);
    for (struct rp_out *p = m; p; p = p->next) {
      if (p->kind == RP_OUT_DONE) {
        done = 1;
        o->body = p->body;
        p->body = NULL;
        o->failed = p->failed || !o->body;
      } else if (p->kind == RP_OUT_FATAL) {
        o->fatal = 1;
      }
    }
    rp_out_free(m);
    if (done || o->fatal)
      return;
    if (got_signal && !asked) {
      rp_log(RP_LOG_WARN, id, "Received %s: stopping the job (send it "
             "again to end at once).", got_signal == SIGINT ? "SIGINT"
             : "SIGTERM");
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      rp_executor_stop_job(e, id, strlen(id));
      asked = 1;
    }
    poll(&(struct pollfd){ .fd = wake_pipe[0], .events = POLLIN }, 1, -1);
    while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
      continue;
  }
}

/* Runs the jobs one after the other; collects their result bodies.
 * Returns 0 when every job ran to its end (failed or not) and sets
 * *any_failed, or 1 when the run must end now. */
static int run_jobs(struct rp_executor *e, struct rp_outbox *out,
                    const struct strings *jobs, const struct strings *ids,
                    struct strings *bodies, int *any_failed)
{
  for (int i = 0; i < jobs->n; i++) {
    struct outcome o = { NULL, 0, 0 };
    if (rp_executor_submit(e, ids->v[i], strlen(ids->v[i]), jobs->v[i],
                           strlen(jobs->v[i])) != RP_OK) {
      rp_log(RP_LOG_ERROR, ids->v[i], "out of memory: job not run");
      return 1;
    }
    wait_job(e, out, ids->v[i], &o);
    if (!o.body) {
      if (!o.fatal)
        rp_log(RP_LOG_ERROR, ids->v[i], "Job %s was stopped before it "
               "finished; exiting.", ids->v[i]);
      return 1;
    }
    bodies->v[bodies->n++] = o.body;
    *any_failed |= o.failed;
    if (o.fatal)
      return 1;
  }
  return 0;
}

/* Compares the results with --test_output. Returns the exit code. */
static int finish(lua_State *L, const struct rp_args *a, int any_failed,
                  const struct strings *bodies)
{
  const char **args = calloc((size_t)bodies->n + 2, sizeof(char *));
  int code = 1;
  int n;
  if (!args)
    return 1;
  args[0] = a->test_output;
  args[1] = any_failed ? "failed" : NULL;
  for (int i = 0; i < bodies->n; i++)
    args[i + 2] = bodies->v[i];
  if (call(L, "finish", bodies->n + 2, args, &n) == 0) {
    code = n >= 1 ? (int)lua_tointeger(L, -n) : 1;
    lua_pop(L, n);
  }
  free(args);
  return code;
}

/* Runs the local test with the executor built (its thread not started). */
static int run(struct rp_executor *e, struct rp_outbox *out,
               const struct rp_args *a, const struct rp_settings *env)
{
  struct rp_vm *vm = rp_executor_vm(e);
  struct strings jobs = { NULL, 0 };
  struct strings ids = { NULL, 0 };
  struct strings bodies = { NULL, 0 };
  struct sigaction sa;
  struct sigaction old_int;
  struct sigaction old_term;
  int any_failed = 0;
  int code;

  rp_log(RP_LOG_DEBUG, NULL, "%s loaded in %.3f ms", vm->opts.script,
         vm->load_seconds * 1e3);
  rp_executor_set_timeout(e, rp_executor_setting(e, &env->job_timeout,
                                                "timeout", 0));
  /* A JSON array of jobs runs in one VM, rebuilt as in serverless mode. */
  rp_executor_set_recycle(e,
    (unsigned long)rp_executor_config_number(e, "recycle_jobs", 0),
    (size_t)rp_executor_config_number(e, "recycle_heap", 0));
  code = load_jobs(vm->L, a, &jobs, &ids);
  if (code == 0) {
    bodies.v = calloc((size_t)jobs.n, sizeof(char *));
    code = bodies.v ? 0 : 1;
  }
  if (code == 0) {
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    /* Any thread may take the signal; SA_RESTART keeps a handler's own
     * reads and writes on the executor's thread from failing with EINTR,
     * and child processes keep the usual signal mask. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    code = run_jobs(e, out, &jobs, &ids, &bodies, &any_failed);
    rp_executor_shutdown(e, code != 0);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
  }
  /* The thread has ended: the VM is the caller's again. The last job may
   * have left it due for a rebuild; finish() gets a clean one, as the
   * next job would (a failed rebuild was logged). */
  if (code == 0) {
    rp_executor_rebuild_due(e);
    code = vm->L ? finish(vm->L, a, any_failed, &bodies) : 1;
  }
  strings_free(&bodies);
  strings_free(&ids);
  strings_free(&jobs);
  return code;
}

int rp_local_run(const struct rp_vm_options *vo, const struct rp_args *a,
                 const struct rp_settings *env)
{
  struct rp_executor_config c;
  struct rp_executor *e = NULL;
  struct rp_outbox out;
  char err[1024];
  int code;

  if (pipe(wake_pipe) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "cannot create a pipe: %s", strerror(errno));
    return 1;
  }
  for (int i = 0; i < 2; i++)
    fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    rp_log(RP_LOG_ERROR, NULL, "cannot initialise libcurl");
    code = 1;
    goto close_pipe;
  }
  rp_outbox_init(&out, wake, NULL);
  memset(&c, 0, sizeof(c));
  c.vm = *vo;
  c.out = &out;
  c.local_test = 1;
  code = rp_executor_start(&e, &c, err, sizeof(err));
  if (code != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "%s", err);
    code = rp_exit_for_load(code);
  } else
    code = run(e, &out, a, env);
  rp_executor_free(e);
  rp_outbox_destroy(&out);
  curl_global_cleanup();
close_pipe:
  for (int i = 0; i < 2; i++) {
    close(wake_pipe[i]);
    wake_pipe[i] = -1;
  }
  return code;
}
