/*
 * bench/stream_client.c - streaming chat completions, timed: CONC
 * requests at once (stream: true, a prompt of WORDS words, one token
 * each), ROUNDS times after one round that is not counted (it opens
 * the connections), on one libcurl multi handle and one thread, so
 * the client adds little and steady time to what it measures. Prints one
 * JSON line: each request's time to first token in ms (from the
 * request's start to the first body bytes holding "content"), the tokens
 * received (count of "content") and the wall time of the rounds in
 * seconds. bench/proxy.sh runs it against the backend
 * and through the worker.
 *
 *   stream_client URL CONC ROUNDS WORDS
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONC 256

static const char needle[] = "\"content\"";

struct stream {
  CURL *h;
  double t0;
  double ttft;               /* -1 until the first token */
  long tokens;
  char tail[sizeof(needle)]; /* the last bytes seen, for a split needle */
  size_t ntail;
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end)
{
  size_t len = sizeof(needle) - 1;
  while ((p = memchr(p, '"', (size_t)(end - p))) != NULL) {
    if ((size_t)(end - p) < len)
      return NULL;
    if (memcmp(p, needle, len) == 0)
      return p;
    p++;
  }
  return NULL;
}

/* Counts needles in tail + p; the first one stamps the time to first
 * token. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct stream *st = ud;
  size_t k = size * n;
  size_t keep = sizeof(needle) - 2;          /* needle length - 1 */
  char joint[2 * sizeof(needle)];
  size_t nj = 0;
  const char *q = p;
  const char *end = p + k;
  /* A needle that starts in the tail and ends in p. */
  memcpy(joint, st->tail, st->ntail);
  nj = st->ntail;
  memcpy(joint + nj, p, k < keep ? k : keep);
  nj += k < keep ? k : keep;
  for (size_t i = 0; i + keep + 1 <= nj && i < st->ntail; i++)
    if (memcmp(joint + i, needle, keep + 1) == 0)
      st->tokens++;
  while ((q = find(q, end)) != NULL) {
    st->tokens++;
    q += keep + 1;
  }
  if (st->tokens > 0 && st->ttft < 0)
    st->ttft = (now() - st->t0) * 1e3;
  if (k >= keep) {
    memcpy(st->tail, end - keep, keep);
    st->ntail = keep;
  } else {
    size_t drop = st->ntail + k > keep ? st->ntail + k - keep : 0;
    memmove(st->tail, st->tail + drop, st->ntail - drop);
    memcpy(st->tail + st->ntail - drop, p, k);
    st->ntail = st->ntail - drop + k;
  }
  return k;
}

int main(int argc, char **argv)
{
  static struct stream st[MAX_CONC];
  struct curl_slist *hdrs = NULL;
  CURLM *multi;
  char *body;
  size_t cap;
  int conc;
  int rounds;
  int words;
  long tokens = 0;
  double t0;
  double seconds;
  double *ttft;
  if (argc != 5) {
    fprintf(stderr, "usage: stream_client URL CONC ROUNDS WORDS\n");
    return 2;
  }
  conc = atoi(argv[2]);
  rounds = atoi(argv[3]);
  words = atoi(argv[4]);
  if (conc < 1 || conc > MAX_CONC || rounds < 1 || words < 1 || words > 100000) {
    fprintf(stderr, "stream_client: CONC 1..%d, ROUNDS >= 1, WORDS 1..100000\n",
            MAX_CONC);
    return 2;
  }
  cap = (size_t)words * 8 + 256;
  body = malloc(cap);
  if (!body)
    return 1;
  {
    size_t n = (size_t)snprintf(body, cap, "{\"model\":\"fake-model\",\"stream\":true,"
                                "\"messages\":[{\"role\":\"user\",\"content\":\"");
    for (int i = 0; i < words; i++)
      n += (size_t)snprintf(body + n, cap - n, "%sw%d", i ? " " : "", i);
    snprintf(body + n, cap - n, "\"}]}");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Authorization: Bearer bench");
  multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
  for (int i = 0; i < conc; i++) {
    st[i].h = curl_easy_init();
    curl_easy_setopt(st[i].h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(st[i].h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(st[i].h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(st[i].h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(st[i].h, CURLOPT_WRITEDATA, &st[i]);
    curl_easy_setopt(st[i].h, CURLOPT_TIMEOUT, 120L);
  }
  ttft = malloc(sizeof(double) * (size_t)conc * (size_t)rounds);
  if (!ttft)
    return 1;
  t0 = now();
  for (int r = -1; r < rounds; r++) {   /* round -1: connecting, not counted */
    int running = 1;
    for (int i = 0; i < conc; i++) {
      st[i].t0 = now();
      st[i].ttft = -1;
      st[i].tokens = 0;
      st[i].ntail = 0;
      curl_multi_add_handle(multi, st[i].h);
    }
    while (running) {
      CURLMsg *msg;
      int left;
      curl_multi_perform(multi, &running);
      while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        long code = 0;
        if (msg->msg != CURLMSG_DONE)
          continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (msg->data.result != CURLE_OK || code != 200) {
          fprintf(stderr, "stream_client: %s, HTTP %ld\n",
                  curl_easy_strerror(msg->data.result), code);
          return 1;
        }
      }
      if (running)
        curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    for (int i = 0; i < conc; i++) {
      curl_multi_remove_handle(multi, st[i].h);
      if (st[i].ttft < 0) {
        fprintf(stderr, "stream_client: a stream without tokens\n");
        return 1;
      }
      if (r < 0)
        continue;
      ttft[r * conc + i] = st[i].ttft;
      tokens += st[i].tokens;
    }
    if (r < 0)
      t0 = now();
  }
  seconds = now() - t0;
  printf("{\"ttft\": [");
  for (int i = 0; i < conc * rounds; i++)
    printf("%s%.3f", i ? ", " : "", ttft[i]);
  printf("], \"tokens\": %ld, \"seconds\": %.3f}\n", tokens, seconds);
  free(ttft);
  for (int i = 0; i < conc; i++)
    curl_easy_cleanup(st[i].h);
  curl_multi_cleanup(multi);
  curl_slist_free_all(hdrs);
  free(body);
  curl_global_cleanup();
  return 0;
}
