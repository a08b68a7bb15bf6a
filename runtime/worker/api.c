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

#include "base/codec.h"
#include "server/emulator.h"
#include "base/files.h"
#include "base/log.h"
#include "base/rp.h"
#include "worker/serverless.h"
#include "worker/exit.h"

#define ENDPOINT "local"     /* the private listener's endpoint id */

/* Where and how the server runs, from the flags or the environment. */
struct where {
  const char *host;          /* as given */
  char addr[INET_ADDRSTRLEN];
  int port;
  int concurrency;
  unsigned timeout_s;
};

/* Fills w from the flags (--rp_serve_api) or from RUNPOD_REALTIME_PORT
 * and RUNPOD_REALTIME_CONCURRENCY; resolves the host to an IPv4 address.
 * Returns 0, or -1 after logging why. */
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
    w->concurrency = (int)env->realtime_concurrency.number;
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

/* Writes 32 random hex digits and a NUL into key. Returns RP_OK, or an
 * error with the message in err. */
static int random_key(char key[33], char *err, size_t errlen)
{
  unsigned char raw[16];
  int rc = rp_files_random(raw, sizeof(raw), err, errlen);
  if (rc != RP_OK)
    return rc;
  rp_hex_encode(raw, sizeof(raw), key);
  key[32] = '\0';
  return RP_OK;
}

/* The job loop's URLs on the private listener. */
struct urls {
  char take[128];
  char done[128];
  char stream[128];
};

/* Points the serverless job loop's settings at the private listener:
 * copies env into *out with the webhook URLs (in *u) and the key replaced.
 * RUNPOD_WEBHOOK_PING stays: the worker pings the platform as the Python
 * SDK's API server does, with the environment's key (rp_api_run). The
 * private key is never put in the environment, so a handler cannot see
 * it. */
static void point_worker(const struct rp_settings *env, int port,
                         const char *key, struct urls *u,
                         struct rp_settings *out)
{
  *out = *env;
  snprintf(u->take, sizeof(u->take), "http://127.0.0.1:%d/v2/" ENDPOINT
           "/job-take/$ID?gpu=local", port);
  snprintf(u->done, sizeof(u->done), "http://127.0.0.1:%d/v2/" ENDPOINT
           "/job-done/$RUNPOD_POD_ID/$ID?gpu=local", port);
  snprintf(u->stream, sizeof(u->stream), "http://127.0.0.1:%d/v2/"
           ENDPOINT "/job-stream/$RUNPOD_POD_ID/$ID?gpu=local", port);
  out->webhook_get_job.text = u->take;
  out->webhook_post_output.text = u->done;
  out->webhook_post_stream.text = u->stream;
  out->ai_api_key.text = key;
}

int rp_api_run(const struct rp_vm_options *vm, const struct rp_args *a,
               const struct rp_settings *env)
{
  struct rp_emulator_config cfg;
  struct rp_emulator *e = NULL;
  struct rp_settings loop_env;
  struct urls urls;
  struct where w;
  sigset_t block;
  sigset_t old;
  char key[33];
  char err[512];
  const char *realtime = env->endpoint_id.text;
  int rc;

  memset(&w, 0, sizeof(w));
  if (configure(a, env, &w) != 0)
    return RP_EXIT_USAGE;
  if (random_key(key, err, sizeof(err)) != RP_OK) {
    rp_log(RP_LOG_ERROR, NULL, "%s", err);
    return RP_EXIT_FAILED;
  }
  rp_emulator_default_config(&cfg);
  cfg.host = w.addr;
  cfg.port = w.port;
  cfg.endpoint = ENDPOINT;
  cfg.max_body = RP_API_MAX_BODY;
  cfg.log_max = 0;
  cfg.control = 0;
  cfg.client_root = 1;
  cfg.private_workers = 1;
  cfg.worker_key = key;
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
  point_worker(env, rp_emulator_worker_port(e), key, &urls, &loop_env);
  if (cfg.realtime)
    snprintf(err, sizeof(err), "; realtime: POST /%s/realtime",
             cfg.realtime);
  else
    err[0] = '\0';
  rp_log(RP_LOG_INFO, NULL, "Local API server on http://%s:%d/ (%s; "
         "%d job%s at once%s)", w.host, rp_emulator_port(e), w.addr,
         w.concurrency, w.concurrency == 1 ? "" : "s", err);
  rc = rp_serverless_run(vm, &loop_env, &(struct rp_serverless_options){
    .concurrency = w.concurrency, .api = 1,
    .ping_key = env->ai_api_key.text });
  rp_emulator_stop(e);
  curl_global_cleanup();
  return rc;
}
