// SPDX-License-Identifier: GPL-2.0
/*
 * Tenants that come and go (a CI node makes and removes a cgroup a job)
 * leave their memory free but scattered over the heap, where malloc keeps
 * it: resident at the high-water mark of tenants alive at once. Once
 * tenants were dropped, at most every HEAP_TRIM_INTERVAL_S, the free pages
 * go back.
 */
/* First, for __GLIBC__: <features.h> comes with any libc header. */
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "heap_trim.h"

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
