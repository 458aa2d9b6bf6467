/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mining on the wire (wire_events.h), for the cgroup_skb egress program of
 * bpf/net.bpf.c, which includes this after its own definitions (it uses
 * is_tenant() and net_lost_events) and calls wire_inspect() on every
 * packet.
 *
 * What is looked at, and nothing else:
 *  - the first data segment of each TCP connection a tenant's socket
 *    sends: a TLS ClientHello's server name, a DNS query's name (port
 *    53), or else the stratum markers in its first AW_WIRE_SCAN_MAX bytes;
 *  - UDP datagrams to port 53: the query's name.
 * Every other packet costs a few loads of its IP and TCP headers; a TCP
 * segment with data also reads its socket's data_segs_out through BTF
 * ("has this socket sent data before?"), without a helper call.
 *
 * The bytes looked at are copied into per-CPU scratch and searched there;
 * an event says only which marker bits or which pool-domain suffix
 * matched (struct wire_event). Names are matched by hashing their last
 * AW_POOL_SUFFIX_MAX bytes from the end and looking the hash up at each
 * label boundary (at most AW_POOL_SUFFIX_LABELS lookups) in pool_suffixes,
 * which userspace fills from data/network/pool_domains.txt.
 */
#ifndef ABUSEWATCH_WIRE_BPF_H
#define ABUSEWATCH_WIRE_BPF_H

#include <bpf/bpf_core_read.h>

#include "software_events.h"
#include "wire_events.h"

/* Kfuncs the verifier turns into plain moves (6.2+): no call at run time. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#ifndef SOCK_STREAM
#define SOCK_STREAM 1
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif
#define DNS_PORT 53
#define DNS_HEADER_LEN 12
#define TLS_HANDSHAKE 0x16
#define TLS_CLIENT_HELLO 0x01
/* Record header (5), handshake header (4), client version (2), random (32). */
#define TLS_SESSION_ID_OFFSET 43
#define TLS_EXT_SERVER_NAME 0

/*
 * Set by userspace: the stratum markers' filter (software_events.h, built
 * from data/network/stratum_markers.txt), and which of them name a method
 * (the others only confirm one: an event needs a method).
 */
const volatile struct argv_filter targ_stratum = {};
const volatile __u32 targ_stratum_methods = 0;
/* The bits of the pool-domain suffixes (wire_events.h, aw_suffix_bit()). */
const volatile __u64 targ_suffix_bits[AW_POOL_SUFFIX_BITS / 64] = {};

/*
 * Whether any software policy has builtin:miners (written by userspace at
 * run time, probes_set_wire_interest()): without, nothing is inspected.
 */
__u32 wire_enabled;

struct scratch {
	/* A connection's first bytes, as the marker search wants them (markers.bpf.h). */
	char args[AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN];
	/* A host name: a DNS query's (turned from labels into dots here) or a server name. */
	char name[AW_WIRE_NAME_MAX];
	/* The hashes and lengths of its last suffixes at label boundaries. */
	__u64 suffix_hash[AW_POOL_SUFFIX_LABELS + 1];
	__u32 suffix_len[AW_POOL_SUFFIX_LABELS + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} wire_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AW_POOL_SUFFIXES_MAX);
	__type(key, struct pool_suffix_key);
	__type(value, __u32);	/* the suffix's index in pool_domains.txt */
} pool_suffixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} wire_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AW_WIRE_RECENT);
	__type(key, struct wire_recent_key);
	__type(value, __u64);	/* when last sent, ns */
} wire_recent SEC(".maps");

#include "markers.bpf.h"

__noinline __u32 argv_hit(struct scratch *scratch, __u32 len, __u32 at, __u32 window,
			  __u32 modprobe)
{
	/* One filter: @modprobe is never set (read, so that the compiler passes it). */
	if (!scratch || modprobe)
		return 0;
	return filter_hit(&targ_stratum, scratch, len, at, window);
}

/* The stratum markers in the first @len bytes in scratch->args. */
__noinline __u32 wire_search(struct scratch *scratch, __u32 len)
{
	if (!scratch || len > AW_WIRE_SCAN_MAX)
		return 0;
	return search_filter_in(&targ_stratum, 0, scratch, len);
}

/*
 * Sends what matched on, unless this cgroup sent the same less than
 * AW_WIRE_REPEAT_NS ago. The sending process is named only when the
 * packet leaves in the context of a task of the socket's cgroup (a
 * connection's first data and a DNS query mostly do: the sender's
 * sendmsg() transmits them); otherwise pid is 0 and nobody is acted on.
 */
__noinline int wire_report(struct __sk_buff *skb, __u32 rule, __u32 where, __u32 found,
			   __u32 port)
{
	struct wire_recent_key key = {};
	struct task_struct *task;
	struct wire_event *event;
	__u64 id, now, *sent;

	id = bpf_skb_cgroup_id(skb);
	if (!is_tenant(id))
		return 0;
	key.cgroup_id = id;
	key.rule_where = rule << 16 | where;
	key.found = found;
	sent = bpf_map_lookup_elem(&wire_recent, &key);
	/* The coarse clock may lag the precise one by a tick: never early, at most a tick late. */
	if (sent && (__s64)(bpf_ktime_get_coarse_ns() - *sent) < (__s64)AW_WIRE_REPEAT_NS)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&wire_recent, &key, &now, BPF_ANY);
	event = bpf_ringbuf_reserve(&wire_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&net_lost_events, 1);
		return 0;
	}
	__builtin_memset(event, 0, sizeof(*event));
	event->cgroup_id = id;
	event->rule = rule;
	event->where = where;
	event->found = found;
	event->dst_port = port;
	task = bpf_get_current_task_btf();
	if (task->cgroups->dfl_cgrp->kn->id == id) {
		event->pid = task->tgid;
		event->start_ns = task->group_leader->start_boottime;
		__builtin_memcpy(event->comm, task->comm, sizeof(event->comm));
	}
	bpf_ringbuf_submit(event, 0);
	return 1;
}

/* Whether @hash and @len could be a suffix's: its bit in targ_suffix_bits. */
static __always_inline bool may_be_suffix(__u64 hash, __u32 len)
{
	__u32 bit = aw_suffix_bit(hash, len);

	return targ_suffix_bits[(bit >> 6) & (AW_POOL_SUFFIX_BITS / 64 - 1)] >> (bit & 63) & 1;
}

/* The index (+ 1) of the suffix of @hash and @len in pool_suffixes, or 0. */
__noinline __u32 lookup_suffix(__u64 hash, __u32 len)
{
	struct pool_suffix_key key = { .hash = hash, .len = len };
	__u32 *index = bpf_map_lookup_elem(&pool_suffixes, &key);

	return index ? *index + 1 : 0;
}

/*
 * The hashes of the suffixes of the @len bytes of name in scratch->name
 * that begin at a label boundary (at most AW_POOL_SUFFIX_LABELS + 1 of
 * them, the whole name last), hashed from the end over at most
 * AW_POOL_SUFFIX_MAX bytes, into scratch->suffix_hash and suffix_len.
 * Returns how many. A global function: the verifier walks its loop once,
 * and no lookup branches inside it.
 */
__noinline __u32 suffix_hashes(struct scratch *scratch, __u32 len)
{
	__u64 hash = AW_SUFFIX_HASH_START;
	__u32 n, count = 0;
	__u8 c;

	if (!scratch || !len || len > AW_WIRE_NAME_MAX)
		return 0;
	/* A fully qualified name's last dot. */
	if (scratch->name[(len - 1) & (AW_WIRE_NAME_MAX - 1)] == '.')
		len--;
	for (n = 0; n < AW_POOL_SUFFIX_MAX + 1 && n < len; n++) {
		c = scratch->name[(len - 1 - n) & (AW_WIRE_NAME_MAX - 1)];
		if (c == '.' && n) {
			if (count >= AW_POOL_SUFFIX_LABELS)
				return count;
			scratch->suffix_hash[count] = hash;
			scratch->suffix_len[count] = n;
			count++;
		}
		hash = aw_suffix_hash_step(hash, c);
	}
	if (n == len && n <= AW_POOL_SUFFIX_MAX && count <= AW_POOL_SUFFIX_LABELS) {
		scratch->suffix_hash[count] = hash;
		scratch->suffix_len[count] = n;
		count++;
	}
	return count;
}

/*
 * The index (+ 1) of the pool-domain suffix that the @len bytes of name in
 * scratch->name end with at a label boundary, or 0: the shortest first,
 * each tried in the bitmap and only then in the map.
 */
static __always_inline __u32 find_pool_suffix(struct scratch *scratch, __u32 len)
{
	__u32 count = suffix_hashes(scratch, len), i, found;
	__u64 hash;

	for (i = 0; i < AW_POOL_SUFFIX_LABELS + 1 && i < count; i++) {
		hash = scratch->suffix_hash[i];
		len = scratch->suffix_len[i];
		if (!may_be_suffix(hash, len))
			continue;
		found = lookup_suffix(hash, len);
		if (found)
			return found;
	}
	return 0;
}

/*
 * What was copied into the scratch is searched, then forgotten: no byte of
 * payload stays in a map (which root could read, pinned or not) after the
 * packet is through. Global functions, verified once; word stores.
 */
__noinline int forget_name(struct scratch *scratch)
{
	__u64 *words;
	int i;

	if (!scratch)
		return 0;
	words = (__u64 *)scratch->name;
#pragma unroll
	for (i = 0; i < AW_WIRE_NAME_MAX / 8; i++)
		words[i] = 0;
	/* The suffixes' hashes too: a short name could be found again from them. */
#pragma unroll
	for (i = 0; i < AW_POOL_SUFFIX_LABELS + 1; i++) {
		scratch->suffix_hash[i] = 0;
		scratch->suffix_len[i] = 0;
	}
	return 0;
}

__noinline int forget_bytes(struct scratch *scratch)
{
	__u64 *words;
	int i;

	if (!scratch)
		return 0;
	words = (__u64 *)scratch->args;
#pragma unroll
	for (i = 0; i < AW_WIRE_SCAN_MAX / 8; i++)
		words[i] = 0;
	return 0;
}

/* The @len-byte name in scratch->name, reported when a pool domain's. */
static __always_inline void match_name(struct __sk_buff *skb, struct scratch *scratch,
				       __u32 len, __u32 where, __u32 port)
{
	__u32 found = find_pool_suffix(scratch, len);

	forget_name(scratch);

	if (found)
		wire_report(skb, WIRE_RULE_POOL_DOMAIN, where, found - 1, port);
}

/*
 * The labels of the query name in the first @n bytes of scratch->name
 * turned into dots ("\x03www\x07example\x03com\0" into ".www.example.com"):
 * returns where the name ends, or 0 when it is cut off or not a plain
 * name. A global function: the verifier walks its loop once.
 */
__noinline __u32 dotted_name(struct scratch *scratch, __u32 n)
{
	__u32 p = 0, k;
	__u8 label;

	if (!scratch)
		return 0;
	for (k = 0; k < AW_WIRE_DNS_LABELS; k++) {
		if (p >= n || p >= AW_WIRE_NAME_MAX)
			return 0;	/* cut off: no whole name */
		label = scratch->name[p & (AW_WIRE_NAME_MAX - 1)];
		if (!label)
			return p >= 2 ? p : 0;
		/* A compression pointer or worse: not in a question we read. */
		if (label > 63)
			return 0;
		scratch->name[p & (AW_WIRE_NAME_MAX - 1)] = '.';
		p += label + 1;
	}
	return 0;
}

/*
 * The name of the DNS query at @off (its header) of @skb: its labels
 * copied, turned into a dotted name ("\x03www\x07example\x03com\0" into
 * ".www.example.com") and matched. Only standard queries.
 */
__noinline int inspect_dns(struct __sk_buff *skb, __u32 off, __u32 port)
{
	struct scratch *scratch;
	__u32 zero = 0, avail, n, p;
	__u8 header[DNS_HEADER_LEN];

	if (bpf_skb_load_bytes(skb, off, header, sizeof(header)))
		return 0;
	/* QR 0 (a query), opcode 0 (standard), at least one question. */
	if ((header[2] & 0xf8) || !(header[4] | header[5]))
		return 0;
	off += DNS_HEADER_LEN;
	if (skb->len <= off)
		return 0;
	avail = skb->len - off;
	n = avail < AW_WIRE_NAME_MAX - 1 ? avail : AW_WIRE_NAME_MAX - 1;
	scratch = bpf_map_lookup_elem(&wire_scratch, &zero);
	if (!scratch)
		return 0;
	/* The compiler knows n's bound and would drop the mask the verifier needs. */
	asm volatile("" : "+r"(n));
	n &= AW_WIRE_NAME_MAX - 1;
	if (!n || bpf_skb_load_bytes(skb, off, scratch->name, n)) {
		forget_name(scratch);
		return 0;
	}
	p = dotted_name(scratch, n);
	if (!p) {
		forget_name(scratch);
		return 0;
	}
	match_name(skb, scratch, p, WIRE_IN_DNS, port);
	return 0;
}

static __always_inline int load_u16(struct __sk_buff *skb, __u32 off, __u32 *value)
{
	__u8 bytes[2];

	if (bpf_skb_load_bytes(skb, off, bytes, sizeof(bytes)))
		return -1;
	*value = (__u32)bytes[0] << 8 | bytes[1];
	return 0;
}

/*
 * The server name of the TLS ClientHello at @off of @skb: its fixed
 * fields skipped, its extensions walked (at most AW_WIRE_TLS_EXTENSIONS)
 * to server_name, whose first name is copied and matched.
 */
__noinline int inspect_tls(struct __sk_buff *skb, __u32 off, __u32 port)
{
	struct scratch *scratch;
	__u32 zero = 0, length, end, type, k;
	__u8 bytes[4];

	off += TLS_SESSION_ID_OFFSET;
	if (bpf_skb_load_bytes(skb, off, bytes, 1))
		return 0;
	off += 1 + bytes[0];
	if (load_u16(skb, off, &length))	/* cipher suites */
		return 0;
	off += 2 + length;
	if (bpf_skb_load_bytes(skb, off, bytes, 1))	/* compression methods */
		return 0;
	off += 1 + bytes[0];
	if (load_u16(skb, off, &length))	/* extensions */
		return 0;
	off += 2;
	end = off + length;
	for (k = 0; k < AW_WIRE_TLS_EXTENSIONS; k++) {
		if (off + 4 > end || bpf_skb_load_bytes(skb, off, bytes, 4))
			return 0;
		type = (__u32)bytes[0] << 8 | bytes[1];
		length = (__u32)bytes[2] << 8 | bytes[3];
		if (type == TLS_EXT_SERVER_NAME)
			break;
		off += 4 + length;
	}
	if (k == AW_WIRE_TLS_EXTENSIONS)
		return 0;
	/* List length (2), name type (1, 0: host name), name length (2), name. */
	if (bpf_skb_load_bytes(skb, off + 4, bytes, 3) || bytes[2] != 0 ||
	    load_u16(skb, off + 7, &length))
		return 0;
	if (!length || length >= AW_WIRE_NAME_MAX)
		return 0;
	scratch = bpf_map_lookup_elem(&wire_scratch, &zero);
	if (!scratch)
		return 0;
	asm volatile("" : "+r"(length));
	length &= AW_WIRE_NAME_MAX - 1;
	if (!length || bpf_skb_load_bytes(skb, off + 9, scratch->name, length)) {
		forget_name(scratch);
		return 0;
	}
	match_name(skb, scratch, length, WIRE_IN_TLS, port);
	return 0;
}

/* The first @len bytes of a connection (at @off): searched for the stratum markers. */
__noinline int inspect_stratum(struct __sk_buff *skb, __u32 off, __u32 len, __u32 port)
{
	struct scratch *scratch;
	__u32 zero = 0, found;

	scratch = bpf_map_lookup_elem(&wire_scratch, &zero);
	if (!scratch)
		return 0;
	if (len > AW_WIRE_SCAN_MAX)
		len = AW_WIRE_SCAN_MAX;
	asm volatile("" : "+r"(len));
	len &= 2 * AW_WIRE_SCAN_MAX - 1;
	if (!len || bpf_skb_load_bytes(skb, off, scratch->args, len)) {
		forget_bytes(scratch);
		return 0;
	}
	found = wire_search(scratch, len);
	forget_bytes(scratch);
	if (found & targ_stratum_methods)
		wire_report(skb, WIRE_RULE_STRATUM, WIRE_IN_TCP, found, port);
	return 0;
}

/* The first data segment of a TCP connection to @port, its data at @off. */
__noinline int inspect_first_segment(struct __sk_buff *skb, __u32 off, __u32 port)
{
	__u8 head[6];

	if (skb->len <= off)
		return 0;
	if (port == DNS_PORT)
		/* DNS over TCP: a two-byte length, then the message. */
		return inspect_dns(skb, off + 2, port);
	if (bpf_skb_load_bytes(skb, off, head, sizeof(head)))
		return 0;
	if (head[0] == TLS_HANDSHAKE && head[1] == 3 && head[5] == TLS_CLIENT_HELLO)
		return inspect_tls(skb, off, port);
	return inspect_stratum(skb, off, skb->len - off, port);
}

/*
 * Every egress packet: the transport protocol and header from the IP
 * header (read in place; a packet whose headers are not in the linear
 * part is left alone), then only a TCP socket's first data segment and
 * UDP datagrams to port 53 go further.
 */
static __always_inline void wire_inspect(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data, *data_end = (__u8 *)(long)skb->data_end;
	struct bpf_sock *sk = skb->sk;
	struct sk_buff *kernel_skb;
	struct sock *kernel_sk;
	struct tcp_sock *tcp;
	__u32 protocol, l4, segs, off;
	__u8 *header;

	if (!*(volatile __u32 *)&wire_enabled || !sk)
		return;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (data + 20 > data_end)
			return;
		protocol = data[9];
		l4 = (data[0] & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (data + IPV6_HEADER_LEN > data_end)
			return;
		protocol = data[6];
		l4 = IPV6_HEADER_LEN;
	} else {
		return;
	}
	if (protocol == IPPROTO_TCP) {
		/* SYNs, ACKs and FINs without data (most packets of most connections): no helper. */
		header = data + l4;
		if (header + 20 > data_end)
			return;
		off = l4 + (header[12] >> 4) * 4;
		if (skb->len <= off)
			return;
		/*
		 * The socket read through BTF (loads the verifier checks, no
		 * helper call): only a TCP stream socket's segments; a raw
		 * socket sending TCP headers has its own type. The segment's
		 * data is already counted in data_segs_out when the IP layer
		 * runs this: the first data segment (or a first burst of one
		 * GSO packet) is the one with no data sent before it.
		 */
		kernel_skb = bpf_cast_to_kern_ctx(skb);
		kernel_sk = kernel_skb->sk;
		if (!kernel_sk || kernel_sk->sk_protocol != IPPROTO_TCP ||
		    kernel_sk->sk_type != SOCK_STREAM ||
		    kernel_sk->__sk_common.skc_state == TCP_TIME_WAIT ||
		    kernel_sk->__sk_common.skc_state == TCP_NEW_SYN_RECV)
			return;
		tcp = bpf_rdonly_cast(kernel_sk, bpf_core_type_id_kernel(struct tcp_sock));
		segs = skb->gso_segs ? skb->gso_segs : 1;
		if (tcp->data_segs_out > segs)
			return;
		inspect_first_segment(skb, off, (__u32)header[2] << 8 | header[3]);
		return;
	}
	if (protocol != IPPROTO_UDP)
		return;
	header = data + l4;
	if (header + 8 > data_end)
		return;
	if (header[2] != 0 || header[3] != DNS_PORT)
		return;
	inspect_dns(skb, l4 + 8, DNS_PORT);
}

#endif
