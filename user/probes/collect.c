// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collect.h"
#include "idmap.h"
#include "log.h"

struct cgroup_state {
	uint64_t id;
	int fd;			/* for cgroup-storage reads; -1 if not watched */
	int64_t seeded_tasks;
	bool retired;
	bool seen;		/* present in a map this tick */
	struct usage_sample last;	/* cumulative, as last reported */
	struct usage_sample now;	/* cumulative, read this tick */
	int64_t tasks;
};

struct collector {
	struct probes *probes;
	struct idmap *states;
};

/* One watched cgroup, one fd: allow as many as the hard limit lets us. */
static void raise_fd_limit(void)
{
	struct rlimit limit;

	if (!getrlimit(RLIMIT_NOFILE, &limit) && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

struct collector *collector_new(struct probes *probes)
{
	struct collector *collector = calloc(1, sizeof(*collector));

	if (!collector)
		return NULL;
	raise_fd_limit();
	collector->probes = probes;
	collector->states = idmap_new();
	if (!collector->states) {
		free(collector);
		errno = ENOMEM;
		return NULL;
	}
	return collector;
}

static void free_state(struct cgroup_state *state)
{
	if (state->fd >= 0)
		close(state->fd);
	free(state);
}

void collector_free(struct collector *collector)
{
	struct cgroup_state *state;
	size_t cursor = 0;

	if (!collector)
		return;
	while ((state = idmap_next(collector->states, &cursor, NULL)))
		free_state(state);
	idmap_free(collector->states);
	free(collector);
}

static struct cgroup_state *state_of(struct collector *collector, uint64_t id)
{
	struct cgroup_state *state = idmap_get(collector->states, id);

	if (state)
		return state;
	state = calloc(1, sizeof(*state));
	if (!state)
		return NULL;
	state->id = id;
	state->fd = -1;
	if (idmap_put(collector->states, id, state)) {
		free(state);
		return NULL;
	}
	return state;
}

int collector_watch(struct collector *collector, uint64_t id, int cgroup_fd,
		    int64_t seeded_tasks)
{
	struct cgroup_state *state = state_of(collector, id);

	if (!state) {
		close(cgroup_fd);
		return -ENOMEM;
	}
	if (state->fd >= 0)
		close(state->fd);
	state->fd = cgroup_fd;
	state->seeded_tasks += seeded_tasks;
	state->retired = false;
	return 0;
}

void collector_retire(struct collector *collector, uint64_t id)
{
	struct cgroup_state *state = state_of(collector, id);

	if (state)
		state->retired = true;
}

static void take_usage(uint64_t id, const struct cgroup_usage *usage, void *ctx)
{
	struct cgroup_state *state = state_of(ctx, id);

	if (!state)
		return;
	state->seen = true;
	state->now.cpu_ns += usage->cpu_ns;
	state->now.disk_read_bytes = usage->disk_read_bytes;
	state->now.disk_write_bytes = usage->disk_write_bytes;
	state->now.forks = usage->forks;
	state->now.execs = usage->execs;
	state->tasks = usage->tasks;
}

static void take_net(uint64_t id, const struct net_usage *usage, void *ctx)
{
	struct cgroup_state *state = state_of(ctx, id);

	if (!state)
		return;
	state->seen = true;
	state->now.rx_bytes = usage->rx_bytes;
	state->now.tx_bytes = usage->tx_bytes;
	state->now.rx_packets = usage->rx_packets;
	state->now.tx_packets = usage->tx_packets;
	state->now.connects = usage->connects;
}

/* now - last per counter, never negative; last keeps the highest value seen. */
static void advance(uint64_t *last, uint64_t now, uint64_t *delta)
{
	*delta = now > *last ? now - *last : 0;
	if (now > *last)
		*last = now;
}

static void compute_delta(struct cgroup_state *state, struct usage_sample *delta)
{
	size_t i;

	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++)
		advance(&state->last.field[i], state->now.field[i], &delta->field[i]);
}

int collector_tick(struct collector *collector, collect_fn fn, void *ctx)
{
	struct cgroup_state *state;
	struct usage_sample delta;
	size_t cursor = 0;
	uint64_t id, cpu_ns;
	int64_t tasks;
	int err;

	while ((state = idmap_next(collector->states, &cursor, NULL))) {
		memset(&state->now, 0, sizeof(state->now));
		state->tasks = 0;
		state->seen = false;
	}
	/*
	 * The hash before cgroup storage: a removed cgroup's CPU time moves
	 * from storage to hash, and reading in this order can only miss it
	 * for one tick, never count it twice.
	 */
	err = probes_read_usage(collector->probes, take_usage, collector);
	if (err)
		return err;
	cursor = 0;
	while ((state = idmap_next(collector->states, &cursor, NULL))) {
		if (state->fd < 0)
			continue;
		if (probes_read_cpu_storage(collector->probes, state->fd, &cpu_ns))
			continue;
		state->now.cpu_ns += cpu_ns;
		state->seen = state->seen || cpu_ns;
	}
	err = probes_read_net(collector->probes, take_net, collector);
	if (err)
		return err;

	cursor = 0;
	while ((state = idmap_next(collector->states, &cursor, &id))) {
		if (!state->seen && !state->retired && state->fd < 0 && !state->seeded_tasks) {
			/* Nothing in the maps, nothing to watch or remember: drop the state. */
			idmap_remove(collector->states, id);
			free_state(state);
			continue;
		}
		compute_delta(state, &delta);
		tasks = state->retired ? 0 : state->tasks + state->seeded_tasks;
		fn(id, &delta, tasks, state->retired, ctx);
		if (state->retired) {
			probes_forget_cgroup(collector->probes, id);
			idmap_remove(collector->states, id);
			free_state(state);
		}
	}
	return 0;
}
