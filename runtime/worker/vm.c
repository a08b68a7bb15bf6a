/* vm.c - see vm.h. */
#include "worker/vm.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "worker/embed.h"
#include "lua/host.h"
#include "lua/lcore.h"
#include "base/log.h"
#include "base/rp.h"

#ifndef RP_LUA_DIR
#define RP_LUA_DIR "/usr/local/share/lua/5.4"
#endif
#ifndef RP_LUA_CDIR
#define RP_LUA_CDIR "/usr/local/lib/lua/5.4"
#endif

int rp_vm_msgh(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int panic(lua_State *L)
{
  const char *msg = lua_tostring(L, -1);
  rp_log(RP_LOG_ERROR, NULL, "unprotected Lua error: %s",
         msg ? msg : "(not a string)");
  abort();                 /* a panic is a bug in the runtime */
}

/* package.searchers entry: finds a module among the embedded Lua parts.
 * [-0, +2|1] as Lua searchers do: the loader and its data, or a message. */
static int search_embedded(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const struct rp_embedded *e;
  for (e = rp_embedded; e->module; e++) {
    if (strcmp(e->module, name) != 0)
      continue;
    if (luaL_loadbufferx(L, e->code, e->len, e->chunkname, "b") != LUA_OK)
      return lua_error(L);
    lua_pushstring(L, e->chunkname + 1);
    return 2;
  }
  lua_pushfstring(L, "no embedded module '%s'", name);
  return 1;
}

/* Prepends the script's own directory to package.path and package.cpath,
 * and appends the installed Lua parts, so that a handler finds the modules
 * that sit next to it first. [-0, +0] */
static void set_paths(lua_State *L, const char *script)
{
  const char *slash = strrchr(script, '/');
  lua_getglobal(L, "package");
  if (slash)
    lua_pushlstring(L, script, (size_t)(slash - script));
  else
    lua_pushliteral(L, ".");
  lua_getfield(L, -2, "path");     /* package dir path */
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s;" RP_LUA_DIR "/?.lua;"
                  RP_LUA_DIR "/?/init.lua", lua_tostring(L, -2),
                  lua_tostring(L, -2), lua_tostring(L, -1));
  lua_setfield(L, -4, "path");
  lua_pop(L, 1);
  lua_getfield(L, -2, "cpath");    /* package dir cpath */
  lua_pushfstring(L, "%s/?.so;%s;" RP_LUA_CDIR "/?.so", lua_tostring(L, -2),
                  lua_tostring(L, -1));
  lua_setfield(L, -4, "cpath");
  lua_pop(L, 3);
}

/* Installs runpod.core in package.preload and the embedded searcher right
 * after the preload searcher. [-0, +0] */
static void install_module(lua_State *L)
{
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_runpod_core);
  lua_setfield(L, -2, "runpod.core");
  lua_pop(L, 1);
  /* package.searchers: shift entries 2.. up by one, put ours at 2. */
  lua_getfield(L, -1, "searchers");
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, search_embedded);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

/* Sets the global 'arg' as lua5.4 does: arg[0] is the script, then its
 * arguments. [-0, +0] */
static void set_arg(lua_State *L, const struct rp_vm_options *o)
{
  lua_createtable(L, o->argc, 1);
  lua_pushstring(L, o->script);
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < o->argc; i++) {
    lua_pushstring(L, o->argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
}

/* os.exit once the script has loaded: a handler that called the real one
 * would kill the worker and lose its own job and every other job in
 * flight. It raises instead, so the job fails with a clear message and
 * the worker goes on. */
static int forbidden_exit(lua_State *L)
{
  return luaL_error(L, "os.exit is not available to handlers (it would "
                    "end the worker and lose the jobs in flight); raise an "
                    "error or return {error = ...} instead");
}

/* Replaces os.exit as above. [-0, +0] */
static void guard_exit(lua_State *L)
{
  if (lua_getglobal(L, "os") == LUA_TTABLE) {
    lua_pushcfunction(L, forbidden_exit);
    lua_setfield(L, -2, "exit");
  }
  lua_pop(L, 1);
}

/* Loads and runs the script; classifies a failure. [-0, +0] */
static int run_script(struct rp_vm *vm, char *err, size_t errlen)
{
  lua_State *L = vm->L;
  const char *script = vm->opts.script;
  FILE *f = fopen(script, "r");
  int rc;
  if (!f)
    return rp_fail(RP_VM_ENOFILE, err, errlen, "%s: cannot open handler "
                   "script (%s)", script, strerror(errno));
  fclose(f);
  lua_pushcfunction(L, rp_vm_msgh);
  rc = luaL_loadfilex(L, script, "t");
  if (rc == LUA_ERRSYNTAX) {
    rc = rp_fail(RP_VM_ESYNTAX, err, errlen, "syntax error in %s",
                 lua_tostring(L, -1));
    lua_pop(L, 2);
    return rc;
  }
  if (rc != LUA_OK) {
    rc = rp_fail(rc == LUA_ERRMEM ? RP_ENOMEM : RP_VM_ENOFILE, err, errlen,
                 "%s: cannot load handler script: %s", script,
                 lua_tostring(L, -1));
    lua_pop(L, 2);
    return rc;
  }
  if (lua_pcall(L, 0, 0, -2) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    size_t line = msg ? strcspn(msg, "\n") : 0;
    lua_getfield(L, LUA_REGISTRYINDEX, RP_CONFIG_ERROR_KEY);
    if (lua_isstring(L, -1)) {
      rc = rp_fail(RP_VM_ECONFIG, err, errlen, "%s: %s", script,
                   lua_tostring(L, -1));
    } else {
      rp_log(RP_LOG_DEBUG, NULL, "%s", msg ? msg : "?");
      rc = rp_fail(RP_VM_ESCRIPT, err, errlen, "error while loading %s: "
                   "%.*s", script, (int)line, msg ? msg : "?");
    }
    lua_pop(L, 3);
    return rc;
  }
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, RP_CONFIG_ERROR_KEY);
  if (lua_isstring(L, -1)) {
    rc = rp_fail(RP_VM_ECONFIG, err, errlen, "%s: %s", script,
                 lua_tostring(L, -1));
    lua_pop(L, 1);
    return rc;
  }
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, RP_CONFIG_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return rp_fail(RP_VM_ENOSTART, err, errlen, "%s: the script never "
                   "called runpod.serverless.start", script);
  }
  lua_pop(L, 1);
  return RP_OK;
}

static int build(struct rp_vm *vm, char *err, size_t errlen)
{
  double t0 = rp_clock_now();
  lua_State *L;
  int rc;
  memset(&vm->alloc, 0, sizeof(vm->alloc));
  vm->alloc.cap = vm->opts.memory_cap;
  L = lua_newstate(rp_alloc_fn, &vm->alloc);
  if (!L)
    return rp_fail(RP_ENOMEM, err, errlen, "%s: cannot create a Lua state",
                   vm->opts.script);
  vm->L = L;
  /* Every thread copies the main thread's extra space when it is made, so
   * code running in any coroutine (the instruction hook, for one) finds
   * its host there. */
  *(void **)lua_getextraspace(L) = vm->opts.host ? vm->opts.host->ud : NULL;
  lua_atpanic(L, panic);
  luaL_openlibs(L);
  memset(&vm->host, 0, sizeof(vm->host));
  if (vm->opts.host) {
    vm->host.emit = vm->opts.host->emit;
    vm->host.time_remaining = vm->opts.host->time_remaining;
    vm->host.allow_fitness = vm->opts.host->allow_fitness;
    vm->host.ud = vm->opts.host->ud;
  }
  vm->host.alloc = &vm->alloc;
  rp_host_set(L, &vm->host);
  install_module(L);
  set_paths(L, vm->opts.script);
  set_arg(L, &vm->opts);
  rc = run_script(vm, err, errlen);
  if (rc != RP_OK) {
    rp_vm_close(vm);
    return rc;
  }
  if (vm->opts.debugger) {
    rc = rp_vm_push_function(L, "runpod.internal.runner", "set_debugger", err,
                             errlen);
    lua_pushboolean(L, 1);
    if (rc != RP_OK || lua_pcall(L, 1, 0, 0) != LUA_OK) {
      if (rc == RP_OK)
        rp_fail(RP_ELUA, err, errlen, "%s", lua_tostring(L, -1));
      rp_vm_close(vm);
      return RP_ELUA;
    }
  }
  guard_exit(L);
  vm->jobs = 0;
  vm->builds++;
  vm->load_seconds = rp_clock_now() - t0;
  return RP_OK;
}

int rp_vm_open(struct rp_vm *vm, const struct rp_vm_options *o, char *err,
               size_t errlen)
{
  memset(vm, 0, sizeof(*vm));
  vm->opts = *o;
  return build(vm, err, errlen);
}

int rp_vm_refresh(struct rp_vm *vm, char *err, size_t errlen)
{
  if (vm->L) {
    lua_close(vm->L);
    vm->L = NULL;
  }
  return build(vm, err, errlen);
}

void rp_vm_close(struct rp_vm *vm)
{
  if (vm->L)
    lua_close(vm->L);
  vm->L = NULL;
}

void rp_vm_push_config(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, RP_CONFIG_KEY);
}

int rp_vm_push_function(lua_State *L, const char *module, const char *name,
                        char *err, size_t errlen)
{
  int top = lua_gettop(L);
  lua_pushcfunction(L, rp_vm_msgh);
  lua_getglobal(L, "require");
  lua_pushstring(L, module);
  if (lua_pcall(L, 1, 1, -3) != LUA_OK) {
    rp_fail(RP_ELUA, err, errlen, "%s", lua_tostring(L, -1));
    lua_settop(L, top);
    return RP_ELUA;
  }
  lua_getfield(L, -1, name);
  if (!lua_isfunction(L, -1)) {
    lua_settop(L, top);
    return rp_fail(RP_ELUA, err, errlen, "%s.%s is not a function", module,
                   name);
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  return RP_OK;
}
