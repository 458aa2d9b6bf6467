// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsend PORT BYTES: connects to 127.0.0.1:PORT, writes exactly BYTES,
 * shuts its side down, waits (at most 30 s) for the peer to close, and
 * prints the bytes written. Waiting means every byte has left this socket
 * before the process exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 30

static int usage(void)
{
	fprintf(stderr, "usage: tcpsend PORT BYTES\n"
			"  connects to 127.0.0.1:PORT, writes BYTES (<= 1 TiB), prints bytes written\n"
			"example: tcpsend 5201 33554432\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	struct timeval timeout = { .tv_sec = TIMEOUT_SECONDS };
	unsigned long long bytes, written = 0;
	static char buf[1 << 16];
	size_t chunk;
	long port;
	char *rest;
	ssize_t n;
	int fd, ret = 1;

	if (argc != 3)
		return usage();
	port = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || port < 1 || port > 65535)
		return usage();
	errno = 0;
	bytes = strtoull(argv[2], &rest, 10);
	if (rest == argv[2] || *rest || errno || argv[2][0] == '-' || bytes > (1ULL << 40))
		return usage();
	/* A bounded run even when the peer stops reading. */
	alarm(TIMEOUT_SECONDS * 2);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("tcpsend: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "tcpsend: connect 127.0.0.1:%ld: %s\n", port, strerror(errno));
		goto out;
	}
	memset(buf, 'x', sizeof(buf));
	while (written < bytes) {
		chunk = bytes - written < sizeof(buf) ? (size_t)(bytes - written) : sizeof(buf);
		n = write(fd, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("tcpsend: write");
			goto out;
		}
		written += (unsigned long long)n;
	}
	if (shutdown(fd, SHUT_WR) < 0) {
		perror("tcpsend: shutdown");
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	if (n < 0) {
		perror("tcpsend: waiting for the peer to close");
		goto out;
	}
	ret = 0;
out:
	printf("%llu\n", written);
	close(fd);
	return ret;
}
