/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-cgroup usage counters shared by bpf/usage.bpf.c, bpf/net.bpf.c and
 * user/probes/collect.c. Only __u32/__u64 types: this header is included by both
 * BPF and user code. Every counter is cumulative since the probes were
 * loaded; userspace turns them into deltas.
 */
#ifndef ABUSEWATCH_USAGE_H
#define ABUSEWATCH_USAGE_H

/* Upper bound of CPUs the per-CPU switch-in slots cover. */
#define AW_MAX_CPUS 1024
/* Default sizes of the maps keyed by cgroup id (userspace may resize). */
#define AW_MAX_CGROUPS 16384
/* Longest cgroup path carried in a cgroup event; longer ones are resolved by id. */
#define AW_CGROUP_PATH_MAX 448

/*
 * Counters keyed by cgroup v2 id (the kernfs node id, also the inode number
 * of the cgroup directory on 64-bit hosts). CPU time arrives here in
 * batches from the per-CPU slots (struct cpu_slot).
 */
struct cgroup_usage {
	__u64 cpu_ns;
	__u64 disk_read_bytes;
	__u64 disk_write_bytes;
	__u64 forks;		/* new processes, not threads */
	__u64 execs;
	__s64 tasks;		/* live tasks charged here (see usage.bpf.c) */
};

/*
 * Per-CPU network counters keyed by cgroup v2 id: bytes and packets of the
 * socket's cgroup, connect() calls of the calling task's cgroup.
 */
struct net_usage {
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 tx_packets;
	__u64 connects;		/* inet connect() calls, TCP and UDP, v4 and v6 */
};

/*
 * Per CPU: the task last switched in and its runtime then, so that its
 * switch-out charges exactly what it ran; and the CPU time charged on this
 * CPU to one cgroup (pending_id) and not yet added to its counters. Runs of
 * the same cgroup on a CPU only add to pending_ns; it goes to the cgroup's
 * counters when the CPU charges another cgroup, and userspace adds what is
 * pending to its reads (see collect.c), so totals stay exact. A cache line
 * each, so that CPUs never share one on the hot path.
 */
struct cpu_slot {
	__u64 runtime_ns;
	__u64 task;		/* its address, as a tag */
	__u64 pending_id;
	__u64 pending_ns;
	/*
	 * The address of the pending cgroup, a hint for the hot path (one
	 * compare instead of following the cgroup to its id); cleared when
	 * that cgroup is removed, before its memory can be reused.
	 */
	__u64 pending_cgroup;
	__u64 pad[3];
};

/* Live-task bookkeeping in task storage: which cgroup a task is charged to. */
struct task_charge {
	__u64 cgroup_id;
};

/* Why a kernel event was not counted; summed into abusewatch_events_lost_total. */
enum lost_reason {
	LOST_USAGE_MAP_FULL,
	LOST_CPU_STORAGE,	/* unused since CPU time is batched per CPU; kept for the order */
	LOST_TASK_STORAGE,
	LOST_CGROUP_EVENTS,
	LOST_NET_MAP_FULL,
	LOST_REASON_COUNT,
};

enum cgroup_event_kind {
	CGROUP_EVENT_MKDIR = 1,
	CGROUP_EVENT_RMDIR = 2,
	CGROUP_EVENT_RENAME = 3,
};

/* A v2 cgroup came, went or was renamed; streamed through a ring buffer. */
struct cgroup_event {
	__u64 id;
	__u32 kind;
	__u32 level;
	char path[AW_CGROUP_PATH_MAX];	/* relative to the v2 root; "" if unknown */
};

#endif
