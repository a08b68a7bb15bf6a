/*
 * main.c - runpod-worker: turns a Lua handler script into a RunPod worker.
 *
 *   runpod-worker HANDLER.lua [flags]
 *
 * Reads the environment once (settings.h) and the flags (args.h),
 * chooses the mode as the Python SDK does (docs/configuration.md,
 * "Modes"), builds the
 * VM from the script and hands over to the mode, passing both on. Exit
 * codes are listed in usage() and the README.
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "worker/api.h"
#include "worker/exit.h"
#include "base/args.h"
#include "base/ident.h"
#include "worker/local.h"
#include "base/log.h"
#include "net/req.h"
#include "worker/reaper.h"
#include "base/rp.h"
#include "worker/serverless.h"
#include "base/settings.h"
#include "base/settings_doc.h"
#include "worker/vm.h"

static void usage(FILE *out)
{
  char flags[4096];
  rp_args_usage(flags, sizeof(flags));
  fputs(
    "usage: runpod-worker HANDLER.lua [flags] [script arguments]\n"
    "\n"
    "Runs a Lua handler script as a RunPod serverless worker. Mode:\n"
    "  --rp_serve_api, or RUNPOD_REALTIME_PORT set    local API server\n"
    "  --test_input, or RUNPOD_WEBHOOK_GET_JOB unset  local test\n"
    "  otherwise                                      serverless job loop\n"
    "\n"
    "flags (a value follows as the next argument or after '='):\n", out);
  fputs(flags, out);
  fputs(
    "Other arguments are left in the script's 'arg' table.\n"
    "\n"
    "Environment: RUNPOD_* variables as the Python SDK reads them; see\n"
    "runpod-worker(1) or docs/configuration.md.\n"
    "\n"
    "exit codes: 0 success, 1 job failed or output mismatch (serverless: a\n"
    "fitness check failed or a job would not stop), 2 usage, 3 script not\n"
    "found, 4 syntax error, 5 script raised while loading, 6 start() never\n"
    "called, 7 invalid start() config, 70 internal error\n",
    out);
}

/* Applies the environment, then the flags, to the logger, then reports
 * each invalid variable once. Returns 0, or -1 when a flag or a variable
 * is invalid in a way that stops the worker (logged). */
static int configure_log(const struct rp_args *a,
                         const struct rp_settings *env)
{
  char msg[512];
  int level;
  int fd;
  int fatal = 0;
  rp_settings_apply_log(env);
  if (a->log_level) {
    level = rp_log_parse_level(a->log_level);
    if (level < 0) {
      rp_log(RP_LOG_ERROR, NULL, "invalid --rp_log_level '%s' (expected "
             "NOTSET, TRACE, DEBUG, INFO, WARN or ERROR)", a->log_level);
      return -1;
    }
    rp_log_set_level(level);
  }
  if (a->log_stream) {
    fd = rp_log_parse_stream(a->log_stream);
    if (fd < 0) {
      rp_log(RP_LOG_ERROR, NULL, "invalid --rp_log_stream '%s' (expected "
             "stdout or stderr)", a->log_stream);
      return -1;
    }
    rp_log_set_fd(fd);
  }
  for (int n = 0; (level = rp_settings_problem(env, n, msg,
                                                sizeof(msg))) != 0; n++) {
    rp_log(level, NULL, "%s", msg);
    if (level == RP_LOG_ERROR)
      fatal = 1;
  }
  return fatal ? -1 : 0;
}

/* Warns about each argument left for the script that looks like one of
 * our flags mistyped (--test-input, --rp_api_prt). */
static void warn_mistyped(char **rest, int nrest)
{
  char msg[512];
  for (int i = 0; i < nrest; i++)
    if (rp_args_mistyped(rest[i], msg, sizeof(msg)))
      rp_log(RP_LOG_WARN, NULL, "%s", msg);
}

/* Without a script first, says what is wrong with the command line. */
static void complain_no_script(char **rest, int nrest)
{
  const char *near;
  for (int i = 0; i < nrest; i++) {
    if (rest[i][0] != '-')
      continue;
    near = rp_args_suggest(rest[i], 0);
    if (near)
      fprintf(stderr, "runpod-worker: unknown flag '%s' (did you mean "
              "%s?)\n", rest[i], near);
    else
      fprintf(stderr, "runpod-worker: unknown flag '%s'\n", rest[i]);
    return;
  }
  if (nrest > 0)
    fprintf(stderr, "runpod-worker: the handler script comes first: "
            "runpod-worker %s [flags]\n", rest[0]);
}

int main(int argc, char **argv)
{
  struct rp_settings env;
  struct rp_args a;
  struct rp_vm_options o;
  char err[1024];
  char **rest;
  const char *script = NULL;
  int first = 1;
  int rc;

  rp_net_set_user_agent(RP_NET_USER_AGENT(LUA_RELEASE));
  rp_settings_read(&env);
  /* Not a user flag: prints the tables of docs/ (make docs). */
  if (argc == 3 && strcmp(argv[1], "--print-settings") == 0)
    return rp_settings_print_doc(stdout, argv[2]) == 0 ? 0 : RP_EXIT_USAGE;
  /* PID 1: reap orphans, forward signals. */
  (void)rp_reaper_start(env.reap_children.number == 1);
  /* Past RLIMIT_FSIZE a write fails with EFBIG, which the handler or
   * runpod.download reports, instead of the signal killing the worker. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc > 1 && argv[1][0] != '-') {
    script = argv[1];
    first = 2;
  }
  rest = calloc((size_t)argc + 1, sizeof(char *));
  if (!rest)
    return RP_EXIT_INTERNAL;
  if (rp_args_parse(&a, argc - first, argv + first, rest, err,
                    sizeof(err)) != 0) {
    fprintf(stderr, "runpod-worker: %s\n", err);
    free(rest);
    return RP_EXIT_USAGE;
  }
  if (a.help || a.version) {
    if (a.help)
      usage(stdout);
    else
      printf("runpod-worker %s (%s, %s)\n", RP_VERSION, RP_NAME, LUA_RELEASE);
    free(rest);
    return 0;
  }
  if (!script) {
    complain_no_script(rest, a.nrest);
    usage(stderr);
    free(rest);
    return RP_EXIT_USAGE;
  }
  if (configure_log(&a, &env) != 0) {
    free(rest);
    return RP_EXIT_USAGE;
  }
  warn_mistyped(rest, a.nrest);
  rp_ident_set(env.pod_id.text, env.pod_hostname.text);

  memset(&o, 0, sizeof(o));
  o.script = script;
  o.argc = a.nrest;
  o.argv = rest;
  o.debugger = a.debugger;
  o.memory_cap = env.max_memory.size;

  /* each mode returns its exit code (exit.h) */
  if (a.serve_api || (env.realtime_port.set && env.realtime_port.number > 0))
    rc = rp_api_run(&o, &a, &env);
  else if (!a.test_input && env.webhook_get_job.text)
    rc = rp_serverless_run(&o, &env, NULL);
  else
    rc = rp_local_run(&o, &a, &env);
  free(rest);
  return rc;
}
