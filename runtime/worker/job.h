/*
 * job.h - runs Lua code of the runpod module inside its own coroutine,
 * serving the runtime yields (runpod.sleep, HTTP) it makes.
 *
 * This is the blocking driver for the runtime's calls around jobs: local
 * test mode's input and output steps and the fitness checks. A sleep
 * simply waits. Jobs themselves run in an executor (executor.h), in every
 * mode. Every call into Lua is protected, so a handler (or the memory cap)
 * can never make the host panic.
 */
#ifndef RP_JOB_H
#define RP_JOB_H

#include <lua.h>
#include <stddef.h>

/* Calls module.fn(args[0], ..., args[nargs-1]) in a new coroutine of L
 * (a NULL arg is passed as nil) and runs it to the end. On RP_OK its
 * results are pushed on L and *nres says how many. On failure returns
 * RP_ELUA with the error and its traceback in err, and L's stack is as it
 * was. */
int rp_job_call(lua_State *L, const char *module, const char *fn, int nargs,
                const char *const *args, int *nres, char *err,
                size_t errlen);

#endif
