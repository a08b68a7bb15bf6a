/*
 * host.h - what runpod.core reaches of the program that embeds it.
 *
 * runpod-worker binds one struct rp_host to each lua_State it builds
 * (rp_host_set); the bindings find it with rp_host_get, which returns NULL
 * under plain lua5.4, where every call that would wait blocks instead.
 *
 * The private wait protocol. A binding that must wait (runpod.sleep, HTTP)
 * records the wait here, in C memory no Lua value names, and yields its
 * thread with no values (rp_host_wait). The runner that resumed the job's
 * thread asks rp_host_take_wait whether the yield it got is such a wait;
 * a coroutine.yield of any values, from anywhere, is never one. When the
 * binding ran in a handler's own coroutine, the job's thread passes the
 * wait on with rp_host_relay (runpod.core's relay), which only works while
 * that coroutine is suspended inside a binding's wait or inside a relay
 * (coroutines nested several deep pass it up one level at a time).
 */
#ifndef RP_HOST_H
#define RP_HOST_H

#include <lua.h>
#include <stddef.h>

#include "base/alloc.h"

struct rp_http;

/* Registry names of what runpod.serverless.start registered. */
#define RP_CONFIG_KEY "runpod.config"
#define RP_CONFIG_ERROR_KEY "runpod.config_error"

/* What runpod.core.emit queues. */
enum rp_emit { RP_EMIT_STREAM, RP_EMIT_PROGRESS };

/* What a binding waits for. */
enum rp_wait_kind {
  RP_WAIT_NONE = 0,        /* no wait: the yield was not a binding's */
  RP_WAIT_SLEEP,           /* 'seconds' to pass */
  RP_WAIT_HTTP             /* 'http' to be ready (rp_http_ready) */
};

struct rp_wait {
  enum rp_wait_kind kind;
  lua_State *thread;       /* the thread suspended in the binding */
  lua_State *relay;        /* the thread that passed it on, or NULL */
  double seconds;          /* RP_WAIT_SLEEP */
  struct rp_http *http;    /* RP_WAIT_HTTP: borrowed from the binding's
                              userdata, which 'thread' keeps alive */
  int want_body;           /* RP_WAIT_HTTP: as rp_http_ready's */
};

struct rp_host {
  /* Queues a stream partial or progress update for the job; NULL when
   * nothing is posted (in_serverless() is false). */
  void (*emit)(void *ud, enum rp_emit kind, const char *job_id,
               const char *body, size_t len);
  /* Seconds the running job has left, or a negative number when it has no
   * timeout; NULL = never a timeout. */
  double (*time_remaining)(void *ud);
  /* While the fitness checks run: lets them go on until at least
   * 'seconds' from now, past their time limit (a check that waits for a
   * backend with its own bound). No effect in a job; NULL = none. */
  void (*allow_fitness)(void *ud, double seconds);
  void *ud;
  struct rp_alloc *alloc;  /* the state's allocator budget (max_memory) */
  struct rp_wait wait;     /* the pending wait; see rp_host_wait */
};

/* Binds h to L's registry (h is borrowed and must outlive L). */
void rp_host_set(lua_State *L, struct rp_host *h);

/* The host bound to L, or NULL (plain lua5.4). */
struct rp_host *rp_host_get(lua_State *L);

/* Binding side: records w (its 'thread' is set to L) and yields L with no
 * values; k runs when L is resumed and must call rp_host_wait_end first.
 * L must be yieldable and have a host. Returns as lua_yieldk. */
int rp_host_wait(lua_State *L, const struct rp_wait *w, lua_KContext ctx,
                 lua_KFunction k);

/* Binding side, first thing in a wait's continuation: forgets the wait of
 * L if it is still recorded (the thread was resumed by other code than the
 * runner, e.g. a handler's own coroutine.resume). */
void rp_host_wait_end(lua_State *L);

/* Binding side, from a handle's __close/__gc: forgets a recorded wait on
 * h, which is about to be freed. */
void rp_host_forget_http(lua_State *L, const struct rp_http *h);

/* runpod.core.relay(co): when co is suspended in a binding's wait, or in
 * a relay of it, marks the wait as passed on by L and yields L (no values;
 * returns true when resumed); otherwise returns false at once. Raises when
 * L cannot yield. */
int rp_host_relay(lua_State *L);

/* Runner side, after lua_resume(co, ...) returned LUA_YIELD: moves the
 * wait co made (directly or by relay) into *out, clears the record and
 * returns its kind; RP_WAIT_NONE when the yield was not a wait (h may be
 * NULL). */
enum rp_wait_kind rp_host_take_wait(struct rp_host *h, lua_State *co,
                                    struct rp_wait *out);

/* Runner side, before each lua_resume: forgets any wait left recorded. */
void rp_host_clear_wait(struct rp_host *h);

#endif
