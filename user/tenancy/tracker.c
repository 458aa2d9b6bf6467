// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "idmap.h"
#include "log.h"
#include "tracker.h"

/* A tree scanned again after lost cgroup events is scanned at most this often. */
#define RECOVERY_INTERVAL_S 5.0

struct cgroup_tracker {
	struct cgroup_tree *tree;
	struct memory_watcher *memory;
	struct tenant_set *tenants;
	struct probes *probes;
	struct collector *collector;
	bool seeding;		/* start-up scan: charge tasks already there */
	uint64_t changes;	/* see cgroup_tracker_changes() */
	/* Lost cgroup events as of the last recovery, and when it was. */
	uint64_t cgroup_events_lost;
	double recovered_at;
	struct idmap *seen; /* during a recovery: the cgroups that exist */
	size_t recovered_added, recovered_removed;
};

struct cgroup_tracker *cgroup_tracker_new(struct cgroup_tree *tree,
					  struct memory_watcher *memory)
{
	struct cgroup_tracker *tracker = calloc(1, sizeof(*tracker));

	if (!tracker)
		return NULL;
	tracker->tree = tree;
	tracker->memory = memory;
	return tracker;
}

void cgroup_tracker_free(struct cgroup_tracker *tracker)
{
	free(tracker);
}

void cgroup_tracker_attach(struct cgroup_tracker *tracker, struct probes *probes,
			   struct collector *collector)
{
	tracker->probes = probes;
	tracker->collector = collector;
}

/* A cgroup exists: give it to its tenant and, if it has one, start reading it. */
static void add_cgroup(struct cgroup_tracker *tracker, uint64_t id, const char *path)
{
	struct tenant *tenant = tenant_set_add_cgroup(tracker->tenants, id, path);
	int64_t seeded = 0;
	int fd, err;

	tracker->changes++;
	if (!tenant)
		return;
	if (tenant_set_cgroup_is_root(tracker->tenants, id))
		memory_watcher_add(tracker->memory, id, path);
	/* Tasks already there at start: the probes only see tasks fork or move. */
	if (tracker->seeding) {
		fd = cgroup_tree_open(tracker->tree, id);
		if (fd < 0) {
			pr_debug("cgroup %s vanished before it could be opened", path);
			return;
		}
		seeded = probes_seed_tasks(tracker->probes, fd, id);
		if (seeded < 0)
			seeded = 0;
		close(fd);
	}
	err = collector_watch(tracker->collector, id, seeded);
	if (err)
		pr_warn("cannot watch cgroup %s: %s", path, strerror(-err));
}

static void visit_existing(uint64_t id, const char *path, void *ctx)
{
	add_cgroup(ctx, id, path);
}

void cgroup_tracker_event(struct cgroup_tracker *tracker, const struct cgroup_event *event)
{
	const char *path = event->path;
	size_t length = strnlen(event->path, sizeof(event->path));

	switch (event->kind) {
	case CGROUP_EVENT_MKDIR:
	case CGROUP_EVENT_RENAME:
		/* A path that filled the event may be cut short: ask the kernel. */
		if (!length || length >= sizeof(event->path) - 1) {
			cgroup_tree_remove(tracker->tree, event->id);
			path = cgroup_tree_path(tracker->tree, event->id);
			if (!path)
				return;
		} else if (cgroup_tree_set(tracker->tree, event->id, path)) {
			return;
		}
		add_cgroup(tracker, event->id, path);
		break;
	case CGROUP_EVENT_RMDIR:
		tracker->changes++;
		tenant_set_remove_cgroup(tracker->tenants, event->id, clock_monotonic());
		collector_retire(tracker->collector, event->id);
		break;
	}
}

static void visit_recovering(uint64_t id, const char *path, void *ctx)
{
	struct cgroup_tracker *tracker = ctx;

	/* Marked, so that the sweep knows it exists; the value only needs to be non-NULL. */
	idmap_put(tracker->seen, id, tracker);
	if (tenant_set_knows_cgroup(tracker->tenants, id))
		return;
	add_cgroup(tracker, id, path);
	tracker->recovered_added++;
}

static void sweep_gone(uint64_t id, void *ctx)
{
	struct cgroup_tracker *tracker = ctx;

	if (idmap_get(tracker->seen, id))
		return;
	/* As its rmdir event would have. */
	tracker->changes++;
	tenant_set_remove_cgroup(tracker->tenants, id, clock_monotonic());
	collector_retire(tracker->collector, id);
	tracker->recovered_removed++;
}

/*
 * The kernel could not queue some cgroup events (the ring buffer was full:
 * the agent stopped or starved while cgroups came and went). The tree is
 * scanned again: cgroups made meanwhile are added, and cgroups known here
 * but gone are removed, as their events would have done. Without it they
 * would stay unknown until seen in the counters (idle ones forever), or
 * live forever. At most every RECOVERY_INTERVAL_S, while losses go on.
 */
static void recover_lost_events(struct cgroup_tracker *tracker)
{
	uint64_t lost = probes_lost_cgroup_events(tracker->probes);
	double now = clock_monotonic();
	int err;

	if (lost == tracker->cgroup_events_lost ||
	    now - tracker->recovered_at < RECOVERY_INTERVAL_S)
		return;
	tracker->seen = idmap_new();
	if (!tracker->seen)
		return;
	tracker->recovered_at = now;
	tracker->recovered_added = tracker->recovered_removed = 0;
	err = cgroup_tree_scan(tracker->tree, visit_recovering, tracker);
	/* A partial scan cannot tell gone from unvisited. */
	if (!err)
		tenant_set_each_live_cgroup(tracker->tenants, sweep_gone, tracker);
	idmap_free(tracker->seen);
	tracker->seen = NULL;
	if (err) {
		pr_warn("%llu cgroup events lost; scanning the cgroup tree again failed: %s",
			(unsigned long long)(lost - tracker->cgroup_events_lost), strerror(-err));
		return;
	}
	pr_warn("%llu cgroup events lost (the agent fell behind); scanned the cgroup tree again: "
		"%zu cgroups found, %zu found gone",
		(unsigned long long)(lost - tracker->cgroup_events_lost), tracker->recovered_added,
		tracker->recovered_removed);
	tracker->cgroup_events_lost = lost;
}

/* See cgroup_tracker_tenant_of(); sets *@vanished when the cgroup is gone already. */
static struct tenant *tenant_of_cgroup(struct cgroup_tracker *tracker, uint64_t id, bool *vanished)
{
	struct tenant *tenant = tenant_set_of_cgroup(tracker->tenants, id);
	const char *path;

	*vanished = false;
	if (tenant || tenant_set_knows_cgroup(tracker->tenants, id))
		return tenant;
	path = cgroup_tree_path(tracker->tree, id);
	if (!path) {
		*vanished = true;
		return NULL;
	}
	add_cgroup(tracker, id, path);
	return tenant_set_of_cgroup(tracker->tenants, id);
}

static void take_delta(uint64_t id, const struct usage_sample *delta, int64_t tasks_delta,
		       bool final, void *ctx)
{
	struct cgroup_tracker *tracker = ctx;
	struct tenant *tenant;
	bool vanished = false;

	tenant = final ? tenant_set_of_cgroup(tracker->tenants, id)
		       : tenant_of_cgroup(tracker, id, &vanished);
	if (vanished) {
		collector_retire(tracker->collector, id);
		return;
	}
	if (tenant)
		tenant_set_add_usage(tracker->tenants, tenant, delta, tasks_delta);
	if (final) {
		tracker->changes++;
		memory_watcher_remove(tracker->memory, id);
		tenant_set_forget_cgroup(tracker->tenants, id);
		cgroup_tree_remove(tracker->tree, id);
	}
}

int cgroup_tracker_scan(struct cgroup_tracker *tracker, struct tenant_set *tenants, bool seed)
{
	int err;

	tracker->tenants = tenants;
	tracker->changes++;
	/* Whose root cgroups they are may have changed: watched afresh as they are found. */
	memory_watcher_clear(tracker->memory);
	/* A new set counts live tasks from nothing: every cgroup's are reported whole again. */
	if (tracker->collector)
		collector_report_again(tracker->collector);
	tracker->seeding = seed;
	err = cgroup_tree_scan(tracker->tree, visit_existing, tracker);
	tracker->seeding = false;
	return err;
}

struct tenant *cgroup_tracker_tenant_of(struct cgroup_tracker *tracker, uint64_t id)
{
	bool vanished;

	return tenant_of_cgroup(tracker, id, &vanished);
}

int cgroup_tracker_collect(struct cgroup_tracker *tracker)
{
	recover_lost_events(tracker);
	return collector_tick(tracker->collector, take_delta, tracker);
}

size_t cgroup_tracker_restore(struct cgroup_tracker *tracker, struct tenant_set *tenants,
			      const struct restart_state *state, double now, double downtime_s)
{
	const struct restart_cgroup *cgroup;
	const struct restart_tenant *tenant;
	size_t i, restored = 0;
	double gone_since;

	tracker->tenants = tenants;
	for (i = 0; i < state->tenant_count; i++) {
		tenant = &state->tenants[i];
		/* Gone then: its expiry goes on; there then: gone until its cgroups are found. */
		gone_since = tenant->gone_for_s >= 0 ? now - tenant->gone_for_s - downtime_s : now;
		if (tenant_set_restore(tracker->tenants, tenant->name, tenant->cgroup, &tenant->total,
				       gone_since))
			restored++;
		else
			pr_info("restart: tenant %s is no tenant now; its totals are not taken up",
				tenant->name);
	}
	for (i = 0; i < state->cgroup_count; i++) {
		cgroup = &state->cgroups[i];
		if (collector_restore(tracker->collector, cgroup->id, &cgroup->last,
				      cgroup->seeded_tasks, cgroup->finished))
			pr_warn("restart: out of memory for cgroup %llu",
				(unsigned long long)cgroup->id);
	}
	return restored;
}

size_t cgroup_tracker_restore_removed(struct cgroup_tracker *tracker,
				      const struct restart_state *state, double now)
{
	const struct restart_cgroup *cgroup;
	size_t i, removed = 0;

	for (i = 0; i < state->cgroup_count; i++) {
		cgroup = &state->cgroups[i];
		/* The scan adds every cgroup there is, tenant or not. */
		if (cgroup->finished || tenant_set_knows_cgroup(tracker->tenants, cgroup->id))
			continue;
		/* As if its mkdir and rmdir had come: its tenant gets its final counts. */
		if (cgroup->path && !cgroup_tree_set(tracker->tree, cgroup->id, cgroup->path)) {
			tenant_set_add_cgroup(tracker->tenants, cgroup->id, cgroup->path);
			tenant_set_remove_cgroup(tracker->tenants, cgroup->id, now);
		}
		collector_retire(tracker->collector, cgroup->id);
		removed++;
	}
	return removed;
}

uint64_t cgroup_tracker_changes(const struct cgroup_tracker *tracker)
{
	return tracker->changes;
}

struct save_context {
	struct cgroup_tracker *tracker;
	struct restart_state *state;
};

static int save_cgroup(uint64_t id, const struct usage_sample *last, int64_t seeded_tasks,
		       bool finished, void *ctx)
{
	struct save_context *save = ctx;
	struct restart_cgroup cgroup = {
		.id = id,
		.last = *last,
		.seeded_tasks = seeded_tasks,
		.finished = finished,
	};

	/* Only a tenant's cgroup needs its path: to find the tenant if it goes meanwhile. */
	if (!finished && tenant_set_of_cgroup(save->tracker->tenants, id))
		cgroup.path = cgroup_tree_path(save->tracker->tree, id);
	return restart_state_add_cgroup(save->state, &cgroup);
}

int cgroup_tracker_save(struct cgroup_tracker *tracker, struct restart_state *state, double now)
{
	struct save_context save = { tracker, state };
	size_t count = tenant_set_count(tracker->tenants), i;
	struct tenant **tenants;
	int err = 0;

	tenants = calloc(count ? count : 1, sizeof(*tenants));
	if (!tenants)
		return -ENOMEM;
	count = tenant_set_list(tracker->tenants, tenants, count);
	for (i = 0; i < count && !err; i++) {
		struct restart_tenant tenant = {
			.name = tenants[i]->name,
			.cgroup = tenants[i]->cgroup,
			.total = tenants[i]->total,
			.gone_for_s = tenants[i]->gone_since ? now - tenants[i]->gone_since : -1,
		};

		err = restart_state_add_tenant(state, &tenant);
	}
	free(tenants);
	if (!err)
		err = collector_each(tracker->collector, save_cgroup, &save);
	return err;
}
