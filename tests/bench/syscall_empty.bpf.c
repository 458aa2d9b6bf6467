// SPDX-License-Identifier: GPL-2.0
/*
 * An empty program at every system call's entry, for tests/bench/raw_sockets.sh:
 * what watching socket(AF_PACKET, ...) there would cost every system call of
 * the node, since no cgroup program runs when a packet socket is made. Kept
 * out of empty.bpf.c, whose programs probes.sh attaches all at once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int empty_sys_enter(void *ctx)
{
	return 0;
}
