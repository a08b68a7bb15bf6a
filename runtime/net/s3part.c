/* s3part.c - see s3part.h. */
#include "net/s3part.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rp.h"
#include "net/sigv4.h"

struct rp_s3part {
  pthread_t thread;
  int spawned;
  atomic_int finished;
  atomic_int abort;
  char *url, *path, *provider, *userpwd;
  long long offset;
  size_t len;
  long stall_s, timeout_ms;
  char *buf;                 /* the part's bytes */
  struct rp_http *h;
  int rc;
  char err[256];
};

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct rp_s3part *p = ud;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return atomic_load(&p->abort) ? 1 : 0;
}

/* Reads the range into p->buf. */
static int read_range(struct rp_s3part *p)
{
  int fd = open(p->path, O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd < 0)
    return rp_fail(RP_EIO, p->err, sizeof(p->err), "%s: %s", p->path,
                   strerror(errno));
  while (got < p->len) {
    ssize_t r = pread(fd, p->buf + got, p->len - got,
                      (off_t)(p->offset + (long long)got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      int e = r < 0 ? errno : 0;
      close(fd);
      return rp_fail(RP_EIO, p->err, sizeof(p->err), "%s: %s", p->path,
                     e ? strerror(e) : "shorter than expected");
    }
    got += (size_t)r;
  }
  close(fd);
  return RP_OK;
}

static void *part_thread(void *arg)
{
  struct rp_s3part *p = arg;
  char hash[65];
  char header[128];
  const char *headers[1];
  int rc = read_range(p);
  if (rc == RP_OK) {
    rp_sigv4_sha256_hex(p->buf, p->len, hash);
    snprintf(header, sizeof(header), "x-amz-content-sha256: %s", hash);
    headers[0] = header;
    rc = rp_http_new(&p->h, "PUT", p->url, headers, 1, NULL, 0,
                     p->timeout_ms, 0, p->err, sizeof(p->err));
  }
  if (rc == RP_OK && rp_http_sigv4(p->h, p->provider, p->userpwd) != RP_OK)
    rc = rp_fail(RP_EINVAL, p->err, sizeof(p->err),
                 "this libcurl cannot sign requests (SigV4)");
  if (rc == RP_OK) {
    /* The body is p->buf itself: no second copy of the part. */
    curl_easy_setopt(p->h->easy, CURLOPT_POSTFIELDS, p->buf);
    curl_easy_setopt(p->h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)p->len);
    if (p->stall_s > 0) {
      curl_easy_setopt(p->h->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(p->h->easy, CURLOPT_LOW_SPEED_TIME, p->stall_s);
    }
    curl_easy_setopt(p->h->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(p->h->easy, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(p->h->easy, CURLOPT_NOPROGRESS, 0L);
    while (!p->h->done)
      if (rp_http_step(p->h) != RP_OK) {
        rp_http_finish(p->h, CURLE_FAILED_INIT);
        break;
      }
  }
  p->rc = rc;
  atomic_store(&p->finished, 1);
  return NULL;
}

int rp_s3part_start(struct rp_s3part **out, const struct rp_s3part_opts *o,
                    char *err, size_t errlen)
{
  struct rp_s3part *p;
  int e;
  *out = NULL;
  if (o->len == 0 || o->len > RP_S3PART_MAX || o->offset < 0)
    return rp_fail(RP_EINVAL, err, errlen, "invalid part of %zu bytes at "
                   "%lld", o->len, o->offset);
  p = calloc(1, sizeof(*p));
  if (!p)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  atomic_init(&p->finished, 0);
  atomic_init(&p->abort, 0);
  p->url = strdup(o->url);
  p->path = strdup(o->path);
  p->provider = strdup(o->provider);
  p->userpwd = strdup(o->userpwd);
  p->buf = malloc(o->len);
  p->offset = o->offset;
  p->len = o->len;
  p->stall_s = o->stall_s;
  p->timeout_ms = o->timeout_ms;
  if (!p->url || !p->path || !p->provider || !p->userpwd || !p->buf) {
    rp_s3part_free(p);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  e = pthread_create(&p->thread, NULL, part_thread, p);
  if (e != 0) {
    rp_s3part_free(p);
    return rp_fail(RP_EIO, err, errlen, "cannot start a thread: %s",
                   strerror(e));
  }
  p->spawned = 1;
  *out = p;
  return RP_OK;
}

int rp_s3part_finished(struct rp_s3part *p)
{
  return atomic_load(&p->finished);
}

int rp_s3part_result(struct rp_s3part *p, struct rp_http **h, char *err,
                     size_t errlen)
{
  if (p->spawned) {
    pthread_join(p->thread, NULL);
    p->spawned = 0;
  }
  *h = p->h;
  if (p->rc != RP_OK)
    return rp_fail(p->rc, err, errlen, "%s", p->err);
  return RP_OK;
}

void rp_s3part_free(struct rp_s3part *p)
{
  if (!p)
    return;
  if (p->spawned) {
    atomic_store(&p->abort, 1);
    pthread_join(p->thread, NULL);
  }
  rp_http_free(p->h);
  free(p->buf);
  free(p->url);
  free(p->path);
  /* The secret does not outlive the part in freed memory. */
  if (p->userpwd) {
    volatile char *s = p->userpwd;
    while (*s)
      *s++ = '\0';
  }
  free(p->userpwd);
  free(p->provider);
  free(p);
}
