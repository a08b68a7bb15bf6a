/*
 * lclass.h - the metatable of a runpod.core binding's userdata, made the
 * same way for every binding (lhttp.c, ls3.c, lvolcache.c, larchive.c).
 */
#ifndef RP_LCLASS_H
#define RP_LCLASS_H

#include <lauxlib.h>

/* Registers metatable 'name': meta's functions (__gc, __close, ...) and,
 * unless methods is NULL, methods as its __index table. [-0, +0] */
void rp_lclass_register(lua_State *L, const char *name, const luaL_Reg *meta,
                        const luaL_Reg *methods);

#endif
