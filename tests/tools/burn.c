// SPDX-License-Identifier: GPL-2.0
/* burn SECONDS: keeps one thread busy for SECONDS of wall time, then exits. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: burn SECONDS\n"
			"  busy-loops one thread for SECONDS (0 < SECONDS <= 600) of wall time\n"
			"example: burn 1.5\n");
	return 2;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	volatile unsigned long spins = 0;
	double seconds, end;
	char *rest;

	if (argc != 2)
		return usage();
	seconds = strtod(argv[1], &rest);
	if (rest == argv[1] || *rest || !(seconds > 0 && seconds <= 600))
		return usage();
	end = now() + seconds;
	/* Check the clock only every so often: the loop itself should be the load. */
	while (now() < end)
		for (int i = 0; i < 100000; i++)
			spins++;
	return 0;
}
