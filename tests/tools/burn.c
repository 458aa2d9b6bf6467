// SPDX-License-Identifier: GPL-2.0
/*
 * burn SECONDS [DUTY]: keeps one thread busy for SECONDS of wall time, then
 * exits. With DUTY (0 < DUTY <= 1) it uses only that share of one core:
 * it spins while its own CPU time is behind DUTY x the time elapsed and
 * sleeps 2 ms otherwise, so late wake-ups on a busy machine are made up
 * for instead of lowering the average.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NAP_S 0.002

static int usage(void)
{
	fprintf(stderr, "usage: burn SECONDS [DUTY]\n"
			"  busy-loops one thread for SECONDS (0 < SECONDS <= 600) of wall time,\n"
			"  using DUTY (0 < DUTY <= 1, default 1) of one core on average\n"
			"example: burn 1.5 0.1\n");
	return 2;
}

static double clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	volatile unsigned long spins = 0;
	struct timespec nap = { 0, (long)(NAP_S * 1e9) };
	double seconds, duty = 1, start, end;
	char *rest;

	if (argc != 2 && argc != 3)
		return usage();
	seconds = strtod(argv[1], &rest);
	if (rest == argv[1] || *rest || !(seconds > 0 && seconds <= 600))
		return usage();
	if (argc == 3) {
		duty = strtod(argv[2], &rest);
		if (rest == argv[2] || *rest || !(duty > 0 && duty <= 1))
			return usage();
	}
	start = now();
	end = start + seconds;
	while (now() < end) {
		if (duty < 1 &&
		    clock_seconds(CLOCK_THREAD_CPUTIME_ID) >= duty * (now() - start)) {
			nanosleep(&nap, NULL);
			continue;
		}
		/* Check the clocks only every so often: the loop itself should be the load. */
		for (int i = 0; i < 10000; i++)
			spins++;
	}
	return 0;
}
