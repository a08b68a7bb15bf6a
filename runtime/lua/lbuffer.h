/*
 * lbuffer.h - runpod.buffer, runpod.base64 and runpod.hex: the bindings of
 * buf.h and codec.h (see lbuffer.c and docs/library.md).
 */
#ifndef RP_LBUFFER_H
#define RP_LBUFFER_H

#include <lua.h>

/* Creates the "runpod.Buffer" metatable and sets the fields buffer, base64
 * and hex (each a table of functions) in the table on top of the stack.
 * [-0, +0] */
void rp_lbuffer_register(lua_State *L);

#endif
