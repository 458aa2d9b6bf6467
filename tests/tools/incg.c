// SPDX-License-Identifier: GPL-2.0
/*
 * incg CGROUP_DIR PROG [ARGS...]: moves itself into a cgroup, then execs PROG.
 * The end-to-end tests use it so that a workload runs in a tenant cgroup from
 * its first instruction while the test shell stays outside.
 *
 * It sleeps a moment before it moves: the probe charges a task's whole
 * time slice to the cgroup it is in when it switches out, while cpu.stat
 * charges at each scheduler tick, so the start-up of this process (fork,
 * exec, the dynamic loader) would otherwise go to the tenant in one figure
 * and mostly to the caller's cgroup in the other. After the sleep the slice
 * starts at the move, and both agree to the microsecond.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: incg CGROUP_DIR PROG [ARGS...]\n"
			"  writes its own pid into CGROUP_DIR/cgroup.procs, then execs PROG\n"
			"example: incg /sys/fs/cgroup/test/busy burn 3\n");
	return 2;
}

int main(int argc, char **argv)
{
	char path[4096], pid[32];
	int fd, len;

	if (argc < 3)
		return usage();
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", argv[1]) >= (int)sizeof(path)) {
		fprintf(stderr, "incg: path too long\n");
		return 1;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "incg: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	if (write(fd, pid, len) != len) {
		fprintf(stderr, "incg: write %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "incg: exec %s: %s\n", argv[2], strerror(errno));
	return 127;
}
