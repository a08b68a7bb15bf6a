/*
 * lfiles.c - runpod.core.remove_tree, for runpod.cleanup (see lfiles.h).
 *
 * Bindings only: the walk is files.c's.
 */
#include "lfiles.h"

#include <lauxlib.h>

#include "files.h"
#include "rp.h"

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

static const luaL_Reg files_functions[] = {
  {"remove_tree", files_remove_tree},
  {NULL, NULL}
};

void rp_lfiles_register(lua_State *L)
{
  luaL_setfuncs(L, files_functions, 0);
}
