// SPDX-License-Identifier: GPL-2.0
/*
 * What programs tenants run, for user/rules/software.c: every exec (the file's
 * identity and path, the task's comm, whether the file is a memfd or
 * deleted, which command-line markers appear), and two miner behaviours:
 * opening an MSR device (/dev/cpu/N/msr) for writing, and writing a
 * huge-page sysctl. Nothing here blocks or refuses anything: the device
 * and sysctl programs always allow, and actions are userspace's.
 *
 * Privacy: the command line is searched here, where it is read, and only a
 * bit per marker leaves the kernel; the environment is never read.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "software_events.h"

char LICENSE[] SEC("license") = "GPL";

/* uapi enums bpf_devcg_acc_type / bpf_devcg_dev_type (not in vmlinux.h). */
#define DEVCG_ACC_WRITE 4
#define DEVCG_DEV_CHAR 2

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((void *)(ptr) - offsetof(type, member)))
#endif

#define NAME_BYTES 256		/* NAME_MAX + NUL */
#define PATH_SCRATCH (AW_EXE_PATH_MAX + NAME_BYTES)

/* Set by userspace before load: the markers, and the bitmap of their prefixes. */
const volatile __u32 targ_marker_count = 0;
const volatile struct argv_marker targ_markers[AW_ARGV_MARKERS_MAX] = {};
const volatile __u32 targ_marker_prefixes[65536 / 32] = {};

/* Tasks of the root cgroup belong to no tenant: not reported. */
const volatile __u64 targ_root_cgroup_id = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} software_events SEC(".maps");

/* Per-CPU room for the command line and the path being built. */
struct scratch {
	char args[AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN];
	char path[PATH_SCRATCH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

/* Events the ring buffer had no room for; read through the skeleton's .bss. */
__u64 software_lost_events;
/* When the exec probe last let the ring buffer wake its reader. */
__u64 last_wakeup_ns;

static __always_inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

struct argv_search {
	struct scratch *scratch;
	__u32 len;
	__u32 found;
};

/* Does marker @m start at @at? Case-insensitive for ASCII letters. */
static __always_inline bool marker_at(const char *args, __u32 at, __u32 len, __u32 m)
{
	__u32 marker_len = targ_markers[m].len, j;

	if (!marker_len || marker_len >= AW_ARGV_MARKER_LEN || at + marker_len > len)
		return false;
	for (j = 0; j < AW_ARGV_MARKER_LEN - 1; j++) {
		if (j >= marker_len)
			return true;
		if (lower(args[(at & (AW_ARGV_SCAN_MAX - 1)) + j]) != targ_markers[m].text[j])
			return false;
	}
	return true;
}

/* The markers that start at @at (a position the prefix bitmap let through). */
static __noinline void check_markers(struct argv_search *search, __u32 at)
{
	__u32 m;

	if (!search || at >= search->len)
		return;
	for (m = 0; m < AW_ARGV_MARKERS_MAX; m++) {
		if (m >= targ_marker_count)
			break;
		if (!(search->found & (1U << m)) && marker_at(search->scratch->args, at, search->len, m))
			search->found |= 1U << m;
	}
}

#define SEARCH_BLOCK 8

/*
 * bpf_loop callback over SEARCH_BLOCK positions: most start no marker, and
 * four bytes and one bit of the prefix bitmap say so (software_events.h).
 */
static long search_block(__u64 block, void *data)
{
	struct argv_search *search = data;
	const char *args = search->scratch->args;
	__u32 base = (block * SEARCH_BLOCK) & (AW_ARGV_SCAN_MAX - 1), at, key, i;

#pragma unroll
	for (i = 0; i < SEARCH_BLOCK; i++) {
		at = base + i;
		key = aw_marker_prefix_key(args[at], args[at + 1], args[at + 2], args[at + 3]);
		if (targ_marker_prefixes[key >> 5] & (1U << (key & 31)))
			check_markers(search, at);
	}
	return 0;
}

/* Searches the new program's arguments (its own memory, just written by exec). */
static __always_inline __u32 search_argv(struct task_struct *task, struct scratch *scratch,
					 __u32 *flags)
{
	struct argv_search search = { .scratch = scratch };
	struct mm_struct *mm = task->mm;
	unsigned long start, end;
	__u64 len;

	if (!targ_marker_count || !mm)
		return 0;
	start = mm->arg_start;
	end = mm->arg_end;
	if (end <= start)
		return 0;
	len = end - start;
	if (len > AW_ARGV_SCAN_MAX) {
		len = AW_ARGV_SCAN_MAX;
		*flags |= EXE_ARGV_TRUNCATED;
	}
	if (bpf_probe_read_user(scratch->args, len & (2 * AW_ARGV_SCAN_MAX - 1), (void *)start))
		return 0;
	/* Bytes after the last may be read as a prefix's: never a match, as checked. */
	search.len = len;
	bpf_loop((len + SEARCH_BLOCK - 1) / SEARCH_BLOCK, search_block, &search, 0);
	return search.found;
}

/*
 * The file's path, leaf first (see software_events.h), crossing mount
 * points up to the root of its mount namespace. Returns bytes used.
 */
static __always_inline __u32 build_path(struct file *file, struct scratch *scratch, __u32 *flags)
{
	struct dentry *dentry = file->f_path.dentry, *parent, *mnt_root;
	struct vfsmount *vfsmnt = file->f_path.mnt;
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt), *mnt_parent;
	__u32 off = 0, i;
	long n;

	for (i = 0; i < AW_EXE_PATH_DEPTH; i++) {
		mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root) {
			/* Top of this mount: continue from where it is mounted. */
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt)
				return off;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		if (off >= AW_EXE_PATH_MAX) {
			*flags |= EXE_PATH_TRUNCATED;
			return AW_EXE_PATH_MAX;
		}
		n = bpf_probe_read_kernel_str(scratch->path + (off & (AW_EXE_PATH_MAX - 1)),
					      NAME_BYTES, BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			return off;
		off += n;
		/* A dentry of no directory (memfd, other pseudo files): its name is all. */
		if (parent == dentry)
			return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
		dentry = parent;
	}
	*flags |= EXE_PATH_TRUNCATED;
	return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
}

static __always_inline bool is_memfd(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	char name[7];

	if (BPF_CORE_READ(dentry, d_parent) != dentry)
		return false;
	if (bpf_probe_read_kernel(name, sizeof(name) - 1, BPF_CORE_READ(dentry, d_name.name)))
		return false;
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':';
}

/* Kernels before 6.11 keep the times as struct timespec64 (6.6-6.10: __i_ctime). */
struct inode___timespec {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

static __always_inline void read_times(struct inode *inode, struct software_event *event)
{
	struct inode___timespec *old = (void *)inode;

	if (bpf_core_field_exists(inode->i_mtime_sec)) {
		event->mtime_sec = BPF_CORE_READ(inode, i_mtime_sec);
		event->mtime_nsec = BPF_CORE_READ(inode, i_mtime_nsec);
		event->ctime_sec = BPF_CORE_READ(inode, i_ctime_sec);
		/* Bit 31 marks a ctime that was queried (multigrain timestamps). */
		event->ctime_nsec = BPF_CORE_READ(inode, i_ctime_nsec) & ~(1U << 31);
		return;
	}
	event->mtime_sec = BPF_CORE_READ(old, i_mtime.tv_sec);
	event->mtime_nsec = BPF_CORE_READ(old, i_mtime.tv_nsec);
	if (bpf_core_field_exists(old->__i_ctime)) {
		event->ctime_sec = BPF_CORE_READ(old, __i_ctime.tv_sec);
		event->ctime_nsec = BPF_CORE_READ(old, __i_ctime.tv_nsec);
	} else {
		event->ctime_sec = BPF_CORE_READ(old, i_ctime.tv_sec);
		event->ctime_nsec = BPF_CORE_READ(old, i_ctime.tv_nsec);
	}
}

/*
 * A build runs thousands of execs a second: wake the reader at most once per
 * AW_WAKEUP_INTERVAL_NS (see software_events.h). Races between CPUs only
 * wake it once more.
 */
static __always_inline __u64 exec_wakeup_flags(void)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - last_wakeup_ns < AW_WAKEUP_INTERVAL_NS)
		return BPF_RB_NO_WAKEUP;
	last_wakeup_ns = now;
	return 0;
}

static __always_inline struct software_event *reserve(__u32 type, __u64 cgroup_id)
{
	struct software_event *event;

	event = bpf_ringbuf_reserve(&software_events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&software_lost_events, 1);
		return NULL;
	}
	__builtin_memset(event, 0, offsetof(struct software_event, path));
	event->type = type;
	event->cgroup_id = cgroup_id;
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->start_ns = BPF_CORE_READ(bpf_get_current_task_btf(), group_leader, start_boottime);
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	return event;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(report_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct file *file = bprm->file;
	struct software_event *event;
	struct scratch *scratch;
	struct inode *inode;
	__u32 zero = 0, len;

	if (cgroup_id == targ_root_cgroup_id || !file)
		return 0;
	scratch = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!scratch)
		return 0;
	event = reserve(SOFTWARE_EVENT_EXEC, cgroup_id);
	if (!event)
		return 0;
	inode = file->f_inode;
	event->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	event->ino = BPF_CORE_READ(inode, i_ino);
	event->size = BPF_CORE_READ(inode, i_size);
	read_times(inode, event);
	if (!BPF_CORE_READ(inode, i_nlink))
		event->flags |= EXE_DELETED;
	if (is_memfd(file))
		event->flags |= EXE_MEMFD;
	event->argv_markers = search_argv(task, scratch, &event->flags);
	len = build_path(file, scratch, &event->flags);
	event->path_len = len;
	bpf_probe_read_kernel(event->path, sizeof(event->path), scratch->path);
	bpf_ringbuf_submit(event, exec_wakeup_flags());
	return 0;
}

/* Device opens: only watched, always allowed (1). */
SEC("cgroup/dev")
int watch_devices(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff, access = ctx->access_type >> 16;
	__u64 cgroup_id;
	struct software_event *event;

	if (type != DEVCG_DEV_CHAR || ctx->major != AW_MSR_MAJOR || !(access & DEVCG_ACC_WRITE))
		return 1;
	cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_id == targ_root_cgroup_id)
		return 1;
	event = reserve(SOFTWARE_EVENT_MSR_WRITE, cgroup_id);
	if (event)
		bpf_ringbuf_submit(event, 0);
	return 1;
}

/* Sysctl writes: only watched, always allowed (1). */
SEC("cgroup/sysctl")
int watch_sysctl(struct bpf_sysctl *ctx)
{
	static const char hugepages[] = "vm/nr_hugepages";
	static const char overcommit[] = "vm/nr_overcommit_hugepages";
	struct software_event *event;
	__u64 cgroup_id;
	char name[32];
	long n;

	if (!ctx->write)
		return 1;
	n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);
	if (n < 0)
		return 1;
	/* Also vm/nr_hugepages_mempolicy: the same prefix. */
	if (bpf_strncmp(name, sizeof(hugepages) - 1, hugepages) &&
	    bpf_strncmp(name, sizeof(overcommit) - 1, overcommit))
		return 1;
	cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_id == targ_root_cgroup_id)
		return 1;
	event = reserve(SOFTWARE_EVENT_HUGEPAGES, cgroup_id);
	if (event)
		bpf_ringbuf_submit(event, 0);
	return 1;
}
