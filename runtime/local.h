/*
 * local.h - local test mode of runpod-worker (DESIGN.md section 2): runs
 * the job(s) from --test_input or ./test_input.json and compares the
 * result with --test_output. The steps are the Lua functions of
 * runpod.local_test, which plain lua5.4 runs too; this driver adds what
 * only the binary can do, such as rebuilding the VM between jobs.
 */
#ifndef RP_LOCAL_H
#define RP_LOCAL_H

#include "config.h"
#include "settings.h"
#include "vm.h"

/* Runs the jobs with the flags 'a' and the environment as read at start
 * ('env'). Returns the process exit code: 0 success, 1 a job failed,
 * there was no usable input or the output did not match. */
int rp_local_run(struct rp_vm *vm, const struct rp_args *a,
                 const struct rp_settings *env);

#endif
