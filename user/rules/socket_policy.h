/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's raw-socket policy per cgroup (bpf/sockets.bpf.c), kept in
 * step with the tenants: each tenant cgroup whose plan's software policy
 * sets `raw_sockets` has an entry, every other cgroup none (one lookup in
 * the kernel, then nothing). A start or reload writes every entry anew in
 * a numbered pass and prunes what the pass did not write; cgroup events
 * keep single entries current in between. A new cgroup has its parent's
 * entry from its mkdir on (the kernel copies it), so the agent's later
 * write only corrects it when it belongs to another tenant.
 */
#ifndef ABUSEWATCH_SOCKET_POLICY_H
#define ABUSEWATCH_SOCKET_POLICY_H

#include <stdint.h>

#include "cgroups.h"
#include "config.h"
#include "probes.h"
#include "tracker.h"

struct socket_policy {
	struct probes *probes;
	struct cgroup_tree *tree;
	struct cgroup_tracker *tracker;
	uint32_t pass; /* of the last pass over every cgroup (socket_events.h); 0: none yet */
};

void socket_policy_init(struct socket_policy *policy, struct probes *probes,
			struct cgroup_tree *tree, struct cgroup_tracker *tracker);

/*
 * Every cgroup's entry after a start or reload matched the cgroups to
 * tenants under @config: written in a new pass, the rest removed. Failures
 * are logged; the kernel keeps what it had for those cgroups.
 */
void socket_policy_sync(struct socket_policy *policy, const struct config *config);

/* Cgroup @event, after the tracker has seen it: that cgroup's entry. */
void socket_policy_cgroup_event(struct socket_policy *policy, const struct config *config,
				const struct cgroup_event *event);

#endif
