/* api.c - see api.h. */
#include "worker/api.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/log.h"
#include "server/emulator.h"
#include "base/rp.h"
#include "worker/serverless.h"
#include "worker/exit.h"

#define ENDPOINT "local"     /* the endpoint id of the /v2/ routes */

/* Where and how the server runs, from the flags or the environment. */
struct where {
  const char *host;          /* as given */
  char addr[INET_ADDRSTRLEN];
  int port;
  int concurrency;           /* 0: the script's concurrency_modifier */
  unsigned timeout_s;
};

/* Fills w from the flags (--rp_serve_api) or from RUNPOD_REALTIME_PORT
 * and RUNPOD_REALTIME_CONCURRENCY; resolves the host to an IPv4 address.
 * A concurrency given overrides the script's concurrency_modifier; none
 * given leaves it in charge, as in serverless mode (the Python SDK's
 * server runs an async handler's jobs together whatever it says: its
 * --rp_api_concurrency counts server processes, not jobs). Returns 0, or
 * -1 after logging why. */
static int configure(const struct rp_args *a, const struct rp_settings *env,
                     struct where *w)
{
  struct addrinfo hints;
  struct addrinfo *ai = NULL;
  int rc;
  w->host = a->api_host;
  w->port = a->api_port;
  w->concurrency = a->api_concurrency;
  if (!a->serve_api) {
    w->host = "0.0.0.0";
    w->port = (int)env->realtime_port.number;
    w->concurrency = env->realtime_concurrency.set ?
                     (int)env->realtime_concurrency.number : 0;
  }
  w->timeout_s = (unsigned)env->api_idle_timeout.number;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(w->host, NULL, &hints, &ai);
  if (rc != 0 || !ai) {
    rp_log(RP_LOG_ERROR, NULL, "invalid --rp_api_host '%s': %s", w->host,
           rc ? gai_strerror(rc) : "no IPv4 address");
    if (ai)
      freeaddrinfo(ai);
    return -1;
  }
  inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr,
            w->addr, sizeof(w->addr));
  freeaddrinfo(ai);
  return 0;
}

/* Fails when addr:port has a listener already. The server binds with
 * SO_REUSEPORT (httpd.c), which would let a second server share the port
 * silently; this probe binds without it, so it collides with any listener.
 * Returns 0, or -1 with a message in err. */
static int probe_port(const char *addr, int port, char *err, size_t errlen)
{
  struct sockaddr_in sa;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = 0;
  if (fd < 0)
    return 0;                /* let the server report it */
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d (%s)", addr, port,
             strerror(errno));
    rc = -1;
  }
  close(fd);
  return rc;
}

/* The job store as the job loop's source (serverless.h): the emulator's
 * worker API in process. */
static int source_take(void *ud, const char *worker, struct rp_buf *out)
{
  return rp_emulator_take(ud, worker, out);
}

static int source_stops(void *ud, const char *worker, struct rp_buf *out)
{
  return rp_emulator_stops(ud, worker, out);
}

static int source_deliver(void *ud, const char *worker, const char *id,
                          int kind, const char *body, size_t len,
                          const char **msg)
{
  return rp_emulator_deliver(ud, worker, id,
                             kind == RP_SOURCE_STREAM ? RP_EMU_POST_STREAM
                             : kind == RP_SOURCE_PROGRESS
                             ? RP_EMU_POST_PROGRESS : RP_EMU_POST_RESULT,
                             body, len, msg);
}

static void source_set_wake(void *ud, void (*wake)(void *, int),
                            void *wake_ud)
{
  rp_emulator_set_wake(ud, wake, wake_ud);
}

int rp_api_run(const struct rp_vm_options *vm, const struct rp_args *a,
               const struct rp_settings *env)
{
  struct rp_emulator_config cfg;
  struct rp_emulator *e = NULL;
  struct rp_job_source source;
  struct where w;
  sigset_t block;
  sigset_t old;
  char err[512];
  char jobs[80];
  const char *realtime = env->endpoint_id.text;
  int rc;

  memset(&w, 0, sizeof(w));
  if (configure(a, env, &w) != 0)
    return RP_EXIT_USAGE;
  rp_emulator_default_config(&cfg);
  cfg.host = w.addr;
  cfg.port = w.port;
  cfg.endpoint = ENDPOINT;
  cfg.max_body = RP_API_MAX_BODY;
  cfg.log_max = 0;
  cfg.control = 0;
  cfg.client_root = 1;
  cfg.in_process_worker = 1;
  cfg.strict_input = 1;
  cfg.page_html = rp_api_page_html;
  cfg.openapi_json = rp_api_openapi_json;
  cfg.realtime = realtime;
  cfg.timeout_s = w.timeout_s;
  cfg.allow_private_webhooks = env->allow_private_webhook_urls.number == 1;

  /* The server's threads (connections, webhooks) inherit a mask without
   * SIGTERM/SIGINT, so the job loop's handler runs on a thread of ours. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    rp_log(RP_LOG_ERROR, NULL, "cannot initialise libcurl");
    return RP_EXIT_FAILED;
  }
  if (probe_port(w.addr, w.port, err, sizeof(err)) != 0) {
    rp_log(RP_LOG_ERROR, NULL, "local API server: %s", err);
    curl_global_cleanup();
    return RP_EXIT_USAGE;
  }
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  rc = rp_emulator_start(&cfg, &e, err, sizeof(err));
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "local API server: %s%s", err,
           rc == RP_EIO ? " (port in use?)" : "");
    curl_global_cleanup();
    return rc == RP_ENOMEM ? RP_EXIT_FAILED : RP_EXIT_USAGE;
  }
  source = (struct rp_job_source){ e, source_take, source_stops,
                                   source_deliver, source_set_wake };
  if (cfg.realtime)
    snprintf(err, sizeof(err), "; realtime: POST /%s/realtime",
             cfg.realtime);
  else
    err[0] = '\0';
  if (w.concurrency > 0)
    snprintf(jobs, sizeof(jobs), "%d job%s at once", w.concurrency,
             w.concurrency == 1 ? "" : "s");
  else
    snprintf(jobs, sizeof(jobs), "jobs at once: the script's concurrency");
  rp_log(RP_LOG_INFO, NULL, "Local API server on http://%s:%d/ (%s; %s%s)",
         w.host, rp_emulator_port(e), w.addr, jobs, err);
  rc = rp_serverless_run(vm, env, &(struct rp_serverless_options){
    .concurrency = w.concurrency, .api = 1,
    .ping_key = env->ai_api_key.text, .source = &source });
  rp_emulator_stop(e);
  curl_global_cleanup();
  return rc;
}
