// SPDX-License-Identifier: GPL-2.0
/*
 * rawsock: tries to create each kind of socket the raw-socket policy is
 * about, and prints one line per attempt, "KIND ok" or "KIND ERRNONAME":
 *
 *   inet_raw          socket(AF_INET, SOCK_RAW, IPPROTO_TCP)     (nmap -sS, hping3)
 *   inet6_raw         socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
 *   packet_raw        socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)     (masscan, zmap)
 *   packet_raw_setup  setsockopt(SOL_PACKET, PACKET_AUXDATA) on it, as libpcap does
 *   packet_dgram      socket(AF_PACKET, SOCK_DGRAM, ETH_P_IP)
 *   packet_dgram_setup  the same on that one
 *   icmp_dgram        socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)  (unprivileged ping: not raw)
 *   tcp               socket(AF_INET, SOCK_STREAM, 0)            (an ordinary socket)
 *
 * KIND arguments try only those (a setup comes with its socket). A setup
 * line is "KIND skipped" when its socket was not created. With
 * --netns it first enters a network namespace of its own and lets its
 * group create ICMP datagram sockets there (net.ipv4.ping_group_range is
 * per namespace, and closed to everyone by default), so nothing of the
 * host changes. Nothing is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif

static int usage(void)
{
	fprintf(stderr, "usage: rawsock [--netns] [KIND...]\n"
			"  tries raw IP, packet, ICMP datagram and TCP sockets (or only the KINDs\n"
			"  named: inet_raw inet6_raw packet_raw packet_dgram icmp_dgram tcp);\n"
			"  one line each\n"
			"example: incg /sys/fs/cgroup/unified/t rawsock --netns packet_raw\n");
	return 2;
}

static const char *errno_name(int err)
{
	switch (err) {
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case EINVAL:
		return "EINVAL";
	default:
		return strerror(err);
	}
}

/* Opens the ping group range of this namespace to our group. 0 or -errno. */
static int allow_ping(void)
{
	char range[64];
	int fd, len, err = 0;

	fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(range, sizeof(range), "%u %u\n", (unsigned)getgid(), (unsigned)getgid());
	if (write(fd, range, len) != len)
		err = -errno;
	close(fd);
	return err;
}

/* socket(): prints the result, returns the fd or -1. */
static int try_socket(const char *kind, int family, int type, int protocol)
{
	int fd = socket(family, type | SOCK_CLOEXEC, protocol);

	printf("%s %s\n", kind, fd >= 0 ? "ok" : errno_name(errno));
	return fd;
}

/* setsockopt(SOL_PACKET, PACKET_AUXDATA), libpcap's first option on a capture socket. */
static void try_setup(const char *kind, int fd)
{
	int one = 1;

	if (fd < 0)
		printf("%s skipped\n", kind);
	else if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)))
		printf("%s %s\n", kind, errno_name(errno));
	else
		printf("%s ok\n", kind);
}

static char **wanted_kinds;
static int wanted_count;

static bool wanted(const char *kind)
{
	int i;

	for (i = 0; i < wanted_count; i++)
		if (!strcmp(wanted_kinds[i], kind))
			return true;
	return !wanted_count;
}

/* Tries socket KIND, and its setup when @setup names one. */
static void try_kind(const char *kind, int family, int type, int protocol, const char *setup)
{
	int fd;

	if (!wanted(kind))
		return;
	fd = try_socket(kind, family, type, protocol);
	if (setup)
		try_setup(setup, fd);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	int err;

	if (argc > 1 && !strcmp(argv[1], "--netns")) {
		if (unshare(CLONE_NEWNET)) {
			fprintf(stderr, "rawsock: unshare(CLONE_NEWNET): %s\n", strerror(errno));
			return 1;
		}
		err = allow_ping();
		if (err)
			fprintf(stderr, "rawsock: ping_group_range: %s\n", strerror(-err));
		argc--;
		argv++;
	}
	if (argc > 1 && argv[1][0] == '-')
		return usage();
	wanted_kinds = argv + 1;
	wanted_count = argc - 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	try_kind("inet_raw", AF_INET, SOCK_RAW, IPPROTO_TCP, NULL);
	try_kind("inet6_raw", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, NULL);
	try_kind("packet_raw", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "packet_raw_setup");
	try_kind("packet_dgram", AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP), "packet_dgram_setup");
	try_kind("icmp_dgram", AF_INET, SOCK_DGRAM, IPPROTO_ICMP, NULL);
	try_kind("tcp", AF_INET, SOCK_STREAM, 0, NULL);
	return 0;
}
