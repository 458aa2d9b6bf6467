/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bpf/software.bpf.c tells user/rules/software.c about the programs tenants
 * run: every exec, and the miner behaviours (opening an MSR device for
 * writing, writing a huge-page sysctl). Only __u types: shared by BPF and
 * user code.
 *
 * Never argv, environment or file contents: command-line markers are matched
 * in the kernel, where the arguments are read, and only which of them
 * matched leaves it.
 */
#ifndef ABUSEWATCH_SOFTWARE_EVENTS_H
#define ABUSEWATCH_SOFTWARE_EVENTS_H

/* Bytes of the executable's path carried; a longer path is cut at its top. */
#define AW_EXE_PATH_MAX 512
/* Path components walked up from the executable (deeper: truncated). */
#define AW_EXE_PATH_DEPTH 32
/* Bytes of the command line searched for markers (a power of two, >= 64). */
#define AW_ARGV_SCAN_MAX 4096
/* Markers, and bytes of each (with its NUL); at least AW_ARGV_MARKER_MIN bytes. */
#define AW_ARGV_MARKERS_MAX 32
#define AW_ARGV_MARKER_LEN 32
#define AW_ARGV_MARKER_MIN 4

/*
 * The search (bpf/software.bpf.c) does not look at every position of the
 * command line: it reads the four bytes (a "window") at every fourth one,
 * and most windows are in no marker, which one bit of a bitmap says. A
 * marker of L bytes puts L - 3 of its windows at consecutive positions, so
 * one of four consecutive ones falls on a tested position when L >= 7:
 * the bitmap has the four that ordinary command lines have least. A
 * shorter marker ("\0msr\0", 5 bytes) also gets the windows that run one
 * byte (or more) off its end or start, the bytes off it matching anything:
 * four consecutive windows again (each wild byte sets 128 bits).
 *
 * The markers that count only for modprobe and insmod ("\0msr\0") have a
 * filter of their own, searched only in those programs' command lines:
 * the filter every exec uses keeps about a hundred bits, few enough for a
 * bitmap of 2 KiB that a window of ordinary text still hits about once in
 * 180. An exec finds the bitmap out of the CPU's caches: measured here
 * with the same search over 1 KiB of arguments, 32 cache lines of bitmap
 * took about 700 ns, 128 (8 KiB) about 1,170.
 *
 * Case: a window is folded before it is looked up, every byte ORed with
 * 0x20 ('A' becomes 'a', and a few non-letters collide: NUL and space,
 * '@' and '`'), so the bitmap holds one entry per window of a marker, not
 * one per case variant. A hit is only a candidate: the marker is then
 * compared byte by byte, ASCII letters case-insensitively.
 */
#define AW_ARGV_WINDOW 4
#define AW_ARGV_STEP 4
#define AW_ARGV_FOLD 0x20202020U
/*
 * Room for the windows that run off markers, and the slots of those that
 * lie inside them: a hash table at most half full.
 */
#define AW_ARGV_WILD_MAX (AW_ARGV_MARKERS_MAX * (AW_ARGV_STEP - 1))
#define AW_ARGV_SLOT_BITS 11
_Static_assert((1U << AW_ARGV_SLOT_BITS) >=
		       2 * AW_ARGV_MARKERS_MAX * (AW_ARGV_MARKER_LEN - AW_ARGV_WINDOW),
	       "room for every window inside the markers");
/*
 * Bitmap bits. A key's bit is bit key / AW_ARGV_BITMAP_WORDS of word
 * key % AW_ARGV_BITMAP_WORDS, so that each comes from the product with one
 * or two operations. A window's slot, where its probe starts, is the key's
 * top bits.
 */
#define AW_ARGV_KEY_BITS 14
#define AW_ARGV_BITMAP_WORDS ((1U << AW_ARGV_KEY_BITS) / 64)

/*
 * The key of a folded window, read from memory as a native __u32 (so the
 * byte order is the same in the kernel and in userspace): its bit in the
 * bitmap, and its slot in the top bits.
 */
#define AW_ARGV_HASH 2654435761U

static inline __u32 aw_argv_key(__u32 window)
{
	return (window * AW_ARGV_HASH) >> (32 - AW_ARGV_KEY_BITS);
}

/*
 * A marker for the command-line search (bit i of argv_markers for the
 * i-th). The arguments are searched as the kernel keeps them,
 * NUL-separated, so a marker "\0msr\0" (len 5) matches an argument that is
 * exactly "msr".
 */
struct argv_marker {
	__u32 len;			/* 0: unused slot */
	char text[AW_ARGV_MARKER_LEN];
	__u32 modprobe;			/* counts only for modprobe and insmod */
};

/*
 * A window inside a marker, in a slot: its bytes, folded, and where the
 * marker starts and ends around it. Empty slots have no bytes (0): a
 * folded window never is 0, folding sets a bit in every byte.
 */
struct argv_window {
	__u32 bytes;
	__u8 marker;			/* bit of software_event.argv_markers */
	__u8 offset;			/* window start - marker start */
	__u8 len;			/* the marker's */
	__u8 unused;
};

/* A window that runs off a marker: the bytes off it (mask 0) match anything. */
struct argv_wild {
	__u32 bytes;			/* folded, 0 where the mask is */
	__u32 mask;
	__u8 marker;
	__s8 offset;			/* -(AW_ARGV_STEP - 1) .. AW_ARGV_MARKER_LEN - 1 */
	__u8 len;
	__u8 unused;
};

/*
 * A marker for the comparison: lowercased, in the words the kernel loads
 * (native __u64), and which bytes of them are the marker's.
 */
struct argv_marker_words {
	__u64 text[AW_ARGV_MARKER_LEN / 8];
	__u64 mask[AW_ARGV_MARKER_LEN / 8];
};

/*
 * What the search needs, built by userspace (software_argv_filter()) and
 * loaded as read-only data: the bitmap of the keys of all windows; the
 * windows inside markers in a hash table (linear probing from the slot of
 * the key's top bits); the few wild ones, tried on every hit; the markers.
 * The kernel's verifier reads the counts as the constants they are, so
 * they bound its loops.
 */
struct argv_filter {
	__u32 marker_count;
	__u32 wild_count;
	__u32 probe_max;		/* slots the longest probe reads */
	__u32 unused;
	struct argv_wild wild[AW_ARGV_WILD_MAX];
	__u64 bitmap[AW_ARGV_BITMAP_WORDS];
	struct argv_window slots[1U << AW_ARGV_SLOT_BITS];
	struct argv_marker_words markers[AW_ARGV_MARKERS_MAX] __attribute__((aligned(64)));
};

/*
 * Which execs userspace wants (struct exec_interest, written by it at run
 * time: probes_set_exec_interest()). Most execs on a build node match no
 * rule of any policy, and their record, the path walk it needs and the
 * ring buffer cost the exec probe more than half its time: an exec is
 * reported only when a rule could match it. That is, when a policy needs
 * every exec (deny_paths match the whole path), when the command line has
 * a marker (searched only when a policy has builtin:miners, the only one
 * that counts them), when the comm or the executable's own name could be a deny
 * name of some policy, or, when a policy has deny_sha256, when the
 * executable was not judged yet.
 *
 * Names are kept as bits: a name's key is its first AW_NAME_KEY_CHARS
 * bytes, ASCII letters lowered, zero-padded to 16 (so a longer name and a
 * comm cut to that length share it: both rules of user/rules/software.c
 * that compare the comm or the basename are kept), and sets the two bits
 * aw_name_bits() picks from the key's hash. A deny name always has its
 * bits; another name has both about once in 400, and is then reported
 * for nothing.
 *
 * Judged executables: userspace puts the identity of each executable
 * whose digest is on no deny_sha256 in judged_exes (bpf/software.bpf.c),
 * with the generation of the policies that judged it; the probe reports
 * it again once it changes (a write changes its ctime) or the policies do.
 */
#define AW_NAME_KEY_CHARS 15		/* TASK_COMM_LEN - 1 */
#define AW_NAME_BITS 13
#define AW_NAME_BITMAP_WORDS ((1U << AW_NAME_BITS) / 64)

struct exec_interest {
	__u32 every_exec;		/* report every exec (also before userspace says) */
	__u32 digests;			/* report executables not judged under generation */
	__u32 generation;		/* of the policies: judged_exes values */
	__u32 argv;			/* search command lines for markers */
	__u64 names[AW_NAME_BITMAP_WORDS];
};

/* Executables judged (LRU: one forgotten is reported, and judged, again). */
#define AW_JUDGED_MAX 8192

/* An executable's identity as the exec probe reads it: the key of judged_exes. */
struct exe_key {
	__u64 dev;			/* kernel dev_t: major << 20 | minor */
	__u64 ino;
	__s64 size;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
};

/*
 * The two bits of a name's key, the key's bytes in two native __u64 (byte
 * 15 is 0): the word and bit of each, as word << 6 | bit, in @first and
 * @second.
 */
static inline void aw_name_bits(__u64 low, __u64 high, __u32 *first, __u32 *second)
{
	__u64 hash = low * 0x9e3779b97f4a7c15ULL ^ high * 0xc2b2ae3d27d4eb4fULL;

	hash ^= hash >> 31;
	*first = (__u32)(hash >> (64 - AW_NAME_BITS));
	*second = (__u32)hash & ((1U << AW_NAME_BITS) - 1);
}

/*
 * Waking the reader costs a self-IPI (measured here in a VM: about 20 us
 * alone, 1 to 3 us an exec on average when it woke the reader every 5 ms
 * of a stream of execs, against well under 1 us for the rest of the exec
 * probe), so an exec wakes it only when it is not coming back anyway: the
 * exec that finds reader_polling (bpf/software.bpf.c) clear sets it and
 * wakes the reader, which then drains every AW_DRAIN_INTERVAL_NS for as
 * long as events come and clears it once AW_DRAIN_IDLE_ROUNDS drains in a
 * row found the ring buffer empty (probes_events_settle()): 50 ms without
 * an exec. A stream of execs, pauses of a busy machine included, wakes it
 * once; a single exec still reaches it at once.
 */
#define AW_DRAIN_INTERVAL_NS 5000000ULL
#define AW_DRAIN_IDLE_ROUNDS 10

/* MSR device (/dev/cpu/N/msr) character major. */
#define AW_MSR_MAJOR 202

/*
 * Ancestors carried with the events of miner behaviour (device and sysctl
 * writes, an exec with command-line markers; zero in other execs), nearest
 * first: the real parent of the process at the time of the event (for an
 * exec, the parent it was run by), its parent, and so on. A miner's helper (modprobe msr, sysctl(8),
 * a shell of system()) exits at once while the miner goes on: userspace
 * attributes the helper's evidence to the process that ran it
 * (user/rules/attribution.h). The start time tells a reused pid apart, the
 * cgroup whether the ancestor is still the tenant's. The walk stops at
 * pid 1 and at a task with no parent: nothing of init or kernel threads.
 */
#define AW_ANCESTORS_MAX 3

struct software_ancestor {
	__u32 pid;			/* thread group id; 0: none */
	__u32 unused;
	__u64 start_ns;			/* its start, boot-time ns */
	__u64 cgroup_id;		/* its v2 cgroup then */
	char comm[16];			/* its group leader's comm */
};

enum software_event_type {
	SOFTWARE_EVENT_EXEC = 1,
	SOFTWARE_EVENT_MSR_WRITE = 2,	/* opened /dev/cpu/N/msr for writing */
	SOFTWARE_EVENT_HUGEPAGES = 3,	/* wrote vm.nr_hugepages or vm.nr_overcommit_hugepages */
	/* Userspace only: a struct wire_event (wire_events.h) before the rules. */
	SOFTWARE_EVENT_WIRE = 4,
};

enum exe_flag {
	EXE_MEMFD = 1 << 0,		/* file-less: memfd_create() */
	EXE_DELETED = 1 << 1,		/* no links left when it ran */
	EXE_TMP = 1 << 2,		/* under /tmp, /var/tmp or /dev/shm (set by userspace) */
	EXE_PATH_TRUNCATED = 1 << 3,	/* deeper or longer than carried */
	EXE_ARGV_TRUNCATED = 1 << 4,	/* command line longer than searched */
};

struct software_event {
	__u64 cgroup_id;		/* v2 cgroup of the task */
	__u32 type;			/* enum software_event_type */
	__u32 pid;			/* thread group id */
	/* The process's start (boot-time ns), so that a reused pid is never acted on. */
	__u64 start_ns;
	/* The executable's identity (exec only), as the kernel saw it at exec. */
	__u64 dev;			/* kernel dev_t: major << 20 | minor */
	__u64 ino;
	__s64 size;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
	__u32 flags;			/* enum exe_flag */
	__u32 argv_markers;		/* bit i: marker i found in the command line */
	__u32 path_len;			/* bytes used in path */
	__u32 unused;
	char comm[16];
	/*
	 * Path components from the executable up to the root of its mount
	 * namespace, leaf first, each NUL-terminated: "xmrig\0bin\0usr\0" is
	 * /usr/bin/xmrig. A memfd is one component, "memfd:NAME".
	 */
	char path[AW_EXE_PATH_MAX];
	/*
	 * After the path, so that a record of an older probe (queued while no
	 * agent ran, before an upgrade) is shorter than this, and read without
	 * them (user/probes/probes.c).
	 */
	struct software_ancestor ancestors[AW_ANCESTORS_MAX];
};

#endif
