/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Gives the heap's free pages back to the kernel after many allocations
 * were freed (tenants dropped), at most every HEAP_TRIM_INTERVAL_S.
 */
#ifndef ABUSEWATCH_HEAP_TRIM_H
#define ABUSEWATCH_HEAP_TRIM_H

#include <stdbool.h>

#define HEAP_TRIM_INTERVAL_S 10.0
/* Allocations this big get pages of their own, returned when freed. */
#define HEAP_OWN_PAGES_BYTES (256 * 1024)

struct heap_trim {
	bool due;	/* something was freed since the last trim */
	double at;	/* monotonic seconds of the last trim */
};

/* malloc's policy for a long-running agent; before the first big allocation. */
void heap_trim_setup(void);
/* Many allocations were freed: trim at the next chance. */
void heap_trim_note_freed(struct heap_trim *trim);
/* Trims when due and the interval has passed since the last trim. */
void heap_trim_maybe(struct heap_trim *trim, double now);

#endif
