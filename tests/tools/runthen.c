// SPDX-License-Identifier: GPL-2.0
/*
 * runthen [-s] SECONDS PROG [ARGS...]: runs PROG (fork and execvp, PATH
 * searched) and waits for it, then sleeps SECONDS (0: exits at once).
 * With -s, runs the arguments joined by spaces through system(), that is
 * /bin/sh -c, as a miner runs "modprobe msr allow_writes=on". The
 * attribution tests copy it under an innocent name: the long-lived parent
 * of a helper that exits at once.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: runthen [-s] SECONDS PROG [ARGS...]\n"
			"  runs PROG (with -s: the words through sh -c), waits, sleeps SECONDS (<= 3600)\n"
			"example: runthen -s 30 modprobe msr allow_writes=on\n");
	return 2;
}

static int run_direct(char **argv)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		perror("runthen: fork");
		return -1;
	}
	if (!pid) {
		execvp(argv[0], argv);
		perror("runthen: exec");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		perror("runthen: waitpid");
		return -1;
	}
	return status;
}

static int run_shell(char **argv)
{
	char command[4096];
	size_t used = 0, length;

	for (; *argv; argv++) {
		length = strlen(*argv);
		if (used + length + 2 > sizeof(command)) {
			fprintf(stderr, "runthen: command too long\n");
			return -1;
		}
		if (used)
			command[used++] = ' ';
		memcpy(command + used, *argv, length);
		used += length;
	}
	command[used] = '\0';
	return system(command);
}

int main(int argc, char **argv)
{
	struct timespec pause;
	bool shell = false;
	double seconds;
	char *end;
	int arg = 1;

	if (arg < argc && !strcmp(argv[arg], "-s")) {
		shell = true;
		arg++;
	}
	if (argc - arg < 2)
		return usage();
	seconds = strtod(argv[arg], &end);
	if (end == argv[arg] || *end || !(seconds >= 0 && seconds <= 3600))
		return usage();
	if ((shell ? run_shell(argv + arg + 1) : run_direct(argv + arg + 1)) < 0)
		return 1;
	pause.tv_sec = (time_t)seconds;
	pause.tv_nsec = (long)((seconds - (double)pause.tv_sec) * 1e9);
	while (nanosleep(&pause, &pause))
		;
	return 0;
}
