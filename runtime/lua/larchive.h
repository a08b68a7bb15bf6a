/*
 * larchive.h - the archive bindings of runpod.core (see larchive.c).
 */
#ifndef RP_LARCHIVE_H
#define RP_LARCHIVE_H

#include <lua.h>

/* Adds unzip to the table on top of the stack. [-0, +0] */
void rp_larchive_register(lua_State *L);

#endif
