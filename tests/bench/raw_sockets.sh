#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/raw_sockets.sh [ROUNDS]: what the raw-socket policy's programs
# (bpf/sockets.bpf.c) cost, as root, after `make all test-tools bench-tools`.
#
# 1. Each program against an empty one on the same hook (build/bench/
#    empty.bpf.o), both attached to the cgroup v2 root at once, from the
#    kernel's run-time statistics (run_time_ns / run_cnt) over the same
#    calls, made in tenant cgroups of an agent this script starts: sockets
#    and options every program sees (the path nearly every call takes), raw
#    sockets of a tenant without the policy (a map lookup), and raw and
#    packet sockets of a tenant with raw_sockets: alert (an event each).
# 2. Whole calls: setsockopt() with no program on the hook against one with
#    an empty program (what any cgroup/setsockopt program adds to every
#    setsockopt of the node), and getppid() with and without an empty
#    tp_btf/sys_enter (what watching packet-socket creation at the system
#    call would add to every system call; the agent does not).
# Ratios of each round, then their medians. Everything it makes is removed.
set -u
ROUNDS=${1:-5}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$REPO/build/abusewatch
BENCH=$REPO/build/bench
TOOLS=$REPO/build/tools
V2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
for f in "$BIN" "$BENCH/attach_empty" "$BENCH/empty.bpf.o" "$BENCH/syscall_empty.bpf.o" \
	"$BENCH/sockloop" "$TOOLS/incg"; do
	[[ -x $f || -f $f ]] || { echo "missing $f: make all test-tools bench-tools" >&2; exit 2; }
done
[[ $(id -u) == 0 && -n $V2 ]] || { echo "needs root and a cgroup v2 hierarchy" >&2; exit 2; }

REL=/aw-rawbench-$$
CG=$V2$REL
TMP=$(mktemp -d /tmp/aw-rawbench.XXXXXX)
AGENT=""
EMPTY=""
cleanup() {
	[[ -n $EMPTY ]] && kill "$EMPTY" 2>/dev/null && wait "$EMPTY" 2>/dev/null
	[[ -n $AGENT ]] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	"$BIN" unpin -c "$TMP/config.yaml" >/dev/null 2>&1
	rmdir "$CG/tenants/watch" "$CG/tenants/plain" "$CG/tenants" "$CG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$CG/tenants/watch" "$CG/tenants/plain" "$TMP/state" || exit 1
cat >"$TMP/config.yaml" <<EOF
agent: {interval: 1s, textfile: "$TMP/aw.prom", events_log: "$TMP/events.jsonl", state_dir: "$TMP/state"}
tenants:
  - cgroup: "$REL/tenants/watch/**"
    tenant: watch
    plan: watch
  - cgroup: "$REL/tenants/{tenant}/**"
    plan: default
plans:
  default: {software: plain}
  watch: {software: watch}
software:
  plain: {deny: [xmrig]}
  watch: {deny: [xmrig], raw_sockets: alert}
alerts: {alertmanager: []}
EOF
"$BIN" run -c "$TMP/config.yaml" 2>"$TMP/agent.log" &
AGENT=$!
for ((i = 0; i < 150; i++)); do
	[[ -s $TMP/aw.prom ]] && break
	sleep 0.1
done
[[ -s $TMP/aw.prom ]] || { echo "agent did not start: $(tail -n 1 "$TMP/agent.log")" >&2; exit 1; }

# start_empty OBJECT PROGRAM...: attach_empty without statistics until stop_empty.
start_empty() {
	local object=$1
	shift
	mkfifo "$TMP/hold"
	"$BENCH/attach_empty" --no-stats "$object" "$V2" 600 "$@" <"$TMP/hold" >"$TMP/empty.ids" \
		2>"$TMP/empty.err" &
	EMPTY=$!
	exec {HOLD}>"$TMP/hold"
	for ((i = 0; i < 100; i++)); do
		grep -q '^attached' "$TMP/empty.err" && return 0
		sleep 0.1
	done
	echo "attach_empty failed: $(tail -n 1 "$TMP/empty.err")" >&2
	exit 1
}
stop_empty() {
	exec {HOLD}>&-
	wait "$EMPTY" 2>/dev/null
	EMPTY=""
	rm -f "$TMP/hold"
}

prog_id() {
	bpftool prog show -j | python3 -c "import json, sys
print([p['id'] for p in json.load(sys.stdin) if p.get('name') == sys.argv[1]][-1])" "$1"
}
stats() {
	bpftool prog show id "$1" -j | python3 -c "import json, sys
p = json.load(sys.stdin); print(p.get('run_time_ns', 0), p.get('run_cnt', 0))"
}

# ---- 1. programs against empty ones, per call
mkfifo "$TMP/hold"
"$BENCH/attach_empty" "$BENCH/empty.bpf.o" "$V2" 600 empty_sock_create empty_setsockopt \
	<"$TMP/hold" >"$TMP/empty.ids" 2>"$TMP/empty.err" &
EMPTY=$!
exec {HOLD}>"$TMP/hold"
sleep 1
declare -A ID
for p in watch_raw_create watch_packet_setup empty_sock_create empty_setsockopt; do
	ID[$p]=$(prog_id "$p")
done
# ratio NAME CGROUP MODE COUNT PROGRAM EMPTY: appends "NAME<TAB>probe ns<TAB>empty ns" to $TMP/ratios.
ratio() {
	local b1 b2 a1 a2
	b1=$(stats "${ID[$5]}")
	b2=$(stats "${ID[$6]}")
	"$TOOLS/incg" "$2" "$BENCH/sockloop" "$3" "$4" >/dev/null
	a1=$(stats "${ID[$5]}")
	a2=$(stats "${ID[$6]}")
	python3 -c 'import sys
b1, a1, b2, a2 = ([int(x) for x in s.split()] for s in sys.argv[2:6])
print("%s\t%.1f\t%.1f" % (sys.argv[1], (a1[0] - b1[0]) / max(1, a1[1] - b1[1]),
                          (a2[0] - b2[0]) / max(1, a2[1] - b2[1])))' "$1" "$b1" "$a1" "$b2" "$a2" \
		>>"$TMP/ratios"
}
for ((r = 1; r <= ROUNDS; r++)); do
	ratio "socket(AF_INET, SOCK_DGRAM): sock_create" "$CG/tenants/plain" udp 20000 watch_raw_create empty_sock_create
	ratio "raw socket, tenant without the policy" "$CG/tenants/plain" raw 20000 watch_raw_create empty_sock_create
	ratio "raw socket, raw_sockets: alert (event)" "$CG/tenants/watch" raw 20000 watch_raw_create empty_sock_create
	ratio "setsockopt(TCP_NODELAY): setsockopt" "$CG/tenants/plain" sockopt 50000 watch_packet_setup empty_setsockopt
	ratio "setsockopt(SOL_PACKET), alert (event)" "$CG/tenants/watch" packetopt 20000 watch_packet_setup empty_setsockopt
done
stop_empty
kill "$AGENT" && wait "$AGENT" 2>/dev/null
AGENT=""
"$BIN" unpin -c "$TMP/config.yaml" >/dev/null 2>&1

# ---- 2. whole calls with and without a program on the hook (no statistics: their clock reads)
# fastest MODE COUNT: the fastest of three runs, the one least disturbed by the rest of the machine.
fastest() {
	local a b c
	a=$("$BENCH/sockloop" "$1" "$2")
	b=$("$BENCH/sockloop" "$1" "$2")
	c=$("$BENCH/sockloop" "$1" "$2")
	printf '%s\n' "$a" "$b" "$c" | sort -g | head -n 1
}
for ((r = 1; r <= ROUNDS; r++)); do
	none=$(fastest sockopt 100000)
	start_empty "$BENCH/empty.bpf.o" empty_setsockopt
	with=$(fastest sockopt 100000)
	stop_empty
	printf 'setsockopt() call, empty cgroup/setsockopt / none\t%s\t%s\n' "$with" "$none" >>"$TMP/ratios"
	none=$(fastest getppid 500000)
	start_empty "$BENCH/syscall_empty.bpf.o" empty_sys_enter
	with=$(fastest getppid 500000)
	stop_empty
	printf 'getppid() call, empty tp_btf/sys_enter / none\t%s\t%s\n' "$with" "$none" >>"$TMP/ratios"
done

# Another holder of run-time statistics makes every program run read the clock twice more.
[[ $(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null) == 1 ]] &&
	echo "note: kernel.bpf_stats_enabled is 1 (someone else holds statistics on): the whole-call figures include their clock reads"
python3 - "$TMP/ratios" "$ROUNDS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, a, b = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(a), float(b)))
print("%-52s %8s %8s  %-6s %s" % ("what (%s rounds)" % sys.argv[2], "ns", "base ns", "median", "ratios"))
for name, values in rows.items():
    ratios = [a / b for a, b in values]
    print("%-52s %8.1f %8.1f  %-6.2f %s" % (name, statistics.median(a for a, _ in values),
          statistics.median(b for _, b in values), statistics.median(ratios),
          " ".join("%.2f" % r for r in ratios)))
EOF
