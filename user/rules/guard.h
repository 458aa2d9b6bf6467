/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unauthorized software, end to end: from the software probes' events
 * (software_events.h) through the tenant's policy (software.h) and the
 * executable's sha256 (exehash.h) to the policy's action and one alert per
 * tenant, rule and executable (flood control in software_tracker.h).
 *
 * Miner-behaviour evidence of a helper (modprobe msr, sysctl, a shell
 * around them) belongs to the process that ran it (attribution.h): the
 * alert names that process and fires while it (or the helper) lives, and
 * the action aims at it.
 *
 * Actions: `alert` does nothing more; `kill` sends SIGKILL to the offending
 * process through a pidfd, after checking that the pid still names the
 * process the kernel reported (its start time), at every piece of evidence;
 * `freeze` writes 1 to cgroup.freeze of the tenant's cgroup, and of the
 * offending process's own cgroup when that is elsewhere. What was done is
 * in the alert's action and action_result.
 */
#ifndef ABUSEWATCH_GUARD_H
#define ABUSEWATCH_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "alert.h"
#include "config.h"
#include "software_events.h"
#include "socket_events.h"
#include "wire_events.h"

/* Bounds the execs that wait for their digest; beyond, they are decided without it. */
#define GUARD_PENDING_MAX 512

/* What the agent knows of an event's tenant. Strings are borrowed for the call. */
struct guard_tenant {
	const char *name;
	const char *plan;
	const char *cgroup;		/* the tenant's cgroup, relative to the v2 root */
	const char *event_cgroup;	/* the process's cgroup, relative; NULL if unknown */
	const char *policy;		/* its plan's software policy; NULL: none */
	double window_s;		/* its plan's window: flood control */
	/*
	 * The cgroups (relative) of the event's ancestors (event->ancestors)
	 * that are this tenant's; NULL for one that is another's, none's or
	 * unknown. Miner-behaviour evidence of a helper goes to the ancestor
	 * that ran it (attribution.h), never past one of these NULLs.
	 */
	const char *ancestor_cgroups[AW_ANCESTORS_MAX];
};

struct guard;

/*
 * NULL (errno set) on failure. @v2_root is the cgroup v2 mount point. The
 * alerts firing when the last run stopped are taken up from
 * config->agent.state_dir/firing-software.json (software_tracker_load()),
 * and saved there by guard_tick() when they changed, and by guard_free().
 */
struct guard *guard_new(const char *v2_root, const struct config *config, alert_fn emit,
			void *ctx);
void guard_free(struct guard *guard);

/* Policies of a new configuration. 0, or -ENOMEM (the old ones stay). */
int guard_configure(struct guard *guard, const struct config *config);

/*
 * The execs the exec probe must report for the policies (every policy of
 * the configuration, whichever plans use them): software_matcher_interest()
 * of each, and the policies' generation.
 */
void guard_exec_interest(const struct guard *guard, struct exec_interest *interest);

/*
 * Called when an executable's digest was found on no deny_sha256 of the
 * policies of @generation (while some policy has one): the exec probe
 * need not report it again (software_events.h, judged_exes).
 */
typedef void (*judged_fn)(const struct exe_key *key, uint32_t generation, void *ctx);
void guard_on_judged(struct guard *guard, judged_fn fn, void *ctx);

/* One event of a tenant's process, at @now (monotonic seconds). */
void guard_event(struct guard *guard, const struct software_event *event,
		 const struct guard_tenant *tenant, double now);

/*
 * True once after a digest was learned (learned.h): the judgements of the
 * exec probe are void, guard_exec_interest() has a new generation.
 */
bool guard_take_interest_change(struct guard *guard);

/*
 * A raw or packet socket of a tenant whose policy sets raw_sockets (the
 * kernel already allowed or refused it): an alert with rule raw_socket,
 * one per tenant and executable while it fires, resolved like the others.
 * The policy's `action` (kill, freeze) is not taken: raw_sockets: deny is
 * this rule's action. Nothing when the tenant's policy (after a reload)
 * no longer sets raw_sockets.
 */
void guard_raw_socket(struct guard *guard, const struct raw_socket_event *event,
		      const struct guard_tenant *tenant, double now);

/*
 * One event of the egress probe (wire_events.h) from a tenant's socket, at
 * @now: rules stratum and pool_domain (wire.h) of the tenant's policy. The
 * process is the one the probe named (pid 0: none, so kill has nobody to
 * hit and the alert resolves a window after the last evidence).
 */
void guard_wire_event(struct guard *guard, const struct wire_event *event,
		      const struct guard_tenant *tenant, double now);

/* Readable when digests are ready: then call guard_collect(). */
int guard_notify_fd(const struct guard *guard);
void guard_collect(struct guard *guard, double now);

/*
 * Resolves alerts whose evidence is over (see software_tracker_tick); a
 * tenant that is gone has no processes left, so its alerts resolve too.
 */
void guard_tick(struct guard *guard, double now);

/*
 * The action name ("alert", "kill", "freeze") of software policy @policy
 * when its deny has builtin:miners, else NULL (hugepage_signal.h).
 * @guard is a const struct guard *, as a miners_action_fn's context.
 */
const char *guard_miners_action(const char *policy, void *guard);

/* Evidence not alerted again (flood control), since start. */
uint64_t guard_suppressed(const struct guard *guard);

/* The kernel's leaf-first path (software_events.h) as "/usr/bin/x"; flags gain EXE_TMP. */
void guard_decode_path(const struct software_event *event, char *out, size_t size,
		       unsigned int *flags);

#endif
