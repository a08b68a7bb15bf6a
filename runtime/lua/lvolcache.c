/*
 * lvolcache.c - runpod.core's volume-cache bindings (the C part of
 * runpod.volume_cache; the work is volcache.c's).
 *
 *   volume_cache_new(dirs, volume_path, namespace, max_workers) -> cache
 *   cache:available() -> boolean
 *   cache:root() -> the mirror root
 *   cache:start("hydrate" | "sync", detached) -> op | true | nil, message
 *   op:poll() -> nil while it runs, then true, count | false, message
 *   volume_cache_wait(seconds) -> how many operations still run
 *
 * Every operation runs on a thread of its own, so the job's coroutine
 * polls (lua/runpod/volume_cache.lua sleeps between polls, which yields
 * inside runpod-worker) and neither the job loop nor other jobs wait on
 * the volume. The first cache made registers an exit hook that waits up
 * to RP_VOLCACHE_EXIT_WAIT seconds for running operations, detached
 * background syncs included, whether the process ends by returning from
 * main, exit() or os.exit (core.so stays loaded, by -z nodelete or, in a
 * luarocks build, lcore.c's stay_loaded: the hook and the threads outlive
 * lua_close).
 */
#include "lua/lvolcache.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/rp.h"
#include "base/volcache.h"
#include "lua/lclass.h"

#define RP_VOLCACHE_MT "runpod.VolumeCache"
#define RP_VOLCACHE_OP_MT "runpod.VolumeCacheOp"
#define MAX_DIRS 256

struct cache {
  struct rp_volcache *vc;
};

struct op {
  struct rp_volcache_op *op;
};

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void wait_at_exit(void)
{
  rp_volcache_wait_all(RP_VOLCACHE_EXIT_WAIT);
}

static void register_exit_hook(void)
{
  atexit(wait_at_exit);
}

static struct cache *checkcache(lua_State *L)
{
  struct cache *c = luaL_checkudata(L, 1, RP_VOLCACHE_MT);
  if (!c->vc)
    luaL_error(L, "attempt to use a closed volume cache");
  return c;
}

/* volume_cache_new(dirs, volume_path, namespace, max_workers) */
static int volume_cache_new(lua_State *L)
{
  const char *dirs[MAX_DIRS];
  const char *volume = luaL_checkstring(L, 2);
  const char *ns = luaL_checkstring(L, 3);
  lua_Integer workers = luaL_optinteger(L, 4, 0);
  lua_Integer n;
  struct cache *c;
  char err[512];
  luaL_checktype(L, 1, LUA_TTABLE);
  n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 0 && n <= MAX_DIRS, 1, "at most 256 folders");
  luaL_argcheck(L, workers >= 0 && workers <= 1024, 4,
                "must be 0 to 1024");
  /* The strings stay on the stack until the cache is built. */
  lua_settop(L, 4);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    dirs[i - 1] = lua_tostring(L, -1);
    luaL_argcheck(L, dirs[i - 1] && lua_type(L, -1) == LUA_TSTRING, 1,
                  "folders must be strings");
  }
  c = lua_newuserdatauv(L, sizeof(*c), 0);
  c->vc = NULL;
  luaL_setmetatable(L, RP_VOLCACHE_MT);
  if (rp_volcache_new(&c->vc, dirs, (size_t)n, volume, ns, (int)workers,
                      err, sizeof(err)) != RP_OK)
    return luaL_error(L, "volume cache: %s", err);
  pthread_once(&exit_once, register_exit_hook);
  return 1;
}

/* volume_cache_wait(seconds) -> operations still running */
static int volume_cache_wait(lua_State *L)
{
  lua_Number s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s >= 0 && s <= 1e6, 1, "must be 0 to 1e6 seconds");
  lua_pushinteger(L, rp_volcache_wait_all(s));
  return 1;
}

static int cache_available(lua_State *L)
{
  lua_pushboolean(L, rp_volcache_available(checkcache(L)->vc));
  return 1;
}

static int cache_root(lua_State *L)
{
  lua_pushstring(L, rp_volcache_root(checkcache(L)->vc));
  return 1;
}

/* cache:start(what, detached) -> op | true | nil, message */
static int cache_start(lua_State *L)
{
  static const char *const whats[] = { "hydrate", "sync", NULL };
  struct cache *c = checkcache(L);
  int what = luaL_checkoption(L, 2, NULL, whats);
  int detached = lua_toboolean(L, 3);
  struct op *o = NULL;
  char err[512];
  if (!detached) {
    o = lua_newuserdatauv(L, sizeof(*o), 0);
    o->op = NULL;
    luaL_setmetatable(L, RP_VOLCACHE_OP_MT);
  }
  if (rp_volcache_start(o ? &o->op : NULL, c->vc,
                        what == 0 ? RP_VOLCACHE_HYDRATE : RP_VOLCACHE_SYNC,
                        detached, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  if (detached)
    lua_pushboolean(L, 1);
  return 1;
}

static int cache_gc(lua_State *L)
{
  struct cache *c = luaL_checkudata(L, 1, RP_VOLCACHE_MT);
  rp_volcache_unref(c->vc);
  c->vc = NULL;
  return 0;
}

/* op:poll() -> nil | true, count | false, message */
static int op_poll(lua_State *L)
{
  struct op *o = luaL_checkudata(L, 1, RP_VOLCACHE_OP_MT);
  char err[512];
  long count = 0;
  int rc = RP_OK;
  if (!o->op)
    return luaL_error(L, "attempt to use a closed volume cache operation");
  if (!rp_volcache_poll(o->op, &rc, &count, err, sizeof(err))) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != RP_OK) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_pushinteger(L, (lua_Integer)count);
  return 2;
}

static int op_gc(lua_State *L)
{
  struct op *o = luaL_checkudata(L, 1, RP_VOLCACHE_OP_MT);
  rp_volcache_release(o->op);
  o->op = NULL;
  return 0;
}

static const luaL_Reg volcache_functions[] = {
  {"volume_cache_new", volume_cache_new},
  {"volume_cache_wait", volume_cache_wait},
  {NULL, NULL}
};

static const luaL_Reg cache_methods[] = {
  {"available", cache_available},
  {"root", cache_root},
  {"start", cache_start},
  {NULL, NULL}
};

static const luaL_Reg cache_meta[] = {
  {"__close", cache_gc},
  {"__gc", cache_gc},
  {NULL, NULL}
};

static const luaL_Reg op_methods[] = {
  {"poll", op_poll},
  {NULL, NULL}
};

static const luaL_Reg op_meta[] = {
  {"__close", op_gc},
  {"__gc", op_gc},
  {NULL, NULL}
};

void rp_lvolcache_register(lua_State *L)
{
  luaL_setfuncs(L, volcache_functions, 0);
  rp_lclass_register(L, RP_VOLCACHE_MT, cache_meta, cache_methods);
  rp_lclass_register(L, RP_VOLCACHE_OP_MT, op_meta, op_methods);
}
