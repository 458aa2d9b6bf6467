// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "memory.h"

struct memory_source {
	char v2_root[PATH_MAX];
	char v1_root[PATH_MAX]; /* "" when there is no v1 memory hierarchy */
};

struct memory_source *memory_source_new(const char *v2_root, const char *mounts_file)
{
	struct memory_source *source = calloc(1, sizeof(*source));

	if (!source)
		return NULL;
	snprintf(source->v2_root, sizeof(source->v2_root), "%s", v2_root);
	if (cgroups_find_v1_controller(mounts_file, "memory", source->v1_root,
				       sizeof(source->v1_root)))
		source->v1_root[0] = '\0';
	return source;
}

void memory_source_free(struct memory_source *source)
{
	free(source);
}

static int open_pair(const char *root, const char *path, const char *usage_name,
		     struct memory_files *files)
{
	char name[PATH_MAX];
	int err;

	if (snprintf(name, sizeof(name), "%s%s/%s", root, path, usage_name) >= (int)sizeof(name))
		return -ENAMETOOLONG;
	files->usage_fd = open(name, O_RDONLY | O_CLOEXEC);
	if (files->usage_fd < 0)
		return -errno;
	snprintf(name, sizeof(name), "%s%s/memory.stat", root, path);
	files->stat_fd = open(name, O_RDONLY | O_CLOEXEC);
	if (files->stat_fd < 0) {
		err = -errno;
		close(files->usage_fd);
		files->usage_fd = -1;
		return err;
	}
	return 0;
}

int memory_open(const struct memory_source *source, const char *path, struct memory_files *files)
{
	files->usage_fd = files->stat_fd = -1;
	files->v1 = 0;
	/* memory.current exists only where the parent enabled the v2 controller. */
	if (!open_pair(source->v2_root, path, "memory.current", files))
		return 0;
	if (!source->v1_root[0])
		return -ENOENT;
	files->v1 = 1;
	return open_pair(source->v1_root, path, "memory.usage_in_bytes", files) ? -ENOENT : 0;
}

static int read_whole(int fd, char *buffer, size_t size)
{
	ssize_t n = pread(fd, buffer, size - 1, 0);

	if (n < 0)
		return -errno;
	buffer[n] = '\0';
	return 0;
}

int memory_read(const struct memory_files *files, uint64_t *bytes)
{
	const char *key = files->v1 ? "\ntotal_inactive_file " : "\ninactive_file ";
	char buffer[8192];
	uint64_t usage, inactive = 0;
	char *found;
	int err;

	err = read_whole(files->usage_fd, buffer, sizeof(buffer));
	if (err)
		return err;
	if (sscanf(buffer, "%" SCNu64, &usage) != 1)
		return -EINVAL;
	/* A newline before the text lets the key match only at the start of a line. */
	buffer[0] = '\n';
	err = read_whole(files->stat_fd, buffer + 1, sizeof(buffer) - 1);
	if (err)
		return err;
	found = strstr(buffer, key);
	if (found)
		sscanf(found + strlen(key), "%" SCNu64, &inactive);
	*bytes = usage > inactive ? usage - inactive : 0;
	return 0;
}

void memory_close(struct memory_files *files)
{
	if (files->usage_fd >= 0)
		close(files->usage_fd);
	if (files->stat_fd >= 0)
		close(files->stat_fd);
	files->usage_fd = files->stat_fd = -1;
}
