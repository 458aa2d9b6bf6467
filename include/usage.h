/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-cgroup usage counters shared by bpf/usage.bpf.c, bpf/net.bpf.c and
 * user/probes/collect.c. Only __u32/__u64 types: this header is included by both
 * BPF and user code. Every counter is cumulative since the probes were
 * loaded; userspace turns them into deltas.
 */
#ifndef ABUSEWATCH_USAGE_H
#define ABUSEWATCH_USAGE_H

/* Upper bound of CPUs the per-CPU slots cover. */
#define AW_MAX_CPUS 1024
/*
 * A CPU slot's alignment, a cache line: in an array of slots no two CPUs
 * share a line, and nothing else placed before the array does either.
 */
#define AW_SLOT_ALIGN 64
/* Default sizes of the maps keyed by cgroup id (userspace may resize). */
#define AW_MAX_CGROUPS 16384
/* Longest cgroup path carried in a cgroup event; longer ones are resolved by id. */
#define AW_CGROUP_PATH_MAX 448

/*
 * Counters keyed by cgroup v2 id (the kernfs node id, also the inode number
 * of the cgroup directory on 64-bit hosts). CPU time and disk bytes arrive
 * here in batches from the per-CPU slots (struct cpu_slot, struct bio_slot).
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
 * socket's cgroup, connect() calls of the calling task's cgroup (in batches
 * from struct skb_slot and struct connect_slot).
 */
struct net_usage {
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 tx_packets;
	__u64 connects;		/* inet connect() calls, TCP and UDP, v4 and v6 */
};

/*
 * Per-CPU batches. The hottest probes (sched_switch, block_bio_queue,
 * cgroup_skb, cgroup/connect4|6) add what they count to a slot of their CPU while the
 * CPU keeps working for the same cgroup (pending_id): a plain add to a
 * line no other CPU writes, no map lookup, no atomic. The batch goes to the
 * maps keyed by cgroup id only when the CPU counts for another cgroup, and
 * userspace adds what is still pending to what it reads from the maps
 * (probes_read_pending() in user/probes/probes.c), so totals stay exact.
 * A cache line each (AW_SLOT_ALIGN), so that CPUs never share one on the
 * hot path.
 *
 * Moving a batch to the maps is bracketed by flushes: odd while the batch
 * moves, even again once the slot holds the next one. A reader takes a
 * slot's id and amounts only when flushes was even and unchanged around
 * them: that batch was not in the maps it read before. A flushes that
 * changed since the reader marked it before reading the maps tells it that
 * the batch it marked moved meanwhile, so the maps it read may lack it for
 * this once (a removed cgroup's last count then waits a tick). The
 * stores of a move must become visible to other CPUs in program order:
 * flush_begin() and flush_end() (bpf/slots.bpf.h) are plain stores with
 * compiler barriers on x86, whose stores keep their order (TSO), and fully
 * ordered atomic exchanges elsewhere (arm64: SWPAL). Userspace loads
 * flushes with acquire and fences its other loads (read_slot() in
 * user/probes/probes.c), which costs nothing on x86 either.
 *
 * Only the slot's CPU writes it (but for cpu_slot's hint, see below):
 * sched_switch and block_bio_queue run with preemption off and never nest
 * on a CPU; cgroup_skb and connect() may be preempted or interrupted, so
 * their slots are taken with a compare-and-swap first (struct skb_slot,
 * struct connect_slot).
 */

/*
 * CPU time. Also the task last switched in and its runtime then, so that
 * its switch-out charges exactly what it ran.
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
	__u64 flushes;
	__u64 pad[2];
} __attribute__((aligned(AW_SLOT_ALIGN)));

/*
 * Disk bytes of bios queued on this CPU. Compared by cgroup id, never by
 * address: on pure v2 hosts writeback still charges a removed cgroup, whose
 * memory may later hold another one.
 */
struct bio_slot {
	__u64 pending_id;
	__u64 pending_read_bytes;
	__u64 pending_write_bytes;
	__u64 flushes;
	__u64 pad[4];
} __attribute__((aligned(AW_SLOT_ALIGN)));

/*
 * Bytes and packets of the sockets of one cgroup, in and out, passing
 * cgroup_skb on this CPU (see bpf/net.bpf.c). One slot for both directions
 * and every context, taken first (busy 0 -> 1, a compare-and-swap): egress
 * runs in process context, where a preemptible kernel may switch to another
 * task that sends too (the program only has migration off), and softirq
 * runs ingress, and egress too (TCP ACKs, retransmits), in the middle of
 * either. Slots per direction or per context would not be enough, as two
 * tasks' egress can interleave on one CPU; odd/even flushes alone only
 * tell a reader, not another writer, that a batch is moving. A program
 * that finds the slot taken counts in the maps directly: every packet is
 * counted once, whoever interrupts whom. The compare-and-swap is on a line
 * this CPU owns: measured, it costs a few ns of the ~20 the probe adds.
 *
 * Two batches, of two cgroups: on loopback a packet's egress and ingress
 * both run on the sender's CPU, the first charged to the sender's socket,
 * the second to the receiver's, so a tenant talking to a server in another
 * cgroup alternates cgroups on every packet, and a single batch moved to
 * the maps on every one (a hash lookup and four atomic adds: measured with
 * 16-byte UDP to another cgroup, egress 2.3x and ingress 2.1x the empty
 * program, now 1.6x and 1.4x, as one tenant alone, which is unchanged). A
 * packet of a third cgroup moves the batch not counted in last (recent
 * says which was). 32-bit amounts keep the slot in one cache line; a batch
 * moves to the maps once one reaches 2^31 (2 GiB of one cgroup's packets
 * on this CPU with no packet of two others in between), before an add
 * could wrap it. Every move of either batch is bracketed by the slot's
 * flushes, and userspace reads each batch as a slot kind of its own
 * (SLOT_SKB, SLOT_SKB_OTHER in user/probes/probes.c) under the same rule.
 */
struct skb_batch {
	__u64 id;
	__u32 rx_bytes;
	__u32 tx_bytes;
	__u32 rx_packets;
	__u32 tx_packets;
};

#define AW_SKB_BATCHES 2

struct skb_slot {
	__u32 busy;
	__u32 flushes;
	struct skb_batch batches[AW_SKB_BATCHES];
	__u32 recent;		/* the index of the batch last counted in */
	__u32 pad;
} __attribute__((aligned(AW_SLOT_ALIGN)));

/*
 * connect() calls made on this CPU, and the destination last sent to
 * userspace for the pending cgroup (see bpf/net.bpf.c): a flood of calls
 * to one destination then touches no map at all. connect() runs with
 * preemption on, so a call first takes the slot (busy 0 -> 1, a
 * compare-and-swap); a call that finds it taken counts in the maps
 * directly.
 */
struct connect_slot {
	__u32 busy;
	__u32 flushes;
	__u64 pending_id;
	__u64 pending_connects;
	/* Sent for pending_id at last_sent_ns (0: nothing remembered). */
	__u8 last_addr[16];	/* as in struct destination_key */
	__u16 last_port;
	__u16 unused16;
	__u32 unused32;
	__u64 last_sent_ns;
	/* The jiffy in which it was last found sent less than a second ago. */
	__u64 checked_jiffies;
} __attribute__((aligned(AW_SLOT_ALIGN)));

/*
 * Each CPU's last probe of a packet socket sent on to userspace, and when
 * (bpf/net.bpf.c): a stream of probes to one destination (a flood) is let
 * by without a map lookup while the LRU map of recent destinations would
 * let it by too. net_dev_queue runs with bottom halves off: nothing else
 * uses a CPU's memo meanwhile. Userspace never reads it.
 */
struct probe_memo {
	__u64 cgroup_id;
	__u8 addr[16];		/* as in struct destination_key */
	__u16 port;
	__u16 unused16;
	__u32 unused32;
	__u64 sent_ns;
	/* The jiffy in which it was last found sent less than a second ago. */
	__u64 checked_jiffies;
} __attribute__((aligned(AW_SLOT_ALIGN)));

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
