/*
 * main.c - runpod-worker: turns a Lua handler script into a RunPod worker.
 *
 *   runpod-worker HANDLER.lua [flags]
 *
 * Chooses the mode as the Python SDK does (DESIGN.md section 2), builds the
 * VM from the script and hands over to the mode. Exit codes are listed in
 * usage() and the README.
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "config.h"
#include "local.h"
#include "log.h"
#include "reaper.h"
#include "rp.h"
#include "serverless.h"
#include "vm.h"

enum {
  EXIT_JOB_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_NO_SCRIPT = 3,
  EXIT_SYNTAX = 4,
  EXIT_SCRIPT_ERROR = 5,
  EXIT_NO_START = 6,
  EXIT_BAD_CONFIG = 7,
  EXIT_INTERNAL = 70
};

static void usage(FILE *out)
{
  fputs(
    "usage: runpod-worker HANDLER.lua [flags] [script arguments]\n"
    "\n"
    "Runs a Lua handler script as a RunPod serverless worker. Mode:\n"
    "  --rp_serve_api, or RUNPOD_REALTIME_PORT set    local API server\n"
    "  --test_input, or RUNPOD_WEBHOOK_GET_JOB unset  local test\n"
    "  otherwise                                      serverless job loop\n"
    "\n"
    "flags (a value follows as the next argument or after '='):\n"
    "  --test_input JSON       job(s) to run (default ./test_input.json);\n"
    "                          a JSON array runs several jobs in order\n"
    "  --test_output JSON      expected result, compared as a JSON value\n"
    "  --rp_log_level LEVEL    NOTSET, TRACE, DEBUG, INFO (default), WARN, ERROR\n"
    "  --rp_log_stream S       stdout (default) or stderr\n"
    "  --rp_debugger           attach timing output to results\n"
    "  --rp_serve_api          serve the local API\n"
    "  --rp_api_host HOST      API host (default localhost)\n"
    "  --rp_api_port PORT      API port (default 8000)\n"
    "  --rp_api_concurrency N  jobs the API runs at once (default 1)\n"
    "  -h, --help              this text\n"
    "  --version               version, name and Lua release\n"
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

static int exit_code_for_load(int rc)
{
  switch (rc) {
  case RP_VM_ENOFILE: return EXIT_NO_SCRIPT;
  case RP_VM_ESYNTAX: return EXIT_SYNTAX;
  case RP_VM_ESCRIPT: return EXIT_SCRIPT_ERROR;
  case RP_VM_ENOSTART: return EXIT_NO_START;
  case RP_VM_ECONFIG: return EXIT_BAD_CONFIG;
  default: return EXIT_INTERNAL;
  }
}

/* Applies the environment, then the flags, to the logger. */
static int configure_log(const struct rp_args *a)
{
  char err[256];
  int level;
  int fd;
  if (rp_log_configure_from_env(err, sizeof(err)) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "%s", err);
    return -1;
  }
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
  return 0;
}

int main(int argc, char **argv)
{
  struct rp_args a;
  struct rp_vm_options o;
  char err[1024];
  char **rest;
  const char *script = NULL;
  const char *env;
  int first = 1;
  int rc;

  (void)rp_reaper_start();   /* PID 1: reap orphans, forward signals */
  /* Past RLIMIT_FSIZE a write fails with EFBIG, which the handler or
   * runpod.download reports, instead of the signal killing the worker. */
  signal(SIGXFSZ, SIG_IGN);
  if (argc > 1 && argv[1][0] != '-') {
    script = argv[1];
    first = 2;
  }
  rest = calloc((size_t)argc + 1, sizeof(char *));
  if (!rest)
    return EXIT_INTERNAL;
  if (rp_args_parse(&a, argc - first, argv + first, rest, err,
                    sizeof(err)) != 0) {
    fprintf(stderr, "runpod-worker: %s\n", err);
    free(rest);
    return EXIT_USAGE;
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
    usage(stderr);
    free(rest);
    return EXIT_USAGE;
  }
  if (configure_log(&a) != 0) {
    free(rest);
    return EXIT_USAGE;
  }

  memset(&o, 0, sizeof(o));
  o.script = script;
  o.argc = a.nrest;
  o.argv = rest;
  o.debugger = a.debugger;
  env = getenv("RUNPOD_MAX_MEMORY");
  if (env && *env && rp_alloc_parse_size(env, &o.memory_cap) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "invalid RUNPOD_MAX_MEMORY '%s' (expected "
           "bytes, e.g. 67108864 or 64M)", env);
    free(rest);
    return EXIT_USAGE;
  }

  env = getenv("RUNPOD_REALTIME_PORT");
  if (a.serve_api || (env && *env)) {
    rc = rp_api_run(&o, &a);
    free(rest);
    return rc < 0 ? exit_code_for_load(rc) : rc;
  }
  env = getenv("RUNPOD_WEBHOOK_GET_JOB");
  if (!a.test_input && env && *env) {
    rc = rp_serverless_run(&o, NULL);
    free(rest);
    return rc < 0 ? exit_code_for_load(rc) : rc;
  }

  rc = rp_local_run(&o, &a);
  free(rest);
  return rc < 0 ? exit_code_for_load(rc) : rc;
}
