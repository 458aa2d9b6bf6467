// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "idmap.h"
#include "log.h"

struct cgroup_state {
	uint64_t id;
	int64_t seeded_tasks;
	bool retired;		/* removed: its final counts go out at the next tick */
	/*
	 * Its final counts went out; kept while a CPU slot may still hold a
	 * batch of its counts, which must not count again (cgroup ids are
	 * never reused, so nothing else can be mistaken for it).
	 */
	bool finished;
	/* Finished and named so in a written restart state: its map entries may go. */
	bool persisted;
	bool forgotten;		/* its map entries were dropped */
	bool in_maps;		/* present in a map this tick */
	bool in_slots;		/* a CPU slot holds a batch of its counts this tick */
	/*
	 * A batch of its counts moved from a CPU slot to the maps while they
	 * were read this tick: this tick's counts may lack it.
	 */
	bool moved;
	struct usage_sample last;	/* cumulative, as last reported */
	struct usage_sample now;	/* cumulative, read this tick */
	int64_t tasks;		/* live, read this tick */
	int64_t reported_tasks;	/* live, as last reported */
};

struct collector {
	struct probes *probes;
	struct idmap *states;
	/* A batch of a cgroup not known moved this tick: any cgroup's counts may lack it. */
	bool moved_unknown;
	bool hold_forgets;	/* finished cgroups' entries wait for collector_persisted() */
	uint64_t generation;	/* see collector_generation() */
};

struct collector *collector_new(struct probes *probes)
{
	struct collector *collector = calloc(1, sizeof(*collector));

	if (!collector)
		return NULL;
	collector->probes = probes;
	collector->states = idmap_new();
	if (!collector->states) {
		free(collector);
		errno = ENOMEM;
		return NULL;
	}
	return collector;
}

void collector_free(struct collector *collector)
{
	struct cgroup_state *state;
	size_t cursor = 0;

	if (!collector)
		return;
	while ((state = idmap_next(collector->states, &cursor, NULL)))
		free(state);
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
	if (idmap_put(collector->states, id, state)) {
		free(state);
		return NULL;
	}
	collector->generation++;
	return state;
}

int collector_watch(struct collector *collector, uint64_t id, int64_t seeded_tasks)
{
	struct cgroup_state *state = idmap_get(collector->states, id);

	/*
	 * Nothing to remember of a new cgroup without tasks: its state comes
	 * with its first counts (thousands of idle cgroups at start hold none).
	 */
	if (!state && !seeded_tasks)
		return 0;
	state = state ? state : state_of(collector, id);
	if (!state)
		return -ENOMEM;
	if (state->finished) {
		/* Taken for gone too early: if its map entries were dropped, counts start over. */
		if (state->forgotten)
			memset(&state->last, 0, sizeof(state->last));
		state->finished = false;
		state->persisted = false;
		state->forgotten = false;
	}
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

/* The maps and the CPU slots each hold part of a cgroup's counts: added up. */
static void take_usage(uint64_t id, const struct cgroup_usage *usage, void *ctx)
{
	struct cgroup_state *state = state_of(ctx, id);

	if (!state)
		return;
	state->in_maps = true;
	state->now.cpu_ns += usage->cpu_ns;
	state->now.disk_read_bytes += usage->disk_read_bytes;
	state->now.disk_write_bytes += usage->disk_write_bytes;
	state->now.forks += usage->forks;
	state->now.execs += usage->execs;
	state->tasks = usage->tasks;
}

static void take_net(uint64_t id, const struct net_usage *usage, void *ctx)
{
	struct cgroup_state *state = state_of(ctx, id);

	if (!state)
		return;
	state->in_maps = true;
	state->now.rx_bytes += usage->rx_bytes;
	state->now.tx_bytes += usage->tx_bytes;
	state->now.rx_packets += usage->rx_packets;
	state->now.tx_packets += usage->tx_packets;
	state->now.connects += usage->connects;
}

static void take_pending(uint64_t id, const struct pending_usage *pending, void *ctx)
{
	struct cgroup_state *state = state_of(ctx, id);

	if (!state)
		return;
	state->in_slots = true;
	state->now.cpu_ns += pending->cpu_ns;
	state->now.disk_read_bytes += pending->disk_read_bytes;
	state->now.disk_write_bytes += pending->disk_write_bytes;
	state->now.rx_bytes += pending->rx_bytes;
	state->now.tx_bytes += pending->tx_bytes;
	state->now.rx_packets += pending->rx_packets;
	state->now.tx_packets += pending->tx_packets;
	state->now.connects += pending->connects;
}

static void take_moved(uint64_t id, void *ctx)
{
	struct collector *collector = ctx;
	struct cgroup_state *state;

	if (!id) {
		collector->moved_unknown = true;
		return;
	}
	/* Only a cgroup seen before can be missing counts it had. */
	state = idmap_get(collector->states, id);
	if (state)
		state->moved = true;
}

/* now - last per counter, never negative; last keeps the highest value seen. */
static void advance(uint64_t *last, uint64_t now, uint64_t *delta)
{
	*delta = now > *last ? now - *last : 0;
	if (now > *last)
		*last = now;
}

/* True when any counter moved. */
static bool compute_delta(struct cgroup_state *state, struct usage_sample *delta)
{
	bool changed = false;
	size_t i;

	for (i = 0; i < USAGE_SAMPLE_FIELDS; i++) {
		advance(&state->last.field[i], state->now.field[i], &delta->field[i]);
		changed |= delta->field[i] != 0;
	}
	return changed;
}

/* Did this tick's read perhaps miss a batch of @state's counts on its way to the maps? */
static bool maybe_moved(const struct collector *collector, const struct cgroup_state *state)
{
	return state->moved || collector->moved_unknown;
}

/*
 * A cgroup whose final counts went out: what still reaches the maps from a
 * CPU slot was counted then, so it is dropped; the state goes once no slot
 * holds a batch of it, nor moved one this tick. True when the state was
 * freed.
 */
static bool settle_finished(struct collector *collector, struct cgroup_state *state)
{
	/* Not before a restart state holds its final counts (collector_hold_forgets). */
	if (collector->hold_forgets && !state->persisted)
		return false;
	if (state->in_maps) {
		probes_forget_cgroup(collector->probes, state->id);
		state->forgotten = true;
	}
	if (state->in_slots || state->in_maps || maybe_moved(collector, state))
		return false;
	idmap_remove(collector->states, state->id);
	free(state);
	return true;
}

void collector_report_again(struct collector *collector)
{
	struct cgroup_state *state;
	size_t cursor = 0;

	while ((state = idmap_next(collector->states, &cursor, NULL)))
		state->reported_tasks = 0;
}

int collector_tick(struct collector *collector, collect_fn fn, void *ctx)
{
	struct cgroup_state *state;
	struct usage_sample delta;
	size_t cursor = 0;
	uint64_t id;
	int64_t tasks;
	bool changed;
	int err;

	while ((state = idmap_next(collector->states, &cursor, NULL))) {
		memset(&state->now, 0, sizeof(state->now));
		state->tasks = 0;
		state->in_maps = false;
		state->in_slots = false;
		state->moved = false;
	}
	collector->moved_unknown = false;
	/* The maps between a mark of the slots and their read: see probes_read_pending(). */
	probes_mark_pending(collector->probes);
	err = probes_read_usage(collector->probes, take_usage, collector);
	if (err)
		return err;
	err = probes_read_net(collector->probes, take_net, collector);
	if (err)
		return err;
	probes_read_pending(collector->probes, take_pending, take_moved, collector);

	cursor = 0;
	while ((state = idmap_next(collector->states, &cursor, &id))) {
		if (state->finished) {
			settle_finished(collector, state);
			continue;
		}
		if (!state->in_maps && !state->in_slots && !state->retired &&
		    !state->seeded_tasks) {
			/* Nothing in the maps or slots, nothing to remember: drop the state. */
			idmap_remove(collector->states, id);
			free(state);
			continue;
		}
		/*
		 * The final counts wait for a read that surely holds them all:
		 * a removed cgroup has no tasks left to start batches (only
		 * writeback of its pages, on pure v2 hosts), so one of the
		 * next reads will.
		 */
		if (state->retired && maybe_moved(collector, state))
			continue;
		changed = compute_delta(state, &delta);
		tasks = state->retired ? 0 : state->tasks + state->seeded_tasks;
		/* Most cgroups of a node are idle most of the time: nothing to say. */
		if (!changed && tasks == state->reported_tasks && !state->retired)
			continue;
		fn(id, &delta, tasks - state->reported_tasks, state->retired, ctx);
		state->reported_tasks = tasks;
		if (state->retired) {
			if (!collector->hold_forgets) {
				probes_forget_cgroup(collector->probes, id);
				state->forgotten = true;
			}
			state->finished = true;
			state->retired = false;
			collector->generation++;
		}
	}
	return 0;
}

int collector_each(const struct collector *collector, collector_each_fn fn, void *ctx)
{
	struct cgroup_state *state;
	size_t cursor = 0;
	int err;

	while ((state = idmap_next(collector->states, &cursor, NULL))) {
		err = fn(state->id, &state->last, state->seeded_tasks, state->finished, ctx);
		if (err)
			return err;
	}
	return 0;
}

int collector_restore(struct collector *collector, uint64_t id, const struct usage_sample *last,
		      int64_t seeded_tasks, bool finished)
{
	struct cgroup_state *state = state_of(collector, id);

	if (!state)
		return -ENOMEM;
	state->last = *last;
	state->seeded_tasks = seeded_tasks;
	/* Its final counts are in the state it came from: nothing holds its entries. */
	state->finished = finished;
	state->persisted = finished;
	return 0;
}

void collector_hold_forgets(struct collector *collector)
{
	collector->hold_forgets = true;
}

void collector_persisted(struct collector *collector)
{
	struct cgroup_state *state;
	size_t cursor = 0;

	while ((state = idmap_next(collector->states, &cursor, NULL)))
		state->persisted = state->finished;
}

uint64_t collector_generation(const struct collector *collector)
{
	return collector->generation;
}
