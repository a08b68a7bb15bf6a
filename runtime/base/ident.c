/* ident.c - see ident.h. */
#include "base/ident.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"
#include "base/rp.h"

static char worker_id[128];
static pthread_once_t worker_id_once = PTHREAD_ONCE_INIT;
static char pod_id[128];
static char pod_hostname[256];

void rp_ident_set(const char *id, const char *hostname)
{
  snprintf(pod_id, sizeof(pod_id), "%s", id ? id : "");
  snprintf(pod_hostname, sizeof(pod_hostname), "%s",
           hostname ? hostname : "");
}

/* Formats 16 bytes as a version-4 UUID, setting its version and variant
 * bits. */
static void format_uuid4(unsigned char b[16], char out[37])
{
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
           b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int rp_uuid4(char out[37], char *err, size_t errlen)
{
  unsigned char b[16];
  int rc = rp_files_random(b, sizeof(b), err, errlen);
  if (rc == RP_OK)
    format_uuid4(b, out);
  return rc;
}

static void make_worker_id(void)
{
  unsigned char b[16];
  char err[128];
  if (*pod_id) {
    snprintf(worker_id, sizeof(worker_id), "%s", pod_id);
    return;
  }
  if (rp_uuid4(worker_id, err, sizeof(err)) == RP_OK)
    return;
  /* No random source at all: still a distinct id per process. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  srand((unsigned)(ts.tv_nsec ^ getpid()));
  for (size_t i = 0; i < sizeof(b); i++)
    b[i] = (unsigned char)rand();
  format_uuid4(b, worker_id);
}

const char *rp_worker_id(void)
{
  pthread_once(&worker_id_once, make_worker_id);
  return worker_id;
}

void rp_hostname(char *buf, unsigned long len)
{
  if (len == 0)
    return;
  if (*pod_hostname) {
    snprintf(buf, len, "%s", pod_hostname);
    return;
  }
  if (gethostname(buf, len) != 0)
    snprintf(buf, len, "unknown");
  buf[len - 1] = '\0';
}
