/* heartbeat.c - see heartbeat.h. */
#include "worker/heartbeat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/clock.h"
#include "net/req.h"
#include "base/rp.h"
#include "net/wire.h"

/* How long the unhealthy report may delay the exit (as the Python SDK). */
#define UNHEALTHY_TIMEOUT_MS 2000
/* The most the ping's list of job ids (joined by commas) may hold; an id
 * that would pass it is left out. Far above any real list (an id is ~40
 * bytes): it only bounds a runaway one, so that a ping stays a sane
 * size. */
#define MAX_JOB_IDS_BYTES ((size_t)16 * 1024 * 1024)

struct listed {             /* a job in flight */
  char *id;                 /* id_len bytes, then a NUL */
  size_t id_len;
};

struct rp_heartbeat {
  char *tmpl;
  char *worker_id;
  char *api_key;
  long interval_ms;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct listed *jobs;      /* under mu: the jobs in flight, */
  size_t njobs;             /* in no order */
  size_t cap;
  int quit;                 /* under mu */
  CURL *easy;               /* kept between pings: one connection */
  struct curl_slist *headers;
  struct rp_buf resp;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  struct rp_buf *b = ud;
  (void)p;
  b->len += size * n;         /* counted, not kept */
  return size * n;
}

/* The waits before the retries of a failed ping, as the Python SDK's
 * (urllib3's Retry: 3 in all, backoff factor 1), each made only while it
 * comes before the next regular ping. */
static const long retry_ms[] = { 0, 2000, 4000 };
#define RETRIES ((int)(sizeof(retry_ms) / sizeof(retry_ms[0])))

/* Whether a ping that ended so is worth another try: a transport error,
 * or 429, 500, 502, 503 or 504 (the Python SDK's list). */
static int retryable(CURLcode rc, long status)
{
  return rc != CURLE_OK || status == 429 || status == 500 ||
         status == 502 || status == 503 || status == 504;
}

/* One ping on the heartbeat's own handle; the lock is not held. Returns
 * whether it failed in a way worth a retry. */
static int ping(struct rp_heartbeat *h, const char *ids, const char *extra)
{
  char *url = rp_wire_ping_url(h->tmpl, h->worker_id, ids, RP_VERSION);
  char *full = NULL;
  CURLcode rc;
  long status = 0;
  if (url && extra) {
    size_t n = strlen(url) + strlen(extra) + 2;
    full = malloc(n);
    if (full)
      snprintf(full, n, "%s&%s", url, extra);
  }
  if (!url || (extra && !full)) {
    rp_log(RP_LOG_ERROR, NULL, "heartbeat: out of memory");
    free(url);
    return 0;
  }
  curl_easy_setopt(h->easy, CURLOPT_URL, full ? full : url);
  rc = curl_easy_perform(h->easy);
  free(full);
  free(url);
  if (rc == CURLE_OK)
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    rp_log(RP_LOG_WARN, NULL, "Heartbeat failed: %s",
           curl_easy_strerror(rc));
  else if (status >= 300)
    rp_log(RP_LOG_WARN, NULL, "Heartbeat failed: HTTP %ld", status);
  else
    rp_log(RP_LOG_TRACE, NULL, "Heartbeat sent: HTTP %ld", status);
  return retryable(rc, status);
}

/* The handle every ping goes out on. Returns 0 or -1. */
static int setup_handle(struct rp_heartbeat *h)
{
  char line[1024];
  struct curl_slist *l;
  h->easy = curl_easy_init();
  if (!h->easy)
    return -1;
  if (h->api_key) {
    snprintf(line, sizeof(line), "Authorization: %s", h->api_key);
    l = curl_slist_append(h->headers, line);
    if (!l)
      return -1;
    h->headers = l;
  }
  l = curl_slist_append(h->headers, "Content-Type: application/json");
  if (!l)
    return -1;
  h->headers = l;
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt(h->easy, CURLOPT_USERAGENT, rp_net_user_agent());
  curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &h->resp);
  curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, h->interval_ms * 2);
  curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h->easy, CURLOPT_MAXREDIRS, RP_REQ_MAX_REDIRECTS);
  curl_easy_setopt(h->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  return 0;
}

/* The ping's job_id list (under mu): each id percent-encoded as one
 * value, joined by commas; malloc'ed, NULL when memory runs out. */
static char *job_list(struct rp_heartbeat *h)
{
  struct rp_buf b = RP_BUF_INIT(MAX_JOB_IDS_BYTES);
  size_t len;
  for (size_t i = 0; i < h->njobs; i++) {
    size_t mark = b.len;
    if ((b.len && rp_buf_puts(&b, ",") != RP_OK) ||
        rp_wire_put_id(&b, h->jobs[i].id, h->jobs[i].id_len) != RP_OK) {
      if (b.data)
        rp_buf_set_len(&b, mark);   /* left out: the list stays whole */
    }
  }
  return rp_buf_steal(&b, &len);
}

static void *thread_main(void *arg)
{
  struct rp_heartbeat *h = arg;
  long long next = rp_clock_now_ms();   /* the next regular ping */
  int retries = 0;                      /* made since the last regular one */
  pthread_mutex_lock(&h->mu);
  while (!h->quit) {
    char *ids = job_list(h);
    long long t;
    long long when;
    int again;
    struct timespec at;
    pthread_mutex_unlock(&h->mu);
    again = ping(h, ids ? ids : "", NULL);
    free(ids);
    /* Regular pings keep their cadence from start to start; a slow one is
     * not followed by a burst. A retry (with the job list as it is then)
     * does not move the cadence. */
    t = rp_clock_now_ms();
    if (retries == 0) {
      next += h->interval_ms;
      if (t > next)
        next = t;
    }
    when = next;
    if (again && retries < RETRIES && t + retry_ms[retries] < next)
      when = t + retry_ms[retries++];
    else
      retries = 0;
    rp_clock_deadline(&at, when);
    pthread_mutex_lock(&h->mu);
    while (!h->quit &&
           pthread_cond_timedwait(&h->cv, &h->mu, &at) == 0)
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
  if (!h)
    return NULL;
  h->tmpl = strdup(url_template);
  h->worker_id = strdup(worker_id);
  h->api_key = api_key ? strdup(api_key) : NULL;
  h->interval_ms = interval_ms > 0 ? interval_ms : 10000;
  pthread_mutex_init(&h->mu, NULL);
  rp_clock_cond_init(&h->cv);
  if (!h->tmpl || !h->worker_id || setup_handle(h) != 0 ||
      pthread_create(&h->thread, NULL, thread_main, h) != 0) {
    if (h->easy)
      curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    free(h->tmpl);
    free(h->worker_id);
    free(h->api_key);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  return h;
}

void rp_heartbeat_add_job(struct rp_heartbeat *h, const char *id,
                          size_t id_len)
{
  char *copy;
  if (!h)
    return;
  copy = malloc(id_len + 1);
  if (!copy) {
    rp_log(RP_LOG_ERROR, NULL, "heartbeat: out of memory; a job is not "
           "listed in the pings");
    return;
  }
  memcpy(copy, id, id_len);
  copy[id_len] = '\0';
  pthread_mutex_lock(&h->mu);
  if (h->njobs == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    struct listed *more = realloc(h->jobs, cap * sizeof(*more));
    if (!more) {
      pthread_mutex_unlock(&h->mu);
      free(copy);
      rp_log(RP_LOG_ERROR, NULL, "heartbeat: out of memory; a job is not "
             "listed in the pings");
      return;
    }
    h->jobs = more;
    h->cap = cap;
  }
  h->jobs[h->njobs].id = copy;
  h->jobs[h->njobs].id_len = id_len;
  h->njobs++;
  pthread_mutex_unlock(&h->mu);
}

void rp_heartbeat_remove_job(struct rp_heartbeat *h, const char *id,
                             size_t id_len)
{
  if (!h)
    return;
  pthread_mutex_lock(&h->mu);
  for (size_t i = 0; i < h->njobs; i++) {
    struct listed *l = &h->jobs[i];
    if (l->id_len == id_len && memcmp(l->id, id, id_len) == 0) {
      free(l->id);
      *l = h->jobs[--h->njobs];     /* the last one takes its place */
      break;
    }
  }
  pthread_mutex_unlock(&h->mu);
}

void rp_heartbeat_report_unhealthy(const char *url_template,
                                   const char *worker_id,
                                   const char *api_key, const char *check,
                                   const char *reason)
{
  struct rp_heartbeat h;
  char *url = rp_wire_unhealthy_url(url_template, worker_id, check, reason,
                                    RP_VERSION);
  CURLcode rc;
  memset(&h, 0, sizeof(h));
  h.api_key = (char *)api_key;
  h.interval_ms = UNHEALTHY_TIMEOUT_MS / 2;   /* the timeout is twice it */
  if (url && setup_handle(&h) == 0) {
    curl_easy_setopt(h.easy, CURLOPT_URL, url);
    rc = curl_easy_perform(h.easy);
    if (rc != CURLE_OK)
      rp_log(RP_LOG_DEBUG, NULL, "Unhealthy report failed: %s",
             curl_easy_strerror(rc));
  }
  free(url);
  if (h.easy)
    curl_easy_cleanup(h.easy);
  curl_slist_free_all(h.headers);
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
  curl_easy_cleanup(h->easy);
  curl_slist_free_all(h->headers);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h->tmpl);
  free(h->worker_id);
  free(h->api_key);
  for (size_t i = 0; i < h->njobs; i++)
    free(h->jobs[i].id);
  free(h->jobs);
  free(h);
}
