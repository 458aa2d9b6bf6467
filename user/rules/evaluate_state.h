/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The evaluator's firing alerts kept across restarts, as JSON in
 * state_dir/firing.json: saved (atomically) after each tick that changed
 * them, loaded at start, so a restart neither repeats nor forgets an alert.
 */
#ifndef ABUSEWATCH_EVALUATE_STATE_H
#define ABUSEWATCH_EVALUATE_STATE_H

#include <stdbool.h>

#include "evaluate.h"

/*
 * Writes every firing alert to @path. @now_wall / @now are the wall and
 * monotonic clocks now: the file holds wall times, which mean something to
 * the next boot. 0 or -errno.
 */
int evaluator_save(const struct evaluator *evaluator, const char *path, double now_wall,
		   double now);

/*
 * firing.json kept in step with the evaluator, tick by tick: saved when
 * the tick changed the firing alerts, and at every tick after a save failed
 * (state_dir full or read-only) until one works. The failure is logged
 * once, and the recovery. {0} to begin with.
 */
struct firing_file {
	bool unsaved;
	bool failing;
};

void firing_file_tick(struct firing_file *file, const struct evaluator *evaluator,
		      const char *path, double now_wall, double now);

/*
 * Fires again what @path holds. A loaded alert keeps firing until its
 * tenant's usage resolves it, or resolves if the tenant has not appeared by
 * @grace_s seconds after the load. 0 or -errno (-ENOENT: no file; -EINVAL:
 * not a state file, its alerts are lost and logged).
 */
int evaluator_load(struct evaluator *evaluator, const char *path, double now_wall, double now,
		   double grace_s);

#endif
