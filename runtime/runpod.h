/*
 * runpod.h - the header for C extension modules of runpod-lua handlers.
 *
 * A handler may `require` its own C module built against Lua 5.4:
 *
 *   cc -shared -fPIC $(pkg-config --cflags lua5.4) -o mymod.so mymod.c
 *
 * and place mymod.so next to the handler script (the runtime puts the
 * script's directory first on package.cpath). This header names what such
 * a module may rely on from the runtime.
 */
#ifndef RUNPOD_H
#define RUNPOD_H

#include <lua.h>

#define RUNPOD_VERSION "0.1.0"

/* The JSON null of runpod.json (and of lua-cjson): a light userdata
 * holding NULL. */
#define runpod_pushnull(L) lua_pushlightuserdata((L), NULL)
#define runpod_isnull(L, i) \
  (lua_islightuserdata((L), (i)) && lua_touserdata((L), (i)) == NULL)

/* The registry name of the metatable that marks a table as a JSON array,
 * so that an empty table encodes as [] rather than {}. */
#define RUNPOD_JSON_ARRAY_MT "runpod.json.array"

#endif
