// SPDX-License-Identifier: GPL-2.0
/*
 * One empty program on each hook the agent uses, for `make bench`
 * (tests/bench/probes.sh): with bpf_stats on, its run_time_ns / run_cnt is
 * what the kernel charges any program on that hook (the dispatch, the
 * statistics' own clock reads), so a probe's cost divided by it is what the
 * probe's body adds, comparable across machines. Loaded and attached by
 * tests/bench/attach_empty.c; the names are what the bench looks for.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int empty_switch(void *ctx)
{
	return 0;
}

SEC("tp_btf/block_bio_queue")
int empty_bio(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int empty_exec(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int empty_fork(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int empty_exit(void *ctx)
{
	return 0;
}

/* cgroup_skb and cgroup/connect: 1 lets the packet or the call through. */
SEC("cgroup_skb/ingress")
int empty_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int empty_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup/connect4")
int empty_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

SEC("cgroup/connect6")
int empty_connect6(struct bpf_sock_addr *ctx)
{
	return 1;
}

/* cgroup/sock_create and cgroup/setsockopt: 1 lets the call through. */
SEC("cgroup/sock_create")
int empty_sock_create(struct bpf_sock *sk)
{
	return 1;
}

SEC("cgroup/setsockopt")
int empty_setsockopt(struct bpf_sockopt *ctx)
{
	return 1;
}

/* Every packet queued to a device (__dev_queue_xmit), as net.bpf.c's count_pkt_sock. */
SEC("tp_btf/net_dev_queue")
int empty_dev_queue(void *ctx)
{
	return 0;
}

/* Every sendmsg() of the host, as net.bpf.c's count_direct_tx. */
SEC("tp_btf/sock_send_length")
int empty_send_len(void *ctx)
{
	return 0;
}

/* cgroup/dev and cgroup/sysctl, as software.bpf.c's watchers: 1 allows. */
SEC("cgroup/dev")
int empty_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	return 1;
}

SEC("cgroup/sysctl")
int empty_sysctl(struct bpf_sysctl *ctx)
{
	return 1;
}
