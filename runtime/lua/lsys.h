/*
 * lsys.h - machine facts for runpod.debugger (see lsys.c).
 */
#ifndef RP_LSYS_H
#define RP_LSYS_H

#include <lua.h>

/* Adds cpu_count to the table on top of the stack. [-0, +0] */
void rp_lsys_register(lua_State *L);

#endif
