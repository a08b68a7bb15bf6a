/*
 * emulator_main.c - bin/runpod-emulator: parses the flags, starts the
 * emulator (emulator.h), prints where it listens and the environment a
 * worker needs, and runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "server/emulator.h"
#include "base/log.h"
#include "base/rp.h"
#include "base/settings.h"

static const char usage[] =
  "usage: runpod-emulator [flags]\n"
  "A local RunPod serverless endpoint: the client API (run, runsync,\n"
  "status, status-sync, stream, cancel, retry, health, purge-queue,\n"
  "openai/v1/...) and the worker API (job-take, job-done, job-stream, ping,\n"
  "job-stop) under /v2/ENDPOINT/, plus a control API under /_emulator/\n"
  "(docs/emulator.md).\n"
  "\n"
  "  --host ADDR             IPv4 address to bind (127.0.0.1)\n"
  "  --port N                port, 0 = ephemeral (8080)\n"
  "  --endpoint ID           endpoint id in the URLs (emulator)\n"
  "  --api-key KEY           require 'Authorization: Bearer KEY' from\n"
  "                          clients and 'Authorization: KEY' from workers\n"
  "  --take-hold-ms N        job-take long poll (1000)\n"
  "  --stop-hold-ms N        job-stop long poll (1000)\n"
  "  --stream-hold-ms N      /stream hold while no chunk arrives (2000)\n"
  "  --requeue-after-ms N    re-queue jobs of a worker silent for N ms\n"
  "                          (0 = never, the default)\n"
  "  --retain-ms N           keep finished jobs N ms (600000)\n"
  "  --retain-max N          keep at most N finished jobs (10000)\n"
  "  --max-body BYTES        request body cap, 413 past it (33554432)\n"
  "  --log-max N             request log lines kept, 0 = off (20000)\n"
  "  --ping-interval-ms N    RUNPOD_PING_INTERVAL printed (10000)\n"
  "  --fault SPEC            ROUTE=KIND[,share=P][,first=K][,ms=N]; ROUTE:\n"
  "                          job-take job-done job-stream ping job-stop;\n"
  "                          KIND: none 500 429 garbage close delay\n"
  "                          trickle cut\n"
  "                          (repeatable)\n"
  "  --seed N                seed of the fault PRNG (1)\n"
  "  --allow-private-webhooks\n"
  "                          post webhooks to any address, loopback and\n"
  "                          private ones included (default: public\n"
  "                          addresses only; also\n"
  "                          RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS=true)\n"
  "  --help                  this text\n";

/* Parses a non-negative integer flag value no larger than max. */
static int number(const char *flag, const char *s, long max, long *out)
{
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > max) {
    fprintf(stderr, "runpod-emulator: invalid %s '%s' (0..%ld)\n", flag, s,
            max);
    return -1;
  }
  *out = v;
  return 0;
}

/* The flags taking a number, in the order parse() handles them. */
static const char *const nums[] = {
  "--port", "--take-hold-ms", "--stop-hold-ms", "--stream-hold-ms",
  "--requeue-after-ms", "--retain-ms", "--retain-max", "--max-body",
  "--log-max", "--ping-interval-ms", "--seed"
};

static int known(const char *name)
{
  size_t k;
  if (strcmp(name, "--host") == 0 || strcmp(name, "--endpoint") == 0 ||
      strcmp(name, "--api-key") == 0 || strcmp(name, "--fault") == 0)
    return 1;
  for (k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
    if (strcmp(name, nums[k]) == 0)
      return 1;
  return 0;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, struct rp_emulator_config *cfg)
{
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    const char *eq = strchr(a, '=');
    char name[64];
    long n = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 1;
    }
    if (strcmp(a, "--allow-private-webhooks") == 0) {
      cfg->allow_private_webhooks = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || (eq && (size_t)(eq - a) >= sizeof(name))) {
      fprintf(stderr, "runpod-emulator: unknown argument '%s'\n", a);
      return 2;
    }
    if (eq) {
      snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
      v = eq + 1;
    } else {
      snprintf(name, sizeof(name), "%s", a);
      if (i + 1 < argc)
        v = argv[++i];
    }
    if (!known(name)) {
      fprintf(stderr, "runpod-emulator: unknown flag '%s'\n", name);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "runpod-emulator: %s needs a value\n", name);
      return 2;
    }
    if (strcmp(name, "--host") == 0) {
      cfg->host = v;
    } else if (strcmp(name, "--endpoint") == 0) {
      if (!*v || strchr(v, '/')) {
        fprintf(stderr, "runpod-emulator: invalid --endpoint '%s'\n", v);
        return 2;
      }
      cfg->endpoint = v;
    } else if (strcmp(name, "--api-key") == 0) {
      cfg->api_key = v;
    } else if (strcmp(name, "--fault") == 0) {
      char err[256];
      if (rp_emulator_parse_fault(v, cfg, err, sizeof(err)) != RP_OK) {
        fprintf(stderr, "runpod-emulator: --fault: %s\n", err);
        return 2;
      }
    } else {
      size_t k;
      for (k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
        if (strcmp(name, nums[k]) == 0)
          break;
      if (number(name, v, k == 0 ? 65535 : k == 7 ? (1L << 31)
                                               : RP_EMU_MAX_DELAY_MS * 100L,
                 &n) != 0)
        return 2;
      switch (k) {
      case 0: cfg->port = (int)n; break;
      case 1: cfg->take_hold_ms = n; break;
      case 2: cfg->stop_hold_ms = n; break;
      case 3: cfg->stream_hold_ms = n; break;
      case 4: cfg->requeue_after_ms = n; break;
      case 5: cfg->retain_ms = n; break;
      case 6: cfg->retain_max = (size_t)n; break;
      case 7: cfg->max_body = (size_t)(n > 0 ? n : 1); break;
      case 8: cfg->log_max = (size_t)n; break;
      case 9: cfg->ping_interval_ms = n; break;
      default: cfg->seed = (unsigned long)n; break;
      }
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  struct rp_emulator_config cfg;
  struct rp_emulator *e = NULL;
  sigset_t set;
  char err[256];
  int sig = 0;
  int rc;
  struct rp_settings env;
  rp_emulator_default_config(&cfg);
  rp_log_set_fd(2);
  /* The worker's reader; of its variables the emulator uses this one. */
  rp_settings_read(&env);
  if (env.allow_private_webhook_urls.bad)
    fprintf(stderr, "runpod-emulator: invalid "
            "RUNPOD_ALLOW_PRIVATE_WEBHOOK_URLS '%s' (true or false); "
            "webhooks go to public addresses only\n",
            env.allow_private_webhook_urls.text);
  cfg.allow_private_webhooks = env.allow_private_webhook_urls.number == 1;
  rc = parse(argc, argv, &cfg);
  if (rc != 0)
    return rc == 1 ? 0 : 2;
  /* Every thread inherits this mask, so only sigwait() sees the signals. */
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "runpod-emulator: cannot initialise libcurl\n");
    return 70;
  }
  rc = rp_emulator_start(&cfg, &e, err, sizeof(err));
  if (rc != RP_OK) {
    fprintf(stderr, "runpod-emulator: %s\n", err);
    curl_global_cleanup();
    return 1;
  }
  rp_emulator_print_env(e, stdout);
  sigwait(&set, &sig);
  fprintf(stderr, "runpod-emulator: signal %d, stopping\n", sig);
  rp_emulator_stop(e);
  curl_global_cleanup();
  return 0;
}
