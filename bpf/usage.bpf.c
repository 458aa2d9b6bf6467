// SPDX-License-Identifier: GPL-2.0
/*
 * Per-cgroup CPU time, disk bytes, forks, execs and live tasks, keyed by the
 * cgroup v2 of the task that did the work. Also streams v2 cgroup creation,
 * removal and renames so that userspace never has to rescan cgroupfs.
 *
 * CPU time is the hottest path on a build node. At each switch the runtime
 * of the incoming task is remembered in a per-CPU slot; at its switch-out the
 * scheduler's own sum_exec_runtime minus that value is charged. This is exact
 * (unlike se.prev_sum_exec_runtime, which the scheduler resets when it
 * re-picks the running task without a switch), reads no clock and takes no
 * lock. The charge is batched in the same slot while the CPU keeps running
 * the same cgroup (a plain add to a line no other CPU writes: no helper, no
 * atomic); only when it charges another cgroup does the batch go to the
 * hash, with one lookup. Userspace adds the batches to what it reads.
 *
 * Disk bytes are batched the same way, per CPU and cgroup (struct
 * bio_slot): a stream of bios from one tenant costs a compare and an add
 * each instead of a hash lookup and an atomic add on a line every CPU
 * writing for that tenant shares.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "maps.bpf.h"
#include "slots.bpf.h"
#include "usage.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by userspace before load: how many CPU slots can be in use. */
const volatile __u32 targ_nr_cpus = AW_MAX_CPUS;
/*
 * Whether the io controller is on the v2 hierarchy, so that a bio's blkg
 * may name a v2 cgroup; kept current by userspace (probes_check_io()). On
 * hybrid hosts it is on v1, and the probe does not follow four pointers
 * per bio to find that out again.
 */
volatile __u32 io_on_v2 = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AW_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cgroup_usage);
} usage_by_id SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_charge);
} task_charges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cgroup_events SEC(".maps");

/* Read by userspace through the skeleton's .bss; atomics keep CPUs apart. */
__u64 lost_events[LOST_REASON_COUNT];

/* The task last switched in on each CPU and its batch of CPU time (see struct cpu_slot). */
struct cpu_slot cpu_slots[AW_MAX_CPUS];
/* Each CPU's batch of disk bytes (see struct bio_slot). */
struct bio_slot bio_slots[AW_MAX_CPUS];

#define REQ_OP_BITS_MASK 0xff

static __always_inline void count_lost(enum lost_reason reason)
{
	__sync_fetch_and_add(&lost_events[reason], 1);
}

/* The counters of cgroup @id, created on first use; NULL (counted) when the map is full. */
static __always_inline struct cgroup_usage *usage_of(__u64 id)
{
	struct cgroup_usage zero = {};
	struct cgroup_usage *usage;

	usage = lookup_or_create(&usage_by_id, &id, &zero);
	if (!usage)
		count_lost(LOST_USAGE_MAP_FULL);
	return usage;
}

static __always_inline bool is_v2_root(struct cgroup *cgrp)
{
	return cgrp->level == 0;
}

static __always_inline bool on_v2_hierarchy(struct cgroup *cgrp)
{
	/* The default (v2) hierarchy has id 0; v1 controllers have their own. */
	return cgrp->root->hierarchy_id == 0;
}

/* SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE: the classes that keep se.prev_sum_exec_runtime. */
static __always_inline bool is_fair_policy(unsigned int policy)
{
	return policy == 0 || policy == 3 || policy == 5;
}

static __always_inline void charge_cpu(struct cpu_slot *slot, struct task_struct *task,
				       __u64 delta_ns)
{
	struct cgroup *cgrp = task->cgroups->dfl_cgrp;
	struct cgroup_usage *usage;
	__u64 id;

	/* The hot path: the same cgroup as last time on this CPU (never the root). */
	if ((__u64)cgrp == slot->pending_cgroup) {
		slot->pending_ns += delta_ns;
		return;
	}
	/* Nothing in the root is a tenant: skip the busiest cgroup of all. */
	if (!cgrp || is_v2_root(cgrp) || !delta_ns)
		return;
	id = cgrp->kn->id;
	if (id == slot->pending_id) {
		/* Its hint was cleared (see watch_rmdir): the same batch goes on. */
		slot->pending_cgroup = (__u64)cgrp;
		slot->pending_ns += delta_ns;
		return;
	}
	/*
	 * Another cgroup on this CPU: the batch of the last one goes to its
	 * counters, bracketed by flushes for userspace (see struct cpu_slot).
	 */
	flush_begin(slot);
	if (slot->pending_ns) {
		usage = usage_of(slot->pending_id);
		if (usage)
			__sync_fetch_and_add(&usage->cpu_ns, slot->pending_ns);
	}
	slot->pending_ns = delta_ns;
	slot->pending_id = id;
	flush_end(slot);
	slot->pending_cgroup = (__u64)cgrp;
}

/*
 * The CPU time of @task's current run when its switch-in was not seen (the
 * probe was attached while it ran, or the program was not run for that
 * switch: on 6.18 a few switches a second go unseen, always with a thread of
 * the VM's pid 1 as prev, and a burner switched in then would lose every
 * slice until its next seen switch-in). The scheduler stamps each real
 * switch-in in sched_info.last_arrival with the run queue clock, which is
 * also fresh at this switch-out; the difference is the run, capped by the
 * task's whole runtime. prev_sum_exec_runtime is only a last resort: it is
 * reset when the running task is re-picked without a switch.
 */
static __always_inline __u64 slice_since_arrival(struct task_struct *task, __u64 runtime_ns)
{
	__u64 arrival = 0, now = 0, slice;

	if (!is_fair_policy(task->policy))
		return 0;
	if (bpf_core_field_exists(task->sched_info) && bpf_core_field_exists(task->se.cfs_rq)) {
		arrival = task->sched_info.last_arrival;
		now = task->se.cfs_rq->rq->clock;
	}
	if (arrival && now > arrival) {
		slice = now - arrival;
		return slice < runtime_ns ? slice : runtime_ns;
	}
	return runtime_ns - task->se.prev_sum_exec_runtime;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(account_cpu, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct cpu_slot *slot;
	__u64 runtime_ns;

	if (cpu >= AW_MAX_CPUS)
		return 0;
	slot = &cpu_slots[cpu];
	/* pid 0 is the idle task, never charged. */
	if (prev->pid) {
		runtime_ns = prev->se.sum_exec_runtime;
		/*
		 * The task switched in here last, by address: a running task
		 * cannot be freed, and next's pid would cost a cache line.
		 */
		if (slot->task == (__u64)prev)
			charge_cpu(slot, prev, runtime_ns - slot->runtime_ns);
		else
			charge_cpu(slot, prev, slice_since_arrival(prev, runtime_ns));
	}
	slot->task = (__u64)next;
	slot->runtime_ns = next->se.sum_exec_runtime;
	return 0;
}

/*
 * Moves @slot's batch to its cgroup's counters and starts one for cgroup
 * @id, bracketed by flushes for userspace (see struct cpu_slot). The probe
 * runs with preemption off and never nests on a CPU (a nested run is
 * skipped by the kernel), so plain stores to the slot suffice.
 */
static __always_inline void flush_bio_batch(struct bio_slot *slot, __u64 id)
{
	struct cgroup_usage *usage;

	flush_begin(slot);
	if (slot->pending_id && (slot->pending_read_bytes || slot->pending_write_bytes)) {
		usage = usage_of(slot->pending_id);
		if (usage) {
			__sync_fetch_and_add(&usage->disk_read_bytes, slot->pending_read_bytes);
			__sync_fetch_and_add(&usage->disk_write_bytes, slot->pending_write_bytes);
		}
	}
	slot->pending_read_bytes = 0;
	slot->pending_write_bytes = 0;
	slot->pending_id = id;
	flush_end(slot);
}

SEC("tp_btf/block_bio_queue")
int BPF_PROG(account_bio, struct bio *bio)
{
	__u32 op = bio->bi_opf & REQ_OP_BITS_MASK;
	__u32 bytes = bio->bi_iter.bi_size;
	struct cgroup *cgrp = NULL;
	struct blkcg_gq *blkg;
	struct bio_slot *slot;
	__u32 cpu;
	__u64 id;

	if ((op != REQ_OP_READ && op != REQ_OP_WRITE) || !bytes)
		return 0;
	/*
	 * Writeback is issued by kworkers on behalf of the cgroup that dirtied
	 * the pages; the bio's blkg names that cgroup, but only on the v2
	 * hierarchy (on hybrid hosts it is a v1 blkio cgroup, useless here:
	 * checked again per bio, as the controller may move).
	 */
	blkg = io_on_v2 ? bio->bi_blkg : NULL;
	if (blkg) {
		cgrp = blkg->blkcg->css.cgroup;
		if (cgrp && (!on_v2_hierarchy(cgrp) || is_v2_root(cgrp)))
			cgrp = NULL;
	}
	if (!cgrp)
		cgrp = bpf_get_current_task_btf()->cgroups->dfl_cgrp;
	if (!cgrp || is_v2_root(cgrp))
		return 0;
	id = cgrp->kn->id;
	cpu = bpf_get_smp_processor_id();
	if (cpu >= AW_MAX_CPUS)
		return 0;
	slot = &bio_slots[cpu];
	/* Another cgroup's bio on this CPU: the last one's batch goes to its counters. */
	if (slot->pending_id != id)
		flush_bio_batch(slot, id);
	if (op == REQ_OP_WRITE)
		slot->pending_write_bytes += bytes;
	else
		slot->pending_read_bytes += bytes;
	return 0;
}

/* Charges one live task to cgroup @id and remembers where, for its exit. */
static __always_inline void charge_task(struct task_struct *task, __u64 id,
					struct cgroup_usage *usage)
{
	struct task_charge *charge;

	charge = bpf_task_storage_get(&task_charges, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!charge) {
		count_lost(LOST_TASK_STORAGE);
		return;
	}
	charge->cgroup_id = id;
	__sync_fetch_and_add(&usage->tasks, 1);
}

static __always_inline void uncharge_task(struct task_charge *charge)
{
	struct cgroup_usage *usage;

	usage = bpf_map_lookup_elem(&usage_by_id, &charge->cgroup_id);
	if (usage)
		__sync_fetch_and_add(&usage->tasks, -1);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(account_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cgroup *cgrp = child->cgroups->dfl_cgrp;
	struct cgroup_usage *usage;
	__u64 id;

	if (!cgrp || is_v2_root(cgrp))
		return 0;
	id = cgrp->kn->id;
	usage = usage_of(id);
	if (!usage)
		return 0;
	/* Threads count as tasks, but only new processes count as forks. */
	if (child->pid == child->tgid)
		__sync_fetch_and_add(&usage->forks, 1);
	charge_task(child, id, usage);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(account_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct cgroup *cgrp = task->cgroups->dfl_cgrp;
	struct cgroup_usage *usage;

	if (!cgrp || is_v2_root(cgrp))
		return 0;
	usage = usage_of(cgrp->kn->id);
	if (usage)
		__sync_fetch_and_add(&usage->execs, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(account_exit, struct task_struct *task, bool group_dead)
{
	struct task_charge *charge;

	/* Uncharge where the task was charged, even if it moved since. */
	charge = bpf_task_storage_get(&task_charges, task, 0, 0);
	if (!charge)
		return 0;
	uncharge_task(charge);
	bpf_task_storage_delete(&task_charges, task);
	return 0;
}

/*
 * A task moved to another cgroup: move its charge. The tracepoint fires once
 * per move with the thread-group leader; other threads of a process moved
 * whole stay charged where they were until they exit (see README).
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(account_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	struct task_charge *charge;
	struct cgroup_usage *usage;
	__u64 id;

	if (!on_v2_hierarchy(dst))
		return 0;
	id = dst->kn->id;
	charge = bpf_task_storage_get(&task_charges, task, 0, 0);
	if (charge) {
		if (charge->cgroup_id == id)
			return 0;
		uncharge_task(charge);
		if (is_v2_root(dst)) {
			bpf_task_storage_delete(&task_charges, task);
			return 0;
		}
	}
	if (is_v2_root(dst))
		return 0;
	usage = usage_of(id);
	if (usage)
		charge_task(task, id, usage);
	return 0;
}

static __always_inline void emit_cgroup_event(struct cgroup *cgrp, const char *path, __u32 kind)
{
	struct cgroup_event *event;

	event = bpf_ringbuf_reserve(&cgroup_events, sizeof(*event), 0);
	if (!event) {
		count_lost(LOST_CGROUP_EVENTS);
		return;
	}
	event->id = cgrp->kn->id;
	event->kind = kind;
	event->level = cgrp->level;
	if (bpf_probe_read_kernel_str(event->path, sizeof(event->path), path) < 0)
		event->path[0] = '\0';
	bpf_ringbuf_submit(event, 0);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(watch_mkdir, struct cgroup *cgrp, const char *path)
{
	if (on_v2_hierarchy(cgrp))
		emit_cgroup_event(cgrp, path, CGROUP_EVENT_MKDIR);
	return 0;
}

SEC("tp_btf/cgroup_rename")
int BPF_PROG(watch_rename, struct cgroup *cgrp, const char *path)
{
	if (on_v2_hierarchy(cgrp))
		emit_cgroup_event(cgrp, path, CGROUP_EVENT_RENAME);
	return 0;
}

/*
 * A removed cgroup's batches may still sit in CPU slots: userspace counts
 * them in its final read, and drops what reaches the maps after (collect.c).
 * Its address must stop matching the slots' hints before the memory can
 * hold another cgroup. The cgroup is empty, so no CPU is charging it; a CPU
 * that changes its slot meanwhile only takes the slower path once more.
 */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(watch_rmdir, struct cgroup *cgrp, const char *path)
{
	__u32 cpu;

	if (!on_v2_hierarchy(cgrp))
		return 0;
	for (cpu = 0; cpu < targ_nr_cpus && cpu < AW_MAX_CPUS; cpu++) {
		if (cpu_slots[cpu].pending_cgroup == (__u64)cgrp)
			cpu_slots[cpu].pending_cgroup = 0;
	}
	emit_cgroup_event(cgrp, path, CGROUP_EVENT_RMDIR);
	return 0;
}
