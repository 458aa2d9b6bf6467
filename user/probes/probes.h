/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side: loads and attaches bpf/usage.bpf.c, bpf/net.bpf.c,
 * bpf/software.bpf.c and bpf/sockets.bpf.c, and reads their maps, the per-CPU batches of CPU
 * time and their event streams.
 */
#ifndef ABUSEWATCH_PROBES_H
#define ABUSEWATCH_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "net_events.h"
#include "software_events.h"
#include "socket_events.h"
#include "usage.h"
#include "wire_events.h"

struct probes;

/* Called for each destination a cgroup connects to (at most once a second each). */
typedef void (*connect_event_fn)(const struct connect_event *event, void *ctx);

/* Called for each exec and miner behaviour of a task outside the root cgroup. */
typedef void (*software_event_fn)(const struct software_event *event, void *ctx);

/* Called for each raw or packet socket of a cgroup with a raw-socket policy. */
typedef void (*raw_socket_event_fn)(const struct raw_socket_event *event, void *ctx);
/* Called for each stratum method or pool domain a tenant's socket sent (wire_events.h). */
typedef void (*wire_event_fn)(const struct wire_event *event, void *ctx);

struct probes_options {
	const char *v2_root;		/* mount point of the cgroup v2 tree */
	uint64_t root_cgroup_id;
	connect_event_fn on_connect;	/* NULL: destinations are dropped */
	software_event_fn on_software;	/* NULL: software events are dropped */
	raw_socket_event_fn on_raw_socket;	/* NULL: raw-socket events are dropped */
	wire_event_fn on_wire;		/* NULL: wire events are dropped */
	/* Command-line markers searched at exec (bit i of argv_markers = [i]). */
	const struct argv_marker *argv_markers;
	size_t argv_marker_count;	/* at most AW_ARGV_MARKERS_MAX */
	/*
	 * Where to pin the probes so that they go on counting while no agent
	 * runs (pins.h); NULL: they go with the agent.
	 */
	const char *pin_dir;
	/* The pinned probes' instance the restart state belongs to (PINS_INSTANCE_LEN bytes); NULL: none. */
	const uint8_t *instance;
};

/* Called for each v2 cgroup created, removed or renamed. */
typedef void (*cgroup_event_fn)(const struct cgroup_event *event, void *ctx);

/*
 * Loads and attaches everything. On failure returns -errno and writes a
 * sentence saying why (not root, no BTF, missing capability, old kernel)
 * into @why.
 */
int probes_load(const struct probes_options *options, cgroup_event_fn on_event, void *ctx,
		struct probes **out, char *why, size_t whylen);
void probes_destroy(struct probes *probes);

/* Epoll-able fd of the cgroup, connect and software event ring buffers; a drain that never blocks. */
int probes_event_fd(const struct probes *probes);
/* Events handled (>= 0), or -errno. */
int probes_drain_events(struct probes *probes);
/*
 * After a drain that handled @drained events: true when the caller must
 * drain again within AW_DRAIN_INTERVAL_NS (events came lately, or an exec
 * is writing one), as the exec probe will not wake it; false when the
 * software ring buffer stayed empty AW_DRAIN_IDLE_ROUNDS drains in a row
 * and the next exec wakes the caller again.
 */
bool probes_events_settle(struct probes *probes, int drained);

/*
 * Which execs the exec probe reports from now on (software_events.h).
 * Returns once the probe uses them; until then, and if it fails (-errno),
 * it reports every exec.
 */
int probes_set_exec_interest(struct probes *probes, const struct exec_interest *interest);

/*
 * Whether the egress probe looks for mining on the wire (wire_events.h):
 * while some software policy has builtin:miners. Off until called.
 */
void probes_set_wire_interest(struct probes *probes, bool wanted);

/* The executable @key was judged by the policies of @generation (judged_exes). 0 or -errno. */
int probes_mark_judged(struct probes *probes, const struct exe_key *key, uint32_t generation);

/*
 * The raw-socket policy of cgroup @cgroup_id (enum raw_socket_action;
 * RAW_SOCKETS_ALLOW removes it), written in pass @generation. 0 or -errno.
 */
int probes_set_raw_socket_policy(struct probes *probes, uint64_t cgroup_id, uint32_t action,
				 uint32_t generation);
/* Removes every raw-socket policy not written in pass @generation. Returns how many. */
int probes_prune_raw_socket_policies(struct probes *probes, uint32_t generation);
/*
 * A pass number no entry has (one more than the highest): pinned maps
 * taken up from the last agent keep its passes' entries.
 */
uint32_t probes_raw_socket_next_pass(struct probes *probes);

typedef void (*usage_fn)(uint64_t cgroup_id, const struct cgroup_usage *usage, void *ctx);
typedef void (*net_fn)(uint64_t cgroup_id, const struct net_usage *usage, void *ctx);

/* Every entry of the per-cgroup hash, in batches. 0 or -errno. */
int probes_read_usage(struct probes *probes, usage_fn fn, void *ctx);
/* Every entry of the network map, summed over CPUs. 0 or -errno. */
int probes_read_net(struct probes *probes, net_fn fn, void *ctx);
/*
 * What one CPU counted for a cgroup and has not yet moved to the maps
 * (struct cpu_slot, bio_slot, skb_slot and connect_slot in usage.h).
 */
struct pending_usage {
	uint64_t cpu_ns;
	uint64_t disk_read_bytes;
	uint64_t disk_write_bytes;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t connects;
};

typedef void (*pending_fn)(uint64_t cgroup_id, const struct pending_usage *pending, void *ctx);
/* A batch of @cgroup_id moved to the maps while they were read (0: of a cgroup not known). */
typedef void (*moved_fn)(uint64_t cgroup_id, void *ctx);

/* Before reading the maps: remembers which batch each CPU slot holds. */
void probes_mark_pending(struct probes *probes);
/*
 * After reading the maps (probes_read_usage() and probes_read_net()):
 * @pending for each batch still in a CPU slot, which the maps read did not
 * hold; @moved for each batch that probes_mark_pending() saw and that has
 * moved to the maps since, so that the maps read may or may not have held
 * it. Nothing is ever counted twice; a batch that moved is missed for one
 * read at most. 0.
 */
int probes_read_pending(struct probes *probes, pending_fn pending, moved_fn moved, void *ctx);

/*
 * Tells the disk probe whether the io controller is on the v2 hierarchy
 * (it can move when a v1 hierarchy is mounted or unmounted); once an
 * interval is plenty.
 */
void probes_check_io(struct probes *probes);

/* Drops the map entries of a removed cgroup once its final values were read. */
void probes_forget_cgroup(struct probes *probes, uint64_t cgroup_id);

/*
 * Charges the tasks already in a cgroup when the probes start (the kernel
 * charges only tasks it sees fork or move). Returns how many were charged.
 */
int probes_seed_tasks(struct probes *probes, int cgroup_fd, uint64_t cgroup_id);

/*
 * Whether the maps were taken up from the pins of the last agent (its
 * counts go on, also what the probes counted while no agent ran), or are new.
 */
bool probes_resumed(const struct probes *probes);
/*
 * The pinned probes' instance (PINS_INSTANCE_LEN bytes): of the maps taken
 * up, or of new ones completely pinned; NULL when a restart will not find
 * these probes.
 */
const uint8_t *probes_instance(const struct probes *probes);

/* Kernel events not counted: full maps, failed storage, ring buffer overruns. */
uint64_t probes_lost_events(const struct probes *probes);

/*
 * Of those, cgroup events (mkdir, rmdir, rename) the ring buffer had no
 * room for: the cgroup tree must be scanned again to know what changed.
 */
uint64_t probes_lost_cgroup_events(const struct probes *probes);

#endif
