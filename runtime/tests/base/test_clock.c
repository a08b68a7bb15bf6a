/*
 * test_clock.c - unit tests of clock.c: the two monotonic readings agree,
 * the wall clock is the epoch clock, and a deadline on a condition variable
 * from rp_clock_cond_init is read on the monotonic clock.
 */
#include "base/clock.h"

#include <errno.h>
#include <time.h>

#include "tests/check.h"

static void test_monotonic_agrees(void)
{
  for (int i = 0; i < 1000; i++) {
    long long a = rp_clock_now_ms();
    double s = rp_clock_now();
    long long b = rp_clock_now_ms();
    double s2 = rp_clock_now();
    CHECK(a <= b);
    CHECK(s <= s2);
    /* ms truncates: a <= s * 1000 < b + 1 */
    CHECK((double)a <= s * 1000 + 1e-3);
    CHECK(s * 1000 < (double)b + 1);
  }
}

/* time() may read a coarse clock a tick behind: one second of slack, still
 * far from the monotonic clock (seconds since boot). */
static void test_wall_is_epoch(void)
{
  time_t a = time(NULL);
  double w = rp_clock_wall();
  time_t b = time(NULL);
  CHECK(w >= (double)a - 1);
  CHECK(w < (double)b + 2);
  CHECK(w - rp_clock_now() > 1e9);
}

static void test_deadline(void)
{
  struct timespec ts;
  rp_clock_deadline(&ts, 1234);
  CHECK_INT(1, ts.tv_sec);
  CHECK_INT(234000000L, ts.tv_nsec);
  rp_clock_deadline(&ts, 0);
  CHECK_INT(0, ts.tv_sec);
  CHECK_INT(0, ts.tv_nsec);
  rp_clock_deadline(&ts, -5);
  CHECK_INT(0, ts.tv_sec);
  CHECK_INT(0, ts.tv_nsec);
}

/* A wait to now + 30 ms must time out, and not before the deadline: on a
 * condition variable timed on the wall clock the monotonic deadline lies in
 * 1970 and the wait would end at once. */
static void test_cond_waits_on_monotonic(void)
{
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv;
  struct timespec ts;
  long long deadline;
  int rc = 0;
  CHECK_INT(0, rp_clock_cond_init(&cv));
  pthread_mutex_lock(&mu);
  deadline = rp_clock_now_ms() + 30;
  rp_clock_deadline(&ts, deadline);
  /* Spurious wake-ups return 0; at most a few of them. */
  for (int i = 0; i < 100 && (rc = pthread_cond_timedwait(&cv, &mu, &ts)) == 0; i++)
    continue;
  CHECK_INT(ETIMEDOUT, rc);
  CHECK(rp_clock_now_ms() >= deadline);
  /* A deadline in the past ends the wait at once. */
  rp_clock_deadline(&ts, rp_clock_now_ms() - 1000);
  CHECK_INT(ETIMEDOUT, pthread_cond_timedwait(&cv, &mu, &ts));
  pthread_mutex_unlock(&mu);
  pthread_cond_destroy(&cv);
}

int main(void)
{
  RUN(test_monotonic_agrees);
  RUN(test_wall_is_epoch);
  RUN(test_deadline);
  RUN(test_cond_waits_on_monotonic);
  return check_summary();
}
