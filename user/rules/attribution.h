/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which process a piece of miner-behaviour evidence belongs to. A miner
 * does not load the msr module or raise huge pages itself: it runs a
 * helper (system("modprobe msr ..."), sysctl -w vm.nr_hugepages=N, a
 * shell around either) that exits at once while the miner goes on. An
 * alert held by the helper would resolve with it, and `action: kill`
 * would aim at a process already gone; held by the process that ran the
 * helper, it fires, and kill hits, for as long as the abuse runs.
 *
 * The rule: the evidence stays with the process that made it, unless that
 * process is a helper (a module loader always; for a device or sysctl
 * write, a process whose comm is a known helper's, software_is_helper()).
 * A helper's evidence goes to its real parent at the time of the event,
 * and on up past parents that are themselves helpers, shells or wrappers
 * (sh -c of system(), sudo), to the first that is none. The walk never
 * leaves the tenant: an ancestor outside the tenant's cgroups, pid 1 or
 * unknown (the kernel carries AW_ANCESTORS_MAX) ends it, and the evidence
 * stays with the last process walked, the helper itself when its parent
 * is not the tenant's. Pure logic: no I/O.
 */
#ifndef ABUSEWATCH_ATTRIBUTION_H
#define ABUSEWATCH_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One process of the chain: the one that made the evidence, or an ancestor. */
struct attribution_link {
	int pid;		/* 0: none (the kernel's walk ended before) */
	const char *comm;	/* its comm, up to 15 characters */
	bool in_tenant;		/* its cgroup was the event's tenant's */
};

/*
 * The helper list entry @comm is (case-insensitively: "sysctl", "sh",
 * "sudo", ...), or NULL when it is none. The entry, not the tenant's
 * text, is what a reason names.
 */
const char *software_helper_name(const char *comm);

static inline bool software_is_helper(const char *comm)
{
	return software_helper_name(comm) != NULL;
}

/*
 * The index in @chain (@count links: [0] the process that made the
 * evidence, in the tenant by definition, then its ancestors nearest
 * first) of the process the evidence is attributed to, by the rule above.
 * @made_by_helper says whether [0] is a helper (a module loader's exec:
 * true; a write: software_is_helper() of its comm). 0 when it stays.
 */
size_t software_attribute(const struct attribution_link *chain, size_t count,
			  bool made_by_helper);

#endif
