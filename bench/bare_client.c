/*
 * bench/bare_client.c - the loopback limit of RunPod's worker protocol: a
 * plain libcurl client doing the same job-take + job-done exchange as
 * runpod-worker with concurrency 1, without Lua, and with one keep-alive
 * connection. Takes the RUNPOD_WEBHOOK_* variables from the environment,
 * runs until N jobs are done, prints jobs/s, its CPU time per job and its
 * own peak RSS. A job body of any size is read (bench/data_path.sh sends
 * 5 MB inputs); the result posted is {"output": <the job>}.
 *
 *   bare_client N
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct body {
  char *data;
  size_t len;
  size_t cap;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
  struct body *b = ud;
  size_t k = size * n;
  if (b->len + k + 1 > b->cap) {
    size_t cap = (b->len + k + 1) * 2;
    char *d = realloc(b->data, cap);
    if (!d)
      return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, k);
  b->len += k;
  b->data[b->len] = '\0';
  return k;
}

/* Replaces the first "$ID" (and "$RUNPOD_POD_ID") in tmpl. */
static void fill(char *out, size_t len, const char *tmpl, const char *id,
                 const char *extra)
{
  char a[4096];
  const char *p = strstr(tmpl, "$RUNPOD_POD_ID");
  if (p)
    snprintf(a, sizeof(a), "%.*sbare%s", (int)(p - tmpl), tmpl, p + 14);
  else
    snprintf(a, sizeof(a), "%s", tmpl);
  p = strstr(a, "$ID");
  if (p)
    snprintf(out, len, "%.*s%s%s%s", (int)(p - a), a, id, p + 3, extra);
  else
    snprintf(out, len, "%s%s", a, extra);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  const char *take = getenv("RUNPOD_WEBHOOK_GET_JOB");
  const char *done = getenv("RUNPOD_WEBHOOK_POST_OUTPUT");
  const char *key = getenv("RUNPOD_AI_API_KEY");
  long n = argc > 1 ? atol(argv[1]) : 10000;
  long got = 0;
  char url[8192];
  char auth[512];
  char *result = NULL;
  size_t result_cap = 0;
  struct body b = { NULL, 0, 0 };
  struct curl_slist *h = NULL;
  struct rusage ru;
  CURL *c;
  double t0;
  if (!take || !done)
    return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  c = curl_easy_init();
  snprintf(auth, sizeof(auth), "Authorization: %s", key ? key : "");
  h = curl_slist_append(h, auth);
  h = curl_slist_append(h, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  t0 = now();
  while (got < n) {
    long status = 0;
    char id[128];
    const char *p;
    b.len = 0;
    fill(url, sizeof(url), take, "bare", "&job_in_progress=0");
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (curl_easy_perform(c) != CURLE_OK)
      return 1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
      continue;
    p = b.data ? strstr(b.data, "\"id\":\"") : NULL;
    if (!p || sscanf(p + 6, "%127[^\"]", id) != 1)
      return 1;
    if (b.len + 16 > result_cap) {
      result_cap = b.len + 16;
      result = realloc(result, result_cap);
      if (!result)
        return 1;
    }
    snprintf(result, result_cap, "{\"output\":%s}", b.data);
    fill(url, sizeof(url), done, id, "&isStream=false");
    b.len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, result);
    if (curl_easy_perform(c) != CURLE_OK)
      return 1;
    got++;
  }
  getrusage(RUSAGE_SELF, &ru);
  printf("bare_client jobs %ld seconds %.3f jobs_per_s %.1f cpu_ms_per_job "
         "%.3f maxrss_kib %ld\n", got, now() - t0,
         (double)got / (now() - t0),
         ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
          ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6)
         * 1e3 / (double)got, ru.ru_maxrss);
  free(result);
  free(b.data);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  return 0;
}
