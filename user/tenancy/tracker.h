/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Keeps the cgroups the kernel reports in step with their tenants: each
 * cgroup created (or found at start) is matched to its tenant, watched by
 * the collector and, when a rule matched it itself, by the memory watcher;
 * each cgroup removed is retired once its final counts are in. Per-cgroup
 * deltas from the collector are summed into their tenants here.
 */
#ifndef ABUSEWATCH_TRACKER_H
#define ABUSEWATCH_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "cgroups.h"
#include "collect.h"
#include "memory.h"
#include "probes.h"
#include "restart_state.h"
#include "tenants.h"

struct cgroup_tracker;

/* Borrows @tree and @memory. NULL when out of memory. */
struct cgroup_tracker *cgroup_tracker_new(struct cgroup_tree *tree,
					  struct memory_watcher *memory);
void cgroup_tracker_free(struct cgroup_tracker *tracker);

/* The probes and their collector, once loaded (events are drained only after). */
void cgroup_tracker_attach(struct cgroup_tracker *tracker, struct probes *probes,
			   struct collector *collector);

/*
 * Matches every existing cgroup against @tenants (at start, and after a
 * reload made a new set). @seed: charge the tasks already in them (start).
 * 0 or -errno from the scan.
 */
int cgroup_tracker_scan(struct cgroup_tracker *tracker, struct tenant_set *tenants, bool seed);

/* A cgroup created, renamed or removed (probes_load's cgroup events). */
void cgroup_tracker_event(struct cgroup_tracker *tracker, const struct cgroup_event *event);

/*
 * The tenant of cgroup @id, also of one seen in the kernel's counts or
 * events before its mkdir event arrived (start-up race, or a lost event).
 * NULL when it is none's or gone.
 */
struct tenant *cgroup_tracker_tenant_of(struct cgroup_tracker *tracker, uint64_t id);

/*
 * One collection of the probes' counters into the tenants; first, when
 * cgroup events were lost, the tree is scanned again. 0 or -errno.
 */
int cgroup_tracker_collect(struct cgroup_tracker *tracker);

/*
 * At start, the probes' maps taken up from the last agent, before the
 * scan of @tenants' cgroups: its tenants' totals and its cgroups'
 * counters (restart_state.h).
 * @now: monotonic; @downtime_s: since @state was written. Returns how many
 * tenants were taken up.
 */
size_t cgroup_tracker_restore(struct cgroup_tracker *tracker, struct tenant_set *tenants,
			      const struct restart_state *state, double now, double downtime_s);
/*
 * After the scan: the state's cgroups that are gone were removed while no
 * agent ran; their final counts go to their tenants at the next collection.
 * Returns how many.
 */
size_t cgroup_tracker_restore_removed(struct cgroup_tracker *tracker,
				      const struct restart_state *state, double now);
/* Changes whenever a cgroup comes, goes or changes tenant: a restart state written before is behind. */
uint64_t cgroup_tracker_changes(const struct cgroup_tracker *tracker);
/*
 * Adds every tenant and cgroup to @state; its strings are borrowed from the
 * tracker until the next event or collection. 0 or -ENOMEM.
 */
int cgroup_tracker_save(struct cgroup_tracker *tracker, struct restart_state *state, double now);

#endif
