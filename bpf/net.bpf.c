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

#include "maps.bpf.h"
#include "net_events.h"
#include "usage.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
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

/* Destinations of connect() calls, for user/rules/netabuse.c (see net_events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} connect_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AW_RECENT_DESTINATIONS);
	__type(key, struct destination_key);
	__type(value, __u64);	/* when last sent, ns */
} recent_destinations SEC(".maps");

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
	usage = lookup_or_create(&net_by_id, &id, &zero);
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

/*
 * Counts the call and sends its destination on, unless this cgroup sent
 * the same one less than a second ago: the ring buffer carries distinct
 * destinations, not the volume of a flood (that is the counter's job).
 */
static __always_inline void count_connect(struct destination_key *key, __u16 family)
{
	struct net_usage *usage = usage_of(key->cgroup_id);
	struct connect_event *event;
	__u64 now = bpf_ktime_get_ns(), *sent;

	/* No tenant is in the root cgroup; a full map was counted as lost. */
	if (!usage)
		return;
	/* Per-CPU value, and the caller cannot migrate under us: a plain add. */
	usage->connects++;
	sent = bpf_map_lookup_elem(&recent_destinations, key);
	if (sent && now - *sent < AW_CONNECT_REPEAT_NS)
		return;
	/* An LRU map makes room by itself: no update fails for want of it. */
	bpf_map_update_elem(&recent_destinations, key, &now, BPF_ANY);
	event = bpf_ringbuf_reserve(&connect_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&net_lost_events, 1);
		return;
	}
	event->cgroup_id = key->cgroup_id;
	__builtin_memcpy(event->addr, key->addr, sizeof(event->addr));
	event->port = key->port;
	event->family = family;
	event->unused = 0;
	bpf_ringbuf_submit(event, 0);
}

SEC("cgroup/connect4")
int count_connect4(struct bpf_sock_addr *ctx)
{
	struct destination_key key = {};
	__u32 ip4 = ctx->user_ip4;

	key.cgroup_id = bpf_get_current_cgroup_id();
	/* ::ffff:a.b.c.d, as an IPv6 socket connecting to IPv4 writes it. */
	key.addr[10] = 0xff;
	key.addr[11] = 0xff;
	__builtin_memcpy(&key.addr[12], &ip4, sizeof(ip4));
	key.port = bpf_ntohs((__u16)ctx->user_port);
	count_connect(&key, AF_INET);
	return 1;
}

SEC("cgroup/connect6")
int count_connect6(struct bpf_sock_addr *ctx)
{
	struct destination_key key = {};
	__u32 ip6[4];

	key.cgroup_id = bpf_get_current_cgroup_id();
	/* Loaded one word at a time: the context allows only 4-byte reads here. */
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	__builtin_memcpy(key.addr, ip6, sizeof(ip6));
	key.port = bpf_ntohs((__u16)ctx->user_port);
	count_connect(&key, AF_INET6);
	return 1;
}
