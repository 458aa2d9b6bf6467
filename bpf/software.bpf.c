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

/*
 * Set by userspace before load: the markers and their filters
 * (software_events.h), one searched in every command line and one, of the
 * markers that count only for module loaders, in modprobe's and insmod's.
 */
const volatile struct argv_filter targ_argv = {};
const volatile struct argv_filter targ_argv_modprobe = {};

/* Tasks of the root cgroup belong to no tenant: not reported. */
const volatile __u64 targ_root_cgroup_id = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} software_events SEC(".maps");

/*
 * Per-CPU room for the command line and the path being built. The
 * arguments may be followed by a marker's length of older bytes: a
 * comparison never reads past the array.
 */
struct scratch {
	char args[AW_ARGV_SCAN_MAX + AW_ARGV_MARKER_LEN];
	char path[PATH_SCRATCH];
	/* Target of an atomic exchange, the exec probe's full memory barrier. */
	__u64 barrier;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

/* Events the ring buffer had no room for; read through the skeleton's .bss. */
__u64 software_lost_events;
/*
 * Set while the reader is coming back to drain on its own (software_events.h,
 * AW_DRAIN_INTERVAL_NS): set here by the exec that wakes it, cleared by
 * the reader (probes_events_settle()) once a drain finds nothing.
 */
__u32 reader_polling;
/*
 * Which execs userspace wants (software_events.h); every one until it
 * says. In .data, written by userspace while the probe runs.
 */
struct exec_interest exec_interest = { .every_exec = 1, .argv = 1 };

/* Executables whose digest is on no deny_sha256, by identity: the generation that judged them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AW_JUDGED_MAX);
	__type(key, struct exe_key);
	__type(value, __u32);
} judged_exes SEC(".maps");

#include "markers.bpf.h"

/*
 * filter_hit() in the filter for every exec or, @modprobe, in the module
 * loaders' one. A global function: the verifier checks it once, not at
 * every place the search calls it from.
 */
__noinline __u32 argv_hit(struct scratch *scratch, __u32 len, __u32 at, __u32 window,
			  __u32 modprobe)
{
	if (!scratch)
		return 0;
	if (modprobe)
		return filter_hit(&targ_argv_modprobe, scratch, len, at, window);
	return filter_hit(&targ_argv, scratch, len, at, window);
}

/*
 * search_filter_in() with the filter for every exec or, @modprobe, the
 * module loaders'. A global function, verified once: the states the
 * search ends in (one for each length of arguments) do not carry on into
 * the rest of the program.
 */
__noinline __u32 search_filter(struct scratch *scratch, __u32 len, __u32 modprobe)
{
	if (!scratch || len > AW_ARGV_SCAN_MAX)
		return 0;
	if (modprobe)
		return search_filter_in(&targ_argv_modprobe, 1, scratch, len);
	return search_filter_in(&targ_argv, 0, scratch, len);
}

/*
 * Where a dentry keeps a short name: d_iname, d_shortname from 6.14 on;
 * DNAME_INLINE_LEN bytes, 32 on 64-bit kernels before 6.12 and 40 since.
 */
struct dentry___iname {
	unsigned char d_iname[40];
} __attribute__((preserve_access_index));

union shortname_store___aw {
	unsigned char string[40];
};

struct dentry___shortname {
	union shortname_store___aw d_shortname;
} __attribute__((preserve_access_index));

#define INLINE_NAME_WORDS 5	/* the most DNAME_INLINE_LEN has been, in __u64; at least 4 */

/*
 * Where @dentry keeps a short name (the running kernel's field, relocated:
 * a constant to the verifier), and its size in *@size; NULL if neither
 * field exists.
 */
static __always_inline const __u64 *inline_name_of(struct dentry *dentry, __u32 *size)
{
	if (bpf_core_field_exists(((struct dentry___shortname *)dentry)->d_shortname)) {
		*size = bpf_core_field_size(((struct dentry___shortname *)dentry)->d_shortname);
		return (const __u64 *)&((struct dentry___shortname *)dentry)->d_shortname;
	}
	if (bpf_core_field_exists(((struct dentry___iname *)dentry)->d_iname)) {
		*size = bpf_core_field_size(((struct dentry___iname *)dentry)->d_iname);
		return (const __u64 *)&((struct dentry___iname *)dentry)->d_iname;
	}
	*size = 0;
	return NULL;
}

/*
 * Appends the name of @dentry (a BTF pointer) at @off of the path: bytes
 * copied with the NUL, or <= 0. A short name lies in the dentry itself and
 * is copied with plain loads, NUL included; bytes after it are overwritten
 * by the next name or left out of path_len. A longer one takes the helper.
 */
static __always_inline long append_name(struct scratch *scratch, __u32 off, struct dentry *dentry)
{
	const unsigned char *name = dentry->d_name.name;
	__u32 len = dentry->d_name.len, size;
	const __u64 *inline_name;
	__u64 *to;
	int k;

	inline_name = inline_name_of(dentry, &size);
	if (inline_name && (const void *)name == (const void *)inline_name && len < size) {
		to = (__u64 *)(scratch->path + (off & (AW_EXE_PATH_MAX - 1)));
#pragma unroll
		for (k = 0; k < INLINE_NAME_WORDS - 1; k++)
			to[k] = inline_name[k];
		if (size > (INLINE_NAME_WORDS - 1) * 8)
			to[k] = inline_name[k];
		/* Its NUL, even if a rename raced with these loads. */
		((char *)to)[len & 63] = 0;
		return len + 1;
	}
	return bpf_probe_read_kernel_str(scratch->path + (off & (AW_EXE_PATH_MAX - 1)), NAME_BYTES,
					 name);
}

/* Whether @name's first nine bytes (@w: the first eight) hold "modprobe" or "insmod", any case. */
static __always_inline bool names_module_loader(__u64 w, char ninth)
{
	__u64 modprobe, insmod, seven;

	/* Folded to constants by the compiler, in the byte order of the loads. */
	__builtin_memcpy(&modprobe, "modprobe", 8);
	__builtin_memcpy(&insmod, "insmod\0", 8);
	__builtin_memcpy(&seven, "\xff\xff\xff\xff\xff\xff\xff\0", 8);
	w = lower8(w);
	return (w == modprobe && !ninth) || (w & seven) == insmod;
}

/*
 * Whether the module-loader markers count (user/rules/software.c): the
 * comm or the executable's name (@dentry's, the last component of the
 * path) is modprobe or insmod.
 */
static __always_inline bool is_module_loader(struct task_struct *task, struct dentry *dentry)
{
	const unsigned char *name = dentry->d_name.name;
	__u32 len = dentry->d_name.len, size;
	const __u64 *inline_name;
	char bytes[9];

	if (names_module_loader(*(const __u64 *)task->comm, task->comm[8]))
		return true;
	if (len != 6 && len != 8)
		return false;
	/* A name this short is kept in the dentry: no helper. */
	inline_name = inline_name_of(dentry, &size);
	if (inline_name && (const void *)name == (const void *)inline_name)
		return names_module_loader(inline_name[0], ((const char *)inline_name)[8]);
	if (bpf_probe_read_kernel(bytes, sizeof(bytes), name))
		return false;
	return names_module_loader(*(const __u64 *)bytes, bytes[8]);
}

/*
 * Searches the new program's arguments (its own memory, just written by
 * exec) for the markers, when a policy counts them (exec_interest.argv):
 * those of every exec, and for a module loader its own.
 */
static __always_inline __u32 search_argv(struct task_struct *task, struct file *file,
					 struct scratch *scratch, __u32 *flags)
{
	struct mm_struct *mm = task->mm;
	bool modprobe;
	unsigned long start, end;
	__u32 found = 0;
	__u64 len;

	if (!*(volatile __u32 *)&exec_interest.argv)
		return 0;
	modprobe = targ_argv_modprobe.marker_count && is_module_loader(task, file->f_path.dentry);
	if (!mm || (!targ_argv.marker_count && !modprobe))
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
	/* The compiler knows len <= AW_ARGV_SCAN_MAX and would drop the mask the verifier needs. */
	asm volatile("" : "+r"(len));
	if (bpf_probe_read_user(scratch->args, len & (2 * AW_ARGV_SCAN_MAX - 1), (void *)start))
		return 0;
	if (targ_argv.marker_count)
		found = search_filter(scratch, len, 0);
	if (modprobe)
		found |= search_filter(scratch, len, 1);
	return found;
}

/*
 * The file's path, leaf first (see software_events.h), crossing mount
 * points up to the root of its mount namespace. Returns bytes used.
 *
 * Within the file's own mount (for most executables the whole path) the
 * dentries are BTF pointers, read with plain loads, and when that mount is
 * the root of the task's namespace the walk ends there. Above it, struct
 * mount is reached through container_of, which the verifier does not
 * follow: probe reads there.
 */
static __always_inline __u32 build_path(struct task_struct *task, struct file *file,
					struct scratch *scratch, __u32 *flags)
{
	struct vfsmount *vfsmnt = file->f_path.mnt;
	struct dentry *dentry = file->f_path.dentry, *parent, *mnt_root = vfsmnt->mnt_root;
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt), *mnt_parent;
	__u32 off = 0, i;
	long n;

	for (i = 0; i < AW_EXE_PATH_DEPTH; i++) {
		if (dentry == mnt_root)
			break;
		if (off >= AW_EXE_PATH_MAX) {
			*flags |= EXE_PATH_TRUNCATED;
			return AW_EXE_PATH_MAX;
		}
		parent = dentry->d_parent;
		n = append_name(scratch, off, dentry);
		if (n <= 0)
			return off;
		off += n;
		/* A dentry of no directory (memfd, other pseudo files): its name is all. */
		if (parent == dentry)
			return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
		dentry = parent;
	}
	if (dentry == mnt_root && mnt == task->nsproxy->mnt_ns->root)
		return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
	/* At the top of another mount (or out of depth): on from where it is mounted. */
	for (; i < AW_EXE_PATH_DEPTH; i++) {
		if (dentry == mnt_root) {
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt)
				return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}
		if (off >= AW_EXE_PATH_MAX) {
			*flags |= EXE_PATH_TRUNCATED;
			return AW_EXE_PATH_MAX;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		n = bpf_probe_read_kernel_str(scratch->path + (off & (AW_EXE_PATH_MAX - 1)),
					      NAME_BYTES, BPF_CORE_READ(dentry, d_name.name));
		if (n <= 0)
			return off;
		off += n;
		if (parent == dentry)
			return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
		dentry = parent;
	}
	*flags |= EXE_PATH_TRUNCATED;
	return off < AW_EXE_PATH_MAX ? off : AW_EXE_PATH_MAX;
}

/* Kernels before 6.11 keep the times as struct timespec64 (6.6-6.10: __i_ctime). */
struct inode___timespec {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

/* The executable's identity (software_events.h), from BTF pointers: plain loads, no helper. */
static __always_inline void read_identity(struct inode *inode, struct exe_key *key)
{
	struct inode___timespec *old = (void *)inode;

	key->dev = inode->i_sb->s_dev;
	key->ino = inode->i_ino;
	key->size = inode->i_size;
	if (bpf_core_field_exists(inode->i_mtime_sec)) {
		key->mtime_sec = inode->i_mtime_sec;
		key->mtime_nsec = inode->i_mtime_nsec;
		key->ctime_sec = inode->i_ctime_sec;
		/* Bit 31 marks a ctime that was queried (multigrain timestamps). */
		key->ctime_nsec = inode->i_ctime_nsec & ~(1U << 31);
		return;
	}
	key->mtime_sec = old->i_mtime.tv_sec;
	key->mtime_nsec = old->i_mtime.tv_nsec;
	if (bpf_core_field_exists(old->__i_ctime)) {
		key->ctime_sec = old->__i_ctime.tv_sec;
		key->ctime_nsec = old->__i_ctime.tv_nsec;
	} else {
		key->ctime_sec = old->i_ctime.tv_sec;
		key->ctime_nsec = old->i_ctime.tv_nsec;
	}
}

/* The record carries the identity as the key has it. */
_Static_assert(__builtin_offsetof(struct software_event, ctime_nsec) + sizeof(__u32) -
			       __builtin_offsetof(struct software_event, dev) ==
		       sizeof(struct exe_key),
	       "software_event's identity is a struct exe_key");

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "name keys are built for little-endian loads"
#endif

/*
 * Whether the name in @low and @high (its first 16 bytes as loaded, a NUL
 * after it or not) could be a deny name (software_events.h): its key, the
 * bytes up to the first NUL and at most AW_NAME_KEY_CHARS of them, ASCII
 * letters lowered, has both bits in exec_interest.names.
 */
static __always_inline bool may_be_denied(__u64 low, __u64 high)
{
	const __u64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	__u32 first, second;
	__u64 zeros;

	/* Bit 7 of each byte that is 0, and maybe of some after the first such. */
	zeros = (low - ones) & ~low & highs;
	if (zeros) {
		low &= ((zeros & -zeros) >> 7) - 1;
		high = 0;
	} else {
		zeros = (high - ones) & ~high & highs;
		if (zeros)
			high &= ((zeros & -zeros) >> 7) - 1;
		high &= (1ULL << 8 * (AW_NAME_KEY_CHARS - 8)) - 1;
	}
	aw_name_bits(lower8(low), lower8(high), &first, &second);
	return (exec_interest.names[first >> 6 & (AW_NAME_BITMAP_WORDS - 1)] >> (first & 63) & 1) &&
	       (exec_interest.names[second >> 6 & (AW_NAME_BITMAP_WORDS - 1)] >> (second & 63) & 1);
}

/*
 * Whether userspace wants this exec (software_events.h): every one, or it
 * has argv @markers, or the comm or the executable's own name (@dentry's)
 * could be a deny name, or a digest is wanted and the executable (@file)
 * was not judged by the policies of now.
 */
static __always_inline bool exec_wanted(struct task_struct *task, struct file *file,
					__u32 markers)
{
	struct dentry *dentry = file->f_path.dentry;
	const unsigned char *name = dentry->d_name.name;
	__u64 comm[2], bytes[2], low, high;
	const __u64 *inline_name;
	__u32 size, *judged;
	struct exe_key id;

	if (markers || *(volatile __u32 *)&exec_interest.every_exec)
		return true;
	__builtin_memcpy(comm, task->comm, sizeof(comm));
	if (may_be_denied(comm[0], comm[1]))
		return true;
	inline_name = inline_name_of(dentry, &size);
	if (inline_name && (const void *)name == (const void *)inline_name && size >= 16) {
		low = inline_name[0];
		high = inline_name[1];
		/* Loads from the dentry stay here: the verifier refuses one load for two kinds of pointer. */
		asm volatile("" ::: "memory");
	} else {
		if (bpf_probe_read_kernel(bytes, sizeof(bytes), name))
			return true;
		low = bytes[0];
		high = bytes[1];
	}
	/* Mostly the same as the comm (it is the name the program was run by). */
	if ((low != comm[0] || high != comm[1]) && may_be_denied(low, high))
		return true;
	if (*(volatile __u32 *)&exec_interest.digests) {
		read_identity(file->f_inode, &id);
		judged = bpf_map_lookup_elem(&judged_exes, &id);
		return !judged || *judged != exec_interest.generation;
	}
	return false;
}

static __always_inline bool is_memfd(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	char name[7];

	if (dentry->d_parent != dentry)
		return false;
	if (bpf_probe_read_kernel(name, sizeof(name) - 1, dentry->d_name.name))
		return false;
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':';
}

/*
 * A build runs thousands of execs a second: wake the reader only when it is
 * not coming back anyway (software_events.h). The exchange is a fetching
 * atomic, fully ordered on every JIT (a plain atomic add is not on arm64):
 * the record's reservation is visible before reader_polling is read, so a
 * reader that clears the flag and then finds the ring buffer empty cannot
 * miss a record whose exec saw the flag still set.
 */
static __always_inline __u64 exec_wakeup_flags(struct scratch *scratch)
{
	__atomic_exchange_n(&scratch->barrier, 1, __ATOMIC_SEQ_CST);
	if (*(volatile __u32 *)&reader_polling)
		return BPF_RB_NO_WAKEUP;
	reader_polling = 1;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * @task's ancestors, nearest first (software_events.h): real_parent, as
 * it is now, at the exec or the write. Plain loads from BTF pointers, a
 * dozen for each; pid 1 and tasks without a parent end the walk.
 */
static __always_inline void read_ancestors(struct software_event *event,
					   struct task_struct *task)
{
	struct task_struct *parent = task, *leader;
	int i;

	__builtin_memset(event->ancestors, 0, sizeof(event->ancestors));
#pragma unroll
	for (i = 0; i < AW_ANCESTORS_MAX; i++) {
		parent = parent->real_parent;
		if (!parent || parent->tgid <= 1)
			break;
		leader = parent->group_leader;
		event->ancestors[i].pid = parent->tgid;
		event->ancestors[i].start_ns = leader->start_boottime;
		event->ancestors[i].cgroup_id = parent->cgroups->dfl_cgrp->kn->id;
		__builtin_memcpy(event->ancestors[i].comm, leader->comm,
				 sizeof(event->ancestors[i].comm));
	}
}

/*
 * A zeroed event of @task (the current one) in the ring buffer, or NULL.
 * Its fields come from the BTF pointer with plain loads, not helpers.
 * Its ancestors only when @ancestors: they are for miner behaviour alone
 * (its exec, a module loader's, has markers), and cost a reported exec
 * about 5% more (cold task_structs up the chain).
 */
static __always_inline struct software_event *reserve(__u32 type, __u64 cgroup_id,
						      struct task_struct *task, bool ancestors)
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
	event->pid = task->tgid;
	event->start_ns = task->group_leader->start_boottime;
	__builtin_memcpy(event->comm, task->comm, sizeof(event->comm));
	if (ancestors)
		read_ancestors(event, task);
	else
		__builtin_memset(event->ancestors, 0, sizeof(event->ancestors));
	return event;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(report_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	/* bpf_get_current_cgroup_id()'s loads, from the BTF pointer: no helper. */
	__u64 cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	struct file *file = bprm->file;
	struct software_event *event;
	struct scratch *scratch;
	__u32 zero = 0, len, markers, flags = 0;
	struct inode *inode;

	if (cgroup_id == targ_root_cgroup_id || !file)
		return 0;
	scratch = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!scratch)
		return 0;
	markers = search_argv(task, file, scratch, &flags);
	/* No rule of any policy could match: no record, no path. */
	if (!exec_wanted(task, file, markers))
		return 0;
	event = reserve(SOFTWARE_EVENT_EXEC, cgroup_id, task, markers);
	if (!event)
		return 0;
	event->flags = flags;
	event->argv_markers = markers;
	inode = file->f_inode;
	read_identity(inode, (struct exe_key *)&event->dev);
	if (!inode->i_nlink)
		event->flags |= EXE_DELETED;
	if (is_memfd(file))
		event->flags |= EXE_MEMFD;
	len = build_path(task, file, scratch, &event->flags);
	event->path_len = len;
	/* Only what was built: userspace reads path_len bytes. */
	if (len > AW_EXE_PATH_MAX)
		len = AW_EXE_PATH_MAX;
	bpf_probe_read_kernel(event->path, len, scratch->path);
	bpf_ringbuf_submit(event, exec_wakeup_flags(scratch));
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
	event = reserve(SOFTWARE_EVENT_MSR_WRITE, cgroup_id, bpf_get_current_task_btf(), true);
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
	event = reserve(SOFTWARE_EVENT_HUGEPAGES, cgroup_id, bpf_get_current_task_btf(), true);
	if (event)
		bpf_ringbuf_submit(event, 0);
	return 1;
}
