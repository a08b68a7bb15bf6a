/*
 * clock.h - the runtime's one clock.
 *
 * Durations, deadlines and timeouts use the monotonic clock (CLOCK_MONOTONIC:
 * never jumps with the wall clock); only timestamps shown to people or put on
 * the wire use the wall clock. A condition variable waited on with a deadline
 * from this unit must be set up with rp_clock_cond_init, so that both sides
 * agree on the clock.
 */
#ifndef RP_CLOCK_H
#define RP_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Monotonic seconds from an arbitrary start, with sub-microsecond steps. */
double rp_clock_now(void);

/* The same clock in whole milliseconds. */
long long rp_clock_now_ms(void);

/* Wall-clock seconds since the Unix epoch (UTC), with sub-microsecond
 * steps. */
double rp_clock_wall(void);

/* Writes to *ts the absolute time at_ms (a value of rp_clock_now_ms()'s
 * clock), for pthread_cond_timedwait on a condition variable set up by
 * rp_clock_cond_init. A past at_ms gives a past time: the wait returns at
 * once with ETIMEDOUT. */
void rp_clock_deadline(struct timespec *ts, long long at_ms);

/* Initialises *cv timed on the monotonic clock. Returns 0 or an errno
 * value (then *cv is not initialised). Destroy with pthread_cond_destroy. */
int rp_clock_cond_init(pthread_cond_t *cv);

#endif
