// SPDX-License-Identifier: GPL-2.0
/*
 * Miner behaviour from huge pages (see hugepage_signal.h): the tenants it
 * fires for, by name, each marked with the last tick that found it still
 * holding huge pages; a tick resolves those it did not mark.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "files.h"
#include "hashtable.h"
#include "hugepage_signal.h"
#include "json.h"
#include "log.h"
#include "state_file.h"
#include "seed.h"
#include "software.h"

#define MIB (1024.0 * 1024.0)
#define STATE_FORMAT_VERSION 1
/* HUGEPAGE_SIGNAL_MAX alerts take some 2 MB: anything larger is no state of ours. */
#define STATE_FILE_MAX (16u << 20)

struct holder {
	struct hashtable_node node;	/* by tenant name */
	uint64_t seen_tick;		/* the last tick that found it holding */
	uint64_t present_tick;		/* the last tick whose rows had its tenant */
	/*
	 * Loaded from the state of an earlier run: until this (monotonic),
	 * a tick whose rows lack its tenant (not back yet) does not resolve
	 * it. 0 once a tick had its tenant, or when it fired in this run.
	 */
	double restored_until;
	double since;			/* monotonic, when it fired */
	double window_s;
	const char *plan;		/* these point into strings[] */
	const char *cgroup;
	const char *action;		/* static */
	char reason[160];		/* as it fired, for the resolved record */
	char strings[];			/* tenant name first */
};

struct hugepage_signal {
	struct hashtable holders;
	uint64_t tick;
	bool full_logged;
	bool changed;			/* an alert fired or resolved since the last save */
	bool restored;			/* some holder's restored_until is set */
	alert_fn emit;
	void *ctx;
};

static bool holder_is(const struct hashtable_node *node, const void *name)
{
	return !strcmp(hashtable_entry(node, struct holder, node)->strings, name);
}

static void holder_free(struct hashtable_node *node)
{
	free(hashtable_entry(node, struct holder, node));
}

struct hugepage_signal *hugepage_signal_new(alert_fn emit, void *ctx)
{
	struct hugepage_signal *signal = calloc(1, sizeof(*signal));

	if (!signal)
		return NULL;
	hashtable_init(&signal->holders, holder_is);
	signal->emit = emit;
	signal->ctx = ctx;
	return signal;
}

void hugepage_signal_free(struct hugepage_signal *signal)
{
	if (!signal)
		return;
	hashtable_release(&signal->holders, holder_free);
	free(signal);
}

size_t hugepage_signal_firing(const struct hugepage_signal *signal)
{
	return signal ? hashtable_count(&signal->holders) : 0;
}

static struct holder *holder_new(const char *tenant, const char *plan, const char *cgroup)
{
	size_t tenant_size, plan_size;
	struct holder *holder;

	plan = plan ? plan : "";
	cgroup = cgroup ? cgroup : "";
	tenant_size = strlen(tenant) + 1;
	plan_size = strlen(plan) + 1;
	holder = calloc(1, sizeof(*holder) + tenant_size + plan_size + strlen(cgroup) + 1);
	if (!holder)
		return NULL;
	memcpy(holder->strings, tenant, tenant_size);
	holder->plan = holder->strings + tenant_size;
	memcpy((char *)holder->plan, plan, plan_size);
	holder->cgroup = holder->plan + plan_size;
	strcpy((char *)holder->cgroup, cgroup);
	return holder;
}

static void emit(struct hugepage_signal *signal, const struct holder *holder, bool firing,
		 const char *reason, const char *action_result)
{
	struct alert alert = {
		.kind = ALERT_UNAUTHORIZED_SOFTWARE,
		.firing = firing,
		.since = holder->since,
		.tenant = holder->strings,
		.plan = holder->plan,
		.cgroup = holder->cgroup,
		.window_s = holder->window_s,
		.rule = software_rule_name(SOFTWARE_RULE_MINER_BEHAVIOR),
		.reason = reason,
		.action = firing ? holder->action : NULL,
		.action_result = action_result,
	};

	signal->emit(&alert, signal->ctx);
}

/* @row holds huge pages under a policy with builtin:miners (action @action): fire, once. */
static void note_holder(struct hugepage_signal *signal, const struct tenant_row *row,
			const char *action, double now)
{
	uint64_t hash = hash_string(hash_key_process(), row->tenant);
	struct holder *holder = hashtable_entry(hashtable_find(&signal->holders, hash, row->tenant),
						struct holder, node);
	const char *result = NULL;

	if (holder) {
		holder->seen_tick = signal->tick;
		return;
	}
	if (hashtable_count(&signal->holders) >= HUGEPAGE_SIGNAL_MAX ||
	    !(holder = holder_new(row->tenant, row->plan, row->cgroup)) || hashtable_insert(&signal->holders, &holder->node, hash)) {
		free(holder);
		if (!signal->full_logged)
			pr_warn("miner behaviour: tenant %s holds huge pages; not alerted (%s)",
				row->tenant, hashtable_count(&signal->holders) >= HUGEPAGE_SIGNAL_MAX
						 ? "too many tenants alerted at once"
						 : "out of memory");
		signal->full_logged = true;
		return;
	}
	holder->seen_tick = signal->tick;
	holder->since = now;
	holder->window_s = plan_window_s(row->limits);
	holder->action = action;
	snprintf(holder->reason, sizeof(holder->reason),
		 "holds %.0f MiB of huge pages (hugetlb controller), as RandomX miners do",
		 row->value[RESOURCE_HUGEPAGES] / MIB < 1 ? 1 : row->value[RESOURCE_HUGEPAGES] / MIB);
	if (strcmp(action, "alert"))
		result = "not taken: huge pages are counted per cgroup, not per process";
	pr_info("unauthorized software firing: tenant %s, rule miner_behavior, %s", row->tenant,
		holder->reason);
	signal->changed = true;
	emit(signal, holder, true, holder->reason, result);
}

/* @tenant has a row this tick: a holder taken up from an earlier run is back. */
static void mark_present(struct hugepage_signal *signal, const char *tenant)
{
	struct holder *holder = hashtable_entry(
	    hashtable_find(&signal->holders, hash_string(hash_key_process(), tenant), tenant),
	    struct holder, node);

	if (holder)
		holder->present_tick = signal->tick;
}

/* After a tick: holders whose tenant came back, or whose grace is over, are as any other. */
static void end_restored(struct hugepage_signal *signal, double now)
{
	struct hashtable_node *node;
	struct holder *holder;
	bool waiting = false;

	for (node = hashtable_oldest(&signal->holders); node; node = hashtable_newer(node)) {
		holder = hashtable_entry(node, struct holder, node);
		if (holder->present_tick == signal->tick || holder->restored_until <= now)
			holder->restored_until = 0;
		waiting |= holder->restored_until > 0;
	}
	signal->restored = waiting;
}

void hugepage_signal_tick(struct hugepage_signal *signal, const struct tenant_row *rows,
			  size_t count, bool in_use, double now, miners_action_fn policy_action,
			  void *policy_ctx)
{
	struct hashtable_node *node, *next;
	struct holder *holder;
	const char *action;
	char reason[256];
	size_t i;

	/* No huge page in use on the host: no tenant holds one. */
	if (!in_use && !hashtable_count(&signal->holders))
		return;
	signal->tick++;
	for (i = 0; in_use && i < count; i++) {
		const struct tenant_row *row = &rows[i];

		if (signal->restored && !row->gone && row->tenant)
			mark_present(signal, row->tenant);
		if (row->gone || !row->has_value[RESOURCE_HUGEPAGES] ||
		    row->value[RESOURCE_HUGEPAGES] <= 0 || !row->tenant)
			continue;
		action = policy_action(row->limits ? row->limits->software : NULL, policy_ctx);
		if (action)
			note_holder(signal, row, action, now);
	}
	hashtable_for_each_safe(&signal->holders, node, next) {
		holder = hashtable_entry(node, struct holder, node);
		if (holder->seen_tick == signal->tick)
			continue;
		/*
		 * Taken up from an earlier run, its tenant not back yet (no
		 * row): neither seen nor gone. With no huge page in use on the
		 * host at all, it is gone whatever the rows.
		 */
		if (in_use && holder->restored_until > now && holder->present_tick != signal->tick)
			continue;
		snprintf(reason, sizeof(reason),
			 "huge pages no longer held, or the tenant or its policy's "
			 "builtin:miners is gone");
		pr_info("unauthorized software resolved: tenant %s, rule miner_behavior "
			"(huge pages)", holder->strings);
		signal->changed = true;
		emit(signal, holder, false, reason, NULL);
		hashtable_remove(&signal->holders, &holder->node);
		holder_free(&holder->node);
	}
	if (!hashtable_count(&signal->holders))
		signal->full_logged = false;
	if (signal->restored)
		end_restored(signal, now);
}


bool hugepage_signal_changed(const struct hugepage_signal *signal)
{
	return signal && signal->changed;
}

static int add_holder(struct json_object *alerts, const struct holder *holder, double now_wall,
		      double now)
{
	struct json_object *alert = json_object_new_object();
	int err;

	if (!alert)
		return -ENOMEM;
	err = json_add_string(alert, "tenant", holder->strings) ?:
	      json_add_string(alert, "plan", holder->plan) ?:
	      json_add_string(alert, "cgroup", holder->cgroup) ?:
	      json_add_string(alert, "rule", software_rule_name(SOFTWARE_RULE_MINER_BEHAVIOR)) ?:
	      json_add_string(alert, "action", holder->action) ?:
	      json_add_string(alert, "reason", holder->reason) ?:
	      json_add_double(alert, "window_s", holder->window_s) ?:
	      /* Monotonic time means nothing to the next boot: wall time. */
	      json_add_double(alert, "since", now_wall - (now - holder->since));
	if (err) {
		json_object_put(alert);
		return err;
	}
	return json_append(alerts, alert);
}

int hugepage_signal_save(struct hugepage_signal *signal, const char *path, double now_wall,
			 double now)
{
	const struct hashtable_node *node;
	struct json_object *root, *alerts;
	int err = 0;

	root = state_file_new(STATE_FORMAT_VERSION, now_wall, &alerts);
	if (!root)
		return -ENOMEM;
	for (node = hashtable_oldest(&signal->holders); node && !err; node = hashtable_newer(node))
		err = add_holder(alerts, hashtable_entry(node, struct holder, node), now_wall, now);
	err = err ?: state_file_write(path, root, NULL);
	if (!err)
		signal->changed = false;
	json_object_put(root);
	return err;
}

/* The action's static name ("alert" for one this version has not). */
static const char *action_of(const char *name)
{
	static const char *const actions[] = { "alert", "kill", "freeze" };
	size_t i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(name, actions[i]))
			return actions[i];
	return actions[0];
}

/* 1 when loaded, 0 when its tenant already fires or there is no room, -EINVAL, -ENOMEM. */
static int load_holder(struct hugepage_signal *signal, struct json_object *alert, double now_wall,
		       double now, double grace_s)
{
	const char *tenant, *plan, *cgroup, *rule, *action, *reason;
	double since_wall, window_s;
	struct holder *holder;
	uint64_t hash;

	if (json_get_string(alert, "tenant", &tenant) || json_get_string(alert, "plan", &plan) ||
	    json_get_string(alert, "cgroup", &cgroup) || json_get_string(alert, "rule", &rule) ||
	    json_get_string(alert, "action", &action) || json_get_string(alert, "reason", &reason) ||
	    json_get_double(alert, "window_s", &window_s) ||
	    json_get_double(alert, "since", &since_wall) || !tenant[0] ||
	    strcmp(rule, software_rule_name(SOFTWARE_RULE_MINER_BEHAVIOR)) || !isfinite(window_s) ||
	    !isfinite(since_wall))
		return -EINVAL;
	hash = hash_string(hash_key_process(), tenant);
	if (hashtable_find(&signal->holders, hash, tenant) ||
	    hashtable_count(&signal->holders) >= HUGEPAGE_SIGNAL_MAX)
		return 0;
	holder = holder_new(tenant, plan, cgroup);
	if (!holder)
		return -ENOMEM;
	if (hashtable_insert(&signal->holders, &holder->node, hash)) {
		free(holder);
		return -ENOMEM;
	}
	/* A wall clock set back since the save must not put the start in the future. */
	holder->since = now - fmax(0, now_wall - since_wall);
	holder->window_s = window_s;
	holder->action = action_of(action);
	snprintf(holder->reason, sizeof(holder->reason), "%s", reason);
	holder->restored_until = now + grace_s;
	signal->restored = true;
	pr_info("miner behaviour: tenant %s, rule miner_behavior, firing again from %s "
		"(since %.0f s ago, %s)",
		tenant, "the state of the last run", now - holder->since, holder->reason);
	return 1;
}

int hugepage_signal_load(struct hugepage_signal *signal, const char *path, double now_wall,
			 double now, double grace_s)
{
	struct json_object *root, *alerts;
	size_t i, count, skipped = 0;
	int err;

	err = state_file_read(path, STATE_FILE_MAX, "miner behaviour", &root, &alerts);
	if (err)
		return err;
	count = json_object_array_length(alerts);
	for (i = 0; i < count; i++) {
		int ret = load_holder(signal, json_object_array_get_idx(alerts, i), now_wall, now,
				      grace_s);

		if (ret == -ENOMEM) {
			err = ret;
			goto cleanup;
		}
		skipped += ret < 0;
	}
	if (skipped)
		pr_warn("miner behaviour: %s: %zu alerts are not valid, skipped", path, skipped);
cleanup:
	json_object_put(root);
	return err;
}
