/*
 * lfiles.h - the file-system bindings of runpod.core (see lfiles.c).
 */
#ifndef RP_LFILES_H
#define RP_LFILES_H

#include <lua.h>

/* Adds remove_tree to the table on top of the stack. [-0, +0] */
void rp_lfiles_register(lua_State *L);

#endif
