/* heartbeat.c - see heartbeat.h. */
#include "heartbeat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net.h"
#include "rp.h"
#include "wire.h"

struct rp_heartbeat {
  char *tmpl;
  char *worker_id;
  char *api_key;
  long interval_ms;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *job_ids;            /* under mu */
  int quit;                 /* under mu */
};

static void add_ms(struct timespec *t, long ms)
{
  t->tv_sec += ms / 1000;
  t->tv_nsec += (ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

/* One ping; the lock is not held. */
static void ping(struct rp_heartbeat *h, const char *ids, const char *extra)
{
  char *url = rp_wire_ping_url(h->tmpl, h->worker_id, ids, RP_VERSION);
  char *full = NULL;
  struct rp_req *r;
  char what[CURL_ERROR_SIZE + 32];
  if (url && extra) {
    size_t n = strlen(url) + strlen(extra) + 2;
    full = malloc(n);
    if (full)
      snprintf(full, n, "%s&%s", url, extra);
  }
  r = url ? rp_req_new("GET", full ? full : url, NULL, 0, h->api_key,
                       RP_CONTENT_JSON, NULL, h->interval_ms * 2) : NULL;
  free(full);
  free(url);
  if (!r) {
    rp_log(RP_LOG_ERROR, NULL, "heartbeat: out of memory");
    return;
  }
  rp_req_finish(r, curl_easy_perform(r->easy));
  if (r->result != CURLE_OK || r->status >= 300)
    rp_log(RP_LOG_WARN, NULL, "Heartbeat failed: %s",
           rp_req_describe(r, what, sizeof(what)));
  else
    rp_log(RP_LOG_TRACE, NULL, "Heartbeat sent: HTTP %ld", r->status);
  rp_req_free(r);
}

static void *thread_main(void *arg)
{
  struct rp_heartbeat *h = arg;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&h->mu);
  while (!h->quit) {
    char *ids = strdup(h->job_ids ? h->job_ids : "");
    struct timespec t;
    pthread_mutex_unlock(&h->mu);
    ping(h, ids ? ids : "", NULL);
    free(ids);
    /* Pings keep their cadence from start to start; a slow one is not
     * followed by a burst. */
    add_ms(&next, h->interval_ms);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec > next.tv_sec ||
        (t.tv_sec == next.tv_sec && t.tv_nsec > next.tv_nsec))
      next = t;
    pthread_mutex_lock(&h->mu);
    while (!h->quit &&
           pthread_cond_timedwait(&h->cv, &h->mu, &next) == 0)
      continue;
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

struct rp_heartbeat *rp_heartbeat_start(const char *url_template,
                                        const char *worker_id,
                                        const char *api_key,
                                        long interval_ms)
{
  struct rp_heartbeat *h = calloc(1, sizeof(*h));
  pthread_condattr_t ca;
  if (!h)
    return NULL;
  h->tmpl = strdup(url_template);
  h->worker_id = strdup(worker_id);
  h->api_key = api_key ? strdup(api_key) : NULL;
  h->job_ids = strdup("");
  h->interval_ms = interval_ms > 0 ? interval_ms : 10000;
  pthread_mutex_init(&h->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (!h->tmpl || !h->worker_id || !h->job_ids ||
      pthread_create(&h->thread, NULL, thread_main, h) != 0) {
    free(h->tmpl);
    free(h->worker_id);
    free(h->api_key);
    free(h->job_ids);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  return h;
}

void rp_heartbeat_set_jobs(struct rp_heartbeat *h, const char *job_ids)
{
  char *copy;
  if (!h)
    return;
  copy = strdup(job_ids);
  if (!copy)
    return;
  pthread_mutex_lock(&h->mu);
  free(h->job_ids);
  h->job_ids = copy;
  pthread_mutex_unlock(&h->mu);
}

void rp_heartbeat_ping_now(struct rp_heartbeat *h, const char *extra)
{
  char *ids;
  if (!h)
    return;
  pthread_mutex_lock(&h->mu);
  ids = strdup(h->job_ids);
  pthread_mutex_unlock(&h->mu);
  ping(h, ids ? ids : "", extra);
  free(ids);
}

void rp_heartbeat_stop(struct rp_heartbeat *h)
{
  if (!h)
    return;
  pthread_mutex_lock(&h->mu);
  h->quit = 1;
  pthread_cond_signal(&h->cv);
  pthread_mutex_unlock(&h->mu);
  pthread_join(h->thread, NULL);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h->tmpl);
  free(h->worker_id);
  free(h->api_key);
  free(h->job_ids);
  free(h);
}
