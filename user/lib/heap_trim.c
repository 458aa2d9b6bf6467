// SPDX-License-Identifier: GPL-2.0
/*
 * Tenants that come and go (a CI node makes and removes a cgroup a job)
 * leave their memory free but scattered over the heap, where malloc keeps
 * it: resident at the high-water mark of tenants alive at once. Once
 * tenants were dropped, at most every HEAP_TRIM_INTERVAL_S, the free pages
 * go back. And big buffers never stay in the heap (heap_trim_setup()).
 */
/* First, for __GLIBC__: <features.h> comes with any libc header. */
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "heap_trim.h"

void heap_trim_setup(void)
{
#ifdef __GLIBC__
	/*
	 * Buffers of 256 KiB and more (the textfile's write buffer, the
	 * restart state being written, libyara's compiler) get pages of
	 * their own, given back when freed. glibc would raise this bound to
	 * the largest such buffer freed, and the next ones would stay
	 * resident in the heap once freed. A textfile write pays one mmap and
	 * munmap for it, microseconds against its milliseconds.
	 */
	mallopt(M_MMAP_THRESHOLD, HEAP_OWN_PAGES_BYTES);
#endif
}

void heap_trim_note_freed(struct heap_trim *trim)
{
	trim->due = true;
}

void heap_trim_maybe(struct heap_trim *trim, double now)
{
	if (!trim->due || now - trim->at < HEAP_TRIM_INTERVAL_S)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	trim->due = false;
	trim->at = now;
}
