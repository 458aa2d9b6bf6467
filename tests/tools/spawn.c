// SPDX-License-Identifier: GPL-2.0
/*
 * spawn N SECONDS: forks N children that each sleep SECONDS and exit; the
 * parent waits for all of them. No threads, so N + 1 tasks while it runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: spawn N SECONDS\n"
			"  forks N (1..1000) children that each sleep SECONDS (<= 600), waits for them\n"
			"example: spawn 10 4\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct timespec nap;
	double seconds;
	int failed = 0;
	char *rest;
	long count, i;
	pid_t pid;

	if (argc != 3)
		return usage();
	count = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || count < 1 || count > 1000)
		return usage();
	seconds = strtod(argv[2], &rest);
	if (rest == argv[2] || *rest || !(seconds >= 0 && seconds <= 600))
		return usage();
	nap.tv_sec = (time_t)seconds;
	nap.tv_nsec = (long)((seconds - (double)nap.tv_sec) * 1e9);
	for (i = 0; i < count; i++) {
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "spawn: fork: %s\n", strerror(errno));
			failed = 1;
			break;
		}
		if (pid == 0) {
			while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
				;
			_exit(0);
		}
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return failed;
}
