/*
 * lcore.c - runpod.core, the C part of the runpod module (see lcore.h).
 *
 * Bindings only: argument checks and translation; the work is done by the
 * units they call (log, ljson, config, alloc).
 */
#include "lua/lcore.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/args.h"
#include "base/clock.h"
#include "base/ident.h"
#include "lua/lbuffer.h"
#include "lua/lfiles.h"
#include "lua/lsys.h"
#include "lua/lproc.h"
#include "lua/lvolcache.h"
#include "lua/larchive.h"
#include "lua/ls3.h"
#include "lua/ljson.h"
#include "lua/lhttp.h"
#include "lua/host.h"
#include "base/log.h"
#include "net/req.h"
#include "base/rp.h"
#include "base/settings.h"

/* RunPod refuses result bodies over 20 MB (docs/handlers.md). */
#define RP_MAX_RESULT_BYTES ((size_t)20 * 1000 * 1000)
/* What json.encode will build at most (a job result is checked against
 * RP_MAX_RESULT_BYTES afterwards, with a clearer message). */
#define RP_MAX_ENCODE_BYTES ((size_t)1 << 30)

/* in_serverless() -> whether stream partials and progress are posted. */
static int core_in_serverless(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  lua_pushboolean(L, h && h->emit);
  return 1;
}

static const char *const emit_options[] = { "stream", "progress", NULL };

/* emit(kind, job_id, body): queues a stream partial or progress update
 * for posting (serverless mode only). */
static int core_emit(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  int kind = luaL_checkoption(L, 1, NULL, emit_options);
  const char *id = luaL_checkstring(L, 2);
  size_t len;
  const char *body = luaL_checklstring(L, 3, &len);
  if (!h || !h->emit)
    return luaL_error(L, "runpod.core.emit needs runpod-worker's serverless "
                      "mode");
  h->emit(h->ud, kind == 0 ? RP_EMIT_STREAM
                      : RP_EMIT_PROGRESS, id, body, len);
  return 0;
}

/* time_remaining() -> seconds the running job has left, or nil when it has
 * no timeout (and always nil outside serverless mode). */
static int core_time_remaining(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  double left;
  if (!h || !h->time_remaining) {
    lua_pushnil(L);
    return 1;
  }
  left = h->time_remaining(h->ud);
  if (left < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, left);
  return 1;
}

/* allow_fitness(seconds): inside runpod-worker's fitness checks, lets
 * them run until at least seconds from now, past RUNPOD_FITNESS_TIMEOUT;
 * elsewhere nothing. */
static int core_allow_fitness(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  lua_Number s = luaL_checknumber(L, 1);
  if (h && h->allow_fitness)
    h->allow_fitness(h->ud, s);
  return 0;
}

static int core_in_runtime(lua_State *L)
{
  lua_pushboolean(L, rp_host_get(L) != NULL);
  return 1;
}

/* register(config): stores the config start() was given, for the binary;
 * applies max_memory at once. */
static int core_register(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!h)
    return luaL_error(L, "runpod.core.register is for runpod-worker only");
  if (lua_getfield(L, 1, "max_memory") != LUA_TNIL) {
    size_t cap = 0;
    int ok = 0;
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0) {
      cap = (size_t)lua_tointeger(L, -1);
      ok = 1;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      ok = rp_alloc_parse_size(lua_tostring(L, -1), &cap) == 0;
    }
    if (!ok)
      return luaL_error(L, "invalid max_memory '%s' (expected bytes, e.g. "
                        "67108864 or \"64M\")", luaL_tolstring(L, -1, NULL));
    h->alloc->cap = cap;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, RP_CONFIG_KEY);
  return 0;
}

/* register_error(message): records why start()'s config was refused, so
 * that the binary can exit with the config error's own code. */
static int core_register_error(lua_State *L)
{
  luaL_checkstring(L, 1);
  if (rp_host_get(L)) {
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, RP_CONFIG_ERROR_KEY);
  }
  return 0;
}

/* parse_args(arg) -> options, rest | nil, message
 * Reads arg[1..#arg] like the binary reads its command line;
 * options.warnings lists what the binary warns about (mistyped flags). */
static int core_parse_args(lua_State *L)
{
  struct rp_args a;
  char err[256];
  int n;
  char **argv;
  char **rest;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (int)luaL_len(L, 1);
  /* Both arrays live in userdata so that no error can leak them; the
   * strings stay alive in the arg table at index 1. */
  argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  rest = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    argv[i] = (char *)luaL_tolstring(L, -1, NULL);
    lua_rawseti(L, 1, i + 1);     /* keep the string alive in arg */
    lua_pop(L, 1);
  }
  if (rp_args_parse(&a, n, argv, rest, err, sizeof(err)) != 0) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_createtable(L, 0, 12);
#define SETS(f) if (a.f) { lua_pushstring(L, a.f); lua_setfield(L, -2, #f); }
#define SETB(f) lua_pushboolean(L, a.f); lua_setfield(L, -2, #f);
#define SETI(f) lua_pushinteger(L, a.f); lua_setfield(L, -2, #f);
  SETS(test_input) SETS(test_output) SETS(log_level) SETS(log_stream)
  SETS(api_host) SETI(api_port) SETI(api_concurrency)
  SETB(serve_api) SETB(debugger) SETB(help) SETB(version)
#undef SETS
#undef SETB
#undef SETI
  lua_newtable(L);
  for (int i = 0, nwarn = 0; i < a.nrest; i++)
    if (rp_args_mistyped(rest[i], err, sizeof(err))) {
      lua_pushstring(L, err);
      lua_rawseti(L, -2, ++nwarn);
    }
  lua_setfield(L, -2, "warnings");
  lua_createtable(L, a.nrest, 0);
  for (int i = 0; i < a.nrest; i++) {
    lua_pushstring(L, rest[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 2;
}

static const char *const level_options[] = {
  "TRACE", "DEBUG", "INFO", "WARN", "ERROR", NULL
};

/* log(level, message[, job_id]) */
static int core_log(lua_State *L)
{
  int level = luaL_checkoption(L, 1, NULL, level_options) + RP_LOG_TRACE;
  size_t len;
  const char *msg = luaL_checklstring(L, 2, &len);
  const char *job_id = luaL_optstring(L, 3, NULL);
  rp_log_write(level, job_id, msg, len);
  return 0;
}

/* log_print(level, line): rp_log_print. */
static int core_log_print(lua_State *L)
{
  int level = luaL_checkoption(L, 1, NULL, level_options) + RP_LOG_TRACE;
  size_t len;
  const char *msg = luaL_checklstring(L, 2, &len);
  rp_log_print(level, msg, len);
  return 0;
}

/* log_enabled(level) -> boolean */
static int core_log_enabled(lua_State *L)
{
  int level = luaL_checkoption(L, 1, NULL, level_options) + RP_LOG_TRACE;
  lua_pushboolean(L, rp_log_enabled(level));
  return 1;
}

/* log_set_level(name); raises on a name that is not a level. */
static int core_log_set_level(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  int level = rp_log_parse_level(name);
  if (level < 0)
    return luaL_error(L, "invalid log level '%s' (expected NOTSET, TRACE, "
                      "DEBUG, INFO, WARN or ERROR)", name);
  rp_log_set_level(level);
  return 0;
}

/* log_get_level() -> name */
static int core_log_get_level(lua_State *L)
{
  lua_pushstring(L, rp_log_level_name(rp_log_get_level()));
  return 1;
}

/* log_set_stream("stdout" | "stderr") */
static int core_log_set_stream(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  int fd = rp_log_parse_stream(name);
  if (fd < 0)
    return luaL_error(L, "invalid log stream '%s' (expected stdout or "
                      "stderr)", name);
  rp_log_set_fd(fd);
  return 0;
}

/* The continuation of a sleep: returns nothing, whatever it was resumed
 * with. */
static int sleep_k(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  rp_host_wait_end(L);
  return 0;
}

/* sleep(seconds): inside the runtime, yields the job's coroutine to the
 * scheduler; elsewhere (plain lua5.4, top-level code) blocks. */
static int core_sleep(lua_State *L)
{
  lua_Number s = luaL_checknumber(L, 1);
  struct timespec ts;
  luaL_argcheck(L, s >= 0 && s <= 1e9, 1, "must be a number of seconds "
                "from 0 to 1e9");
  if (rp_host_get(L) && lua_isyieldable(L)) {
    lua_settop(L, 0);
    return rp_host_wait(L, &(struct rp_wait){ .kind = RP_WAIT_SLEEP,
                                              .seconds = s }, 0, sleep_k);
  }
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    continue;
  return 0;
}

/* memory() -> used, cap (0 = none), exceeded. Under plain Lua: the GC's
 * count, 0, false. */
static int core_memory(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  if (!h) {
    lua_pushinteger(L, (lua_Integer)lua_gc(L, LUA_GCCOUNT, 0) * 1024 +
                    lua_gc(L, LUA_GCCOUNTB, 0));
    lua_pushinteger(L, 0);
    lua_pushboolean(L, 0);
    return 3;
  }
  lua_pushinteger(L, (lua_Integer)h->alloc->used);
  lua_pushinteger(L, (lua_Integer)h->alloc->cap);
  lua_pushboolean(L, h->alloc->exceeded);
  return 3;
}

/* memory_reset(): forgets that the cap was exceeded. */
static int core_memory_reset(lua_State *L)
{
  struct rp_host *h = rp_host_get(L);
  if (h)
    h->alloc->exceeded = 0;
  return 0;
}

/* uuid4() -> a random version-4 UUID string | nil, message */
static int core_uuid4(lua_State *L)
{
  char id[37];
  char err[256];
  if (rp_uuid4(id, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushstring(L, id);
  return 1;
}

static int core_worker_id(lua_State *L)
{
  lua_pushstring(L, rp_worker_id());
  return 1;
}

/* hostname(): RUNPOD_POD_HOSTNAME, else the machine's host name. */
static int core_hostname(lua_State *L)
{
  char name[256];
  rp_hostname(name, sizeof(name));
  lua_pushstring(L, name);
  return 1;
}

/* monotonic() -> seconds from an arbitrary start. */
static int core_monotonic(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)rp_clock_now());
  return 1;
}

/* realtime() -> seconds since the Unix epoch (UTC), with sub-microsecond
 * resolution (os.time() only has whole seconds); runpod.debugger's
 * timestamps. */
static int core_realtime(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)rp_clock_wall());
  return 1;
}

/* encode(value, what[, max]) -> json | nil, message
 * Like json.encode, but names the root 'what' in messages and takes a
 * size cap in bytes. */
static int core_encode(lua_State *L)
{
  const char *what = luaL_checkstring(L, 2);
  lua_Integer max = luaL_optinteger(L, 3, (lua_Integer)RP_MAX_ENCODE_BYTES);
  char err[512];
  luaL_checkany(L, 1);
  luaL_argcheck(L, max > 0, 3, "must be positive");
  if (rp_json_pencode(L, 1, what, (size_t)max, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static const luaL_Reg core_functions[] = {
  {"allow_fitness", core_allow_fitness},
  {"emit", core_emit},
  {"encode", core_encode},
  {"encode_fields", rp_json_lua_encode_fields},
  {"hostname", core_hostname},
  {"in_runtime", core_in_runtime},
  {"in_serverless", core_in_serverless},
  {"log", core_log},
  {"log_enabled", core_log_enabled},
  {"log_get_level", core_log_get_level},
  {"log_print", core_log_print},
  {"log_set_level", core_log_set_level},
  {"log_set_stream", core_log_set_stream},
  {"memory", core_memory},
  {"memory_reset", core_memory_reset},
  {"monotonic", core_monotonic},
  {"parse_args", core_parse_args},
  {"realtime", core_realtime},
  {"register", core_register},
  {"register_error", core_register_error},
  {"relay", rp_host_relay},
  {"sleep", core_sleep},
  {"time_remaining", core_time_remaining},
  {"uuid4", core_uuid4},
  {"worker_id", core_worker_id},
  {NULL, NULL}
};

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* Under plain lua5.4 nobody else reads the environment or names the
 * User-Agent; the binary has already done both (and treats some bad
 * values as a start-up error), so this applies what it can and warns
 * about the rest, once. */
static void configure_log(void)
{
  struct rp_settings env;
  char msg[512];
  int level;
  rp_net_set_user_agent(RP_NET_USER_AGENT(LUA_RELEASE));
  rp_settings_read(&env);
  rp_settings_apply_log(&env);
  rp_ident_set(env.pod_id.text, env.pod_hostname.text);
  for (int n = 0; (level = rp_settings_problem(&env, n, msg,
                                                sizeof(msg))) != 0; n++)
    rp_log(RP_LOG_WARN, NULL, "%s%s", msg,
           level == RP_LOG_ERROR ? "; ignored" : "");
}

/* Keeps the shared object at path (the one require loaded this module
 * from) loaded for good, as the Makefile's -z nodelete does: the threads
 * it starts (an extraction, a volume-cache sync) and its exit hooks
 * outlive lua_close, which would otherwise unmap the code they run. A
 * luarocks build cannot pass that linker flag. */
static void stay_loaded(const char *path)
{
  (void)dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_runpod_core(lua_State *L)
{
  if (!rp_host_get(L)) {
    pthread_once(&env_once, configure_log);
    if (lua_type(L, 2) == LUA_TSTRING)   /* require's file name */
      stay_loaded(lua_tostring(L, 2));
  }
  luaL_newlib(L, core_functions);
  lua_pushliteral(L, RP_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushinteger(L, (lua_Integer)RP_MAX_RESULT_BYTES);
  lua_setfield(L, -2, "max_result_bytes");
  lua_newtable(L);
  rp_json_register(L);
  lua_setfield(L, -2, "json");
  rp_lhttp_register(L);
  rp_lbuffer_register(L);
  rp_lfiles_register(L);
  rp_lsys_register(L);
  rp_lproc_register(L);
  rp_lvolcache_register(L);
  rp_larchive_register(L);
  rp_ls3_register(L);
  return 1;
}
