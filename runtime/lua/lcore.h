/*
 * lcore.h - runpod.core, the C part of the runpod Lua module.
 *
 * The same object file serves the runpod-worker binary (where the VM
 * preloads it) and plain lua5.4 (where it is loaded from runpod/core.so).
 * The binary marks its states with a registry entry that points at the
 * struct rp_vm; without it, runpod.core works standalone and every call
 * that would wait blocks instead of yielding.
 */
#ifndef RP_LCORE_H
#define RP_LCORE_H

#include <lua.h>

/* Registry key (a light userdata) under which the binary stores its
 * struct rp_vm pointer. */
extern const char rp_core_vm_key;

/* Registry names of what runpod.serverless.start registered. */
#define RP_CONFIG_KEY "runpod.config"
#define RP_CONFIG_ERROR_KEY "runpod.config_error"

/* The first value of every runtime yield (sleep, and later HTTP): a light
 * userdata no handler can produce, so that the job runner never mistakes
 * it for a stream partial. */
extern const char rp_core_yield_tag;

int luaopen_runpod_core(lua_State *L);

#endif
