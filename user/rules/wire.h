/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mining on the wire (wire_events.h): the built-in data the egress probe
 * searches with, and what its events mean for the software rules. Rules
 * `stratum` (a stratum method in the first bytes of a TCP connection) and
 * `pool_domain` (a mining-pool domain in a DNS query or a TLS server
 * name), both counted only for policies with builtin:miners. Pure logic:
 * no I/O but parsing the compiled-in data of data/network/.
 */
#ifndef ABUSEWATCH_WIRE_H
#define ABUSEWATCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "software.h"
#include "software_events.h"
#include "wire_events.h"

#define WIRE_METHOD_MAX 32

/* A line of stratum_markers.txt. */
struct wire_marker {
	char text[AW_ARGV_MARKER_LEN];	/* unescaped; may hold NULs */
	size_t len;
	char method[WIRE_METHOD_MAX];	/* what the alert names, e.g. "mining.subscribe" */
	bool with;			/* confirms @method, names nothing alone */
};

/*
 * Parses stratum markers (the format of data/network/stratum_markers.txt)
 * from the @length bytes of @text into @out (at most @max, which should be
 * AW_ARGV_MARKERS_MAX): malformed lines are logged and skipped. Returns how
 * many.
 */
size_t wire_parse_markers(const char *text, size_t length, struct wire_marker *out, size_t max);

/*
 * Parses pool domains (the format of data/network/pool_domains.txt) into
 * *@domains (lowercase strings, one allocation: free(*@domains) frees
 * all) and *@count; malformed lines and repeats are logged and skipped.
 * 0 or -ENOMEM.
 */
int wire_parse_domains(const char *text, size_t length, char ***domains, size_t *count);

/* Whether @name is a valid pool-domain line (see pool_domains.txt). */
bool wire_valid_domain(const char *name, size_t length);

/* The built-in markers and domains, parsed once from the compiled-in data; thread-safe. */
const struct wire_marker *wire_stratum_markers(size_t *count);
const char *const *wire_pool_domains(size_t *count);

/*
 * The egress probe's filter of @count @markers (struct argv_filter,
 * software_events.h; bit i for markers[i]) in @filter, and in *@methods
 * the bits of those that name a method. 0 or software_argv_filter()'s
 * -errno.
 */
int wire_stratum_filter(const struct wire_marker *markers, size_t count,
			struct argv_filter *filter, __u32 *methods);

/*
 * @hash (of the labels after it) with the @length-byte label at @label fed
 * in, as the probe hashes a name (aw_suffix_hash_*, wire_events.h).
 */
__u64 wire_label_hash(__u64 hash, const char *label, size_t length);

/* The key of pool-domain suffix @suffix in the probe's map (wire_events.h). */
void wire_suffix_key(const char *suffix, struct pool_suffix_key *key);

/*
 * The probe's bitmap of the @count @suffixes (AW_POOL_SUFFIX_BITS bits,
 * wire_events.h) in @bits: each suffix's bit and its last two labels'.
 */
void wire_suffix_bits(const char *const *suffixes, size_t count,
		      __u64 bits[AW_POOL_SUFFIX_BITS / 64]);

/*
 * The probe's DNS tail bitmap of the @count @suffixes (AW_DNS_TAIL_BITS
 * bits, wire_events.h) in @bits: the bit of each one's last
 * AW_DNS_TAIL_LEN bytes in wire form. True when one is shorter than that
 * (the probe must then hash every name).
 */
bool wire_dns_tail_bits(const char *const *suffixes, size_t count,
			__u64 bits[AW_DNS_TAIL_BITS / 64]);

/*
 * What @event says with the built-in data in @markers and @domains: the
 * software rule and a reason naming the method or the pool domain and
 * where it was seen ("stratum mining.subscribe sent to port 3333", "mining
 * pool domain supportxmr.com in a DNS query"), never what was sent. False
 * when it says nothing a rule counts: a method without the marker it needs
 * beside it, an index or a rule out of range.
 */
bool wire_verdict_with(const struct wire_event *event, const struct wire_marker *markers,
		       size_t marker_count, const char *const *domains, size_t domain_count,
		       enum software_rule *rule, char *reason, size_t size);

/* The same with the built-in data. */
bool wire_verdict(const struct wire_event *event, enum software_rule *rule, char *reason,
		  size_t size);

#endif
