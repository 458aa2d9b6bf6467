/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unauthorized-software rules of a software policy (config `software:`):
 * a matcher compiled from the policy that says whether what is known of a
 * tenant's process breaks it, and by which rule. Pure logic: no I/O, no
 * threads. The built-in sets and markers it uses are in software_builtin.h,
 * the flood control of its alerts in software_tracker.h.
 */
#ifndef ABUSEWATCH_SOFTWARE_H
#define ABUSEWATCH_SOFTWARE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "config.h"
#include "software_events.h"

enum software_rule {
	SOFTWARE_RULE_SHA256,		/* deny_sha256 */
	SOFTWARE_RULE_NAME,		/* deny: names and builtin sets */
	SOFTWARE_RULE_PATH,		/* deny_paths globs, "memfd:*" */
	SOFTWARE_RULE_ARGV,		/* command-line markers (with builtin:miners) */
	SOFTWARE_RULE_MINER_BEHAVIOR,	/* MSR writes, huge pages, modprobe msr (with builtin:miners) */
	SOFTWARE_RULE_CONTENT,		/* a YARA rule of the policy matched the executable */
	SOFTWARE_RULE_LEARNED_SHA256,	/* its sha256 was caught before on this node */
	SOFTWARE_RULE_RAW_SOCKET,	/* raw IP or packet socket (raw_sockets; guard.c, not software_match) */
	SOFTWARE_RULE_STRATUM,		/* stratum on the wire (wire.h, with builtin:miners) */
	SOFTWARE_RULE_POOL_DOMAIN,	/* a pool domain in DNS or TLS (wire.h, with builtin:miners) */
	SOFTWARE_RULE_COUNT,
};

/*
 * "sha256", "name", "path", "argv", "miner_behavior", "content",
 * "learned_sha256", "raw_socket", "stratum", "pool_domain": the alert's
 * `rule`.
 */
const char *software_rule_name(enum software_rule rule);

/* A YARA rule that matched the executable, and its source ("builtin:miners" or a file). */
struct content_hit {
	const char *source;
	const char *rule;
};

/* The built-in sets as bits (learned digests are shared by the policies that deny a set). */
#define SOFTWARE_SET_MINERS (1U << 0)
#define SOFTWARE_SET_SCANNERS (1U << 1)
#define SOFTWARE_SET_FLOODERS (1U << 2)
#define SOFTWARE_SET_TUNNELS (1U << 3)

/* The bit of set @name ("miners"), 0 for none. */
unsigned int software_set_bit(const char *name);
/* The name of the set of @bit (one bit), NULL for none. */
const char *software_set_name(unsigned int bit);

/* What is known of one event of a tenant's process. */
struct software_facts {
	enum software_event_type type;
	const char *comm;	/* the task's comm, up to 15 characters */
	const char *exe;	/* absolute path, "memfd:NAME" when file-less; NULL if unknown */
	const char *sha256;	/* 64 lowercase hex digits; NULL if unknown */
	unsigned int flags;	/* enum exe_flag */
	uint32_t argv_markers;	/* bit i: software_markers()[i] found (software_builtin.h) */
	/* The rule that first caught this sha256 on this node, under a set of the policy; or NULL. */
	const char *learned;
	const struct content_hit *content;	/* YARA matches of every source */
	size_t content_count;
	/*
	 * SOFTWARE_EVENT_WIRE: what wire_verdict() (wire.h) made of the
	 * egress probe's event, SOFTWARE_RULE_STRATUM or _POOL_DOMAIN, and
	 * its reason.
	 */
	enum software_rule wire_rule;
	const char *wire_reason;
};

struct software_verdict {
	enum software_rule rule;
	/* Why, naming the list entry that matched; never argv or environment. */
	char reason[192];
};

struct software_matcher;

/* Compiles @policy (copied; builtin sets expanded). NULL on ENOMEM. */
struct software_matcher *software_matcher_new(const struct software_policy *policy);
void software_matcher_free(struct software_matcher *matcher);

/* Whether the policy's decisions depend on the sha256 (deny_sha256 or allow_sha256 set). */
bool software_matcher_needs_sha256(const struct software_matcher *matcher);

/*
 * The built-in sets the policy denies (SOFTWARE_SET_*): digests learned
 * under any of them are denied by it (rule learned_sha256).
 */
unsigned int software_matcher_sets(const struct software_matcher *matcher);

/* Whether the policy has YARA rules (built-in ones of its sets, or rule files). */
bool software_matcher_has_content(const struct software_matcher *matcher);

/* Whether the policy has a deny_sha256 list, and whether @sha256 is on it. */
bool software_matcher_has_deny_sha256(const struct software_matcher *matcher);
bool software_matcher_denies_sha256(const struct software_matcher *matcher, const char *sha256);

/* Whether the policy's deny has builtin:miners (then miner behaviour counts). */
bool software_matcher_denies_miners(const struct software_matcher *matcher);

/*
 * Adds to @interest (software_events.h) the execs the policy could act on
 * besides those with argv markers (searched when it has builtin:miners):
 * every exec when it has deny_paths, executables not judged yet when it
 * has deny_sha256, and those whose comm or executable name could be one
 * of its deny names (their keys' bits).
 * An exec the kernel leaves out can match no rule of the policy:
 * software_match() would say false.
 */
void software_matcher_interest(const struct software_matcher *matcher,
			       struct exec_interest *interest);

/*
 * Whether @facts break the policy. An allowed sha256 wins over every deny.
 * Otherwise rules are tried in this order and the first that matches fills
 * @verdict: sha256 on deny_sha256; comm or executable basename
 * (case-insensitive; comm compared on its 15 characters when it is that
 * long) named in deny; the executable path matching a deny_paths glob
 * (fnmatch, FNM_PATHNAME off: "*" crosses "/"; "memfd:*" for file-less);
 * a YARA rule of the policy's sources (its builtin sets' and its files)
 * among @facts->content (rule content); a marker (non-modprobe) when deny
 * has builtin:miners; miner behaviour
 * (MSR write, huge pages, a modprobe marker with comm or basename modprobe
 * or insmod) when deny has builtin:miners; last, @facts->learned when the
 * policy denies a built-in set (learned_sha256). A SOFTWARE_EVENT_WIRE
 * event is tried against its own rule only (facts->wire_rule), which
 * counts when deny has builtin:miners.
 */
bool software_match(const struct software_matcher *matcher, const struct software_facts *facts,
		    struct software_verdict *verdict);

#endif
