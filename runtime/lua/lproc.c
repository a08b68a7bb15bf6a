/*
 * lproc.c - runpod.core's bindings of base/proc.h (see lproc.h); the Lua
 * side is lua/runpod/backend.lua.
 *
 *   proc_spawn(name, argv, env, clear_env, cwd, stop_timeout)
 *     -> id | nil, message        (env: a table name -> value, or nil)
 *   proc_find(name) -> id | nil
 *   proc_info(id) -> { name, pid, running, ready, stopping, reason }
 *   proc_same_argv(id, argv) -> boolean
 *   proc_set_ready(id)
 *   proc_stop(id[, timeout]) -> true | nil, message   (blocks)
 *
 * A child belongs to the process, not to the lua_State that started it,
 * so ids are plain integers: no __gc stops a backend when a VM is rebuilt.
 */
#include "lua/lproc.h"

#include <lauxlib.h>

#include "base/proc.h"
#include "base/rp.h"

/* Pushes a userdata holding a NULL-terminated array of the strings of the
 * list at index i ("NAME=value" entries when 'pairs'); the strings stay
 * alive in a table kept as the userdata's user value. Returns the array.
 * [-0, +1] */
static const char **push_strings(lua_State *L, int i, int arg, int pairs)
{
  size_t n = 0;
  const char **v;
  int ud;
  lua_newtable(L);                                  /* keep */
  if (pairs) {
    lua_pushnil(L);
    while (lua_next(L, i)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
        luaL_argerror(L, arg, "env must map names to strings");
      lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
      lua_rawseti(L, -4, (lua_Integer)++n);        /* keep[n] = "K=V" */
      lua_pop(L, 1);
    }
  } else {
    n = (size_t)luaL_len(L, i);
    luaL_argcheck(L, n > 0, arg, "argv must not be empty");
    for (size_t k = 1; k <= n; k++) {
      if (lua_geti(L, i, (lua_Integer)k) != LUA_TSTRING)
        luaL_argerror(L, arg, "argv must be a list of strings");
      lua_rawseti(L, -2, (lua_Integer)k);
    }
  }
  v = lua_newuserdatauv(L, (n + 1) * sizeof(*v), 1);  /* keep v */
  ud = lua_gettop(L);
  for (size_t k = 0; k < n; k++) {
    lua_rawgeti(L, ud - 1, (lua_Integer)k + 1);
    v[k] = lua_tostring(L, -1);     /* alive: keep holds it */
    lua_pop(L, 1);
  }
  v[n] = NULL;
  lua_insert(L, -2);                                /* v keep */
  lua_setiuservalue(L, -2, 1);                      /* v */
  return v;
}

static int proc_spawn(lua_State *L)
{
  struct rp_proc_spec s;
  char err[512];
  int id;
  s.name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3))
    luaL_checktype(L, 3, LUA_TTABLE);
  s.clear_env = lua_toboolean(L, 4);
  s.cwd = luaL_optstring(L, 5, NULL);
  s.stop_timeout = luaL_optnumber(L, 6, 10);
  luaL_argcheck(L, s.stop_timeout >= 0 && s.stop_timeout <= 86400, 6,
                "must be seconds from 0 to 86400");
  luaL_argcheck(L, luaL_len(L, 1) < RP_PROC_NAME_MAX, 1, "name too long");
  lua_settop(L, 6);
  s.argv = push_strings(L, 2, 2, 0);                /* 7 */
  s.env = lua_istable(L, 3) ? push_strings(L, 3, 3, 1) : NULL;
  if (rp_proc_spawn(&s, &id, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, id);
  return 1;
}

static int proc_find(lua_State *L)
{
  int id = rp_proc_find(luaL_checkstring(L, 1));
  if (id < 0)
    luaL_pushfail(L);
  else
    lua_pushinteger(L, id);
  return 1;
}

static int checkid(lua_State *L)
{
  lua_Integer id = luaL_checkinteger(L, 1);
  luaL_argcheck(L, id >= 0 && id < RP_PROC_MAX, 1, "no such backend");
  return (int)id;
}

static int proc_info(lua_State *L)
{
  struct rp_proc_info in;
  if (rp_proc_info(checkid(L), &in) != RP_OK)
    return luaL_argerror(L, 1, "no such backend");
  lua_createtable(L, 0, 6);
  lua_pushstring(L, in.name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, in.pid);
  lua_setfield(L, -2, "pid");
  lua_pushboolean(L, in.running);
  lua_setfield(L, -2, "running");
  lua_pushboolean(L, in.ready);
  lua_setfield(L, -2, "ready");
  lua_pushboolean(L, in.stopping);
  lua_setfield(L, -2, "stopping");
  if (!in.running) {
    lua_pushstring(L, in.reason);
    lua_setfield(L, -2, "reason");
  }
  return 1;
}

static int proc_same_argv(lua_State *L)
{
  int id = checkid(L);
  const char **argv;
  luaL_checktype(L, 2, LUA_TTABLE);
  argv = push_strings(L, 2, 2, 0);
  lua_pushboolean(L, rp_proc_same_argv(id, argv));
  return 1;
}

static int proc_set_ready(lua_State *L)
{
  rp_proc_set_ready(checkid(L));
  return 0;
}

static int proc_stop(lua_State *L)
{
  int id = checkid(L);
  lua_Number t = luaL_optnumber(L, 2, -1);
  if (rp_proc_stop(id, t) != RP_OK) {
    luaL_pushfail(L);
    lua_pushliteral(L, "the backend did not end after SIGKILL");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg proc_functions[] = {
  {"proc_find", proc_find},
  {"proc_info", proc_info},
  {"proc_same_argv", proc_same_argv},
  {"proc_set_ready", proc_set_ready},
  {"proc_spawn", proc_spawn},
  {"proc_stop", proc_stop},
  {NULL, NULL}
};

void rp_lproc_register(lua_State *L)
{
  luaL_setfuncs(L, proc_functions, 0);
}
