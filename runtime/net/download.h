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
 */
#ifndef RP_DOWNLOAD_H
#define RP_DOWNLOAD_H

#include <stddef.h>

#include "net/http.h"
#include "net/netguard.h"

#define RP_DOWNLOAD_MAX_REDIRECTS 5

struct rp_download {
  struct rp_http *h;         /* drive it like any rp_http request */
  int fd;
  char *path;
  int keep;                  /* the download succeeded: leave the file */
};

struct rp_download_opts {
  long timeout_ms;           /* whole transfer, 0 = none */
  long connect_timeout_ms;   /* 0 = libcurl's default */
  long long max_bytes;       /* body size cap, > 0 */
  const struct rp_netguard *guard;
};

/* Creates 'path' (which must not exist) and prepares the GET of url into
 * it. Returns RP_OK and *out (free with rp_download_free), or RP_EIO /
 * RP_EINVAL / RP_ENOMEM with a message; nothing is left on disk then. */
int rp_download_new(struct rp_download **out, const char *url,
                    const char *path, const struct rp_download_opts *o,
                    char *err, size_t errlen);

/* Judges the finished transfer and closes the file: RP_OK keeps it;
 * otherwise the file is removed, the message says why and *retry is 1
 * when trying again may help (connection errors, time-outs, HTTP 5xx and
 * 429), 0 when it cannot (refused address, HTTP 4xx, size cap, disk). */
int rp_download_end(struct rp_download *d, int *retry, char *err,
                    size_t errlen);

/* Frees d; removes the file unless rp_download_end kept it. Accepts NULL. */
void rp_download_free(struct rp_download *d);

#endif
