/*
 * invert.c - an example C extension module for runpod-lua handlers: inverts
 * the colours of raw RGB or RGBA pixels held in a runpod.Buffer, in place.
 *
 * Built like any Lua C module, against the Lua 5.4 headers and runpod.h
 * only (it links against nothing of the runtime):
 *
 *   cc -std=c11 -O2 -shared -fPIC $(pkg-config --cflags lua5.4) \
 *      -I/usr/local/include -o handlers/ext/invert.so handlers/ext/invert.c
 *
 * handlers/ext_buffer.lua loads it with require "ext.invert" (the runtime
 * puts the handler script's directory first on package.cpath).
 *
 *   invert.rgb(buf[, channels]) -> buf
 *     channels 3 (RGB, the default) or 4 (RGBA: alpha is kept); #buf must
 *     be a multiple of channels.
 */
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

#include "runpod.h"

static struct runpod_buffer *checkbuffer(lua_State *L, int i)
{
  struct runpod_buffer *b = luaL_checkudata(L, i, RUNPOD_BUFFER_MT);
  if (b->version < RUNPOD_BUFFER_VERSION)
    luaL_error(L, "runpod.Buffer layout %d is older than %d",
               (int)b->version, (int)RUNPOD_BUFFER_VERSION);
  return b;
}

/* invert.rgb(buf[, channels]) -> buf */
static int invert_rgb(lua_State *L)
{
  struct runpod_buffer *b = checkbuffer(L, 1);
  lua_Integer channels = luaL_optinteger(L, 2, 3);
  unsigned char *p;
  size_t n;
  luaL_argcheck(L, channels == 3 || channels == 4, 2, "channels must be 3 "
                "or 4");
  luaL_argcheck(L, b->len % (size_t)channels == 0, 1, "length is not a "
                "multiple of the channel count");
  p = b->data;
  n = b->len;
  /* The hot loop: data[0..len) is ours to write while no Lua code runs. */
  if (channels == 3) {
    for (size_t i = 0; i < n; i++)
      p[i] = (unsigned char)(255 - p[i]);
  } else {
    for (size_t i = 0; i < n; i += 4) {
      p[i] = (unsigned char)(255 - p[i]);
      p[i + 1] = (unsigned char)(255 - p[i + 1]);
      p[i + 2] = (unsigned char)(255 - p[i + 2]);
    }
  }
  lua_settop(L, 1);
  return 1;
}

static const luaL_Reg invert_functions[] = {
  {"rgb", invert_rgb},
  {NULL, NULL}
};

/* Exported under the name require "ext.invert" looks for. */
int luaopen_ext_invert(lua_State *L);

int luaopen_ext_invert(lua_State *L)
{
  luaL_newlib(L, invert_functions);
  return 1;
}
