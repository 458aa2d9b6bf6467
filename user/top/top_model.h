/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `abusewatch top` shows, read from what the agent writes: the
 * tenants of its textfile with their usage against their plan's limits,
 * and the overuse alerts that fire (the agent's state_dir/firing.json, or,
 * where that cannot be read, the textfile's abusewatch_tenant_over_limit).
 * Pure logic, no terminal: parsing, rates between two reads, sorting.
 */
#ifndef ABUSEWATCH_TOP_MODEL_H
#define ABUSEWATCH_TOP_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "hashtable.h"
#include "resource.h"

/* The four columns of the table, each a group of resources. */
enum top_column {
	TOP_COLUMN_CPU,		/* cpu */
	TOP_COLUMN_MEMORY,	/* memory */
	TOP_COLUMN_DISK,	/* disk_read, disk_write */
	TOP_COLUMN_NETWORK,	/* net_rx, net_tx, net_rx_packets, net_tx_packets */
	TOP_COLUMN_COUNT,
};

enum top_sort {
	TOP_SORT_USAGE,		/* the highest usage/limit of any resource */
	TOP_SORT_CPU,
	TOP_SORT_MEMORY,
	TOP_SORT_DISK,
	TOP_SORT_NETWORK,
	TOP_SORT_TENANT,	/* by name */
	TOP_SORT_COUNT,
};

enum top_alert_kind {
	TOP_KIND_OVERUSE,
	TOP_KIND_SOFTWARE,
	TOP_KIND_NETWORK,
	TOP_KIND_COUNT,
};

struct top_tenant {
	struct hashtable_node node;
	char *tenant;
	char *plan;
	/* abusewatch_tenant_usage_ratio and _limit; NaN where the file has none. */
	double ratio[RESOURCE_COUNT];
	double limit[RESOURCE_COUNT];
	bool over[RESOURCE_COUNT];	/* abusewatch_tenant_over_limit is 1 */
	/* Counters for the rates (NaN where absent), and the memory gauge. */
	double cpu_seconds;
	double disk_bytes;		/* read + written */
	double network_bytes;		/* received + sent */
	double memory_bytes;
	/*
	 * Usage in base units, for a column without a limit: cores, bytes,
	 * bytes/s; NaN until two reads give a rate (memory: at once).
	 */
	double usage[TOP_COLUMN_COUNT];
};

struct top_alert {
	char *tenant;
	char *plan;
	char *resource;
	char *rule;		/* "plan" or "relative"; NULL when unknown (textfile) */
	double value;		/* the alert's usage and limit (NaN: unknown) */
	double limit;
	double since;		/* wall-clock seconds it fires since (NaN: unknown) */
};

struct top_snapshot {
	struct top_tenant **tenants;
	size_t tenant_count;
	size_t tenant_capacity;
	struct hashtable by_name;
	struct top_alert *alerts;
	size_t alert_count;
	bool alerts_from_state;		/* firing.json, not the textfile */
	double alerts_total[TOP_KIND_COUNT];	/* abusewatch_alerts_total by kind */
	double events_lost;
	char version[32];
	double read_at;			/* monotonic seconds of the read, for rates */
	size_t bad_lines;		/* lines that were no sample */
};

struct top_snapshot *top_snapshot_new(void);
void top_snapshot_free(struct top_snapshot *snapshot);

/*
 * Reads the agent's textfile (@length bytes at @text) into the empty
 * @snapshot, read at monotonic time @read_at; its alerts are the series of
 * abusewatch_tenant_over_limit that are 1. 0 or -ENOMEM.
 */
int top_snapshot_parse(struct top_snapshot *snapshot, const char *text, size_t length,
		       double read_at);

/*
 * Replaces the snapshot's alerts with those of the agent's firing state
 * (the JSON of state_dir/firing.json, NUL-terminated). 0, -EINVAL when it
 * is not such a file (the alerts stay), or -ENOMEM.
 */
int top_snapshot_load_firing(struct top_snapshot *snapshot, const char *json_text);

/*
 * The usage of each tenant of @now from the counters of the same tenant in
 * @before (NULL: the first read; rates stay unknown).
 */
void top_snapshot_rates(struct top_snapshot *now, const struct top_snapshot *before);

/* The highest usage/limit of the column's resources; NaN when none is limited. */
double top_column_ratio(const struct top_tenant *tenant, enum top_column column);
/* The highest usage/limit of any resource; NaN when none. */
double top_tenant_max_ratio(const struct top_tenant *tenant);
/* Whether an overuse alert fires for any of its resources. */
bool top_tenant_over(const struct top_tenant *tenant);
/* How many tenants have an overuse alert firing. */
size_t top_snapshot_over_count(const struct top_snapshot *snapshot);

/*
 * Sorts the tenants: highest usage against the limit first (a tenant
 * without a limit on the key's resources after those with one, by its
 * usage), ties by name; TOP_SORT_TENANT by name. The alerts: by tenant,
 * then resource.
 */
void top_snapshot_sort(struct top_snapshot *snapshot, enum top_sort sort);

/* The sort of a key ('u', 'c', 'm', 'd', 'n', 't'), or -1. */
int top_sort_from_key(int key);
/* Its name for the footer: "usage", "cpu", ... */
const char *top_sort_name(enum top_sort sort);

#endif
