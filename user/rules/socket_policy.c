// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <linux/types.h>

#include "log.h"
#include "socket_events.h"
#include "socket_policy.h"

_Static_assert((int)SOFTWARE_RAW_SOCKETS_ALERT == RAW_SOCKETS_ALERT &&
		       (int)SOFTWARE_RAW_SOCKETS_DENY == RAW_SOCKETS_DENY,
	       "the configuration and the kernel number the actions alike");

struct sync_pass {
	struct socket_policy *policy;
	const struct config *config;
};

void socket_policy_init(struct socket_policy *policy, struct probes *probes,
			struct cgroup_tree *tree, struct cgroup_tracker *tracker)
{
	*policy = (struct socket_policy){ .probes = probes, .tree = tree, .tracker = tracker };
}

/* RAW_SOCKETS_* of the software policy of cgroup @id's tenant; allow when none. */
static uint32_t action_of(const struct socket_policy *policy, const struct config *config,
			  uint64_t id)
{
	const struct tenant *tenant = cgroup_tracker_tenant_of(policy->tracker, id);
	const char *software = tenant && tenant->limits ? tenant->limits->software : NULL;
	size_t i;

	for (i = 0; software && i < config->software_count; i++) {
		if (!strcmp(config->software[i].name, software))
			return config->software[i].raw_sockets;
	}
	return RAW_SOCKETS_ALLOW;
}

static void write_entry(struct socket_policy *policy, uint64_t id, uint32_t action)
{
	int err = probes_set_raw_socket_policy(policy->probes, id, action, policy->pass);

	if (err)
		pr_warn("raw-socket policy of cgroup %llu not set: %s", (unsigned long long)id,
			strerror(-err));
}

/* A pass writes the cgroups with a policy; the prune after it removes the rest. */
static void visit_cgroup(uint64_t id, const char *path, void *ctx)
{
	struct sync_pass *sync = ctx;
	uint32_t action = action_of(sync->policy, sync->config, id);

	(void)path;
	if (action != RAW_SOCKETS_ALLOW)
		write_entry(sync->policy, id, action);
}

void socket_policy_sync(struct socket_policy *policy, const struct config *config)
{
	struct sync_pass sync = { policy, config };
	bool wanted = false;
	size_t i;
	int err;

	/* The first pass after a start follows the last agent's, whose entries it may find. */
	policy->pass = policy->pass ? policy->pass + 1 : probes_raw_socket_next_pass(policy->probes);
	for (i = 0; i < config->software_count; i++)
		wanted |= config->software[i].raw_sockets != SOFTWARE_RAW_SOCKETS_ALLOW;
	/* No policy sets raw_sockets: nothing to walk, every entry goes. */
	if (wanted) {
		err = cgroup_tree_scan(policy->tree, visit_cgroup, &sync);
		if (err)
			pr_warn("raw-socket policies: scanning the cgroups: %s", strerror(-err));
	}
	probes_prune_raw_socket_policies(policy->probes, policy->pass);
}

void socket_policy_cgroup_event(struct socket_policy *policy, const struct config *config,
				const struct cgroup_event *event)
{
	if (!policy->probes)
		return;
	if (event->kind == CGROUP_EVENT_RMDIR)
		probes_set_raw_socket_policy(policy->probes, event->id, RAW_SOCKETS_ALLOW, 0);
	else
		write_entry(policy, event->id, action_of(policy, config, event->id));
}
