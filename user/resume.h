/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the agent keeps across restarts, in state_dir and bpffs, so that a
 * restart (SIGTERM, kill -9, an upgrade) loses no usage:
 *   - the probes stay pinned and go on counting while no agent runs
 *     (pins.h), in the pin directory named after state_dir;
 *   - state_dir/counters.state, the restart state (restart_state.h) that
 *     goes with them: tenants' totals, each cgroup's counters as added to
 *     its tenant, the agent's own counters;
 *   - state_dir/firing.json, the firing alerts (evaluate_state.h), and
 *     state_dir/firing-hugepages.json, the firing miner_behavior alerts
 *     from huge pages (hugepage_signal.h).
 * A new agent takes the pinned probes up when the restart state is theirs,
 * and goes on from there: its counters include what was counted while no
 * agent ran. Otherwise everything starts from zero, and the log says why.
 * The state is written when cgroups or tenants came or went or the
 * agent's counters changed (paced at about 1 MiB/s), and at stop; the
 * counters themselves need no writes: they are in the maps.
 * state_dir is the one of the start; a reload does not move it.
 */
#ifndef ABUSEWATCH_RESUME_H
#define ABUSEWATCH_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "collect.h"
#include "evaluate.h"
#include "hugepage_signal.h"
#include "probes.h"
#include "tenants.h"
#include "tracker.h"

struct resume;

/*
 * Reads what @state_dir holds (NULL or "": nothing is kept across
 * restarts, nothing pinned). NULL when out of memory.
 */
struct resume *resume_new(const char *state_dir);
void resume_free(struct resume *resume);

/* For probes_options: where to pin (NULL: nowhere) and the restart state's instance (NULL: none).
 */
const char *resume_pin_dir(const struct resume *resume);
const uint8_t *resume_instance(const struct resume *resume);

/*
 * Once the probes are loaded, before the cgroups are scanned: the firing
 * alerts into @evaluator and @hugepages, and when the probes went on counting, the
 * restart state's tenants and cgroups (cgroup_tracker_restore()).
 */
void resume_restore(struct resume *resume, struct probes *probes, struct cgroup_tracker *tracker,
		    struct tenant_set *tenants, struct collector *collector,
		    struct evaluator *evaluator, struct hugepage_signal *hugepages);
/* After the scan: the cgroups removed while no agent ran (cgroup_tracker_restore_removed()). */
void resume_after_scan(struct resume *resume, struct cgroup_tracker *tracker);

/* Adds the agent's counters as they were at the last stop to this run's. */
void resume_add_counters(const struct resume *resume, uint64_t alerts_total[ALERT_KIND_COUNT],
			 uint64_t alerts_suppressed[ALERT_KIND_COUNT]);

/*
 * After a tick: saves the firing alerts if they changed, and the restart
 * state when it is due, or always when @final (the last tick). The
 * counters given are whole (resume_add_counters()).
 */
void resume_tick(struct resume *resume, struct cgroup_tracker *tracker,
		 const struct evaluator *evaluator, struct hugepage_signal *hugepages,
		 const uint64_t alerts_total[ALERT_KIND_COUNT],
		 const uint64_t alerts_suppressed[ALERT_KIND_COUNT], bool final);

/*
 * The network abuse alerts (netabuse.h) in state_dir/firing-network.json:
 * taken up once configured, before the queued connects are read, and kept
 * in step after each tick (@final: the last, also what is only paced).
 */
struct netabuse;
void resume_restore_network(struct resume *resume, struct netabuse *netabuse);
void resume_tick_network(struct resume *resume, struct netabuse *netabuse, bool final);

#endif
