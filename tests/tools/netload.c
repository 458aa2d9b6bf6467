// SPDX-License-Identifier: GPL-2.0
/*
 * netload: bounded loopback network loads for the end-to-end tests.
 *
 *   netload listen PORT SECONDS       accept and close TCP connections on
 *                                     127.0.0.1:PORT and [::1]:PORT
 *   netload tcp4 PORT COUNT [RATE]    COUNT connect()s to 127.0.0.1:PORT
 *   netload tcp6 PORT COUNT [RATE]    COUNT connect()s to [::1]:PORT
 *   netload udp4 PORT COUNT [RATE]    COUNT connect()s of UDP sockets to
 *                                     127.0.0.1:PORT (no packet is sent)
 *   netload send4 PORT COUNT [RATE]   COUNT one-byte UDP datagrams to
 *                                     127.0.0.1:PORT from one socket
 *   netload scan4 PORT COUNT [RATE]   TCP connect()s to 127.0.0.1 on ports
 *                                     PORT, PORT+1, ... (COUNT of them)
 *   netload fan4 PORT COUNT [RATE]    TCP connect()s to PORT on 127.0.0.1,
 *                                     127.0.0.2, ... (COUNT addresses of
 *                                     127.0.0.0/8, at most 65534)
 *
 * RATE is per second (0 or absent: as fast as it goes). The loads print
 * how many calls they made (connect() calls, whatever their outcome, or
 * datagrams sent), so the test has its own count to compare with. Every
 * mode stops by itself: COUNT is at most 10 million, SECONDS at most 600,
 * and an alarm ends any run after 10 minutes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 10000000L
#define MAX_SECONDS 600

static int usage(void)
{
	fprintf(stderr,
		"usage: netload listen PORT SECONDS\n"
		"       netload tcp4|tcp6|udp4|send4|scan4|fan4 PORT COUNT [RATE]\n"
		"  loopback only; prints the number of connect() calls or datagrams made\n"
		"example: netload tcp4 5201 1000 200\n");
	return 2;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_long(const char *text, long min, long max, long *out)
{
	char *rest;

	errno = 0;
	*out = strtol(text, &rest, 10);
	return rest == text || *rest || errno || *out < min || *out > max ? -1 : 0;
}

/* Fills @addr with the loopback address of @family on @port; returns its length. */
static socklen_t loopback(int family, int port, struct sockaddr_storage *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		in6->sin6_addr = in6addr_loopback;
		return sizeof(*in6);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)addr;

	in->sin_family = AF_INET;
	in->sin_port = htons((unsigned short)port);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*in);
}

static int listen_on(int family, int port)
{
	struct sockaddr_storage addr;
	socklen_t length = loopback(family, port, &addr);
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, length) || listen(fd, 4096)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int run_listener(int port, long seconds)
{
	struct pollfd fds[2];
	double end = now() + seconds;
	int count = 0, i, client;

	fds[count].fd = listen_on(AF_INET, port);
	if (fds[count].fd < 0) {
		perror("netload: listen on 127.0.0.1");
		return 1;
	}
	fds[count++].events = POLLIN;
	fds[count].fd = listen_on(AF_INET6, port);
	if (fds[count].fd >= 0)
		fds[count++].events = POLLIN;
	fprintf(stderr, "listening on port %d\n", port);
	while (now() < end) {
		if (poll(fds, count, 100) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < count; i++) {
			while ((client = accept(fds[i].fd, NULL, NULL)) >= 0)
				close(client);
		}
	}
	return 0;
}

/* Sleeps until call @done of a run at @rate per second that began at @start. */
static void pace(double start, long done, long rate)
{
	double due, left;
	struct timespec ts;

	if (rate <= 0)
		return;
	due = start + (double)done / rate;
	left = due - now();
	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* How the destination moves from one connect to the next. */
enum spread {
	SPREAD_NONE,	/* the same each time */
	SPREAD_PORTS,	/* port + i */
	SPREAD_ADDRESSES,	/* 127.0.0.1 + i */
};

static int run_connects(int family, int type, int port, long count, long rate,
			enum spread spread)
{
	struct sockaddr_storage addr;
	socklen_t length = loopback(family, port, &addr);
	struct sockaddr_in *in = (struct sockaddr_in *)&addr;
	double start = now();
	long made = 0, failed = 0, i;
	int fd;

	for (i = 0; i < count; i++) {
		pace(start, i, rate);
		if (spread == SPREAD_PORTS)
			in->sin_port = htons((unsigned short)(port + i));
		else if (spread == SPREAD_ADDRESSES)
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)i);
		fd = socket(family, type | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("netload: socket");
			break;
		}
		/* One connect() call each, whatever its outcome. */
		if (connect(fd, (struct sockaddr *)&addr, length))
			failed++;
		made++;
		close(fd);
	}
	printf("%ld\n", made);
	if (failed)
		fprintf(stderr, "netload: %ld of %ld connect() calls failed\n", failed, made);
	return made == count ? 0 : 1;
}

static int run_datagrams(int port, long count, long rate)
{
	struct sockaddr_storage addr;
	socklen_t length = loopback(AF_INET, port, &addr);
	double start = now();
	long sent = 0, i;
	char byte = 'x';
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("netload: socket");
		return 1;
	}
	for (i = 0; i < count; i++) {
		pace(start, i, rate);
		if (sendto(fd, &byte, 1, 0, (struct sockaddr *)&addr, length) == 1)
			sent++;
	}
	close(fd);
	printf("%ld\n", sent);
	return sent == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	long port, count, rate = 0;

	if (argc < 4 || argc > 5 || parse_long(argv[2], 1, 65535, &port))
		return usage();
	alarm(MAX_SECONDS);
	if (!strcmp(argv[1], "listen")) {
		if (argc != 4 || parse_long(argv[3], 1, MAX_SECONDS - 1, &count))
			return usage();
		return run_listener((int)port, count);
	}
	if (parse_long(argv[3], 1, MAX_COUNT, &count) ||
	    (argc == 5 && parse_long(argv[4], 0, MAX_COUNT, &rate)))
		return usage();
	if (!strcmp(argv[1], "tcp4"))
		return run_connects(AF_INET, SOCK_STREAM, (int)port, count, rate, SPREAD_NONE);
	if (!strcmp(argv[1], "tcp6"))
		return run_connects(AF_INET6, SOCK_STREAM, (int)port, count, rate, SPREAD_NONE);
	if (!strcmp(argv[1], "udp4"))
		return run_connects(AF_INET, SOCK_DGRAM, (int)port, count, rate, SPREAD_NONE);
	if (!strcmp(argv[1], "scan4")) {
		if (port + count - 1 > 65535)
			return usage();
		return run_connects(AF_INET, SOCK_STREAM, (int)port, count, rate, SPREAD_PORTS);
	}
	if (!strcmp(argv[1], "fan4")) {
		if (count > 65534)
			return usage();
		return run_connects(AF_INET, SOCK_STREAM, (int)port, count, rate, SPREAD_ADDRESSES);
	}
	if (!strcmp(argv[1], "send4"))
		return run_datagrams((int)port, count, rate);
	return usage();
}
