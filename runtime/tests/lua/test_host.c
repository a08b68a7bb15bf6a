/*
 * test_host.c - the host interface of runpod.core (host.c): binding a
 * host to a state, and the private wait protocol between a binding that
 * waits, runpod.core.relay and the runner.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "lua/host.h"
#include "tests/check.h"

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  rp_host_wait_end(L);
  lua_pushliteral(L, "woke");
  return 1;
}

/* wait(seconds): a binding that waits, as runpod.sleep does. */
static int wait_fn(lua_State *L)
{
  double s = luaL_checknumber(L, 1);
  return rp_host_wait(L, &(struct rp_wait){ .kind = RP_WAIT_SLEEP,
                                            .seconds = s }, 0, wait_k);
}

static struct rp_alloc alloc;

static lua_State *newstate(struct rp_host *h)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  memset(h, 0, sizeof(*h));
  h->alloc = &alloc;
  rp_host_set(L, h);
  lua_register(L, "wait", wait_fn);
  lua_register(L, "relay", rp_host_relay);
  return L;
}

/* Runs the chunk in a new coroutine of L; returns lua_resume's status. */
static int start(lua_State *L, const char *chunk, lua_State **co, int *n)
{
  *co = lua_newthread(L);
  CHECK_INT(LUA_OK, luaL_loadstring(*co, chunk));
  return lua_resume(*co, L, 0, n);
}

static void no_host_means_no_wait(void)
{
  lua_State *L = luaL_newstate();
  struct rp_wait w;
  CHECK(rp_host_get(L) == NULL);
  CHECK_INT(RP_WAIT_NONE, rp_host_take_wait(NULL, L, &w));
  lua_close(L);
}

static void a_binding_wait_is_taken_once(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  struct rp_wait w;
  int n = -1;
  CHECK(rp_host_get(L) == &h);
  CHECK_INT(LUA_YIELD, start(L, "return wait(0.25)", &co, &n));
  CHECK_INT(0, n);
  CHECK_INT(RP_WAIT_SLEEP, rp_host_take_wait(&h, co, &w));
  CHECK(w.thread == co);
  CHECK(w.seconds == 0.25);
  CHECK_INT(RP_WAIT_NONE, rp_host_take_wait(&h, co, &w));
  CHECK_INT(LUA_OK, lua_resume(co, L, 0, &n));
  CHECK_INT(1, n);
  CHECK_STR("woke", lua_tostring(co, -1));
  lua_close(L);
}

static void a_plain_yield_is_never_a_wait(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  struct rp_wait w;
  int n = 0;
  CHECK_INT(LUA_YIELD, start(L, "coroutine.yield('sleep', 1, {}, print)",
                             &co, &n));
  CHECK_INT(4, n);
  CHECK_INT(RP_WAIT_NONE, rp_host_take_wait(&h, co, &w));
  CHECK_INT(LUA_YIELD, start(L, "coroutine.yield()", &co, &n));
  CHECK_INT(RP_WAIT_NONE, rp_host_take_wait(&h, co, &w));
  lua_close(L);
}

static void relay_passes_a_nested_wait_up(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  struct rp_wait w;
  int n = 0;
  CHECK_INT(LUA_YIELD, start(L,
    "local c = coroutine.create(function() return wait(2) end)\n"
    "coroutine.resume(c)\n"
    "local relayed = relay(c)\n"
    "return relayed, coroutine.resume(c)", &co, &n));
  CHECK_INT(0, n);
  CHECK_INT(RP_WAIT_SLEEP, rp_host_take_wait(&h, co, &w));
  CHECK(w.relay == co);
  CHECK(w.thread != co);
  CHECK(w.seconds == 2);
  CHECK_INT(LUA_OK, lua_resume(co, L, 0, &n));
  CHECK_INT(3, n);
  CHECK(lua_toboolean(co, 1));
  CHECK(lua_toboolean(co, 2));
  CHECK_STR("woke", lua_tostring(co, 3));
  lua_close(L);
}

static void relay_passes_a_wait_up_several_levels(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  struct rp_wait w;
  int n = 0;
  CHECK_INT(LUA_YIELD, start(L,
    "local inner = coroutine.create(function() return wait(3) end)\n"
    "local middle = coroutine.create(function()\n"
    "  coroutine.resume(inner)\n"
    "  relay(inner)\n"
    "  return coroutine.resume(inner)\n"
    "end)\n"
    "coroutine.resume(middle)\n"
    "local relayed = relay(middle)\n"
    "return relayed, coroutine.resume(middle)", &co, &n));
  CHECK_INT(0, n);
  CHECK_INT(RP_WAIT_SLEEP, rp_host_take_wait(&h, co, &w));
  CHECK(w.relay == co);
  CHECK(w.seconds == 3);
  CHECK_INT(LUA_OK, lua_resume(co, L, 0, &n));
  CHECK_INT(4, n);
  CHECK(lua_toboolean(co, 1));
  CHECK(lua_toboolean(co, 2));
  CHECK(lua_toboolean(co, 3));
  CHECK_STR("woke", lua_tostring(co, 4));
  lua_close(L);
}

static void relay_refuses_a_coroutine_that_does_not_wait(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  int n = 0;
  CHECK_INT(LUA_OK, start(L,
    "local c = coroutine.create(function() coroutine.yield(1) end)\n"
    "coroutine.resume(c)\n"
    "return relay(c), relay(coroutine.running())", &co, &n));
  CHECK_INT(2, n);
  CHECK(!lua_toboolean(co, 1));
  CHECK(!lua_toboolean(co, 2));
  lua_close(L);
}

static void resuming_the_waiter_elsewhere_ends_the_wait(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  lua_State *co;
  int n = 0;
  CHECK_INT(LUA_OK, start(L,
    "local c = coroutine.create(function() return wait(2) end)\n"
    "coroutine.resume(c)\n"
    "return select(2, coroutine.resume(c))", &co, &n));
  CHECK_STR("woke", lua_tostring(co, -1));
  CHECK_INT(RP_WAIT_NONE, h.wait.kind);
  lua_close(L);
}

static void forgetting_a_handle_clears_only_its_wait(void)
{
  struct rp_host h;
  lua_State *L = newstate(&h);
  char a, b;
  h.wait.kind = RP_WAIT_HTTP;
  h.wait.http = (struct rp_http *)&a;
  rp_host_forget_http(L, (struct rp_http *)&b);
  CHECK_INT(RP_WAIT_HTTP, h.wait.kind);
  rp_host_forget_http(L, (struct rp_http *)&a);
  CHECK_INT(RP_WAIT_NONE, h.wait.kind);
  lua_close(L);
}

int main(void)
{
  RUN(no_host_means_no_wait);
  RUN(a_binding_wait_is_taken_once);
  RUN(a_plain_yield_is_never_a_wait);
  RUN(relay_passes_a_nested_wait_up);
  RUN(relay_passes_a_wait_up_several_levels);
  RUN(relay_refuses_a_coroutine_that_does_not_wait);
  RUN(resuming_the_waiter_elsewhere_ends_the_wait);
  RUN(forgetting_a_handle_clears_only_its_wait);
  return check_summary();
}
