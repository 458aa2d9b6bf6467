/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flood control of the software rules' alerts (software.h): which alerts
 * fire, which evidence they suppress, and when they resolve.
 *
 * One alert per tenant, rule and executable while it fires. An alert fires
 * at the first evidence; later evidence with the same key is counted as
 * suppressed. It resolves once @window_s has passed since the last evidence
 * and the processes it was seen in (the last SOFTWARE_TRACKER_PIDS of them,
 * each evidence's process and its helper) have all exited: a running or
 * frozen miner keeps it firing, also when a shorter run of the same
 * executable was seen after it. After that, new evidence is a new alert.
 * No threads; no I/O but pidfds, /proc/PID/stat and the state file below.
 */
#ifndef ABUSEWATCH_SOFTWARE_TRACKER_H
#define ABUSEWATCH_SOFTWARE_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "software.h"

#define SOFTWARE_TRACKER_MAX 4096		/* keys, all tenants */
#define SOFTWARE_TRACKER_MAX_PER_TENANT 64
/* Processes an alert waits for; past that, the one seen longest ago is let go. */
#define SOFTWARE_TRACKER_PIDS 4

struct software_alert_info {
	const char *tenant;
	const char *plan;	/* kept for the resolved record (Alertmanager's labels) */
	const char *cgroup;
	enum software_rule rule;
	const char *exe;	/* "" when unknown */
	const char *comm;
	const char *sha256;	/* NULL when unknown */
	const char *reason;
	const char *action;	/* the policy's, for the state file; NULL: "alert" */
	int pid;		/* the last process seen */
	double since;		/* @now of the first evidence */
	/* @pid is known to be gone (exited, or the pid names another process now): not waited for. */
	bool gone;
	/*
	 * The helper that made the evidence for @pid (attribution.h), waited
	 * for too: 0 when none. The record names @pid.
	 */
	int helper_pid;
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

/*
 * The firing alerts survive a restart (resume.h), in state_dir/
 * firing-software.json: each alert's tenant, plan, cgroup, rule, exe,
 * comm, sha256, reason, action, start (wall time) and the processes it
 * waits for, each a pid and its start time (/proc/PID/stat, clock ticks
 * since boot) with the boot's id, so that a reused pid is not taken for
 * the process. Saved whole (atomically, mode 0600) after a tick in which
 * an alert fired or resolved or its processes changed; loaded at start.
 */

/* Whether an alert fired or resolved, or its processes changed, since the last save that worked. */
bool software_tracker_changed(const struct software_tracker *tracker);

/*
 * Writes every firing alert to @path, its times as wall time (@now_wall),
 * and the bytes written to @size (may be NULL). 0 or -errno.
 */
int software_tracker_save(struct software_tracker *tracker, const char *path, double now_wall,
			  double now, size_t *size);

/*
 * Takes up the alerts @path holds, without a record: each keeps its start,
 * and waits for those of its processes that still run (the same pid, the
 * same start time, the same boot), through a new pidfd. One none of whose
 * processes runs resolves at the first tick once its window has passed
 * since its last evidence (usually the first tick). Evidence with the
 * same key joins it. 0 or -errno (-ENOENT: no file; -EINVAL: not a state
 * file, logged: its alerts are lost, those still true fire again; -EFBIG).
 * Entries that are not valid are skipped and logged.
 */
int software_tracker_load(struct software_tracker *tracker, const char *path, double now_wall,
			  double now);

/* The start of process @pid in clock ticks since boot (/proc/PID/stat); 0 when unreadable. */
unsigned long long software_process_start_ticks(int pid);

uint64_t software_tracker_suppressed(const struct software_tracker *tracker);
size_t software_tracker_count(const struct software_tracker *tracker);

#endif
