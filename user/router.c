// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "router.h"
#include "tenants.h"

void router_cgroup_event(const struct cgroup_event *event, void *ctx)
{
	struct router *router = ctx;

	cgroup_tracker_event(router->tracker, event);
	socket_policy_cgroup_event(router->socket_policy, router->config, event);
}

/*
 * The tenant that cgroup @cgroup_id belongs to, as the software rules see
 * it, in @who; NULL (and @who untouched) when no tenant's.
 */
static struct tenant *guard_tenant_of(struct router *router, uint64_t cgroup_id,
				      struct guard_tenant *who)
{
	struct tenant *tenant = cgroup_tracker_tenant_of(router->tracker, cgroup_id);

	if (!tenant)
		return NULL;
	*who = (struct guard_tenant){
		.name = tenant->name,
		.plan = tenant->plan,
		.cgroup = tenant->cgroup,
		.event_cgroup = cgroup_tree_path(router->tree, cgroup_id),
		.policy = tenant->limits ? tenant->limits->software : NULL,
		.window_s = plan_window_s(tenant->limits),
	};
	return tenant;
}

/* A raw or packet socket of a cgroup with a raw-socket policy: to its tenant's policy. */
void router_raw_socket_event(const struct raw_socket_event *event, void *ctx)
{
	struct router *router = ctx;
	struct guard_tenant who;

	if (guard_tenant_of(router, event->cgroup_id, &who))
		guard_raw_socket(router->guard, event, &who, clock_monotonic());
}

/*
 * A connect() or a probe to a destination: to the network abuse rules, if a
 * tenant made it.
 */
void router_connect_event(const struct connect_event *event, void *ctx)
{
	struct router *router = ctx;
	struct netabuse_tenant who;
	struct tenant *tenant;
	int err;

	tenant = cgroup_tracker_tenant_of(router->tracker, event->cgroup_id);
	if (!tenant)
		return;
	who = (struct netabuse_tenant){ tenant->name, tenant->plan, tenant->cgroup };
	if (event->source == AW_DESTINATION_CONNECT)
		err = netabuse_connect(router->netabuse, &who, event->addr, event->port,
				       clock_monotonic(), alerts_publish, router->alerts);
	else
		err = netabuse_probe(router->netabuse, &who, event->addr, event->port,
				     clock_monotonic(), alerts_publish, router->alerts);
	if (err)
		pr_debug("network abuse: connect not counted: %s", strerror(-err));
}

/* An exec or miner behaviour: to the tenant's software policy, if a tenant did it. */
void router_software_event(const struct software_event *event, void *ctx)
{
	struct router *router = ctx;
	struct guard_tenant who;
	struct tenant *tenant;
	uint64_t cgroup_id;
	size_t i;

	tenant = guard_tenant_of(router, event->cgroup_id, &who);
	if (!tenant)
		return;
	/*
	 * The ancestors that are this tenant's, for miner behaviour only (a
	 * device or sysctl write, an exec with markers): the rest is never
	 * attributed.
	 */
	for (i = 0; i < AW_ANCESTORS_MAX && (event->type != SOFTWARE_EVENT_EXEC || event->argv_markers);
	     i++) {
		cgroup_id = event->ancestors[i].cgroup_id;
		if (!event->ancestors[i].pid)
			break;
		if (cgroup_tracker_tenant_of(router->tracker, cgroup_id) != tenant)
			break;
		who.ancestor_cgroups[i] = cgroup_tree_path(router->tree, cgroup_id);
		if (!who.ancestor_cgroups[i])
			break;
	}
	guard_event(router->guard, event, &who, clock_monotonic());
	if (guard_take_interest_change(router->guard) && router->interest_changed)
		router->interest_changed(router->ctx);
}

/* A stratum method or pool domain a tenant's socket sent: to its software policy. */
void router_wire_event(const struct wire_event *event, void *ctx)
{
	struct router *router = ctx;
	struct guard_tenant who;

	if (guard_tenant_of(router, event->cgroup_id, &who))
		guard_wire_event(router->guard, event, &who, clock_monotonic());
}
