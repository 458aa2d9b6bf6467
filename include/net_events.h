/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Destinations of connect() calls, streamed from bpf/net.bpf.c to
 * user/rules/netabuse.c through a ring buffer. Only __u types: shared by BPF and
 * user code. A cgroup's connect to one destination is sent at most once a
 * second, so a flood to one address costs one event a second, and a scan
 * one event per destination.
 */
#ifndef ABUSEWATCH_NET_EVENTS_H
#define ABUSEWATCH_NET_EVENTS_H

/* A destination is sent again after this long (nanoseconds). */
#define AW_CONNECT_REPEAT_NS 1000000000ULL
/* Destinations remembered for that, all cgroups together (LRU). */
#define AW_RECENT_DESTINATIONS 65536

struct connect_event {
	__u64 cgroup_id;	/* the calling task's v2 cgroup */
	__u8 addr[16];		/* IPv6, or IPv4 as ::ffff:a.b.c.d */
	__u16 port;		/* host byte order */
	__u16 family;		/* AF_INET or AF_INET6 of the socket */
	__u32 unused;
};

/* Key of the recently sent destinations. */
struct destination_key {
	__u64 cgroup_id;
	__u8 addr[16];
	__u16 port;
	__u16 unused16;
	__u32 unused32;
};

#endif
