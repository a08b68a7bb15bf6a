/* emu_webhook.c - the emulator's webhooks: the final view of a job that
 * names a webhook is queued (at most RP_EMU_WEBHOOK_QUEUE) and posted by
 * one thread with libcurl, behind the netguard (emulator_int.h). */
#include "server/emulator_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "base/json.h"
#include "base/log.h"
#include "base/rp.h"

struct webhook {
  struct webhook *next;
  char *url;
  char *body;
  size_t len;
};

/* Frees a post. Accepts NULL and a half-built one. */
static void webhook_free(struct webhook *w)
{
  if (!w)
    return;
  free(w->url);
  free(w->body);
  free(w);
}

void rp_emu_webhook_enqueue(void *ud, const char *url, const char *view,
                            size_t len)
{
  struct rp_emulator *e = ud;
  struct webhook *w = calloc(1, sizeof(*w));
  if (w) {
    w->url = strdup(url);
    w->body = malloc(len + 1);
  }
  if (!w || !w->url || !w->body) {
    webhook_free(w);
    return;
  }
  memcpy(w->body, view, len);
  w->body[len] = '\0';
  w->len = len;
  pthread_mutex_lock(&e->wh_mu);
  if (e->wh_count >= RP_EMU_WEBHOOK_QUEUE || e->wh_stop) {
    pthread_mutex_unlock(&e->wh_mu);
    pthread_mutex_lock(&e->mu);
    e->webhooks_dropped++;
    pthread_mutex_unlock(&e->mu);
    webhook_free(w);
    return;
  }
  if (e->wh_tail)
    e->wh_tail->next = w;
  else
    e->wh_head = w;
  e->wh_tail = w;
  e->wh_count++;
  pthread_cond_signal(&e->wh_cv);
  pthread_mutex_unlock(&e->wh_mu);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

/* The guard of one webhook post: CURLOPT_OPENSOCKETFUNCTION is the one
 * place libcurl opens a connection, so it sees every address a name
 * resolves to. */
struct guarded {
  const struct rp_netguard *guard;
  int refused;
  char addr[64];             /* the first address refused */
};

static curl_socket_t open_guarded(void *ud, curlsocktype purpose,
                                  struct curl_sockaddr *a)
{
  struct guarded *g = ud;
  char text[sizeof(g->addr)];
  (void)purpose;
  if (!rp_netguard_allows(g->guard, &a->addr, text, sizeof(text))) {
    if (!g->refused)
      memcpy(g->addr, text, sizeof(text));
    g->refused = 1;
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Writes the host of url (no user info, no port; bytes outside printable
 * ASCII as '?') into out, for a log line that must not carry what the
 * rest of the URL may (credentials, tokens). */
static void url_host(const char *url, char *out, size_t cap)
{
  const char *p = strstr(url, "://");
  size_t n;
  size_t i;
  p = p ? p + 3 : url;
  n = strcspn(p, "/?#");
  for (i = n; i > 0; i--) {
    if (p[i - 1] == '@') {
      p += i;
      n -= i;
      break;
    }
  }
  if (n > 0 && p[0] == '[') {
    const char *q = memchr(p, ']', n);
    if (q)
      n = (size_t)(q - p) + 1;
  } else {
    const char *q = memchr(p, ':', n);
    if (q)
      n = (size_t)(q - p);
  }
  if (n >= cap)
    n = cap - 1;
  for (i = 0; i < n; i++)
    out[i] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
  out[n] = '\0';
}

/* Logs a refused webhook once, with the job id from its view. */
static void log_refused(const struct webhook *w, const char *addr)
{
  char host[256];
  char id[RP_JOBSTORE_MAX_ID];
  struct rp_json_span v;
  if (rp_json_member(w->body, w->len, "id", &v) != 1 ||
      rp_json_string(v, id, sizeof(id)) != RP_OK)
    id[0] = '\0';
  url_host(w->url, host, sizeof(host));
  rp_log(RP_LOG_WARN, id[0] ? id : NULL, "webhook to %s not sent: %s is "
         "not a public address (see RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS)",
         host, addr);
}

/* Posts one webhook, retrying a few times; redirects are not followed.
 * Returns 1 when delivered, 0 when it failed, -1 when the guard refused
 * its address (logged, not retried). */
static int webhook_post(struct rp_emulator *e, CURL *curl,
                        const struct webhook *w)
{
  struct curl_slist *hdrs = curl_slist_append(NULL,
                                              "Content-Type: application/json");
  struct guarded g;
  int attempt;
  int ok = 0;
  memset(&g, 0, sizeof(g));
  g.guard = &e->guard;
  for (attempt = 0; attempt < RP_EMU_WEBHOOK_TRIES && !ok; attempt++) {
    long code = 0;
    if (attempt > 0 && rp_jobstore_sleep(e->js, 200L << attempt) != 0)
      break;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, w->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     (long)RP_EMU_WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");    /* a proxy would connect
                                                      where the guard
                                                      cannot look */
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &g);
    g.refused = 0;
    if (curl_easy_perform(curl) == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      ok = code >= 200 && code < 300;
    } else if (g.refused) {
      /* No allowed address answered: trying again cannot help. */
      log_refused(w, g.addr);
      ok = -1;
    }
  }
  curl_slist_free_all(hdrs);
  return ok;
}

static void *webhook_thread(void *ud)
{
  struct rp_emulator *e = ud;
  CURL *curl = curl_easy_init();
  for (;;) {
    struct webhook *w;
    int ok;
    pthread_mutex_lock(&e->wh_mu);
    while (!e->wh_head && !e->wh_stop)
      pthread_cond_wait(&e->wh_cv, &e->wh_mu);
    if (e->wh_stop) {
      pthread_mutex_unlock(&e->wh_mu);
      break;
    }
    w = e->wh_head;
    e->wh_head = w->next;
    if (!e->wh_head)
      e->wh_tail = NULL;
    e->wh_count--;
    pthread_mutex_unlock(&e->wh_mu);
    ok = curl ? webhook_post(e, curl, w) : 0;
    pthread_mutex_lock(&e->mu);
    if (ok > 0)
      e->webhooks_sent++;
    else if (ok < 0)
      e->webhooks_refused++;
    else
      e->webhooks_failed++;
    pthread_mutex_unlock(&e->mu);
    webhook_free(w);
  }
  if (curl)
    curl_easy_cleanup(curl);
  return NULL;
}

int rp_emu_webhooks_start(struct rp_emulator *e)
{
  pthread_mutex_init(&e->wh_mu, NULL);
  pthread_cond_init(&e->wh_cv, NULL);
  if (pthread_create(&e->wh_thread, NULL, webhook_thread, e) != 0)
    return RP_ENOMEM;
  e->wh_started = 1;
  return RP_OK;
}

void rp_emu_webhooks_stop(struct rp_emulator *e)
{
  if (e->wh_started) {
    pthread_mutex_lock(&e->wh_mu);
    e->wh_stop = 1;
    pthread_cond_broadcast(&e->wh_cv);
    pthread_mutex_unlock(&e->wh_mu);
    pthread_join(e->wh_thread, NULL);
    e->wh_started = 0;
  }
  /* What is still queued is dropped; with wh_stop set nothing more is. */
  while (e->wh_head) {
    struct webhook *w = e->wh_head;
    e->wh_head = w->next;
    webhook_free(w);
  }
  e->wh_tail = NULL;
  e->wh_count = 0;
}
