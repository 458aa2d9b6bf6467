# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Running an agent over many tenant cgroups and watching it from outside:
# shared by tests/bench/agent.sh (what it costs) and tests/soak/soak.sh
# (that it stays flat for half an hour). Sourced after lib.sh.
#
# The caller sets INTERVAL_S, EXPIRY_S and CGROUP_PREFIX (the name of the
# private tree under the v2 root), calls setup_cgroups, writes $CONFIG with
# $TEXTFILE and $EVENTS in it, and uses start_agent / stop_agent. Globals
# set here: V2 REL CG TENANTS MEM_MODE MEM_TENANTS AGENT_PID AGENT_LOG
# AGENT_STATUS.

V2=""
REL=""
CG=""
TENANTS=""
MEM_MODE=none		# v2, v1 or none: how tenants' memory is readable
MEM_TENANTS=""		# v1: the tenants' directory in the v1 memory hierarchy
AGENT_PID=""
AGENT_LOG=""
AGENT_STATUS=""

# config_head HOSTNAME EVENTS_LOG: sets CONFIG and TEXTFILE under $TMP
# (and EVENTS) and prints the start of the agent's configuration: the
# agent section and every tenant cgroup on plan "default". The caller adds
# the plans and the rest.
config_head() {
	CONFIG=$TMP/config.yaml
	TEXTFILE=$TMP/textfile/abusewatch.prom
	EVENTS=$2
	mkdir -p "$TMP/textfile" "$TMP/state" || return 1
	cat <<EOF
agent:
  interval: ${INTERVAL_S}s
  textfile: "$TEXTFILE"
  events_log: "$EVENTS"
  state_dir: "$TMP/state"
  hostname: $1
tenants:
  - cgroup: "$REL/tenants/{tenant}/**"
    plan: default
EOF
}

# calc EXPRESSION: floating-point arithmetic (awk), printed with %.6g.
calc() {
	awk "BEGIN { printf \"%.6g\n\", $1 }"
}

# verdict VALUE OP BUDGET: "true" or "false" (or "null" for a null value).
verdict() {
	[[ $1 == null || -z $1 ]] && {
		echo null
		return
	}
	awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {
		ok = op == "<=" ? v <= b : op == "==" ? v == b : v >= b
		print ok ? "true" : "false"
	}'
}

# ---------------------------------------------------------------- cgroups

v2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

v1_memory_root() {
	awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts
}

# Kills every process in the v2 tree $1 and removes it, children first;
# waits at most 10 s for it to empty.
remove_v2_tree() {
	local dir=$1 i
	[[ -d $dir ]] || return 0
	for ((i = 0; i < 100; i++)); do
		echo 1 >"$dir/cgroup.kill" 2>/dev/null
		grep -q '^populated 0' "$dir/cgroup.events" 2>/dev/null && break
		sleep 0.1
	done
	remove_tree "$dir"
}

# Removes the (empty) cgroup tree $1, children first, retrying 5 s while
# dying tasks keep a cgroup busy.
remove_tree() {
	local dir=$1 i
	for ((i = 0; i < 50; i++)); do
		[[ -d $dir ]] || return 0
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		sleep 0.1
	done
	bench_log "agent: cannot remove $dir"
	return 1
}

# Sets up the private trees and how memory is read; 1 when impossible.
setup_cgroups() {
	local v1
	V2=$(v2_root)
	[[ -n $V2 ]] || return 1
	REL=/$CGROUP_PREFIX-$$-$RANDOM
	CG=$V2$REL
	TENANTS=$CG/tenants
	mkdir "$CG" "$TENANTS" || return 1
	# BENCH_AGENT_MEMORY=none: no tenant's memory readable (to compare).
	if [[ ${BENCH_AGENT_MEMORY:-auto} == none ]]; then
		:
	elif grep -qw memory "$V2/cgroup.controllers" 2>/dev/null; then
		# The root must pass the controller down too; it does on systemd hosts.
		if echo +memory >"$CG/cgroup.subtree_control" 2>/dev/null &&
			echo +memory >"$TENANTS/cgroup.subtree_control" 2>/dev/null; then
			MEM_MODE=v2
		fi
	fi
	v1=$(v1_memory_root)
	if [[ $MEM_MODE == none && -n $v1 && ${BENCH_AGENT_MEMORY:-auto} != none ]]; then
		MEM_TENANTS=$v1$REL/tenants
		mkdir -p "$MEM_TENANTS" && MEM_MODE=v1
	fi
	bench_log "agent: cgroups under $CG; tenants' memory: $MEM_MODE"
	return 0
}

# Kills what runs in the private trees and removes them.
remove_cgroups() {
	[[ -n $CG ]] && remove_v2_tree "$CG"
	[[ -n $MEM_TENANTS ]] && remove_tree "$(dirname "$MEM_TENANTS")"
}

# add_tenants NAME...: makes each tenant's cgroup (and its v1 memory twin).
# One mkdir for many names: 9,000 cgroups take a second, not a minute.
add_tenants() {
	(cd "$TENANTS" && mkdir -p -- "$@") || return 1
	if [[ $MEM_MODE == v1 ]]; then
		(cd "$MEM_TENANTS" && mkdir -p -- "$@") || return 1
	fi
}

# grow_to N: idle tenants t-NNNNNN until there are N tenants in all.
grow_to() {
	local want=$1 have names=() i
	have=$(find "$TENANTS" -mindepth 1 -maxdepth 1 -type d | wc -l)
	for ((i = have; i < want; i++)); do
		names+=("$(printf 't-%06d' "$i")")
		if ((${#names[@]} == 1000)); then
			add_tenants "${names[@]}" || return 1
			names=()
		fi
	done
	((${#names[@]} == 0)) || add_tenants "${names[@]}"
}


# start_agent: runs the agent and waits (<= 120 s: 10,000 cgroups are
# scanned and opened at start) for its first textfile. Sets AGENT_PID;
# 1 when it did not start, with the reason in AGENT_STATUS.
start_agent() {
	local i
	rm -f "$TEXTFILE" "$EVENTS"
	AGENT_LOG=$TMP/agent.log
	"$AW_BIN" run -c "$CONFIG" --interval "$INTERVAL_S" --tenant-expiry "$EXPIRY_S" \
		2>"$AGENT_LOG" &
	AGENT_PID=$!
	for ((i = 0; i < 1200; i++)); do
		[[ -s $TEXTFILE ]] && return 0
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID"
			AGENT_STATUS="the agent exited with status $?: $(tail -n 1 "$AGENT_LOG")"
			AGENT_PID=""
			return 1
		fi
		sleep 0.1
	done
	AGENT_STATUS="no textfile after 120 s: $(tail -n 1 "$AGENT_LOG")"
	stop_agent
	return 1
}

# SIGTERM, and SIGKILL after 20 s (the last tick of 10,000 tenants is slow).
stop_agent() {
	local i
	[[ -n $AGENT_PID ]] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
	# Its probes stay pinned for a restart (abusewatch unpin): removed, so
	# that each start is a clean one and nothing counts after the run.
	[[ -f $CONFIG ]] && "$AW_BIN" unpin -c "$CONFIG" >/dev/null 2>&1
	return 0
}

# The agent's own count of tenants at start ("probes attached; N tenants").
agent_tenants_at_start() {
	sed -n 's/.*probes attached; \([0-9]*\) tenants.*/\1/p' "$AGENT_LOG" | tail -n 1
}

# What the agent logged that makes its figures suspect (first such line).
agent_trouble() {
	grep -m 1 -E ' (error|warn) ' "$AGENT_LOG" | cut -c 26-200
}

# CPU time of process $1 (all threads) in clock ticks: utime + stime.
cpu_ticks() {
	# After the comm's closing parenthesis, utime and stime are fields 12, 13.
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# cpu_percent PID SECONDS: % of one core PID used over the next SECONDS.
cpu_percent() {
	local pid=$1 t0 t1 c0 c1
	t0=$(date +%s.%N)
	c0=$(cpu_ticks "$pid")
	sleep "$2"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	[[ -n $c0 && -n $c1 ]] || {
		echo null
		return
	}
	calc "($c1 - $c0) / $CLK_TCK / ($t1 - $t0) * 100"
}

rss_mib() {
	awk '$1 == "VmRSS:" { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# The hard limit on the agent's open files (it raises its soft limit to it).
fd_limit() {
	awk '$1 == "Max" && $2 == "open" { print $5 }' "/proc/$1/limits" 2>/dev/null
}

# agent_maps PID MODE [ARG]: the agent's BPF maps (see agent_maps.py).
agent_maps() {
	python3 "$BENCH_REPO/tests/bench/agent_maps.py" "$@" 2>/dev/null
}

# ---------------------------------------------------------------- textfile

# tf_value PREFIX: the value of the first line of the textfile that starts
# with PREFIX (a family name and the start of its labels).
tf_value() {
	awk -v p="$1" 'index($0, p) == 1 { print $NF; found = 1; exit } END { exit !found }' \
		"$TEXTFILE" 2>/dev/null
}

tenant_execs() {
	tf_value "abusewatch_tenant_execs_total{tenant=\"$1\","
}

tf_count() {
	grep -c "^$1{" "$TEXTFILE" 2>/dev/null
}

tf_mtime() {
	date -r "$TEXTFILE" +%s.%N 2>/dev/null || echo 0
}

# wait_fresh_textfile: waits (<= 3 intervals) for the agent to write the
# textfile again; 1 when it did not (then its figures are stale).
wait_fresh_textfile() {
	local before i
	before=$(tf_mtime)
	for ((i = 0; i < 30 * INTERVAL_S; i++)); do
		[[ $(tf_mtime) != "$before" ]] && return 0
		sleep 0.1
	done
	return 1
}
