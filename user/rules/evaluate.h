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
 * - Only what is compared has a window, and a usage in the rows: the
 *   resources the tenant's plan limits, and those with a relative floor.
 *   One that comes to be compared (a reload gives the plan a limit) starts
 *   its window then, so its usage is at first that of the history since.
 *   One no longer compared keeps its window one window more: a limit
 *   taken away and given back meanwhile has lost nothing.
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

#include "alert.h"
#include "config.h"
#include "tenant_row.h"

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
 * One evaluation at @now (monotonic seconds) over every live tenant: reads each row's identity and values, writes its usage
 * and firing columns. A tenant known from earlier ticks but missing from
 * @rows is gone: its firing alerts resolve and its state is dropped. Each
 * overuse alert that fires or resolves goes to @fn (rule "plan" or
 * "relative", with its reason), resolved ones before firing ones.
 */
void evaluator_tick(struct evaluator *evaluator, double now, struct tenant_row *rows,
		    size_t count, alert_fn fn, void *ctx);

/*
 * Firing alerts survive a restart (evaluate_state.h keeps them in a file):
 * handed out one by one, and taken back at start.
 */
struct firing_alert {
	const char *tenant;
	const char *plan;
	const char *cgroup;
	enum resource resource;
	const char *rule;	/* "plan" or "relative"; NULL: plan */
	double value;
	double limit;
	double window_s;
	double since;		/* monotonic seconds when it started firing */
};

/* Stops at the first error @fn returns, and returns it. */
typedef int (*firing_alert_fn)(const struct firing_alert *alert, void *ctx);
int evaluator_each_firing(const struct evaluator *evaluator, firing_alert_fn fn, void *ctx);

/*
 * Fires @alert again without waiting for `for`. It keeps firing until its
 * tenant's usage resolves it, or resolves if the tenant has not appeared in
 * a tick by @deadline (monotonic). 1 when it was loaded, 0 when it already
 * fired, -EINVAL (not a resource or rule) or -ENOMEM.
 */
int evaluator_restore_firing(struct evaluator *evaluator, const struct firing_alert *alert,
			     double deadline);

/* Whether the last tick changed which alerts fire (so a save is due). */
bool evaluator_changed(const struct evaluator *evaluator);

#endif
