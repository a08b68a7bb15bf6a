/*
 * runner.h - resumes the coroutines that run Lua code of the runpod
 * module, and tells a binding's wait (runpod.sleep, HTTP) from any other
 * yield.
 *
 * rp_runner_resume is the one place that decides whether a yield is a
 * runtime wait: it asks the VM's host (lua/host.h), never the yielded
 * values. The executor serves the waits it returns on its multi handle;
 * rp_runner_call serves them by blocking, for the runtime's calls around
 * jobs (local test mode's input and output steps, the fitness checks).
 * Every call into Lua is protected, so a handler (or the memory cap) can
 * never make the host panic.
 */
#ifndef RP_RUNNER_H
#define RP_RUNNER_H

#include <lua.h>
#include <stddef.h>

#include "lua/host.h"

/* The error of a yield that is not a runtime wait. */
#define RP_RUNNER_BAD_YIELD "coroutine.yield called outside a handler"

/* Resumes co (from L = 'from', nargs values on co's stack) and returns:
 * LUA_OK with *nres results on co; LUA_YIELD when co waits for a binding,
 * the wait moved into *w and nothing of the yield left on co; or an error
 * status with the message on top of co. A yield that is not a wait is the
 * error RP_RUNNER_BAD_YIELD (its values are popped, once). h is the VM's
 * host (may be NULL: then every yield is an error). */
int rp_runner_resume(struct rp_host *h, lua_State *co, lua_State *from,
                     int nargs, int *nres, struct rp_wait *w);

/* Calls module.fn(args[0], ..., args[nargs-1]) in a new coroutine of L
 * (a NULL arg is passed as nil) and runs it to the end, serving its waits
 * by blocking. A sleep ends early at the host's time limit (the fitness
 * checks'), and the host's count hook then runs at the next instruction,
 * so that the limit cuts the call there. On RP_OK its results are pushed on L and *nres says how
 * many. On failure returns RP_ELUA with the error and its traceback in
 * err, and L's stack is as it was. */
int rp_runner_call(lua_State *L, const char *module, const char *fn,
                   int nargs, const char *const *args, int *nres, char *err,
                   size_t errlen);

#endif
