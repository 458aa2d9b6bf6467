/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Evaluation: each tenant's usage per resource averaged over its plan's
 * window, compared with the plan's limit; the firing/resolved state machine.
 *
 * - Counters (cpu seconds, bytes, packets, connects, forks) arrive
 *   cumulative: the windowed usage is their rate over the window.
 *   Gauges (memory, processes, storage) arrive as current values: the
 *   windowed usage is their time-weighted mean over the window.
 * - A window longer than the tenant's history uses the history it has
 *   (at least two samples); before that there is no usage yet.
 * - Usage strictly above the limit starts `for`; still above once `for`
 *   has passed, the alert fires (for 0: at once). Back at or under the
 *   limit before that, nothing fires. A firing alert resolves when usage
 *   falls strictly under limit * hysteresis, when the resource loses its
 *   limit, or when the tenant is gone.
 * State is kept by tenant name, so a reload that rebuilds tenants, or
 * changes plans, keeps windows and firing alerts.
 *
 * The relative rule (evaluator_set_relative) runs the same machine, with
 * the tenant's plan's window, `for` and hysteresis (the plan defaults
 * 60 s, 30 s, 0.9 when its plan is undefined), on each resource that has a
 * floor. A tenant is active on a resource when it is not gone and its
 * windowed usage is at least floor / factor: one that idle can make nobody
 * look excessive, so it neither counts toward min_tenants nor drags the
 * median to zero. With at least min_tenants active tenants, a tenant's
 * limit is factor x the median of the other active tenants (the mean of
 * the middle two when they are even), and its alert starts when usage is
 * strictly above both that limit and the floor. With fewer, or once the
 * floor is removed, relative alerts resolve.
 */
#ifndef ABUSEWATCH_EVALUATE_H
#define ABUSEWATCH_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* True for memory, processes and storage: values, not counters. */
bool resource_is_gauge(enum resource resource);

struct eval_input {
	const char *tenant;
	const char *plan;		/* name, for the alert */
	const struct plan *limits;	/* NULL: no limits (undefined plan) */
	const char *cgroup;		/* the tenant's cgroup, for the alert */
	bool gone;			/* no cgroups left: whatever fires resolves */
	bool has_value[RESOURCE_COUNT]; /* measured this tick */
	double
	    value[RESOURCE_COUNT]; /* base units: seconds, bytes, packets, connects, tasks, forks */

	/* Filled by evaluator_tick: */
	bool has_usage[RESOURCE_COUNT];
	double usage[RESOURCE_COUNT];	      /* cores, bytes/s, packets/s, ..., bytes, tasks */
	bool firing[RESOURCE_COUNT];	      /* the plan rule */
	bool relative_firing[RESOURCE_COUNT]; /* the relative rule */
};

struct eval_transition {
	const char *tenant;
	const char *plan;
	const char *cgroup;
	enum resource resource;
	const char *rule; /* "plan" or "relative" */
	bool firing;	  /* else resolved */
	double value;	  /* windowed usage (last known, for a tenant gone) */
	double limit;	  /* relative: factor x the median of the others */
	double window_s;
	double since; /* @now of the tick it started firing */
};

typedef void (*eval_transition_fn)(const struct eval_transition *transition, void *ctx);

struct evaluator;

struct evaluator *evaluator_new(void);
void evaluator_free(struct evaluator *evaluator);

/*
 * The relative rule's settings, copied; NULL, no floor at all or a factor
 * not above 0: no relative rule (what fires resolves at the next tick).
 * None until set.
 */
void evaluator_set_relative(struct evaluator *evaluator, const struct relative_config *relative);

/*
 * One evaluation at @now (monotonic seconds) over every live tenant. A
 * tenant known from earlier ticks but missing from @inputs is gone: its
 * firing alerts resolve and its state is dropped. @fn is called for each
 * transition, firing ones after resolved ones.
 */
void evaluator_tick(struct evaluator *evaluator, double now, struct eval_input *inputs,
		    size_t count, eval_transition_fn fn, void *ctx);

/*
 * Firing alerts survive a restart: saved (atomically, JSON) after each tick
 * that changed them, and loaded at start. A loaded alert keeps firing
 * until its tenant's usage resolves it, or resolves if the tenant has not
 * appeared by @grace_s seconds after the load. @now_wall / @now are the
 * wall clock and monotonic clock at load time. 0 or -errno (-ENOENT: none).
 */
int evaluator_save(const struct evaluator *evaluator, const char *path, double now_wall,
		   double now);
int evaluator_load(struct evaluator *evaluator, const char *path, double now_wall, double now,
		   double grace_s);

/* Whether the last tick changed which alerts fire (so a save is due). */
bool evaluator_changed(const struct evaluator *evaluator);

#endif
