/* serverless.c - see serverless.h. */
#include "worker/serverless.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "worker/executor.h"
#include "worker/heartbeat.h"
#include "base/ident.h"
#include "lua/ljson.h"
#include "base/log.h"
#include "net/req.h"
#include "base/rp.h"
#include "net/wire.h"

#define MAX_THREADS 256
/* How long a job-take or job-stop long poll may be held by the server. */
#define POLL_TIMEOUT_MS 90000L
/* How long a result is retried before it is given up (logged as ERROR). */
#define DELIVERY_DEADLINE_S 600.0
/* RunPod's answer to 429: wait this long before the next take. */
#define TOO_MANY_S 5.0
/* A job-take answered after this long was held open by the server (a long
 * poll), as opposed to answered at once. */
#define HELD_POLL_S 0.25

enum kind { TAKE, STOP, POST };
enum post_kind { P_STREAM, P_PROGRESS, P_FINAL };

struct post {
  enum post_kind kind;
  char *body;
  size_t len;
  int is_stream;
  double first_try;         /* 0 until the first attempt */
  struct post *next;
};

struct job {
  char *id;
  int executor;
  int running;              /* until the executor reports the end */
  int finished;             /* the final result is queued (or not due) */
  double started;
  double stop_asked;        /* when a stop was asked, 0 if never */
  struct post *head;
  struct post *tail;
  struct rp_req *inflight;
  double retry_at;
  struct rp_backoff backoff;
  struct job *next;
};

struct state {
  const char *take_tmpl;
  const char *done_tmpl;
  const char *stream_tmpl;
  const char *api_key;
  const char *worker_id;
  CURLM *multi;
  lua_State *codec;          /* a bare state, for JSON only */
  struct rp_outbox out;
  struct rp_executor *ex[MAX_THREADS];
  int nex;
  struct rp_heartbeat *heartbeat;
  struct job *jobs;
  int njobs;
  int concurrency;
  int have_concurrency;
  int has_modifier;          /* start's config has concurrency_modifier */
  struct rp_req *take;
  double take_at;
  double take_sent;
  struct rp_backoff take_backoff;
  struct rp_backoff empty_backoff;
  struct rp_req *stop;
  double stop_at;
  double stop_sent;
  struct rp_backoff stop_backoff;
  double timeout;            /* per job, 0 = none */
  double post_timeout;       /* seconds one post attempt may take */
  double stop_grace;
  double grace;
  double idle_exit;          /* TERMINATE_IDLE_TIME, 0 = never */
  double last_activity;
  double t0;
  int first_take_logged;
  int shutting;
  double shutdown_deadline;
  int exit_code;
};

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
  int saved = errno;
  got_signal = sig;
  if (signal_pipe[1] >= 0 && write(signal_pipe[1], "x", 1) < 0)
    (void)0;                  /* the pipe is full: it will be read anyway */
  errno = saved;
}

static void wake(void *ud)
{
  struct state *s = ud;
  curl_multi_wakeup(s->multi);
}

/* ---- jobs and their ordered post queues ---------------------------- */

static struct job *find_job(struct state *s, const char *id)
{
  for (struct job *j = s->jobs; j; j = j->next)
    if (strcmp(j->id, id) == 0)
      return j;
  return NULL;
}

static void free_posts(struct post *p)
{
  while (p) {
    struct post *next = p->next;
    free(p->body);
    free(p);
    p = next;
  }
}

/* Tells the heartbeat which jobs are in flight. */
static void publish_jobs(struct state *s)
{
  struct rp_buf b = RP_BUF_INIT((size_t)16 * 1024 * 1024);
  for (struct job *j = s->jobs; j; j = j->next) {
    if (b.len)
      rp_buf_puts(&b, ",");
    rp_buf_puts(&b, j->id);
  }
  rp_heartbeat_set_jobs(s->heartbeat, b.data ? b.data : "");
  rp_buf_free(&b);
}

static void remove_job(struct state *s, struct job *j)
{
  struct job **pp;
  for (pp = &s->jobs; *pp; pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      break;
    }
  }
  s->njobs--;
  if (j->inflight) {
    curl_multi_remove_handle(s->multi, j->inflight->easy);
    rp_req_free(j->inflight);
  }
  free_posts(j->head);
  free(j->id);
  free(j);
  s->last_activity = rp_clock_now();
  publish_jobs(s);
}

/* Appends a post to the job's queue. Takes ownership of body. */
static void queue_post(struct job *j, enum post_kind kind, char *body,
                       size_t len, int is_stream)
{
  struct post *p = calloc(1, sizeof(*p));
  if (!p) {
    rp_log(RP_LOG_ERROR, j->id, "out of memory: a post was lost");
    free(body);
    return;
  }
  p->kind = kind;
  p->body = body;
  p->len = len;
  p->is_stream = is_stream;
  if (j->tail)
    j->tail->next = p;
  else
    j->head = p;
  j->tail = p;
}

static const char *post_name(enum post_kind k)
{
  return k == P_STREAM ? "stream partial" : k == P_PROGRESS ? "progress"
         : "result";
}

static void start_post(struct state *s, struct job *j)
{
  struct post *p = j->head;
  char *url;
  struct rp_req *r;
  if (p->kind == P_STREAM)
    url = rp_wire_stream_url(s->stream_tmpl, j->id, s->worker_id);
  else
    url = rp_wire_done_url(s->done_tmpl, j->id, s->worker_id, p->is_stream);
  if (!url) {
    /* a job id that makes the URL pass 64 KiB: it can never be sent */
    rp_log(RP_LOG_ERROR, j->id, "giving up on the %s: its URL cannot be "
           "built", post_name(p->kind));
    j->head = p->next;
    if (!j->head)
      j->tail = NULL;
    p->next = NULL;
    free_posts(p);
    return;
  }
  /* Every post of a job and every attempt of it carries the job id as
   * X-Request-ID, as the Python SDK sends it, with the same body: a repeat
   * after an ambiguous time-out is recognisably the same delivery. */
  r = rp_req_new("POST", url, p->body, p->len, s->api_key, RP_CONTENT_FORM,
                 j->id, (long)(s->post_timeout * 1000));
  free(url);
  if (!r) {
    j->retry_at = rp_clock_now() + 1;
    return;
  }
  if (p->first_try == 0)
    p->first_try = rp_clock_now();
  r->kind = POST;
  r->ctx = j;
  j->inflight = r;
  curl_multi_add_handle(s->multi, r->easy);
}

static void post_done(struct rp_req *r)
{
  struct job *j = r->ctx;
  struct post *p = j->head;
  char what[CURL_ERROR_SIZE + 32];
  int transient = r->result != CURLE_OK || r->status == 408 ||
                  r->status == 429 || r->status >= 500;
  j->inflight = NULL;
  rp_req_describe(r, what, sizeof(what));
  if (r->result == CURLE_OK && r->status >= 200 && r->status < 300) {
    rp_backoff_reset(&j->backoff);
    if (p->kind == P_FINAL)
      rp_log(RP_LOG_DEBUG, j->id, "Results sent.");
  } else if (transient && rp_clock_now() - p->first_try < DELIVERY_DEADLINE_S) {
    double wait = rp_backoff_next(&j->backoff);
    rp_log(RP_LOG_WARN, j->id, "posting the %s failed (%s); retrying in "
           "%.1f s", post_name(p->kind), what, wait);
    j->retry_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  } else {
    rp_log(RP_LOG_ERROR, j->id, "giving up on the %s after %.0f s: %s",
           post_name(p->kind), rp_clock_now() - p->first_try, what);
  }
  rp_req_free(r);
  j->head = p->next;
  if (!j->head)
    j->tail = NULL;
  p->next = NULL;
  free_posts(p);
}

/* ---- messages from the executors ----------------------------------- */

static void handle_outbox(struct state *s)
{
  struct rp_out *m = rp_outbox_take(&s->out);
  while (m) {
    struct rp_out *next = m->next;
    struct job *j = m->job_id ? find_job(s, m->job_id) : NULL;
    m->next = NULL;
    switch (m->kind) {
    case RP_OUT_STREAM:
    case RP_OUT_PROGRESS:
      if (j && !j->finished) {
        queue_post(j, m->kind == RP_OUT_STREAM ? P_STREAM : P_PROGRESS,
                   m->body, m->len, 0);
        m->body = NULL;
      }
      break;
    case RP_OUT_DONE:
      if (j) {
        j->running = 0;
        j->finished = 1;
        if (m->body) {
          queue_post(j, P_FINAL, m->body, m->len, m->is_stream);
          m->body = NULL;
        }
      }
      break;
    case RP_OUT_CONCURRENCY:
      if (m->value != s->concurrency)
        rp_log(RP_LOG_INFO, NULL, "concurrency %d -> %d", s->concurrency,
               m->value);
      s->concurrency = m->value;
      s->have_concurrency = 1;
      break;
    case RP_OUT_FATAL:
      s->exit_code = 1;
      if (!s->shutting) {
        s->shutting = 1;
        s->shutdown_deadline = rp_clock_now();
      }
      break;
    }
    rp_out_free(m);
    m = next;
  }
}

/* ---- taking jobs ---------------------------------------------------- */

static int running_jobs(struct state *s)
{
  int n = 0;
  for (struct job *j = s->jobs; j; j = j->next)
    n += j->running;
  return n;
}

/* The executor for the next job: the least loaded of those taking jobs,
 * or with 'any' set, of all of them (a job already taken is never
 * dropped: an executor rebuilding its VM holds it until it is done). */
static struct rp_executor *pick_executor(struct state *s, int *index,
                                         int any)
{
  struct rp_executor *best = NULL;
  int best_ok = 0;
  for (int i = 0; i < s->nex; i++) {
    int ok = rp_executor_accepting(s->ex[i]);
    if (!ok && !any)
      continue;
    if (!best || ok > best_ok || (ok == best_ok &&
        rp_executor_load(s->ex[i]) < rp_executor_load(best))) {
      best = s->ex[i];
      best_ok = ok;
      *index = i;
    }
  }
  return best;
}

/* Checks one decoded job (on the codec's stack top) and hands it to an
 * executor. text is its JSON, or NULL to encode it here. [-0, +0] */
static void dispatch(struct state *s, const char *text, size_t len)
{
  lua_State *L = s->codec;
  char err[256];
  char idbuf[64];
  const char *id = NULL;
  struct job *j;
  struct rp_executor *e;
  int index = 0;
  int top = lua_gettop(L);
  (void)len;
  if (!lua_istable(L, -1)) {
    rp_log(RP_LOG_ERROR, NULL, "job-take: a job that is not a JSON object "
           "was skipped");
    return;
  }
  if (lua_getfield(L, -1, "id") == LUA_TSTRING) {
    id = lua_tostring(L, -1);
  } else if (lua_isinteger(L, -1)) {
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)lua_tointeger(L, -1));
    id = idbuf;
  }
  lua_getfield(L, top, "input");
  if (!id || lua_isnil(L, -1) ||
      (lua_islightuserdata(L, -1) && !lua_touserdata(L, -1))) {
    rp_log(RP_LOG_ERROR, id, "Job has missing field(s): %s%s%s.",
           id ? "" : "id", !id && lua_isnil(L, -1) ? ", " : "",
           lua_isnil(L, -1) || lua_islightuserdata(L, -1) ? "input" : "");
    lua_settop(L, top);
    return;
  }
  if (find_job(s, id)) {
    rp_log(RP_LOG_WARN, id, "job-take: job already in flight; skipped");
    lua_settop(L, top);
    return;
  }
  if (!text) {
    if (rp_json_encode(L, top, "job", RP_MAX_RESPONSE_BYTES, err,
                       sizeof(err)) != RP_OK) {
      rp_log(RP_LOG_ERROR, id, "job-take: %s", err);
      lua_settop(L, top);
      return;
    }
    text = lua_tostring(L, -1);
  }
  e = pick_executor(s, &index, 1);
  rp_log(RP_LOG_DEBUG, id, "Request ID added.");
  j = calloc(1, sizeof(*j));
  if (j)
    j->id = strdup(id);
  if (!e || !j || !j->id || rp_executor_submit(e, id, text) != RP_OK) {
    rp_log(RP_LOG_ERROR, id, "job-take: cannot start the job (%s)",
           e ? "out of memory" : "no executor free");
    if (j)
      free(j->id);
    free(j);
    lua_settop(L, top);
    return;
  }
  j->executor = index;
  j->running = 1;
  j->started = rp_clock_now();
  j->backoff.base = 0.2;
  j->backoff.cap = 10;
  j->next = s->jobs;
  s->jobs = j;
  s->njobs++;
  s->last_activity = rp_clock_now();
  lua_settop(L, top);
  publish_jobs(s);
}

static void take_done(struct state *s, struct rp_req *r)
{
  lua_State *L = s->codec;
  char what[CURL_ERROR_SIZE + 32];
  char err[256];
  double took = rp_clock_now() - s->take_sent;
  s->take = NULL;
  rp_req_describe(r, what, sizeof(what));
  if (r->result != CURLE_OK || (r->status != 200 && r->status != 204 &&
                                r->status != 400)) {
    double wait = r->status == 429 ? TOO_MANY_S
                  : rp_backoff_next(&s->take_backoff);
    rp_log(r->status == 429 ? RP_LOG_WARN : RP_LOG_ERROR, NULL,
           "Failed to get job: %s; retrying in %.1f s", what, wait);
    s->take_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->take_backoff);
  if (r->status != 200 || r->resp.len == 0) {
    /* No job. A server that answers at once must not make us spin: the
     * polls are spaced by a growing gap, counted from when each was sent.
     * A poll the server held has waited already; the next one goes at
     * once, so a job queued meanwhile is taken without delay. */
    if (took >= HELD_POLL_S)
      rp_backoff_reset(&s->empty_backoff);
    else
      s->take_at = s->take_sent + rp_backoff_next(&s->empty_backoff);
    rp_log(RP_LOG_TRACE, NULL, "No job (HTTP %ld).", r->status);
    rp_req_free(r);
    return;
  }
  if (rp_json_decode(L, r->resp.data, r->resp.len, err, sizeof(err))
      != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "job-take: the body is not JSON (%s); "
           "skipped", err);
    s->take_at = rp_clock_now() + rp_backoff_next(&s->empty_backoff);
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->empty_backoff);
  if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
    lua_pop(L, 1);            /* an array: a batch */
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      dispatch(s, NULL, 0);
      lua_pop(L, 1);
    }
  } else {
    dispatch(s, r->resp.data, r->resp.len);
  }
  lua_settop(L, 0);
  rp_req_free(r);
}

static void start_take(struct state *s, int free_slots)
{
  char *url = rp_wire_take_url(s->take_tmpl, s->worker_id, free_slots,
                               s->njobs > 0);
  struct rp_req *r = url ? rp_req_new("GET", url, NULL, 0, s->api_key,
                                      RP_CONTENT_JSON, NULL,
                                      POLL_TIMEOUT_MS) : NULL;
  free(url);
  if (!r) {
    s->take_at = rp_clock_now() + 1;
    return;
  }
  r->kind = TAKE;
  s->take = r;
  s->take_sent = rp_clock_now();
  if (!s->first_take_logged) {
    s->first_take_logged = 1;
    rp_log(RP_LOG_INFO, NULL, "Ready: first job-take %.1f ms after start.",
           (s->take_sent - s->t0) * 1e3);
  }
  curl_multi_add_handle(s->multi, r->easy);
  /* The modifier answers before the next take. */
  if (s->has_modifier)
    rp_executor_ask_concurrency(s->ex[0], s->concurrency);
}

/* ---- stopping jobs --------------------------------------------------- */

static void stop_done(struct state *s, struct rp_req *r)
{
  lua_State *L = s->codec;
  char err[256];
  s->stop = NULL;
  if (r->result != CURLE_OK || (r->status != 200 && r->status != 204)) {
    char what[CURL_ERROR_SIZE + 32];
    double wait = rp_backoff_next(&s->stop_backoff);
    rp_log(RP_LOG_DEBUG, NULL, "job-stop: %s; retrying in %.1f s",
           rp_req_describe(r, what, sizeof(what)), wait);
    s->stop_at = rp_clock_now() + wait;
    rp_req_free(r);
    return;
  }
  rp_backoff_reset(&s->stop_backoff);
  /* At most one poll a second, counted from when it was sent, for a
   * server that does not hold it; a held poll is followed at once. */
  s->stop_at = s->stop_sent + 1.0;
  if (r->status == 200 && rp_json_decode(L, r->resp.data, r->resp.len, err,
                                         sizeof(err)) == RP_OK) {
    if (lua_istable(L, -1) &&
        lua_getfield(L, -1, "jobsToStop") == LUA_TTABLE) {
      lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
      for (lua_Integer i = 1; i <= n; i++) {
        struct job *j;
        lua_rawgeti(L, -1, i);
        j = lua_isstring(L, -1) ? find_job(s, lua_tostring(L, -1)) : NULL;
        if (j && j->running && !j->stop_asked) {
          rp_log(RP_LOG_INFO, j->id, "Stop requested.");
          j->stop_asked = rp_clock_now();
          rp_executor_stop_job(s->ex[j->executor], j->id);
        }
        lua_pop(L, 1);
      }
    }
    lua_settop(L, 0);
  }
  rp_req_free(r);
}

static void start_stop_poll(struct state *s)
{
  char *url = rp_wire_stop_url(s->take_tmpl, s->worker_id);
  struct rp_req *r = url ? rp_req_new("GET", url, NULL, 0, s->api_key,
                                      RP_CONTENT_JSON, NULL,
                                      POLL_TIMEOUT_MS) : NULL;
  free(url);
  if (!r) {
    s->stop_at = rp_clock_now() + 1;
    return;
  }
  r->kind = STOP;
  s->stop = r;
  s->stop_sent = rp_clock_now();
  curl_multi_add_handle(s->multi, r->easy);
}

/* ---- the loop ------------------------------------------------------- */

static void cancel(struct state *s, struct rp_req **r)
{
  if (*r) {
    curl_multi_remove_handle(s->multi, (*r)->easy);
    rp_req_free(*r);
    *r = NULL;
  }
}

static void begin_shutdown(struct state *s, const char *why)
{
  if (s->shutting)
    return;
  rp_log(RP_LOG_INFO, NULL, "%s: no more jobs are taken; finishing %d in "
         "flight (grace %.0f s).", why, s->njobs, s->grace);
  s->shutting = 1;
  s->shutdown_deadline = rp_clock_now() + s->grace;
  cancel(s, &s->take);
  /* The stop poll goes on while jobs run: a job cancelled during the
   * grace period is stopped, not finished. */
}

/* A job that was asked to stop (or ran out of time) and is still running
 * after the grace period is stuck in C code: nothing in the process can
 * interrupt it, so the worker exits for the platform to replace it. */
static int stuck(struct state *s)
{
  double t = rp_clock_now();
  for (struct job *j = s->jobs; j; j = j->next) {
    double since = j->stop_asked;
    if (!j->running)
      continue;
    if (!since && s->timeout > 0 && t > j->started + s->timeout)
      since = j->started + s->timeout;
    if (since && t - since > s->stop_grace) {
      rp_log(RP_LOG_ERROR, j->id, "the job did not stop %.0f s after it was "
             "asked to (stuck in C code?); exiting so that the platform "
             "replaces this worker", t - since);
      return 1;
    }
  }
  return 0;
}

static void loop(struct state *s)
{
  for (;;) {
    double t;
    double next;
    int running;
    int still;
    int msgs;
    int again = 0;
    CURLMsg *msg;
    struct curl_waitfd wfd;
    char drain[64];

    handle_outbox(s);
    t = rp_clock_now();
    for (struct job *j = s->jobs, *nj; j; j = nj) {
      nj = j->next;
      if (!j->inflight && j->head && t >= j->retry_at)
        start_post(s, j);
      else if (!j->running && j->finished && !j->head && !j->inflight)
        remove_job(s, j);
    }
    /* After the delivered jobs are gone, so that the count is true. */
    if (got_signal && !s->shutting)
      begin_shutdown(s, got_signal == SIGINT ? "SIGINT" : "SIGTERM");
    if (stuck(s)) {
      /* Its thread cannot be joined: leave without cleaning up. */
      _exit(1);
    }
    if (s->shutting && (!s->jobs || t >= s->shutdown_deadline)) {
      for (struct job *j = s->jobs; j; j = j->next)
        rp_log(RP_LOG_ERROR, j->id, "shutting down with this job %s",
               j->running ? "still running" : "not yet delivered");
      break;
    }
    if (!s->shutting && s->idle_exit > 0 && !s->jobs &&
        t - s->last_activity > s->idle_exit)
      begin_shutdown(s, "TERMINATE_IDLE_TIME passed");
    running = running_jobs(s);
    if (!s->shutting && !s->take && t >= s->take_at && s->have_concurrency &&
        running < s->concurrency) {
      int dummy;
      if (pick_executor(s, &dummy, 0))
        start_take(s, s->concurrency - running);
    }
    if ((!s->shutting || running > 0) && !s->stop && t >= s->stop_at)
      start_stop_poll(s);

    curl_multi_perform(s->multi, &still);
    while ((msg = curl_multi_info_read(s->multi, &msgs)) != NULL) {
      struct rp_req *r;
      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
      rp_req_finish(r, msg->data.result);
      curl_multi_remove_handle(s->multi, r->easy);
      if (r->kind == TAKE || r->kind == STOP)
        again = 1;   /* its follow-up may be due now: no sleep first */
      if (r->kind == TAKE)
        take_done(s, r);
      else if (r->kind == STOP)
        stop_done(s, r);
      else
        post_done(r);
    }
    /* Sleep until curl, an executor, a signal or the next retry. */
    next = again ? t : t + 1.0;
    if (!s->take && s->take_at > t && s->take_at < next)
      next = s->take_at;
    if (!s->stop && s->stop_at > t && s->stop_at < next)
      next = s->stop_at;
    for (struct job *j = s->jobs; j; j = j->next)
      if (!j->inflight && j->head && j->retry_at < next)
        next = j->retry_at;
    wfd.fd = signal_pipe[0];
    wfd.events = CURL_WAIT_POLLIN;
    wfd.revents = 0;
    t = rp_clock_now();
    curl_multi_poll(s->multi, &wfd, 1,
                    next > t ? (int)((next - t) * 1000) + 1 : 0, NULL);
    if (wfd.revents)
      while (read(signal_pipe[0], drain, sizeof(drain)) > 0)
        continue;
  }
}

/* The variable's value when it is set, else the start key's (else
 * dflt). */
static int start_executors(struct state *s, const struct rp_vm_options *vm,
                           const struct rp_settings *env)
{
  struct rp_executor_config c;
  char err[1024];
  int threads;
  int rc;
  memset(&c, 0, sizeof(c));
  c.vm = *vm;
  c.out = &s->out;
  c.timeout = env->job_timeout.set ? env->job_timeout.number : 0;
  c.index = 0;
  rc = rp_executor_start(&s->ex[0], &c, err, sizeof(err));
  if (rc != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "%s", err);
    return rc;
  }
  s->nex = 1;
  rp_log(RP_LOG_INFO, NULL, "Handler script %s loaded (warm-up took "
         "%.3f s).", vm->script, rp_clock_now() - s->t0);
  /* start keys, overridden by the environment */
  c.timeout = rp_executor_setting(s->ex[0], &env->job_timeout, "timeout", 0);
  threads = (int)rp_executor_setting(s->ex[0], &env->worker_threads,
                                     "worker_threads", 1);
  if (threads < 1 || threads > MAX_THREADS)
    threads = threads < 1 ? 1 : MAX_THREADS;
  c.recycle_jobs = (unsigned long)rp_executor_config_number(
    s->ex[0], "recycle_jobs", 0);
  c.recycle_heap = (size_t)rp_executor_config_number(s->ex[0],
                                                     "recycle_heap", 0);
  s->timeout = c.timeout;
  /* Executor 0 was built before the config was known: rebuild it with
   * the final settings only if they differ. */
  if (c.timeout > 0 || c.recycle_jobs || c.recycle_heap) {
    rp_executor_free(s->ex[0]);
    s->ex[0] = NULL;
    rc = rp_executor_start(&s->ex[0], &c, err, sizeof(err));
    if (rc != RP_OK) {
      rp_log(RP_LOG_ERROR, NULL, "%s", err);
      return rc;
    }
  }
  for (int i = 1; i < threads; i++) {
    c.index = i;
    rc = rp_executor_start(&s->ex[i], &c, err, sizeof(err));
    if (rc != RP_OK) {
      rp_log(RP_LOG_ERROR, NULL, "%s", err);
      return rc;
    }
    s->nex++;
  }
  if (threads > 1)
    rp_log(RP_LOG_INFO, NULL, "%d executor threads, one VM each.", threads);
  return RP_OK;
}

/* Runs the fitness checks before the first take; a failure reports the
 * worker unhealthy on the ping URL. Returns 0 or -1. */
static int fitness(struct state *s, const char *ping_tmpl, double limit)
{
  char err[1024];
  if (rp_executor_fitness(s->ex[0], limit, err, sizeof(err)) == RP_OK)
    return 0;
  rp_log(RP_LOG_ERROR, NULL, "%s", err);
  if (s->api_key && *s->api_key && ping_tmpl && *ping_tmpl)
    rp_heartbeat_ping_once(ping_tmpl, s->worker_id, s->api_key,
                           "status=unhealthy");
  return -1;
}

int rp_serverless_run(const struct rp_vm_options *vm,
                      const struct rp_settings *env,
                      const struct rp_serverless_options *o)
{
  struct state st;
  struct state *s = &st;
  struct sigaction sa;
  int rc;
  long interval;
  const char *ping_tmpl = env->webhook_ping.text;

  memset(s, 0, sizeof(*s));
  s->t0 = rp_clock_now();
  s->take_tmpl = env->webhook_get_job.text;
  s->done_tmpl = env->webhook_post_output.text;
  s->stream_tmpl = env->webhook_post_stream.text;
  s->api_key = env->ai_api_key.text;
  s->worker_id = rp_worker_id();
  if (!s->done_tmpl || !*s->done_tmpl) {
    rp_log(RP_LOG_ERROR, NULL, "RUNPOD_WEBHOOK_POST_OUTPUT is not set; "
           "serverless mode needs it");
    return 1;
  }
  if (!s->stream_tmpl || !*s->stream_tmpl)
    s->stream_tmpl = s->done_tmpl;
  s->concurrency = 1;
  s->grace = env->shutdown_grace.number;
  s->post_timeout = env->post_timeout.number;
  s->stop_grace = env->stop_grace.number;
  s->idle_exit = env->idle_exit.number;
  s->take_backoff = (struct rp_backoff){ 0.5, 30, 0 };
  s->empty_backoff = (struct rp_backoff){ 0.05, 1, 0 };
  s->stop_backoff = (struct rp_backoff){ 1, 30, 0 };
  s->last_activity = s->t0;

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  s->multi = curl_multi_init();
  s->codec = luaL_newstate();
  if (!s->multi || !s->codec || pipe(signal_pipe) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "cannot set up serverless mode");
    rc = 1;
    goto done;
  }
  fcntl(signal_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
  curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
  rp_outbox_init(&s->out, wake, s);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  rc = start_executors(s, vm, env);
  if (rc != RP_OK)
    goto done;
  interval = (long)env->ping_interval.number;
  if (fitness(s, ping_tmpl, env->fitness_timeout.number) != 0) {
    rc = 1;
    goto done;
  }
  if (s->api_key && *s->api_key && env->pod_id.text && ping_tmpl &&
      *ping_tmpl)
    s->heartbeat = rp_heartbeat_start(ping_tmpl, s->worker_id, s->api_key,
                                      interval);
  else
    rp_log(RP_LOG_DEBUG, NULL, "Not deployed on RunPod (no API key, pod id "
           "or ping URL): pings will not be sent.");
  s->has_modifier = rp_executor_config_number(s->ex[0],
                                              "concurrency_modifier", 0) != 0;
  if (!s->has_modifier && s->nex > 1)
    s->concurrency = s->nex;            /* one job per executor thread */
  if (o && o->concurrency > 0) {
    s->concurrency = o->concurrency;    /* fixed by the caller */
    s->has_modifier = 0;
  }
  if (s->has_modifier)
    rp_executor_ask_concurrency(s->ex[0], s->concurrency);
  else
    s->have_concurrency = 1;
  loop(s);
  rc = s->exit_code;
done:
  if (s->take)
    cancel(s, &s->take);
  if (s->stop)
    cancel(s, &s->stop);
  while (s->jobs)
    remove_job(s, s->jobs);
  rp_heartbeat_stop(s->heartbeat);
  for (int i = 0; i < s->nex || (i < MAX_THREADS && s->ex[i]); i++)
    rp_executor_free(s->ex[i]);
  if (s->out.wake)
    rp_outbox_destroy(&s->out);
  if (s->codec)
    lua_close(s->codec);
  if (s->multi)
    curl_multi_cleanup(s->multi);
  curl_global_cleanup();
  for (int i = 0; i < 2; i++)
    if (signal_pipe[i] >= 0) {
      close(signal_pipe[i]);
      signal_pipe[i] = -1;
    }
  return rc;
}
