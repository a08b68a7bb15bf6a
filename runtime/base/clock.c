/* clock.c - see clock.h. */
#include "base/clock.h"

static double seconds(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double rp_clock_now(void)
{
  return seconds(CLOCK_MONOTONIC);
}

long long rp_clock_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double rp_clock_wall(void)
{
  return seconds(CLOCK_REALTIME);
}

void rp_clock_deadline(struct timespec *ts, long long at_ms)
{
  if (at_ms < 0)
    at_ms = 0;
  ts->tv_sec = (time_t)(at_ms / 1000);
  ts->tv_nsec = (long)(at_ms % 1000) * 1000000L;
}

int rp_clock_cond_init(pthread_cond_t *cv)
{
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc != 0)
    return rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(cv, &attr);
  pthread_condattr_destroy(&attr);
  return rc;
}
