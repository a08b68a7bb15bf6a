/*
 * larchive.c - runpod.core's unzip bindings, for runpod.file (the
 * extraction and its guards are unzip.c's).
 *
 *   unzip(zip, dest[, max_bytes, max_ratio, max_entries]) -> files |
 *     nil, message                       (blocks its thread)
 *   unzip_start(zip, dest[, ...the same]) -> op | nil, message
 *   op:poll() -> nil while it runs, then files | nil, message
 *
 * unzip_start extracts on a thread of its own, so that the job's
 * coroutine polls (lua/runpod/download.lua sleeps between polls, which
 * yields inside runpod-worker): the other jobs of the VM run meanwhile,
 * and a job stopped or out of time is not held in C code. Closing or
 * collecting an op that still runs cancels the extraction, which ends at
 * its next block of data and removes the folder; the thread then frees
 * what it used without anyone waiting for it. The first extraction
 * registers an exit hook that waits up to RP_UNZIP_EXIT_WAIT seconds for
 * those still running, so that a process ending just after a job was
 * stopped does not leave a half-extracted folder. runpod.core is never
 * unloaded (-z nodelete, or lcore.c's stay_loaded for a luarocks build),
 * so no thread is left running unmapped code after lua_close.
 */
#include "lua/larchive.h"

#include <errno.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rp.h"
#include "base/unzip.h"
#include "lua/lclass.h"

#define RP_UNZIP_OP_MT "runpod.UnzipOp"
/* Seconds the exit hook waits for extractions still running. */
#define RP_UNZIP_EXIT_WAIT 10

/* The extraction threads still running, for the exit hook. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static int live;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void wait_at_exit(void)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += RP_UNZIP_EXIT_WAIT;
  pthread_mutex_lock(&live_mu);
  while (live > 0 &&
         pthread_cond_timedwait(&live_cv, &live_mu, &until) != ETIMEDOUT)
    continue;
  pthread_mutex_unlock(&live_mu);
}

static void register_exit_hook(void)
{
  atexit(wait_at_exit);
}

static void count_live(int delta)
{
  pthread_mutex_lock(&live_mu);
  live += delta;
  if (live == 0)
    pthread_cond_broadcast(&live_cv);
  pthread_mutex_unlock(&live_mu);
}

/* Who frees a struct extraction: its thread, when the op was closed
 * first; else the op, once the thread has ended. */
enum { RUNNING, ENDED, ABANDONED };

struct extraction {
  pthread_t thread;
  atomic_int state;
  atomic_int cancel;
  struct rp_unzip_limits lim;
  char *zip;
  char *dest;
  long files;
  int rc;
  char err[512];
};

struct op {
  struct extraction *x;      /* NULL once closed */
};

static void extraction_free(struct extraction *x)
{
  free(x->zip);
  free(x->dest);
  free(x);
}

static void *extract(void *arg)
{
  struct extraction *x = arg;
  x->rc = rp_unzip(x->zip, x->dest, &x->lim, &x->files, x->err,
                   sizeof(x->err));
  if (atomic_exchange(&x->state, ENDED) == ABANDONED) {
    pthread_detach(pthread_self());
    extraction_free(x);
  }
  count_live(-1);
  return NULL;
}

/* The limits of arguments 3 to 5. */
static void check_limits(lua_State *L, struct rp_unzip_limits *lim)
{
  memset(lim, 0, sizeof(*lim));
  lim->max_bytes = (long long)luaL_optinteger(L, 3, RP_UNZIP_MAX_BYTES);
  lim->max_ratio = (double)luaL_optnumber(L, 4, RP_UNZIP_MAX_RATIO);
  lim->max_entries = (long)luaL_optinteger(L, 5, RP_UNZIP_MAX_ENTRIES);
  luaL_argcheck(L, lim->max_bytes > 0, 3, "must be > 0");
  luaL_argcheck(L, lim->max_ratio >= 1, 4, "must be >= 1");
  luaL_argcheck(L, lim->max_entries > 0, 5, "must be > 0");
}

/* unzip(zip, dest[, max_bytes, max_ratio, max_entries]) -> files |
 * nil, message */
static int archive_unzip(lua_State *L)
{
  const char *zip = luaL_checkstring(L, 1);
  const char *dest = luaL_checkstring(L, 2);
  struct rp_unzip_limits lim;
  char err[512];
  long files = 0;
  check_limits(L, &lim);
  if (rp_unzip(zip, dest, &lim, &files, err, sizeof(err)) != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushinteger(L, files);
  return 1;
}

/* unzip_start(zip, dest[, max_bytes, max_ratio, max_entries]) -> op |
 * nil, message (no memory or no thread for it: nothing was started) */
static int archive_unzip_start(lua_State *L)
{
  const char *zip = luaL_checkstring(L, 1);
  const char *dest = luaL_checkstring(L, 2);
  struct rp_unzip_limits lim;
  struct extraction *x;
  struct op *o;
  int rc;
  check_limits(L, &lim);
  o = lua_newuserdatauv(L, sizeof(*o), 0);
  o->x = NULL;
  luaL_setmetatable(L, RP_UNZIP_OP_MT);
  x = calloc(1, sizeof(*x));
  if (!x || !(x->zip = strdup(zip)) || !(x->dest = strdup(dest))) {
    if (x)
      extraction_free(x);
    luaL_pushfail(L);
    lua_pushliteral(L, "out of memory");
    return 2;
  }
  atomic_init(&x->state, RUNNING);
  atomic_init(&x->cancel, 0);
  x->lim = lim;
  x->lim.cancel = &x->cancel;
  pthread_once(&exit_once, register_exit_hook);
  count_live(1);
  rc = pthread_create(&x->thread, NULL, extract, x);
  if (rc != 0) {
    count_live(-1);
    extraction_free(x);
    luaL_pushfail(L);
    lua_pushfstring(L, "cannot start a thread: %s", strerror(rc));
    return 2;
  }
  o->x = x;
  return 1;
}

/* op:poll() -> nil | files | nil, message */
static int op_poll(lua_State *L)
{
  struct op *o = luaL_checkudata(L, 1, RP_UNZIP_OP_MT);
  struct extraction *x = o->x;
  if (!x)
    return luaL_error(L, "attempt to use a closed unzip operation");
  if (atomic_load(&x->state) != ENDED) {
    lua_pushnil(L);
    return 1;
  }
  pthread_join(x->thread, NULL);
  o->x = NULL;
  if (x->rc != RP_OK) {
    luaL_pushfail(L);
    lua_pushstring(L, x->err);
    extraction_free(x);
    return 2;
  }
  lua_pushinteger(L, x->files);
  extraction_free(x);
  return 1;
}

/* Cancels an extraction still running and leaves it to its thread. */
static int op_gc(lua_State *L)
{
  struct op *o = luaL_checkudata(L, 1, RP_UNZIP_OP_MT);
  struct extraction *x = o->x;
  pthread_t thread;
  o->x = NULL;
  if (!x)
    return 0;
  thread = x->thread;
  atomic_store(&x->cancel, 1);
  if (atomic_exchange(&x->state, ABANDONED) == ENDED) {
    pthread_join(thread, NULL);
    extraction_free(x);
  }
  return 0;
}

static const luaL_Reg archive_functions[] = {
  {"unzip", archive_unzip},
  {"unzip_start", archive_unzip_start},
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

void rp_larchive_register(lua_State *L)
{
  luaL_setfuncs(L, archive_functions, 0);
  rp_lclass_register(L, RP_UNZIP_OP_MT, op_meta, op_methods);
}
