/*
 * larchive.c - runpod.core.unzip, for runpod.file (see unzip.h).
 *
 * Bindings only: the extraction and its guards are unzip.c's. The call
 * blocks its thread while it extracts.
 */
#include "lua/larchive.h"

#include <lauxlib.h>

#include "base/rp.h"
#include "base/unzip.h"

/* unzip(zip, dest[, max_bytes, max_ratio, max_entries]) -> files |
 * nil, message */
static int archive_unzip(lua_State *L)
{
  const char *zip = luaL_checkstring(L, 1);
  const char *dest = luaL_checkstring(L, 2);
  struct rp_unzip_limits lim;
  char err[512];
  long files = 0;
  lim.max_bytes = (long long)luaL_optinteger(L, 3, RP_UNZIP_MAX_BYTES);
  lim.max_ratio = (double)luaL_optnumber(L, 4, RP_UNZIP_MAX_RATIO);
  lim.max_entries = (long)luaL_optinteger(L, 5, RP_UNZIP_MAX_ENTRIES);
  luaL_argcheck(L, lim.max_bytes > 0, 3, "must be > 0");
  luaL_argcheck(L, lim.max_ratio >= 1, 4, "must be >= 1");
  luaL_argcheck(L, lim.max_entries > 0, 5, "must be > 0");
  if (rp_unzip(zip, dest, &lim, &files, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, files);
  return 1;
}

static const luaL_Reg archive_functions[] = {
  {"unzip", archive_unzip},
  {NULL, NULL}
};

void rp_larchive_register(lua_State *L)
{
  luaL_setfuncs(L, archive_functions, 0);
}
