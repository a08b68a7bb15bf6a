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
#include <stddef.h>

#define RUNPOD_VERSION "0.1.0"

/* The JSON null of runpod.json (and of lua-cjson): a light userdata
 * holding NULL. */
#define runpod_pushnull(L) lua_pushlightuserdata((L), NULL)
#define runpod_isnull(L, i) \
  (lua_islightuserdata((L), (i)) && lua_touserdata((L), (i)) == NULL)

/* The registry name of the metatable that marks a table as a JSON array,
 * so that an empty table encodes as [] rather than {}. */
#define RUNPOD_JSON_ARRAY_MT "runpod.json.array"

/*
 * runpod.Buffer (runpod.buffer.new) from C, without linking against the
 * runtime: the userdata's memory starts with this struct, so
 *
 *   struct runpod_buffer *b = luaL_checkudata(L, 1, RUNPOD_BUFFER_MT);
 *   if (b->version < RUNPOD_BUFFER_VERSION)
 *     return luaL_error(L, "runpod.Buffer layout %u, expected %u",
 *                       b->version, RUNPOD_BUFFER_VERSION);
 *   for (size_t i = 0; i < b->len; i++)
 *     b->data[i] ^= 0xff;
 *
 * Rules:
 * - read and write data[0..len) in place, freely;
 * - never free, realloc or replace data, and never change len or cap:
 *   grow a buffer by calling its Lua methods (append, reserve);
 * - data is borrowed: valid while the buffer is reachable and until Lua
 *   code runs that may grow it (append, reserve, slice of itself is fine);
 *   do not keep it across such calls or after returning to Lua;
 * - data is NULL when cap is 0; a collected buffer has len 0.
 * The fields below are version 1. A later version only appends fields and
 * bumps RUNPOD_BUFFER_VERSION; version 1 code stays correct on it when it
 * checks version >= 1.
 */
#define RUNPOD_BUFFER_MT "runpod.Buffer"
#define RUNPOD_BUFFER_VERSION 1u

struct runpod_buffer {
  unsigned int version;   /* RUNPOD_BUFFER_VERSION */
  unsigned char *data;    /* the bytes; NULL when cap is 0 */
  size_t len;             /* bytes in use */
  size_t cap;             /* bytes allocated; cap >= len */
  /* private fields of the runtime follow */
};

#endif
