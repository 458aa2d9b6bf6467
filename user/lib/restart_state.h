/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The restart state: what an agent writes to state_dir so that the next
 * one goes on counting where it stopped, with the probes it pinned
 * (pins.h). Usage counters are cumulative in the probes' maps; an agent
 * adds each cgroup's growth to its tenant. So the state holds, written
 * together at one moment:
 *   - each tenant's totals, and for how long it has had no cgroups;
 *   - each cgroup's counters as last added to its tenant, its path (to
 *     find its tenant again when it was removed while no agent ran) and
 *     the tasks the agent charged it at start;
 *   - the agent's own counters (alerts raised, evidence suppressed);
 *   - the pinned probes' instance it goes with.
 * A new agent's totals are then those totals plus what each cgroup's
 * counters grew since: exact, whenever the state was written, as long as
 * no map entry it names was dropped after (collect.h holds them back).
 *
 * The file is text, one record a line, names and paths escaped, and ends
 * with the count of records: a file cut short or of another version is
 * refused whole.
 */
#ifndef ABUSEWATCH_RESTART_STATE_H
#define ABUSEWATCH_RESTART_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "collect.h"

#define RESTART_INSTANCE_LEN 16

struct restart_tenant {
	const char *name;
	const char *cgroup; /* its top-most matched cgroup path */
	struct usage_sample total;
	double gone_for_s; /* how long it had no cgroups when written; < 0: it had */
};

struct restart_cgroup {
	uint64_t id;
	const char *path;	  /* NULL: not known */
	struct usage_sample last; /* its counters as added to its tenant */
	int64_t seeded_tasks;	  /* charged by the agent at start, not by the probes */
	bool finished;		  /* its final counts are in; its map entries may go */
};

/*
 * Strings are borrowed when the caller fills it (to format), and point
 * into @storage when it was parsed.
 */
struct restart_state {
	uint8_t instance[RESTART_INSTANCE_LEN];
	double written_wall; /* seconds since the epoch */
	uint64_t alerts_total[ALERT_KIND_COUNT];
	uint64_t alerts_suppressed[ALERT_KIND_COUNT];
	struct restart_tenant *tenants;
	size_t tenant_count;
	size_t tenant_capacity;
	struct restart_cgroup *cgroups;
	size_t cgroup_count;
	size_t cgroup_capacity;
	char *storage;
};

/* Appends a record (copied; its strings borrowed). 0 or -ENOMEM. */
int restart_state_add_tenant(struct restart_state *state, const struct restart_tenant *tenant);
int restart_state_add_cgroup(struct restart_state *state, const struct restart_cgroup *cgroup);

/* Forgets the records (keeps their room) and the rest. */
void restart_state_reset(struct restart_state *state);
/* Frees everything; the state is empty again. */
void restart_state_free(struct restart_state *state);

/* The file's text, malloc'ed into *@text (*@length bytes, then a NUL). 0 or -ENOMEM. */
int restart_state_format(const struct restart_state *state, char **text, size_t *length);

/*
 * Reads @length bytes of @text (taken over: freed with the state, also on
 * failure) into @state, which must be empty. 0, or -EINVAL with what is
 * wrong (and the line) in @why.
 */
int restart_state_parse(char *text, size_t length, struct restart_state *state, char *why,
			size_t whylen);

#endif
