// SPDX-License-Identifier: GPL-2.0
/*
 * Network bytes, packets and connect() calls per cgroup, attached to the v2
 * root so that every socket of every cgroup (in every network namespace)
 * passes through.
 *
 * Bytes and packets (cgroup_skb) are charged to the socket's cgroup, not the
 * current task's: ACKs and retransmits are sent from softirq context on
 * behalf of a socket. Never reads beyond the IP header's length fields.
 *
 * connect() calls (cgroup/connect4 and connect6) run in the calling task's
 * context and are charged to its cgroup: that is who opened the connection.
 * Only the call is counted, whatever its outcome; a refused or timed-out
 * connection is still a request a flood sends. Nothing here drops a packet
 * or refuses a connection.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "usage.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPV6_HEADER_LEN 40

/* Packets of sockets in the root cgroup belong to no tenant: not counted. */
const volatile __u64 targ_root_cgroup_id = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, AW_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct net_usage);
} net_by_id SEC(".maps");

__u64 net_lost_events;

/*
 * Bytes from the IP header: for GSO/GRO packets this is the whole
 * super-packet. BIG TCP packets carry 0 there; skb->len is right for them.
 */
static __always_inline __u32 ip_length(struct __sk_buff *skb)
{
	__u8 header[6];
	__u32 length = 0;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (!bpf_skb_load_bytes(skb, 0, header, 4))
			length = (__u32)header[2] << 8 | header[3];
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (!bpf_skb_load_bytes(skb, 0, header, 6))
			length = ((__u32)header[4] << 8 | header[5]) + IPV6_HEADER_LEN;
	}
	return length ? length : skb->len;
}

/* This CPU's counters of cgroup @id, created on first use; NULL when the map is full. */
static __always_inline struct net_usage *usage_of(__u64 id)
{
	struct net_usage zero = {};
	struct net_usage *usage;

	if (!id || id == targ_root_cgroup_id)
		return NULL;
	usage = bpf_map_lookup_elem(&net_by_id, &id);
	if (usage)
		return usage;
	bpf_map_update_elem(&net_by_id, &id, &zero, BPF_NOEXIST);
	usage = bpf_map_lookup_elem(&net_by_id, &id);
	if (!usage)
		__sync_fetch_and_add(&net_lost_events, 1);
	return usage;
}

static __always_inline void account(struct __sk_buff *skb, bool egress)
{
	struct net_usage *usage = usage_of(bpf_skb_cgroup_id(skb));
	__u32 packets;

	if (!usage)
		return;
	packets = skb->gso_segs ? skb->gso_segs : 1;
	/* Per-CPU values: plain adds suffice. */
	if (egress) {
		usage->tx_bytes += ip_length(skb);
		usage->tx_packets += packets;
	} else {
		usage->rx_bytes += ip_length(skb);
		usage->rx_packets += packets;
	}
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	account(skb, false);
	return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	account(skb, true);
	return 1;
}

static __always_inline void count_connect(void)
{
	struct net_usage *usage = usage_of(bpf_get_current_cgroup_id());

	/* Per-CPU value, and the caller cannot migrate under us: a plain add. */
	if (usage)
		usage->connects++;
}

SEC("cgroup/connect4")
int count_connect4(struct bpf_sock_addr *ctx)
{
	count_connect();
	return 1;
}

SEC("cgroup/connect6")
int count_connect6(struct bpf_sock_addr *ctx)
{
	count_connect();
	return 1;
}
