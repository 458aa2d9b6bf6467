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
 * port 53 (for the name of a DNS query). It reads a bounded number of
 * bytes, in place (a UDP query's name, first) or copied into per-CPU
 * scratch, searched there and zeroed, and only which marker or which
 * pool-domain suffix matched leaves the kernel: struct wire_event has no
 * field that could carry a byte of payload.
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
 * (aw_suffix_hash_*, below) and its length. The value is the suffix's
 * index.
 */
struct pool_suffix_key {
	__u64 hash;
	__u32 len;
	__u32 unused;
};

/*
 * Before a lookup, a bitmap of AW_POOL_SUFFIX_BITS bits (read-only data of
 * the probe) says whether the hash and length could be a suffix's: it has
 * the bit of each listed suffix and the bit of each one's last two labels
 * ("pool.hashvault.pro": "hashvault.pro" too). Every listed domain has at
 * least two labels (wire_valid_domain() refuses one), so a name whose last
 * two labels' bit is clear ("example.com") ends in no listed domain: the
 * probe hashes two labels of it and stops, without a lookup.
 */
#define AW_POOL_SUFFIX_BITS 4096

static inline __u32 aw_suffix_bit(__u64 hash, __u32 len)
{
	return (__u32)((hash ^ (__u64)len * 0x9e3779b97f4a7c15ULL) >> 52);
}

/*
 * The hash of a suffix: its labels from the last to the first, each read
 * eight bytes at a time (a little-endian word, zero past the label's end,
 * ASCII letters lowered, so names match in any case) and mixed in by a
 * multiply: a label of fewer than eight bytes as one value, its word with
 * its length in the top byte (aw_suffix_hash_short: "com", "org", most
 * labels), a longer one as its length then its words (aw_suffix_hash_len,
 * aw_suffix_hash_word). Each value says how to read the next (a short
 * label's has a top byte, a length has none), so two different suffixes
 * give different sequences to mix. Per label, not per byte: the probe
 * reads a DNS query's labels in wire form (a length byte, then the bytes)
 * and a server name's between its dots; userspace hashes a listed domain
 * the same way (user/rules/wire.c).
 */
#define AW_SUFFIX_HASH_START 0xcbf29ce484222325ULL
#define AW_SUFFIX_HASH_MUL 0x9e3779b97f4a7c15ULL	/* odd: each mix is a bijection */

static inline __u64 aw_suffix_hash_mix(__u64 hash, __u64 value)
{
	hash = (hash ^ value) * AW_SUFFIX_HASH_MUL;
	/* The high bits, which the multiply filled from all the others, into the low ones. */
	return hash ^ (hash >> 32);
}

/* A little-endian word as loaded on this machine, as a number. */
static inline __u64 aw_le64(__u64 word)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(word);
#else
	return word;
#endif
}

/* The eight bytes of @word with ASCII 'A'-'Z' lowered, all others as they are. */
static inline __u64 aw_lower_word(__u64 word)
{
	__u64 low7 = word & 0x7f7f7f7f7f7f7f7fULL;
	/* Per byte, no carry out of it: the high bit set from 'A' and from past 'Z'. */
	__u64 from_a = low7 + 0x3f3f3f3f3f3f3f3fULL;
	__u64 past_z = low7 + 0x2525252525252525ULL;
	__u64 upper = from_a & ~past_z & ~word & 0x8080808080808080ULL;

	return word | upper >> 2;
}

/* Labels shorter than this are one word, hashed by aw_suffix_hash_short(). */
#define AW_SUFFIX_SHORT_LABEL 8

/* A label of @len < 8 bytes, @word as aw_le64() made it (bytes past @len masked off). */
static inline __u64 aw_suffix_hash_short(__u64 hash, __u64 word, __u32 len)
{
	word &= (1ULL << (len * 8)) - 1;
	return aw_suffix_hash_mix(hash, aw_lower_word(word) | (__u64)len << 56);
}

/* A label of @len >= 8 bytes begins: its words follow. */
static inline __u64 aw_suffix_hash_len(__u64 hash, __u32 len)
{
	return aw_suffix_hash_mix(hash, len);
}

/*
 * A long label's next eight bytes, @word as aw_le64() made it, of which the
 * first @left are the label's (those past it are masked off).
 */
static inline __u64 aw_suffix_hash_word(__u64 hash, __u64 word, __u32 left)
{
	if (left < 8)
		word &= (1ULL << (left * 8)) - 1;
	return aw_suffix_hash_mix(hash, aw_lower_word(word));
}

/*
 * Before even the hash of a DNS query's last labels, a second bitmap of
 * AW_DNS_TAIL_BITS bits says whether the name could end in a listed
 * domain: the bit of its last eight bytes in wire form (length bytes and
 * all, up to its terminating 0, ASCII letters lowered: "\x03btc\x03top",
 * "pool\x03com"), one load and one multiply. A name that ends in a listed
 * domain at a label boundary ends in that domain's wire form, so in its
 * last eight bytes when it has that many; a domain shorter than that
 * (none is listed) sets targ_dns_tail_short, and then every name takes the
 * hash. Names shorter than eight bytes always do.
 */
#define AW_DNS_TAIL_BITS 4096
#define AW_DNS_TAIL_LEN 8

/* @word: the last AW_DNS_TAIL_LEN bytes of a name in wire form, as aw_le64() made them. */
static inline __u32 aw_dns_tail_bit(__u64 word)
{
	return (__u32)((aw_lower_word(word) * AW_SUFFIX_HASH_MUL) >> 52);
}

#endif
