// SPDX-License-Identifier: GPL-2.0
/*
 * forkexec N PROG [ARGS...]: N times fork, exec PROG in the child and wait
 * for it. Exactly N forks and N execs, so a counter can be checked exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: forkexec N PROG [ARGS...]\n"
			"  N times (1..100000): fork, execv PROG in the child, wait for it\n"
			"  exit 1 if any child failed\n"
			"example: forkexec 200 /bin/true\n");
	return 2;
}

int main(int argc, char **argv)
{
	long count, i;
	int failed = 0, status;
	char *rest;
	pid_t pid;

	if (argc < 3)
		return usage();
	count = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || count < 1 || count > 100000)
		return usage();
	for (i = 0; i < count; i++) {
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "forkexec: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0) {
			fprintf(stderr, "forkexec: waitpid: %s\n", strerror(errno));
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	return failed;
}
