// SPDX-License-Identifier: GPL-2.0
/*
 * Network bytes, packets and connect() calls per cgroup, attached to the v2
 * root so that every socket of every cgroup (in every network namespace)
 * passes through.
 *
 * Bytes and packets (cgroup_skb) are charged to the socket's cgroup, not the
 * current task's: ACKs and retransmits are sent from softirq context on
 * behalf of a socket. Reads the IP header's length fields, and on egress
 * the protocol and TCP flags or UDP ports (probes, below); never a payload.
 * They are batched per CPU and cgroup (struct skb_slot in usage.h, two
 * cgroups at a time, as both ends of a loopback conversation are): a
 * stream of packets of one tenant's sockets costs a compare-and-swap and a
 * few adds on a line of this CPU, no map lookup.
 *
 * connect() calls (cgroup/connect4 and connect6) run in the calling task's
 * context and are charged to its cgroup: that is who opened the connection.
 * Only the call is counted, whatever its outcome; a refused or timed-out
 * connection is still a request a flood sends. Calls are batched per CPU
 * and cgroup like CPU time (struct connect_slot in usage.h). Nothing here
 * drops a packet or refuses a connection.
 *
 * Packet sockets (AF_PACKET) bypass the IP layer and cgroup_skb: their
 * frames are counted at tp_btf/net_dev_queue, or, sent with
 * PACKET_QDISC_BYPASS, at tp_btf/sock_send_length, a program the agent
 * attaches only once a tenant sets that option (count_direct_tx). TCP SYNs and UDP
 * datagrams that raw IP and packet sockets write themselves go to
 * userspace as connect()s' destinations do, for port_scan (below).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "slots.bpf.h"
#include "net_events.h"
#include "usage.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPV6_HEADER_LEN 40
#define AF_PACKET 17
#define SOCK_RAW 3
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

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
 * A batch's amounts stay under 2^32: see charge_packets(). A test may
 * build it lower, so that batches move on the way (-DAW_SKB_BATCH_LIMIT=).
 */
#ifndef AW_SKB_BATCH_LIMIT
#define AW_SKB_BATCH_LIMIT (1U << 31)
#endif

/* Each CPU's batches of bytes and packets (see struct skb_slot). */
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
 * Moves @batch of @slot to its cgroup's counters and starts one for cgroup
 * @id there, bracketed by flushes for userspace (see struct cpu_slot in
 * usage.h). A batch with bytes has packets too: the packets say whether it
 * is empty.
 */
static __noinline void flush_packets(struct skb_slot *slot, struct skb_batch *batch, __u64 id)
{
	flush_begin(slot);
	if (batch->id && (batch->rx_packets || batch->tx_packets))
		add_packets(batch->id, batch->rx_bytes, batch->tx_bytes, batch->rx_packets,
			    batch->tx_packets);
	batch->rx_bytes = 0;
	batch->tx_bytes = 0;
	batch->rx_packets = 0;
	batch->tx_packets = 0;
	batch->id = id;
	flush_end(slot);
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
 * Counts @bytes and @packets of cgroup @id's socket in this CPU's batches
 * (struct skb_slot), two cgroups' at a time; one moves to the maps only
 * when a packet of a third tenant's socket passes here. The packet socket probe (net_dev_queue)
 * shares the batch: it runs with bottom halves off, and the slot's
 * compare-and-swap keeps it apart from a cgroup_skb program all the same.
 */
static __always_inline void charge_packets(__u64 id, __u32 bytes, __u32 packets, bool egress,
					   bool unpreemptible)
{
	struct skb_batch *batch;
	struct skb_slot *slot;
	__u32 cpu, index;

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
	if (unpreemptible) {
		/*
		 * Neither preempted nor interrupted by another user of the
		 * slot (bottom halves off): a plain claim does, and a slot
		 * found taken is one a preempted program holds.
		 */
		if (slot->busy) {
			count_packet_in_maps(id, bytes, packets, egress);
			return;
		}
		slot->busy = 1;
	} else if (__sync_val_compare_and_swap(&slot->busy, 0, 1) != 0) {
		count_packet_in_maps(id, bytes, packets, egress);
		return;
	}
	/*
	 * Either batch of @id's, else the one counted in less recently makes
	 * room (two cgroups alternating, as both ends of a loopback
	 * conversation do, never move a batch).
	 */
	if (slot->batches[0].id == id) {
		batch = &slot->batches[0];
		if (slot->recent)
			slot->recent = 0;
	} else if (slot->batches[1].id == id) {
		batch = &slot->batches[1];
		if (!slot->recent)
			slot->recent = 1;
	} else {
		index = (slot->recent ^ 1) & 1;
		batch = &slot->batches[index];
		flush_packets(slot, batch, id);
		slot->recent = index;
	}
	/*
	 * 32-bit amounts: the batch moves to the maps once one reaches 2^31.
	 * What one call adds is under 2^31 (a packet, GSO or BIG TCP, and a
	 * sendmsg() are under 2 GiB), so an add never wraps.
	 */
	if (egress) {
		if ((batch->tx_bytes | batch->tx_packets) >= AW_SKB_BATCH_LIMIT)
			flush_packets(slot, batch, id);
		batch->tx_bytes += bytes;
		batch->tx_packets += packets;
	} else {
		if ((batch->rx_bytes | batch->rx_packets) >= AW_SKB_BATCH_LIMIT)
			flush_packets(slot, batch, id);
		batch->rx_bytes += bytes;
		batch->rx_packets += packets;
	}
	barrier();
	slot->busy = 0;
}

/*
 * Counts the packet in this CPU's batch (charge_packets()). Packets of the
 * root cgroup's sockets leave the batch alone.
 */
static __always_inline void account(struct __sk_buff *skb, bool egress)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	__u32 packets;

	if (!is_tenant(id))
		return;
	packets = skb->gso_segs;
	if (!packets)
		packets = 1;
	charge_packets(id, ip_length(skb), packets, egress, false);
}

/* Mining on the wire: stratum, pool domains in DNS queries and TLS server names. */
#include "wire.bpf.h"

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	account(skb, false);
	return 1;
}

static __always_inline void note_raw_probe(struct __sk_buff *skb);

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	account(skb, true);
	note_raw_probe(skb);
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
static __always_inline __u64 send_destination_by(struct destination_key *key, __u16 family,
						 __u32 source, bool coarse_clock)
{
	struct connect_event *event;
	__u64 now, *sent;

	key->source = source;
	sent = bpf_map_lookup_elem(&recent_destinations, key);
	if (sent && sent_recently(coarse_clock ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns(),
				  *sent))
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
	event->source = source;
	bpf_ringbuf_submit(event, 0);
	return now;
}

static __noinline __u64 send_destination(struct destination_key *key, __u16 family)
{
	return send_destination_by(key, family, AW_DESTINATION_CONNECT, true);
}

/* A raw IP socket's probe (see note_raw_probe()). */
static __noinline __u64 send_raw_probe(struct destination_key *key, __u16 family)
{
	return send_destination_by(key, family, AW_DESTINATION_RAW_PROBE, true);
}

/* A packet socket's probe, from a tracing program: those may not read the coarse clock. */
static __noinline __u64 send_packet_probe(struct destination_key *key, __u16 family)
{
	return send_destination_by(key, family, AW_DESTINATION_PACKET_PROBE, false);
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
	flush_begin(slot);
	if (slot->pending_id && slot->pending_connects)
		add_connects(slot->pending_id, slot->pending_connects);
	slot->pending_connects = 0;
	slot->pending_id = id;
	flush_end(slot);
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

/*
 * Scans without connect(). A scanner with a raw IP socket (nmap -sS,
 * hping3) or a packet socket (masscan, zmap) writes its own TCP SYNs and
 * UDP probes, so cgroup/connect never sees them. Their destinations go to
 * userspace like a connect()'s (send_destination(): same event, same
 * once-a-second de-duplication per cgroup in the LRU map, so the kernel's
 * memory stays bounded). They are not connect() calls and are not counted
 * as such. SYNs of SOCK_STREAM sockets are left out: their connect() has
 * sent the destination already.
 */

/* A TCP or UDP probe's destination port, from its transport header at @l4. */
struct probe_ports {
	__be16 source;
	__be16 dest;
};

/*
 * The destination of an IPv4 packet at @ip (@avail bytes readable there,
 * from a packet or a copy) into @key when it is a probe: a TCP SYN without
 * ACK or a UDP datagram, first fragment only. @l4 gets the transport
 * header's offset from @ip. False for anything else.
 */
static __always_inline bool ipv4_probe(const __u8 *ip, __u32 avail, struct destination_key *key,
				       __u32 *l4, __u8 *protocol)
{
	const struct iphdr *iph = (const struct iphdr *)ip;

	if (avail < sizeof(*iph) || iph->version != 4 || iph->ihl < 5)
		return false;
	if (iph->frag_off & bpf_htons(0x1fff))
		return false;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return false;
	*protocol = iph->protocol;
	*l4 = iph->ihl * 4;
	key->addr[10] = 0xff;
	key->addr[11] = 0xff;
	__builtin_memcpy(&key->addr[12], &iph->daddr, 4);
	return true;
}

/* The same for IPv6: TCP or UDP right after the fixed header (no extension headers). */
static __always_inline bool ipv6_probe(const __u8 *ip, __u32 avail, struct destination_key *key,
				       __u32 *l4, __u8 *protocol)
{
	const struct ipv6hdr *ip6h = (const struct ipv6hdr *)ip;

	if (avail < sizeof(*ip6h) || ip6h->version != 6)
		return false;
	if (ip6h->nexthdr != IPPROTO_TCP && ip6h->nexthdr != IPPROTO_UDP)
		return false;
	*protocol = ip6h->nexthdr;
	*l4 = sizeof(*ip6h);
	__builtin_memcpy(key->addr, &ip6h->daddr, sizeof(key->addr));
	return true;
}

/* Bytes of a transport header a probe's test reads: TCP's flags, UDP's ports. */
static __always_inline __u32 transport_head_len(__u8 protocol)
{
	return protocol == IPPROTO_TCP ? 14 : 4;
}

/*
 * Is the transport header (@head: its first transport_head_len() bytes) a
 * probe's: any UDP datagram, or a TCP segment with SYN and not ACK? Its
 * port then goes to @key.
 */
static __always_inline bool transport_probe(const __u8 *head, __u8 protocol,
					    struct destination_key *key)
{
	const struct probe_ports *ports = (const struct probe_ports *)head;

	/* TCP flags: byte 13 of its header. */
	if (protocol == IPPROTO_TCP && (head[13] & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		return false;
	key->port = bpf_ntohs(ports->dest);
	return true;
}

/*
 * cgroup_skb egress: the destination of a SYN or UDP probe a tenant's raw
 * IP socket sends. Ordinary traffic pays a look at the IP protocol and the
 * TCP flags, read in place; only SYNs and UDP datagrams ask for the socket's
 * type. Headers out of the linear part are not looked for: a raw socket's
 * small packets are linear.
 */
static __always_inline void note_raw_probe(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data, *data_end = (__u8 *)(long)skb->data_end;
	struct destination_key key = {};
	struct bpf_sock *sk;
	__u8 protocol = 0;
	__u32 l4 = 0;
	__u16 family;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (data + sizeof(struct iphdr) > data_end)
			return;
		if (!ipv4_probe(data, sizeof(struct iphdr), &key, &l4, &protocol))
			return;
		family = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (data + sizeof(struct ipv6hdr) > data_end)
			return;
		if (!ipv6_probe(data, sizeof(struct ipv6hdr), &key, &l4, &protocol))
			return;
		family = AF_INET6;
	} else {
		return;
	}
	if (l4 > 60)
		return;
	data += l4;
	if (protocol == IPPROTO_TCP ? data + 14 > data_end : data + 4 > data_end)
		return;
	if (!transport_probe(data, protocol, &key))
		return;
	sk = skb->sk;
	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->type != SOCK_RAW)
		return;
	key.cgroup_id = bpf_skb_cgroup_id(skb);
	if (!is_tenant(key.cgroup_id))
		return;
	send_raw_probe(&key, family);
}

/*
 * Packet sockets (AF_PACKET) write whole frames and hand them to the
 * device: no IP layer, so no cgroup_skb program sees them. net_dev_queue
 * runs in __dev_queue_xmit for every packet the host queues to a device,
 * in the sending task's context for a packet socket (packet_snd and the
 * TX ring's tpacket_snd alike). Every other family has been counted by
 * cgroup_skb already: one load and a compare let them by.
 *
 * Not seen here: a packet socket with PACKET_QDISC_BYPASS, whose frames go
 * to the driver through packet_direct_xmit without __dev_queue_xmit.
 */

#define ARPHRD_ETHER 1
#define ARPHRD_LOOPBACK 772
#define ETH_HEADER_LEN 14
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* The v2 cgroup that owns packet socket @sk, else the sending task's. */
static __always_inline __u64 socket_cgroup_id(struct sock *sk)
{
	struct cgroup *cgroup = sk->sk_cgrp_data.cgroup;

	if (cgroup && cgroup->kn)
		return cgroup->kn->id;
	return bpf_get_current_cgroup_id();
}

/*
 * Headers of a frame, read in place through read-only casts (a faulting
 * load reads 0): a few loads where copying them out with probe-read
 * helpers cost a helper call each.
 */
/* Weak: a kernel without it (before 6.2) loads the rest (user/probes/probes.c). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define kernel_cast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* Each CPU's last packet socket probe sent on (struct probe_memo in usage.h). */
struct probe_memo packet_probe_memos[AW_MAX_CPUS];

/* Sends @key on unless this CPU sent it less than a second ago (struct probe_memo). */
static __always_inline void send_packet_probe_once(struct destination_key *key, __u16 family)
{
	__u32 cpu = bpf_get_smp_processor_id();
	const __u64 *remembered, *addr = (const __u64 *)key->addr;
	struct probe_memo *memo;
	__u64 jiffies;

	if (cpu >= AW_MAX_CPUS) {
		send_packet_probe(key, family);
		return;
	}
	memo = &packet_probe_memos[cpu];
	remembered = (const __u64 *)memo->addr;
	if (memo->sent_ns && memo->cgroup_id == key->cgroup_id && memo->port == key->port &&
	    remembered[0] == addr[0] && remembered[1] == addr[1]) {
		/*
		 * Found sent less than a second ago earlier in this jiffy: no
		 * clock read but for the first repeat of a tick (as
		 * count_connect() does).
		 */
		jiffies = bpf_jiffies64();
		if (jiffies == memo->checked_jiffies)
			return;
		if (sent_recently(bpf_ktime_get_ns(), memo->sent_ns)) {
			memo->checked_jiffies = jiffies;
			return;
		}
	}
	memo->sent_ns = send_packet_probe(key, family);
	memo->cgroup_id = key->cgroup_id;
	__builtin_memcpy(memo->addr, key->addr, sizeof(memo->addr));
	memo->port = key->port;
	memo->checked_jiffies = bpf_jiffies64();
}

/*
 * A packet socket's frame at @frame (@link: its link header's length,
 * @headlen: bytes in its linear part) sent to cgroup @id's destinations
 * when it is a SYN or UDP probe over Ethernet (one VLAN tag at most) or
 * no link header at all. Reads the link, IP and transport headers only,
 * within the first @headlen bytes (the linear part, or a TX ring's frame).
 */
static __always_inline void note_frame_probe(const __u8 *frame, __u32 link, __u32 headlen, __u64 id)
{
	struct destination_key key = {};
	const struct ethhdr *eth;
	const struct vlan_hdr *vlan;
	const __u8 *ip, *transport;
	__u8 version = 0, protocol = 0;
	__be16 ethertype;
	__u32 l4 = 0;
	__u16 family;

	if (link == ETH_HEADER_LEN) {
		if (headlen < ETH_HEADER_LEN + sizeof(struct iphdr))
			return;
		eth = kernel_cast(frame, struct ethhdr);
		ethertype = eth->h_proto;
		if (ethertype == bpf_htons(ETH_P_8021Q) || ethertype == bpf_htons(ETH_P_8021AD)) {
			vlan = kernel_cast(frame + ETH_HEADER_LEN, struct vlan_hdr);
			ethertype = vlan->h_vlan_encapsulated_proto;
			link += sizeof(*vlan);
		}
		if (ethertype == bpf_htons(ETH_P_IP))
			version = 4;
		else if (ethertype == bpf_htons(ETH_P_IPV6))
			version = 6;
		else
			return;
	} else if (link == 0) {
		if (headlen < sizeof(struct iphdr))
			return;
		version = kernel_cast(frame, struct iphdr)->version;
	} else {
		return;
	}
	if (version == 4) {
		if (link + sizeof(struct iphdr) > headlen)
			return;
		ip = (const __u8 *)kernel_cast(frame + link, struct iphdr);
		if (!ipv4_probe(ip, sizeof(struct iphdr), &key, &l4, &protocol))
			return;
		family = AF_INET;
	} else if (version == 6) {
		if (link + sizeof(struct ipv6hdr) > headlen)
			return;
		ip = (const __u8 *)kernel_cast(frame + link, struct ipv6hdr);
		if (!ipv6_probe(ip, sizeof(struct ipv6hdr), &key, &l4, &protocol))
			return;
		family = AF_INET6;
	} else {
		return;
	}
	l4 += link;
	if (l4 + transport_head_len(protocol) > headlen)
		return;
	if (protocol == IPPROTO_TCP)
		transport = (const __u8 *)kernel_cast(frame + l4, struct tcphdr);
	else
		transport = (const __u8 *)kernel_cast(frame + l4, struct udphdr);
	if (!transport_probe(transport, protocol, &key))
		return;
	key.cgroup_id = id;
	send_packet_probe_once(&key, family);
}

/* Ethernet's header (loopback's too), else what the device says its link header takes. */
static __always_inline __u32 link_header_len(const struct net_device *dev)
{
	return dev->type == ARPHRD_ETHER || dev->type == ARPHRD_LOOPBACK ? ETH_HEADER_LEN :
									   dev->hard_header_len;
}

/*
 * Does packet socket @sk send with PACKET_QDISC_BYPASS (packet_direct_xmit(),
 * which never passes __dev_queue_xmit)? A flag bit since 6.3; earlier
 * kernels, with a function pointer instead, are taken as never bypassing.
 */
static __always_inline bool bypasses_qdisc(struct sock *sk)
{
	if (!bpf_core_enum_value_exists(enum packet_sock_flags, PACKET_SOCK_QDISC_BYPASS))
		return false;
	return kernel_cast(sk, struct packet_sock)->flags &
	       (1UL << bpf_core_enum_value(enum packet_sock_flags, PACKET_SOCK_QDISC_BYPASS));
}

/*
 * Where a TX ring frame's data starts (tpacket_parse_header()): @slot is
 * its slot in the ring (the skb's destructor_arg, untagged). NULL when @sk has no TX
 * ring. The slot is shared with the sender, who may change it meanwhile:
 * only its own frame's probe can be missed so.
 */
static __always_inline const __u8 *ring_frame_data(struct sock *sk, const __u8 *slot)
{
	const struct packet_sock *po = kernel_cast(sk, struct packet_sock);
	__u32 offset;

	if (!po->tx_ring.pg_vec || !slot)
		return NULL;
	if (!bpf_core_enum_value_exists(enum packet_sock_flags, PACKET_SOCK_TX_HAS_OFF) ||
	    !(po->flags &
	      (1UL << bpf_core_enum_value(enum packet_sock_flags, PACKET_SOCK_TX_HAS_OFF)))) {
		offset = po->tp_hdrlen - sizeof(struct sockaddr_ll);
	} else if (po->tp_version == TPACKET_V3) {
		const struct tpacket3_hdr *h3 = kernel_cast(slot, struct tpacket3_hdr);

		offset = sk->sk_type == SOCK_RAW ? h3->tp_mac : h3->tp_net;
	} else if (po->tp_version == TPACKET_V2) {
		const struct tpacket2_hdr *h2 = kernel_cast(slot, struct tpacket2_hdr);

		offset = sk->sk_type == SOCK_RAW ? h2->tp_mac : h2->tp_net;
	} else {
		const struct tpacket_hdr *h1 = kernel_cast(slot, struct tpacket_hdr);

		offset = sk->sk_type == SOCK_RAW ? h1->tp_mac : h1->tp_net;
	}
	if (offset >= po->tx_ring.frame_size)
		return NULL;
	return slot + offset;
}

/*
 * Charges a packet socket's frame to the socket's cgroup as transmitted:
 * its bytes past the link header (what cgroup_skb counts of an IP packet:
 * the network layer on, here as sent, so that a forged IP length cannot
 * hide any) and its packets (GSO segments when the socket sent a
 * super-packet with a virtio-net header).
 */
static __always_inline void account_packet_socket(struct sk_buff *skb, struct sock *sk)
{
	struct net_device *dev = skb->dev;
	struct skb_shared_info *shinfo;
	__u32 len = skb->len, link, packets, headlen;
	const __u8 *ring_data;
	__u64 id;

	/*
	 * Counted once, where it leaves the host or its last device: not
	 * where a device with devices under it (VLAN, macvlan, bond, bridge)
	 * takes it, to queue it again to one of those; not where it comes
	 * again after another device received it (from a veth into a bridge:
	 * the socket stays with the frame).
	 */
	if (!dev || dev->lower_level > 1 || skb->skb_iif)
		return;
	/* Counted when sent (count_direct_tx): a device under it may queue it again. */
	if (bypasses_qdisc(sk))
		return;
	id = socket_cgroup_id(sk);
	if (!is_tenant(id))
		return;
	link = link_header_len(dev);
	if (len <= link)
		return;
	shinfo = kernel_cast(skb->head + skb->end, struct skb_shared_info);
	/* Set by now for a GSO frame (qdisc_pkt_len_init()); 0 otherwise. */
	packets = shinfo->gso_segs;
	if (!packets)
		packets = 1;
	charge_packets(id, len - link, packets, true, true);
	if (link != ETH_HEADER_LEN && link != 0)
		return;
	headlen = len - skb->data_len;
	if (headlen >= link + sizeof(struct iphdr)) {
		note_frame_probe(skb->data, link, headlen, id);
		return;
	}
	/*
	 * A TX ring's frame: its linear part holds the link header only, the
	 * rest stays in the ring's pages. Read there, from the frame's slot.
	 */
	/* Tagged in its lowest bit (skb_zcopy_set_nouarg()). */
	ring_data = ring_frame_data(sk, (const __u8 *)((unsigned long)shinfo->destructor_arg & ~1UL));
	if (!ring_data)
		return;
	/* A SOCK_DGRAM socket's frame in the ring starts at its network header. */
	if (sk->sk_type == SOCK_RAW)
		note_frame_probe(ring_data, link, len, id);
	else
		note_frame_probe(ring_data, 0, len - link, id);
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(count_pkt_sock, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;

	if (sk && sk->__sk_common.skc_family == AF_PACKET)
		account_packet_socket(skb, sk);
	return 0;
}

/*
 * Frames of packet sockets with PACKET_QDISC_BYPASS go to the driver
 * without __dev_queue_xmit: they are counted when sent, after each
 * sendmsg() of such a socket (sock_send_length, which runs after every
 * sendmsg() of the host: every other socket is let by at once).
 *
 * Merely being there costs every small-datagram sender a few percent of
 * its throughput, for what only a tenant with CAP_NET_RAW that sets the
 * option can do. So this program is loaded at start but attached lazily:
 * bpf/sockets.bpf.c's cgroup/setsockopt program tells the agent of the
 * first tenant's setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, non-zero)
 * (RAW_SOCKET_QDISC_BYPASS, once), and the agent attaches and pins this
 * at once (probes.c attach_direct_tx(), a few ms later: frames sent in
 * between are not counted). Once attached it stays, across restarts.
 *
 * A send()
 * writes one frame (@sent bytes, the link header included on a SOCK_RAW
 * socket), or, with a TX ring, every frame queued there (@sent: their
 * sum), which the ring's head has gone past since the last send
 * (ring_heads). Frames are not parsed here: these probes never reach
 * port_scan.
 */

/* Each packet socket's TX ring head as of its last send(). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} ring_heads SEC(".maps");

/* Frames a TX ring send() went through: how far the ring's head moved. */
static __always_inline __u32 ring_frames(struct sock *sk, const struct packet_ring_buffer *ring)
{
	__u32 head = ring->head, frames = ring->frame_max + 1, moved, *last;

	last = bpf_sk_storage_get(&ring_heads, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!last)
		return 1;
	moved = head >= *last ? head - *last : head + frames - *last;
	*last = head;
	/* All the way round: the whole ring. */
	return moved ? moved : frames;
}

static __noinline void count_bypass(struct sock *sk, __u32 sent)
{
	const struct packet_sock *po = kernel_cast(sk, struct packet_sock);
	const struct net_device *dev = po->cached_dev;
	__u32 frames = 1, link, link_bytes;
	__u64 id;

	if (!bypasses_qdisc(sk))
		return;
	id = socket_cgroup_id(sk);
	if (!is_tenant(id))
		return;
	if (po->tx_ring.pg_vec)
		frames = ring_frames(sk, &po->tx_ring);
	/* Unbound (sendto() names the device): most likely Ethernet. */
	link = sk->sk_type == SOCK_RAW ? (dev ? link_header_len(dev) : ETH_HEADER_LEN) : 0;
	link_bytes = link * frames;
	if (sent <= link_bytes)
		return;
	charge_packets(id, sent - link_bytes, frames, true, false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(count_direct_tx, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && sk->__sk_common.skc_family == AF_PACKET)
		count_bypass(sk, ret);
	return 0;
}
