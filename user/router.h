/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Events from the probes' ring buffers to the rules that judge them. Each
 * event names a cgroup; the router finds its tenant through the cgroup
 * tracker and hands the event, with the tenant as the rules see it, to the
 * network abuse rules (connect() destinations and probes without one) or
 * to the software guard (execs, miner behaviour, raw sockets, stratum and
 * pool domains on the wire). An event of no tenant stops here. Cgroup
 * events go to the tracker first, then to the raw-socket policy.
 *
 * The callbacks are the probes' (probes.h), each with the router as ctx.
 */
#ifndef ABUSEWATCH_ROUTER_H
#define ABUSEWATCH_ROUTER_H

#include "alerts.h"
#include "cgroups.h"
#include "config.h"
#include "guard.h"
#include "netabuse.h"
#include "probes.h"
#include "socket_policy.h"
#include "tracker.h"

struct router {
	const struct config *config;	/* the running configuration: set again on reload */
	struct cgroup_tracker *tracker;
	struct cgroup_tree *tree;
	struct guard *guard;
	struct netabuse *netabuse;
	struct alerts *alerts;
	struct socket_policy *socket_policy;
	/* The guard learned a digest: which execs the probe reports is to change. */
	void (*interest_changed)(void *ctx);
	void *ctx;
};

void router_cgroup_event(const struct cgroup_event *event, void *router);
void router_connect_event(const struct connect_event *event, void *router);
void router_software_event(const struct software_event *event, void *router);
void router_raw_socket_event(const struct raw_socket_event *event, void *router);
void router_wire_event(const struct wire_event *event, void *router);

#endif
