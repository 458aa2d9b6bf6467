/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory of a cgroup from the memory controller: the v2 controller where it
 * is enabled for the cgroup, else the v1 memory hierarchy at the same path
 * (hybrid hosts, where Docker and systemd keep both trees alike). The
 * figure is the working set, charged memory less inactive file pages (what
 * the kernel reclaims first, and what kubelet also leaves out), so that a
 * build writing big files is not taken for a tenant holding memory.
 */
#ifndef ABUSEWATCH_MEMORY_H
#define ABUSEWATCH_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "tenants.h"

struct memory_source;

/* @v2_root: the cgroup2 mount; @mounts_file (/proc/mounts) finds the v1 memory mount. */
struct memory_source *memory_source_new(const char *v2_root, const char *mounts_file);
void memory_source_free(struct memory_source *source);

struct memory_files {
	int usage_fd; /* memory.current or memory.usage_in_bytes */
	int stat_fd;  /* memory.stat */
	int v1;	      /* 1: v1 file names (total_inactive_file) */
};

/*
 * Opens the files for cgroup @path ("/a/b", under the v2 root). 0, or
 * -ENOENT when neither hierarchy accounts memory for it.
 */
int memory_open(const struct memory_source *source, const char *path, struct memory_files *files);
/* Working set in bytes. 0 or -errno (the cgroup went away: -ENODEV/-ENOENT). */
int memory_read(const struct memory_files *files, uint64_t *bytes);
void memory_close(struct memory_files *files);

/*
 * The agent's memory readings: one per tenant root cgroup (a cgroup a rule
 * matched itself; memory is hierarchical, so its children are included).
 * No file stays open. A cgroup is read when its tenant used CPU since the
 * last reading, else every 30 to 60 s (then memory.stat only if the charge
 * changed; less often beyond 3,000 cgroups, so that idle readings stay
 * under 100 a second); one that cannot be read yet is retried after 5 s, then less
 * often (up to 5 minutes). A tick's cost is the cgroups it reads.
 *
 * Each reading also takes the cgroup's huge pages (hugetlb.h) into the
 * hugepages gauge, at no cost while the host has no huge page in use (the
 * pools, read once a tick, say so); otherwise one file a page size in use.
 * A cgroup without the hugetlb controller has no hugepages gauge, and is
 * looked at again every 5 minutes; the controller is never enabled here.
 * When the last huge page on the host is freed, every gauge goes to 0 in
 * that tick.
 */
struct memory_watcher;

struct memory_watcher *memory_watcher_new(const char *v2_root, const char *mounts_file);
/* The same, with the huge-page pools (hugetlb.h) at @pools_dir instead of HUGETLB_POOLS_DIR. */
struct memory_watcher *memory_watcher_new_at(const char *v2_root, const char *mounts_file,
					     const char *pools_dir);
void memory_watcher_free(struct memory_watcher *watcher);
/* Root cgroup @id exists at @path (again, after a rename). */
void memory_watcher_add(struct memory_watcher *watcher, uint64_t id, const char *path);
void memory_watcher_remove(struct memory_watcher *watcher, uint64_t id);
/* Forgets every cgroup (a reload matches them all again). */
void memory_watcher_clear(struct memory_watcher *watcher);
/*
 * Each tenant's memory gauge in its row of @table, just filled by
 * tenant_set_fill_rows() from @tenants: the sum of its watched cgroups'
 * working sets. Only rows whose gauge changed are written (and marked
 * changed), unless the table was made afresh. Cgroups whose tenant is gone
 * are forgotten.
 */
void memory_watcher_fill_rows(struct memory_watcher *watcher, struct tenant_set *tenants,
			      struct tenant_table *table);
/* Some huge page was in use on the host at the last fill_rows (else every huge-page gauge is 0). */
bool memory_watcher_hugepages_in_use(const struct memory_watcher *watcher);

#endif
