/* local.c - see local.h. */
#include "local.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "rp.h"

#define MODULE "runpod.local_test"

struct strings {
  char **v;
  int n;
};

static void strings_free(struct strings *s)
{
  for (int i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

/* Copies the n strings on top of L into s and pops them. Returns RP_OK or
 * RP_ENOMEM. */
static int take_strings(lua_State *L, int n, struct strings *s)
{
  int rc = RP_OK;
  s->v = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
  if (!s->v)
    rc = RP_ENOMEM;
  for (int i = 0; rc == RP_OK && i < n; i++) {
    const char *p = lua_tostring(L, -n + i);
    s->v[i] = strdup(p ? p : "");
    if (!s->v[i])
      rc = RP_ENOMEM;
    else
      s->n++;
  }
  lua_pop(L, n);
  return rc;
}

/* Calls a local_test function and logs a failure of the call itself. */
static int call(struct rp_vm *vm, const char *fn, int nargs,
                const char *const *args, int *nres)
{
  char err[4096];
  if (rp_job_call(vm->L, MODULE, fn, nargs, args, nres, err,
                  sizeof(err)) != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "local test: %s", err);
    return -1;
  }
  return 0;
}

/* Reads the input and splits it into job texts. Returns 0 or an exit
 * code. */
static int load_jobs(struct rp_vm *vm, const struct rp_args *a,
                     struct strings *jobs)
{
  lua_State *L = vm->L;
  const char *args[1] = { a->test_input };
  int n;
  int len;
  if (call(vm, "read_input", 1, args, &n) != 0)
    return 1;
  if (n < 1 || !lua_isstring(L, -n)) {
    lua_pop(L, n);
    return 1;
  }
  lua_settop(L, lua_gettop(L) - n + 1);
  args[0] = lua_tostring(L, -1);
  if (call(vm, "prepare", 1, args, &n) != 0) {
    lua_pop(L, 1);
    return 1;
  }
  if (n < 1 || !lua_istable(L, -n)) {
    lua_pop(L, n + 1);
    return 1;
  }
  lua_settop(L, lua_gettop(L) - n + 1);  /* L: ... text list */
  len = (int)lua_rawlen(L, -1);
  luaL_checkstack(L, len, "too many test jobs");
  for (int i = 1; i <= len; i++)
    lua_rawgeti(L, -1 - (i - 1), i);
  if (take_strings(L, len, jobs) != RP_OK) {
    lua_pop(L, 2);
    rp_log(RP_LOG_ERROR, NULL, "local test: out of memory");
    return 1;
  }
  lua_pop(L, 2);
  return 0;
}

int rp_local_run(struct rp_vm *vm, const struct rp_args *a,
                 const struct rp_settings *env)
{
  struct strings jobs = { NULL, 0 };
  struct strings bodies = { NULL, 0 };
  const char **args = NULL;
  int any_failed = 0;
  int code;
  int n;
  char err[1024];

  (void)env;           /* read and checked at start; no limit applies yet */
  code = load_jobs(vm, a, &jobs);
  if (code != 0)
    goto done;
  bodies.v = calloc((size_t)jobs.n, sizeof(char *));
  args = calloc((size_t)jobs.n + 2, sizeof(char *));
  if (!bodies.v || !args) {
    code = 1;
    goto done;
  }
  for (int i = 0; i < jobs.n; i++) {
    const char *job_args[1] = { jobs.v[i] };
    int refresh;
    if (call(vm, "run", 1, job_args, &n) != 0 || n < 3) {
      code = 1;
      goto done;
    }
    refresh = lua_toboolean(vm->L, -1);
    any_failed |= lua_toboolean(vm->L, -2);
    lua_pop(vm->L, 2);
    bodies.v[i] = strdup(lua_tostring(vm->L, -1) ? lua_tostring(vm->L, -1)
                         : "");
    lua_pop(vm->L, 1);
    bodies.n = i + 1;
    if (!bodies.v[i]) {
      code = 1;
      goto done;
    }
    vm->jobs++;
    if (refresh) {
      if (rp_vm_refresh(vm, err, sizeof(err)) != RP_OK) {
        rp_log(RP_LOG_ERROR, NULL, "refresh failed: %s", err);
        code = 1;
        goto done;
      }
      rp_log(RP_LOG_DEBUG, NULL, "VM refreshed in %.3f ms",
             vm->load_seconds * 1e3);
    }
  }
  args[0] = a->test_output;
  args[1] = any_failed ? "failed" : NULL;
  for (int i = 0; i < bodies.n; i++)
    args[i + 2] = bodies.v[i];
  code = 1;
  if (call(vm, "finish", bodies.n + 2, args, &n) == 0) {
    code = n >= 1 ? (int)lua_tointeger(vm->L, -n) : 1;
    lua_pop(vm->L, n);
  }
done:
  free(args);
  strings_free(&bodies);
  strings_free(&jobs);
  return code;
}
