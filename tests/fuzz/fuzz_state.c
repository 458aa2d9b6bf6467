// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzes the firing state read at start (state_dir/firing.json,
 * user/rules/evaluate_state.c, state_dir/firing-hugepages.json,
 * user/rules/hugepage_signal.c, state_dir/firing-network.json,
 * user/rules/netabuse.c, and state_dir/firing-software.json,
 * user/rules/software_tracker.c) with any file. It is loaded (a file that
 * is not a state file is refused, never half taken), evaluated on as the
 * agent does after a restart until every loaded alert has resolved, and
 * whatever was loaded must survive a save and a load unchanged, and make
 * alert records that are JSON.
 */
#include <errno.h>
#include <math.h>

#include <json-c/json.h>

#include "alert.h"
#include "evaluate.h"
#include "evaluate_state.h"
#include "fuzz.h"
#include "hugepage_signal.h"
#include "log.h"
#include "netabuse.h"
#include "software_tracker.h"

#define NOW_WALL 1795462230.0
#define NOW 1000.0
#define GRACE 30.0
#define MAX_FIRING 64

struct firing_copy {
	char *tenant, *plan, *cgroup, *rule;
	int resource;
	double value, limit, window_s;
};

struct firing_list {
	struct firing_copy items[MAX_FIRING];
	size_t count;
	size_t total;	/* also those beyond MAX_FIRING */
	bool truncated;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int copy_firing(const struct firing_alert *alert, void *ctx)
{
	struct firing_list *list = ctx;
	struct firing_copy *copy;

	list->total++;
	if (list->count == MAX_FIRING) {
		list->truncated = true;
		return 0;
	}
	copy = &list->items[list->count++];
	copy->tenant = strdup(alert->tenant);
	copy->plan = strdup(alert->plan);
	copy->cgroup = strdup(alert->cgroup);
	copy->rule = strdup(alert->rule ? alert->rule : "plan");
	fuzz_check(copy->tenant && copy->plan && copy->cgroup && copy->rule, "no memory");
	copy->resource = alert->resource;
	copy->value = alert->value;
	copy->limit = alert->limit;
	copy->window_s = alert->window_s;
	return 0;
}

static int compare_firing(const void *a, const void *b)
{
	const struct firing_copy *left = a, *right = b;

	return strcmp(left->tenant, right->tenant) ?: strcmp(left->rule, right->rule) ?:
	       left->resource - right->resource;
}

static void free_list(struct firing_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		free(list->items[i].tenant);
		free(list->items[i].plan);
		free(list->items[i].cgroup);
		free(list->items[i].rule);
	}
	list->count = 0;
}

static void list_firing(const struct evaluator *evaluator, struct firing_list *list)
{
	free_list(list);
	list->total = 0;
	list->truncated = false;
	fuzz_check(!evaluator_each_firing(evaluator, copy_firing, list), "each_firing failed");
	qsort(list->items, list->count, sizeof(list->items[0]), compare_firing);
}

struct published {
	size_t firing;
	size_t resolved;
};

/* What the sinks would get: a record JSON can hold. */
static void publish(struct alert *alert, void *ctx)
{
	struct published *published = ctx;
	struct json_object *record;

	alert->time = NOW_WALL;
	alert->host = "node";
	record = alert_to_json(alert);
	fuzz_check(record, "alert of tenant %s makes no record: %s", alert->tenant,
		   strerror(errno));
	json_object_put(record);
	if (alert->firing)
		published->firing++;
	else
		published->resolved++;
}

static const char *no_policy(const char *policy, void *ctx)
{
	return NULL;
}

/*
 * The same file as firing-hugepages.json: refused or taken whole, the same
 * alerts after a save and a load, each resolving once the grace is over
 * when no tenant comes back, with records JSON can hold.
 */
static void fuzz_hugepages(const char *path, const char *saved)
{
	struct published published = { 0 };
	struct hugepage_signal *signal = hugepage_signal_new(publish, &published), *again;
	size_t loaded;
	int err;

	fuzz_check(signal, "no signal");
	err = hugepage_signal_load(signal, path, NOW_WALL, NOW, GRACE);
	fuzz_check(err == 0 || err == -EINVAL || err == -EFBIG, "hugepage_signal_load returned %d",
		   err);
	loaded = hugepage_signal_firing(signal);
	if (err)
		fuzz_check(!loaded, "refused, yet %zu alerts were loaded", loaded);
	fuzz_check(!hugepage_signal_save(signal, saved, NOW_WALL, NOW), "save failed");
	again = hugepage_signal_new(publish, &published);
	fuzz_check(again, "no signal");
	fuzz_check(!hugepage_signal_load(again, saved, NOW_WALL, NOW, GRACE),
		   "the saved file is refused");
	fuzz_check(hugepage_signal_firing(again) == loaded, "%zu alerts loaded, %zu after a save",
		   loaded, hugepage_signal_firing(again));
	hugepage_signal_free(again);

	hugepage_signal_tick(signal, NULL, 0, true, NOW + 1, no_policy, NULL);
	fuzz_check(!published.firing && !published.resolved, "an alert moved within the grace");
	hugepage_signal_tick(signal, NULL, 0, true, NOW + GRACE + 1, no_policy, NULL);
	fuzz_check(!published.firing && published.resolved == loaded,
		   "%zu loaded, %zu resolved, %zu fired", loaded, published.resolved,
		   published.firing);
	fuzz_check(!hugepage_signal_firing(signal), "alerts still fire");
	hugepage_signal_free(signal);
}

/* Windows of 10 s and 60 s: every alert loaded resolves within 300 s (pool ports). */
static struct netabuse *network_rules(void)
{
	static uint16_t pool_ports[] = { 3333 };
	struct network_config network = {
		.pool_ports = pool_ports,
		.pool_ports_count = 1,
		.scan = { .destinations = 5, .window_ms = 10000 },
		.smtp = { .destinations = 5, .window_ms = 60000 },
	};
	struct netabuse *netabuse = netabuse_new();

	fuzz_check(netabuse, "no network rules");
	netabuse_configure(netabuse, &network);
	return netabuse;
}

/*
 * The same file as firing-network.json: refused or taken whole, the same
 * alerts after a save and a load, none moving at the load, each resolving
 * once by the time its hold or window is over, with records JSON can hold.
 */
static void fuzz_network(const char *path, const char *saved)
{
	struct published published = { 0 };
	struct netabuse *netabuse = network_rules(), *again;
	size_t loaded;
	int err;

	err = netabuse_load(netabuse, path, NOW_WALL, NOW);
	fuzz_check(err == 0 || err == -EINVAL || err == -EFBIG, "netabuse_load returned %d", err);
	loaded = netabuse_firing(netabuse);
	if (err)
		fuzz_check(!loaded, "refused, yet %zu alerts were loaded", loaded);
	fuzz_check(!netabuse_save(netabuse, saved, NOW_WALL, NOW), "save failed");
	again = network_rules();
	fuzz_check(!netabuse_load(again, saved, NOW_WALL, NOW), "the saved file is refused");
	fuzz_check(netabuse_firing(again) == loaded, "%zu alerts loaded, %zu after a save", loaded,
		   netabuse_firing(again));
	netabuse_free(again);

	netabuse_tick(netabuse, NOW + POOL_PORT_HOLD_S + 1, publish, &published);
	fuzz_check(!published.firing && published.resolved == loaded,
		   "%zu loaded, %zu resolved, %zu fired", loaded, published.resolved,
		   published.firing);
	fuzz_check(!netabuse_firing(netabuse), "alerts still fire");
	fuzz_check(!netabuse_tenant_count(netabuse), "tenants kept with nothing left");
	netabuse_free(netabuse);
}

/* A resolved software alert, as guard.c's raise_resolved() makes its record. */
static void publish_software(const struct software_alert_info *info, void *ctx)
{
	struct alert alert = {
		.kind = ALERT_UNAUTHORIZED_SOFTWARE,
		.tenant = info->tenant,
		.plan = info->plan,
		.cgroup = info->cgroup,
		.rule = software_rule_name(info->rule),
		.reason = info->reason,
		.exe = info->exe && info->exe[0] ? info->exe : NULL,
		.sha256 = info->sha256,
		.comm = info->comm,
		.pid = info->pid,
	};

	fuzz_check(isfinite(info->since) && info->since <= NOW, "since %f", info->since);
	publish(&alert, ctx);
}

/*
 * The same file as firing-software.json: refused or taken whole, the same
 * alerts after a save and a load, each resolving at the first tick once
 * its window has passed (no saved process runs: the boot is another),
 * with records JSON can hold.
 */
static void fuzz_software(const char *path, const char *saved)
{
	struct published published = { 0 };
	struct software_tracker *tracker = software_tracker_new(), *again;
	size_t loaded;
	int err;

	fuzz_check(tracker, "no tracker");
	err = software_tracker_load(tracker, path, NOW_WALL, NOW);
	fuzz_check(err == 0 || err == -EINVAL || err == -EFBIG, "software_tracker_load returned %d",
		   err);
	loaded = software_tracker_count(tracker);
	if (err)
		fuzz_check(!loaded, "refused, yet %zu alerts were loaded", loaded);
	fuzz_check(!software_tracker_changed(tracker), "a load is a change");
	fuzz_check(!software_tracker_save(tracker, saved, NOW_WALL, NOW, NULL), "save failed");
	again = software_tracker_new();
	fuzz_check(again, "no tracker");
	fuzz_check(!software_tracker_load(again, saved, NOW_WALL, NOW), "the saved file is refused");
	fuzz_check(software_tracker_count(again) == loaded, "%zu alerts loaded, %zu after a save",
		   loaded, software_tracker_count(again));
	software_tracker_free(again);

	software_tracker_tick(tracker, INFINITY, publish_software, &published);
	fuzz_check(published.resolved == loaded, "%zu loaded, %zu resolved", loaded,
		   published.resolved);
	fuzz_check(!software_tracker_count(tracker), "alerts still fire");
	software_tracker_free(tracker);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct firing_list loaded, reloaded;
	struct fuzz_input in = { data, size };
	struct evaluator *evaluator = evaluator_new(), *again = NULL;
	struct published published = { 0 };
	char path[256], saved[256];
	size_t length, i;
	uint8_t *text = fuzz_rest(&in, &length);
	int err;

	fuzz_check(evaluator, "no evaluator");
	snprintf(path, sizeof(path), "%s/firing.json", fuzz_scratch_dir());
	snprintf(saved, sizeof(saved), "%s/saved.json", fuzz_scratch_dir());
	fuzz_write_file(path, text, length);
	err = evaluator_load(evaluator, path, NOW_WALL, NOW, GRACE);
	fuzz_check(err == 0 || err == -EINVAL, "evaluator_load returned %d", err);
	list_firing(evaluator, &loaded);
	if (err)
		fuzz_check(!loaded.total, "refused, yet %zu alerts were loaded", loaded.total);

	/* Saved and loaded again: the same alerts. */
	fuzz_check(!evaluator_save(evaluator, saved, NOW_WALL, NOW), "save failed");
	again = evaluator_new();
	fuzz_check(again, "no evaluator");
	fuzz_check(!evaluator_load(again, saved, NOW_WALL, NOW, GRACE), "the saved file is refused");
	list_firing(again, &reloaded);
	fuzz_check(loaded.total == reloaded.total, "%zu alerts loaded, %zu after a save",
		   loaded.total, reloaded.total);
	for (i = 0; !loaded.truncated && i < loaded.count; i++) {
		const struct firing_copy *a = &loaded.items[i], *b = &reloaded.items[i];

		fuzz_check(!strcmp(a->tenant, b->tenant) && !strcmp(a->rule, b->rule) &&
				   a->resource == b->resource && !strcmp(a->plan, b->plan) &&
				   !strcmp(a->cgroup, b->cgroup) && a->value == b->value &&
				   a->limit == b->limit && a->window_s == b->window_s,
			   "alert %zu of tenant %s changed in a save", i, a->tenant);
	}

	/* No tenant shows up: each loaded alert resolves once the grace is over. */
	evaluator_tick(evaluator, NOW + 1, NULL, 0, publish, &published);
	fuzz_check(!published.firing && !published.resolved, "an alert moved within the grace");
	evaluator_tick(evaluator, NOW + GRACE + 1, NULL, 0, publish, &published);
	fuzz_check(!published.firing && published.resolved == loaded.total,
		   "%zu loaded, %zu resolved, %zu fired", loaded.total, published.resolved,
		   published.firing);
	list_firing(evaluator, &reloaded);
	fuzz_check(!reloaded.total, "%zu alerts still fire", reloaded.total);

	fuzz_hugepages(path, saved);
	fuzz_network(path, saved);
	fuzz_software(path, saved);

	free_list(&reloaded);
	free_list(&loaded);
	evaluator_free(again);
	evaluator_free(evaluator);
	free(text);
	return 0;
}
