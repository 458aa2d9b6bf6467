/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What loading the probes needs from the kernel and the process, checked
 * before anything is loaded so that the reason an agent cannot start is
 * the real one: a capability by name, or the kernel's BTF. libbpf's own
 * errors (EPERM, EINVAL) say neither.
 */
#ifndef ABUSEWATCH_PREFLIGHT_H
#define ABUSEWATCH_PREFLIGHT_H

#include <stddef.h>

/* Where the kernel publishes its BTF, which tp_btf programs and CO-RE need. */
#define PREFLIGHT_BTF_PATH "/sys/kernel/btf/vmlinux"

/*
 * 0 when the effective capabilities allow loading and attaching the
 * probes; else -EPERM with @why naming each missing capability and what it
 * is for.
 */
int preflight_capabilities(char *why, size_t why_size);

/*
 * 0 when @path (PREFLIGHT_BTF_PATH) holds BTF; else -errno with @why
 * saying what is wrong (missing, unreadable, empty, not BTF).
 */
int preflight_btf(const char *path, char *why, size_t why_size);

#endif
