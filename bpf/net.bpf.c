// SPDX-License-Identifier: GPL-2.0
/*
 * Network bytes, packets and connect() calls per cgroup, attached to the v2
 * root so that every socket of every cgroup (in every network namespace)
 * passes through.
 *
 * Bytes and packets (cgroup_skb) are charged to the socket's cgroup, not the
 * current task's: ACKs and retransmits are sent from softirq context on
 * behalf of a socket. Never reads beyond the IP header's length fields.
 * They are batched per CPU and cgroup (struct skb_slot in usage.h): a
 * stream of packets of one tenant's sockets costs a compare-and-swap and a
 * few adds on a line of this CPU, no map lookup.
 *
 * connect() calls (cgroup/connect4 and connect6) run in the calling task's
 * context and are charged to its cgroup: that is who opened the connection.
 * Only the call is counted, whatever its outcome; a refused or timed-out
 * connection is still a request a flood sends. Calls are batched per CPU
 * and cgroup like CPU time (struct connect_slot in usage.h). Nothing here
 * drops a packet or refuses a connection.
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

/* Each CPU's batch of bytes and packets (see struct skb_slot). */
struct skb_slot skb_slots[AW_MAX_CPUS];
/* Each CPU's batch of connect() calls and last destination (see struct connect_slot). */
struct connect_slot connect_slots[AW_MAX_CPUS];

/*
 * The IP header's length field, from the start of the packet (the network
 * header, where cgroup_skb programs see the data begin): read in place
 * when the linear part holds it, as the IP layer has made sure by then,
 * else copied out. 0 when unreadable or not IP.
 */
static __always_inline __u32 length_field(struct __sk_buff *skb, __u32 offset)
{
	__u8 *data = (__u8 *)(long)skb->data, *data_end = (__u8 *)(long)skb->data_end;
	__u8 field[2];

	if (data + offset + sizeof(field) <= data_end)
		return (__u32)data[offset] << 8 | data[offset + 1];
	if (bpf_skb_load_bytes(skb, offset, field, sizeof(field)))
		return 0;
	return (__u32)field[0] << 8 | field[1];
}

/*
 * Bytes from the IP header: for GSO/GRO packets this is the whole
 * super-packet. BIG TCP packets carry 0 there; skb->len is right for them.
 */
static __always_inline __u32 ip_length(struct __sk_buff *skb)
{
	__u32 length = 0;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		length = length_field(skb, 2);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		length = length_field(skb, 4);
		if (length)
			length += IPV6_HEADER_LEN;
	}
	return length ? length : skb->len;
}

/* Packets and calls of the root cgroup belong to no tenant: not counted. */
static __always_inline bool is_tenant(__u64 id)
{
	return id && id != targ_root_cgroup_id;
}

/* This CPU's counters of cgroup @id, created on first use; NULL when the map is full. */
static __always_inline struct net_usage *usage_of(__u64 id)
{
	struct net_usage zero = {};
	struct net_usage *usage;

	if (!is_tenant(id))
		return NULL;
	usage = lookup_or_create(&net_by_id, &id, &zero);
	if (!usage)
		__sync_fetch_and_add(&net_lost_events, 1);
	return usage;
}

/*
 * Adds to cgroup @id's counters on this CPU. Atomic although the value is
 * this CPU's: a program interrupted or preempted halfway through an add
 * here may let another program on this CPU add to the same counter.
 */
static __always_inline void add_packets(__u64 id, __u64 rx_bytes, __u64 tx_bytes,
					__u64 rx_packets, __u64 tx_packets)
{
	struct net_usage *usage = usage_of(id);

	if (!usage)
		return;
	if (rx_packets) {
		__sync_fetch_and_add(&usage->rx_bytes, rx_bytes);
		__sync_fetch_and_add(&usage->rx_packets, rx_packets);
	}
	if (tx_packets) {
		__sync_fetch_and_add(&usage->tx_bytes, tx_bytes);
		__sync_fetch_and_add(&usage->tx_packets, tx_packets);
	}
}

/*
 * Moves @slot's batch to its cgroup's counters and starts one for cgroup
 * @id, bracketed by flushes for userspace (see struct cpu_slot in usage.h).
 * A batch with bytes has packets too: the packets say whether it is empty.
 */
static __noinline void flush_packets(struct skb_slot *slot, __u64 id)
{
	slot->flushes++;
	barrier();
	if (slot->pending_id && (slot->pending_rx_packets || slot->pending_tx_packets))
		add_packets(slot->pending_id, slot->pending_rx_bytes, slot->pending_tx_bytes,
			    slot->pending_rx_packets, slot->pending_tx_packets);
	slot->pending_rx_bytes = 0;
	slot->pending_tx_bytes = 0;
	slot->pending_rx_packets = 0;
	slot->pending_tx_packets = 0;
	slot->pending_id = id;
	barrier();
	slot->flushes++;
}

/* Counts a packet that found this CPU's slot taken (or no slot): in the maps directly. */
static __noinline void count_packet_in_maps(__u64 id, __u32 bytes, __u32 packets, bool egress)
{
	if (egress)
		add_packets(id, 0, bytes, 0, packets);
	else
		add_packets(id, bytes, 0, packets, 0);
}

/*
 * Counts the packet in this CPU's batch (struct skb_slot), which moves to
 * the maps only when a packet of another tenant's socket passes here.
 * Packets of the root cgroup's sockets leave the batch alone.
 */
static __always_inline void account(struct __sk_buff *skb, bool egress)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	__u32 cpu, bytes, packets;
	struct skb_slot *slot;

	if (!is_tenant(id))
		return;
	bytes = ip_length(skb);
	packets = skb->gso_segs;
	if (!packets)
		packets = 1;
	cpu = bpf_get_smp_processor_id();
	if (cpu >= AW_MAX_CPUS) {
		count_packet_in_maps(id, bytes, packets, egress);
		return;
	}
	slot = &skb_slots[cpu];
	/*
	 * Taken by a program this one interrupted (softirq over process
	 * context) or preempted (which resumes on this CPU: cgroup_skb
	 * programs run with migration off, and give the slot back then).
	 */
	if (__sync_val_compare_and_swap(&slot->busy, 0, 1) != 0) {
		count_packet_in_maps(id, bytes, packets, egress);
		return;
	}
	if (slot->pending_id != id)
		flush_packets(slot, id);
	if (egress) {
		slot->pending_tx_bytes += bytes;
		slot->pending_tx_packets += packets;
	} else {
		slot->pending_rx_bytes += bytes;
		slot->pending_rx_packets += packets;
	}
	barrier();
	slot->busy = 0;
}

/* Mining on the wire: stratum, pool domains in DNS queries and TLS server names. */
#include "wire.bpf.h"

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
	wire_inspect(skb);
	return 1;
}

/* Was a destination sent at @sent_ns less than AW_CONNECT_REPEAT_NS before @now? */
static __always_inline bool sent_recently(__u64 now, __u64 sent_ns)
{
	/*
	 * Signed: @now is the coarse clock, which may lag the precise one
	 * that stamped @sent_ns by a tick. Comparing it so never resends
	 * early; a destination comes again after a second and up to a tick.
	 */
	return (__s64)(now - sent_ns) < (__s64)AW_CONNECT_REPEAT_NS;
}

/*
 * Sends the destination @key on, unless this cgroup sent the same one less
 * than a second ago: the ring buffer carries distinct destinations, not
 * the volume of a flood (that is the counter's job). Returns when @key was
 * last sent (or found no room in the ring buffer: counted as lost).
 */
static __noinline __u64 send_destination(struct destination_key *key, __u16 family)
{
	struct connect_event *event;
	__u64 now, *sent;

	sent = bpf_map_lookup_elem(&recent_destinations, key);
	if (sent && sent_recently(bpf_ktime_get_coarse_ns(), *sent))
		return *sent;
	/* The precise clock here: see sent_recently(). */
	now = bpf_ktime_get_ns();
	/* An LRU map makes room by itself: no update fails for want of it. */
	bpf_map_update_elem(&recent_destinations, key, &now, BPF_ANY);
	event = bpf_ringbuf_reserve(&connect_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&net_lost_events, 1);
		return now;
	}
	event->cgroup_id = key->cgroup_id;
	__builtin_memcpy(event->addr, key->addr, sizeof(event->addr));
	event->port = key->port;
	event->family = family;
	event->unused = 0;
	bpf_ringbuf_submit(event, 0);
	return now;
}

/* Adds @count connect() calls to cgroup @id's counters on this CPU. */
static __always_inline void add_connects(__u64 id, __u64 count)
{
	struct net_usage *usage = usage_of(id);

	/*
	 * Atomic although the value is this CPU's: a call preempted halfway
	 * through an add here may let another call on this CPU add too.
	 */
	if (usage)
		__sync_fetch_and_add(&usage->connects, count);
}

/*
 * Moves @slot's batch of calls to its cgroup's counters and starts one for
 * cgroup @id, bracketed by flushes for userspace (see struct cpu_slot in
 * usage.h). The destination remembered was the last cgroup's: forgotten.
 */
static __noinline void flush_connects(struct connect_slot *slot, __u64 id)
{
	slot->flushes++;
	barrier();
	if (slot->pending_id && slot->pending_connects)
		add_connects(slot->pending_id, slot->pending_connects);
	slot->pending_connects = 0;
	slot->pending_id = id;
	barrier();
	slot->flushes++;
	slot->last_sent_ns = 0;
}

/* Counts a call and sends its destination on without the CPU's slot. */
static __noinline void count_in_maps(struct destination_key *key, __u16 family)
{
	if (!is_tenant(key->cgroup_id))
		return;
	add_connects(key->cgroup_id, 1);
	send_destination(key, family);
}

static __always_inline bool same_destination(const struct connect_slot *slot,
					     const struct destination_key *key)
{
	const __u64 *remembered = (const __u64 *)slot->last_addr, *addr = (const __u64 *)key->addr;

	return remembered[0] == addr[0] && remembered[1] == addr[1] && slot->last_port == key->port;
}

/*
 * Counts the call and sends its destination on (send_destination()). The
 * common case, a cgroup calling the same destination again and again on a
 * CPU, touches only that CPU's slot: the count is batched there (struct
 * connect_slot) and the destination it last sent is remembered with when
 * it was, so a repeat within the second needs neither map nor, mostly, a
 * clock. The slot only remembers a send, never decides one the LRU map
 * would not: a repeat it skips is one that map would skip too, or did in
 * the same jiffy. What a repeat does not need is out of line (__noinline),
 * so that the path it takes is a few cache lines of code.
 */
static __always_inline void count_connect(struct destination_key *key, __u16 family)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 id = key->cgroup_id, sent, jiffies;
	struct connect_slot *slot;

	if (cpu >= AW_MAX_CPUS)
		return;
	slot = &connect_slots[cpu];
	/*
	 * Taken by a call this one preempted (which resumes on this CPU: the
	 * caller cannot migrate, and gives the slot back then): this call
	 * counts in the maps directly.
	 */
	if (__sync_val_compare_and_swap(&slot->busy, 0, 1) != 0) {
		count_in_maps(key, family);
		return;
	}
	if (slot->pending_id != id) {
		/* Checked here only: a slot never holds the root's calls. */
		if (!is_tenant(id))
			goto release;
		flush_connects(slot, id);
	}
	slot->pending_connects++;
	if (slot->last_sent_ns && same_destination(slot, key)) {
		/*
		 * Found sent less than a second ago earlier in this jiffy: no
		 * clock read (a helper call) but for the first call of a tick.
		 * The destination may then come again up to a tick late,
		 * never early.
		 */
		jiffies = bpf_jiffies64();
		if (jiffies == slot->checked_jiffies)
			goto release;
		if (sent_recently(bpf_ktime_get_coarse_ns(), slot->last_sent_ns)) {
			slot->checked_jiffies = jiffies;
			goto release;
		}
	}
	sent = send_destination(key, family);
	__builtin_memcpy(slot->last_addr, key->addr, sizeof(slot->last_addr));
	slot->last_port = key->port;
	slot->last_sent_ns = sent;
	slot->checked_jiffies = bpf_jiffies64();
release:
	barrier();
	slot->busy = 0;
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
