// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups.h"
#include "hugetlb.h"

struct hugetlb_pool {
	uint64_t page_bytes;
	char name[16];		/* "2MB": as the controller's files call the size */
	int free_fd;		/* free_hugepages of the pool, kept open */
	int total_fd;		/* nr_hugepages (persistent and surplus pages) */
	uint64_t in_use;	/* pages, as of the last refresh */
};

struct hugetlb_source {
	char v2_root[PATH_MAX];
	char v1_root[PATH_MAX];	/* "" when there is no v1 hugetlb hierarchy */
	struct hugetlb_pool pools[HUGETLB_POOLS_MAX];
	size_t pool_count;
	bool in_use;
};

int hugetlb_size_name(uint64_t page_bytes, char *out, size_t size)
{
	int written;

	/* mem_fmt() of mm/hugetlb_cgroup.c. */
	if (!page_bytes)
		return -EINVAL;
	if (page_bytes >= (UINT64_C(1) << 30))
		written = snprintf(out, size, "%" PRIu64 "GB", page_bytes >> 30);
	else if (page_bytes >= (UINT64_C(1) << 20))
		written = snprintf(out, size, "%" PRIu64 "MB", page_bytes >> 20);
	else
		written = snprintf(out, size, "%" PRIu64 "KB", page_bytes >> 10);
	return written < 0 || (size_t)written >= size ? -EINVAL : 0;
}

int hugetlb_pool_page_bytes(const char *dir_name, uint64_t *page_bytes)
{
	static const char prefix[] = "hugepages-";
	unsigned long long kib;
	char *end;

	if (strncmp(dir_name, prefix, sizeof(prefix) - 1))
		return -EINVAL;
	dir_name += sizeof(prefix) - 1;
	if (*dir_name < '0' || *dir_name > '9')
		return -EINVAL;
	errno = 0;
	kib = strtoull(dir_name, &end, 10);
	if (errno || !kib || strcmp(end, "kB") || kib > (UINT64_MAX >> 10))
		return -EINVAL;
	*page_bytes = (uint64_t)kib << 10;
	return 0;
}

/* The number at the start of @fd's file, read again from its start. */
static int pread_number(int fd, uint64_t *value)
{
	char buffer[64];
	ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);

	if (n < 0)
		return -errno;
	buffer[n] = '\0';
	return sscanf(buffer, "%" SCNu64, value) == 1 ? 0 : -EINVAL;
}

static void pool_close(struct hugetlb_pool *pool)
{
	if (pool->free_fd >= 0)
		close(pool->free_fd);
	if (pool->total_fd >= 0)
		close(pool->total_fd);
	pool->free_fd = pool->total_fd = -1;
}

static int open_in(const char *dir, const char *pool, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, pool, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The pool of directory @entry under @dir, if it is one. */
static int pool_open(struct hugetlb_pool *pool, const char *dir, const char *entry)
{
	pool->free_fd = pool->total_fd = -1;
	pool->in_use = 0;
	if (hugetlb_pool_page_bytes(entry, &pool->page_bytes) ||
	    hugetlb_size_name(pool->page_bytes, pool->name, sizeof(pool->name)))
		return -EINVAL;
	pool->free_fd = open_in(dir, entry, "free_hugepages");
	pool->total_fd = open_in(dir, entry, "nr_hugepages");
	if (pool->free_fd < 0 || pool->total_fd < 0) {
		pool_close(pool);
		return -ENOENT;
	}
	return 0;
}

static int by_page_size(const void *a, const void *b)
{
	const struct hugetlb_pool *x = a, *y = b;

	return (x->page_bytes > y->page_bytes) - (x->page_bytes < y->page_bytes);
}

struct hugetlb_source *hugetlb_source_new(const char *v2_root, const char *mounts_file,
					  const char *pools_dir)
{
	struct hugetlb_source *source = calloc(1, sizeof(*source));
	struct dirent *entry;
	DIR *dir;

	if (!source)
		return NULL;
	snprintf(source->v2_root, sizeof(source->v2_root), "%s", v2_root);
	if (cgroups_find_v1_controller(mounts_file, "hugetlb", source->v1_root,
				       sizeof(source->v1_root)))
		source->v1_root[0] = '\0';
	/* No such directory: a kernel without hugetlbfs, no pools, nothing to hold. */
	dir = opendir(pools_dir);
	while (dir && (entry = readdir(dir)) && source->pool_count < HUGETLB_POOLS_MAX) {
		if (!pool_open(&source->pools[source->pool_count], pools_dir, entry->d_name))
			source->pool_count++;
	}
	if (dir)
		closedir(dir);
	qsort(source->pools, source->pool_count, sizeof(source->pools[0]), by_page_size);
	hugetlb_source_refresh(source);
	return source;
}

void hugetlb_source_free(struct hugetlb_source *source)
{
	size_t i;

	if (!source)
		return;
	for (i = 0; i < source->pool_count; i++)
		pool_close(&source->pools[i]);
	free(source);
}

size_t hugetlb_pool_count(const struct hugetlb_source *source)
{
	return source ? source->pool_count : 0;
}

bool hugetlb_source_refresh(struct hugetlb_source *source)
{
	uint64_t free_pages, total_pages;
	size_t i;

	source->in_use = false;
	for (i = 0; i < source->pool_count; i++) {
		struct hugetlb_pool *pool = &source->pools[i];

		/*
		 * Free first: pages taken or a pool grown in between make the
		 * difference larger, never 0 while some are held. Unreadable,
		 * or shrunk in between (more free than there are): say in use,
		 * so the cgroups are read.
		 */
		if (pread_number(pool->free_fd, &free_pages) ||
		    pread_number(pool->total_fd, &total_pages) || free_pages > total_pages)
			pool->in_use = 1;
		else
			pool->in_use = total_pages - free_pages;
		source->in_use |= pool->in_use > 0;
	}
	return source->in_use;
}

bool hugetlb_in_use(const struct hugetlb_source *source)
{
	return source && source->in_use;
}

static int cgroup_file(const char *root, const char *path, const char *size_name,
		       const char *suffix, char *out, size_t out_size)
{
	if (snprintf(out, out_size, "%s%s/hugetlb.%s.%s", root, path, size_name, suffix) >=
	    (int)out_size)
		return -ENAMETOOLONG;
	return 0;
}

/* The number at the start of file @name. */
static int read_number(const char *name, uint64_t *value)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = pread_number(fd, value);
	close(fd);
	return err;
}

/* Sums the pools in use of cgroup @path under @root; @check: look even with none in use. */
static int read_layout(const struct hugetlb_source *source, const char *root, const char *path,
		       const char *suffix, bool check, uint64_t *bytes)
{
	char name[PATH_MAX];
	uint64_t sum = 0, value;
	bool looked = false;
	size_t i;
	int err;

	for (i = 0; i < source->pool_count; i++) {
		const struct hugetlb_pool *pool = &source->pools[i];

		if (!pool->in_use)
			continue;
		err = cgroup_file(root, path, pool->name, suffix, name, sizeof(name));
		if (!err)
			err = read_number(name, &value);
		if (err)
			return err;
		sum += value;
		looked = true;
	}
	if (!looked && check) {
		/* The smallest size stands for all: the controller makes every size's files. */
		err = cgroup_file(root, path, source->pools[0].name, suffix, name, sizeof(name));
		if (!err && access(name, F_OK))
			err = -errno;
		if (err)
			return err;
	}
	*bytes = sum;
	return 0;
}

int hugetlb_read(const struct hugetlb_source *source, const char *path,
		 enum hugetlb_layout *layout, bool check, uint64_t *bytes)
{
	int err;

	if (!source->pool_count) {
		*layout = HUGETLB_NONE;
		return -ENOENT;
	}
	/* Not looked for yet, or gone from where it was: look everywhere. */
	if (*layout == HUGETLB_UNKNOWN || *layout == HUGETLB_NONE)
		check = true;
	if (*layout != HUGETLB_V1) {
		/* hugetlb.<size>.current exists only where the parent enabled the v2 controller. */
		err = read_layout(source, source->v2_root, path, "current", check, bytes);
		if (!err) {
			*layout = HUGETLB_V2;
			return 0;
		}
		if (err != -ENOENT)
			return err;
	}
	if (source->v1_root[0]) {
		err = read_layout(source, source->v1_root, path, "usage_in_bytes", check, bytes);
		if (!err) {
			*layout = HUGETLB_V1;
			return 0;
		}
		if (err != -ENOENT)
			return err;
	}
	if (*layout == HUGETLB_V1) {
		/* No longer in v1: v2 once more before giving up. */
		*layout = HUGETLB_UNKNOWN;
		return hugetlb_read(source, path, layout, true, bytes);
	}
	*layout = HUGETLB_NONE;
	return -ENOENT;
}
