/* job.c - see job.h. */
#include "worker/job.h"

#include <errno.h>
#include <stdio.h>
#include <lauxlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "lua/lcore.h"
#include "base/rp.h"
#include "worker/vm.h"

struct call {
  const char *module;
  const char *fn;
  int nargs;
  const char *const *args;
};

/* Protected set-up: pushes a new thread holding the function and its
 * arguments. [-0, +1] */
static int setup(lua_State *L)
{
  struct call *c = lua_touserdata(L, 1);
  lua_State *co;
  char err[512];
  if (rp_vm_push_function(L, c->module, c->fn, err, sizeof(err)) != RP_OK)
    return luaL_error(L, "%s", err);
  co = lua_newthread(L);
  lua_pushvalue(L, -2);
  lua_xmove(L, co, 1);
  luaL_checkstack(co, c->nargs, "too many arguments");
  for (int i = 0; i < c->nargs; i++) {
    if (c->args[i])
      lua_pushstring(co, c->args[i]);
    else
      lua_pushnil(co);
  }
  return 1;
}

/* Protected: pushes the traceback of the thread at index 1 with the
 * message (a C string passed as light userdata) at index 2. [-0, +1] */
static int traceback(lua_State *L)
{
  luaL_traceback(L, lua_tothread(L, 1), lua_touserdata(L, 2), 0);
  return 1;
}

/* Writes the error of the dead coroutine co into err, with a traceback
 * when there is memory for one. Nothing here may raise: the memory cap
 * can be what killed the coroutine. L's stack is left unchanged. */
static void describe_error(lua_State *L, lua_State *co, char *err,
                           size_t errlen)
{
  const char *msg = lua_tostring(co, -1);   /* lives as long as co */
  int top = lua_gettop(L);
  if (!msg)
    msg = "(error object is not a string)";
  lua_pushcfunction(L, traceback);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_pushlightuserdata(L, (void *)msg);
  if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_isstring(L, -1))
    msg = lua_tostring(L, -1);
  rp_fail(RP_ELUA, err, errlen, "%s", msg);
  lua_settop(L, top);
}

/* Serves one runtime yield of co, whose n yielded values are on its
 * stack. Returns 0, or -1 when the yield is not a runtime request. */
static int serve_yield(lua_State *co, int n)
{
  struct timespec ts;
  lua_Number s;
  if (n < 3 || lua_touserdata(co, -n) != &rp_core_yield_tag)
    return -1;
  if (n >= 4 && strcmp(lua_tostring(co, -n + 1), "http") == 0) {
    struct rp_http *h = lua_touserdata(co, -n + 2);
    int want_body = lua_toboolean(co, -n + 3);
    lua_pop(co, n);
    while (!rp_http_ready(h, want_body))
      if (rp_http_step(h) != RP_OK)
        return -1;
    return 0;
  }
  if (strcmp(lua_tostring(co, -n + 1), "sleep") != 0)
    return -1;
  s = lua_tonumber(co, -n + 2);
  lua_pop(co, n);
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    continue;
  return 0;
}

int rp_job_call(lua_State *L, const char *module, const char *fn, int nargs,
                const char *const *args, int *nres, char *err,
                size_t errlen)
{
  struct call c = { module, fn, nargs, args };
  int top = lua_gettop(L);
  lua_State *co;
  int status;
  int n = 0;
  lua_pushcfunction(L, rp_vm_msgh);
  lua_pushcfunction(L, setup);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, 1, top + 1) != LUA_OK) {
    rp_fail(RP_ELUA, err, errlen, "%s", lua_tostring(L, -1));
    lua_settop(L, top);
    return RP_ELUA;
  }
  co = lua_tothread(L, -1);       /* L: ... msgh thread */
  status = lua_resume(co, L, nargs, &n);
  while (status == LUA_YIELD) {
    if (serve_yield(co, n) != 0) {
      lua_pop(co, n);
      lua_pushliteral(co, "coroutine.yield called outside a handler");
      status = LUA_ERRRUN;
      break;
    }
    status = lua_resume(co, L, 0, &n);
  }
  if (status != LUA_OK) {
    describe_error(L, co, err, errlen);
    lua_settop(L, top);
    return RP_ELUA;
  }
  lua_xmove(co, L, n);            /* L: ... msgh thread results */
  lua_rotate(L, top + 1, -2);
  lua_pop(L, 2);
  *nres = n;
  return RP_OK;
}
