/*
 * lsys.c - runpod.core.realtime and runpod.core.cpu_count, for
 * runpod.debugger's timestamps and system info (see lsys.h).
 */
#include "lsys.h"

#include <lauxlib.h>
#include <time.h>
#include <unistd.h>

/* realtime() -> seconds since the Unix epoch (UTC), as a float with
 * sub-microsecond resolution. os.time() only has whole seconds. */
static int sys_realtime(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* cpu_count() -> the number of online processors (at least 1). */
static int sys_cpu_count(lua_State *L)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? (lua_Integer)n : 1);
  return 1;
}

static const luaL_Reg sys_functions[] = {
  {"cpu_count", sys_cpu_count},
  {"realtime", sys_realtime},
  {NULL, NULL}
};

void rp_lsys_register(lua_State *L)
{
  luaL_setfuncs(L, sys_functions, 0);
}
