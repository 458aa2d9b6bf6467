// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "idmap.h"
#include "log.h"

/* File handles of kernfs (cgroupfs) carry the 64-bit node id. */
#define FILEID_KERNFS 0xfe

struct cgroup_tree {
	char *root;		/* mount point */
	int root_fd;
	struct idmap *paths;	/* id -> malloc'ed path */
};

/* The first mount of @type (with mount option @option, when given) in @mounts_file. */
static int find_mount(const char *mounts_file, const char *type, const char *option, char *root,
		      size_t len)
{
	struct mntent entry, *found;
	char buffer[4096];
	int err = -ENOENT;
	FILE *mounts;

	mounts = setmntent(mounts_file, "r");
	if (!mounts)
		return -errno;
	while ((found = getmntent_r(mounts, &entry, buffer, sizeof(buffer)))) {
		if (strcmp(found->mnt_type, type) || (option && !hasmntopt(found, option)))
			continue;
		if (strlen(found->mnt_dir) >= len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(root, found->mnt_dir);
		err = 0;
		break;
	}
	endmntent(mounts);
	return err;
}

int cgroups_find_v2_root(const char *mounts_file, char *root, size_t len)
{
	return find_mount(mounts_file, "cgroup2", NULL, root, len);
}

int cgroups_find_v1_controller(const char *mounts_file, const char *controller, char *root,
			       size_t len)
{
	return find_mount(mounts_file, "cgroup", controller, root, len);
}

int cgroups_id_of_path(const char *path, uint64_t *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

struct cgroup_tree *cgroup_tree_new(const char *v2_root)
{
	struct cgroup_tree *tree = calloc(1, sizeof(*tree));

	if (!tree)
		return NULL;
	tree->root_fd = -1;
	tree->root = strdup(v2_root);
	tree->paths = idmap_new();
	if (!tree->root || !tree->paths)
		goto fail;
	tree->root_fd = open(v2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tree->root_fd < 0)
		goto fail;
	return tree;
fail:
	cgroup_tree_free(tree);
	errno = errno ? errno : ENOMEM;
	return NULL;
}

void cgroup_tree_free(struct cgroup_tree *tree)
{
	size_t cursor = 0;
	char *path;

	if (!tree)
		return;
	if (tree->paths) {
		while ((path = idmap_next(tree->paths, &cursor, NULL)))
			free(path);
		idmap_free(tree->paths);
	}
	if (tree->root_fd >= 0)
		close(tree->root_fd);
	free(tree->root);
	free(tree);
}

int cgroup_tree_set(struct cgroup_tree *tree, uint64_t id, const char *path)
{
	char *copy = strdup(path);
	char *old;
	int err;

	if (!copy)
		return -ENOMEM;
	old = idmap_get(tree->paths, id);
	err = idmap_put(tree->paths, id, copy);
	if (err) {
		free(copy);
		return err;
	}
	free(old);
	return 0;
}

void cgroup_tree_remove(struct cgroup_tree *tree, uint64_t id)
{
	free(idmap_remove(tree->paths, id));
}

/* Depth-first walk below @dir_fd, whose path (relative to the root) is @path. */
static int scan_dir(struct cgroup_tree *tree, int dir_fd, char *path, size_t path_len,
		    cgroup_visit_fn visit, void *ctx)
{
	struct dirent *entry;
	struct stat st;
	size_t name_len;
	int child_fd, err = 0;
	DIR *dir;

	dir = fdopendir(dir_fd);
	if (!dir) {
		err = -errno;
		close(dir_fd);
		return err;
	}
	while ((entry = readdir(dir))) {
		if (entry->d_type != DT_DIR || !strcmp(entry->d_name, ".") ||
		    !strcmp(entry->d_name, ".."))
			continue;
		name_len = strlen(entry->d_name);
		if (path_len + 1 + name_len >= PATH_MAX)
			continue;
		child_fd = openat(dirfd(dir), entry->d_name,
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		/* A cgroup removed while we walk is simply not there. */
		if (child_fd < 0)
			continue;
		if (fstat(child_fd, &st)) {
			close(child_fd);
			continue;
		}
		if (path_len > 1)
			path[path_len++] = '/';
		memcpy(path + path_len, entry->d_name, name_len + 1);
		err = cgroup_tree_set(tree, st.st_ino, path);
		if (!err && visit)
			visit(st.st_ino, path, ctx);
		if (!err)
			err = scan_dir(tree, child_fd, path, path_len + name_len, visit, ctx);
		else
			close(child_fd);
		/* Back to this directory's path for the next sibling. */
		if (path_len > 1)
			path_len--;
		path[path_len] = '\0';
		if (err)
			break;
	}
	closedir(dir);
	return err;
}

int cgroup_tree_scan(struct cgroup_tree *tree, cgroup_visit_fn visit, void *ctx)
{
	char path[PATH_MAX] = "/";
	struct stat st;
	int fd, err;

	fd = openat(tree->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = cgroup_tree_set(tree, st.st_ino, "/");
	if (err) {
		close(fd);
		return err;
	}
	if (visit)
		visit(st.st_ino, "/", ctx);
	return scan_dir(tree, fd, path, 1, visit, ctx);
}

/* Asks the kernel where cgroup @id is: open it by handle, read the fd's path. */
static int resolve_by_handle(struct cgroup_tree *tree, uint64_t id, char *path, size_t len)
{
	struct {
		struct file_handle handle;
		uint64_t id;
	} fh = { .handle = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS },
		 .id = id };
	char link[64], target[PATH_MAX];
	size_t root_len = strlen(tree->root);
	ssize_t n;
	int fd, err = 0;

	fd = open_by_handle_at(tree->root_fd, &fh.handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		err = -errno;
		goto cleanup;
	}
	target[n] = '\0';
	if (strncmp(target, tree->root, root_len) ||
	    (target[root_len] != '/' && target[root_len] != '\0')) {
		err = -ENOENT;
		goto cleanup;
	}
	snprintf(path, len, "%s", target[root_len] ? target + root_len : "/");
cleanup:
	close(fd);
	return err;
}

const char *cgroup_tree_path(struct cgroup_tree *tree, uint64_t id)
{
	char path[PATH_MAX];
	const char *known = idmap_get(tree->paths, id);

	if (known)
		return known;
	if (resolve_by_handle(tree, id, path, sizeof(path)))
		return NULL;
	if (cgroup_tree_set(tree, id, path))
		return NULL;
	pr_debug("resolved cgroup %llu to %s by handle", (unsigned long long)id, path);
	return idmap_get(tree->paths, id);
}

int cgroup_tree_open(struct cgroup_tree *tree, uint64_t id)
{
	const char *path = cgroup_tree_path(tree, id);
	int fd;

	if (!path)
		return -ENOENT;
	fd = openat(tree->root_fd, path[1] ? path + 1 : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
