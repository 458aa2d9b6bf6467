// SPDX-License-Identifier: GPL-2.0
/*
 * cgchurn [-m MIRROR] DIR RATE SECONDS LIFETIME PROG [ARGS...]: cgroup churn,
 * as a busy CI node has it. RATE times a second for SECONDS it makes the
 * cgroup DIR/churn-SEQ, runs PROG in it to the end and removes the cgroup
 * LIFETIME seconds after making it. With -m, the same name is made and
 * removed under MIRROR too (the v1 memory hierarchy of a hybrid host, where
 * a runtime makes both). Every cgroup it made is removed before it exits.
 *
 * Prints "created C removed R runs_failed F left L" on stdout; exit 1 when
 * anything failed or a cgroup is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RATE 1000.0
#define MAX_SECONDS 600.0
#define MAX_LIFETIME 60.0
/* A cgroup whose last task has just been reaped can be busy a little longer. */
#define DRAIN_SECONDS 10.0

struct pending {
	unsigned long seq;
	double remove_at;
};

struct churn {
	const char *dir;
	const char *mirror;	/* NULL: none */
	struct pending *queue;	/* ring, oldest first */
	size_t capacity, head, count;
	unsigned long created, removed, runs_failed;
};

static int usage(void)
{
	fprintf(stderr, "usage: cgchurn [-m MIRROR] DIR RATE SECONDS LIFETIME PROG [ARGS...]\n"
			"  RATE (1..%.0f) times a second for SECONDS (<= %.0f): make DIR/churn-SEQ\n"
			"  (and MIRROR/churn-SEQ), run PROG in it, remove it LIFETIME (0..%.0f)\n"
			"  seconds after making it; prints \"created C removed R runs_failed F left L\"\n"
			"example: cgchurn /sys/fs/cgroup/bench/tenants 100 60 1 build/tools/exit0\n",
		MAX_RATE, MAX_SECONDS, MAX_LIFETIME);
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

static int parse_number(const char *text, double low, double high, double *value)
{
	char *rest;

	errno = 0;
	*value = strtod(text, &rest);
	return errno || rest == text || *rest || *value < low || *value > high ? -1 : 0;
}

/* 0, or -1 when the name does not fit (main() checks the directories' length first). */
static int name_of(char *path, size_t size, const char *dir, unsigned long seq)
{
	return snprintf(path, size, "%s/churn-%06lu", dir, seq) < (int)size ? 0 : -1;
}

/* The child: into the new cgroup first, so that PROG's exec is charged there. */
static void run_child(const char *cgroup, char **argv)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup) >= (int)sizeof(path))
		_exit(126);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		_exit(126);
	close(fd);
	execv(argv[0], argv);
	_exit(127);
}

/* Makes cgroup @seq, runs @argv in it and waits; 0, or -1 when it could not make it. */
static int make_one(struct churn *churn, unsigned long seq, char **argv)
{
	char path[PATH_MAX], mirror[PATH_MAX];
	int status;
	pid_t pid;

	if (name_of(path, sizeof(path), churn->dir, seq) || mkdir(path, 0755)) {
		fprintf(stderr, "cgchurn: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (churn->mirror) {
		if (name_of(mirror, sizeof(mirror), churn->mirror, seq) || mkdir(mirror, 0755))
			fprintf(stderr, "cgchurn: mkdir %s: %s\n", mirror, strerror(errno));
	}
	churn->created++;
	pid = fork();
	if (pid == 0)
		run_child(path, argv);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		churn->runs_failed++;
	return 0;
}

/* Removes cgroup @seq (and its mirror); false while it is still busy. */
static bool remove_one(struct churn *churn, unsigned long seq)
{
	char path[PATH_MAX];

	if (name_of(path, sizeof(path), churn->dir, seq) || (rmdir(path) && errno != ENOENT))
		return false;
	if (churn->mirror && !name_of(path, sizeof(path), churn->mirror, seq))
		rmdir(path);
	churn->removed++;
	return true;
}

/* Removes, oldest first, those due by @now; stops at the first still busy. */
static void remove_due(struct churn *churn, double now)
{
	struct pending *oldest;

	while (churn->count) {
		oldest = &churn->queue[churn->head];
		if (oldest->remove_at > now || !remove_one(churn, oldest->seq))
			return;
		churn->head = (churn->head + 1) % churn->capacity;
		churn->count--;
	}
}

int main(int argc, char **argv)
{
	double rate, seconds, lifetime, start, next, drain_until;
	struct churn churn = {};
	unsigned long seq, total;
	struct stat st;
	int opt;

	while ((opt = getopt(argc, argv, "+m:")) != -1) {
		if (opt != 'm')
			return usage();
		churn.mirror = optarg;
	}
	if (argc - optind < 5 || parse_number(argv[optind + 1], 1, MAX_RATE, &rate) ||
	    parse_number(argv[optind + 2], 0.001, MAX_SECONDS, &seconds) ||
	    parse_number(argv[optind + 3], 0, MAX_LIFETIME, &lifetime))
		return usage();
	churn.dir = argv[optind];
	/* Room for "/churn-SEQ/cgroup.procs" after either directory. */
	if (strlen(churn.dir) > PATH_MAX - 64 || (churn.mirror && strlen(churn.mirror) > PATH_MAX - 64))
		return usage();
	if (stat(churn.dir, &st) || !S_ISDIR(st.st_mode) ||
	    (churn.mirror && (stat(churn.mirror, &st) || !S_ISDIR(st.st_mode)))) {
		fprintf(stderr, "cgchurn: %s%s%s: not a directory\n", churn.dir,
			churn.mirror ? " or " : "", churn.mirror ? churn.mirror : "");
		return 1;
	}
	/* At most rate x (lifetime + 1) alive at once; a busy one holds the rest back. */
	churn.capacity = (size_t)(rate * (lifetime + 1)) + 16;
	churn.queue = calloc(churn.capacity, sizeof(*churn.queue));
	if (!churn.queue)
		return 1;

	total = (unsigned long)(rate * seconds);
	start = now_s();
	for (seq = 0; seq < total; seq++) {
		next = start + seq / rate;
		if (next > now_s())
			sleep_until(next);
		remove_due(&churn, now_s());
		/* Full: the oldest is still busy; wait for it rather than grow without end. */
		if (churn.count == churn.capacity)
			continue;
		if (make_one(&churn, seq, argv + optind + 4))
			continue;
		churn.queue[(churn.head + churn.count) % churn.capacity] =
		    (struct pending){ .seq = seq, .remove_at = now_s() + lifetime };
		churn.count++;
	}
	/* Whatever is left goes now, busy ones retried for a while. */
	drain_until = now_s() + lifetime + DRAIN_SECONDS;
	while (churn.count && now_s() < drain_until) {
		remove_due(&churn, now_s());
		if (churn.count)
			usleep(10000);
	}
	printf("created %lu removed %lu runs_failed %lu left %zu\n", churn.created, churn.removed,
	       churn.runs_failed, churn.count);
	free(churn.queue);
	return churn.runs_failed || churn.count || churn.created < total;
}
