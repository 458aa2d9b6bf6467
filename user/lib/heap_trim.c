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
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "heap_trim.h"

void heap_trim_note_freed(struct heap_trim *trim)
{
	trim->due = true;
}

void heap_trim_note_startup(struct heap_trim *trim)
{
	trim->due = true;
	trim->code_due = true;
}

/*
 * Start-up runs code that steady state never runs again (OpenSSL's
 * providers, libbpf's loader, the YAML parser, libyara's compiler): some
 * 3.5 MiB of its pages stay mapped, resident at any scale, though clean
 * and in the page cache. MADV_DONTNEED unmaps them; the code that still
 * runs maps back at a minor fault. Only mappings of a file, executable,
 * and with no private copy of a page (a text relocation, a debugger's
 * breakpoint): DONTNEED would put the file's bytes back in those.
 */
int heap_trim_release_code(void)
{
	unsigned long start = 0, end = 0, low, high, anonymous;
	char line[512], perms[5];
	bool code = false;
	FILE *smaps;
	int err = 0;

	smaps = fopen("/proc/self/smaps", "re");
	if (!smaps)
		return -errno;
	while (fgets(line, sizeof(line), smaps)) {
		/* A mapping's first line: "START-END PERMS OFFSET DEV INODE [PATH]". */
		/* Into low and high: "Anonymous:" scans as far as its A, a hex digit. */
		if (sscanf(line, "%lx-%lx %4s", &low, &high, perms) == 3) {
			start = low;
			end = high;
			code = !strcmp(perms, "r-xp") && strchr(line, '/');
			continue;
		}
		if (!code || sscanf(line, "Anonymous: %lu kB", &anonymous) != 1)
			continue;
		code = false;
		if (!anonymous && madvise((void *)start, end - start, MADV_DONTNEED) && !err)
			err = -errno;
	}
	fclose(smaps);
	return err;
}

void heap_trim_maybe(struct heap_trim *trim, double now)
{
	if (!trim->due || now - trim->at < HEAP_TRIM_INTERVAL_S)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	if (trim->code_due)
		heap_trim_release_code();
	trim->due = false;
	trim->code_due = false;
	trim->at = now;
}
