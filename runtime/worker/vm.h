/*
 * vm.h - one Lua VM: a lua_State with its allocator, the runpod module and
 * the handler script loaded, and what the script registered with
 * runpod.serverless.start.
 *
 * A VM is built from the script, runs jobs, and is rebuilt from the script
 * on refresh: rp_vm_refresh() closes the old lua_State entirely (no global,
 * upvalue, loaded module or registry value survives) and loads the script
 * again. A VM is only ever used by one thread at a time.
 */
#ifndef RP_VM_H
#define RP_VM_H

#include <lua.h>
#include <stddef.h>

#include "base/alloc.h"
#include "lua/host.h"

/* Why the handler script could not be loaded; each maps to an exit code. */
enum {
  RP_VM_ENOFILE = -20,     /* the script cannot be opened */
  RP_VM_ESYNTAX = -21,     /* it does not compile */
  RP_VM_ESCRIPT = -22,     /* its top-level code raised an error */
  RP_VM_ENOSTART = -23,    /* it never called runpod.serverless.start */
  RP_VM_ECONFIG = -24      /* start's config is invalid */
};

struct rp_vm_options {
  const char *script;      /* path of the handler script */
  size_t memory_cap;       /* bytes, 0 = no cap (RUNPOD_MAX_MEMORY) */
  int argc;                /* the script's own arguments, for 'arg' */
  char **argv;             /* borrowed for the VM's lifetime */
  /* What a VM owned by an executor thread reaches of its host: where
   * stream partials and progress updates go (emit, called on the
   * executor's thread), and the running job's time budget; its ud is also
   * stored in every thread's extra space. Every mode of runpod-worker runs
   * its jobs in an executor, so only a VM built outside one has none
   * (NULL). Only emit, time_remaining and ud are read. */
  const struct rp_host *host;
  int debugger;            /* --rp_debugger: attach runpod.debugger output */
};

struct rp_vm {
  lua_State *L;
  struct rp_alloc alloc;
  struct rp_host host;     /* bound to L: runpod.core's view of the VM
                              (opts.host's calls, alloc, the pending wait) */
  struct rp_vm_options opts;
  unsigned long jobs;      /* jobs run since the state was built */
  unsigned long builds;    /* how many times the state was built */
  double load_seconds;     /* how long the last build took */
};

/* Builds the VM and runs the script's top-level code. On failure returns
 * one of the RP_VM_E* codes (or RP_ENOMEM) with a one-line message naming
 * the script in err, and leaves the VM closed. */
int rp_vm_open(struct rp_vm *vm, const struct rp_vm_options *o, char *err,
               size_t errlen);

/* Closes the state and builds a new one from the same script. Returns as
 * rp_vm_open. */
int rp_vm_refresh(struct rp_vm *vm, char *err, size_t errlen);

/* Closes the state. Accepts a closed VM. */
void rp_vm_close(struct rp_vm *vm);

/* Pushes the config table that start() registered. [-0, +1] */
void rp_vm_push_config(lua_State *L);

/* Requires a module (e.g. "runpod.internal.runner") and pushes field
 * 'name' of it. Returns RP_OK, or RP_ELUA with the message in err.
 * [-0, +1|0] */
int rp_vm_push_function(lua_State *L, const char *module, const char *name,
                        char *err, size_t errlen);

/* The message handler the host uses with lua_pcall: turns the error into
 * a string with a traceback. */
int rp_vm_msgh(lua_State *L);

#endif
