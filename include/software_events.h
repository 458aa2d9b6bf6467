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
/* Bytes of the command line searched for markers (power of two). */
#define AW_ARGV_SCAN_MAX 4096
/* Markers, and bytes of each (with its NUL); at least AW_ARGV_MARKER_MIN bytes. */
#define AW_ARGV_MARKERS_MAX 32
#define AW_ARGV_MARKER_LEN 32
#define AW_ARGV_MARKER_MIN 4

/*
 * Bit of the 65,536-bit prefix bitmap for four bytes: a position of the
 * command line whose four bytes have no bit set starts no marker. The
 * bitmap has every case variant of the markers' first four bytes, so the
 * search folds no case before a hit.
 */
static inline __u32 aw_marker_prefix_key(__u8 b0, __u8 b1, __u8 b2, __u8 b3)
{
	__u32 word = (__u32)b0 | (__u32)b1 << 8 | (__u32)b2 << 16 | (__u32)b3 << 24;

	return (word * 2654435761U) >> 16;
}

/*
 * Waking the reader costs a self-IPI (about 20 us measured in a VM here,
 * against 0.2 us for the rest of the exec probe), so the exec probe wakes
 * it at most once per this interval; the reader drains once more this long
 * after each wake-up, so no event waits longer.
 */
#define AW_WAKEUP_INTERVAL_NS 5000000ULL

/* MSR device (/dev/cpu/N/msr) character major. */
#define AW_MSR_MAJOR 202

enum software_event_type {
	SOFTWARE_EVENT_EXEC = 1,
	SOFTWARE_EVENT_MSR_WRITE = 2,	/* opened /dev/cpu/N/msr for writing */
	SOFTWARE_EVENT_HUGEPAGES = 3,	/* wrote vm.nr_hugepages or vm.nr_overcommit_hugepages */
};

enum exe_flag {
	EXE_MEMFD = 1 << 0,		/* file-less: memfd_create() */
	EXE_DELETED = 1 << 1,		/* no links left when it ran */
	EXE_TMP = 1 << 2,		/* under /tmp, /var/tmp or /dev/shm (set by userspace) */
	EXE_PATH_TRUNCATED = 1 << 3,	/* deeper or longer than carried */
	EXE_ARGV_TRUNCATED = 1 << 4,	/* command line longer than searched */
};

/*
 * A marker for the command-line search (array map, slot i = bit i). The
 * arguments are searched as the kernel keeps them, NUL-separated, so a
 * marker "\0msr\0" (len 5) matches an argument that is exactly "msr".
 */
struct argv_marker {
	__u32 len;			/* 0: unused slot */
	char text[AW_ARGV_MARKER_LEN];
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
};

#endif
