/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The clocks the agent reads, as seconds in a double: the monotonic clock
 * for every deadline, window and interval (a clock step must not stall or
 * rush them), the wall clock only for what is shown to people (record
 * times, startsAt) and kept across a restart, and CPU-time clocks for what
 * a thread costs.
 */
#ifndef ABUSEWATCH_CLOCK_H
#define ABUSEWATCH_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC: seconds since some fixed point (boot). */
double clock_monotonic(void);

/* CLOCK_REALTIME: seconds since the epoch. */
double clock_wall(void);

/*
 * A CPU-time clock: CLOCK_THREAD_CPUTIME_ID (the calling thread), or one
 * from pthread_getcpuclockid(). 0 when it cannot be read (its thread ended).
 */
double clock_cpu(clockid_t clock);

/* @seconds (not negative) as a timespec, for the calls that take one. */
struct timespec clock_timespec(double seconds);

#endif
