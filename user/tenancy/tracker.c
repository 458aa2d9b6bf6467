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
		memory_watcher_remove(tracker->memory, id);
		tenant_set_forget_cgroup(tracker->tenants, id);
		cgroup_tree_remove(tracker->tree, id);
	}
}

int cgroup_tracker_scan(struct cgroup_tracker *tracker, struct tenant_set *tenants, bool seed)
{
	int err;

	tracker->tenants = tenants;
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
