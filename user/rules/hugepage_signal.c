// SPDX-License-Identifier: GPL-2.0
/*
 * Miner behaviour from huge pages (see hugepage_signal.h): the tenants it
 * fires for, by name, each marked with the last tick that found it still
 * holding huge pages; a tick resolves those it did not mark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hashtable.h"
#include "hugepage_signal.h"
#include "log.h"
#include "seed.h"
#include "software.h"

#define MIB (1024.0 * 1024.0)

struct holder {
	struct hashtable_node node;	/* by tenant name */
	uint64_t seen_tick;		/* the last tick that found it holding */
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

static struct holder *holder_new(const struct tenant_row *row)
{
	const char *plan = row->plan ? row->plan : "", *cgroup = row->cgroup ? row->cgroup : "";
	size_t tenant_size = strlen(row->tenant) + 1, plan_size = strlen(plan) + 1;
	struct holder *holder =
	    calloc(1, sizeof(*holder) + tenant_size + plan_size + strlen(cgroup) + 1);

	if (!holder)
		return NULL;
	memcpy(holder->strings, row->tenant, tenant_size);
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
	    !(holder = holder_new(row)) || hashtable_insert(&signal->holders, &holder->node, hash)) {
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
	emit(signal, holder, true, holder->reason, result);
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
		snprintf(reason, sizeof(reason),
			 "huge pages no longer held, or the tenant or its policy's "
			 "builtin:miners is gone");
		pr_info("unauthorized software resolved: tenant %s, rule miner_behavior "
			"(huge pages)", holder->strings);
		emit(signal, holder, false, reason, NULL);
		hashtable_remove(&signal->holders, &holder->node);
		holder_free(&holder->node);
	}
	if (!hashtable_count(&signal->holders))
		signal->full_logged = false;
}
