/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mining on the wire: what bpf/wire.bpf.h (in the cgroup_skb egress program
 * of bpf/net.bpf.c) tells user/rules/wire.c. Only __u types: shared by BPF
 * and user code.
 *
 * The probe looks at three things a tenant's socket sends, and nothing
 * else: the first data segment of each TCP connection (for stratum's
 * opening JSON-RPC methods and for the server name of a TLS ClientHello),
 * UDP datagrams to port 53 and the first segment of TCP connections to
 * port 53 (for the name of a DNS query). It copies a bounded number of
 * bytes into per-CPU scratch, searches them there, and only which marker
 * or which pool-domain suffix matched leaves the kernel: struct
 * wire_event has no field that could carry a byte of payload.
 */
#ifndef ABUSEWATCH_WIRE_EVENTS_H
#define ABUSEWATCH_WIRE_EVENTS_H

/* Bytes of a connection's first segment searched for stratum markers (a multiple of 64). */
#define AW_WIRE_SCAN_MAX 512
/* Bytes of a host name copied (DNS: 255 in wire form; SNI: up to this). */
#define AW_WIRE_NAME_MAX 256
/* TLS extensions walked to find the server name. */
#define AW_WIRE_TLS_EXTENSIONS 32
/* DNS labels walked in a query name. */
#define AW_WIRE_DNS_LABELS 64
/*
 * Pool-domain suffixes: at most this long and with at most this many
 * labels, so that the kernel hashes only the end of a name and looks up
 * a few suffixes of it.
 */
#define AW_POOL_SUFFIX_MAX 64
#define AW_POOL_SUFFIX_LABELS 4
#define AW_POOL_SUFFIXES_MAX 1024
/* An event per cgroup, rule and marker or suffix at most this often. */
#define AW_WIRE_REPEAT_NS 1000000000ULL
/* Of those, remembered for that (all cgroups, LRU). */
#define AW_WIRE_RECENT 4096

enum wire_rule {
	WIRE_RULE_STRATUM = 1,		/* a stratum method in a connection's first bytes */
	WIRE_RULE_POOL_DOMAIN = 2,	/* a pool domain in a DNS query or a TLS server name */
};

enum wire_where {
	WIRE_IN_TCP = 1,		/* the first data a TCP connection sent */
	WIRE_IN_DNS = 2,		/* the name of a DNS query (UDP or TCP, port 53) */
	WIRE_IN_TLS = 3,		/* the server name (SNI) of a TLS ClientHello */
};

struct wire_event {
	__u64 cgroup_id;	/* v2 cgroup of the sending socket */
	/*
	 * The sending process, when the packet left in the context of a task
	 * of that cgroup (as a connection's first data and a DNS query
	 * mostly do): its start (boot-time ns, so that a reused pid is
	 * never acted on), pid and comm. pid 0: sent from elsewhere (softirq,
	 * another cgroup's task), nobody known.
	 */
	__u64 start_ns;
	__u32 pid;
	__u16 rule;		/* enum wire_rule */
	__u16 where;		/* enum wire_where */
	/*
	 * stratum: bit i for marker i of data/network/stratum_markers.txt
	 * found; pool_domain: the index of the suffix matched in
	 * data/network/pool_domains.txt.
	 */
	__u32 found;
	__u16 dst_port;		/* host byte order */
	__u16 unused;
	char comm[16];
};

/* Key of the events sent lately (de-duplication in the kernel). */
struct wire_recent_key {
	__u64 cgroup_id;
	__u32 rule_where;	/* rule << 16 | where */
	__u32 found;
};

/*
 * A pool-domain suffix in the kernel's map: the hash of its text
 * (aw_suffix_hash_*: ASCII letters lowered, fed from its last byte to its
 * first) and its length. The value is the suffix's index.
 */
struct pool_suffix_key {
	__u64 hash;
	__u32 len;
	__u32 unused;
};

/*
 * Before a lookup, a bitmap of AW_POOL_SUFFIX_BITS bits (read-only data of
 * the probe, one bit per suffix) says whether the hash and length could be
 * a suffix's: most names of a DNS query end in labels that are no pool's
 * ("com", "example.com"), and then cost no map lookup.
 */
#define AW_POOL_SUFFIX_BITS 4096

static inline __u32 aw_suffix_bit(__u64 hash, __u32 len)
{
	return (__u32)((hash ^ (__u64)len * 0x9e3779b97f4a7c15ULL) >> 52);
}

#define AW_SUFFIX_HASH_START 0xcbf29ce484222325ULL
#define AW_SUFFIX_HASH_PRIME 0x100000001b3ULL

/* ASCII letters lowered: names match case-insensitively. */
static inline __u8 aw_suffix_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* FNV-1a, one byte more of the suffix (fed from its end). */
static inline __u64 aw_suffix_hash_step(__u64 hash, __u8 c)
{
	return (hash ^ aw_suffix_lower(c)) * AW_SUFFIX_HASH_PRIME;
}

#endif
