// SPDX-License-Identifier: GPL-2.0
#include <time.h>

#include "clock.h"

static double clock_seconds(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
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
