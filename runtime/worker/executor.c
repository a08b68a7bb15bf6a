/* executor.c - see executor.h. */
#include "worker/executor.h"

#include <errno.h>
#include <lauxlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "lua/json.h"
#include "net/http.h"
#include "base/ident.h"
#include "net/wire.h"
#include "worker/heartbeat.h"
#include "worker/job_server.h"
#include "worker/runner.h"
#include "base/log.h"
#include "base/rp.h"

/* How often (in VM instructions) the hook looks for a stop or timeout. */
#define HOOK_EVERY 1000
/* How long a stopped or timed-out job may go on running Lua before the
 * hook cuts it there (and the VM is rebuilt after it): one that reaches a
 * runtime wait first is ended at that wait instead, and the VM kept. */
#define CUT_GRACE_S 0.1
/* How long the to-be-closed variables of a job ended at its wait may run. */
#define CLOSE_LIMIT_S 5.0
/* A job whose input or result is this big is followed by a full garbage
 * collection, and a malloc_trim once idle (release_memory). */
#define BIG_JOB_BYTES ((size_t)1 << 20)
/* How long an executor is idle after a big job before the allocator's
 * free memory goes back to the system. */
#define IDLE_TRIM_S 1.0

struct slot {
  char *id;                /* id_len bytes (NUL-safe), then a NUL */
  size_t id_len;
  size_t text_len;         /* the job's JSON text */
  int ref;                 /* registry reference of the job's thread */
  lua_State *co;
  double wake_at;          /* > 0 while waiting in runpod.sleep */
  double deadline;         /* > 0 when the job has a timeout */
  double seconds;          /* that timeout */
  atomic_int stop;         /* set by rp_executor_stop_job */
  double stop_at;          /* under mu: when the stop was asked, or 0 */
  int timed_out;
  int cut;                 /* the hook cut it mid-Lua: rebuild the VM */
  int fitness;             /* the fitness checks' slot, not a job's */
  double resumed_at;       /* when it was last resumed */
  struct rp_http *http;    /* the request it waits on, or NULL */
  int want_body;
  int queued;              /* a post went through the outbox: the rest
                              follow it there (deliver_direct) */
  struct slot *next;
};

/* What the thread is asked to do about ending. */
enum quit {
  RUN = 0,                 /* take jobs */
  QUIT_FINISH,             /* finish the jobs it has, then end */
  QUIT_DROP                /* end now, dropping its jobs (no results) */
};

struct pending {           /* a job or a stop on its way in */
  char *id;                /* id_len bytes (NUL-safe), then a NUL */
  size_t id_len;
  char *text;              /* the block holding the job's JSON text at
                              off, len bytes; NULL for a stop */
  size_t off;
  size_t len;
  struct pending *next;
};

/* A job whose result went straight to the job server (rp_direct), its
 * end not yet told to the job loop: hand_off() tells it, once it knows
 * whether a queued job takes the job's place. */
struct ended {
  char *id;                /* id_len bytes (NUL-safe), then a NUL */
  size_t id_len;
  char *body;              /* over HTTP (rp_direct.http): the result, for
                              hand_off to post; NULL otherwise */
  size_t len;
  int is_stream;
  int stop_pod;
  struct ended *next;
};

struct rp_executor {
  struct rp_executor_config cfg;
  struct rp_host host;
  struct rp_vm vm;
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  CURLM *multi;            /* the jobs' HTTP requests; its poll is the
                              thread's wait, woken by curl_multi_wakeup */
  struct pending *inbox;   /* under mu, newest first */
  struct pending *held;    /* thread only: jobs waiting for the rebuild */
  struct pending *held_tail;
  struct ended *ended;     /* thread only, newest first */
  struct rp_job_link link; /* thread only: its own requests to the job
                              server over HTTP (rp_direct.http) */
  int ask_concurrency;     /* under mu: the value to ask about, 0 = none */
  enum quit quit;          /* under mu */
  struct slot *slots;      /* changed by the thread only, under mu */
  struct slot *current;    /* the job being resumed (thread only) */
  struct slot *running;    /* under mu: the same, for the job loop's
                              watch on a job that does not stop */
  atomic_int load;
  atomic_int accepting;
  int needs_refresh;
  double trim_at;          /* thread only: when to trim (trim_idle), 0 */
};

static char *dup_bytes(const char *p, size_t n)
{
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

/* Queues a message for the job id id[0..id_len) (NULL for none):
 * rp_outbox_push() with this executor's index. Takes ownership of
 * what->body. */
static void push(struct rp_executor *e, const char *id, size_t id_len,
                 const struct rp_out *what)
{
  rp_outbox_push(e->cfg.out, e->cfg.index, id, id_len, what);
}

/* With a job server in this process (rp_direct): delivers a post of job
 * s there now, from this thread, in the order the job produces them,
 * unless one of its posts had to go through the outbox before (then the
 * rest follow it, for the job loop to deliver and retry in order).
 * Returns 1 when it was delivered, 0 when it must be pushed. */
static int deliver_direct(struct rp_executor *e, struct slot *s,
                          enum rp_out_kind kind, const char *body, size_t len)
{
  const struct rp_direct *d = e->cfg.out->direct;
  int status;
  if (!d || !s || !s->id || s->queued)
    return 0;
  if (d->http) {
    /* Over HTTP a result goes from here (push_done) but a partial or a
     * progress update does not: it goes through the job loop, and the
     * rest of the job after it, in order. */
    s->queued = 1;
    return 0;
  }
  status = d->deliver(d->ud, kind, s->id, s->id_len, body, len);
  if (status >= 200 && status < 300)
    return 1;
  s->queued = 1;
  return 0;
}

/* Queues the end of job s (what: its result, or none when body is NULL:
 * stopped). A result delivered directly (deliver_direct) leaves only the
 * end for the job loop, which frees the job's place; when the loop lets
 * executors take the next job in that place (rp_direct.handoff), that end
 * waits for hand_off(). Over HTTP the result itself waits for hand_off(),
 * which posts it. Takes ownership of what.body. */
static void push_done(struct rp_executor *e, struct slot *s,
                      struct rp_out what)
{
  const struct rp_direct *d = e->cfg.out->direct;
  struct ended *x;
  what.kind = RP_OUT_DONE;
  if (what.stop_pod && d)
    atomic_store(&e->cfg.out->direct->closed, 1);
  if (d && d->http && what.body && s->id && !s->queued) {
    x = calloc(1, sizeof(*x));
    if (x && (x->id = dup_bytes(s->id, s->id_len)) != NULL) {
      x->id_len = s->id_len;
      x->body = what.body;
      x->len = what.len;
      x->is_stream = what.is_stream;
      x->stop_pod = what.stop_pod;
      x->next = e->ended;
      e->ended = x;
      return;
    }
    free(x);
    push(e, s->id, s->id_len, &what);   /* the job loop posts it */
    return;
  }
  if (!what.body || !deliver_direct(e, s, RP_OUT_DONE, what.body, what.len)) {
    push(e, s->id, s->id_len, &what);
    return;
  }
  free(what.body);
  x = what.stop_pod || !atomic_load(&e->cfg.out->direct->handoff) ? NULL
      : calloc(1, sizeof(*x));
  if (x)
    x->id = dup_bytes(s->id, s->id_len);
  if (!x || !x->id) {
    free(x);
    push(e, s->id, s->id_len, &(struct rp_out){ .kind = RP_OUT_DONE,
         .stop_pod = what.stop_pod });
    return;
  }
  x->id_len = s->id_len;
  x->next = e->ended;
  e->ended = x;
}

/* Queues the end of a job that never had a slot (no result). */
static void push_dropped(struct rp_executor *e, const char *id, size_t len)
{
  push(e, id, len, &(struct rp_out){ .kind = RP_OUT_DONE });
}

/* Whether a runner's refresh value (run()'s third) is "pod": the result
 * carries "stopPod" and the worker must stop after it (refresh_mode). */
static int stop_pod(lua_State *co, int idx)
{
  return lua_type(co, idx) == LUA_TSTRING &&
         strcmp(lua_tostring(co, idx), "pod") == 0;
}

/* The Lua module whose run() and error_result() the jobs go through. */
static const char *runner(const struct rp_executor *e)
{
  return e->cfg.local_test ? "runpod.internal.local_test"
                           : "runpod.internal.worker";
}

/* rp_host.emit: a stream partial or a progress update, for the job being
 * resumed (its id as the executor has it, whatever bytes it holds). In
 * local test mode nobody is there to post it to, so it is logged, on the
 * job's own thread to keep it in order with the job's other lines. */
static void host_emit(void *ud, enum rp_emit kind, const char *job_id,
                      const char *body, size_t len)
{
  struct rp_executor *e = ud;
  struct slot *s = e->current;
  enum rp_out_kind out = kind == RP_EMIT_STREAM ? RP_OUT_STREAM
                                                : RP_OUT_PROGRESS;
  char *copy;
  if (e->cfg.local_test) {
    rp_log(RP_LOG_INFO, job_id, "%s: %.*s", kind == RP_EMIT_STREAM ?
           "Stream partial" : "Progress update", (int)len, body);
    return;
  }
  if (e->cfg.out->direct && !e->cfg.out->direct->http && s && s->id &&
      !s->queued && atomic_load(&s->stop))
    return;       /* asked to stop: nothing more of it is delivered */
  if (deliver_direct(e, s, out, body, len))
    return;
  copy = dup_bytes(body, len);
  if (!copy) {
    rp_log(RP_LOG_ERROR, job_id, "out of memory: a stream partial was "
           "lost");
    return;
  }
  push(e, s ? s->id : job_id, s ? s->id_len : strlen(job_id),
       &(struct rp_out){ .kind = out, .body = copy, .len = len });
}

static double host_time_remaining(void *ud)
{
  struct rp_executor *e = ud;
  double left;
  if (!e->current || e->current->deadline <= 0)
    return -1;
  left = e->current->deadline - rp_clock_now();
  return left > 0 ? left : 0;
}

/* The fitness checks' time limit moved to at least 'seconds' from now. */
static void host_allow_fitness(void *ud, double seconds)
{
  struct rp_executor *e = ud;
  struct slot *s = e->current;
  double until = rp_clock_now() + seconds;
  if (!s || !s->fitness || !(seconds > 0) || until <= s->deadline)
    return;
  s->seconds += until - s->deadline;
  s->deadline = until;
}

/* Notes the job whose code the thread runs now (NULL: none), for
 * rp_executor_overdue. */
static void watch(struct rp_executor *e, struct slot *s)
{
  pthread_mutex_lock(&e->mu);
  e->running = s;
  pthread_mutex_unlock(&e->mu);
}

static void hook(lua_State *L, lua_Debug *ar);

/* Raises msg in L, the thread running, after making every later
 * instruction of L and of the job's own thread raise again: a pcall in the
 * handler cannot swallow the error, and the job's runner dies at its next
 * instruction instead of reporting the error as the handler's own (the
 * executor reports it, from one place: cut_short). */
static int cut(lua_State *L, struct slot *s, const char *msg)
{
  lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  if (s->co && s->co != L)
    lua_sethook(s->co, hook, LUA_MASKCOUNT, 1);
  return luaL_error(L, "%s", msg);
}

/* The instruction-count hook of every job thread (and of the fitness
 * checks): raises in a job that was asked to stop or ran out of time and
 * has gone on running Lua for CUT_GRACE_S since it was resumed. A job
 * that reaches a runtime wait first is ended there by the thread
 * (end_waiting), where the VM's state is consistent. */
static void hook(lua_State *L, lua_Debug *ar)
{
  struct rp_executor *e = *(struct rp_executor **)lua_getextraspace(L);
  struct slot *s = e ? e->current : NULL;
  char msg[64];
  (void)ar;
  if (!s)
    return;
  if (!s->cut) {
    int stop = atomic_load(&s->stop);
    double now;
    if (!stop && s->deadline <= 0)
      return;
    now = rp_clock_now();
    if ((!stop && now <= s->deadline) || now - s->resumed_at < CUT_GRACE_S)
      return;
    s->cut = 1;
    s->timed_out = !stop;
  }
  if (!s->timed_out)
    cut(L, s, "job stopped on request");
  snprintf(msg, sizeof(msg), "timed out after %g seconds", s->seconds);
  cut(L, s, msg);
}

/* Protected set-up of a job: a new thread running the runner's run() with
 * the job and its id, anchored in the registry. [-0, +1]: the reference.
 * The job goes in as its text (local test mode, which logs it), or
 * decoded here, straight from the bytes the job server sent, once: the
 * decoded table, or nil and the decoder's message for run() to answer
 * the job with. */
static int setup(lua_State *L)
{
  const struct pending *p = lua_touserdata(L, 1);
  const char *module = lua_touserdata(L, 2);
  int decode = lua_toboolean(L, 3);
  char msg[256];
  int decoded = 0;
  lua_State *co;
  char err[512];
  if (rp_vm_push_function(L, module, "run", err, sizeof(err)) != RP_OK)
    return luaL_error(L, "%s", err);
  co = lua_newthread(L);
  lua_sethook(co, hook, LUA_MASKCOUNT, HOOK_EVERY);
  lua_pushvalue(L, -2);
  lua_xmove(L, co, 1);
  if (decode)
    decoded = rp_json_decode(L, p->text + p->off, p->len, msg,
                             sizeof(msg)) == RP_OK;
  if (decoded)
    lua_xmove(L, co, 1);
  else if (decode)
    lua_pushnil(co);
  else
    lua_pushlstring(co, p->text + p->off, p->len);
  lua_pushlstring(co, p->id, p->id_len);
  if (decode && !decoded)
    lua_pushstring(co, msg);
  else
    lua_pushnil(co);
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

/* The result of a job the runtime cut short or whose runner failed: the
 * runner's error_result() builds the error JSON once, logs it and returns
 * the body that carries it, so the log and the result always agree. When
 * the VM cannot even do that (out of memory), a fixed text is logged and
 * returned the same way. Caller owns the result; free with free(). */
static char *error_result(struct rp_executor *e, const char *job_id,
                          size_t id_len, const char *type,
                          const char *message, size_t *len)
{
  lua_State *L = e->vm.L;
  int top = lua_gettop(L);
  char err[256];
  char *body = NULL;
  if (rp_vm_push_function(L, runner(e), "error_result", err, sizeof(err))
      == RP_OK) {
    lua_pushstring(L, type);
    lua_pushstring(L, message);     /* NULL: nil */
    lua_pushlstring(L, job_id, id_len);
    if (lua_pcall(L, 3, 1, 0) == LUA_OK && lua_isstring(L, -1))
      body = dup_bytes(lua_tostring(L, -1), lua_rawlen(L, -1));
  }
  lua_settop(L, top);
  if (body) {
    *len = strlen(body);          /* JSON text: no NUL byte in it */
    return body;
  }
  return rp_executor_error_body(job_id, type, message
                                ? "the job's VM failed; see the worker log"
                                : "memory limit exceeded", len);
}

char *rp_executor_error_body(const char *job_id, const char *type,
                             const char *message, size_t *len)
{
  char host[128];
  static const char *const keys[] = {
    "error_type", "error_message", "error_traceback", "hostname",
    "worker_id", "runpod_version"
  };
  const char *vals[] = { NULL, NULL, "", NULL, NULL, RP_VERSION };
  size_t i;
  char *body;
  /* Values of at most a few hundred bytes, each escaped at most 6 times
   * over, and then the whole escaped once more: within the caps. */
  struct rp_buf json = RP_BUF_INIT(16384);
  struct rp_buf out = RP_BUF_INIT(65536);
  rp_hostname(host, sizeof(host));
  /* The error JSON, as the log shows it; then the same text as a JSON
   * string in the body. Every value is escaped: a pod id or host name may
   * hold any byte. */
  vals[0] = type;
  vals[1] = message;
  vals[3] = host;
  vals[4] = rp_worker_id();
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    rp_buf_puts(&json, i ? ",\"" : "{\"");
    rp_buf_puts(&json, keys[i]);
    rp_buf_puts(&json, "\":");
    rp_json_put_string(&json, vals[i], strlen(vals[i]));
  }
  rp_buf_puts(&json, "}");
  rp_log(RP_LOG_ERROR, job_id, "Captured Handler Exception");
  rp_log(RP_LOG_ERROR, job_id, "%s", json.data ? json.data : "");
  rp_buf_puts(&out, "{\"error\":");
  rp_json_put_string(&out, json.data ? json.data : "", json.len);
  rp_buf_puts(&out, "}");
  body = rp_buf_steal(&out, len);
  rp_buf_free(&json);
  return body;
}

static void free_slot(struct rp_executor *e, struct slot *s)
{
  struct slot **pp;
  pthread_mutex_lock(&e->mu);
  for (pp = &e->slots; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  pthread_mutex_unlock(&e->mu);
  if (e->vm.L && s->ref != LUA_NOREF)
    luaL_unref(e->vm.L, LUA_REGISTRYINDEX, s->ref);
  free(s->id);
  free(s);
  atomic_fetch_sub(&e->load, 1);
}

/* Ends a job that will not run on: stopped (nothing is posted) or timed
 * out (a TimeoutError result). The VM is rebuilt afterwards when the job
 * was cut mid-Lua (s->cut), its state then being anyone's guess. */
static void cut_short(struct rp_executor *e, struct slot *s)
{
  char msg[160];
  size_t len = 0;
  char *body;
  if (s->cut)
    e->needs_refresh = 1;
  if (atomic_load(&s->stop)) {
    rp_log(RP_LOG_INFO, s->id, "Stopped on request.");
    push_done(e, s, (struct rp_out){ .body = NULL });
  } else {
    snprintf(msg, sizeof(msg), "job timed out after %g seconds (timeout)",
             s->seconds);
    body = error_result(e, s->id, s->id_len, "TimeoutError", msg, &len);
    push_done(e, s, (struct rp_out){ .body = body, .len = len,
              .failed = 1 });
  }
  free_slot(e, s);
  /* Nothing reaches the job's thread any more: a full collection runs the
   * __gc of the HTTP transfers it held, so that its requests (a proxy's
   * stream from its backend) end now, not when the VM is rebuilt. */
  if (e->vm.L)
    lua_gc(e->vm.L, LUA_GCCOLLECT, 0);
}

/* After a job ends: refresh_worker, or recycling by count or heap size. */
static void after_job(struct rp_executor *e, int refresh)
{
  e->vm.jobs++;
  if (refresh)
    e->needs_refresh = 1;
  if (e->cfg.recycle_jobs && e->vm.jobs >= e->cfg.recycle_jobs)
    e->needs_refresh = 1;
  if (e->cfg.recycle_heap && e->vm.alloc.used > e->cfg.recycle_heap)
    e->needs_refresh = 1;
  if (e->needs_refresh)
    atomic_store(&e->accepting, 0);
}

/* Closes the thread of a job waiting at a runtime wait (HTTP, sleep),
 * running its to-be-closed variables: the runner closes the handler's
 * coroutine, whose open responses close their transfers. They run for at
 * most CLOSE_LIMIT_S under the hook. Returns whether they all ran to
 * their end, which leaves the VM as consistent as the wait did. */
static int close_thread(struct rp_executor *e, struct slot *s)
{
  struct slot guard;
  int status;
  memset(&guard, 0, sizeof(guard));
  atomic_init(&guard.stop, 0);
  guard.seconds = CLOSE_LIMIT_S;
  guard.deadline = rp_clock_now() + CLOSE_LIMIT_S;
  s->http = NULL;
  s->wake_at = 0;
  e->current = &guard;
  watch(e, s);
#if LUA_VERSION_RELEASE_NUM >= 50406
  status = lua_closethread(s->co, e->vm.L);
#else
  status = lua_resetthread(s->co);
#endif
  watch(e, NULL);
  e->current = NULL;
  if (status != LUA_OK)
    rp_log(RP_LOG_ERROR, s->id, "closing the stopped job failed: %s",
           lua_isstring(s->co, -1) ? lua_tostring(s->co, -1) : "?");
  return status == LUA_OK && !guard.cut;
}

/* Ends a job, waiting at a runtime wait, that will not run on: stopped or
 * out of time. The VM is kept, so that the other jobs in it go on and new
 * ones are taken at once; rebuilt only if closing the job failed. */
static void end_waiting(struct rp_executor *e, struct slot *s)
{
  if (!close_thread(e, s))
    s->cut = 1;
  s->timed_out = !atomic_load(&s->stop);
  cut_short(e, s);
  after_job(e, 0);
}

/* The result body run() returned at idx, for the outbox (*len bytes):
 * the encoder's buffer itself when it is one (no copy), else a copy of
 * the string. NULL when memory runs out. The buffer was allocated through
 * the VM's allocator, rp_alloc_fn, which is realloc and free with a
 * count: its bytes leave the VM's count and are freed with free(). */
static char *take_body(struct rp_executor *e, lua_State *co, int idx,
                       size_t *len)
{
  struct rp_buf *b = luaL_testudata(co, idx, RP_JSON_BODY_MT);
  const char *s;
  if (b && b->data && b->alloc == (rp_buf_alloc)rp_alloc_fn &&
      b->ud == &e->vm.alloc) {
    char *data = b->data;
    *len = b->len;
    e->vm.alloc.used -= b->cap;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return data;
  }
  s = lua_tolstring(co, idx, len);
  return s ? dup_bytes(s, *len) : NULL;
}

/* After a job that moved BIG_JOB_BYTES or more: a full collection frees
 * its input and output at once, and once the executor has been idle for
 * IDLE_TRIM_S the allocator gives the free memory back to the system
 * (trim_idle), so that the worker's RSS follows the jobs in flight and
 * not the largest it ever ran. Not at once: memory given back is paid for
 * again, page by page, by the next big job. */
static void release_memory(struct rp_executor *e)
{
  lua_gc(e->vm.L, LUA_GCCOLLECT);
  e->trim_at = rp_clock_now() + IDLE_TRIM_S;
}

/* Gives free memory back to the system once trim_at has passed with no
 * job running; a job running postpones it. */
static void trim_idle(struct rp_executor *e)
{
  double t = rp_clock_now();
  if (e->trim_at <= 0 || t < e->trim_at)
    return;
  if (e->slots) {
    e->trim_at = t + IDLE_TRIM_S;
    return;
  }
  e->trim_at = 0;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

/* Resumes a job's thread with nargs values on its stack and handles what
 * comes back: a sleep, the end of the job, or an error. */
static void resume(struct rp_executor *e, struct slot *s, int nargs)
{
  lua_State *co = s->co;
  struct rp_wait w;
  int n = 0;
  int status;
  e->current = s;
  s->resumed_at = rp_clock_now();
  watch(e, s);
  status = rp_runner_resume(&e->vm.host, co, e->vm.L, nargs, &n, &w);
  watch(e, NULL);
  e->current = NULL;
  if (status == LUA_YIELD && w.kind == RP_WAIT_HTTP) {
    struct rp_http *h = w.http;
    s->want_body = w.want_body;
    if (!h->multi) {
      h->multi = e->multi;
      curl_multi_add_handle(e->multi, h->easy);
    }
    s->http = h;
    return;
  }
  if (status == LUA_YIELD) {
    s->wake_at = rp_clock_now() + w.seconds;
    return;
  }
  if (atomic_load(&s->stop) || s->timed_out) {
    /* Cut short, however the runner ended (it may have caught the hook's
     * error as a handler error and finished normally). */
    int rebuild = s->cut;
    lua_pop(co, status == LUA_OK ? n : 0);
    cut_short(e, s);
    after_job(e, rebuild);
    return;
  }
  if (status == LUA_OK && n >= 3) {
    size_t len = 0;
    char *body = take_body(e, co, -n, &len);
    int is_stream = lua_toboolean(co, -n + 1);
    int refresh = lua_toboolean(co, -n + 2);
    int failed = n >= 4 && lua_toboolean(co, -n + 3);
    int pod = stop_pod(co, -n + 2);
    int big = len >= BIG_JOB_BYTES || s->text_len >= BIG_JOB_BYTES;
    lua_pop(co, n);
    if (!body) {
      rp_log(RP_LOG_ERROR, s->id, "out of memory: the result was lost");
      body = error_result(e, s->id, s->id_len, "MemoryError", NULL, &len);
      failed = 1;
    }
    push_done(e, s, (struct rp_out){ .body = body, .len = len,
              .is_stream = is_stream, .failed = failed, .stop_pod = pod });
    free_slot(e, s);
    if (big)
      release_memory(e);
    /* A pod refresh replaces the whole process: the jobs in flight end in
     * this VM and no new one comes, so it is not rebuilt. */
    after_job(e, refresh && !pod);
    if (pod)
      atomic_store(&e->accepting, 0);
    return;
  }
  {
    const char *msg = lua_tostring(co, -1);
    int oom = e->vm.alloc.exceeded;
    char why[512];
    size_t len = 0;
    char *body;
    snprintf(why, sizeof(why), "%s", msg ? msg : "job runner failed");
    rp_log(RP_LOG_ERROR, s->id, "job runner failed: %s", why);
    if (oom) {
      /* The runner itself passed the memory cap (encoding a large result,
       * say): let go of the job's memory first, then report a MemoryError
       * as for a handler that passed it. */
      luaL_unref(e->vm.L, LUA_REGISTRYINDEX, s->ref);
      s->ref = LUA_NOREF;
      s->co = NULL;
    }
    body = error_result(e, s->id, s->id_len,
                        oom ? "MemoryError" : "RuntimeError",
                        oom ? NULL : why, &len);
    push_done(e, s, (struct rp_out){ .body = body, .len = len,
              .failed = 1 });
    free_slot(e, s);
    after_job(e, 1);
  }
}

static void start_job(struct rp_executor *e, struct pending *p)
{
  lua_State *L = e->vm.L;
  struct slot *s = calloc(1, sizeof(*s));
  int top = lua_gettop(L);
  int rc;
  if (!s) {
    rp_log(RP_LOG_ERROR, p->id, "out of memory: job dropped");
    atomic_fetch_sub(&e->load, 1);
    push_dropped(e, p->id, p->id_len);
    return;
  }
  s->id = p->id;
  s->id_len = p->id_len;
  s->text_len = p->len;
  s->ref = LUA_NOREF;
  atomic_init(&s->stop, 0);
  s->seconds = e->cfg.timeout;
  if (s->seconds > 0)
    s->deadline = rp_clock_now() + s->seconds;
  pthread_mutex_lock(&e->mu);
  s->next = e->slots;
  e->slots = s;
  pthread_mutex_unlock(&e->mu);
  lua_pushcfunction(L, setup);
  lua_pushlightuserdata(L, p);
  lua_pushlightuserdata(L, (void *)runner(e));
  lua_pushboolean(L, !e->cfg.local_test);
  rc = lua_pcall(L, 3, 1, 0);
  p->id = NULL;               /* the slot's now */
  /* The VM holds the job now (decoded, or as its string): its bytes go
   * back before the handler runs, not after it. */
  free(p->text);
  p->text = NULL;
  if (rc != LUA_OK) {
    size_t len = 0;
    char *body;
    rp_log(RP_LOG_ERROR, s->id, "cannot start the job: %s",
           lua_tostring(L, -1));
    lua_settop(L, top);
    body = error_result(e, s->id, s->id_len, "RuntimeError",
                        "cannot start the job", &len);
    push_done(e, s, (struct rp_out){ .body = body, .len = len,
              .failed = 1 });
    free_slot(e, s);
    after_job(e, 1);
    return;
  }
  s->ref = (int)lua_tointeger(L, -1);
  lua_settop(L, top);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
  s->co = lua_tothread(L, -1);
  lua_pop(L, 1);
  resume(e, s, 3);
}

static void ask_concurrency(struct rp_executor *e, int current)
{
  lua_State *L = e->vm.L;
  int top = lua_gettop(L);
  char err[256];
  int value = current;
  if (rp_vm_push_function(L, "runpod.internal.worker", "concurrency", err,
                          sizeof(err)) == RP_OK) {
    lua_pushinteger(L, current);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_isinteger(L, -1))
      value = (int)lua_tointeger(L, -1);
  }
  lua_settop(L, top);
  push(e, NULL, 0, &(struct rp_out){ .kind = RP_OUT_CONCURRENCY,
       .value = value });
}

static void refresh(struct rp_executor *e)
{
  char err[1024];
  double t0 = rp_clock_now();
  if (rp_vm_refresh(&e->vm, err, sizeof(err)) != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "cannot rebuild the VM: %s", err);
    push(e, NULL, 0, &(struct rp_out){ .kind = RP_OUT_FATAL });
    e->quit = QUIT_DROP;
    return;
  }
  rp_log(RP_LOG_DEBUG, NULL, "executor %d: VM rebuilt in %.3f ms",
         e->cfg.index, (rp_clock_now() - t0) * 1e3);
  e->needs_refresh = 0;
  atomic_store(&e->accepting, 1);
  e->cfg.out->wake(e->cfg.out->wake_ud);   /* it may take jobs again */
}

/* The earliest time a waiting job needs attention, or 0 for none. */
static double next_wake(struct rp_executor *e)
{
  double t = e->slots ? 0 : e->trim_at;
  for (struct slot *s = e->slots; s; s = s->next) {
    double w = s->wake_at;
    if (s->deadline > 0 && (w <= 0 || s->deadline < w))
      w = s->deadline;
    if (w > 0 && (t == 0 || w < t))
      t = w;
  }
  return t;
}

/* Waits, with e->mu released, until the HTTP requests move, another
 * thread wakes us (curl_multi_wakeup: a job, a stop, a question) or
 * 'until' passes. */
static void wait_for_work(struct rp_executor *e, double until)
{
  int ms = 1000;
  if (until > 0) {
    double left = until - rp_clock_now();
    ms = left <= 0 ? 0 : left > 1 ? 1000 : (int)(left * 1000) + 1;
  }
  pthread_mutex_unlock(&e->mu);
  curl_multi_poll(e->multi, NULL, 0, ms, NULL);
  pthread_mutex_lock(&e->mu);
}

/* Moves the HTTP transfers on and resumes the jobs whose request has what
 * they wait for. */
static void serve_http(struct rp_executor *e)
{
  int running;
  int left;
  CURLMsg *m;
  curl_multi_perform(e->multi, &running);
  while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
    struct rp_http *h = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
    if (h)
      rp_http_finish(h, m->data.result);
  }
  for (struct slot *s = e->slots, *next; s; s = next) {
    next = s->next;
    if (s->http && rp_http_ready(s->http, s->want_body)) {
      s->http = NULL;
      resume(e, s, 0);
    }
  }
}

/* Whether the id id[0..len) is p's. */
static int same_id(const char *id, size_t len, const struct pending *p)
{
  return len == p->id_len && memcmp(id, p->id, len) == 0;
}

/* Files incoming jobs (in arrival order) to the held list and applies
 * incoming stops; 'in' is newest first. */
static void take_inbox(struct rp_executor *e, struct pending *in)
{
  struct pending *order = NULL;
  while (in) {
    struct pending *next = in->next;
    in->next = order;
    order = in;
    in = next;
  }
  while (order) {
    struct pending *p = order;
    order = p->next;
    p->next = NULL;
    if (p->text) {
      if (e->held_tail)
        e->held_tail->next = p;
      else
        e->held = p;
      e->held_tail = p;
      continue;
    }
    for (struct slot *s = e->slots; s; s = s->next) {
      if (same_id(s->id, s->id_len, p) && (s->wake_at > 0 || s->http)) {
        end_waiting(e, s);          /* waiting: ends now */
        break;
      }
    }
    for (struct pending *h = e->held; h; h = h->next) {
      if (same_id(h->id, h->id_len, p)) {
        free(h->text);              /* not started: never will be */
        h->text = NULL;
      }
    }
    free(p->id);
    free(p);
  }
}

/* Starts the held jobs, unless the VM must be rebuilt first. Before each,
 * the stops asked meanwhile apply: a job held behind a busy one and
 * asked to stop never starts. */
static void start_held(struct rp_executor *e)
{
  while (e->held && !e->needs_refresh) {
    struct pending *p;
    pthread_mutex_lock(&e->mu);
    p = e->inbox;
    e->inbox = NULL;
    pthread_mutex_unlock(&e->mu);
    take_inbox(e, p);
    p = e->held;
    e->held = p->next;
    if (!e->held)
      e->held_tail = NULL;
    if (p->text) {
      start_job(e, p);
    } else {
      rp_log(RP_LOG_INFO, p->id, "Stopped on request before it started.");
      push_dropped(e, p->id, p->id_len);
      atomic_fetch_sub(&e->load, 1);
    }
    free(p->id);
    free(p->text);
    free(p);
  }
}

/* Whether the thread has something to do right now (under mu). */
static int ready(struct rp_executor *e, double wake)
{
  if (e->inbox || e->ask_concurrency || e->ended ||
      (wake > 0 && wake <= rp_clock_now()) ||
      (e->needs_refresh && !e->slots) || (e->held && !e->needs_refresh))
    return 1;
  for (struct slot *s = e->slots; s; s = s->next)
    if (s->http && rp_http_ready(s->http, s->want_body))
      return 1;          /* bytes that arrived while the job was running */
  return 0;
}

/* Files a job this executor took itself with the held jobs, which
 * start_held starts in order. */
static void hold(struct rp_executor *e, struct pending *p)
{
  atomic_fetch_add(&e->load, 1);
  if (e->held_tail)
    e->held_tail->next = p;
  else
    e->held = p;
  e->held_tail = p;
}

/* Takes the next queued job from rp_direct in the place of one that
 * ended and files it with the held jobs, which start_held starts (a stop
 * for it that comes later finds it held or running: the job loop
 * forwards a stop for a job it does not know yet to every executor).
 * Tells the job loop (RP_OUT_TAKEN) ahead of the end of the
 * job it replaces, so that the loop never counts a place free that is
 * not. Returns 1 when a job was taken. */
static int take_next(struct rp_executor *e, int lazy)
{
  struct rp_direct *d = e->cfg.out->direct;
  struct pending *p = NULL;
  char *text = NULL;
  char *id = NULL;
  size_t len = 0;
  size_t id_len = 0;
  if (d->take(d->ud, &text, &len, &id, &id_len) != 1)
    return 0;
  if (id)
    p = calloc(1, sizeof(*p));
  if (!p) {
    /* Not one to start as it is: the job loop checks and dispatches it
     * as a job-take answer, now. */
    free(id);
    push(e, NULL, 0, &(struct rp_out){ .kind = RP_OUT_TAKEN, .body = text,
         .len = len });
    return 1;
  }
  p->id = id;
  p->id_len = id_len;
  p->text = text;
  p->len = len;
  hold(e, p);
  push(e, id, id_len, &(struct rp_out){ .kind = RP_OUT_TAKEN,
       .lazy = lazy });
  return 1;
}

/* Over HTTP: waits for the job-take under way and tells the job loop
 * what came of it, which ends the place's reservation (RP_OUT_TAKEN with
 * taking set): one job to start as it is is filed with the held jobs and
 * put on the ping's list; any other answer goes to the loop as the
 * request, for its handling of a job-take answer; none (given up at
 * shutdown) just ends the reservation. */
static void end_take(struct rp_executor *e)
{
  const struct rp_job_server *js = e->cfg.out->direct->http;
  double sent;
  struct rp_req *r = rp_job_link_end_take(&e->link, js, &sent);
  struct pending *p = NULL;
  char *id = NULL;
  size_t id_len = 0;
  if (r && r->result == CURLE_OK && r->status >= 200 && r->status < 300 &&
      r->status != 204 &&
      rp_wire_lone_job(r->resp.data ? r->resp.data : "", r->resp.len, &id,
                       &id_len) && (p = calloc(1, sizeof(*p))) != NULL &&
      (p->text = rp_buf_steal(&r->resp, &p->len)) != NULL) {
    rp_req_free(r);
    p->id = id;
    p->id_len = id_len;
    rp_heartbeat_add_job(js->heartbeat, id, id_len);
    hold(e, p);
    push(e, id, id_len, &(struct rp_out){ .kind = RP_OUT_TAKEN,
         .taking = 1, .listed = 1, .lazy = 1 });
    return;
  }
  free(p);
  free(id);
  push(e, NULL, 0, &(struct rp_out){ .kind = RP_OUT_TAKEN, .taking = 1,
       .attempt = r, .at = sent });
}

/* Over HTTP: posts the result of the job x on this thread's connection
 * and, once it is delivered, takes the next job when the loop lets this
 * executor take ('take'), as the Python SDK takes the next job only once
 * the result is sent; then tells the loop of the end: delivered (taken
 * off the ping's list), or the result and its failed attempt for the
 * loop's retries (no job is taken then). While the take is under way the
 * loop counts the place as taken (taking), and the end needs no wake. */
static void post_result(struct rp_executor *e, struct ended *x, int take)
{
  const struct rp_job_server *js = e->cfg.out->direct->http;
  struct rp_out what = { .kind = RP_OUT_DONE, .is_stream = x->is_stream,
                         .stop_pod = x->stop_pod };
  int took = 0;
  struct rp_req *failed = NULL;
  double sent = 0;
  if (rp_job_link_post(&e->link, js, x->id, x->id_len, x->is_stream,
                       x->body, x->len, &failed, &sent)) {
    rp_heartbeat_remove_job(js->heartbeat, x->id, x->id_len);
    free(x->body);
    what.unlisted = 1;
    took = take && rp_job_link_begin_take(&e->link, js, 0) == RP_OK;
  } else {
    if (failed)                 /* an attempt made: the loop goes on */
      atomic_fetch_add(&e->cfg.out->direct->owed, 1);
    what.body = x->body;
    what.len = x->len;
    what.attempt = failed;
    what.at = sent;
  }
  x->body = NULL;
  what.taking = took;
  what.lazy = took;
  push(e, x->id, x->id_len, &what);
  if (took)
    end_take(e);
}

/* Tells the job loop of the jobs that ended with their results delivered
 * directly (push_done), each after taking the next queued job in its
 * place when the loop allows it and this executor takes jobs: then
 * neither message wakes the loop (handoff 2), and a steady stream of
 * jobs runs with no thread hop through it. Over HTTP it posts their
 * results first (post_result). */
static void hand_off(struct rp_executor *e)
{
  int run;
  pthread_mutex_lock(&e->mu);
  run = e->quit == RUN;
  pthread_mutex_unlock(&e->mu);
  while (e->ended) {
    struct ended *x = e->ended;
    int mode = atomic_load(&e->cfg.out->direct->handoff);
    int may = run && mode && !atomic_load(&e->cfg.out->direct->closed) &&
              !atomic_load(&e->cfg.out->direct->owed) &&
              atomic_load(&e->accepting) && !e->needs_refresh;
    int took;
    e->ended = x->next;
    if (x->body) {
      post_result(e, x, may && !x->stop_pod);
      free(x->id);
      free(x);
      continue;
    }
    took = may && take_next(e, mode == 2);
    push(e, x->id, x->id_len, &(struct rp_out){ .kind = RP_OUT_DONE,
         .lazy = took && mode == 2 });
    free(x->id);
    free(x);
  }
}

static void *thread_main(void *arg)
{
  struct rp_executor *e = arg;
  pthread_mutex_lock(&e->mu);
  for (;;) {
    struct pending *in;
    int ask;
    double t;
    if (e->quit == QUIT_DROP || (e->quit == QUIT_FINISH && !e->slots &&
                                 !e->inbox && !e->held && !e->ended))
      break;
    t = next_wake(e);
    if (!ready(e, t))
      wait_for_work(e, t);
    in = e->inbox;
    e->inbox = NULL;
    ask = e->ask_concurrency;
    e->ask_concurrency = 0;
    pthread_mutex_unlock(&e->mu);

    take_inbox(e, in);
    if (ask)
      ask_concurrency(e, ask);
    serve_http(e);
    t = rp_clock_now();
    for (struct slot *s = e->slots, *next; s; s = next) {
      next = s->next;
      if (s->deadline > 0 && t >= s->deadline) {
        end_waiting(e, s);          /* out of time while it waited */
      } else if (s->wake_at > 0 && t >= s->wake_at) {
        s->wake_at = 0;
        resume(e, s, 0);
      }
    }
    /* The loop hears of the jobs that ended before a rebuild of the VM
     * (which may take as long as the script's load) or new starts: until
     * then it counts them as running, may take them for stuck and keeps
     * them in the ping's list. */
    hand_off(e);
    if (e->needs_refresh && !e->slots && e->quit != QUIT_DROP)
      refresh(e);
    if (e->quit != QUIT_DROP)
      start_held(e);
    hand_off(e);
    trim_idle(e);
    pthread_mutex_lock(&e->mu);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

int rp_executor_start(struct rp_executor **out,
                      const struct rp_executor_config *c, char *err,
                      size_t errlen)
{
  struct rp_executor *e = calloc(1, sizeof(*e));
  int rc;
  *out = NULL;
  if (!e)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  e->cfg = *c;
  e->host.emit = host_emit;
  e->host.time_remaining = host_time_remaining;
  e->host.allow_fitness = host_allow_fitness;
  e->host.ud = e;
  e->cfg.vm.host = &e->host;
  atomic_init(&e->load, 0);
  atomic_init(&e->accepting, 1);
  pthread_mutex_init(&e->mu, NULL);
  e->multi = curl_multi_init();
  if (!e->multi) {
    rp_executor_free(e);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  rc = rp_vm_open(&e->vm, &e->cfg.vm, err, errlen);
  if (rc != RP_OK) {
    rp_executor_free(e);
    return rc;
  }
  *out = e;
  return RP_OK;
}

/* Starts the thread once the caller has read what it needs of the VM. */
static int ensure_thread(struct rp_executor *e)
{
  if (e->started)
    return 0;
  if (pthread_create(&e->thread, NULL, thread_main, e) != 0)
    return -1;
  e->started = 1;
  return 0;
}

double rp_executor_config_number(struct rp_executor *e, const char *key,
                                 double dflt)
{
  lua_State *L = e->vm.L;
  int top = lua_gettop(L);
  double v = dflt;
  rp_vm_push_config(L);
  if (lua_istable(L, -1)) {
    int t = lua_getfield(L, -1, key);
    if (t == LUA_TNUMBER)
      v = lua_tonumber(L, -1);
    else if (t == LUA_TFUNCTION)
      v = 1;                        /* present */
  }
  lua_settop(L, top);
  return v;
}

double rp_executor_setting(struct rp_executor *e, const struct rp_setting *env,
                           const char *key, double dflt)
{
  return env->set ? env->number : rp_executor_config_number(e, key, dflt);
}

/* Queues a job (block: the malloc'ed block holding its text at off, len
 * bytes, owned from here on, also on failure) or a stop (block NULL). */
static int enqueue(struct rp_executor *e, const char *id, size_t id_len,
                   char *block, size_t off, size_t len)
{
  struct pending *p = calloc(1, sizeof(*p));
  if (!p) {
    free(block);
    return RP_ENOMEM;
  }
  p->id = dup_bytes(id, id_len);
  p->id_len = id_len;
  p->text = block;
  p->off = off;
  p->len = len;
  if (!p->id || ensure_thread(e) != 0) {
    free(p->id);
    free(p->text);
    free(p);
    return RP_ENOMEM;
  }
  pthread_mutex_lock(&e->mu);
  p->next = e->inbox;
  e->inbox = p;
  pthread_mutex_unlock(&e->mu);
  curl_multi_wakeup(e->multi);
  return RP_OK;
}

int rp_executor_submit_block(struct rp_executor *e, const char *job_id,
                             size_t id_len, char *block, size_t off,
                             size_t len)
{
  int rc;
  atomic_fetch_add(&e->load, 1);
  rc = enqueue(e, job_id, id_len, block, off, len);
  if (rc != RP_OK)
    atomic_fetch_sub(&e->load, 1);
  return rc;
}

int rp_executor_submit(struct rp_executor *e, const char *job_id,
                       size_t id_len, const char *job_text, size_t len)
{
  char *copy = dup_bytes(job_text, len);
  if (!copy)
    return RP_ENOMEM;
  return rp_executor_submit_block(e, job_id, id_len, copy, 0, len);
}

void rp_executor_stop_job(struct rp_executor *e, const char *job_id,
                          size_t id_len)
{
  pthread_mutex_lock(&e->mu);
  for (struct slot *s = e->slots; s; s = s->next)
    if (s->id_len == id_len && memcmp(s->id, job_id, id_len) == 0) {
      atomic_store(&s->stop, 1);    /* a running job: its hook sees it */
      if (s->stop_at == 0)
        s->stop_at = rp_clock_now();
    }
  pthread_mutex_unlock(&e->mu);
  enqueue(e, job_id, id_len, NULL, 0, 0);  /* a waiting job: ended there */
}

double rp_executor_overdue(struct rp_executor *e, char **id, size_t *id_len,
                           int *timed_out)
{
  double due = 0;
  *id = NULL;
  *id_len = 0;
  *timed_out = 0;
  pthread_mutex_lock(&e->mu);
  if (e->running) {
    const struct slot *s = e->running;
    due = s->stop_at;
    if (s->deadline > 0 && (due == 0 || s->deadline < due)) {
      due = s->deadline;
      *timed_out = s->stop_at == 0;
    }
    if (due > 0) {
      *id = dup_bytes(s->id, s->id_len);
      *id_len = s->id_len;
    }
  }
  pthread_mutex_unlock(&e->mu);
  return due;
}

void rp_executor_ask_concurrency(struct rp_executor *e, int current)
{
  if (ensure_thread(e) != 0)
    return;
  pthread_mutex_lock(&e->mu);
  e->ask_concurrency = current > 0 ? current : 1;
  pthread_mutex_unlock(&e->mu);
  curl_multi_wakeup(e->multi);
}

int rp_executor_fitness(struct rp_executor *e, double seconds, char *check,
                        size_t checklen, char *err, size_t errlen)
{
  lua_State *L = e->vm.L;
  char why[256];
  struct slot s;
  int n = 0;
  int rc;
  /* A slot of its own, so that the jobs' hook bounds the checks; the
   * threads rp_runner_call makes inherit the hook from L. */
  memset(&s, 0, sizeof(s));
  atomic_init(&s.stop, 0);
  s.fitness = 1;
  s.seconds = seconds;
  s.deadline = rp_clock_now() + seconds;
  e->current = &s;
  lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
  rc = rp_runner_call(L, "runpod.internal.worker", "fitness", 0, NULL, &n, err,
                      errlen);
  lua_sethook(L, NULL, 0, 0);
  e->current = NULL;
  if (rc != RP_OK) {
    /* Cut short (the time limit, a bad yield): "<type>: <message>", as a
     * check's own error, with the traceback at DEBUG. */
    rp_log(RP_LOG_DEBUG, NULL, "Traceback:\n%s", err);
    err[strcspn(err, "\n")] = '\0';
    snprintf(why, sizeof(why), "%s", err);
    snprintf(err, errlen, "%s: %s", s.timed_out ? "TimeoutError" : "LuaError",
             why);
  } else {
    if (n < 1 || !lua_toboolean(L, -n))
      rc = rp_fail(RP_ELUA, err, errlen, "%s", n >= 2 &&
                   lua_isstring(L, -n + 1) ? lua_tostring(L, -n + 1)
                                           : "fitness check failed");
    lua_pop(L, n);
  }
  if (rc == RP_OK)
    return rc;
  /* The check's name, also when the checks were cut short. */
  snprintf(check, checklen, "fitness_check");
  if (rp_runner_call(L, "runpod.internal.worker", "fitness_failed", 0, NULL,
                     &n, why, sizeof(why)) == RP_OK) {
    if (n >= 1 && lua_type(L, -n) == LUA_TSTRING)
      snprintf(check, checklen, "%s", lua_tostring(L, -n));
    lua_pop(L, n);
  }
  return rc;
}

struct rp_vm *rp_executor_vm(struct rp_executor *e)
{
  return &e->vm;
}

void rp_executor_rebuild_due(struct rp_executor *e)
{
  if (e->needs_refresh && !e->started)
    refresh(e);
}

void rp_executor_set_timeout(struct rp_executor *e, double seconds)
{
  e->cfg.timeout = seconds > 0 ? seconds : 0;
}

void rp_executor_set_recycle(struct rp_executor *e, unsigned long jobs,
                             size_t heap)
{
  e->cfg.recycle_jobs = jobs;
  e->cfg.recycle_heap = heap;
}

int rp_executor_load(struct rp_executor *e)
{
  return atomic_load(&e->load);
}

int rp_executor_accepting(struct rp_executor *e)
{
  return atomic_load(&e->accepting);
}

void rp_executor_shutdown(struct rp_executor *e, int drop)
{
  if (!e)
    return;
  pthread_mutex_lock(&e->mu);
  e->quit = drop ? QUIT_DROP : QUIT_FINISH;
  if (drop)
    for (struct slot *s = e->slots; s; s = s->next)
      atomic_store(&s->stop, 1);
  pthread_mutex_unlock(&e->mu);
  curl_multi_wakeup(e->multi);
  if (e->started) {
    pthread_join(e->thread, NULL);
    e->started = 0;
  }
}

void rp_executor_free(struct rp_executor *e)
{
  struct pending *p;
  if (!e)
    return;
  rp_executor_shutdown(e, 1);
  while (e->slots)
    free_slot(e, e->slots);
  while ((p = e->inbox) != NULL) {
    e->inbox = p->next;
    free(p->id);
    free(p->text);
    free(p);
  }
  while ((p = e->held) != NULL) {
    e->held = p->next;
    free(p->id);
    free(p->text);
    free(p);
  }
  while (e->ended) {
    struct ended *x = e->ended;
    e->ended = x->next;
    free(x->id);
    free(x->body);
    free(x);
  }
  rp_job_link_free(&e->link);
  rp_vm_close(&e->vm);          /* frees requests, detaching them */
  if (e->multi)
    curl_multi_cleanup(e->multi);
  pthread_mutex_destroy(&e->mu);
  free(e);
}
