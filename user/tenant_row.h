/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tick as data: each interval the agent builds one array of tenant
 * rows, in name order, and each stage fills its own columns:
 *
 *   tenants.c   identity, plan, totals of the counters, live tasks
 *   memory.c    the memory and hugepages gauges
 *   storage.c   the storage gauge
 *   evaluate.c  windowed usage and firing state
 *
 * metrics.c only reads the rows. Strings point into the tenant set and the
 * configuration, valid until the tenant set changes (the next tick).
 *
 * The table lasts from tick to tick: while no tenant comes or goes, each
 * tenant keeps its row, and a stage writes only what changed. A row in
 * which nothing changed since the last tick says so (unchanged), so that
 * the stages after can keep what they made of it then: at 10,000 tenants,
 * mostly idle, a tick is then the work of the few that moved.
 */
#ifndef ABUSEWATCH_TENANT_ROW_H
#define ABUSEWATCH_TENANT_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resource.h"

struct plan;

struct tenant_row {
	/* Identity (tenants.c). */
	uint64_t serial;		/* never reused in this process: same tenant, same strings */
	const char *tenant;
	const char *plan;		/* name, as the tenant rule gave it */
	const struct plan *limits;	/* NULL: the plan is undefined, no limits */
	const char *cgroup;		/* the tenant's top-most matched cgroup */
	const char *const *storage_paths;	/* for storage.c */
	size_t storage_count;
	uint64_t execs;			/* counted and shown, limited by no plan */

	/*
	 * Values in base units (resource.h): counters cumulative since the
	 * agent started, gauges as of now. has_value: measured this tick.
	 * The bools all come after the doubles: no padding between them,
	 * 16 bytes less a row (160 KB at 10,000 tenants).
	 */
	double value[RESOURCE_COUNT];
	/* Evaluation (evaluate.c). */
	double usage[RESOURCE_COUNT];	/* cores, bytes/s, ..., bytes, tasks */

	bool gone;			/* no cgroups left: whatever fires resolves */
	/*
	 * Nothing in the row differs from the last tick's row of the same
	 * tenant, and its outputs are as the stages left them then: a stage
	 * may skip it. Each stage that changes the row clears it; false
	 * (a row made afresh, a test's row) asks every stage for all of it.
	 */
	bool unchanged;
	bool has_value[RESOURCE_COUNT];
	bool has_usage[RESOURCE_COUNT];
	bool firing[RESOURCE_COUNT];	/* the plan rule */
	bool relative_firing[RESOURCE_COUNT];
};

#endif
