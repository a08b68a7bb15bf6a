/* serverless.c - see serverless.h. The loop, its phases, signals and the
 * life cycle; take.c and post.c do the job-take and the posts
 * (serverless_int.h). */
#include "worker/serverless.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/ident.h"
#include "base/log.h"
#include "base/proc.h"
#include "base/rp.h"
#include "net/wire.h"
#include "worker/exit.h"
#include "worker/health.h"
#include "worker/serverless_int.h"

/* The longest the result of a stuck job may take to post before the
 * worker exits. */
#define STUCK_POST_MS 5000L
/* The longest the loop sleeps with nothing due (it looks at the clock and
 * the signals at least this often). */
#define MAX_SLEEP_S 1.0
/* Connections to one host (the job server) at once: the two polls and the
 * posts of every job in flight share them. */
#define MAX_HOST_CONNECTIONS 64L
/* The retry schedules (seconds: first wait, the most): a failed job-take,
 * a job-take that found no job, a failed job-stop poll. */
static const struct rp_backoff TAKE_BACKOFF = { 0.5, 30, 0 };
static const struct rp_backoff EMPTY_BACKOFF = { 0.05, 1, 0 };
static const struct rp_backoff STOP_BACKOFF = { 1, 30, 0 };
/* While every place is taken, the script's concurrency_modifier is still
 * asked this often (runpod-python's take loop asks on each pass, once a
 * second when full), so that it can raise the limit while jobs run. */
#define MODIFIER_FULL_S 1.0

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;
/* Set while the fitness checks run: no job needs the backends then, so a
 * signal stops them at once (a check waiting for one to get ready ends
 * when it exits), as worker-vllm forwards SIGTERM while vLLM loads. */
static volatile sig_atomic_t in_fitness;
/* The in-process job server's hand-over, closed by a signal at once. */
static struct rp_direct *_Atomic signal_direct;

static void on_signal(int sig)
{
  int saved = errno;
  struct rp_direct *d = atomic_load(&signal_direct);
  got_signal = sig;
  if (in_fitness)
    rp_proc_term_all_async();
  if (d)
    atomic_store(&d->closed, 1);
  if (signal_pipe[1] >= 0 && write(signal_pipe[1], "x", 1) < 0)
    (void)0;                  /* the pipe is full: it will be read anyway */
  errno = saved;
}

/* A backend (base/proc.h) that exited on its own: the worker cannot serve
 * any more, so it stops taking jobs, reports itself unhealthy and exits 1
 * once the jobs in flight (which fail at once) are delivered. */
static volatile sig_atomic_t backend_died;
static char backend_reason[192];

static void on_backend_exit(void *ud, const char *name, const char *reason)
{
  (void)ud;
  if (!backend_died)
    snprintf(backend_reason, sizeof(backend_reason), "backend '%s' %s",
             name, reason);
  backend_died = 1;
  if (signal_pipe[1] >= 0 && write(signal_pipe[1], "b", 1) < 0)
    (void)0;
}

static void wake(void *ud)
{
  struct state *s = ud;
  curl_multi_wakeup(s->multi);
}

/* ---- messages from the executors ----------------------------------- */

/* A job an executor took in the place of one that ended (RP_OUT_TAKEN):
 * one more in flight, on that executor; without an id, a job-take answer
 * for take.c's checks and dispatch. */
static void taken(struct state *s, struct rp_out *m, struct job *j)
{
  struct job *nj;
  if (m->taking)
    s->taking--;
  if (!m->job_id && m->attempt) {
    struct rp_req *r = m->attempt;
    m->attempt = NULL;
    rp_take_answer(s, r, m->at);
    return;
  }
  if (!m->job_id && !m->body)
    return;                   /* no job: the place is the loop's again */
  if (!m->job_id) {
    if (rp_take_jobs(s, m->body, m->len) != RP_OK)
      rp_log(RP_LOG_ERROR, NULL, "job-take: the body is not JSON (no job "
             "object can be read in it); skipped");
    return;
  }
  if (j) {
    rp_log(RP_LOG_ERROR, j->id, "job-take: job already in flight, taken "
           "again");
    return;
  }
  nj = calloc(1, sizeof(*nj));
  if (!nj) {
    rp_log(RP_LOG_ERROR, m->job_id, "out of memory: a job in flight is "
           "not tracked");
    return;
  }
  rp_log(RP_LOG_DEBUG, m->job_id, "Request ID added.");
  nj->id = m->job_id;
  nj->id_len = m->job_id_len;
  m->job_id = NULL;
  rp_post_track_job(s, nj, m->executor, m->listed);
}

/* The result just queued for j was posted once by its executor, which
 * failed (m->attempt): the loop goes on from that attempt, as from one of
 * its own (its retries, or the end of a final answer). */
static void went_on(struct job *j, struct rp_out *m)
{
  struct rp_req *r = m->attempt;
  struct post *p = j->tail;
  m->attempt = NULL;
  if (j->inflight || p != j->head) {
    rp_req_free(r);           /* not the next to go: it is sent again */
    return;
  }
  p->first_try = m->at;
  p->attempts = 1;
  r->kind = POST;
  r->ctx = j;
  j->inflight = r;
  rp_post_done(r);
}

void rp_serverless_handle_outbox(struct state *s)
{
  struct rp_out *m = rp_outbox_take(&s->out);
  while (m) {
    struct rp_out *next = m->next;
    struct job *j = m->job_id ? rp_post_find_job(s, m->job_id,
                                                 m->job_id_len) : NULL;
    m->next = NULL;
    switch (m->kind) {
    case RP_OUT_STREAM:
    case RP_OUT_PROGRESS:
      if (j && !j->finished &&
          (m->kind == RP_OUT_PROGRESS || s->source || s->stream_tmpl)) {
        rp_post_queue(j, m->kind == RP_OUT_STREAM ? P_STREAM : P_PROGRESS,
                      m->body, m->len, 0);
        m->body = NULL;
      }
      break;
    case RP_OUT_DONE:
      if (m->taking)
        s->taking++;
      if (!j && m->attempt)
        atomic_fetch_sub(&s->direct.owed, 1);   /* nothing to go on with */
      if (j) {
        j->running = 0;
        j->finished = 1;
        if (m->unlisted)
          j->listed = 0;
        if (m->body) {
          rp_post_queue(j, P_FINAL, m->body, m->len, m->is_stream);
          m->body = NULL;
          if (m->attempt) {
            j->owed = 1;
            went_on(j, m);
          }
        } else if (!j->head && !j->inflight && !rp_take_run_again(s, j)) {
          /* Nothing left to post: gone now, so that a batch of jobs
           * that replaced one another (RP_OUT_TAKEN) never piles up. */
          rp_post_remove_job(s, j);
        }
      }
      if (m->stop_pod)
        s->stop_pod = 1;
      break;
    case RP_OUT_TAKEN:
      taken(s, m, j);
      break;
    case RP_OUT_CONCURRENCY:
      /* 0 pauses the job-take; the local API server and realtime mode,
       * whose requests would hang, still run one job at a time (the
       * Python SDK's server never asks the modifier). */
      if (m->value < 1 && s->source)
        m->value = 1;
      if (m->value != s->concurrency)
        rp_log(RP_LOG_INFO, NULL, "concurrency %d -> %d", s->concurrency,
               m->value);
      s->concurrency = m->value;
      s->have_concurrency = 1;
      break;
    case RP_OUT_FATAL:
      s->exit_code = RP_EXIT_FAILED;
      atomic_store(&s->direct.closed, 1);
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
  atomic_store(&s->direct.handoff, 0);
  atomic_store(&s->direct.closed, 1);
  cancel(s, &s->take);
  /* The stop poll goes on while jobs run: a job cancelled during the
   * grace period is stopped, not finished. */
}

/* Answers a job that timed out and then did not stop with a failed
 * result (TimeoutError), posted at once and waited for, STUCK_POST_MS at
 * most: the worker exits next, and the job is not left in progress. */
static void answer_stuck(struct state *s, const char *id, size_t id_len)
{
  size_t len;
  char *body = rp_executor_error_body(id, "TimeoutError", "job timed out "
                                      "and did not stop (stuck in C code); "
                                      "the worker exits", &len);
  struct rp_req *r;
  int url_failed;
  if (!body)
    return;
  if (s->source) {
    const char *msg = NULL;
    s->source->deliver(s->source->ud, s->worker_id, id, RP_SOURCE_RESULT,
                       body, len, &msg);
  } else if ((r = rp_job_post_new(&s->server, 0, id, id_len, 0, body, len,
                                  &url_failed)) != NULL) {
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, STUCK_POST_MS);
    rp_req_finish(r, curl_easy_perform(r->easy));
    if (r->result != CURLE_OK || r->status < 200 || r->status > 299) {
      char what[CURL_ERROR_SIZE + 32];
      rp_log(RP_LOG_ERROR, id, "posting the result failed (%s)",
             rp_req_describe(r, what, sizeof(what)));
    }
    rp_req_free(r);
  }
  free(body);
}

/* A job that was asked to stop (or ran out of time) and still holds its
 * executor's thread after the grace period is stuck in C code: nothing in
 * the process can interrupt it, so the worker exits for the platform to
 * replace it, after answering it when it timed out. Only the job whose
 * code runs counts: one waiting for its turn behind a busy job, or at a
 * runtime wait, is ended by its executor when it gets there. */
static int stuck(struct state *s)
{
  double t = rp_clock_now();
  for (int i = 0; i < s->nex; i++) {
    char *id;
    size_t id_len;
    int timed_out;
    double due = rp_executor_overdue(s->ex[i], &id, &id_len, &timed_out);
    if (due > 0 && t - due > s->stop_grace) {
      rp_log(RP_LOG_ERROR, id, "the job did not stop %.0f s after it was "
             "due to (stuck in C code?); exiting so that the platform "
             "replaces this worker", t - due);
      if (timed_out && id)
        answer_stuck(s, id, id_len);
      free(id);
      return 1;
    }
    free(id);
  }
  return 0;
}

static void report_unhealthy(struct state *s, const char *ping_tmpl,
                             const char *check, const char *reason);

/* Phase: SIGTERM/SIGINT, a stuck job, the end of the grace period, the
 * idle time. Returns 1 when the loop is over. */
static int check_shutdown(struct state *s, double t)
{
  /* After the delivered jobs are gone, so that the count is true. */
  if (got_signal && !s->shutting)
    begin_shutdown(s, got_signal == SIGINT ? "SIGINT" : "SIGTERM");
  if (backend_died && !s->shutting) {
    rp_log(RP_LOG_ERROR, NULL, "%s; the worker is unhealthy", backend_reason);
    report_unhealthy(s, s->ping_tmpl, "backend", backend_reason);
    s->exit_code = RP_EXIT_FAILED;
    begin_shutdown(s, "the backend exited");
  }
  if (s->stop_pod && !s->shutting)
    begin_shutdown(s, "refresh_worker with refresh_mode pod (stopPod sent)");
  if (stuck(s)) {
    /* Its thread cannot be joined: leave without cleaning up. */
    _exit(1);
  }
  if (s->shutting && ((!s->jobs && !s->taking) ||
                      t >= s->shutdown_deadline)) {
    for (struct job *j = s->jobs; j; j = j->next)
      rp_log(RP_LOG_ERROR, j->id, "shutting down with this job %s",
             j->running ? "still running" : "not yet delivered");
    return 1;
  }
  if (!s->shutting && s->idle_exit > 0 && !s->jobs &&
      t - s->last_activity > s->idle_exit)
    begin_shutdown(s, "TERMINATE_IDLE_TIME passed");
  return 0;
}

/* Phase: a job-take when it is due and there is room for a job. Returns
 * 1 when one was asked for. */
static int maybe_take(struct state *s, double t, int free_slots)
{
  int index;
  if (s->shutting || s->take || t < s->take_at || !s->have_concurrency ||
      free_slots <= 0 || !rp_take_pick_executor(s, &index, 0))
    return 0;
  s->tp->take(s, free_slots);
  return 1;
}

/* Phase: the script's concurrency_modifier is asked again (its answer
 * comes back as RP_OUT_CONCURRENCY, before the next take) after each
 * take, and every MODIFIER_FULL_S while no place is free. */
static void maybe_ask_concurrency(struct state *s, double t, int took,
                                  int free_slots)
{
  if (!s->has_modifier || s->shutting ||
      !(took || (free_slots <= 0 && t >= s->modifier_at)))
    return;
  rp_executor_ask_concurrency(s->ex[0], s->concurrency);
  s->modifier_at = t + MODIFIER_FULL_S;
}

/* Phase: the job-stop poll, while jobs may still be asked to stop. */
static void maybe_poll_stops(struct state *s, double t, int running)
{
  if (s->stop_poll && (!s->shutting || running > 0) && !s->stop &&
      t >= s->stop_at)
    s->tp->poll_stops(s);
}

/* Phase (HTTP): moves the transfers on and handles those that ended.
 * Returns 1 when any ended: a poll's follow-up may be due at once, and a
 * delivered job leaves the ping's job list on the next pass, not up to
 * MAX_SLEEP_S later. */
static int drain_transfers(struct state *s)
{
  int still;
  int msgs;
  int again = 0;
  CURLMsg *msg;
  curl_multi_perform(s->multi, &still);
  while ((msg = curl_multi_info_read(s->multi, &msgs)) != NULL) {
    struct rp_req *r;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    rp_req_finish(r, msg->data.result);
    curl_multi_remove_handle(s->multi, r->easy);
    again = 1;
    if (r->kind == TAKE)
      rp_take_done(s, r);
    else if (r->kind == STOP)
      rp_take_stop_done(s, r);
    else
      rp_post_done(r);
  }
  return again;
}

/* When the loop must look again at the latest: at once after a transfer
 * ended, else the next poll or post retry due, within MAX_SLEEP_S. */
static double next_wakeup(struct state *s, double t, int again)
{
  double next = again ? t : t + MAX_SLEEP_S;
  if (!s->take && s->take_at > t && s->take_at < next)
    next = s->take_at;
  if (s->stop_poll && !s->stop && s->stop_at > t && s->stop_at < next)
    next = s->stop_at;
  for (struct job *j = s->jobs; j; j = j->next)
    if (!j->inflight && j->head && j->retry_at < next)
      next = j->retry_at;
  return next;
}

/* Phase: sleeps until curl, an executor, a signal or 'next'. */
static void wait_for_events(struct state *s, double next)
{
  struct curl_waitfd wfd;
  char drain[64];
  double t = rp_clock_now();
  wfd.fd = signal_pipe[0];
  wfd.events = CURL_WAIT_POLLIN;
  wfd.revents = 0;
  curl_multi_poll(s->multi, &wfd, 1,
                  next > t ? (int)((next - t) * 1000) + 1 : 0, NULL);
  if (wfd.revents)
    while (read(signal_pipe[0], drain, sizeof(drain)) > 0)
      continue;
}

static void loop(struct state *s)
{
  for (;;) {
    double t;
    int running;
    int free_slots;
    int waiting;
    rp_serverless_handle_outbox(s); /* executor messages -> post queues */
    t = rp_clock_now();
    s->tp->advance(s, t);           /* due posts start, delivered jobs go */
    if (check_shutdown(s, t))
      break;
    running = rp_take_running(s);
    free_slots = rp_take_free_slots(s, running);
    waiting = rp_take_hand_waiting(s, &free_slots);
    /* Executors may take the next job in the place of one that ended
     * while the loop counts no more jobs than it may run; a ping lists
     * the jobs in flight, so with a heartbeat they wake it to tell, but
     * over HTTP, where they keep the ping's list themselves. */
    if (s->out.direct)
      atomic_store(&s->direct.handoff, s->shutting || !s->have_concurrency
                   || free_slots < 0 || waiting > 0 ? 0
                   : s->heartbeat && !s->direct.http ? 1 : 2);
    maybe_ask_concurrency(s, t, maybe_take(s, t, free_slots), free_slots);
    maybe_poll_stops(s, t, running);
    if (!s->tp->drain(s))           /* else: look again at once */
      wait_for_events(s, next_wakeup(s, t, 0));
  }
}

/* The job server over HTTP: take.c and post.c on the multi handle. */
static const struct transport http_transport = {
  rp_take_start, rp_take_start_stop_poll, rp_post_advance, drain_transfers
};

/* Builds executor 0, whose VM gives start's config (timeout, threads,
 * recycling; a variable set in the environment wins), then the other
 * executors with the same settings. Returns RP_OK or the VM's error
 * (logged). */
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
  /* Executor 0 was built before the config was known; its thread has not
   * started, so it takes the final settings as they are. */
  rp_executor_set_timeout(s->ex[0], c.timeout);
  rp_executor_set_recycle(s->ex[0], c.recycle_jobs, c.recycle_heap);
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

/* Reports a failed fitness check on the ping URL, when there is one. */
static void report_unhealthy(struct state *s, const char *ping_tmpl,
                             const char *check, const char *reason)
{
  if (s->api_key && *s->api_key && ping_tmpl && *ping_tmpl &&
      strcmp(ping_tmpl, "PING_NOT_SET") != 0)
    rp_heartbeat_report_unhealthy(ping_tmpl, s->worker_id, s->api_key,
                                  check, reason);
}

/* Runs the script's fitness checks, then the built-in ones (unless
 * RUNPOD_SKIP_AUTO_SYSTEM_CHECKS), before the first take; a failure is
 * logged and reported unhealthy on the ping URL. Returns 0, -1, or 1
 * when a SIGTERM or SIGINT cut the checks short (the worker then ends as
 * for a signal: no unhealthy ping). */
static int fitness(struct state *s, const struct rp_settings *env)
{
  const char *ping_tmpl = env->webhook_ping.text;
  struct rp_health_options h;
  char err[1024], check[256];
  int rc;
  in_fitness = 1;
  if (got_signal)             /* came while the script loaded */
    rp_proc_term_all_async();
  rc = rp_executor_fitness(s->ex[0], env->fitness_timeout.number, check,
                           sizeof(check), err, sizeof(err));
  in_fitness = 0;
  if (rc != RP_OK && got_signal) {
    /* Asked to stop: not a sick worker, so no unhealthy ping. */
    rp_log(RP_LOG_INFO, NULL, "Fitness check %s cut short by %s: %s", check,
           got_signal == SIGINT ? "SIGINT" : "SIGTERM", err);
    return 1;
  }
  if (rc != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "Fitness check failed: %s | %s", check, err);
    report_unhealthy(s, ping_tmpl, check, err);
    return -1;
  }
  if (env->skip_auto_system_checks.number != 0) {
    rp_log(RP_LOG_DEBUG, NULL, "System fitness checks disabled via "
           "environment (RUNPOD_SKIP_AUTO_SYSTEM_CHECKS)");
    return 0;
  }
  memset(&h, 0, sizeof(h));
  h.min_memory_gb = env->min_memory_gb.number;
  h.min_disk_percent = env->min_disk_percent.number;
  h.network_timeout = env->network_check_timeout.number;
  h.network_target = env->network_check_host.text;
  h.min_cuda_version = env->min_cuda_version.text;
  h.skip_gpu = env->skip_gpu_check.number != 0;
  h.gpu_test_path = env->binary_gpu_test_path.text;
  h.gpu_test_timeout = env->gpu_test_timeout.number;
  h.gpu_max_errors = (int)env->gpu_max_error_messages.number;
  h.gpu_benchmark_timeout = env->gpu_benchmark_timeout.number;
  if (rp_health_run(&h, check, sizeof(check), err, sizeof(err)) == RP_OK)
    return 0;
  rp_log(RP_LOG_ERROR, NULL, "Fitness check failed: %s | %s", check, err);
  report_unhealthy(s, ping_tmpl, check, err);
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
  int api = o && o->api;
  const char *ping_key = api ? o->ping_key : env->ai_api_key.text;

  memset(s, 0, sizeof(*s));
  s->t0 = rp_clock_now();
  s->take_tmpl = env->webhook_get_job.text;
  s->done_tmpl = env->webhook_post_output.text;
  s->stream_tmpl = env->webhook_post_stream.text;
  s->api_key = env->ai_api_key.text;
  s->worker_id = rp_worker_id();
  s->tp = &http_transport;
  if (o && o->source) {
    s->tp = &rp_inproc_transport;
    s->source = o->source;
  } else if (!s->done_tmpl || !*s->done_tmpl) {
    rp_log(RP_LOG_ERROR, NULL, "RUNPOD_WEBHOOK_POST_OUTPUT is not set; "
           "serverless mode needs it");
    return RP_EXIT_FAILED;
  }
  if (!s->source && (!s->stream_tmpl || !*s->stream_tmpl)) {
    /* Posted to the job-done URL, a partial would read as the result. */
    s->stream_tmpl = NULL;
    rp_log(RP_LOG_WARN, NULL, "RUNPOD_WEBHOOK_POST_STREAM is not set: "
           "stream partials are not posted (results still are)");
  }
  s->server.take_tmpl = s->take_tmpl;
  s->server.done_tmpl = s->done_tmpl;
  s->server.stream_tmpl = s->stream_tmpl;
  s->server.worker_id = s->worker_id;
  s->server.api_key = s->api_key;
  s->server.post_timeout_ms = (long)(env->post_timeout.number * 1000);
  s->server.take_timeout_ms = POLL_TIMEOUT_MS;
  s->server.closed = &s->direct.closed;
  s->server.exiting = &s->direct.exiting;
  /* Without /job-take/ in the take URL no job-stop URL follows from it:
   * run without the stop poll (as the Python SDK always does) rather than
   * refuse, so a worker behind a proxy that renames the path still runs
   * its jobs; they just cannot be stopped early. */
  s->stop_poll = s->source || (s->take_tmpl &&
                                rp_wire_has_stop(s->take_tmpl));
  if (!s->stop_poll)
    rp_log(RP_LOG_WARN, NULL, "RUNPOD_WEBHOOK_GET_JOB has no /job-take/, "
           "so no job-stop URL follows from it: jobs cannot be stopped "
           "early (they still run to the end and their results are "
           "posted)");
  s->concurrency = 1;
  s->grace = env->shutdown_grace.number;
  s->post_timeout = env->post_timeout.number;
  s->stop_grace = env->stop_grace.number;
  s->idle_exit = env->idle_exit.number;
  s->take_backoff = TAKE_BACKOFF;
  s->empty_backoff = EMPTY_BACKOFF;
  s->stop_backoff = STOP_BACKOFF;
  s->last_activity = s->t0;

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return RP_EXIT_FAILED;
  s->multi = curl_multi_init();
  if (!s->multi || pipe(signal_pipe) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "cannot set up serverless mode");
    rc = RP_EXIT_FAILED;
    goto done;
  }
  fcntl(signal_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
  curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                   MAX_HOST_CONNECTIONS);
  rp_outbox_init(&s->out, wake, s);
  if (s->source) {
    s->source->set_wake(s->source->ud, rp_inproc_wake, s);
    s->direct.ud = s;
    s->direct.deliver = rp_inproc_deliver;
    s->direct.take = rp_inproc_take;
    atomic_init(&s->direct.handoff, 0);
    atomic_init(&s->direct.closed, 0);
    s->out.direct = &s->direct;
    atomic_store(&signal_direct, &s->direct);
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  s->ping_tmpl = api ? NULL : ping_tmpl;
  rp_proc_watch(on_backend_exit, NULL);

  rc = start_executors(s, vm, env);
  if (rc != RP_OK) {
    rc = rp_exit_for_load(rc);
    goto done;
  }
  interval = (long)env->ping_interval.number;
  if (!api && (rc = fitness(s, env)) != 0) {
    rc = rc > 0 ? s->exit_code : RP_EXIT_FAILED;
    goto done;
  }
  if (ping_key && *ping_key && env->pod_id.text && ping_tmpl && *ping_tmpl)
    s->heartbeat = rp_heartbeat_start(ping_tmpl, s->worker_id, ping_key,
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
  if (!s->source && s->nex == 1 && s->concurrency == 1 &&
      !s->has_modifier) {
    /* One job at a time: its executor posts the result and takes the
     * next job itself (job_server.h). */
    s->server.heartbeat = s->heartbeat;
    s->direct.http = &s->server;
    s->out.direct = &s->direct;
    atomic_store(&signal_direct, &s->direct);
  }
  if (s->has_modifier)
    rp_executor_ask_concurrency(s->ex[0], s->concurrency);
  else
    s->have_concurrency = 1;
  loop(s);
  rc = s->exit_code;
done:
  atomic_store(&signal_direct, NULL);
  if (s->source)
    s->source->set_wake(s->source->ud, NULL, NULL);
  if (s->take)
    cancel(s, &s->take);
  if (s->stop)
    cancel(s, &s->stop);
  while (s->jobs)
    rp_post_remove_job(s, s->jobs);
  rp_take_forget_stops(s);
  /* A result post of an executor's own still under way at the end of the
   * grace period is given up; the executors, which keep the ping's list
   * too, go before the heartbeat. */
  atomic_store(&s->direct.exiting, 1);
  for (int i = 0; i < s->nex || (i < MAX_THREADS && s->ex[i]); i++)
    rp_executor_free(s->ex[i]);
  rp_heartbeat_stop(s->heartbeat);
  if (s->out.wake)
    rp_outbox_destroy(&s->out);
  rp_proc_watch(NULL, NULL);
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
