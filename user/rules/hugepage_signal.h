/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Miner behaviour from huge pages. RandomX miners (XMRig and its kin)
 * raise the host's huge-page pools through sysfs, which no sysctl hook
 * sees, and then hold hundreds of MiB of huge pages, which build jobs do
 * not. So a tenant whose plan's software policy denies builtin:miners and
 * whose cgroups hold huge pages (the hugepages gauge of memory.h, from the
 * hugetlb controller) raises unauthorized_software, rule miner_behavior,
 * as soon as the gauge shows them, and it fires for as long as they are
 * held: it resolves at the first tick that finds none (or no gauge, or
 * another policy), or when the tenant is gone.
 *
 * The evidence is the tenant's, not one process's: the controller counts
 * pages per cgroup, so the alert names no executable or pid, and `kill`
 * or `freeze` are not taken for it (the alert says so). One alert per
 * tenant, on its own: it neither suppresses nor is suppressed by the
 * evidence of the software probes (software_tracker.h).
 */
#ifndef ABUSEWATCH_HUGEPAGE_SIGNAL_H
#define ABUSEWATCH_HUGEPAGE_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "tenant_row.h"

/* Tenants with the alert firing at once, at most; beyond, more are logged, not alerted. */
#define HUGEPAGE_SIGNAL_MAX 4096

/*
 * The action name ("alert", "kill", "freeze") of software policy @policy
 * when it denies builtin:miners; NULL when it does not, or there is no
 * such policy (guard_miners_action()).
 */
typedef const char *(*miners_action_fn)(const char *policy, void *ctx);

struct hugepage_signal;

/* NULL (errno set) on failure. Alerts go to @emit. */
struct hugepage_signal *hugepage_signal_new(alert_fn emit, void *ctx);
void hugepage_signal_free(struct hugepage_signal *signal);

/*
 * One tick over this tick's @rows (tenant_row.h, the hugepages gauge
 * filled): fires for the tenants that hold huge pages under a policy
 * with builtin:miners, resolves those that no longer do. @in_use: some
 * huge page is in use on the host (memory_watcher_hugepages_in_use());
 * when none is and nothing fires, the rows are not looked at.
 */
void hugepage_signal_tick(struct hugepage_signal *signal, const struct tenant_row *rows,
			  size_t count, bool in_use, double now, miners_action_fn policy_action,
			  void *policy_ctx);

/* Tenants it fires for now. */
size_t hugepage_signal_firing(const struct hugepage_signal *signal);

/*
 * Its firing alerts survive a restart, as the evaluator's do
 * (evaluate_state.h), in their own JSON file (state_dir/
 * firing-hugepages.json, resume.h): saved whole (atomically, mode 0600)
 * after a tick that fired or resolved one, loaded at start.
 */

/* Whether an alert fired or resolved since the last save that worked. */
bool hugepage_signal_changed(const struct hugepage_signal *signal);

/* Writes every firing alert to @path, its start as wall time (@now_wall). 0 or -errno. */
int hugepage_signal_save(struct hugepage_signal *signal, const char *path, double now_wall,
			 double now);

/*
 * Takes up the alerts @path holds, without a new record: each keeps its
 * start (the record's since, Alertmanager's startsAt), fires on while its
 * tenant holds huge pages and resolves at the first tick that finds its
 * tenant holding none (or no huge page in use on the host), or, when its
 * tenant has no row by @grace_s seconds after the load, then. 0 or -errno
 * (-ENOENT: no file; -EINVAL: not a state file, logged: its alerts are
 * lost, those still true fire again). Entries that are not valid are
 * skipped and logged.
 */
int hugepage_signal_load(struct hugepage_signal *signal, const char *path, double now_wall,
			 double now, double grace_s);

#endif
