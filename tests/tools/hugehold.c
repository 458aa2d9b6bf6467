// SPDX-License-Identifier: GPL-2.0
/*
 * hugehold PAGES SECONDS [POOL]: what a RandomX miner does with huge pages.
 * With POOL (a pool's nr_hugepages in sysfs, as
 * /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages), first raises
 * that pool by PAGES, as the miner does through sysfs (no sysctl); then
 * maps PAGES huge pages of 2 MiB (MAP_HUGETLB), touches each so the
 * hugetlb controller charges it, says "holding", holds them for SECONDS
 * and exits, which frees them. The caller puts the pool back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#define HUGE_PAGE (2UL << 20)

static int usage(void)
{
	fprintf(stderr, "usage: hugehold PAGES SECONDS [POOL]\n"
			"  maps and touches PAGES (1..512) huge pages of 2 MiB, holds them\n"
			"  SECONDS (1..600); with POOL (an nr_hugepages file), raises it by\n"
			"  PAGES first\n"
			"example: hugehold 4 10 /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages\n");
	return 2;
}

/* Adds @pages to the number in @pool. 0 or -errno. */
static int raise_pool(const char *pool, long pages)
{
	long before, after;
	FILE *file;
	int err = 0;

	file = fopen(pool, "r+");
	if (!file)
		return -errno;
	if (fscanf(file, "%ld", &before) != 1) {
		fclose(file);
		return -EINVAL;
	}
	rewind(file);
	if (fprintf(file, "%ld\n", before + pages) < 0 || fflush(file))
		err = -errno;
	if (fclose(file) && !err)
		err = -errno;
	if (err)
		return err;
	file = fopen(pool, "r");
	if (!file || fscanf(file, "%ld", &after) != 1)
		after = -1;
	if (file)
		fclose(file);
	printf("pool %s: %ld -> %ld\n", pool, before, after);
	return 0;
}

int main(int argc, char **argv)
{
	volatile char *block;
	long pages, seconds, i;
	char *rest;
	int err;

	if (argc != 3 && argc != 4)
		return usage();
	pages = strtol(argv[1], &rest, 10);
	if (rest == argv[1] || *rest || pages < 1 || pages > 512)
		return usage();
	seconds = strtol(argv[2], &rest, 10);
	if (rest == argv[2] || *rest || seconds < 1 || seconds > 600)
		return usage();
	if (argc == 4) {
		err = raise_pool(argv[3], pages);
		if (err) {
			fprintf(stderr, "hugehold: raising %s: %s\n", argv[3], strerror(-err));
			return 3;
		}
	}
	block = mmap(NULL, pages * HUGE_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	if (block == MAP_FAILED) {
		fprintf(stderr, "hugehold: mmap of %ld huge pages: %s\n", pages, strerror(errno));
		return 3;
	}
	/*
	 * One write a page, through a volatile pointer: the fault takes the
	 * page from the pool and charges it (a page only reserved is not).
	 */
	for (i = 0; i < pages; i++)
		block[i * HUGE_PAGE] = 0x5a;
	printf("holding %ld huge pages (%lu bytes)\n", pages, pages * HUGE_PAGE);
	fflush(stdout);
	sleep((unsigned int)seconds);
	munmap((void *)block, pages * HUGE_PAGE);
	return 0;
}
