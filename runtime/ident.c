/* ident.c - see ident.h. */
#include "ident.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char worker_id[128];
static pthread_once_t worker_id_once = PTHREAD_ONCE_INIT;

static void make_worker_id(void)
{
  const char *env = getenv("RUNPOD_POD_ID");
  unsigned char b[16] = {0};
  int fd;
  if (env && *env) {
    snprintf(worker_id, sizeof(worker_id), "%s", env);
    return;
  }
  fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srand((unsigned)(ts.tv_nsec ^ getpid()));
    for (size_t i = 0; i < sizeof(b); i++)
      b[i] = (unsigned char)rand();
  }
  if (fd >= 0)
    close(fd);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(worker_id, sizeof(worker_id),
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
           b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

const char *rp_worker_id(void)
{
  pthread_once(&worker_id_once, make_worker_id);
  return worker_id;
}

void rp_hostname(char *buf, unsigned long len)
{
  const char *env = getenv("RUNPOD_POD_HOSTNAME");
  if (len == 0)
    return;
  if (env && *env) {
    snprintf(buf, len, "%s", env);
    return;
  }
  if (gethostname(buf, len) != 0)
    snprintf(buf, len, "unknown");
  buf[len - 1] = '\0';
}
