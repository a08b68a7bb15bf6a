/*
 * spec/fake_inference.c - a small HTTP server the tests start on
 * 127.0.0.1 in place of a local inference server:
 *   GET  /hello                    200 "hello"
 *   GET  /slow?ms=N                200 "slept" after N ms
 *   GET  /status/N                 answers status N
 *   POST /echo                     200 JSON {"method","body","x_test"}
 *   POST /v1/chat/completions      OpenAI-style; with "stream": true an
 *                                  SSE stream of one chunk per word of the
 *                                  last message, FAKE_TOKEN_MS (20) ms
 *                                  apart, then [DONE]; the word CRASH
 *                                  makes the server exit 3 when it comes;
 *                                  the word SPLIT streams as the text
 *                                  "\u00fc\U0001F600" in two writes 1.5 s
 *                                  apart, cut inside the emoji's bytes;
 *                                  the word USAGE streams a chunk with
 *                                  no choices (a usage report); the
 *                                  word OOPS streams an {"error": ...}
 *                                  event, then [DONE]
 *   POST /v1/completions           the same for the words of "prompt"
 *                                  (chunks carry "text")
 *       Both echo "model"; the model "missing" gets a 404 OpenAI error.
 *   GET  /v1/models                {"object":"list","data":[{"id":
 *                                  "fake-model",...}]}
 *   GET  /health                   200 "ok" (after FAKE_READY_AFTER_MS)
 *   GET  /bytes[/ANY]?n=N[&chunked=1][&name=F]
 *                                  N bytes, byte i = i % 251; chunked: no
 *                                  Content-Length; name: Content-Disposition
 *                                  attachment; filename="F"
 *   GET  /redirect?to=URL          302 to URL
 *   GET  /flaky?key=K&fail=N       503 for the first N requests with key K,
 *                                  then 200 "ok"
 *   GET  /barrier?key=K&n=N        held until N requests with key K have
 *                                  come (so N are held at once), then 200
 *                                  "met"; 504 after 30 s
 *   GET  /aborted                  200 with the number of requests so far
 *                                  that ended before their response was
 *                                  sent in full (the client went away)
 * Prints "listening on PORT" and serves until killed.
 *   fake_inference [PORT]   (0 = ephemeral)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct upload {
  char *data;
  size_t len;
};

struct sse {
  char words[64][64];
  int n;
  int next;
  char rest[512];           /* the second write of a SPLIT event */
  int rest_n;
  int chat;                 /* chat chunks carry delta.content, else text */
  char model[64];
};

static int token_ms = 20;
static struct timespec started;

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct sse *s = cls;
  int len;
  (void)pos;
  if (s->next > s->n)
    return MHD_CONTENT_READER_END_OF_STREAM;
  usleep((useconds_t)token_ms * 1000);
  if (s->rest_n > 0) {
    usleep(1500 * 1000);
    len = s->rest_n < (int)max ? s->rest_n : (int)max;
    memcpy(buf, s->rest, (size_t)len);
    s->rest_n = 0;
    s->next++;
    return len;
  }
  if (s->next == s->n) {
    len = snprintf(buf, max, "data: [DONE]\n\n");
  } else if (strcmp(s->words[s->next], "CRASH") == 0) {
    _exit(3);
  } else if (strcmp(s->words[s->next], "USAGE") == 0) {
    len = snprintf(buf, max, "data: {\"id\":\"chatcmpl-1\",\"object\":"
                   "\"chat.completion.chunk\",\"created\":1,\"model\":"
                   "\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
                   "\"completion_tokens\":1,\"total_tokens\":2}}\n\n",
                   s->model);
  } else if (strcmp(s->words[s->next], "OOPS") == 0) {
    len = snprintf(buf, max, "data: {\"error\":{\"message\":\"engine "
                   "overloaded\",\"type\":\"server_error\",\"code\":"
                   "500}}\n\n");
    s->next = s->n - 1;     /* [DONE] comes next */
  } else if (strcmp(s->words[s->next], "SPLIT") == 0 && max >= 512) {
    /* "ü" then the emoji U+1F600, cut after its first two bytes */
    char event[512];
    int n = snprintf(event, sizeof(event), "data: {\"id\":\"chatcmpl-1\","
                     "\"object\":\"chat.completion.chunk\",\"created\":1,"
                     "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":"
                     "{\"content\":\"\xc3\xbc\xf0\x9f\x98\x80\"},"
                     "\"finish_reason\":null}]}\n\n", s->model);
    const char *emoji = strstr(event, "\xf0\x9f");
    int cut = emoji ? (int)(emoji - event) + 2 : n / 2;
    memcpy(buf, event, (size_t)cut);
    s->rest_n = n - cut;
    memcpy(s->rest, event + cut, (size_t)s->rest_n);
    return cut;
  } else if (s->chat) {
    len = snprintf(buf, max, "data: {\"id\":\"chatcmpl-1\",\"object\":"
                   "\"chat.completion.chunk\",\"created\":1,\"model\":"
                   "\"%s\",\"choices\":[{\"index\":0,\"delta\":"
                   "{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
                   s->model, s->words[s->next]);
  } else {
    len = snprintf(buf, max, "data: {\"id\":\"cmpl-1\",\"object\":"
                   "\"text_completion\",\"created\":1,\"model\":\"%s\","
                   "\"choices\":[{\"index\":0,\"text\":\"%s\","
                   "\"finish_reason\":null}]}\n\n", s->model,
                   s->words[s->next]);
  }
  s->next++;
  return len;
}

static ssize_t bytes_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  uint64_t n = *(uint64_t *)cls;
  size_t i;
  if (pos >= n)
    return MHD_CONTENT_READER_END_OF_STREAM;
  for (i = 0; i < max && pos + i < n; i++)
    buf[i] = (char)((pos + i) % 251);
  return (ssize_t)i;
}

/* /stall: the first n bytes of /bytes, then nothing for up to 30 s with
 * the connection open (a server that stops sending), then the end. */
static ssize_t stall_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  uint64_t n = *(uint64_t *)cls;
  if (pos >= n) {
    for (int i = 0; i < 300; i++)
      usleep(100 * 1000);
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  return bytes_read(cls, pos, buf, max);
}

/* /trickle: ms milliseconds between 100-byte pieces, n bytes in all. */
struct trickle {
  uint64_t n;
  int ms;
};

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct trickle *t = cls;
  size_t i;
  if (pos >= t->n)
    return MHD_CONTENT_READER_END_OF_STREAM;
  usleep((useconds_t)t->ms * 1000);
  for (i = 0; i < max && i < 100 && pos + i < t->n; i++)
    buf[i] = (char)((pos + i) % 251);
  return (ssize_t)i;
}

static pthread_mutex_t flaky_lock = PTHREAD_MUTEX_INITIALIZER;
static char flaky_keys[64][32];
static int flaky_counts[64];

static pthread_cond_t barrier_cv = PTHREAD_COND_INITIALIZER;
static int aborted;             /* under flaky_lock */

/* Counts a request with key k (flaky_lock held); returns its slot, or -1
 * when the table is full. */
static int count_key(const char *k)
{
  int i;
  for (i = 0; i < 64 && flaky_keys[i][0]; i++)
    if (strcmp(flaky_keys[i], k) == 0)
      break;
  if (i == 64)
    return -1;
  snprintf(flaky_keys[i], sizeof(flaky_keys[i]), "%s", k);
  flaky_counts[i]++;
  return i;
}

/* Counts a request with key k; returns how many came before it. */
static int flaky_seen(const char *k)
{
  int i;
  int seen = 0;
  pthread_mutex_lock(&flaky_lock);
  i = count_key(k);
  if (i >= 0)
    seen = flaky_counts[i] - 1;
  pthread_mutex_unlock(&flaky_lock);
  return seen;
}

/* Waits until n requests with key k have come, at most 30 s. Returns 1
 * when they did. */
static int barrier_met(const char *k, int n)
{
  struct timespec until;
  int i;
  int met = 0;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30;
  pthread_mutex_lock(&flaky_lock);
  i = count_key(k);
  pthread_cond_broadcast(&barrier_cv);
  while (i >= 0 && flaky_counts[i] < n &&
         pthread_cond_timedwait(&barrier_cv, &flaky_lock, &until) == 0)
    continue;
  if (i >= 0)
    met = flaky_counts[i] >= n;
  pthread_mutex_unlock(&flaky_lock);
  return met;
}

/* Queues r as a 200 with type and, when name is set, a Content-Disposition
 * naming it; destroys r. */
static int send_200(struct MHD_Connection *c, struct MHD_Response *r,
                    const char *type, const char *name)
{
  char cd[1100];
  int rc;
  if (type)
    MHD_add_response_header(r, "Content-Type", type);
  if (name) {
    snprintf(cd, sizeof(cd), "attachment; filename=\"%.1000s\"", name);
    MHD_add_response_header(r, "Content-Disposition", cd);
  }
  rc = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return rc;
}

static int reply(struct MHD_Connection *c, unsigned status, const char *type,
                 const char *body)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(
    strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  int rc;
  MHD_add_response_header(r, "Content-Type", type);
  rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *size, void **ctx)
{
  struct upload *u = *ctx;
  char out[70000];
  (void)cls;
  (void)version;
  if (!u) {
    u = calloc(1, sizeof(*u));
    *ctx = u;
    return MHD_YES;
  }
  if (*size) {
    u->data = realloc(u->data, u->len + *size + 1);
    memcpy(u->data + u->len, data, *size);
    u->len += *size;
    u->data[u->len] = '\0';
    *size = 0;
    return MHD_YES;
  }
  if (strcmp(url, "/hello") == 0)
    return (enum MHD_Result)reply(c, 200, "text/plain", "hello");
  if (strcmp(url, "/slow") == 0) {
    const char *ms = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                 "ms");
    usleep((useconds_t)(ms ? atoi(ms) : 100) * 1000);
    return (enum MHD_Result)reply(c, 200, "text/plain", "slept");
  }
  if (strncmp(url, "/status/", 8) == 0)
    return (enum MHD_Result)reply(c, (unsigned)atoi(url + 8), "text/plain",
                                  "status");
  if (strcmp(url, "/echo") == 0) {
    const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                "X-Test");
    snprintf(out, sizeof(out), "{\"method\":\"%s\",\"body\":\"%.60000s\","
             "\"x_test\":\"%s\"}", method, u->data ? u->data : "",
             x ? x : "");
    return (enum MHD_Result)reply(c, 200, "application/json", out);
  }
  if (strncmp(url, "/bytes", 6) == 0) {
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
    const char *ch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                 "chunked");
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                   "name");
    uint64_t *len = malloc(sizeof(*len));
    *len = n ? strtoull(n, NULL, 10) : 0;
    return (enum MHD_Result)send_200(c, MHD_create_response_from_callback(
      ch ? MHD_SIZE_UNKNOWN : *len, 65536, bytes_read, len, free),
      "application/octet-stream", name);
  }
  if (strcmp(url, "/stall") == 0 || strcmp(url, "/trickle") == 0) {
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
    const char *ms = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                 "ms");
    struct trickle *t = malloc(sizeof(*t));
    t->n = n ? strtoull(n, NULL, 10) : 0;
    t->ms = ms ? atoi(ms) : 100;
    return (enum MHD_Result)send_200(c, MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 65536, url[1] == 's' ? stall_read : trickle_read, t,
      free), "application/octet-stream", NULL);
  }
  if (strcmp(url, "/file") == 0) {
    /* the file at ?path= (a spec's own fixture), with ?name= as the
     * Content-Disposition file name and ?encoding= its Content-Encoding */
    const char *path = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                   "path");
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                   "name");
    const char *enc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                  "encoding");
    int fd = path ? open(path, O_RDONLY) : -1;
    struct stat st;
    struct MHD_Response *r;
    if (fd < 0 || fstat(fd, &st) != 0) {
      if (fd >= 0)
        close(fd);
      return (enum MHD_Result)reply(c, 404, "text/plain", "no such file");
    }
    r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (enc)                     /* sent whatever the request accepts */
      MHD_add_response_header(r, "Content-Encoding", enc);
    return (enum MHD_Result)send_200(c, r, NULL, name);
  }
  if (strcmp(url, "/redirect") == 0) {
    const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                 "to");
    struct MHD_Response *r = MHD_create_response_from_buffer(
      0, (void *)"", MHD_RESPMEM_PERSISTENT);
    int rc;
    MHD_add_response_header(r, "Location", to ? to : "/");
    rc = MHD_queue_response(c, 302, r);
    MHD_destroy_response(r);
    return (enum MHD_Result)rc;
  }
  if (strcmp(url, "/flaky") == 0) {
    const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                "key");
    const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                "fail");
    if (flaky_seen(k ? k : "") < (f ? atoi(f) : 0))
      return (enum MHD_Result)reply(c, 503, "text/plain", "try later");
    return (enum MHD_Result)reply(c, 200, "text/plain", "ok");
  }
  if (strcmp(url, "/barrier") == 0) {
    const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                "key");
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                "n");
    if (!barrier_met(k ? k : "", n ? atoi(n) : 1))
      return (enum MHD_Result)reply(c, 504, "text/plain", "barrier not met");
    return (enum MHD_Result)reply(c, 200, "text/plain", "met");
  }
  if (strcmp(url, "/aborted") == 0) {
    pthread_mutex_lock(&flaky_lock);
    snprintf(out, sizeof(out), "%d", aborted);
    pthread_mutex_unlock(&flaky_lock);
    return (enum MHD_Result)reply(c, 200, "text/plain", out);
  }
  if (strcmp(url, "/health") == 0) {
    const char *after = getenv("FAKE_READY_AFTER_MS");
    struct timespec now;
    long ms;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (now.tv_sec - started.tv_sec) * 1000 +
         (now.tv_nsec - started.tv_nsec) / 1000000;
    if (after && ms < atol(after))
      return (enum MHD_Result)reply(c, 503, "text/plain", "loading");
    return (enum MHD_Result)reply(c, 200, "text/plain", "ok");
  }
  if (strcmp(url, "/v1/models") == 0)
    return (enum MHD_Result)reply(c, 200, "application/json",
      "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":"
      "\"model\",\"created\":1,\"owned_by\":\"fake\"}]}");
  if (strcmp(url, "/v1/chat/completions") == 0 ||
      strcmp(url, "/v1/completions") == 0) {
    /* The words of the last "content" (chat) or of "prompt". */
    struct sse *s = calloc(1, sizeof(*s));
    const char *p = u->data ? u->data : "";
    const char *key;
    const char *last = NULL;
    const char *m;
    struct MHD_Response *r;
    int rc;
    s->chat = strcmp(url, "/v1/chat/completions") == 0;
    key = s->chat ? "\"content\":\"" : "\"prompt\":\"";
    while ((p = strstr(p, key)) != NULL) {
      last = p + strlen(key);
      p = last;
    }
    m = strstr(u->data ? u->data : "", "\"model\":\"");
    snprintf(s->model, sizeof(s->model), "%s", m ? m + 9 : "none");
    if (strchr(s->model, '"'))
      *strchr(s->model, '"') = '\0';
    while (last && *last && *last != '"' && s->n < 64) {
      int k = 0;
      while (*last == ' ')
        last++;
      while (*last && *last != ' ' && *last != '"' && k < 63)
        s->words[s->n][k++] = *last++;
      if (k)
        s->n++;
    }
    if (strcmp(s->model, "missing") == 0) {
      free(s);
      return (enum MHD_Result)reply(c, 404, "application/json",
        "{\"error\":{\"message\":\"The model `missing` does not exist.\","
        "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}}");
    }
    if (!strstr(u->data ? u->data : "", "\"stream\":true")) {
      if (s->chat)
        snprintf(out, sizeof(out), "{\"id\":\"chatcmpl-1\",\"object\":"
                 "\"chat.completion\",\"created\":1,\"model\":\"%s\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"%d words\"},\"finish_reason\":"
                 "\"stop\"}],\"usage\":{\"prompt_tokens\":%d,"
                 "\"completion_tokens\":2,\"total_tokens\":%d}}", s->model,
                 s->n, s->n, s->n + 2);
      else
        snprintf(out, sizeof(out), "{\"id\":\"cmpl-1\",\"object\":"
                 "\"text_completion\",\"created\":1,\"model\":\"%s\","
                 "\"choices\":[{\"index\":0,\"text\":\"%d words\","
                 "\"finish_reason\":\"stop\"}]}", s->model, s->n);
      free(s);
      return (enum MHD_Result)reply(c, 200, "application/json", out);
    }
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_read,
                                          s, free);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return (enum MHD_Result)rc;
  }
  return (enum MHD_Result)reply(c, 404, "text/plain", "not found");
}

static void done(void *cls, struct MHD_Connection *c, void **ctx,
                 enum MHD_RequestTerminationCode why)
{
  struct upload *u = *ctx;
  (void)cls;
  (void)c;
  if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
    pthread_mutex_lock(&flaky_lock);
    aborted++;
    pthread_mutex_unlock(&flaky_lock);
  }
  if (u) {
    free(u->data);
    free(u);
  }
}

int main(int argc, char **argv)
{
  int port = argc > 1 ? atoi(argv[1]) : 0;
  struct sockaddr_in addr;
  const union MHD_DaemonInfo *info;
  struct MHD_Daemon *d;
  sigset_t set;
  int sig;
  clock_gettime(CLOCK_MONOTONIC, &started);
  if (getenv("FAKE_TOKEN_MS"))
    token_ms = atoi(getenv("FAKE_TOKEN_MS"));
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
                       MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                       handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                       MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                       MHD_OPTION_END);
  if (!d)
    return 1;
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("listening on %u\n", (unsigned)info->port);
  fflush(stdout);
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  return 0;
}
