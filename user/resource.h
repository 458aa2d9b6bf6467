/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The resources a plan can limit, in one table: the plan key (also the
 * `resource` label), whether it is a counter or a gauge, its base unit, how
 * a limit is written, its metric family, and, for counters, which per-cgroup
 * total it comes from. The configuration, the evaluation and the metrics all
 * read this table, so a new resource is one enum value and one row.
 */
#ifndef ABUSEWATCH_RESOURCE_H
#define ABUSEWATCH_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>

enum resource {
	RESOURCE_CPU,
	RESOURCE_MEMORY,
	RESOURCE_DISK_READ,
	RESOURCE_DISK_WRITE,
	RESOURCE_NET_RX,
	RESOURCE_NET_TX,
	RESOURCE_NET_RX_PACKETS,
	RESOURCE_NET_TX_PACKETS,
	RESOURCE_CONNECTIONS,
	RESOURCE_STORAGE,
	RESOURCE_PROCESSES,
	RESOURCE_FORKS,
	RESOURCE_HUGEPAGES,
	RESOURCE_COUNT,
};

enum resource_kind {
	/* Cumulative: the windowed usage is its rate. */
	RESOURCE_COUNTER,
	/* A current value: the windowed usage is its time-weighted mean. */
	RESOURCE_GAUGE,
};

/* Where a resource's value comes from each tick. */
enum resource_source {
	SOURCE_TOTALS,		/* a counter of the tenant's per-cgroup totals (tenants.c) */
	SOURCE_TASKS,		/* the tenant's live tasks (tenants.c) */
	SOURCE_MEMORY,		/* the memory controller (memory.c) */
	SOURCE_HUGETLB,		/* the hugetlb controller, read with memory (hugetlb.c) */
	SOURCE_STORAGE,		/* the storage scanner (storage.c) */
};

struct resource_info {
	const char *name;		/* plan key, relative.floor key, `resource` label */
	enum resource_kind kind;
	const char *unit;		/* of a limit and of windowed usage */
	/* How a limit is written, and what the error says it should be. */
	int (*parse_limit)(const char *text, double *value);
	const char *limit_syntax;
	const char *metric;		/* per-tenant family of the value */
	const char *help;
	enum resource_source source;
	/* SOURCE_TOTALS: a uint64_t of struct usage_sample, times scale is base units. */
	size_t total_offset;
	double scale;
};

/* The row of @resource; NULL if out of range. */
const struct resource_info *resource_info(enum resource resource);
/* "cpu", "memory", ...; NULL if out of range. */
const char *resource_name(enum resource resource);
/* The resource for a plan key, or -1. */
int resource_from_name(const char *name);
bool resource_is_gauge(enum resource resource);

#endif
