// SPDX-License-Identifier: GPL-2.0
/*
 * The raw-socket policy (socket_events.h): a tenant cgroup whose software
 * policy sets raw_sockets is reported when it creates a raw IP socket, or
 * sets up a packet socket with setsockopt(SOL_PACKET), and with `deny` the
 * call fails with EPERM. Cgroups without a policy entry, the root's tasks
 * among them, pass after one lookup. Only the socket's family, type and
 * protocol leave the kernel; never an address or a byte sent.
 *
 * Unlike the other probes these decide: a pinned program goes on refusing
 * while no agent runs, with the policies the last agent wrote.
 *
 * The setsockopt program also tells the agent, once, of the first tenant
 * packet socket set to PACKET_QDISC_BYPASS, whatever the cgroup's policy:
 * the agent attaches bpf/net.bpf.c's count_direct_tx only then (see
 * report_qdisc_bypass).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "socket_events.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 targ_root_cgroup_id = 1;
/* A setsockopt() value above a page is not copied for us: see watch_packet_setup. */
const volatile __u32 targ_page_size = 4096;

/* Written by userspace (probes_set_raw_socket_policy()), per v2 cgroup id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AW_RAW_SOCKET_CGROUPS_MAX);
	__type(key, __u64);
	__type(value, struct raw_socket_policy);
} raw_socket_policy SEC(".maps");

/* Few events: a scanner opens its sockets once; userspace suppresses repeats. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} socket_events SEC(".maps");

/* Events the ring buffer had no room for; read through the skeleton's .bss. */
__u64 socket_lost_events;

/*
 * Set once a RAW_SOCKET_QDISC_BYPASS event is in the ring buffer: only the
 * first bypass socket of the node is reported (a few more at most, from
 * CPUs racing), as the agent needs to hear of it once. Pinned with the
 * maps: a restarted agent that finds it set attaches count_direct_tx too.
 */
__u32 bypass_reported;

/*
 * The verdict on a raw or packet socket of the current task's cgroup, and
 * its report: 1 allows, 0 refuses (EPERM).
 */
static __always_inline int judge(__u32 hook, __u32 family, __u32 type, __u32 protocol)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct raw_socket_policy *policy;
	struct raw_socket_event *event;
	__u32 denied;

	if (cgroup_id == targ_root_cgroup_id)
		return 1;
	policy = bpf_map_lookup_elem(&raw_socket_policy, &cgroup_id);
	if (!policy || policy->action == RAW_SOCKETS_ALLOW)
		return 1;
	denied = policy->action == RAW_SOCKETS_DENY;
	event = bpf_ringbuf_reserve(&socket_events, sizeof(*event), 0);
	if (event) {
		event->cgroup_id = cgroup_id;
		event->pid = bpf_get_current_pid_tgid() >> 32;
		event->hook = hook;
		event->family = family;
		event->type = type;
		event->protocol = protocol;
		event->denied = denied;
		bpf_ringbuf_submit(event, 0);
	} else {
		__sync_fetch_and_add(&socket_lost_events, 1);
	}
	return !denied;
}

/*
 * Runs from inet_create() and inet6_create() only, after the kernel's own
 * checks (CAP_NET_RAW): a raw socket seen here is one the task may have.
 * SOCK_DGRAM with IPPROTO_ICMP (unprivileged ping) is not raw.
 */
SEC("cgroup/sock_create")
int watch_raw_create(struct bpf_sock *sk)
{
	if (sk->type != AW_SOCK_RAW)
		return 1;
	return judge(RAW_SOCKET_CREATE, sk->family, sk->type, sk->protocol);
}

/*
 * A tenant's packet socket is set to PACKET_QDISC_BYPASS (non-zero): its
 * frames will skip net_dev_queue, where count_pkt_sock counts the others.
 * Tells the agent, which attaches count_direct_tx (sock_send_length, run
 * after every sendmsg() of the host) only from then on. Whatever the
 * cgroup's raw_sockets policy. Frames sent before the attach (a few ms)
 * are not counted. Not marked reported when the ring buffer is full, so
 * that the next such setsockopt() tries again.
 */
static __always_inline void report_qdisc_bypass(struct bpf_sockopt *ctx)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct raw_socket_event *event;
	int *value = ctx->optval;

	if (cgroup_id == targ_root_cgroup_id)
		return;
	if ((void *)(value + 1) > ctx->optval_end || !*value)
		return;
	event = bpf_ringbuf_reserve(&socket_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&socket_lost_events, 1);
		return;
	}
	bypass_reported = 1;
	__builtin_memset(event, 0, sizeof(*event));
	event->cgroup_id = cgroup_id;
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->hook = RAW_SOCKET_QDISC_BYPASS;
	event->family = AW_AF_PACKET;
	bpf_ringbuf_submit(event, 0);
}

/*
 * Every setsockopt() of the node; only SOL_PACKET, which only packet
 * sockets take, is looked at. libpcap sets PACKET_AUXDATA, PACKET_VERSION
 * and its ring this way on every capture it opens, so refusing them stops
 * the tools built on it (tcpdump, masscan, nmap's receive side).
 */
SEC("cgroup/setsockopt")
int watch_packet_setup(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	int verdict = 1;

	/* Other sockets refuse SOL_PACKET themselves (ENOPROTOOPT). */
	if (ctx->level == AW_SOL_PACKET && sk && sk->family == AW_AF_PACKET) {
		verdict = judge(RAW_SOCKET_SETSOCKOPT, AW_AF_PACKET, sk->type, sk->protocol);
		/* The one compare more of this branch: the rest once per node. */
		if (ctx->optname == AW_PACKET_QDISC_BYPASS && verdict && !bypass_reported)
			report_qdisc_bypass(ctx);
	}
	/*
	 * Of a value longer than a page only the first page is copied for
	 * programs; 0 tells the kernel to use the caller's own, as if no
	 * program ran (kernels before 6.5 fail the call with EFAULT otherwise).
	 */
	if (verdict && ctx->optlen > (int)targ_page_size)
		ctx->optlen = 0;
	return verdict;
}

/*
 * A cgroup made inside one with a policy has it from its first moment:
 * userspace writes the entry of a new cgroup only when its mkdir event
 * arrives, and a task moved in before that would pass. Userspace then
 * writes what the new cgroup's own tenant says.
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(inherit_raw_socket_policy, struct cgroup *cgrp, const char *path)
{
	struct raw_socket_policy *policy;
	struct cgroup *parent;
	__u64 id, parent_id;
	int level = cgrp->level;

	/* The default (v2) hierarchy has id 0; the root has no parent. */
	if (cgrp->root->hierarchy_id != 0 || level < 1)
		return 0;
	if (bpf_core_read(&parent, sizeof(parent), &cgrp->ancestors[level - 1]) || !parent)
		return 0;
	parent_id = BPF_CORE_READ(parent, kn, id);
	policy = bpf_map_lookup_elem(&raw_socket_policy, &parent_id);
	if (!policy)
		return 0;
	id = cgrp->kn->id;
	bpf_map_update_elem(&raw_socket_policy, &id, policy, BPF_NOEXIST);
	return 0;
}
