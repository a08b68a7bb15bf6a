/*
 * lproc.h - runpod.core's bindings of supervised child processes
 * (base/proc.h), the C part of runpod.backend (see lproc.c).
 */
#ifndef RP_LPROC_H
#define RP_LPROC_H

#include <lua.h>

/* Adds the proc_* functions to the table on top of the stack. [-0, +0] */
void rp_lproc_register(lua_State *L);

#endif
