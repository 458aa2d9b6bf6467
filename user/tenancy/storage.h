/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Storage per tenant: the bytes allocated (st_blocks * 512) under each
 * tenant's storage paths.
 *
 * - A path whose directory carries a project id with the inherit flag, on
 *   a file system that answers project quota queries, is read from the
 *   quota in one call (quotactl_fd, Q_GETQUOTA on PRJQUOTA). Two paths of
 *   one tenant on the same project count once.
 * - Any other path is walked: every entry is counted with
 *   fstatat(AT_SYMLINK_NOFOLLOW), symlinks are never followed (not even
 *   the path itself or its parents, where openat2 can refuse them), a
 *   directory on another mount (another device, or a bind mount) is neither
 *   counted nor entered, and a file with several links is counted once per
 *   tenant and pass. Paths that overlap (the same directory twice, or one
 *   inside another) are counted once. Directories more than 1024 deep (or
 *   half the RLIMIT_NOFILE soft limit, if that is less) are not entered and
 *   count as errors: each level holds a descriptor open.
 * - Walks run on one thread of their own, at idle CPU and I/O priority, in
 *   slices: after each slice the thread sleeps so that it is on CPU at most
 *   `duty_cycle` of the time a pass lasts. The next pass of a tenant starts
 *   no sooner than `interval_s` after its last began, and no pass starts
 *   sooner than the last pass (of any tenant) took CPU time divided by
 *   `cpu_budget` after it ended: all walks together use at most cpu_budget
 *   of a core on average, however many tenants there are. So a tree of a
 *   million files is walked now and then, slowly, at a bounded average
 *   cost, and the agent's loop never waits for it.
 * - A tenant's figure is the result of its last complete pass; a pass that
 *   is abandoned part-way (stop, targets changed, out of memory) keeps the
 *   previous figure.
 * - A path that does not exist counts 0 bytes (logged once, info); a path
 *   that vanishes, cannot be read or is not a directory counts 0 too, and is
 *   logged once (warning) and again only after it was fine in between (info:
 *   "readable again"). Names below a path are never logged (they are the
 *   tenant's), nor is anything read but directories and inode metadata.
 */
#ifndef ABUSEWATCH_STORAGE_H
#define ABUSEWATCH_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tenant_row.h"

/* The result of measuring a set of paths. */
struct storage_usage {
	uint64_t bytes;		/* allocated bytes, hard links once */
	uint64_t entries;	/* entries stat'ed by walks, each walked path included */
	uint64_t quota_paths;	/* paths read from a project quota */
	uint64_t skipped_mounts;	/* directories not entered: another file system */
	uint64_t errors;	/* entries or directories that could not be read */
};

/* How fast a walk may go; zeroes: no throttling at all (tests, benchmarks). */
struct storage_throttle {
	double duty_cycle;	/* on-CPU fraction while walking, in (0, 1]; 0: no limit */
	unsigned int slice_entries;	/* entries between checks; 0: 1024 */
	const volatile bool *stop;	/* checked between slices; NULL: never */
};

/*
 * Measures @paths (absolute) together, synchronously, in the calling
 * thread; @throttle may be NULL (no throttling). Missing paths count 0.
 * Returns 0, or -errno when a path exists but could not be measured at all
 * (-ENOTDIR, -EACCES, -ELOOP for a symlink; the first such, the other paths
 * are measured all the same), -ECANCELED when *@throttle->stop became true,
 * -ENOMEM; @out holds what was counted either way. For tests, benchmarks
 * and the scanner's thread.
 */
int storage_measure(const char *const *paths, size_t count, const struct storage_throttle *throttle,
		    struct storage_usage *out);

/*
 * The project quota usage of the directory at @path, when it has one:
 * 0 and *@bytes, -ENODATA when it has no project id (or no inherit flag),
 * -ENOTSUP/-ENOSYS/-ESRCH/-EINVAL when the file system keeps no project
 * quota (or another quotactl error), or the error opening @path (-ENOENT,
 * -ELOOP, -ENOTDIR, ...): @path is opened as storage_measure opens it.
 */
int storage_project_bytes(const char *path, uint64_t *bytes);

struct storage_options {
	double interval_s;	/* between pass starts of one tenant, at least; default 60 */
	double cpu_budget;	/* average share of one core for walks; default 0.01 */
	double duty_cycle;	/* see struct storage_throttle; default 0.25 */
};

/* One tenant to measure: its name and its expanded storage paths. */
struct storage_target {
	const char *tenant;
	const char *const *paths;
	size_t path_count;
};

struct storage_scanner;

/* Starts the scanner's thread. NULL and errno on failure. */
struct storage_scanner *storage_scanner_new(const struct storage_options *options);
/* Stops the thread (a walk in progress is abandoned at its next slice). */
void storage_scanner_free(struct storage_scanner *scanner);

/* New timing options (reload); take effect from the next pass. */
void storage_scanner_set_options(struct storage_scanner *scanner,
				 const struct storage_options *options);

/*
 * Replaces the set of tenants measured. A tenant kept with the same paths
 * keeps its figure and its schedule; a tenant new or with other paths has
 * no figure (-EAGAIN) until its first pass, which is due at once. A pass in
 * progress for a tenant removed or changed is abandoned. Copies everything;
 * 0 or -ENOMEM (the old set stays).
 */
int storage_scanner_set_targets(struct storage_scanner *scanner,
				const struct storage_target *targets, size_t count);

/*
 * The last complete figure for @tenant: 0, -EAGAIN before its first pass
 * has finished, -ENOENT when it is not a target.
 */
int storage_scanner_get(struct storage_scanner *scanner, const char *tenant, uint64_t *bytes);

/*
 * Each interval: the tenants of @rows with storage paths become the targets
 * whenever @generation (tenant_set_generation) moved, or after
 * storage_scanner_set_options (a reload); then every such row gets its last
 * complete figure as its storage gauge. The caller's thread only.
 */
void storage_scanner_fill_rows(struct storage_scanner *scanner, struct tenant_row *rows,
			       size_t count, uint64_t generation);

struct storage_stats {
	uint64_t passes;	/* complete passes, all tenants */
	double cpu_seconds;	/* the thread's CPU time */
	uint64_t entries;	/* entries stat'ed, all passes, abandoned ones too */
};

void storage_scanner_stats(struct storage_scanner *scanner, struct storage_stats *out);

/*
 * Makes every current target due now, then blocks until each has finished a
 * pass that started after this call, or @timeout_s passes. 0 or -ETIMEDOUT.
 * For tests: it upsets the schedule.
 */
int storage_scanner_wait(struct storage_scanner *scanner, double timeout_s);

#endif
