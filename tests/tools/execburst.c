// SPDX-License-Identifier: GPL-2.0
/*
 * execburst [-j JOBS] [-r RATE] [-t SECONDS] N PROG [ARGS...]: N execs of
 * PROG in all, as fast as RATE allows, split over JOBS worker processes that
 * each spawn one child at a time and wait for it. Stops after SECONDS
 * whatever is left, so a slow machine never holds a benchmark up for long.
 *
 * Prints "execs DONE failed FAILED seconds ELAPSED" on stdout. Only DONE
 * children were executed: a failed spawn is no exec, so DONE is exactly what
 * an exec counter must have grown by (the workers fork, they do not exec).
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXECS 1000000L
#define MAX_JOBS 64
#define MAX_SECONDS 600.0

extern char **environ;

struct tally {
	long done;
	long failed;
};

static int usage(void)
{
	fprintf(stderr, "usage: execburst [-j JOBS] [-r RATE] [-t SECONDS] N PROG [ARGS...]\n"
			"  N (1..%ld) execs of PROG over JOBS (1..%d, default 1) workers, each\n"
			"  running one child at a time; at most RATE execs a second in all\n"
			"  (default 0: no limit); stops after SECONDS (default 60, <= %.0f)\n"
			"  prints \"execs DONE failed FAILED seconds ELAPSED\"; exit 1 if any\n"
			"  exec failed or time ran out\n"
			"example: execburst -j 2 -r 10000 50000 build/tools/exit0\n",
		MAX_EXECS, MAX_JOBS, MAX_SECONDS);
	return 2;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double when)
{
	struct timespec ts = { .tv_sec = (time_t)when };

	ts.tv_nsec = (long)((when - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * One worker: @count execs, the i-th not before @start + i / @rate (a late
 * one is not made up by a burst beyond the rate: the schedule just slips).
 */
static struct tally work(long count, double rate, double start, double deadline, char **argv)
{
	struct tally tally = {};
	double next = start;
	int status, err;
	pid_t pid;
	long i;

	for (i = 0; i < count; i++) {
		if (rate > 0) {
			if (next > now_s())
				sleep_until(next);
			next += 1.0 / rate;
		}
		if (now_s() >= deadline)
			break;
		err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
		if (err) {
			tally.failed++;
			continue;
		}
		if (waitpid(pid, &status, 0) < 0) {
			tally.failed++;
			continue;
		}
		tally.done++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			tally.failed++;
	}
	return tally;
}

static int parse_number(const char *text, double low, double high, double *value)
{
	char *rest;

	errno = 0;
	*value = strtod(text, &rest);
	return errno || rest == text || *rest || *value < low || *value > high ? -1 : 0;
}

int main(int argc, char **argv)
{
	double jobs = 1, rate = 0, seconds = 60, total, start, deadline;
	struct tally sum = {}, part;
	pid_t workers[MAX_JOBS];
	int pipefd[2], opt, j, status, failed = 0;
	long count, share;

	while ((opt = getopt(argc, argv, "+j:r:t:")) != -1) {
		switch (opt) {
		case 'j':
			if (parse_number(optarg, 1, MAX_JOBS, &jobs) || jobs != (int)jobs)
				return usage();
			break;
		case 'r':
			if (parse_number(optarg, 0, 1e7, &rate))
				return usage();
			break;
		case 't':
			if (parse_number(optarg, 0.001, MAX_SECONDS, &seconds))
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 2 || parse_number(argv[optind], 1, MAX_EXECS, &total) ||
	    total != (long)total)
		return usage();
	count = (long)total;
	if (pipe(pipefd)) {
		fprintf(stderr, "execburst: pipe: %s\n", strerror(errno));
		return 1;
	}
	start = now_s();
	deadline = start + seconds;
	for (j = 0; j < (int)jobs; j++) {
		/* The first count % jobs workers take one more. */
		share = count / (int)jobs + (j < count % (int)jobs);
		workers[j] = fork();
		if (workers[j] < 0) {
			fprintf(stderr, "execburst: fork: %s\n", strerror(errno));
			/* Those started still finish and are counted. */
			jobs = j;
			failed = 1;
			break;
		}
		if (workers[j] == 0) {
			close(pipefd[0]);
			part = work(share, rate / (int)jobs, start, deadline, argv + optind + 1);
			_exit(write(pipefd[1], &part, sizeof(part)) == sizeof(part) ? 0 : 1);
		}
	}
	close(pipefd[1]);
	for (j = 0; j < (int)jobs; j++) {
		/* A worker writes one tally, far below PIPE_BUF: never split. */
		if (read(pipefd[0], &part, sizeof(part)) == sizeof(part)) {
			sum.done += part.done;
			sum.failed += part.failed;
		} else {
			failed = 1;
		}
	}
	for (j = 0; j < (int)jobs; j++)
		if (waitpid(workers[j], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	printf("execs %ld failed %ld seconds %.3f\n", sum.done, sum.failed, now_s() - start);
	return failed || sum.failed || sum.done < count;
}
