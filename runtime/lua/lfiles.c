/*
 * lfiles.c - runpod.core.remove_tree, for runpod.cleanup (see lfiles.h).
 *
 * Bindings only: the walk is files.c's.
 */
#include "lua/lfiles.h"

#include <lauxlib.h>

#include "base/files.h"
#include "base/rp.h"

/* remove_tree(path) -> true, existed | nil, message
 * Removes a file, symbolic link or directory tree, never following
 * symbolic links (files.h). */
static int files_remove_tree(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  int existed = 0;
  if (rp_files_remove_tree(path, &existed, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_pushboolean(L, existed);
  return 2;
}

/* make_dirs(path) -> true | nil, message */
static int files_make_dirs(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  if (rp_files_make_dirs(path, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* cwd() -> path | nil, message */
static int files_cwd(lua_State *L)
{
  char buf[4096];
  char err[256];
  if (rp_files_cwd(buf, sizeof(buf), err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, buf);
  return 1;
}

/* random_bytes(n) -> string of n random bytes (n <= 256) | nil, message */
static int files_random_bytes(lua_State *L)
{
  unsigned char buf[256];
  lua_Integer n = luaL_checkinteger(L, 1);
  char err[256];
  luaL_argcheck(L, n >= 0 && n <= (lua_Integer)sizeof(buf), 1,
                "must be 0 to 256");
  if (rp_files_random(buf, (size_t)n, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, (const char *)buf, (size_t)n);
  return 1;
}

static const luaL_Reg files_functions[] = {
  {"cwd", files_cwd},
  {"make_dirs", files_make_dirs},
  {"random_bytes", files_random_bytes},
  {"remove_tree", files_remove_tree},
  {NULL, NULL}
};

void rp_lfiles_register(lua_State *L)
{
  luaL_setfuncs(L, files_functions, 0);
}
