/*
 * ls3.h - the multipart-upload bindings of runpod.core (see ls3.c).
 */
#ifndef RP_LS3_H
#define RP_LS3_H

#include <lua.h>

/* Adds s3_put_part and its metatable to the table on top of the stack.
 * [-0, +0] */
void rp_ls3_register(lua_State *L);

#endif
