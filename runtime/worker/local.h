/*
 * local.h - local test mode of runpod-worker (docs/configuration.md,
 * "Modes"): runs
 * the job(s) from --test_input or ./test_input.json and compares the
 * result with --test_output. The steps are the Lua functions of
 * runpod.internal.local_test, which plain lua5.4 runs too. The jobs run
 * one after the other in an executor (executor.h), as in the other modes,
 * so they get the same timeout (start's timeout, RUNPOD_JOB_TIMEOUT),
 * memory cap, runpod.time_remaining() and VM rebuilds. SIGINT or SIGTERM
 * stops the running job (a second one ends the process at once).
 */
#ifndef RP_LOCAL_H
#define RP_LOCAL_H

#include "base/args.h"
#include "base/settings.h"
#include "worker/vm.h"

/* Builds the VM from o and runs the local test. Returns the process exit
 * code: 0 success, 1 a job failed or was stopped, there was no usable
 * input or the output did not match; or, when the script cannot be
 * loaded, the load error's (exit.h, 3-7), after logging the reason.
 * env: the settings read at start (RUNPOD_JOB_TIMEOUT). */
int rp_local_run(const struct rp_vm_options *o, const struct rp_args *a,
                 const struct rp_settings *env);

#endif
