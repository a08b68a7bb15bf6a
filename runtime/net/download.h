/*
 * download.h - one file download of runpod.download: an rp_http request
 * whose body streams into a new private file, behind the SSRF guard
 * (netguard.h) and a size cap.
 *
 * The file is created with O_EXCL and mode 0600 (job inputs are private)
 * and never follows a symbolic link. Whatever ends the transfer short -
 * a refused address, an HTTP error status, the size cap, a write error
 * such as ENOSPC or EFBIG, a time-out - the partial file is removed.
 * Renaming it into place is the caller's (it learns the name from the
 * response headers).
 *
 * A download is driven either like any rp_http request (the executor's
 * multi handle, or rp_http_step) or on a thread of its own
 * (rp_download_spawn), so that one caller can run several at once and
 * poll them (rp_download_finished).
 */
#ifndef RP_DOWNLOAD_H
#define RP_DOWNLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "net/http.h"
#include "net/netguard.h"

#define RP_DOWNLOAD_MAX_REDIRECTS 5

struct rp_download {
  struct rp_http *h;         /* drive it like any rp_http request */
  int fd;
  char *path;
  int keep;                  /* the download succeeded: leave the file */
  pthread_t thread;          /* rp_download_spawn's, while 'spawned' */
  int spawned;
  atomic_int finished;       /* the spawned thread is done with h */
  atomic_int abort;          /* ask the transfer to stop (free) */
};

struct rp_download_opts {
  long timeout_ms;           /* whole transfer, 0 = none */
  long connect_timeout_ms;   /* 0 = libcurl's default */
  long stall_s;              /* fail when slower than low_speed bytes/s */
  long low_speed;            /*   for stall_s seconds; 0 = never */
  long long max_bytes;       /* body size cap, > 0 */
  const struct rp_netguard *guard;
};

/* Creates 'path' (which must not exist) and prepares the GET of url into
 * it. Returns RP_OK and *out (free with rp_download_free), or RP_EIO /
 * RP_EINVAL / RP_ENOMEM with a message; nothing is left on disk then. */
int rp_download_new(struct rp_download **out, const char *url,
                    const char *path, const struct rp_download_opts *o,
                    char *err, size_t errlen);

/* Runs the transfer on a new thread (blocking libcurl on a private multi
 * handle); d must not be driven any other way then. Returns RP_OK or
 * RP_EIO when no thread starts. */
int rp_download_spawn(struct rp_download *d, char *err, size_t errlen);

/* 1 once a spawned transfer has ended (rp_download_end may be called). */
int rp_download_finished(struct rp_download *d);

/* Judges the finished transfer and closes the file: RP_OK keeps it;
 * otherwise the file is removed, the message says why and *retry is 1
 * when trying again may help (connection errors, time-outs, HTTP 5xx and
 * 429), 0 when it cannot (refused address, HTTP 4xx, size cap, disk). */
int rp_download_end(struct rp_download *d, int *retry, char *err,
                    size_t errlen);

/* Frees d; removes the file unless rp_download_end kept it. A spawned
 * transfer still running is stopped first (its thread notices within about
 * a second). Accepts NULL. */
void rp_download_free(struct rp_download *d);

#endif
