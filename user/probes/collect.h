/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turns the probes' cumulative per-cgroup counters into per-cgroup deltas
 * each interval. A counter never goes backwards here: a value read lower
 * than the last one (a batch that moved from a CPU slot to the maps while
 * they were read, so that the read missed it) counts as no change until it
 * catches up.
 */
#ifndef ABUSEWATCH_COLLECT_H
#define ABUSEWATCH_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "probes.h"

/*
 * Cumulative (or delta) counters of a cgroup or tenant. All uint64_t, also
 * reachable as field[] so that deltas and sums are one loop each.
 */
struct usage_sample {
	union {
		struct {
			uint64_t cpu_ns;
			uint64_t disk_read_bytes;
			uint64_t disk_write_bytes;
			uint64_t forks;
			uint64_t execs;
			uint64_t rx_bytes;
			uint64_t tx_bytes;
			uint64_t rx_packets;
			uint64_t tx_packets;
			uint64_t connects;
		};
		uint64_t field[10];
	};
};

#define USAGE_SAMPLE_FIELDS (sizeof(((struct usage_sample *)0)->field) / sizeof(uint64_t))
_Static_assert(sizeof(struct usage_sample) == USAGE_SAMPLE_FIELDS * sizeof(uint64_t),
	       "struct usage_sample holds uint64_t counters only, all in field[]");

struct collector;

struct collector *collector_new(struct probes *probes);
void collector_free(struct collector *collector);

/* Cgroup @id exists: adds @seeded_tasks (already there at start) to its live tasks. */
int collector_watch(struct collector *collector, uint64_t id, int64_t seeded_tasks);

/* Cgroup @id was removed: report its final counts at the next tick, then forget it. */
void collector_retire(struct collector *collector, uint64_t id);

/*
 * Called per cgroup whose counters or live tasks changed (idle ones are not
 * called): @delta of each counter and @tasks_delta of its live tasks since
 * the last report; @final when the cgroup is reported for the last time
 * (its tasks then leave: the delta takes them all back).
 */
typedef void (*collect_fn)(uint64_t id, const struct usage_sample *delta, int64_t tasks_delta,
			   bool final, void *ctx);

/* The next tick reports every cgroup's live tasks whole, as if never reported (a reload). */
void collector_report_again(struct collector *collector);

/*
 * A cgroup as the restart state holds it (restart_state.h): its counters
 * as last reported, the tasks charged at start, whether its final counts
 * went out.
 */
typedef int (*collector_each_fn)(uint64_t id, const struct usage_sample *last,
				 int64_t seeded_tasks, bool finished, void *ctx);
/* Calls @fn for every cgroup kept; stops at and returns its first error. */
int collector_each(const struct collector *collector, collector_each_fn fn, void *ctx);
/*
 * Before the first tick, with the probes' maps of the last agent: cgroup
 * @id was reported up to @last. What it counted since goes out as its next
 * delta. 0 or -ENOMEM.
 */
int collector_restore(struct collector *collector, uint64_t id, const struct usage_sample *last,
		      int64_t seeded_tasks, bool finished);

/*
 * From now on the map entries of a cgroup whose final counts went out stay
 * until collector_persisted(): a restart from a state written before
 * would find them gone and lose what they counted since.
 */
void collector_hold_forgets(struct collector *collector);
/* A restart state now holds every final count so far: their entries may go. */
void collector_persisted(struct collector *collector);
/* Changes when a cgroup is first seen or finishes: a restart state written before is behind. */
uint64_t collector_generation(const struct collector *collector);

int collector_tick(struct collector *collector, collect_fn fn, void *ctx);

#endif
