// SPDX-License-Identifier: GPL-2.0
/*
 * linger SECONDS [ARGS...]: sleeps SECONDS (0: exits at once) and ignores
 * the rest of its arguments. The software tests copy it under other names
 * and give it a miner's command line: it stands in for a miner by name,
 * digest or marker without doing anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec pause;
	double seconds;
	char *end;

	if (argc < 2) {
		fprintf(stderr, "usage: linger SECONDS [ARGS...]\n");
		return 2;
	}
	seconds = strtod(argv[1], &end);
	if (*end || seconds < 0 || seconds > 3600) {
		fprintf(stderr, "linger: SECONDS must be 0..3600\n");
		return 2;
	}
	pause.tv_sec = (time_t)seconds;
	pause.tv_nsec = (long)((seconds - (double)pause.tv_sec) * 1e9);
	while (nanosleep(&pause, &pause))
		;
	return 0;
}
