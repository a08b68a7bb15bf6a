/* host.c - see host.h. */
#include "lua/host.h"

#include <lauxlib.h>
#include <string.h>

/* The registry key of the host: the address of this byte. */
static const char host_key = 'h';

void rp_host_set(lua_State *L, struct rp_host *h)
{
  lua_pushlightuserdata(L, h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &host_key);
}

struct rp_host *rp_host_get(lua_State *L)
{
  struct rp_host *h;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &host_key);
  h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

int rp_host_wait(lua_State *L, const struct rp_wait *w, lua_KContext ctx,
                 lua_KFunction k)
{
  struct rp_host *h = rp_host_get(L);
  h->wait = *w;
  h->wait.thread = L;
  h->wait.relay = NULL;
  return lua_yieldk(L, 0, ctx, k);
}

void rp_host_wait_end(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  if (h && h->wait.kind != RP_WAIT_NONE && h->wait.thread == L)
    rp_host_clear_wait(h);
}

void rp_host_forget_http(lua_State *L, const struct rp_http *http)
{
  struct rp_host *h = rp_host_get(L);
  if (h && http && h->wait.kind == RP_WAIT_HTTP && h->wait.http == http)
    rp_host_clear_wait(h);
}

static int relay_k(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  lua_pushboolean(L, 1);
  return 1;
}

int rp_host_relay(lua_State *L)
{
  lua_State *co = lua_tothread(L, 1);
  struct rp_host *h = rp_host_get(L);
  luaL_checktype(L, 1, LUA_TTHREAD);
  /* co is the thread the wait was recorded for, or the last one that
   * passed it on: a wait in coroutines nested several deep goes up one
   * level per relay. */
  if (!h || h->wait.kind == RP_WAIT_NONE || co == L ||
      (h->wait.relay ? h->wait.relay : h->wait.thread) != co ||
      lua_status(co) != LUA_YIELD) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!lua_isyieldable(L))
    return luaL_error(L, "cannot pass a wait on from code that cannot "
                      "yield");
  /* co stays at index 1 while L is suspended, so the thread holding the
   * binding's resources lives until the wait is over. */
  h->wait.relay = L;
  return lua_yieldk(L, 0, 0, relay_k);
}

enum rp_wait_kind rp_host_take_wait(struct rp_host *h, lua_State *co,
                                    struct rp_wait *out)
{
  memset(out, 0, sizeof(*out));
  if (!h || h->wait.kind == RP_WAIT_NONE)
    return RP_WAIT_NONE;
  if (h->wait.relay ? h->wait.relay != co : h->wait.thread != co)
    return RP_WAIT_NONE;
  *out = h->wait;
  rp_host_clear_wait(h);
  return out->kind;
}

void rp_host_clear_wait(struct rp_host *h)
{
  if (h)
    memset(&h->wait, 0, sizeof(h->wait));
}
