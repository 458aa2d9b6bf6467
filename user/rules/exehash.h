/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SHA-256 of the executables tenants run, cached by the identity the kernel
 * reported at exec (device, inode, size, mtime, ctime), so that a build that
 * runs the compiler ten thousand times hashes it once.
 *
 * Processes that exit within milliseconds: the identity comes from the
 * kernel at exec, so a cached file needs no access at all. On a miss the
 * file is opened at once, on the caller's thread, while the event is fresh:
 * through /proc/PID/exe (the very file, even deleted or a memfd, while the
 * process lives), else the reported path under /proc/PID/root, else under
 * the root of another process of the same cgroup (a container's make or
 * shell outlives its compiler), else the path as the agent sees it. A file
 * is used only when fstat() gives back the identity the kernel reported, so
 * a file replaced in between is never hashed under the old identity. One
 * exception: unlinking moves the ctime, so through /proc/PID/exe a file
 * with no links left may have a later ctime (a running executable cannot
 * be written: ETXTBSY, so its content is what ran). The
 * open file is then hashed on a worker thread (it stays readable even if
 * the process exits or the file is deleted meanwhile), and the result
 * comes back through exehash_collect() on the caller's thread.
 *
 * Bounded: at most EXEHASH_CACHE_ENTRIES identities (least recently used
 * give way), EXEHASH_QUEUE_MAX files in flight (queued, being hashed or
 * not yet collected), files up to
 * EXEHASH_MAX_BYTES. Never logs paths below the caller's, never reads
 * anything but the executable.
 */
#ifndef ABUSEWATCH_EXEHASH_H
#define ABUSEWATCH_EXEHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"

#define EXEHASH_CACHE_ENTRIES 8192
#define EXEHASH_QUEUE_MAX 256
#define EXEHASH_MAX_BYTES (1024ULL * 1024 * 1024)

#define SHA256_HEX_LEN 64

/* The executable's identity. @dev is a userspace dev_t (makedev), as in stat. */
struct exe_identity {
	uint64_t dev;
	uint64_t ino;
	int64_t size;
	int64_t mtime_sec;
	int64_t ctime_sec;
	uint32_t mtime_nsec;
	uint32_t ctime_nsec;
};

struct stat;

/* The identity of a file fstat()/stat() described. */
void exehash_identity_from_stat(const struct stat *st, struct exe_identity *id);

/* Converts the kernel's dev_t (major << 20 | minor) into a userspace one. */
uint64_t exehash_dev_from_kernel(uint64_t kernel_dev);

/* Where to find the file on a miss (any may be 0/NULL). */
struct exe_location {
	int pid;			/* the process that ran it */
	const char *path;		/* absolute, in its mount namespace; NULL if unknown */
	const char *cgroup_dir;		/* its v2 cgroup directory (for cgroup.procs) */
};

enum exehash_status {
	EXEHASH_DONE,		/* @hex holds the digest */
	EXEHASH_PENDING,	/* queued: exehash_collect() will deliver it */
	EXEHASH_UNAVAILABLE,	/* no file with this identity could be opened */
	EXEHASH_TOO_LARGE,	/* over EXEHASH_MAX_BYTES */
	EXEHASH_BUSY,		/* queue full: not hashed (counted) */
};

struct exehash;

/* Starts the worker. NULL (errno set) on failure. */
struct exehash *exehash_new(void);
/* Stops the worker, closes queued files; pending results are dropped. */
void exehash_free(struct exehash *hash);

/*
 * The digest of @id: from the cache (EXEHASH_DONE, @hex filled with 64
 * lowercase hex digits and a NUL), or by opening the file now and queueing
 * it (EXEHASH_PENDING; a second request for an identity already queued
 * just returns EXEHASH_PENDING again, one result comes back), or why not.
 * @hex must hold SHA256_HEX_LEN + 1 bytes.
 */
enum exehash_status exehash_get(struct exehash *hash, const struct exe_identity *id,
				const struct exe_location *where, char *hex);

/*
 * The same, with the file's YARA scan (content.h) in @content when it is
 * done: the worker scans each file it hashes with the rules of
 * exehash_set_rules(), right after the digest, from the same open file. A
 * cached digest whose scan was made by other rules is a miss: the file is
 * read again. @content may be NULL.
 */
enum exehash_status exehash_get_content(struct exehash *hash, const struct exe_identity *id,
					const struct exe_location *where, char *hex,
					struct content_result *content);

/*
 * The rules the worker scans with from now on (a reference is taken; NULL:
 * none). The caller's thread.
 */
void exehash_set_rules(struct exehash *hash, struct content_rules *rules);

/*
 * Readable (EPOLLIN) when results are ready; exehash_collect() clears it.
 * For the caller's epoll set.
 */
int exehash_notify_fd(const struct exehash *hash);

/*
 * Passes every finished result to @fn: @hex is the digest, or NULL when the
 * file could not be read in full (@status says why: EXEHASH_UNAVAILABLE or
 * EXEHASH_TOO_LARGE), and its scan in @content. Digests also enter the
 * cache. Never blocks.
 */
typedef void (*exehash_result_fn)(const struct exe_identity *id, const char *hex,
				  enum exehash_status status, const struct content_result *content,
				  void *ctx);
void exehash_collect(struct exehash *hash, exehash_result_fn fn, void *ctx);

struct exehash_stats {
	uint64_t hits;		/* answered from the cache */
	uint64_t hashed;	/* files hashed */
	uint64_t bytes;		/* bytes hashed */
	uint64_t unavailable;	/* no file with the identity could be opened */
	uint64_t busy;		/* dropped: queue full */
	uint64_t scanned;	/* files scanned with YARA rules */
	uint64_t scan_bytes;	/* their bytes */
	uint64_t scan_ns;	/* the worker's time in the scans */
	uint64_t scan_skipped;	/* too large, timed out or failed */
	size_t cached;		/* identities in the cache now */
};
void exehash_stats(const struct exehash *hash, struct exehash_stats *stats);

#endif
