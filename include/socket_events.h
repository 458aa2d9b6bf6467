/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The raw-socket policy (config `software.<policy>.raw_sockets`) between
 * bpf/sockets.bpf.c and userspace: which cgroups have it (written by
 * userspace, read by the probes) and what the probes report. Only __u
 * types: shared by BPF and user code.
 *
 * What the probes see: a raw IP socket created (socket(AF_INET or
 * AF_INET6, SOCK_RAW, ...), cgroup/sock_create, which the kernel runs only
 * for inet sockets), and a packet socket (AF_PACKET) when it is set up
 * with setsockopt(SOL_PACKET, ...) (cgroup/setsockopt), as libpcap does
 * for every capture. The creation of a packet socket runs no cgroup hook
 * and no tracepoint but the syscall one (see docs/configuration.md).
 */
#ifndef ABUSEWATCH_SOCKET_EVENTS_H
#define ABUSEWATCH_SOCKET_EVENTS_H

/* uapi values, not in vmlinux.h. */
#define AW_AF_INET 2
#define AW_AF_INET6 10
#define AW_AF_PACKET 17
#define AW_SOCK_RAW 3
#define AW_SOL_PACKET 263
#define AW_PACKET_QDISC_BYPASS 20

/* Cgroups with a raw-socket policy (each tenant cgroup, nested ones too). */
#define AW_RAW_SOCKET_CGROUPS_MAX 65536

enum raw_socket_action {
	RAW_SOCKETS_ALLOW = 0,		/* no policy: not looked at */
	RAW_SOCKETS_ALERT = 1,
	RAW_SOCKETS_DENY = 2,		/* refused with EPERM where a hook can */
};

/*
 * Value of raw_socket_policy (bpf/sockets.bpf.c), keyed by v2 cgroup id.
 * @generation: of the userspace pass that wrote it, so that a pass over
 * every cgroup can drop what it did not write again.
 */
struct raw_socket_policy {
	__u32 action;			/* enum raw_socket_action */
	__u32 generation;
};

enum raw_socket_hook {
	RAW_SOCKET_CREATE = 1,		/* socket(): cgroup/sock_create */
	RAW_SOCKET_SETSOCKOPT = 2,	/* setsockopt(SOL_PACKET): cgroup/setsockopt */
	/*
	 * Not a policy report: the first setsockopt(SOL_PACKET,
	 * PACKET_QDISC_BYPASS, non-zero) of any tenant cgroup, whatever its
	 * policy, sent once (bypass_reported in bpf/sockets.bpf.c). The agent
	 * then attaches count_direct_tx (bpf/net.bpf.c), which runs after
	 * every sendmsg() of the host and is not attached before.
	 */
	RAW_SOCKET_QDISC_BYPASS = 3,
};

/* One raw or packet socket of a cgroup with a policy; streamed through a ring buffer. */
struct raw_socket_event {
	__u64 cgroup_id;		/* v2 cgroup of the task */
	__u32 pid;			/* thread group id */
	__u32 hook;			/* enum raw_socket_hook */
	__u32 family;			/* AF_INET, AF_INET6, AF_PACKET */
	__u32 type;			/* SOCK_RAW, SOCK_DGRAM */
	__u32 protocol;			/* IPPROTO_*; 0 for packet sockets (the kernel keeps none there) */
	__u32 denied;			/* refused with EPERM */
};

#endif
