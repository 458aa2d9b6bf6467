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

/*
 * Where a destination was seen (struct connect_event's source): a
 * connect() call, or a probe a tenant wrote itself (a TCP SYN without ACK,
 * or a UDP datagram) on a raw IP socket (cgroup_skb egress) or a packet
 * socket (net_dev_queue). Probes count for port_scan only.
 */
enum destination_source {
	AW_DESTINATION_CONNECT = 0,
	AW_DESTINATION_RAW_PROBE = 1,
	AW_DESTINATION_PACKET_PROBE = 2,
};

struct connect_event {
	__u64 cgroup_id;	/* the calling task's v2 cgroup (a probe: its socket's) */
	__u8 addr[16];		/* IPv6, or IPv4 as ::ffff:a.b.c.d */
	__u16 port;		/* host byte order */
	__u16 family;		/* AF_INET or AF_INET6 of the socket (a probe: of its packet) */
	__u32 source;		/* enum destination_source */
};

/*
 * Key of the recently sent destinations. A probe is de-duplicated apart
 * from connect() calls to the same destination (source: a connect's is 0),
 * so that a scan passing a pool port never hides a connect() to it.
 */
struct destination_key {
	__u64 cgroup_id;
	__u8 addr[16];
	__u16 port;
	__u16 source;	/* enum destination_source */
	__u32 unused32;
};

#endif
