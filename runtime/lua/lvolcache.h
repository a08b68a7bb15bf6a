/*
 * lvolcache.h - the volume-cache bindings of runpod.core (see lvolcache.c).
 */
#ifndef RP_LVOLCACHE_H
#define RP_LVOLCACHE_H

#include <lua.h>

/* Adds volume_cache_new and the metatables to the table on top of the
 * stack. [-0, +0] */
void rp_lvolcache_register(lua_State *L);

#endif
