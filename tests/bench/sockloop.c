// SPDX-License-Identifier: GPL-2.0
/*
 * sockloop MODE COUNT: COUNT calls of one kind, for tests/bench/raw_sockets.sh;
 * prints the mean ns per call. MODE: udp (socket(AF_INET, SOCK_DGRAM) and
 * close), raw (socket(AF_INET, SOCK_RAW, IPPROTO_TCP) and close), sockopt
 * (setsockopt(TCP_NODELAY) on one TCP socket), packetopt
 * (setsockopt(SOL_PACKET, PACKET_AUXDATA) on one packet socket), getppid.
 * Timed in this thread's CPU time (user and system): time other tasks of a
 * busy machine take the CPU for is not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: sockloop udp|raw|sockopt|packetopt|getppid COUNT\n"
			"example: sockloop sockopt 100000\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode;
	int one = 1, fd = -1;
	long count, i;
	double start;

	if (argc != 3 || (count = atol(argv[2])) <= 0)
		return usage();
	mode = argv[1];
	if (!strcmp(mode, "sockopt"))
		fd = socket(AF_INET, SOCK_STREAM, 0);
	else if (!strcmp(mode, "packetopt"))
		fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	else if (strcmp(mode, "udp") && strcmp(mode, "raw") && strcmp(mode, "getppid"))
		return usage();
	if ((!strcmp(mode, "sockopt") || !strcmp(mode, "packetopt")) && fd < 0) {
		perror("sockloop: socket");
		return 1;
	}
	start = now_ns();
	for (i = 0; i < count; i++) {
		if (!strcmp(mode, "udp"))
			close(socket(AF_INET, SOCK_DGRAM, 0));
		else if (!strcmp(mode, "raw"))
			close(socket(AF_INET, SOCK_RAW, IPPROTO_TCP));
		else if (!strcmp(mode, "sockopt"))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		else if (!strcmp(mode, "packetopt"))
			setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
		else
			syscall(SYS_getppid);
	}
	printf("%.1f\n", (now_ns() - start) / count);
	return 0;
}
