/*
 * exit.h - the exit codes of runpod-worker (docs/configuration.md, "Exit
 * codes"). Every mode's run function (rp_serverless_run, rp_api_run,
 * rp_local_run) returns one of these, nothing else.
 */
#ifndef RP_EXIT_H
#define RP_EXIT_H

enum rp_exit {
  RP_EXIT_OK = 0,
  RP_EXIT_FAILED = 1,        /* a job failed, a fatal job-loop condition */
  RP_EXIT_USAGE = 2,         /* bad flags or environment */
  RP_EXIT_NO_SCRIPT = 3,
  RP_EXIT_SYNTAX = 4,
  RP_EXIT_SCRIPT_ERROR = 5,
  RP_EXIT_NO_START = 6,
  RP_EXIT_BAD_CONFIG = 7,
  RP_EXIT_INTERNAL = 70
};

/* The exit code for a failure to build the VM: rc is a vm.h RP_VM_E* code
 * (or another negative RP_E*, which is an internal error). */
enum rp_exit rp_exit_for_load(int rc);

#endif
