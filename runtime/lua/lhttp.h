/*
 * lhttp.h - the HTTP client bindings of runpod.core (see lhttp.c).
 */
#ifndef RP_LHTTP_H
#define RP_LHTTP_H

#include <lua.h>

/* Adds http_request and http_read to the table on top of the stack and
 * creates the stream handle's metatable. [-0, +0] */
void rp_lhttp_register(lua_State *L);

#endif
