#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` part "dns": what count_egress costs per packet on a load of
# nothing but DNS queries (every one's name inspected: the tenant's policy
# has builtin:miners), over an empty cgroup_skb/egress program on the same
# packets: scripts/bench-dns, its rounds' median. The figure beside
# skb_egress_ratio (probes.sh), whose packets are no DNS; the same budget.
#
# Knobs (environment): DNS_BENCH_ROUNDS (default 5), DNS_BENCH_SECONDS
# (seconds of load per run, scripts/bench-dns's default otherwise).
set -uo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

ROUNDS=${DNS_BENCH_ROUNDS:-5}
ID=skb_egress_dns_ratio
WHAT="cgroup_skb/egress: count_egress / empty, per packet of DNS queries (names inspected)"
BUDGET="<= 2.0"

out=$("$BENCH_REPO/scripts/bench-dns" "$ROUNDS" 2>&1)
status=$?
# "BINARY: median 1.89x (1.87-1.93) of 5 rounds"
summary=$(grep -E ': median [0-9.]+x \([0-9.]+-[0-9.]+\) of [0-9]+ rounds$' <<<"$out" | tail -n 1)
if [[ -z $summary ]]; then
	bench_log "dns: scripts/bench-dns gave no median (status $status): $(tail -n 3 <<<"$out")"
	bench_figure "$ID" "$WHAT" null x "$BUDGET" null "not measured"
	exit 0
fi
median=$(sed -E 's/.*: median ([0-9.]+)x .*/\1/' <<<"$summary")
range=$(sed -E 's/.*x \(([0-9.]+-[0-9.]+)\) of ([0-9]+) rounds$/\1 over \2 rounds/' <<<"$summary")
ok=$(python3 -c 'import sys; print("true" if float(sys.argv[1]) <= 2.0 else "false")' "$median")
bench_figure "$ID" "$WHAT" "$median" x "$BUDGET" "$ok" "median of round ratios, range $range"
