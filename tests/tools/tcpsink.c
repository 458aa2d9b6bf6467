// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsink PORT MAXSECONDS: listens on 127.0.0.1:PORT, takes one connection,
 * reads and discards until the peer closes, prints the byte count and exits.
 * Gives up after MAXSECONDS. PORT 0 picks a free port. Once listening it
 * says so on stderr ("listening on 127.0.0.1:PORT"), so a test can wait.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: tcpsink PORT MAXSECONDS\n"
			"  accepts one connection on 127.0.0.1:PORT (0: any free port), discards what\n"
			"  it reads until EOF, prints the bytes received; exit 1 after MAXSECONDS\n"
			"example: tcpsink 5201 30\n");
	return 2;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for @fd to be readable until @deadline; 1 ready, 0 timed out, -1 error. */
static int wait_readable(int fd, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long left;
	int ret;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		ret = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (ret > 0)
			return 1;
		if (ret < 0 && errno != EINTR)
			return -1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t addrlen = sizeof(addr);
	unsigned long long total = 0;
	static char buf[1 << 16];
	long port, seconds;
	long long deadline;
	int listener, conn = -1, one = 1, ret = 1;
	char *rest;
	ssize_t n;

	if (argc != 3)
		return usage();
	port = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || port < 0 || port > 65535)
		return usage();
	seconds = strtol(argv[2], &rest, 10);
	if (rest == argv[2] || *rest || seconds < 1 || seconds > 3600)
		return usage();
	deadline = now_ms() + seconds * 1000LL;

	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0) {
		perror("tcpsink: socket");
		return 1;
	}
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listener, 4) < 0 ||
	    getsockname(listener, (struct sockaddr *)&addr, &addrlen) < 0) {
		fprintf(stderr, "tcpsink: port %ld: %s\n", port, strerror(errno));
		return 1;
	}
	fprintf(stderr, "listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));

	if (wait_readable(listener, deadline) != 1) {
		fprintf(stderr, "tcpsink: no connection within %ld s\n", seconds);
		goto out;
	}
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		perror("tcpsink: accept");
		goto out;
	}
	for (;;) {
		if (wait_readable(conn, deadline) != 1) {
			fprintf(stderr, "tcpsink: peer did not close within %ld s\n", seconds);
			goto out;
		}
		n = read(conn, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("tcpsink: read");
			goto out;
		}
		if (n == 0)
			break;
		total += (unsigned long long)n;
	}
	ret = 0;
out:
	printf("%llu\n", total);
	if (conn >= 0)
		close(conn);
	close(listener);
	return ret;
}
