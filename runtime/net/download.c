/* download.c - see download.h. */
#include "net/download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rp.h"

/* CURLOPT_XFERINFOFUNCTION: stops the transfer once d->abort is set. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
  struct rp_download *d = ud;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return atomic_load(&d->abort) ? 1 : 0;
}

int rp_download_new(struct rp_download **out, const char *url,
                    const char *path, const struct rp_download_opts *o,
                    char *err, size_t errlen)
{
  struct rp_download *d = calloc(1, sizeof(*d));
  int rc;
  *out = NULL;
  if (!d)
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  d->fd = -1;
  atomic_init(&d->finished, 0);
  atomic_init(&d->abort, 0);
  d->path = strdup(path);
  if (!d->path) {
    free(d);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  rc = rp_http_new(&d->h, "GET", url, NULL, 0, NULL, 0, o->timeout_ms, 0,
                   err, errlen);
  if (rc != RP_OK) {
    d->keep = 1;                 /* nothing was created */
    rp_download_free(d);
    return rc;
  }
  d->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               0600);
  if (d->fd < 0) {
    rc = rp_fail(RP_EIO, err, errlen, "%s: %s", path, strerror(errno));
    d->keep = 1;                 /* not ours to remove */
    rp_download_free(d);
    return rc;
  }
  rp_http_sink(d->h, d->fd, (curl_off_t)o->max_bytes);
  /* What Python's requests asks for, and decodes: a body sent gzip- or
   * deflate-encoded (asked or not, as an object stored with that
   * Content-Encoding) is saved decoded; the cap counts decoded bytes. */
  curl_easy_setopt(d->h->easy, CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
  /* No whole-transfer cap by default: a healthy multi-GB download takes
   * as long as it takes; a stalled one ends after stall_s seconds below
   * low_speed bytes a second. */
  if (o->stall_s > 0 && o->low_speed > 0) {
    curl_easy_setopt(d->h->easy, CURLOPT_LOW_SPEED_LIMIT, o->low_speed);
    curl_easy_setopt(d->h->easy, CURLOPT_LOW_SPEED_TIME, o->stall_s);
  }
  curl_easy_setopt(d->h->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(d->h->easy, CURLOPT_XFERINFODATA, d);
  curl_easy_setopt(d->h->easy, CURLOPT_NOPROGRESS, 0L);
  if (rp_http_guard(d->h, o->guard, o->connect_timeout_ms,
                    RP_DOWNLOAD_MAX_REDIRECTS) != RP_OK) {
    rp_download_free(d);
    return rp_fail(RP_ENOMEM, err, errlen, "out of memory");
  }
  *out = d;
  return RP_OK;
}

/* Whether a libcurl failure may pass when tried again. */
static int transient(CURLcode c)
{
  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return 1;
  default:
    return 0;
  }
}

/* The verdict on the transfer, before the file is closed. */
static int judge(struct rp_download *d, int *retry, char *err, size_t errlen)
{
  struct rp_http *h = d->h;
  *retry = 0;
  if (h->refused)
    return rp_fail(RP_EINVAL, err, errlen,
                   "refused to connect to %s: not a public address "
                   "(see RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS)",
                   h->refused_addr);
  if (h->too_big || h->result == CURLE_FILESIZE_EXCEEDED)
    return rp_fail(RP_ETOOBIG, err, errlen,
                   "larger than the download cap of %lld bytes "
                   "(RUNPOD_MAX_DOWNLOAD_BYTES)", (long long)h->max_bytes);
  if (h->sink_errno)
    return rp_fail(RP_EIO, err, errlen, "writing %s: %s", d->path,
                   strerror(h->sink_errno));
  if (h->bad_status || (h->result == CURLE_OK &&
                        (h->status < 200 || h->status > 299))) {
    *retry = h->status >= 500 || h->status == 429;
    return rp_fail(RP_EIO, err, errlen, "HTTP %ld", h->status);
  }
  if (h->result != CURLE_OK) {
    *retry = transient(h->result);
    return rp_fail(RP_EIO, err, errlen, "%s", rp_http_error(h));
  }
  return RP_OK;
}

static void *download_thread(void *arg)
{
  struct rp_download *d = arg;
  while (!d->h->done)
    if (rp_http_step(d->h) != RP_OK) {
      rp_http_finish(d->h, CURLE_FAILED_INIT);
      break;
    }
  atomic_store(&d->finished, 1);
  return NULL;
}

int rp_download_spawn(struct rp_download *d, char *err, size_t errlen)
{
  int e = pthread_create(&d->thread, NULL, download_thread, d);
  if (e != 0)
    return rp_fail(RP_EIO, err, errlen, "cannot start a thread: %s",
                   strerror(e));
  d->spawned = 1;
  return RP_OK;
}

int rp_download_finished(struct rp_download *d)
{
  return !d->spawned || atomic_load(&d->finished);
}

/* Waits for a spawned thread (asking it to stop first when 'stop'). */
static void join(struct rp_download *d, int stop)
{
  if (!d->spawned)
    return;
  if (stop)
    atomic_store(&d->abort, 1);
  pthread_join(d->thread, NULL);
  d->spawned = 0;
}

int rp_download_end(struct rp_download *d, int *retry, char *err,
                    size_t errlen)
{
  int rc;
  join(d, 0);
  rc = judge(d, retry, err, errlen);
  int fd = d->fd;
  d->fd = -1;
  /* close() can be the first to report a full disk (NFS, quotas). */
  if (close(fd) != 0 && rc == RP_OK)
    rc = rp_fail(RP_EIO, err, errlen, "writing %s: %s", d->path,
                 strerror(errno));
  if (rc != RP_OK)
    unlink(d->path);
  d->keep = 1;                   /* kept, or removed already */
  return rc;
}

void rp_download_free(struct rp_download *d)
{
  if (!d)
    return;
  join(d, 1);
  rp_http_free(d->h);            /* detach before the fd goes */
  if (d->fd >= 0)
    close(d->fd);
  if (!d->keep)
    unlink(d->path);
  free(d->path);
  free(d);
}
