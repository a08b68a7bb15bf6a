/*
 * lcore.h - runpod.core, the C part of the runpod Lua module.
 *
 * The same object file serves the runpod-worker binary (where the VM
 * preloads it) and plain lua5.4 (where it is loaded from runpod/core.so).
 * The binary binds a struct rp_host to its states (lua/host.h); without
 * one, runpod.core works standalone and every call that would wait blocks
 * instead of yielding.
 */
#ifndef RP_LCORE_H
#define RP_LCORE_H

#include <lua.h>

int luaopen_runpod_core(lua_State *L);

#endif
