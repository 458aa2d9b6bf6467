// SPDX-License-Identifier: GPL-2.0
/*
 * The attribution of miner-behaviour evidence to the process that caused
 * it (see attribution.h).
 */
#include <strings.h>

#include "attribution.h"

/*
 * Programs that do a miner's privileged chores for it and exit, and those
 * that stand between such a helper and the miner while it runs. Names as
 * the kernel keeps them in comm (the name they were run by).
 */
static const char *const helpers[] = {
	/* Load the msr module (Debian's modprobe is a link to kmod, run as modprobe). */
	"modprobe", "insmod",
	/* Write a huge-page sysctl or an MSR: sysctl(8), msr-tools, and the
	 * tools a shell redirection hands the write to. */
	"sysctl", "wrmsr", "cat", "tee", "dd", "echo", "printf", "cp",
	/* Shells: system() and popen() run their command through sh -c. */
	"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox",
	/* Wrappers that stay the helper's parent while it runs (those that exec, as env or nice, never appear). */
	"sudo", "su", "doas", "timeout", "xargs", "flock",
};

const char *software_helper_name(const char *comm)
{
	size_t i;

	if (!comm)
		return NULL;
	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (!strcasecmp(comm, helpers[i]))
			return helpers[i];
	}
	return NULL;
}

size_t software_attribute(const struct attribution_link *chain, size_t count,
			  bool made_by_helper)
{
	size_t at = 0;

	if (!chain || !count || !made_by_helper)
		return 0;
	/* [at] is a helper: on to its parent while that is the tenant's. */
	while (at + 1 < count) {
		const struct attribution_link *parent = &chain[at + 1];

		if (parent->pid <= 1 || !parent->in_tenant)
			break;
		at++;
		if (!software_is_helper(parent->comm))
			break;
	}
	return at;
}
