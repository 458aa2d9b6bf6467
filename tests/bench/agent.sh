#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What the agent itself costs, at scale (part "agent" of `make bench`).
# Real agent, real probes, real cgroups: this part makes 100, then 1,000,
# then 10,000 tenant cgroups under its own directory in the v2 root and runs
# the agent on each set (interval 1 s, a plan that limits cpu and memory,
# so that evaluation and the memory gauge run), then measures:
#
#   - CPU of the agent (utime + stime of /proc/PID/stat, all its threads),
#     as % of one core over a window after a warm-up: idle, and under a
#     bounded load (CPU and exec loops in four tenants);
#   - its RSS and open files at each scale;
#   - one textfile write of 10,000 tenants (build/bench/textfile_bench,
#     which times metrics_write() alone);
#   - exec of a denied binary to its events-log record, p50 and p99 of 200;
#   - 50,000 execs in 5 s in one tenant: events lost, execs counted;
#   - cgroup churn: 100 cgroups made and removed a second for 60 s, each a
#     tenant with a short-lived process; map entries, fds and RSS before
#     and after (the agent runs with --tenant-expiry 5).
#
# The latency and the burst run at 100 and at 10,000 tenants, the churn at
# 100. Memory is made readable for every tenant: the v2 memory controller
# where the v2 root offers it, else (hybrid hosts) a v1 memory cgroup at the
# same path, as a container runtime makes on such a host. Everything made
# here (cgroups in both hierarchies, processes, the agent, the temporary
# directory) goes away on exit, also on failure or a signal.
#
# Helpers: tests/tools/execburst, cgchurn and exit0 make the load;
# tests/bench/textfile_bench.c times the textfile; exec_latency.py and
# agent_maps.py (the agent's maps through bpftool) measure.
#
# For trying and comparing, not for the figures' budgets:
#   BENCH_AGENT_SCALES="100 1000"  other scales (latency and burst run at 100
#                                  and 10000, the churn at 100)
#   BENCH_AGENT_WINDOW_S, BENCH_AGENT_CHURN_S  shorter windows
#   BENCH_AGENT_MEMORY=none        no tenant's memory readable (the agent then
#                                  keeps no memory files open)
#   BENCH_AGENT_PROFILE=1          10 s of `perf record -g` on the agent at
#                                  10,000 tenants, after the CPU windows, into
#                                  build/bench/agent-10000.perf
set -uo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=agent_lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"

# ---------------------------------------------------------------- settings

# The BENCH_AGENT_* overrides are described at the top.
read -r -a SCALES <<<"${BENCH_AGENT_SCALES:-100 1000 10000}"
INTERVAL_S=1
EXPIRY_S=5
CGROUP_PREFIX=abusewatch-bench-agent
# CPU windows: long enough that a tick (10 ms at 100 Hz) is under 0.07% of
# a core; short enough that three scales, idle and loaded, fit in 2 minutes.
WARMUP_S=5
WINDOW_S=${BENCH_AGENT_WINDOW_S:-15}
LATENCY_EXECS=200
LATENCY_TENANTS=8	# 25 alerts each: a tenant has at most 64 firing at once
LATENCY_LIMIT_S=60	# for all 200, so a broken agent cannot stall the part
BURST_EXECS=50000
BURST_RATE=10000	# 50,000 in 5 s
BURST_LIMIT_S=30
CHURN_RATE=100
CHURN_S=${BENCH_AGENT_CHURN_S:-60}
CHURN_LIFETIME_S=1
# A big textfile is rewritten at most once per second per MiB (metrics.h):
# some 15 s at 10,000 tenants; counts wait that long to show.
TEXTFILE_PACE_S=20
# The fixed tenants; the rest of each scale is idle tenants t-NNNNNN.
WORK_TENANTS=(load-0 load-1 load-2 load-3 burst)

CLK_TCK=$(getconf CLK_TCK)
TEXTFILE_BENCH=$BENCH_BUILD/bench/textfile_bench

TMP=""
CONFIG=""
TEXTFILE=""
EVENTS=""
LOAD_PIDS=()
declare -A FDS=() RSS=()

# ---------------------------------------------------------------- figures

# figure ID "what" VALUE UNIT "budget" OK [NOTE]: bench_figure, and the
# figure in the log as it comes, so a run that dies half-way still says
# what it had measured.
figure() {
	bench_log "figure $1 = $3 $4 (ok: $6)${7:+ ($7)}"
	bench_figure "$@"
}

cleanup() {
	local status=$? pid
	trap - EXIT INT TERM HUP
	stop_agent
	for pid in "${LOAD_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	remove_cgroups
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$status"
}

# ---------------------------------------------------------------- agent

write_config() {
	config_head bench "$TMP/events.jsonl" >"$TMP/config.yaml" || return 1
	# The plan limits cpu and memory, so that evaluation and the memory
	# gauge run for every tenant; the software policy is what denies xmrig.
	cat >>"$CONFIG" <<EOF
plans:
  default:
    window: 10s
    cpu: 1
    memory: 1GiB
    software: standard
software:
  standard:
    deny: [builtin:miners]
alerts:
  alertmanager: []
EOF
}

# ---------------------------------------------------------------- load

# start_load SECONDS: a bounded load in four tenants for SECONDS: two burn
# a quarter of a core each, two exec exit0 100 times a second each. Half
# of this 2-core machine stays free, so the agent is measured, not starved.
start_load() {
	local seconds=$1
	LOAD_PIDS=()
	"$AW_TOOLS/incg" "$TENANTS/load-0" "$AW_TOOLS/burn" "$seconds" 0.25 &
	LOAD_PIDS+=($!)
	"$AW_TOOLS/incg" "$TENANTS/load-1" "$AW_TOOLS/burn" "$seconds" 0.25 &
	LOAD_PIDS+=($!)
	"$AW_TOOLS/incg" "$TENANTS/load-2" "$AW_TOOLS/execburst" -r 100 -t "$seconds" \
		$((100 * seconds)) "$AW_TOOLS/exit0" >/dev/null &
	LOAD_PIDS+=($!)
	"$AW_TOOLS/incg" "$TENANTS/load-3" "$AW_TOOLS/execburst" -r 100 -t "$seconds" \
		$((100 * seconds)) "$AW_TOOLS/exit0" >/dev/null &
	LOAD_PIDS+=($!)
}

stop_load() {
	local pid
	for pid in "${LOAD_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	LOAD_PIDS=()
}

# ---------------------------------------------------------------- parts

# measure_cpu N: idle and loaded CPU, RSS and fds of the agent at N tenants.
measure_cpu() {
	local n=$1 idle load seen note budget ok_idle ok_load trouble memory limit
	seen=$(agent_tenants_at_start)
	sleep "$WARMUP_S"
	idle=$(cpu_percent "$AGENT_PID" "$WINDOW_S")
	start_load $((WINDOW_S + 3))
	sleep 2
	load=$(cpu_percent "$AGENT_PID" "$WINDOW_S")
	RSS[$n]=$(rss_mib "$AGENT_PID")
	FDS[$n]=$(fd_count "$AGENT_PID")
	stop_load
	memory=$(tf_count abusewatch_tenant_memory_bytes)
	trouble=$(agent_trouble)
	note="agent saw ${seen:-?} tenants; memory gauges ${memory:-0} ($MEM_MODE)"
	if wait_fresh_textfile; then :; else note+="; textfile NOT being written"; fi
	[[ -n $trouble ]] && note+="; agent log: $trouble"
	budget="-"
	ok_idle=null
	ok_load=null
	if ((n == 10000)); then
		budget="<= 0.5 % of a core"
		ok_idle=$(verdict "$idle" "<=" 0.5)
		ok_load=$(verdict "$load" "<=" 0.5)
	fi
	figure "agent_cpu_idle_$n" "agent CPU, $n tenants, idle" "${idle:-null}" "% core" \
		"$budget" "$ok_idle" "$note; ${WINDOW_S} s window"
	figure "agent_cpu_load_$n" "agent CPU, $n tenants, under load" "${load:-null}" "% core" \
		"$budget" "$ok_load" "2 tenants burning 0.25 core, 2 execing 100/s"
	if ((n == 10000)); then
		figure agent_rss_10000 "agent RSS, 10000 tenants" "${RSS[$n]:-null}" MiB \
			"<= 32 MiB" "$(verdict "${RSS[$n]:-null}" "<=" 32)"
	else
		figure "agent_rss_$n" "agent RSS, $n tenants" "${RSS[$n]:-null}" MiB "-" null
	fi
	limit=$(fd_limit "$AGENT_PID")
	note="RLIMIT_NOFILE ${limit:-?}"
	((${FDS[$n]:-0} >= ${limit:-1000000000} - 5)) && note+=": at the limit"
	figure "agent_fds_$n" "agent open files, $n tenants" "${FDS[$n]:-null}" files "-" null "$note"
}

# measure_latency N: exec of a denied binary to its events-log record.
measure_latency() {
	local n=$1 out p50 p99 note
	out=$(python3 "$BENCH_REPO/tests/bench/exec_latency.py" "$TMP/bin/lat" "$EVENTS" "$AW_TOOLS/incg" "$TENANTS" \
		"$LATENCY_EXECS" "$LATENCY_TENANTS" "$LATENCY_LIMIT_S" 2>&1 | tail -n 1)
	p50=$(awk '$1 == "p50" { print $2 }' <<<"$out")
	p99=$(awk '$1 == "p50" { print $4 }' <<<"$out")
	note="${out:-no output}; includes spawning incg and a dynamically linked xmrig"
	figure "exec_record_p50_$n" "exec of a denied binary to its record, p50, $n tenants" \
		"${p50:-null}" ms "-" null "$note"
	figure "exec_record_p99_$n" "exec of a denied binary to its record, p99, $n tenants" \
		"${p99:-null}" ms "<= 20 ms" "$(verdict "${p99:-null}" "<=" 20)" "$note"
}

# burst_counts: "LOST EXECS FRESH" now, from the textfile as an operator
# reads it (FRESH is "yes" when the agent is writing it) and, separately,
# "LOST EXECS" from the agent's maps, which hold the same counts.
burst_counts_textfile() {
	local fresh=yes
	wait_fresh_textfile || fresh=no
	echo "$(tf_value "abusewatch_events_lost_total ") $(tenant_execs burst) $fresh"
}

burst_counts_maps() {
	echo "$(agent_maps "$AGENT_PID" lost | awk '{ print $1 }') $(agent_maps "$AGENT_PID" execs "$1")"
}

# measure_burst N: 50,000 execs in 5 s in the tenant "burst". The figures
# come from the textfile; where the agent is not writing it (out of
# descriptors at 10,000 tenants, say), from its maps, and the note says so.
measure_burst() {
	local n=$1 cgid out ran secs want i grew lost note detail0 detail1
	local tf_lost0 tf_execs0 fresh0 tf_lost1 tf_execs1 fresh1
	local map_lost0 map_execs0 map_lost1 map_execs1 lost0 lost1 execs0 execs1
	cgid=$(stat -c %i "$TENANTS/burst")
	read -r tf_lost0 tf_execs0 fresh0 <<<"$(burst_counts_textfile)"
	read -r map_lost0 map_execs0 <<<"$(burst_counts_maps "$cgid")"
	detail0=$(agent_maps "$AGENT_PID" lost | cut -d' ' -f2-)
	out=$("$AW_TOOLS/incg" "$TENANTS/burst" "$AW_TOOLS/execburst" -j 2 -r "$BURST_RATE" \
		-t "$BURST_LIMIT_S" "$BURST_EXECS" "$AW_TOOLS/exit0")
	ran=$(awk '{ print $2 }' <<<"$out")
	secs=$(awk '{ print $6 }' <<<"$out")
	# incg's exec of execburst is in the tenant too.
	want=$((${tf_execs0:-0} + ${ran:-0} + 1))
	for ((i = 0; i < 10 * (5 + 2 * INTERVAL_S + TEXTFILE_PACE_S); i++)); do
		[[ $fresh0 == no || $(tenant_execs burst) == "$want" ]] && break
		sleep 0.1
	done
	# Two more intervals: a count still arriving would show as growth past want.
	sleep $((2 * INTERVAL_S))
	read -r tf_lost1 tf_execs1 fresh1 <<<"$(burst_counts_textfile)"
	read -r map_lost1 map_execs1 <<<"$(burst_counts_maps "$cgid")"
	detail1=$(agent_maps "$AGENT_PID" lost | cut -d' ' -f2-)
	note="${ran:-?} execs in ${secs:-?} s"
	if [[ $fresh0 == yes && $fresh1 == yes && -n $tf_lost0 && -n $tf_lost1 &&
		-n $tf_execs0 && -n $tf_execs1 ]]; then
		lost0=$tf_lost0 lost1=$tf_lost1 execs0=$tf_execs0 execs1=$tf_execs1
		note+="; from the textfile"
	else
		lost0=$map_lost0 lost1=$map_lost1 execs0=$map_execs0 execs1=$map_execs1
		note+="; from the agent's maps, the textfile is not being written ($(agent_trouble))"
	fi
	if [[ -n $lost0 && -n $lost1 && -n $execs0 && -n $execs1 && -n $ran ]]; then
		lost=$((lost1 - lost0))
		grew=$((execs1 - execs0 - ran - 1))
		note+="; execs counted +$((execs1 - execs0)) (incg's exec of execburst included)"
	else
		lost=null
		grew=null
		note+="; counts unreadable"
	fi
	note+="; lost counters before: $detail0; after: $detail1"
	figure "burst_events_lost_$n" "events lost in 50,000 execs in 5 s, $n tenants" \
		"$lost" events "= 0" "$(verdict "$lost" "==" 0)" "$note"
	figure "burst_execs_miscounted_$n" "execs_total growth minus execs done, $n tenants" \
		"$grew" execs "= 0" "$(verdict "$grew" "==" 0)" "${ran:-?} execs in ${secs:-?} s"
}

# measure_churn: 100 cgroups a second for 60 s, each a tenant of its own.
measure_churn() {
	local maps0 maps1 fds0 fds1 rss0 rss1 tenants0 tenants1 out mirror=() note
	local total0 stale0 total1 stale1
	sleep $((2 * INTERVAL_S))
	maps0=$(agent_maps "$AGENT_PID" entries "$V2")
	fds0=$(fd_count "$AGENT_PID")
	rss0=$(rss_mib "$AGENT_PID")
	tenants0=$(tf_count abusewatch_tenant_cpu_seconds_total)
	[[ $MEM_MODE == v1 ]] && mirror=(-m "$MEM_TENANTS")
	out=$("$AW_TOOLS/cgchurn" "${mirror[@]}" "$TENANTS" "$CHURN_RATE" "$CHURN_S" \
		"$CHURN_LIFETIME_S" "$AW_TOOLS/exit0")
	# Gone tenants stay --tenant-expiry; then a few intervals to drop them.
	sleep $((EXPIRY_S + 5 * INTERVAL_S))
	wait_fresh_textfile
	maps1=$(agent_maps "$AGENT_PID" entries "$V2")
	fds1=$(fd_count "$AGENT_PID")
	rss1=$(rss_mib "$AGENT_PID")
	tenants1=$(tf_count abusewatch_tenant_cpu_seconds_total)
	note="cgchurn: ${out:-failed}; tenants in the textfile $tenants0 -> $tenants1"
	# "TOTAL STALE" each.
	read -r total0 stale0 <<<"$maps0"
	read -r total1 stale1 <<<"$maps1"
	if [[ -n ${stale0:-} && -n ${stale1:-} ]]; then
		figure churn_map_entries "map entries of removed cgroups, after churn minus before" \
			"$((stale1 - stale0))" entries "<= 0" "$(verdict $((stale1 - stale0)) "<=" 0)" \
			"usage_by_id + net_by_id: $total0 -> $total1 entries, of removed cgroups $stale0 -> $stale1; $note"
	else
		figure churn_map_entries "map entries of removed cgroups, after churn minus before" \
			null entries "<= 0" null "bpftool could not read the maps; $note"
	fi
	figure churn_fds "agent open files after churn minus before" "$((fds1 - fds0))" files \
		"<= 0" "$(verdict $((fds1 - fds0)) "<=" 0)" "$fds0 -> $fds1"
	figure churn_rss "agent RSS after churn minus before" "$(calc "$rss1 - $rss0")" MiB \
		"<= 10% of before" "$(verdict "$(calc "$rss1 - $rss0")" "<=" "$(calc "$rss0 / 10")")" \
		"$rss0 -> $rss1 MiB"
}

# The textfile of 10,000 tenants, timed alone (median of 21 writes), on the
# file system of build/ (disk-backed here) and, for comparison, in /dev/shm.
measure_textfile_write() {
	local out shm dir=$TMP/textfile-bench note median
	if [[ ! -x $TEXTFILE_BENCH ]]; then
		bench_log "agent: building $TEXTFILE_BENCH (make bench-tools)"
		make -s -C "$BENCH_REPO" bench-tools >&2
	fi
	if [[ ! -x $TEXTFILE_BENCH ]]; then
		figure textfile_write_10000 "textfile write, 10000 tenants (median)" null ms \
			"<= 30 ms" null "$TEXTFILE_BENCH could not be built (make bench-tools)"
		return
	fi
	mkdir -p "$dir"
	out=$("$TEXTFILE_BENCH" -n 10000 -r 21 "$dir")
	note="$out; on $(stat -f -c %T "$dir")"
	if [[ -d /dev/shm ]] && shm=$(mktemp -d /dev/shm/abusewatch-bench.XXXXXX); then
		note+="; on tmpfs median $("$TEXTFILE_BENCH" -n 10000 -r 21 "$shm" |
			awk '{ print $6 }') ms"
		rm -rf "$shm"
	fi
	median=$(awk '{ print $6 }' <<<"$out")
	figure textfile_write_10000 "textfile write, 10000 tenants (median of 21)" \
		"${median:-null}" ms "<= 30 ms" "$(verdict "${median:-null}" "<=" 30)" "$note"
}

# Every figure of this part as null with REASON: nothing could be measured.
all_null() {
	local id
	for id in agent_cpu_idle_10000 agent_cpu_load_10000 agent_rss_10000 agent_fds_growth \
		textfile_write_10000 exec_record_p99_100 burst_events_lost_100 churn_map_entries; do
		figure "$id" "$id" null - "-" null "$1"
	done
}

# ---------------------------------------------------------------- main

main() {
	local n i budget growth tool
	for tool in incg burn execburst exit0 cgchurn linger; do
		if [[ ! -x $AW_TOOLS/$tool ]]; then
			all_null "$AW_TOOLS/$tool is not built (make test-tools)"
			return 1
		fi
	done
	if [[ ! -x $AW_BIN ]]; then
		all_null "$AW_BIN is not built (make)"
		return 1
	fi
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/abusewatch-bench-agent.XXXXXX") || return 1
	if ! setup_cgroups; then
		all_null "cannot make cgroups under the v2 root ($(v2_root))"
		return 1
	fi
	write_config || return 1
	# The denied program: linger called xmrig, under 200 paths (one alert each).
	mkdir -p "$TMP/bin" && cp "$AW_TOOLS/linger" "$TMP/bin/xmrig" || return 1
	for ((i = 0; i < LATENCY_EXECS; i++)); do
		mkdir -p "$TMP/bin/lat/$i" && ln "$TMP/bin/xmrig" "$TMP/bin/lat/$i/xmrig" || return 1
	done
	for ((i = 0; i < LATENCY_TENANTS; i++)); do
		WORK_TENANTS+=("lat-$i")
	done
	add_tenants "${WORK_TENANTS[@]}" || return 1

	measure_textfile_write

	for n in "${SCALES[@]}"; do
		bench_log "agent: $n tenants"
		grow_to "$n" || {
			bench_log "agent: cannot make $n tenant cgroups"
			break
		}
		if ! start_agent; then
			bench_log "agent: $AGENT_STATUS"
			figure "agent_cpu_idle_$n" "agent CPU, $n tenants, idle" null "% core" "-" null \
				"$AGENT_STATUS"
			continue
		fi
		measure_cpu "$n"
		if ((n == 100 || n == 10000)); then
			measure_latency "$n"
			measure_burst "$n"
		fi
		((n == 100)) && measure_churn
		if ((n == 10000)) && [[ ${BENCH_AGENT_PROFILE:-} == 1 ]] && command -v perf >/dev/null; then
			perf record -q -g -p "$AGENT_PID" -o "$BENCH_BUILD/bench/agent-10000.perf" \
				-- sleep 10 >/dev/null 2>&1
			bench_log "agent: profile in $BENCH_BUILD/bench/agent-10000.perf"
		fi
		stop_agent
	done

	growth=null
	[[ -n ${FDS[100]:-} && -n ${FDS[10000]:-} ]] && growth=$((FDS[10000] - FDS[100]))
	budget="fds at 10000 - fds at 100 <= 10"
	figure agent_fds_growth "agent open files, 10000 tenants minus 100" "$growth" files \
		"$budget" "$(verdict "$growth" "<=" 10)" \
		"${FDS[100]:-?} / ${FDS[1000]:-?} / ${FDS[10000]:-?} at 100 / 1000 / 10000"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
main
