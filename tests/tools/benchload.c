// SPDX-License-Identifier: GPL-2.0
/*
 * benchload: time-bounded loads for `make bench` (tests/bench/probes.sh).
 * Each mode runs for SECONDS, then prints "OPERATIONS SECONDS" on stdout
 * (the count and the time it really took), so that the caller divides.
 *
 *   benchload pingpong SECONDS             two processes bounce one byte over
 *                                          a pair of pipes (round trips)
 *   benchload forkexec SECONDS PROG [ARG...]
 *                                          fork, execv PROG, wait (execs)
 *   benchload udp SECONDS [SIZE]           SIZE-byte datagrams (default 16)
 *                                          over 127.0.0.1, each sent and
 *                                          received by this process
 *   benchload connect4 SECONDS             TCP connect() + close to a
 *   benchload connect6 SECONDS             listener on 127.0.0.1 or [::1]
 *                                          that a child accepts and closes
 *
 * Processes and sockets all belong to the caller's cgroup (start it with
 * incg), so that a probe attributing work to a cgroup sees a tenant. Only
 * loopback addresses are used. SECONDS is at most 60, and an alarm ends any
 * run 30 s after it was due.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 60
#define MAX_DATAGRAM 1400
/* Operations between two looks at the clock in the fastest loops. */
#define CLOCK_EVERY 64

static int usage(void)
{
	fprintf(stderr,
		"usage: benchload pingpong SECONDS\n"
		"       benchload forkexec SECONDS PROG [ARG...]\n"
		"       benchload udp SECONDS [SIZE]\n"
		"       benchload connect4|connect6 SECONDS\n"
		"  runs the load for SECONDS (<= %d), prints \"OPERATIONS SECONDS\"\n"
		"example: benchload pingpong 2\n", MAX_SECONDS);
	return 2;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int report(long ops, double start)
{
	printf("%ld %.6f\n", ops, now() - start);
	return ops > 0 ? 0 : 1;
}

static int pingpong(double seconds)
{
	int to_child[2], to_parent[2];
	double start, end;
	long trips = 0;
	char byte = 0;
	pid_t pid;

	if (pipe(to_child) || pipe(to_parent)) {
		perror("benchload: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("benchload: fork");
		return 1;
	}
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		/* Echoes until the parent closes its end. */
		while (read(to_child[0], &byte, 1) == 1)
			if (write(to_parent[1], &byte, 1) != 1)
				break;
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	start = now();
	end = start + seconds;
	for (;;) {
		if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1) {
			perror("benchload: pingpong");
			break;
		}
		trips++;
		if (trips % CLOCK_EVERY == 0 && now() >= end)
			break;
	}
	close(to_child[1]);
	waitpid(pid, NULL, 0);
	return report(trips, start);
}

static int forkexec(double seconds, char **argv)
{
	double start = now(), end = start + seconds;
	long execs = 0;
	int status;
	pid_t pid;

	while (now() < end) {
		pid = fork();
		if (pid < 0) {
			perror("benchload: fork");
			break;
		}
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0) {
			perror("benchload: waitpid");
			break;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "benchload: %s failed\n", argv[0]);
			return 1;
		}
		execs++;
	}
	return report(execs, start);
}

/* A socket of @type bound to port 0 of @family's loopback address. */
static int bound_socket(int family, int type, struct sockaddr_storage *addr, socklen_t *len)
{
	int fd, one = 1;

	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)addr;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in);
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Port 0: the kernel picks a free one, so runs never collide. */
	if (bind(fd, (struct sockaddr *)addr, *len) ||
	    getsockname(fd, (struct sockaddr *)addr, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int udp(double seconds, size_t size)
{
	struct timeval timeout = { .tv_sec = 1 };
	char buf[MAX_DATAGRAM] = { 0 };
	struct sockaddr_storage addr;
	double start, end;
	long received = 0, lost = 0;
	socklen_t len;
	int rx, tx;

	rx = bound_socket(AF_INET, SOCK_DGRAM, &addr, &len);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || tx < 0 || connect(tx, (struct sockaddr *)&addr, len)) {
		perror("benchload: udp socket");
		return 1;
	}
	/* A datagram lost on loopback must not stall the run. */
	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	start = now();
	end = start + seconds;
	for (;;) {
		if (send(tx, buf, size, 0) != (ssize_t)size) {
			perror("benchload: send");
			break;
		}
		if (recv(rx, buf, sizeof(buf), 0) == (ssize_t)size)
			received++;
		else
			lost++;
		if ((received + lost) % CLOCK_EVERY == 0 && now() >= end)
			break;
	}
	if (lost)
		fprintf(stderr, "benchload: %ld datagrams lost\n", lost);
	close(tx);
	close(rx);
	return report(received, start);
}

static int connects(double seconds, int family)
{
	struct sockaddr_storage addr;
	double start, end;
	long made = 0, failed = 0;
	socklen_t len;
	int listener, fd;
	pid_t pid;

	listener = bound_socket(family, SOCK_STREAM, &addr, &len);
	if (listener < 0 || listen(listener, 4096)) {
		perror("benchload: listen");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("benchload: fork");
		return 1;
	}
	if (pid == 0) {
		/*
		 * Accepts and closes until the parent kills it; alarms are not
		 * inherited, so it bounds its own life should the parent die.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm((unsigned int)seconds + 30);
		for (;;) {
			fd = accept(listener, NULL, NULL);
			if (fd >= 0)
				close(fd);
			else if (errno != EINTR && errno != ECONNABORTED)
				_exit(1);
		}
	}
	close(listener);
	start = now();
	end = start + seconds;
	while (now() < end) {
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("benchload: socket");
			break;
		}
		if (connect(fd, (struct sockaddr *)&addr, len))
			failed++;
		else
			made++;
		close(fd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (failed)
		fprintf(stderr, "benchload: %ld connect() calls failed\n", failed);
	return report(made, start);
}

int main(int argc, char **argv)
{
	double seconds;
	long size = 16;
	char *rest;

	if (argc < 3)
		return usage();
	seconds = strtod(argv[2], &rest);
	if (rest == argv[2] || *rest || !(seconds > 0 && seconds <= MAX_SECONDS))
		return usage();
	alarm((unsigned int)seconds + 30);
	if (!strcmp(argv[1], "pingpong") && argc == 3)
		return pingpong(seconds);
	if (!strcmp(argv[1], "forkexec") && argc >= 4)
		return forkexec(seconds, argv + 3);
	if (!strcmp(argv[1], "udp") && argc <= 4) {
		if (argc == 4) {
			size = strtol(argv[3], &rest, 10);
			if (rest == argv[3] || *rest || size < 1 || size > MAX_DATAGRAM)
				return usage();
		}
		return udp(seconds, (size_t)size);
	}
	if (!strcmp(argv[1], "connect4") && argc == 3)
		return connects(seconds, AF_INET);
	if (!strcmp(argv[1], "connect6") && argc == 3)
		return connects(seconds, AF_INET6);
	return usage();
}
