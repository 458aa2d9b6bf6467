// SPDX-License-Identifier: GPL-2.0
#include <time.h>

#include "clock.h"

#define NANOSECONDS 1000000000L

static double clock_seconds(clockid_t clock)
{
	struct timespec now;

	if (clock_gettime(clock, &now))
		return 0;
	return now.tv_sec + now.tv_nsec / 1e9;
}

double clock_monotonic(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

double clock_wall(void)
{
	return clock_seconds(CLOCK_REALTIME);
}

double clock_cpu(clockid_t clock)
{
	return clock_seconds(clock);
}

struct timespec clock_timespec(double seconds)
{
	struct timespec result;

	result.tv_sec = (time_t)seconds;
	result.tv_nsec = (long)((seconds - (double)result.tv_sec) * 1e9);
	/* Rounding can reach a whole second; tv_nsec must stay below it. */
	if (result.tv_nsec >= NANOSECONDS)
		result.tv_nsec = NANOSECONDS - 1;
	if (result.tv_nsec < 0)
		result.tv_nsec = 0;
	return result;
}
