/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The unauthorized-software rules of a software policy (config `software:`),
 * the built-in name sets and command-line markers they use, and the flood
 * control of their alerts. Pure logic: no I/O but pidfds, no threads.
 *
 * Built-in data lives in the .txt files of data/software (miners, scanners,
 * flooders, tunnels, argv_markers), compiled in; each file names its public
 * sources.
 */
#ifndef ABUSEWATCH_SOFTWARE_H
#define ABUSEWATCH_SOFTWARE_H

#include <stdbool.h>
#include <stddef.h>
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
	SOFTWARE_RULE_COUNT,
};

/* "sha256", "name", "path", "argv", "miner_behavior": the alert's `rule`. */
const char *software_rule_name(enum software_rule rule);

/*
 * The names of built-in set @set ("miners", "scanners", "flooders",
 * "tunnels"), lowercase, in data file order; NULL (and *count 0) for an
 * unknown set. Parsed once from the compiled-in data; thread-safe.
 */
const char *const *software_builtin_set(const char *set, size_t *count);

struct software_marker {
	const char *text;	/* may hold NUL bytes: see software_events.h */
	size_t len;		/* AW_ARGV_MARKER_MIN .. AW_ARGV_MARKER_LEN - 1 */
	const char *label;	/* printable form for reasons, e.g. "stratum+tcp://", "msr" */
	bool modprobe;		/* counts only when the program is modprobe or insmod */
};

/*
 * The command-line markers, at most AW_ARGV_MARKERS_MAX, in the order of
 * the bits of software_event.argv_markers. Loaded into the kernel as they are.
 */
const struct software_marker *software_markers(size_t *count);
/* The same markers in the exec probe's form (@max slots): returns how many. */
size_t software_argv_markers(struct argv_marker *out, size_t max);

/* What is known of one event of a tenant's process. */
struct software_facts {
	enum software_event_type type;
	const char *comm;	/* the task's comm, up to 15 characters */
	const char *exe;	/* absolute path, "memfd:NAME" when file-less; NULL if unknown */
	const char *sha256;	/* 64 lowercase hex digits; NULL if unknown */
	unsigned int flags;	/* enum exe_flag */
	uint32_t argv_markers;	/* bit i: software_markers()[i] found */
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
 * Whether @facts break the policy. An allowed sha256 wins over every deny.
 * Otherwise rules are tried in enum order and the first that matches fills
 * @verdict: sha256 on deny_sha256; comm or executable basename
 * (case-insensitive; comm compared on its 15 characters when it is that
 * long) named in deny; the executable path matching a deny_paths glob
 * (fnmatch, FNM_PATHNAME off: "*" crosses "/"; "memfd:*" for file-less);
 * a marker (non-modprobe) when deny has builtin:miners; miner behaviour
 * (MSR write, huge pages, a modprobe marker with comm or basename modprobe
 * or insmod) when deny has builtin:miners.
 */
bool software_match(const struct software_matcher *matcher, const struct software_facts *facts,
		    struct software_verdict *verdict);

/*
 * Flood control: one alert per tenant, rule and executable while it fires.
 * An alert fires at the first evidence; later evidence with the same key is
 * counted as suppressed. It resolves once @window_s has passed since the
 * last evidence and the last process it was seen in has exited (a running
 * or frozen miner keeps it firing). After that, new evidence is a new alert.
 */
#define SOFTWARE_TRACKER_MAX 4096		/* keys, all tenants */
#define SOFTWARE_TRACKER_MAX_PER_TENANT 64

struct software_alert_info {
	const char *tenant;
	const char *plan;	/* kept for the resolved record (Alertmanager's labels) */
	const char *cgroup;
	enum software_rule rule;
	const char *exe;	/* "" when unknown */
	const char *comm;
	const char *sha256;	/* NULL when unknown */
	const char *reason;
	int pid;		/* the last process seen */
	double since;		/* @now of the first evidence */
};

struct software_tracker;

struct software_tracker *software_tracker_new(void);
void software_tracker_free(struct software_tracker *tracker);

/*
 * Evidence at @now (monotonic seconds) in process @pid (0: none). Returns
 * 1 when a new alert fires (the caller raises it), 0 when it is suppressed
 * (an alert for the key already fires, or the tracker is full: counted),
 * -ENOMEM. Strings of @info are copied.
 */
int software_tracker_note(struct software_tracker *tracker, const struct software_alert_info *info,
			  double now, double window_s);

typedef void (*software_resolved_fn)(const struct software_alert_info *info, void *ctx);

/* Resolves what no longer holds (see above), calling @fn for each. */
void software_tracker_tick(struct software_tracker *tracker, double now, software_resolved_fn fn,
			   void *ctx);
/* @tenant is gone: its alerts resolve now. */
void software_tracker_forget(struct software_tracker *tracker, const char *tenant,
			     software_resolved_fn fn, void *ctx);

uint64_t software_tracker_suppressed(const struct software_tracker *tracker);
size_t software_tracker_count(const struct software_tracker *tracker);

#endif
