/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Huge pages a cgroup holds, from the hugetlb controller's own counters:
 * hugetlb.<size>.current of the v2 controller where the cgroup's parent
 * enables it, else hugetlb.<size>.usage_in_bytes of the v1 hugetlb
 * hierarchy at the same path (hybrid hosts), summed over the page sizes.
 * Pages that are merely reserved are not held (the controller charges
 * them at the fault); transparent huge pages are ordinary memory, in the
 * memory gauge.
 *
 * The pools of /sys/kernel/mm/hugepages say, at two reads a size, whether
 * any huge page of a size is in use on the host at all: on a node where
 * none is (most), no cgroup holds one, and no cgroup file is read.
 */
#ifndef ABUSEWATCH_HUGETLB_H
#define ABUSEWATCH_HUGETLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUGETLB_POOLS_DIR "/sys/kernel/mm/hugepages"
/* x86 has two sizes, arm64 four; room for more. */
#define HUGETLB_POOLS_MAX 8

enum hugetlb_layout {
	HUGETLB_UNKNOWN,	/* not looked for yet */
	HUGETLB_NONE,		/* no hierarchy accounts huge pages for the cgroup */
	HUGETLB_V2,
	HUGETLB_V1,
};

struct hugetlb_source;

/*
 * @v2_root: the cgroup2 mount; @mounts_file (/proc/mounts) finds the v1
 * hugetlb mount; @pools_dir: HUGETLB_POOLS_DIR (tests give another).
 * NULL (errno set) on failure; a host without huge pages gives a source
 * with no pools, whose cgroups have no layout.
 */
struct hugetlb_source *hugetlb_source_new(const char *v2_root, const char *mounts_file,
					  const char *pools_dir);
void hugetlb_source_free(struct hugetlb_source *source);

/* How many page sizes the host has. */
size_t hugetlb_pool_count(const struct hugetlb_source *source);

/*
 * Reads each pool's pages in use again (free_hugepages, then nr_hugepages:
 * a pool that grows in between reads as in use rather than idle). True
 * when some page of some size is in use.
 */
bool hugetlb_source_refresh(struct hugetlb_source *source);
/* As of the last refresh. */
bool hugetlb_in_use(const struct hugetlb_source *source);

/*
 * Bytes of huge pages charged to cgroup @path ("/a/b", under the roots)
 * into *@bytes: the sum over the sizes in use on the host (a size with
 * none in use adds 0 without a read). *@layout says where the files were
 * last time (HUGETLB_UNKNOWN: look); it is updated. With no size in use,
 * nothing is read unless @check, which makes sure the files are still
 * there. 0, or -ENOENT when no hierarchy accounts huge pages for the
 * cgroup (then *@layout is HUGETLB_NONE), or another -errno.
 */
int hugetlb_read(const struct hugetlb_source *source, const char *path,
		 enum hugetlb_layout *layout, bool check, uint64_t *bytes);

/*
 * The name the controller gives a page size in its files, as the kernel
 * writes it: "2MB", "1GB", "64KB". 0 or -EINVAL (0 bytes, or @size short).
 */
int hugetlb_size_name(uint64_t page_bytes, char *out, size_t size);
/* The page size of a pool directory's name, "hugepages-2048kB". 0 or -EINVAL. */
int hugetlb_pool_page_bytes(const char *dir_name, uint64_t *page_bytes);

#endif
