/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tenants: the configuration's rules map each cgroup (and its descendants)
 * to a tenant and a plan; usage of all a tenant's cgroups is summed here.
 * A tenant's counters only grow while it lives; a tenant with no cgroups
 * left is dropped after an expiry time.
 */
#ifndef ABUSEWATCH_TENANTS_H
#define ABUSEWATCH_TENANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "config.h"
#include "tenant_row.h"

struct tenant_match {
	char name[PATTERN_MAX_VALUE];
	const char *plan;	/* points into the config */
	size_t rule;		/* index of the matching rule */
	size_t root_length;	/* the path's prefix that matched, e.g. the container's cgroup */
	struct captures captures;	/* of the rule's pattern, for its templates */
};

/*
 * First rule (in order) matching @path or one of its ancestors, top-most
 * ancestor first. Returns true on a match.
 */
bool tenants_match_path(const struct config *config, const char *path,
			struct tenant_match *match);

struct tenant {
	uint64_t serial;	/* never reused in this process */
	char *name;
	const char *plan;	/* in the set's configuration */
	const struct plan *limits;	/* its plan in the set's configuration; NULL: undefined */
	char *cgroup;		/* the tenant's top-most matched cgroup path */
	struct usage_sample total;	/* cumulative since the agent started */
	int64_t tasks;		/* live tasks, the sum of its cgroups' */
	unsigned int live_cgroups;
	double gone_since;	/* monotonic seconds; 0 while it has cgroups */
	/* Its rule's storage templates over its captures: absolute, no "." or "..". */
	char **storage_paths;
	size_t storage_count;
	/* Its row in the last table tenant_set_fill_rows() made; NULL before. */
	struct tenant_row *row;
	/* Its totals, tasks or cgroups changed since its row was last filled. */
	bool changed;
	struct tenant *next_changed;	/* the set's list of those */
};

struct tenant_set;

struct tenant_set *tenant_set_new(const struct config *config);
void tenant_set_free(struct tenant_set *set);

/* A cgroup exists at @path: returns its tenant, or NULL if it is none. */
struct tenant *tenant_set_add_cgroup(struct tenant_set *set, uint64_t id, const char *path);
/* Cgroup @id was removed at @now: its tenant may start to expire. */
void tenant_set_remove_cgroup(struct tenant_set *set, uint64_t id, double now);
/* The tenant called @name, or NULL. */
struct tenant *tenant_set_find(struct tenant_set *set, const char *name);
/* The tenant of cgroup @id, or NULL (also for cgroups never added). */
struct tenant *tenant_set_of_cgroup(struct tenant_set *set, uint64_t id);
/* Forgets cgroup @id entirely (after its final counts were added). */
void tenant_set_forget_cgroup(struct tenant_set *set, uint64_t id);
/*
 * True when cgroup @id is one a rule matched itself (a container's cgroup),
 * not a descendant: hierarchical figures such as memory are read there.
 */
bool tenant_set_cgroup_is_root(struct tenant_set *set, uint64_t id);
/* True when cgroup @id was added (tenant or not). */
bool tenant_set_knows_cgroup(struct tenant_set *set, uint64_t id);
/*
 * Calls @fn with every cgroup added and not removed. @fn may remove it
 * (tenant_set_remove_cgroup), nothing more.
 */
void tenant_set_each_live_cgroup(struct tenant_set *set, void (*fn)(uint64_t id, void *ctx),
				 void *ctx);

/* Adds one cgroup's counter deltas and the change of its live tasks. */
void tenant_set_add_usage(struct tenant_set *set, struct tenant *tenant,
			  const struct usage_sample *delta, int64_t tasks_delta);
/* How long a tenant with no cgroups left keeps its totals, by default. */
#define TENANT_EXPIRY_DEFAULT_S 300.0
/* Drops tenants gone for longer than @expiry seconds (0: the default); returns how many. */
size_t tenant_set_expire(struct tenant_set *set, double now, double expiry);

/*
 * The tick's table: rows grown as needed, @count of them in use. It lasts
 * from tick to tick (tenant_row.h): made afresh when tenants came or went,
 * else only the rows of tenants that changed are filled again.
 */
struct tenant_table {
	struct tenant_row *rows;
	size_t count;
	size_t capacity;
	/* The last fill made every row afresh: nothing is as it was. */
	bool remade;
	/* The rows whose totals the last fill changed, by index (when not remade). */
	size_t *refreshed;
	size_t refreshed_count;
	size_t refreshed_capacity;
	/* The set and its generation the rows were made from. */
	uint64_t set_serial;
	uint64_t generation;
};

/*
 * Fills @table with one row per tenant, in name order: identity, plan and
 * limits, counters from the totals and live tasks, in base units (the
 * resource table says which total each counter is). Each tenant's row
 * pointer is set. When the table holds this set's tenants as they were
 * (none came or went), only changed tenants' rows are filled again, and
 * every other row is marked unchanged, keeping what the other stages put
 * there; else every row is made afresh, memory and storage unmeasured for
 * their modules to fill. 0, or -ENOMEM (the table is then empty).
 */
int tenant_set_fill_rows(struct tenant_set *set, struct tenant_table *table);
void tenant_table_free(struct tenant_table *table);

/* Iteration in name order: fills @out (up to @max) and returns the count. */
size_t tenant_set_list(struct tenant_set *set, struct tenant **out, size_t max);
size_t tenant_set_count(const struct tenant_set *set);
/*
 * A tenant of the restart state (restart_state.h), at start before its
 * cgroups are added: matched again through @cgroup, its top-most cgroup,
 * and taken up only when that still names @name. Its totals start at
 * @total; it counts as gone since @gone_since (monotonic) until a cgroup of
 * it is added. NULL when it is no tenant any more, or out of memory.
 */
struct tenant *tenant_set_restore(struct tenant_set *set, const char *name, const char *cgroup,
				  const struct usage_sample *total, double gone_since);
/* A reload made @new from live cgroups: each tenant's totals carry over by name. */
void tenant_set_carry_totals(struct tenant_set *old, struct tenant_set *new);
/* Changes whenever a tenant is created or dropped (storage targets follow it). */
uint64_t tenant_set_generation(const struct tenant_set *set);

#endif
