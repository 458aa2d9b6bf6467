/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cgroup v2 tree: where it is mounted, and a table from cgroup id to
 * path (relative to the v2 root, "/" for the root) that the caller keeps
 * current from the kernel's mkdir/rmdir/rename events, so nothing rescans
 * cgroupfs each interval.
 */
#ifndef ABUSEWATCH_CGROUPS_H
#define ABUSEWATCH_CGROUPS_H

#include <stddef.h>
#include <stdint.h>

/* Finds the cgroup2 mount in @mounts_file (normally /proc/mounts). 0 or -ENOENT. */
int cgroups_find_v2_root(const char *mounts_file, char *root, size_t len);

/*
 * Where the cgroup v1 @controller ("memory") is mounted, on hybrid hosts.
 * 0, or -ENOENT when no v1 hierarchy has it.
 */
int cgroups_find_v1_controller(const char *mounts_file, const char *controller, char *root,
			       size_t len);

/* The id of the cgroup directory @path (its inode number on cgroupfs). */
int cgroups_id_of_path(const char *path, uint64_t *id);

struct cgroup_tree;

struct cgroup_tree *cgroup_tree_new(const char *v2_root);
void cgroup_tree_free(struct cgroup_tree *tree);

typedef void (*cgroup_visit_fn)(uint64_t id, const char *path, void *ctx);

/* Walks the whole tree once (start-up), recording and visiting every cgroup. */
int cgroup_tree_scan(struct cgroup_tree *tree, cgroup_visit_fn visit, void *ctx);

/* Records a cgroup (created or renamed). 0 or -ENOMEM. */
int cgroup_tree_set(struct cgroup_tree *tree, uint64_t id, const char *path);
void cgroup_tree_remove(struct cgroup_tree *tree, uint64_t id);

/*
 * The path of cgroup @id; an id not recorded yet is resolved through the
 * kernel (open_by_handle_at) and recorded. NULL when the cgroup is gone.
 */
const char *cgroup_tree_path(struct cgroup_tree *tree, uint64_t id);

/* Opens the directory of cgroup @id (O_RDONLY|O_DIRECTORY|O_CLOEXEC). fd or -errno. */
int cgroup_tree_open(struct cgroup_tree *tree, uint64_t id);

#endif
