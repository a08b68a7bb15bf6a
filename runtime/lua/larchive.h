/*
 * larchive.h - the archive bindings of runpod.core (see larchive.c).
 */
#ifndef RP_LARCHIVE_H
#define RP_LARCHIVE_H

#include <lua.h>

/* Adds unzip and unzip_start to the table on top of the stack (and the
 * metatable of unzip_start's operations to the registry). [-0, +0] */
void rp_larchive_register(lua_State *L);

#endif
