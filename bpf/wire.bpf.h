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
 * The bytes looked at are copied into per-CPU scratch, searched there and
 * zeroed (as many words as were copied); an event says only which marker
 * bits or which pool-domain suffix matched (struct wire_event). Names are
 * matched a label at a time from their end, eight bytes a load
 * (wire_events.h): a DNS query's in wire form, its labels walked by their
 * length bytes, first tried by its last eight bytes in a bitmap (nearly
 * every name stops there; a UDP query's are read in place, without a copy,
 * dns_needs_inspection()), then its last two labels' hash in another, and
 * only then each suffix at a label boundary (at most
 * AW_POOL_SUFFIX_LABELS) in pool_suffixes, which userspace fills from
 * data/network/pool_domains.txt; a TLS server name is split at its dots
 * from its end and takes the two last steps.
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
/* The bits of their last bytes in wire form (aw_dns_tail_bit()); set: one is shorter. */
const volatile __u64 targ_dns_tail_bits[AW_DNS_TAIL_BITS / 64] = {};
const volatile bool targ_dns_tail_short = false;

/*
 * Whether any software policy has builtin:miners (written by userspace at
 * run time, probes_set_wire_interest()): without, nothing is inspected.
 */
__u32 wire_enabled;

struct scratch {
	/*
	 * The bytes copied from a packet: a connection's first bytes, as the
	 * marker search wants them (markers.bpf.h), a DNS query's header and
	 * name (in wire form), or a TLS server name.
	 */
	char args[AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN];
};

/*
 * Offsets into scratch->args are masked with this for the verifier: a word
 * loaded at any of them stays in args, and a DNS header and name fit.
 */
#define SCRATCH_MASK (AW_WIRE_SCAN_MAX - 1)
_Static_assert(AW_WIRE_SCAN_MAX + 8 <= AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN,
	       "a word at any masked offset stays in scratch->args");
_Static_assert(DNS_HEADER_LEN + AW_WIRE_NAME_MAX <= AW_WIRE_SCAN_MAX,
	       "a DNS header and name fit under SCRATCH_MASK");

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

/* The last labels of a name in scratch->args, the last first: where each begins, how long. */
struct name_labels {
	__u32 start[AW_POOL_SUFFIX_LABELS];
	__u32 len[AW_POOL_SUFFIX_LABELS];
	__u32 count;
};

/* @hash with the @len-byte label at @start of scratch->args fed in (wire_events.h). */
static __always_inline __u64 hash_label(struct scratch *scratch, __u32 start, __u32 len,
					__u64 hash)
{
	__u64 word;
	__u32 at;

	/* Eight bytes a load; those past the label are masked off, wherever it ends. */
	if (len < AW_SUFFIX_SHORT_LABEL) {
		word = *(__u64 *)(scratch->args + (start & SCRATCH_MASK));
		return aw_suffix_hash_short(hash, aw_le64(word), len);
	}
	hash = aw_suffix_hash_len(hash, len);
	for (at = 0; at < len && at < 64; at += 8) {
		word = *(__u64 *)(scratch->args + ((start + at) & SCRATCH_MASK));
		hash = aw_suffix_hash_word(hash, aw_le64(word), len - at);
	}
	return hash;
}

/*
 * The index (+ 1) of the pool-domain suffix that ends the name whose last
 * labels are @labels, or 0: the suffixes at its label boundaries hashed
 * from its end, a label at a time, each of two labels or more tried in the
 * bitmap and only then in the map. The bitmap has every listed domain's
 * last two labels (wire_events.h): when those of the name are not there,
 * nothing longer can match, and the search stops after two labels (most
 * names).
 */
static __always_inline __u32 find_suffix(struct scratch *scratch,
					 const struct name_labels *labels)
{
	__u64 hash = AW_SUFFIX_HASH_START;
	__u32 i, len = 0, found;

#pragma unroll
	for (i = 0; i < AW_POOL_SUFFIX_LABELS; i++) {
		if (i >= labels->count)
			return 0;
		len += labels->len[i] + (i ? 1 : 0);
		if (len > AW_POOL_SUFFIX_MAX)
			return 0;
		hash = hash_label(scratch, labels->start[i], labels->len[i], hash);
		if (!i)
			continue;	/* one label: no listed domain */
		if (!may_be_suffix(hash, len)) {
			if (i == 1)
				return 0;
			continue;
		}
		found = lookup_suffix(hash, len);
		if (found)
			return found;
	}
	return 0;
}

/*
 * The suffix (index + 1, or 0) that ends the name of the DNS query whose
 * header and name are the first @n bytes of scratch->args: its labels
 * walked by their length bytes to the name's end (0 when it is cut off or
 * not a plain name), the last four kept and looked up. find_dns_suffix()
 * comes here only for a name whose last bytes may be a listed domain's. A
 * global function: the verifier walks its loop once.
 */
__noinline __u32 find_dns_suffix_labels(struct scratch *scratch, __u32 n)
{
	struct name_labels labels = {};
	__u32 p = DNS_HEADER_LEN, k, at0 = 0, at1 = 0, at2 = 0, at3 = 0;
	__u8 len;

	if (!scratch)
		return 0;
	for (k = 0; k < AW_WIRE_DNS_LABELS; k++) {
		if (p >= n)
			return 0;	/* cut off: no whole name */
		len = scratch->args[p & SCRATCH_MASK];
		if (!len)
			break;
		/* A compression pointer or worse: not in a question we read. */
		if (len > 63)
			return 0;
		/* The length bytes of the last four labels. */
		at3 = at2;
		at2 = at1;
		at1 = at0;
		at0 = p;
		p += len + 1;
	}
	if (k == AW_WIRE_DNS_LABELS)
		return 0;
	labels.count = k < AW_POOL_SUFFIX_LABELS ? k : AW_POOL_SUFFIX_LABELS;
	labels.start[0] = at0 + 1;
	labels.start[1] = at1 + 1;
	labels.start[2] = at2 + 1;
	labels.start[3] = at3 + 1;
	labels.len[0] = (__u8)scratch->args[at0 & SCRATCH_MASK];
	labels.len[1] = (__u8)scratch->args[at1 & SCRATCH_MASK];
	labels.len[2] = (__u8)scratch->args[at2 & SCRATCH_MASK];
	labels.len[3] = (__u8)scratch->args[at3 & SCRATCH_MASK];
	return find_suffix(scratch, &labels);
}

/*
 * The same, the way most names take: the labels walked to the name's end
 * only, then its last eight bytes tried in the tail bitmap
 * (wire_events.h); when their bit is clear, as for nearly every name, no
 * listed domain ends the name, and that is all.
 */
static __always_inline __u32 find_dns_suffix(struct scratch *scratch, __u32 n)
{
	__u32 p = DNS_HEADER_LEN, k, bit;
	__u64 word;
	__u8 len;

	for (k = 0; k < AW_WIRE_DNS_LABELS; k++) {
		if (p >= n)
			return 0;	/* cut off: no whole name */
		len = scratch->args[p & SCRATCH_MASK];
		if (!len)
			break;
		/* A compression pointer or worse: not in a question we read. */
		if (len > 63)
			return 0;
		p += len + 1;
	}
	/* One label (no listed domain has one) or too many. */
	if (k < 2 || k == AW_WIRE_DNS_LABELS)
		return 0;
	if (p >= DNS_HEADER_LEN + AW_DNS_TAIL_LEN && !targ_dns_tail_short) {
		word = *(__u64 *)(scratch->args + ((p - AW_DNS_TAIL_LEN) & SCRATCH_MASK));
		bit = aw_dns_tail_bit(aw_le64(word));
		if (!(targ_dns_tail_bits[(bit >> 6) & (AW_DNS_TAIL_BITS / 64 - 1)] >> (bit & 63) & 1))
			return 0;
	}
	return find_dns_suffix_labels(scratch, n);
}

/*
 * Where the label that ends at @end of scratch->args begins: one past the
 * dot before it, 0 at the name's start, or past @end when it is longer
 * than any suffix. A global function: the verifier walks its loop once.
 */
__noinline __u32 label_start(struct scratch *scratch, __u32 end)
{
	__u32 n;

	if (!scratch || end > AW_WIRE_NAME_MAX)
		return AW_WIRE_NAME_MAX + 1;
	for (n = 0; n < AW_POOL_SUFFIX_MAX + 1 && n < end; n++)
		if (scratch->args[(end - 1 - n) & SCRATCH_MASK] == '.')
			return end - n;
	return n == end ? 0 : AW_WIRE_NAME_MAX + 1;
}

/*
 * The suffix (index + 1, or 0) that ends the @len-byte server name at the
 * start of scratch->args: its last labels found between its dots, from its
 * end (a fully qualified name's last dot dropped), a byte at a time (once
 * per TLS connection).
 */
__noinline __u32 find_sni_suffix(struct scratch *scratch, __u32 len)
{
	struct name_labels labels = {};
	__u32 i, start, end;

	if (!scratch || !len || len >= AW_WIRE_NAME_MAX)
		return 0;
	if (scratch->args[(len - 1) & SCRATCH_MASK] == '.')
		len--;
	end = len;
#pragma unroll
	for (i = 0; i < AW_POOL_SUFFIX_LABELS; i++) {
		start = label_start(scratch, end);
		if (start > end)
			break;
		labels.start[i] = start;
		labels.len[i] = end - start;
		labels.count = i + 1;
		if (!start)
			break;
		end = start - 1;
	}
	return find_suffix(scratch, &labels);
}

/*
 * What was copied into the scratch is searched, then forgotten: no byte of
 * payload stays in a map (which root could read, pinned or not) after the
 * packet is through. Only the @len bytes copied (rounded up to words): the
 * rest of scratch->args is zero already, as every copy is forgotten so.
 */
static __always_inline void forget_words(struct scratch *scratch, __u32 len)
{
	__u64 *words = (__u64 *)scratch->args;
	__u32 i;

	/* Word stores, as written (volatile: not turned into a memset() call). */
	for (i = 0; i < AW_WIRE_SCAN_MAX / 8 && i * 8 < len; i++)
		((volatile __u64 *)words)[i] = 0;
}

/* The same, a global function (verified once) for the connections' first bytes and names. */
__noinline int forget_copied(struct scratch *scratch, __u32 len)
{
	if (scratch)
		forget_words(scratch, len);
	return 0;
}

/*
 * The query name of the DNS message at @off (its header) of @skb: header
 * and name copied at once, the name matched in its wire form ("\x03www
 * \x07example\x03com\0"), then forgotten. Only standard queries.
 */
__noinline int inspect_dns(struct __sk_buff *skb, __u32 off, __u32 port)
{
	struct scratch *scratch;
	__u32 zero = 0, n, found = 0;
	__u8 *header;

	if (skb->len <= off + DNS_HEADER_LEN)
		return 0;
	n = skb->len - off;
	if (n > DNS_HEADER_LEN + AW_WIRE_NAME_MAX - 1)
		n = DNS_HEADER_LEN + AW_WIRE_NAME_MAX - 1;
	scratch = bpf_map_lookup_elem(&wire_scratch, &zero);
	if (!scratch)
		return 0;
	/* The compiler knows n's bound and would drop the mask the verifier needs. */
	asm volatile("" : "+r"(n));
	n &= SCRATCH_MASK;
	if (!n)
		return 0;
	if (!bpf_skb_load_bytes(skb, off, scratch->args, n)) {
		header = (__u8 *)scratch->args;
		/* QR 0 (a query), opcode 0 (standard), at least one question. */
		if (!(header[2] & 0xf8) && (header[4] | header[5]))
			found = find_dns_suffix(scratch, n);
	}
	forget_words(scratch, n);
	if (found)
		wire_report(skb, WIRE_RULE_POOL_DOMAIN, WIRE_IN_DNS, found - 1, port);
	return 0;
}

/*
 * Whether the DNS message at @dns (its header, in the linear part of the
 * packet, which ends at @data_end) needs inspect_dns(): the same walk and
 * tail bitmap as find_dns_suffix(), read in place, which rules out nearly
 * every query without a helper call, a copy or a scratch to zero. Anything
 * it cannot read there (a packet not linear, a name past the linear part)
 * goes to inspect_dns(), which copies and decides.
 */
static __always_inline bool dns_needs_inspection(__u8 *dns, __u8 *data_end)
{
	__u32 p = DNS_HEADER_LEN, k, bit;
	__u64 word;
	__u8 *at, len;

	if (dns + DNS_HEADER_LEN > data_end)
		return true;
	/* QR 0 (a query), opcode 0 (standard), at least one question. */
	if ((dns[2] & 0xf8) || !(dns[4] | dns[5]))
		return false;
	for (k = 0; k < AW_WIRE_DNS_LABELS; k++) {
		/* Past what inspect_dns() copies: cut off there, no whole name. */
		if (p >= DNS_HEADER_LEN + AW_WIRE_NAME_MAX - 1)
			return false;
		at = dns + (p & SCRATCH_MASK);
		if (at + 1 > data_end)
			return true;
		len = *at;
		if (!len)
			break;
		if (len > 63)
			return false;
		p += len + 1;
	}
	if (k < 2 || k == AW_WIRE_DNS_LABELS)
		return false;
	if (p < DNS_HEADER_LEN + AW_DNS_TAIL_LEN || targ_dns_tail_short)
		return true;
	at = dns + ((p - AW_DNS_TAIL_LEN) & SCRATCH_MASK);
	if (at + AW_DNS_TAIL_LEN > data_end)
		return true;
	word = *(__u64 *)at;
	bit = aw_dns_tail_bit(aw_le64(word));
	return targ_dns_tail_bits[(bit >> 6) & (AW_DNS_TAIL_BITS / 64 - 1)] >> (bit & 63) & 1;
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
	__u32 zero = 0, length, end, type, k, found;
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
	if (!length)
		return 0;
	if (bpf_skb_load_bytes(skb, off + 9, scratch->args, length)) {
		forget_copied(scratch, length);
		return 0;
	}
	found = find_sni_suffix(scratch, length);
	forget_copied(scratch, length);
	if (found)
		wire_report(skb, WIRE_RULE_POOL_DOMAIN, WIRE_IN_TLS, found - 1, port);
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
	if (!len)
		return 0;
	if (bpf_skb_load_bytes(skb, off, scratch->args, len)) {
		forget_copied(scratch, len);
		return 0;
	}
	found = wire_search(scratch, len);
	forget_copied(scratch, len);
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
	if (dns_needs_inspection(header + 8, data_end))
		inspect_dns(skb, l4 + 8, DNS_PORT);
}

#endif
