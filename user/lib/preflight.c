// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preflight.h"

/* Older headers lack the capabilities that Linux 5.8 split off CAP_SYS_ADMIN. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define BTF_MAGIC 0xeB9F

/*
 * What the probes need, as the kernel checks it: each capability, or
 * CAP_SYS_ADMIN, which stands in for all three (and is what kernels before
 * 5.8 ask for).
 */
static const struct {
	int capability;
	const char *name;
	const char *purpose;
} needed[] = {
    {CAP_BPF, "CAP_BPF", "create the maps and load the programs"},
    {CAP_PERFMON, "CAP_PERFMON", "load the tp_btf and raw_tp tracing programs"},
    {CAP_NET_ADMIN, "CAP_NET_ADMIN", "load the cgroup_skb and cgroup/connect programs"},
};

/* The effective set, 64 bits; false when capget fails. */
static bool effective_capabilities(uint64_t *effective)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &header, data))
		return false;
	*effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	return true;
}

static bool has(uint64_t effective, int capability)
{
	return effective >> capability & 1;
}

/* snprintf at @used in @why, which stays NUL-terminated however long it gets. */
static void append(char *why, size_t why_size, size_t *used, const char *format, const char *a,
		   const char *b)
{
	int written;

	if (*used >= why_size)
		return;
	written = snprintf(why + *used, why_size - *used, format, a, b);
	if (written > 0)
		*used += written;
}

int preflight_capabilities(char *why, size_t why_size)
{
	size_t i, used = 0, missing = 0, listed, count = sizeof(needed) / sizeof(needed[0]);
	uint64_t effective;

	/* Cannot tell: loading will say. */
	if (!effective_capabilities(&effective) || has(effective, CAP_SYS_ADMIN))
		return 0;
	for (i = 0; i < count; i++)
		missing += !has(effective, needed[i].capability);
	if (!missing)
		return 0;
	append(why, why_size, &used, "missing %s%s", missing > 1 ? "capabilities" : "capability",
	       "");
	for (i = 0, listed = 0; i < count; i++)
		if (!has(effective, needed[i].capability))
			append(why, why_size, &used, listed++ ? ", %s (to %s)" : " %s (to %s)",
			       needed[i].name, needed[i].purpose);
	append(why, why_size, &used,
	       "; grant %s as the systemd unit does (CapabilityBoundingSet=)%s",
	       missing > 1 ? "them" : "it", geteuid() ? ", or run as root" : "");
	return -EPERM;
}

int preflight_btf(const char *path, char *why, size_t why_size)
{
	uint16_t magic = 0;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, why_size,
			 "the kernel has no BTF: %s: %s (needs CONFIG_DEBUG_INFO_BTF)", path,
			 strerror(-err));
		return err;
	}
	got = read(fd, &magic, sizeof(magic));
	if (got < 0) {
		err = -errno;
		snprintf(why, why_size, "the kernel's BTF cannot be read: %s: %s", path,
			 strerror(-err));
	} else if (got == 0) {
		err = -ENODATA;
		snprintf(why, why_size, "the kernel has no BTF: %s is empty", path);
	} else if (got != sizeof(magic) || magic != BTF_MAGIC) {
		err = -EINVAL;
		snprintf(why, why_size, "the kernel has no BTF: %s is not BTF", path);
	}
	close(fd);
	return err;
}
