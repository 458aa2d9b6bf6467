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
#include "clock.h"
#include "idmap.h"
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

/*
 * The watcher: one entry per tenant root cgroup. It holds no file open (a
 * node of 10,000 tenants must not hold 20,000 descriptors) and reads a
 * cgroup only when it can have changed: when its tenant used CPU since the
 * last reading (memory is charged by the tenant's own tasks), and otherwise
 * now and then, for what reclaim took back. Readings of idle cgroups are
 * spread over that period.
 */

/* A runtime may make the v1 memory cgroup just after the v2 one: retry soon, then less often. */
#define MEMORY_RETRY_S 5.0
#define MEMORY_RETRY_MAX_S 300.0
/* An idle cgroup is read again after this long, plus up to as much again, by its id. */
#define MEMORY_IDLE_REFRESH_S 30.0

struct memory_watch {
	uint64_t id;
	char *path;
	bool has_bytes;		/* the last reading worked */
	uint64_t bytes;
	double cpu_seconds;	/* its tenant's CPU time at that reading */
	double read_at;		/* monotonic: the next reading is due */
	double retry_s;		/* after a failed one */
};

struct memory_watcher {
	struct memory_source *source;
	struct idmap *watches;	/* root cgroup id -> struct memory_watch */
};

struct memory_watcher *memory_watcher_new(const char *v2_root, const char *mounts_file)
{
	struct memory_watcher *watcher = calloc(1, sizeof(*watcher));

	if (!watcher)
		return NULL;
	watcher->source = memory_source_new(v2_root, mounts_file);
	watcher->watches = idmap_new();
	if (!watcher->source || !watcher->watches) {
		memory_watcher_free(watcher);
		errno = ENOMEM;
		return NULL;
	}
	return watcher;
}

void memory_watcher_free(struct memory_watcher *watcher)
{
	if (!watcher)
		return;
	if (watcher->watches) {
		memory_watcher_clear(watcher);
		idmap_free(watcher->watches);
	}
	memory_source_free(watcher->source);
	free(watcher);
}

/* Opens, reads and closes the cgroup's files; schedules the next reading. */
static void read_watch(struct memory_watcher *watcher, struct memory_watch *watch, double now,
		       double cpu_seconds)
{
	struct memory_files files;
	int err;

	err = memory_open(watcher->source, watch->path, &files);
	if (!err) {
		err = memory_read(&files, &watch->bytes);
		memory_close(&files);
	}
	watch->has_bytes = !err;
	if (err) {
		/* No memory controller for it (yet), or removed: its rmdir event is on the way. */
		watch->read_at = now + watch->retry_s;
		watch->retry_s = watch->retry_s * 2 < MEMORY_RETRY_MAX_S ? watch->retry_s * 2 :
									   MEMORY_RETRY_MAX_S;
		return;
	}
	watch->cpu_seconds = cpu_seconds;
	watch->retry_s = MEMORY_RETRY_S;
	watch->read_at = now + MEMORY_IDLE_REFRESH_S * (1 + (watch->id % 1000) / 1000.0);
}

void memory_watcher_add(struct memory_watcher *watcher, uint64_t id, const char *path)
{
	struct memory_watch *watch = idmap_get(watcher->watches, id);
	char *copy;

	if (watch) {
		/* Renamed: the new path is where it is read. */
		if (strcmp(watch->path, path) && (copy = strdup(path))) {
			free(watch->path);
			watch->path = copy;
		}
		return;
	}
	watch = calloc(1, sizeof(*watch));
	if (!watch)
		return;
	watch->id = id;
	watch->retry_s = MEMORY_RETRY_S;
	watch->path = strdup(path);
	if (!watch->path || idmap_put(watcher->watches, id, watch)) {
		free(watch->path);
		free(watch);
	}
}

void memory_watcher_remove(struct memory_watcher *watcher, uint64_t id)
{
	struct memory_watch *watch = idmap_remove(watcher->watches, id);

	if (!watch)
		return;
	free(watch->path);
	free(watch);
}

void memory_watcher_clear(struct memory_watcher *watcher)
{
	size_t cursor = 0;
	uint64_t id;

	while (idmap_next(watcher->watches, &cursor, &id))
		memory_watcher_remove(watcher, id);
}

void memory_watcher_fill_rows(struct memory_watcher *watcher, struct tenant_set *tenants)
{
	double now = clock_monotonic(), cpu_seconds;
	struct memory_watch *watch;
	struct tenant_row *row;
	struct tenant *tenant;
	size_t cursor = 0;
	uint64_t id;

	while ((watch = idmap_next(watcher->watches, &cursor, &id))) {
		tenant = tenant_set_of_cgroup(tenants, id);
		if (!tenant) {
			memory_watcher_remove(watcher, id);
			continue;
		}
		row = tenant->row;
		cpu_seconds = row ? row->value[RESOURCE_CPU] : 0;
		/* A failed reading waits for its retry, busy or not. */
		if (now >= watch->read_at ||
		    (watch->has_bytes && cpu_seconds != watch->cpu_seconds))
			read_watch(watcher, watch, now, cpu_seconds);
		if (!row || !watch->has_bytes)
			continue;
		/* A tenant of several root cgroups: their sum. */
		row->has_value[RESOURCE_MEMORY] = true;
		row->value[RESOURCE_MEMORY] += watch->bytes;
	}
}
