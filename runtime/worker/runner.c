/* runner.c - see runner.h. */
#include "worker/runner.h"

#include <errno.h>
#include <stdio.h>
#include <lauxlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
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

int rp_runner_resume(struct rp_host *h, lua_State *co, lua_State *from,
                     int nargs, int *nres, struct rp_wait *w)
{
  int status;
  *nres = 0;
  rp_host_clear_wait(h);
  status = lua_resume(co, from, nargs, nres);
  if (status != LUA_YIELD)
    return status;
  if (rp_host_take_wait(h, co, w) != RP_WAIT_NONE && *nres == 0)
    return LUA_YIELD;
  lua_pop(co, *nres);
  *nres = 0;
  lua_pushliteral(co, RP_RUNNER_BAD_YIELD);
  return LUA_ERRRUN;
}

/* Seconds the call may still wait (the host's time limit, the fitness
 * checks' while they run), or a negative number for no limit. */
static double time_left(struct rp_host *h)
{
  return h && h->time_remaining ? h->time_remaining(h->ud) : -1;
}

/* Serves a wait by blocking until it is over; a sleep ends early when the
 * host's time limit passes first (a transfer keeps its own timeout). A
 * transfer that cannot be driven ends with that error, which the binding
 * reports when resumed. Returns whether the time limit has passed. */
static int serve(struct rp_host *h, const struct rp_wait *w)
{
  double left = time_left(h);
  double secs;
  struct timespec ts;
  if (w->kind == RP_WAIT_SLEEP) {
    secs = left >= 0 && left < w->seconds ? left : w->seconds;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
      continue;
    return secs < w->seconds;
  }
  while (!rp_http_ready(w->http, w->want_body))
    if (rp_http_step(w->http) != RP_OK) {
      snprintf(w->http->error, sizeof(w->http->error),
               "the transfer could not be driven");
      rp_http_finish(w->http, CURLE_FAILED_INIT);
    }
  return left >= 0 && time_left(h) <= 0;
}

/* After a wait past the time limit: the host's count hook (the one that
 * enforces the limit) runs at the next instruction of the threads that
 * resume, instead of after its usual count, so that the call ends there
 * and not after the rest of what it would have done. */
static void hook_now(lua_State *co, const struct rp_wait *w)
{
  lua_State *threads[3] = { co, w->relay, w->thread };
  for (int i = 0; i < 3; i++) {
    lua_Hook f = threads[i] ? lua_gethook(threads[i]) : NULL;
    if (f)
      lua_sethook(threads[i], f, lua_gethookmask(threads[i]) | LUA_MASKCOUNT,
                  1);
  }
}

int rp_runner_call(lua_State *L, const char *module, const char *fn,
                   int nargs, const char *const *args, int *nres, char *err,
                   size_t errlen)
{
  struct rp_host *h = rp_host_get(L);
  struct rp_wait w;
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
  status = rp_runner_resume(h, co, L, nargs, &n, &w);
  while (status == LUA_YIELD) {
    if (serve(h, &w))
      hook_now(co, &w);
    status = rp_runner_resume(h, co, L, 0, &n, &w);
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
