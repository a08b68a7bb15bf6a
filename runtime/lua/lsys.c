/*
 * lsys.c - runpod.core.cpu_count, for runpod.debugger's system info (see
 * lsys.h).
 */
#include "lua/lsys.h"

#include <lauxlib.h>
#include <unistd.h>

/* cpu_count() -> the number of online processors (at least 1). */
static int sys_cpu_count(lua_State *L)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 1);
  return 1;
}

static const luaL_Reg sys_functions[] = {
  {"cpu_count", sys_cpu_count},
  {NULL, NULL}
};

void rp_lsys_register(lua_State *L)
{
  luaL_setfuncs(L, sys_functions, 0);
}
