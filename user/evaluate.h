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
	double usage[RESOURCE_COUNT]; /* cores, bytes/s, packets/s, ..., bytes, tasks */
	bool firing[RESOURCE_COUNT];
};

struct eval_transition {
	const char *tenant;
	const char *plan;
	const char *cgroup;
	enum resource resource;
	const char *rule; /* "plan" */
	bool firing;	  /* else resolved */
	double value;	  /* windowed usage (last known, for a tenant gone) */
	double limit;
	double window_s;
	double since; /* @now of the tick it started firing */
};

typedef void (*eval_transition_fn)(const struct eval_transition *transition, void *ctx);

struct evaluator;

struct evaluator *evaluator_new(void);
void evaluator_free(struct evaluator *evaluator);

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
